import ArgumentParser
import GraftCore
import GraftIO

struct CheckFrozenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-frozen",
        abstract: "Report frozen parameters of BASE that moved in TRAINED; exit 1 if any did.",
        discussion: "Frozen layers are those BASE itself marks frozen (Keras trainable=false, DL4J FrozenLayer wrappers).")

    @Argument(help: "The base model whose frozen layers must not move.") var base: String
    @Argument(help: "The model after training.") var trained: String
    @Option(name: .customLong("weights-base"), help: "Weights file when BASE is a Keras JSON config.") var weightsBase: String?
    @Option(name: .customLong("weights-trained"), help: "Weights file when TRAINED is a Keras JSON config.") var weightsTrained: String?

    func run() throws {
        try reportingErrors {
            let baseGraph = try ModelFile.load(path: base, weights: weightsBase)
            let frozen = baseGraph.nodes.filter { $0.freeze != .trainable }
            let moved = baseGraph.movedFrozenParameters(in: try ModelFile.load(path: trained, weights: weightsTrained))
            for change in moved { printLine("moved: \(change.node)/\(change.parameter): \(change.kind) \(change.detail)") }
            guard moved.isEmpty else {
                throw GraftError(.verificationFailed, "\(moved.count) frozen parameter(s) moved", file: trained)
            }
            printLine("\(frozen.count) frozen layer(s), \(frozen.reduce(0) { $0 + $1.parameters.count }) parameter tensor(s): none moved")
        }
    }
}
