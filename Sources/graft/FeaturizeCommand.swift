import ArgumentParser
import GraftCore
import GraftIO
import GraftRuntime

struct FeaturizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "featurize",
        abstract: "Compute the activations at a layer (e.g. the frozen boundary) and save them.")

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "The layer whose output to save (name, or name:k for output k).") var at: String
    @Option(name: .long, help: "Input array (.npy or .npz); repeat for several inputs.") var input: [String] = []
    @Option(name: .long, help: "Where to write the features (.npy).") var output: String

    func run() throws {
        try reportingErrors {
            let graph = try model.load()
            let target = NodeOutput(parsing: at)
            guard graph.node(named: target.node) != nil else {
                throw GraftError(.invalidArgument, "no such layer", field: "--at", found: at)
            }
            let features = try Interpreter(graph: graph).run(try ArrayFile.readInputs(input), outputs: [target])
            try ArrayFile.writeOutputs(features, to: output)
            printLine("wrote features of \(at) \(formatShape(features[0].shape)) to \(output)")
        }
    }
}

extension NodeOutput {
    /// `name` or `name:k`; a name that itself contains ':' followed by a non-number stays whole.
    init(parsing text: String) {
        if let colon = text.lastIndex(of: ":"), let k = Int(text[text.index(after: colon)...]) {
            self.init(String(text[..<colon]), output: k)
        } else {
            self.init(text)
        }
    }
}
