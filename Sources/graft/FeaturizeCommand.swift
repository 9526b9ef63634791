import ArgumentParser
import Foundation
import GraftCore
import GraftIO
import GraftRuntime

struct FeaturizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "featurize",
        abstract: "Compute the activations at a layer (e.g. the frozen boundary) and save them.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var threadOptions: ThreadOptions
    @Option(name: .long, help: "The layer whose output to save (name, or name:k for output k).") var at: String
    @Option(name: .long, help: "Input array (.npy or .npz); repeat for several inputs.") var input: [String] = []
    @Option(name: .long, help: "Where to write the features (.npy).") var output: String
    @Option(name: .customLong("batch-size"), help: "Rows per forward pass.") var batchSize: Int = 64

    func validate() throws {
        if batchSize <= 0 { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        try reportingErrors {
            threadOptions.apply()
            let graph = try model.load()
            let target = NodeOutput(parsing: at)
            guard graph.node(named: target.node) != nil else {
                throw GraftError(.invalidArgument, "no such layer", field: "--at", found: at)
            }
            let bar = ProgressBar(label: "featurize")
            let features = try Interpreter(graph: graph).runInBatches(try ArrayFile.readInputs(input), outputs: [target],
                                                                        batchSize: batchSize, progress: bar.update)
            bar.finish()
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

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
struct ProgressBar {
    let label: String
    let enabled = isatty(FileHandle.standardError.fileDescriptor) != 0

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let width = 30
        let filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
