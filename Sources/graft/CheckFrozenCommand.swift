import ArgumentParser
import GraftCore
import GraftIO

struct CheckFrozenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-frozen",
        abstract: "Report frozen parameters of BASE that moved in TRAINED; exit 1 if any did.",
        discussion: """
            When BASE has a freeze manifest beside it (BASE.graft.json, matching BASE's bytes), its \
            frozen list and per-parameter SHA-256 are the reference; otherwise the layers BASE itself \
            marks frozen (Keras trainable=false, DL4J FrozenLayer wrappers) are compared value by value.
            """)

    @Argument(help: "The base model whose frozen layers must not move.") var base: String
    @Argument(help: "The model after training.") var trained: String
    @Option(name: .customLong("weights-base"), help: "Weights file when BASE is a Keras JSON config.") var weightsBase: String?
    @Option(name: .customLong("weights-trained"), help: "Weights file when TRAINED is a Keras JSON config.") var weightsTrained: String?

    func run() throws {
        try reportingErrors {
            let trainedGraph = try loadModel(trained, weights: weightsTrained)
            let check = try FrozenCheck.run(basePath: base, baseWeights: weightsBase, trained: trainedGraph)
            if check.usedManifest { printLine("using freeze manifest \(FreezeManifest.path(forModel: base))") }
            for moved in check.moved { printLine("moved: \(moved)") }
            guard check.moved.isEmpty else {
                throw GraftError(.verificationFailed, "\(check.moved.count) frozen parameter(s) moved", file: trained)
            }
            printLine("\(check.frozenNodeCount) frozen layer(s), \(check.frozenTensorCount) parameter tensor(s): none moved")
        }
    }
}
