// graft-bench: the Graft side of `make bench` (issue 8; see bench/README.md). Each subcommand
// times one operation in this process and prints one JSON object on stdout: median/min/max of
// the timed runs (after an untimed warm-up), and this process' baseline and peak RSS
// (getrusage). Run one subcommand per process so that peaks don't mix. Release build only.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraftCore

let usageText = """
usage: graft-bench SUBCOMMAND ... [--runs N]      (default 5 timed runs after one warm-up)
  keras-read FILE.h5                  Keras file → IR graph with every weight loaded
  dl4j-read FILE.zip                  DL4J zip → IR graph
  convert IN OUT                      read IN, write OUT in the format of OUT's extension
  write MODEL OUT                     MODEL read once; times writing it as OUT
  widen MODEL [--layer L] [--by K]    widen Dense layer L by K units in place (each run K more), vs the copying widen and a full copy of the weights
  raw-read FILE                       read(2) of the whole file into a 1 MiB buffer
  raw-write OUT --bytes N             write(2) of N bytes to a new file OUT (removed after each run)
  memcpy --bytes N                    memcpy of N bytes into a touched destination
  forward MODEL [--batch B] [--threads T] [--min-time S]
                                      forward pass on seeded random input; throughput and GFLOP/s
  sgemm-peak [--size N] [--threads T] cblas_sgemm on N×N matrices: GFLOP/s
  gemm-shape --m M --k K --n N [--threads T]
                                      C = A·B at one shape: packed-weight GEMM vs cblas_sgemm, GFLOP/s
"""

/// Positional arguments and `--name value` options of one subcommand.
struct Arguments {
    var positional: [String] = []
    var options: [String: String] = [:]

    init(_ raw: [String]) {
        var i = 0
        while i < raw.count {
            if raw[i].hasPrefix("--") {
                guard i + 1 < raw.count else { usage("\(raw[i]) needs a value") }
                options[String(raw[i].dropFirst(2))] = raw[i + 1]
                i += 2
            } else {
                positional.append(raw[i])
                i += 1
            }
        }
    }

    func path(_ index: Int, _ name: String) -> String {
        guard index < positional.count else { usage("missing \(name)") }
        return positional[index]
    }

    func int(_ name: String, default value: Int) -> Int {
        guard let text = options[name] else { return value }
        guard let n = Int(text), n >= 1 else { usage("--\(name) needs a positive integer, got \(text)") }
        return n
    }

    func double(_ name: String, default value: Double) -> Double {
        guard let text = options[name] else { return value }
        guard let x = Double(text), x >= 0 else { usage("--\(name) needs a non-negative number, got \(text)") }
        return x
    }

    var runs: Int { int("runs", default: 5) }
}

func usage(_ problem: String? = nil) -> Never {
    if let problem { printError("graft-bench: \(problem)") }
    printError(usageText)
    exit(2)
}

let commandLine = Array(CommandLine.arguments.dropFirst())
guard let command = commandLine.first else { usage() }
let arguments = Arguments(Array(commandLine.dropFirst()))
do {
    switch command {
    case "keras-read": try kerasRead(arguments)
    case "dl4j-read": try dl4jRead(arguments)
    case "convert": try convert(arguments)
    case "write": try writeModel(arguments)
    case "widen": try widen(arguments)
    case "raw-read": try rawRead(arguments)
    case "raw-write": try rawWrite(arguments)
    case "memcpy": memcpyBench(arguments)
    case "forward": try forward(arguments)
    case "sgemm-peak": sgemmPeak(arguments)
    case "gemm-shape": gemmShape(arguments)
    default: usage("unknown subcommand \(command)")
    }
} catch {
    printError("graft-bench \(command): \(error)")
    exit(1)
}
