// Import, export and conversion of whole models, surgery, and the physical limits they are
// compared with (sequential file read and write from the page cache, memcpy).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraftCore
import GraftDL4J
import GraftIO
import GraftKeras
import GraftSurgery

/// A read's result fields: the graph's parameter count and bytes.
func readFields(_ timings: Timings, path: String, graph: Graph) -> Timings.Fields {
    let totals = weightTotals(graph)
    var fields = timings.fields
    fields["file"] = .string(path)
    fields["file_bytes"] = JSONValue(fileSize(path))
    fields["tensors"] = JSONValue(totals.tensors)
    fields["weights_bytes"] = JSONValue(totals.bytes)
    return fields
}

/// Times one reader; each run's graph is dropped before the next run starts.
func timeRead(_ benchmark: String, _ arguments: Arguments, read: (String) throws -> Graph) throws {
    let path = arguments.path(0, "FILE")
    let baseline = currentRSSBytes()
    var last: Graph?
    let timings = try Timings.measure(runs: arguments.runs) {
        last = nil
        last = try read(path)
    }
    guard let graph = last else { return }
    printResult(benchmark, baselineRSS: baseline, readFields(timings, path: path, graph: graph))
}

/// `keras-read FILE`: `KerasReader.read(path:)`, the IR graph with every weight loaded.
func kerasRead(_ arguments: Arguments) throws {
    try timeRead("keras-read", arguments) { try KerasReader.read(path: $0) }
}

/// `dl4j-read FILE`: `DL4JReader.read(path:)`.
func dl4jRead(_ arguments: Arguments) throws {
    try timeRead("dl4j-read", arguments) { try DL4JReader.read(path: $0) }
}

/// The library writer for OUT's extension (`.h5` Keras, `.keras` Keras 3, else DL4J zip), as
/// `graft convert` uses it, without the freeze manifest beside the output.
func writer(for path: String) throws -> ModelWriter {
    try ModelFile.writer(for: ModelFile.outputFormat(forPath: path))
}

/// `convert IN OUT`: read IN and write OUT, as `graft convert` does (less its manifest).
func convert(_ arguments: Arguments) throws {
    let input = arguments.path(0, "IN"), output = arguments.path(1, "OUT")
    let write = try writer(for: output)
    let baseline = currentRSSBytes()
    let timings = try Timings.measure(runs: arguments.runs, setUp: { unlink(output) }) {
        let graph = try ModelFile.loadWithoutManifest(path: input)
        _ = try write.write(graph, output)
    }
    var fields = timings.fields
    fields["input"] = .string(input)
    fields["input_bytes"] = JSONValue(fileSize(input))
    fields["output"] = .string(output)
    fields["output_bytes"] = JSONValue(fileSize(output))
    printResult("convert", baselineRSS: baseline, fields)
}

/// `write MODEL OUT`: MODEL read once (untimed); each run writes the graph to OUT.
func writeModel(_ arguments: Arguments) throws {
    let input = arguments.path(0, "MODEL"), output = arguments.path(1, "OUT")
    let write = try writer(for: output)
    let baseline = currentRSSBytes()
    let graph = try ModelFile.loadWithoutManifest(path: input)
    let timings = try Timings.measure(runs: arguments.runs, setUp: { unlink(output) }) {
        _ = try write.write(graph, output)
    }
    var fields = timings.fields
    fields["output"] = .string(output)
    fields["output_bytes"] = JSONValue(fileSize(output))
    fields["weights_bytes"] = JSONValue(weightTotals(graph).bytes)
    printResult("write", baselineRSS: baseline, fields)
}

/// Every parameter tensor copied into fresh storage: the cost of touching all the weights once.
func fullCopy(_ graph: Graph) throws -> Graph {
    var copy = graph
    for i in copy.nodes.indices {
        for (key, tensor) in copy.nodes[i].parameters {
            copy.nodes[i].parameters[key] = try tensor.withUnsafeBytes { try Tensor(shape: tensor.shape, dtype: tensor.dtype, bytes: $0) }
        }
    }
    return copy
}

/// `widen MODEL --layer L --by K`, on the loaded graph, three figures in this process:
/// - the result's timings: `graph.widenInPlace(layer:by:mode: .zeroFanOut)`. The loaded graph
///   holds its tensors alone, so the changed ones grow in their own bytes; each run (the
///   warm-up included) widens the same graph by K more units (`accumulates`, `units_after`).
/// - `copying`: `graph.widen(…)`, which returns a new graph while the loaded one is kept (every
///   changed tensor copied into fresh memory): the cost before copy-on-write surgery. Measured
///   first, on the unwidened graph.
/// - `full_copy`: `fullCopy` of the graph (every parameter into fresh storage).
func widen(_ arguments: Arguments) throws {
    let path = arguments.path(0, "MODEL")
    let layer = arguments.options["layer"] ?? "fc2"
    let units = arguments.int("by", default: 1)
    let baseline = currentRSSBytes()
    var graph = try ModelFile.loadWithoutManifest(path: path)
    guard let before = graph.node(named: layer)?.parameters["kernel"]?.shape.last else {
        throw GraftError(.invalidArgument, "no layer with a kernel of this name", found: layer)
    }
    let weightBytes = weightTotals(graph).bytes
    var copyingTimings: Timings
    do {
        var widened: Graph?
        copyingTimings = try Timings.measure(runs: arguments.runs) {
            widened = nil
            widened = try graph.widen(layer: layer, by: units, mode: .zeroFanOut)
        }
        guard widened?.node(named: layer)?.parameters["kernel"]?.shape.last == before + units else {
            throw GraftError(.invalidGraph, "widen did not add \(units) units to \(layer)")
        }
    }
    var copyTimings: Timings
    do {
        var copied: Graph?
        copyTimings = try Timings.measure(runs: arguments.runs) {
            copied = nil
            copied = try fullCopy(graph)
        }
        guard let copiedBytes = copied.map({ weightTotals($0).bytes }), copiedBytes == weightBytes else {
            throw GraftError(.invalidGraph, "the full copy lost weights")
        }
    }
    // Nothing but `graph` holds its tensors now.
    var report = InPlaceReport()
    var calls = 0
    let inPlaceTimings = try Timings.measure(runs: arguments.runs) {
        report = try graph.widenInPlace(layer: layer, by: units, mode: .zeroFanOut)
        calls += 1
    }
    let after = graph.node(named: layer)?.parameters["kernel"]?.shape.last ?? 0
    guard after == before + units * calls, report.copied.isEmpty else {
        throw GraftError(.invalidGraph, "in-place widen did not grow \(layer) by \(units) units per call without copying",
                         found: "\(after) units, copied \(report.copied)")
    }
    var fields = inPlaceTimings.fields
    fields["layer"] = .string(layer)
    fields["by"] = JSONValue(units)
    fields["in_place"] = .bool(true)
    fields["accumulates"] = .string("each run widens the same graph by \(units) more units (warm-up included)")
    fields["units_before"] = JSONValue(before)
    fields["units_after"] = JSONValue(after)
    fields["tensors_in_place"] = .array(report.inPlace.map { .string($0) })
    fields["weights_bytes"] = JSONValue(weightBytes)
    fields["copying"] = .object(copyingTimings.fields)
    fields["full_copy"] = .object(copyTimings.fields)
    printResult("widen", baselineRSS: baseline, fields)
}

/// The size of a file in bytes (0 when it cannot be read).
func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : 0
}

let chunkBytes = 1 << 20

/// `raw-read FILE`: the file read sequentially with read(2) into one 1 MiB buffer (the page
/// cache's copy-out speed: what `cat FILE > /dev/null` does).
func rawRead(_ arguments: Arguments) throws {
    let path = arguments.path(0, "FILE")
    let baseline = currentRSSBytes()
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkBytes, alignment: 4096)
    defer { buffer.deallocate() }
    let timings = try Timings.measure(runs: arguments.runs) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GraftError(.io, "cannot open", file: path) }
        defer { close(fd) }
        while true {
            let n = read(fd, buffer, chunkBytes)
            if n < 0 { throw GraftError(.io, "read failed", file: path) }
            if n == 0 { break }
        }
    }
    var fields = timings.fields
    fields["file"] = .string(path)
    fields["bytes"] = JSONValue(fileSize(path))
    printResult("raw-read", baselineRSS: baseline, fields)
}

/// `raw-write OUT --bytes N`: N bytes written with write(2) from one 1 MiB buffer to a new file
/// (into the page cache; no fsync), closed; the file is removed after each run, untimed.
func rawWrite(_ arguments: Arguments) throws {
    let path = arguments.path(0, "OUT")
    guard let total = arguments.options["bytes"].flatMap({ Int($0) }), total > 0 else { usage("raw-write needs --bytes N") }
    let baseline = currentRSSBytes()
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkBytes, alignment: 4096)
    defer { buffer.deallocate() }
    memset(buffer, 0x5A, chunkBytes)
    var timings = Timings(times: [])
    for run in 0...arguments.runs {  // run 0 is the warm-up
        unlink(path)
        let started = monotonicSeconds()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw GraftError(.io, "cannot create", file: path) }
        var left = total
        while left > 0 {
            let n = write(fd, buffer, min(left, chunkBytes))
            if n <= 0 { close(fd); throw GraftError(.io, "write failed", file: path) }
            left -= n
        }
        close(fd)
        if run > 0 { timings.times.append(monotonicSeconds() - started) }
    }
    unlink(path)
    var fields = timings.fields
    fields["bytes"] = JSONValue(total)
    printResult("raw-write", baselineRSS: baseline, fields)
}

/// `memcpy --bytes N`: one memcpy of N bytes between two buffers already faulted in (memory
/// bandwidth; the lower bound of any pass over the weights).
func memcpyBench(_ arguments: Arguments) {
    guard let total = arguments.options["bytes"].flatMap({ Int($0) }), total > 0 else { usage("memcpy needs --bytes N") }
    let baseline = currentRSSBytes()
    let source = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 4096)
    let destination = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 4096)
    defer { source.deallocate(); destination.deallocate() }
    memset(source, 0x5A, total)
    memset(destination, 0, total)
    let timings = Timings.measure(runs: arguments.runs) { memcpy(destination, source, total) }
    var fields = timings.fields
    fields["bytes"] = JSONValue(total)
    printResult("memcpy", baselineRSS: baseline, fields)
}
