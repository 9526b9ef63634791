// Forward-pass throughput and the machine's SGEMM peak.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import COpenBLAS
import GraftCore
import GraftIO
import GraftRuntime

/// Sets the number of threads Graft's forward pass may use, through the runtime's own setting
/// (which also makes OpenBLAS run the kernels this CPU can, before the first GEMM).
func setThreads(_ threads: Int) {
    Runtime.setThreadCount(threads)
}

/// The CPU kernel family OpenBLAS runs, as the runtime chose it (`OPENBLAS_CORETYPE` overrides it).
func openBLASCore() -> String {
    Runtime.blasCoreName
}

/// Floating-point operations of one sample's forward pass, counting the matrix products only
/// (2 per multiply-add): every parameter of rank ≥ 2 (Dense and Conv kernels, LSTM input and
/// recurrent kernels) is used once per output position, the output's element count over its
/// last (units/filters) dimension: time steps for sequences, H×W for channels-last images.
/// Element-wise work (bias, activations, pooling, gates' nonlinearities) is not counted.
func matmulFLOPsPerSample(_ graph: Graph) throws -> Int {
    let shapes = try graph.inferShapes()
    var flops = 0
    for node in graph.nodes {
        if case .embedding = node.op { continue }
        let matrixParameters = node.parameters.values.filter { $0.shape.count >= 2 }.reduce(0) { $0 + $1.count }
        guard matrixParameters > 0, let shape = shapes[node.name]?.first, let last = shape.last ?? nil, last > 0 else { continue }
        let elements = shape.reduce(1) { $0 * ($1 ?? 1) }
        flops += 2 * matrixParameters * (elements / last)
    }
    return flops
}

/// `forward MODEL --batch B --threads T`: Graft's forward pass on one seeded random batch.
/// Each timed run makes enough calls to last `--min-time` seconds (default 0.5) and reports
/// the mean time of one call.
func forward(_ arguments: Arguments) throws {
    let path = arguments.path(0, "MODEL")
    let batch = arguments.int("batch", default: 1)
    let threads = arguments.int("threads", default: 1)
    let minimumSeconds = arguments.double("min-time", default: 0.5)
    setThreads(threads)
    let baseline = currentRSSBytes()
    let graph = try ModelFile.loadWithoutManifest(path: path)
    let flopsPerSample = try matmulFLOPsPerSample(graph)
    let inputs = try RandomInputs.make(for: graph, seed: 8, batch: batch)
    let interpreter = Interpreter(graph: graph)
    let cpuBefore = processCPUSeconds()
    let timings = try Timings.measure(runs: arguments.runs, minimumSeconds: minimumSeconds) {
        _ = try interpreter.run(inputs)
    }
    // CPU time of all threads per call (warm-up, calibration and timed calls): on a loaded
    // machine it shows the work done, where the wall-clock time shows the share of the CPU got.
    let totalCalls = 1 + timings.callsPerRun * (arguments.runs + 1)
    let samplesPerSecond = Double(batch) / timings.median
    var fields = timings.fields
    fields["model"] = .string(path)
    fields["batch"] = JSONValue(batch)
    fields["threads"] = JSONValue(threads)
    fields["openblas_core"] = .string(openBLASCore())
    fields["flops_per_sample"] = JSONValue(flopsPerSample)
    fields["samples_per_s"] = JSONValue(rounded(samplesPerSecond))
    fields["gflops"] = JSONValue(rounded(samplesPerSecond * Double(flopsPerSample) / 1e9))
    fields["cpu_s_per_call"] = JSONValue(rounded((processCPUSeconds() - cpuBefore) / Double(totalCalls)))
    printResult("forward", baselineRSS: baseline, fields)
}

/// `sgemm-peak --size N --threads T`: C = A·B with cblas_sgemm on N×N float matrices (default
/// 2048); GFLOP/s = 2N³ / fastest run's time. The machine's achievable matrix-product rate on T threads.
func sgemmPeak(_ arguments: Arguments) {
    let n = arguments.int("size", default: 2048)
    let threads = arguments.int("threads", default: 1)
    setThreads(threads)
    let baseline = currentRSSBytes()
    var a = [Float](repeating: 0, count: n * n), b = a, c = a
    var rng = SplitMix64(seed: 2048)
    for i in 0..<(n * n) {
        a[i] = Float(rng.uniform(-1, 1))
        b[i] = Float(rng.uniform(-1, 1))
    }
    let timings = Timings.measure(runs: arguments.runs, minimumSeconds: 0.5) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n),
                    1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
    }
    var fields = timings.fields
    fields["size"] = JSONValue(n)
    fields["threads"] = JSONValue(threads)
    fields["openblas_core"] = .string(openBLASCore())
    // The peak is the fastest run's rate (the machine's achievable rate; slower runs were
    // disturbed), the median run's rate beside it.
    fields["gflops"] = JSONValue(rounded(2 * pow(Double(n), 3) / timings.min / 1e9))
    fields["gflops_median"] = JSONValue(rounded(2 * pow(Double(n), 3) / timings.median / 1e9))
    printResult("sgemm-peak", baselineRSS: baseline, fields)
}

/// `gemm-shape --m M --k K --n N --threads T`: C = A·B (B [K, N] constant) at one shape, as
/// the runtime's packed-weight GEMM (B packed once, outside the timing) and as cblas_sgemm
/// (which packs B on every call); GFLOP/s of the fastest run of each (the least disturbed).
func gemmShape(_ arguments: Arguments) {
    let m = arguments.int("m", default: 32), k = arguments.int("k", default: 784), n = arguments.int("n", default: 1000)
    let threads = arguments.int("threads", default: 1)
    setThreads(threads)
    var rng = SplitMix64(seed: 77)
    let a = (0..<(m * k)).map { _ in Float(rng.uniform(-1, 1)) }
    let b = (0..<(k * n)).map { _ in Float(rng.uniform(-1, 1)) }
    var c = [Float](repeating: 0, count: m * n)
    let packed = PackedWeights(b, rows: k, columns: n, ldb: n)
    let packedTimes = Timings.measure(runs: arguments.runs, minimumSeconds: 0.3) {
        c.withUnsafeMutableBufferPointer { cp in
            packed.gemm(a: a, rows: m, lda: k, bias: nil, beta: 0, c: cp.baseAddress!, ldc: n)
        }
    }
    let blasTimes = Timings.measure(runs: arguments.runs, minimumSeconds: 0.3) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
    }
    let flops = 2 * Double(m) * Double(k) * Double(n)
    var fields = Timings.Fields()
    fields["m"] = JSONValue(m); fields["k"] = JSONValue(k); fields["n"] = JSONValue(n)
    fields["threads"] = JSONValue(threads)
    fields["variant"] = .string("\(PackedGEMM.bestVariant)")
    fields["packed_gflops"] = JSONValue(rounded(flops / packedTimes.min / 1e9))
    fields["openblas_gflops"] = JSONValue(rounded(flops / blasTimes.min / 1e9))
    printResult("gemm-shape", baselineRSS: currentRSSBytes(), fields)
}

/// User + system CPU time of this process so far (all threads), seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
