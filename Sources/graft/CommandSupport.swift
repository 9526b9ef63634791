import ArgumentParser
import Foundation
import GraftCore
import GraftIO
import GraftRuntime

/// Options every command that reads a model shares.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The model file (Keras .h5/.keras/JSON config, or DL4J zip).")
    var model: String

    @Option(name: .long, help: "Weights-only HDF5 file, when MODEL is a Keras JSON config.")
    var weights: String?

    @Flag(name: .long, help: "Refuse a model whose weights hold NaN or infinite values.")
    var strict = false

    func load() throws -> Graph { try loadModel(model, weights: weights, strict: strict) }
}

/// Tolerances for numeric comparisons: an element passes when |a − e| ≤ atol + rtol·|e|.
struct ToleranceOptions: ParsableArguments {
    @Option(help: "Absolute tolerance.") var atol: Double = 1e-5
    @Option(help: "Relative tolerance.") var rtol: Double = 1e-4
}

/// The thread count of the forward pass (OpenBLAS), for the commands that run a model.
struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for the forward pass (default: OpenBLAS' default, OPENBLAS_NUM_THREADS or one per core).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Applies the thread count, when one was given.
    func apply() {
        if let threads { Runtime.setThreadCount(threads) }
    }
}

/// Runs a command body, printing a `GraftError` to stderr and exiting with 2 (bad input)
/// or 1 (failed verification). Any other error is bad input too (exit 2), never 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as GraftError {
        FileHandle.standardError.write(Data("graft: \(error.description)\n".utf8))
        throw ExitCode(error.kind == .verificationFailed ? 1 : 2)
    } catch let code as ExitCode {
        throw code
    } catch {
        FileHandle.standardError.write(Data("graft: \(error)\n".utf8))
        throw ExitCode(2)
    }
}

/// Loads a model, warning on stderr when a freeze manifest beside it was ignored.
/// With `strict`, a model whose weights hold NaN or infinite values is refused.
func loadModel(_ path: String, weights: String?, strict: Bool = false) throws -> Graph {
    let graph = try ModelFile.load(path: path, weights: weights)
    if strict { try graph.checkFiniteParameters() }
    if let warning = graph.source.extras["manifestWarning"]?.stringValue {
        FileHandle.standardError.write(Data("graft: warning: \(warning)\n".utf8))
    }
    return graph
}

func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

func formatShape(_ shape: [Int]) -> String { "(" + shape.map(String.init).joined(separator: ", ") + ")" }
