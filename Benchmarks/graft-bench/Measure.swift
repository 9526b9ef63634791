// Timing, memory and JSON output shared by every graft-bench subcommand.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraftCore
import OrderedCollections

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// This process' peak resident set size in bytes (`ru_maxrss`: KiB on Linux, bytes on macOS).
func peakRSSBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}

/// The current resident set size in bytes (`VmRSS` of /proc/self/status; 0 where unavailable).
func currentRSSBytes() -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmRSS:") {
            let kib = text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
            return (kib ?? 0) * 1024
        }
    }
    return 0
}

/// Wall times of repeated runs of one operation, in seconds.
struct Timings {
    var times: [Double]
    /// How many calls of the operation one timed run made (`Timings.measure(minimumSeconds:)`).
    var callsPerRun = 1

    var median: Double {
        let sorted = times.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
    var min: Double { times.min() ?? 0 }
    var max: Double { times.max() ?? 0 }

    /// One untimed warm-up call (page cache, code paths, lazily built state), then `runs` timed
    /// calls; `setUp` runs untimed before each call (e.g. removing the previous run's output).
    static func measure(runs: Int, setUp: () -> Void = {}, _ body: () throws -> Void) rethrows -> Timings {
        setUp()
        try body()
        var times: [Double] = []
        for _ in 0..<runs {
            setUp()
            let started = monotonicSeconds()
            try body()
            times.append(monotonicSeconds() - started)
        }
        return Timings(times: times)
    }

    /// For fast operations: warm-up calls for about `minimumSeconds` fix a call count `n` such
    /// that n calls take at least that long; each of `runs` timed runs makes n calls, and its
    /// time is the mean time of one call.
    static func measure(runs: Int, minimumSeconds: Double, _ body: () throws -> Void) rethrows -> Timings {
        try body()
        var calls = 0
        let started = monotonicSeconds()
        repeat {
            try body()
            calls += 1
        } while monotonicSeconds() - started < minimumSeconds
        var times: [Double] = []
        for _ in 0..<runs {
            let begin = monotonicSeconds()
            for _ in 0..<calls { try body() }
            times.append((monotonicSeconds() - begin) / Double(calls))
        }
        return Timings(times: times, callsPerRun: calls)
    }

    typealias Fields = OrderedDictionary<String, JSONValue>

    /// The fields every result carries: `median_s`, `min_s`, `max_s`, `times_s`, `runs`.
    var fields: Fields {
        ["runs": JSONValue(times.count), "calls_per_run": JSONValue(callsPerRun),
         "median_s": JSONValue(rounded(median)), "min_s": JSONValue(rounded(min)), "max_s": JSONValue(rounded(max)),
         "times_s": .array(times.map { JSONValue(rounded($0)) })]
    }
}

/// `x` to 9 significant decimals of a second (nanoseconds), for readable JSON.
func rounded(_ x: Double) -> Double { (x * 1e9).rounded() / 1e9 }

/// Prints one result object on stdout: the benchmark's name, its fields, and this process'
/// RSS before the operation (`baseline_rss_bytes`) and its peak (`peak_rss_bytes`, getrusage).
func printResult(_ benchmark: String, baselineRSS: Int, _ fields: Timings.Fields) {
    var object: OrderedDictionary<String, JSONValue> = ["benchmark": .string(benchmark)]
    for (key, value) in fields { object[key] = value }
    object["baseline_rss_bytes"] = JSONValue(baselineRSS)
    object["peak_rss_bytes"] = JSONValue(peakRSSBytes())
    print(JSONValue.object(object).serialized(pretty: true))
}

/// The number of parameters and their bytes in a graph.
func weightTotals(_ graph: Graph) -> (tensors: Int, bytes: Int) {
    var tensors = 0, bytes = 0
    for node in graph.nodes {
        for tensor in node.parameters.values {
            tensors += 1
            bytes += tensor.byteCount
        }
    }
    return (tensors, bytes)
}

/// Writes one line to standard error.
func printError(_ message: String) {
    let line = message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
