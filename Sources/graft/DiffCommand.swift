import ArgumentParser
import GraftIO

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show config and weight differences between two models (nodes matched by name).")

    @Argument(help: "The first model.") var a: String
    @Argument(help: "The second model.") var b: String
    @Option(name: .customLong("weights-a"), help: "Weights file when A is a Keras JSON config.") var weightsA: String?
    @Option(name: .customLong("weights-b"), help: "Weights file when B is a Keras JSON config.") var weightsB: String?
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        try reportingErrors {
            let d = try ModelFile.load(path: a, weights: weightsA).diff(try ModelFile.load(path: b, weights: weightsB))
            printLine(json ? d.json.serialized(pretty: true) : String(d.text.dropLast()))
        }
    }
}
