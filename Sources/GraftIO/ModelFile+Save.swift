import Foundation
import GraftCore

/// Writes a graph in one model format. The Keras and DL4J writers are wrapped as these;
/// tests pass their own to exercise `ModelFile.save`'s guarantees.
public struct ModelWriter: Sendable {
    public var format: ModelFormat
    public var write: @Sendable (_ graph: Graph, _ path: String) throws -> ConversionReport
    public init(format: ModelFormat, write: @escaping @Sendable (_ graph: Graph, _ path: String) throws -> ConversionReport) {
        self.format = format; self.write = write
    }
}

extension ModelFile {
    /// The format an output path asks for by its extension: `.h5`/`.hdf5` → Keras HDF5,
    /// `.keras` → Keras 3 archive, anything else (`.zip`, `.bin`, …) → DL4J zip.
    public static func outputFormat(forPath path: String) -> ModelFormat {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "h5", "hdf5": return .kerasH5
        case "keras": return .keras3
        default: return .dl4jZip
        }
    }

    /// Writes `graph` to `path` and its freeze manifest to `path.graft.json`, returning what
    /// the writer had to drop or convert. The format comes from the extension when nil.
    /// Refuses to write over `source` (or the file the graph was read from), and over an
    /// existing file unless `force`. The model is written to a temporary file beside the
    /// target and renamed into place; on any failure neither the output nor the manifest is left.
    /// `compress` deflates the weight entries of a DL4J zip (stored by default).
    @discardableResult
    public static func save(_ graph: Graph, to path: String, format: ModelFormat? = nil, source: String? = nil,
                            force: Bool = false, compress: Bool = false) throws -> ConversionReport {
        let target = format ?? outputFormat(forPath: path)
        try checkTarget(path, for: graph, source: source, force: force)
        return try save(graph, to: path, using: try writer(for: target, compress: compress), source: source, force: force)
    }

    /// Refuses to write over the input model, and over an existing file unless `force`.
    static func checkTarget(_ path: String, for graph: Graph, source: String?, force: Bool) throws {
        for input in [source, graph.source.path].compactMap({ $0 }) where sameFile(input, path) {
            throw GraftError(.invalidArgument, "refusing to overwrite the input model", file: path,
                             expected: "an output path other than the input", found: input)
        }
        if FileManager.default.fileExists(atPath: path) && !force {
            throw GraftError(.invalidArgument, "output file exists (use --force to overwrite)", file: path)
        }
    }

    /// `save` with an explicit writer.
    @discardableResult
    public static func save(_ graph: Graph, to path: String, using writer: ModelWriter, source: String? = nil,
                            force: Bool = false) throws -> ConversionReport {
        let fm = FileManager.default
        try checkTarget(path, for: graph, source: source, force: force)
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        removeStaleTemporaries(of: path)
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let ext = url.pathExtension.isEmpty ? "" : ".\(url.pathExtension)"
        let tempModel = directory.appendingPathComponent(temporaryPrefix(of: path) + "\(tag).graft-tmp\(ext)").path
        let tempManifest = FreezeManifest.path(forModel: tempModel)
        let manifestPath = FreezeManifest.path(forModel: path)
        var placed: [String] = []
        do {
            let report = try writer.write(graph, tempModel)
            guard fm.fileExists(atPath: tempModel) else {
                throw GraftError(.io, "the \(writer.format.rawValue) writer produced no file", file: path)
            }
            var manifest = try FreezeManifest.make(for: graph, source: source, output: tempModel, outputFormat: writer.format)
            manifest.output.path = path
            try manifest.write(to: tempManifest)
            try replace(path, with: tempModel)
            placed.append(path)
            try replace(manifestPath, with: tempManifest)
            placed.append(manifestPath)
            return report
        } catch {
            for p in [tempModel, tempManifest] + placed { try? fm.removeItem(atPath: p) }
            throw error.graftError(file: path)
        }
    }

    /// The writer for an output format.
    public static func writer(for format: ModelFormat, compress: Bool = false) throws -> ModelWriter {
        switch format {
        case .kerasH5, .keras3, .dl4jZip:
            guard let writer = ModelWriters.builtIn(format, compress: compress) else {
                throw GraftError(.unsupported, "no \(format.rawValue) writer is available in this build", expected: "keras-h5, keras or dl4j")
            }
            return writer
        case .kerasJSON, .dl4jConfig:
            throw GraftError(.invalidArgument, "cannot write \(format.rawValue); write a full model instead",
                             expected: "keras-h5, keras or dl4j", found: format.rawValue)
        }
    }

    /// Whether two paths name the same file (after resolving symlinks; hard links by inode).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        let ra = URL(fileURLWithPath: a).resolvingSymlinksInPath().standardizedFileURL.path
        let rb = URL(fileURLWithPath: b).resolvingSymlinksInPath().standardizedFileURL.path
        if ra == rb { return true }
        let fm = FileManager.default
        guard let ia = try? fm.attributesOfItem(atPath: ra), let ib = try? fm.attributesOfItem(atPath: rb),
              let na = (ia[.systemFileNumber] as? NSNumber)?.uint64Value, let nb = (ib[.systemFileNumber] as? NSNumber)?.uint64Value,
              let da = (ia[.systemNumber] as? NSNumber)?.uint64Value, let db = (ib[.systemNumber] as? NSNumber)?.uint64Value
        else { return false }
        return na == nb && da == db
    }

    /// A model being written to `path` goes first to a hidden file beside it,
    /// `.NAME.PID-RANDOM.graft-tmp[.EXT]` (its manifest: that + `.graft.json`; a writer's own
    /// temporary: `.` + that + `.RANDOM.graft.tmp`), renamed into place once complete. A process
    /// killed mid-write leaves only such hidden files, never a partial NAME.
    static func temporaryPrefix(of path: String) -> String {
        ".\(URL(fileURLWithPath: path).lastPathComponent)."
    }

    /// Removes the temporaries a killed earlier write to `path` left beside it: those whose
    /// writing process (the PID in the name) no longer runs. Best effort.
    static func removeStaleTemporaries(of path: String) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        let prefix = temporaryPrefix(of: path)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.contains(".graft-tmp") {
            let rest: Substring
            if name.hasPrefix(prefix) { rest = name.dropFirst(prefix.count) }
            else if name.hasPrefix("." + prefix) { rest = name.dropFirst(prefix.count + 1) }
            else { continue }
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
            }
        }
    }

    /// Moves `temp` onto `path`, replacing any file there.
    static func replace(_ path: String, with temp: String) throws {
        if rename(temp, path) != 0 {
            throw GraftError(.io, "cannot move the written file into place: \(String(cString: strerror(errno)))", file: path)
        }
    }
}
