import ArgumentParser
import GraftCore
import GraftIO
import GraftRuntime

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run the model on input arrays and write its outputs.",
        discussion: """
            Inputs are given in the model's native layout, one --input per model input (an .npz \
            gives its input_0, input_1, ... arrays). With --compare, each output is checked against \
            expected arrays (an .npy, or an .npz with output_0, ...) and the largest errors are printed; \
            the exit code is 1 when any element is out of tolerance.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(name: .long, help: "Input array (.npy or .npz); repeat for several inputs.") var input: [String] = []
    @Option(name: .long, help: "Where to write the outputs (.npy for one output, .npz for any).") var output: String?
    @Option(name: .long, help: "Expected outputs to compare with (.npy or .npz).") var compare: String?
    @Option(name: .long, help: "Start from featurized values of this layer (name or name:k): --input is then the features `graft featurize --at LAYER` wrote.") var from: String?
    @OptionGroup var tolerance: ToleranceOptions

    func validate() throws {
        if input.isEmpty { throw ValidationError("give at least one --input") }
        if output == nil && compare == nil { throw ValidationError("give --output, --compare, or both") }
        if from != nil && input.count != 1 { throw ValidationError("with --from, give exactly one --input (the featurized array)") }
    }

    func run() throws {
        try reportingErrors {
            threadOptions.apply()
            let graph = try model.load()
            let outputs: [Tensor]
            if let from {
                let boundary = NodeOutput(parsing: from)
                guard graph.node(named: boundary.node) != nil else {
                    throw GraftError(.invalidArgument, "no such layer", field: "--from", found: from)
                }
                let features = try ArrayFile.readInputs(input)
                outputs = try Interpreter(graph: graph).run(from: [boundary: features[0]])
            } else {
                outputs = try Interpreter(graph: graph).run(try ArrayFile.readInputs(input))
            }
            if let output {
                try ArrayFile.writeOutputs(outputs, to: output)
                printLine("wrote \(outputs.count) output(s) to \(output): " + outputs.map { formatShape($0.shape) }.joined(separator: ", "))
            }
            if let compare {
                let expected = try ArrayFile.readOutputs(compare)
                try checkOutputs(outputs, expected: expected, tolerance: tolerance, names: graph.outputs.map(\.description))
            }
        }
    }
}

/// Compares outputs with expected arrays, prints one line per output, and throws a
/// `.verificationFailed` error when any is out of tolerance.
func checkOutputs(_ outputs: [Tensor], expected: [Tensor], tolerance: ToleranceOptions, names: [String]) throws {
    guard outputs.count == expected.count else {
        throw GraftError(.shapeMismatch, "number of outputs differs", expected: "\(expected.count)", found: "\(outputs.count)")
    }
    var failed: [String] = []
    for (i, (a, e)) in zip(outputs, expected).enumerated() {
        let name = i < names.count ? names[i] : "output_\(i)"
        let r = try compare(actual: a, expected: e, atol: tolerance.atol, rtol: tolerance.rtol)
        printLine("\(name) \(formatShape(a.shape)): max abs error \(r.maxAbs), max rel error \(r.maxRel) — \(r.pass ? "OK" : "OUT OF TOLERANCE")")
        if !r.pass { failed.append(name) }
    }
    if !failed.isEmpty {
        throw GraftError(.verificationFailed, "outputs differ beyond atol \(tolerance.atol), rtol \(tolerance.rtol)",
                         location: failed.joined(separator: ", "))
    }
}
