import CHDF5
import Foundation
import GraftCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HDF5 file opened read-only through libhdf5. Groups, datasets and attributes are read
/// through `root` and the objects it opens; every failure is a `GraftError` naming the file
/// and the path inside it. External links, external storage and virtual datasets are refused:
/// a model file may only read its own bytes.
public final class HDF5File: @unchecked Sendable {
    public let path: String
    let id: hid_t
    /// The file's bytes (mapped), for Graft's structural checks before libhdf5 decodes a part.
    let contents: HDF5FileMapping
    /// Object headers already checked by `checkHeader` (by file address).
    private var checkedHeaders: Set<UInt64> = []
    private let lock = NSLock()

    public init(path: String) throws {
        graft_h5_silence_errors()
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw GraftError(.io, "file not found or unreadable", file: path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw GraftError(.io, "not a regular file", file: path)
        }
        guard H5Fis_hdf5(path) > 0 else {
            throw GraftError(.malformed, "not an HDF5 file", file: path, expected: "HDF5 signature")
        }
        let contents = try HDF5FileMapping(path: path)
        // The heap pre-checks, in one pass over the file that does not leave it resident.
        let raw = contents.bytes
        try contents.scanHeapSignatures { offset, isGlobal in
            if isGlobal {
                if offset + HDF5GlobalHeapCheck.room < raw.count { try HDF5GlobalHeapCheck.checkCollection(raw, at: offset, path: path) }
            } else if offset + HDF5LocalHeapCheck.room < raw.count, raw[offset + 4] == 0 {  // "HEAP", version 0
                try HDF5LocalHeapCheck.checkHeap(raw, at: offset, path: path)
            }
        }
        // libhdf5 loads the root group's object header while it opens the file, trusting the
        // header's chunk sizes (a lying one made it allocate gigabytes): check it first.
        // A superblock this check cannot read, or one the file ends inside, is refused too: libhdf5
        // sizes its reads from such a superblock's fields (a 38-byte file made it allocate 2.6 GB).
        guard let check = HDF5ObjectHeaderCheck(raw: raw, path: path), let root = check.rootHeaderAddress else {
            throw GraftError(.malformed, "HDF5 superblock is unsupported or cut short", file: path, location: "superblock",
                             expected: "a whole version 0-3 superblock with 2, 4 or 8-byte addresses and lengths",
                             found: "\(raw.count) bytes in the file")
        }
        try check.check(headerAt: root, location: "/")
        self.contents = contents
        let fid = graft_h5_open_readonly(path)
        guard fid >= 0 else {
            throw GraftError(.io, "HDF5 could not open the file", file: path)
        }
        id = fid
    }

    deinit { H5Fclose(id) }

    /// The root group `/`.
    public func root() throws -> HDF5Group {
        graft_h5_silence_errors()
        let gid = H5Gopen2(id, "/", graft_h5p_default())
        guard gid >= 0 else { throw error("cannot open the root group", at: "/") }
        let handle = HDF5Handle(gid, file: self)
        try checkHeader(of: handle, at: "/")
        return HDF5Group(handle: handle, path: "/")
    }

    /// Checks the attribute messages of an open object's header (`HDF5ObjectHeaderCheck`)
    /// before anything asks libhdf5 about its attributes; each header once.
    func checkHeader(of handle: HDF5Handle, at location: String) throws {
        try checkHeader(at: graft_h5_object_header_address(handle.id), location: location)
    }

    /// Checks the object header at file address `address` (0: unknown, nothing to check).
    func checkHeader(at address: UInt64, location: String) throws {
        guard address != 0 else { return }
        lock.lock()
        let seen = !checkedHeaders.insert(address).inserted
        lock.unlock()
        if seen { return }
        do {
            if let check = HDF5ObjectHeaderCheck(raw: contents.bytes, path: path) {
                try check.check(headerAt: address, location: location)
            }
        } catch {
            lock.lock()
            checkedHeaders.remove(address)
            lock.unlock()
            throw error
        }
    }

    func error(_ message: String, at location: String, kind: GraftError.Kind = .malformed,
               expected: String? = nil, found: String? = nil) -> GraftError {
        GraftError(kind, message, file: path, location: location, expected: expected, found: found)
    }
}

/// An open HDF5 object id, closed when the last reference goes. Holds its file open.
public final class HDF5Handle: @unchecked Sendable {
    let id: hid_t
    public let file: HDF5File
    init(_ id: hid_t, file: HDF5File) { self.id = id; self.file = file }
    deinit { H5Oclose(id) }
}

/// What a name inside a group refers to.
public enum HDF5ObjectKind: Sendable, Equatable {
    case group, dataset, other
}

/// Attribute access shared by groups and datasets.
public protocol HDF5Object {
    var handle: HDF5Handle { get }
    /// The object's absolute path inside the file, for messages.
    var path: String { get }
}

/// An HDF5 group.
public struct HDF5Group: HDF5Object, @unchecked Sendable {
    public let handle: HDF5Handle
    public let path: String



    func childPath(_ name: String) -> String {
        path == "/" ? "/" + name : path + "/" + name
    }

    /// Splits a relative path into its components, refusing absolute paths and empty names.
    func components(_ relative: String) throws -> [String] {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !parts.isEmpty, !relative.hasPrefix("/") else {
            throw file.error("bad path inside the file", at: childPath(relative), kind: .invalidArgument,
                             expected: "a relative path", found: "'\(relative)'")
        }
        return parts
    }

    /// The kind of the object at `relative` (which may contain `/`), or nil when absent.
    /// Only hard links are followed: soft, external and user-defined links are an error.
    public func kind(of relative: String) throws -> HDF5ObjectKind? {
        graft_h5_silence_errors()
        let parts = try components(relative)
        var current = handle
        var currentPath = path
        for (i, part) in parts.enumerated() {
            let objectPath = currentPath == "/" ? "/" + part : currentPath + "/" + part
            switch graft_h5_link_kind(current.id, part) {
            case -1: return nil
            case 0: break
            case 1: throw file.error("soft link refused", at: objectPath, kind: .unsupported,
                                     expected: "a hard link", found: "a soft link")
            case 2: throw file.error("external link refused", at: objectPath, kind: .unsupported,
                                     expected: "objects stored in this file", found: "an external link")
            default: throw file.error("user-defined link refused", at: objectPath, kind: .unsupported)
            }
            // The header is checked before libhdf5 loads it: a lying chunk size there makes it
            // allocate that size (gigabytes) before noticing the file is shorter.
            try file.checkHeader(at: graft_h5_link_target_address(current.id, part), location: objectPath)
            let oid = H5Oopen(current.id, part, graft_h5p_default())
            guard oid >= 0 else { return nil }
            let next = HDF5Handle(oid, file: file)
            let type = H5Iget_type(oid)
            if i == parts.count - 1 {
                switch type {
                case H5I_GROUP: return .group
                case H5I_DATASET: return .dataset
                default: return .other
                }
            }
            guard type == H5I_GROUP else { return nil }
            current = next
            currentPath = objectPath
        }
        return nil
    }

    /// Opens the object at `relative`, following it component by component.
    func open(_ relative: String, as expected: HDF5ObjectKind) throws -> HDF5Handle {
        guard let kind = try kind(of: relative) else {
            throw file.error("not found", at: childPath(relative), kind: .missingWeights,
                             expected: expected == .group ? "a group" : "a dataset")
        }
        guard kind == expected else {
            throw file.error("object of the wrong kind", at: childPath(relative),
                             expected: expected == .group ? "a group" : "a dataset", found: "\(kind)")
        }
        // Every component was checked by `kind(of:)`: no external links on the way.
        let oid = H5Oopen(handle.id, relative, graft_h5p_default())
        guard oid >= 0 else { throw file.error("cannot open", at: childPath(relative), kind: .io) }
        let opened = HDF5Handle(oid, file: file)
        try file.checkHeader(of: opened, at: childPath(relative))
        return opened
    }

    /// Whether an object is at `relative`. Throws what `kind(of:)` throws (a refused link, a
    /// header that fails its check): a damaged object is an error, not an absent one.
    public func contains(_ relative: String) throws -> Bool {
        try kind(of: relative) != nil
    }

    /// The subgroup at `relative` (may contain `/`).
    public func group(_ relative: String) throws -> HDF5Group {
        HDF5Group(handle: try open(relative, as: .group), path: childPath(relative))
    }

    /// The dataset at `relative` (may contain `/`).
    public func dataset(_ relative: String) throws -> HDF5Dataset {
        HDF5Dataset(handle: try open(relative, as: .dataset), path: childPath(relative))
    }

    /// Names of the links directly in this group, in name order.
    public func childNames() throws -> [String] {
        graft_h5_silence_errors()
        var info = H5G_info_t()
        guard H5Gget_info(handle.id, &info) >= 0 else { throw file.error("cannot list group", at: path) }
        var names: [String] = []
        for i in 0..<info.nlinks {
            let size = H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, graft_h5p_default())
            guard size >= 0 else { throw file.error("cannot read a link name", at: path) }
            var buffer = [CChar](repeating: 0, count: Int(size) + 1)
            guard H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count,
                                     graft_h5p_default()) >= 0 else {
                throw file.error("cannot read a link name", at: path)
            }
            names.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }
}
