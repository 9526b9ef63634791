// graft-bench: times Graft's readers for the benchmark of issue 3 / issue 8 (see bench/README.md).
// Not a test and not part of `make test`; build it in release (`make bench-keras-read`).
//
//     graft-bench keras-read FILE.h5 [--runs N]    prints one JSON object on stdout
//
// GRAFT_BENCH_TRACE=1 also prints the current and peak RSS after each read on stderr.
//
// One "read" is `KerasReader.read(path:)`: open the file, parse the config, read every weight
// dataset into its tensor and build the graph. One untimed warm-up read first (page cache, code
// paths), then N timed reads on a monotonic clock; each run's graph is dropped before the next.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraftCore
import GraftKeras

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

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// One read: the whole graph with every parameter loaded; returns (parameter tensors, their bytes).
func readKeras(_ path: String) throws -> (tensors: Int, bytes: Int) {
    let graph = try KerasReader.read(path: path)
    var tensors = 0
    var bytes = 0
    for node in graph.nodes {
        for tensor in node.parameters.values {
            tensors += 1
            bytes += tensor.byteCount
        }
    }
    return (tensors, bytes)
}

func rounded(_ x: Double) -> String {
    let scaled = (x * 1e6).rounded() / 1e6
    return "\(scaled)"
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20: out += "\\u" + String(repeatElement("0", count: 4 - String(scalar.value, radix: 16).count)) + String(scalar.value, radix: 16)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// Writes one line to standard error.
func printError(_ message: String) {
    let line = message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

func usage() -> Never {
    printError("usage: graft-bench keras-read FILE [--runs N]")
    exit(2)
}

func kerasRead(_ arguments: [String]) {
    var path: String?
    var runs = 5
    var i = 0
    while i < arguments.count {
        let argument = arguments[i]
        if argument == "--runs" {
            guard i + 1 < arguments.count, let n = Int(arguments[i + 1]), n >= 1 else { usage() }
            runs = n
            i += 2
        } else if path == nil, !argument.hasPrefix("-") {
            path = argument
            i += 1
        } else {
            usage()
        }
    }
    guard let path else { usage() }

    let baselineRSS = currentRSSBytes()
    do {
        let warmUp = try readKeras(path)  // page cache and code paths; dropped here
        let trace = getenv("GRAFT_BENCH_TRACE") != nil
        if trace { printError("after warm-up: rss \(currentRSSBytes()) peak \(peakRSSBytes())") }
        var times: [Double] = []
        for _ in 0..<runs {
            let started = monotonicSeconds()
            let result = try readKeras(path)  // the graph is dropped inside readKeras, before the clock stops
            times.append(monotonicSeconds() - started)
            guard result.bytes == warmUp.bytes else {
                printError("graft-bench: run read \(result.bytes) weight bytes, the warm-up \(warmUp.bytes)")
                exit(1)
            }
            if trace { printError("after run: rss \(currentRSSBytes()) peak \(peakRSSBytes())") }
        }
        let peak = peakRSSBytes()
        let weights = warmUp.bytes
        print("""
        {
          "reader": "graft",
          "file": \(jsonString(path)),
          "tensors": \(warmUp.tensors),
          "weights_bytes": \(weights),
          "runs": \(runs),
          "times_s": [\(times.map(rounded).joined(separator: ", "))],
          "median_s": \(rounded(median(times))),
          "min_s": \(rounded(times.min() ?? 0)),
          "max_s": \(rounded(times.max() ?? 0)),
          "baseline_rss_bytes": \(baselineRSS),
          "peak_rss_bytes": \(peak),
          "peak_rss_over_weights": \(rounded(Double(peak) / Double(max(weights, 1)))),
          "peak_rss_minus_baseline_over_weights": \(rounded(Double(peak - baselineRSS) / Double(max(weights, 1))))
        }
        """)
    } catch {
        printError("graft-bench: \(error)")
        exit(1)
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { usage() }
switch command {
case "keras-read": kerasRead(Array(arguments.dropFirst()))
default: usage()
}
