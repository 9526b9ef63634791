import ArgumentParser
import Foundation
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
            let trainedGraph = try ModelFile.load(path: trained, weights: weightsTrained)
            let movedLines: [String]
            let summary: String
            if let manifest = (try? FreezeManifest.matching(model: base)) ?? nil {
                let moved = manifest.movedParameters(in: trainedGraph)
                movedLines = moved.map { "moved: \($0.node)/\($0.parameter): \($0.detail)" }
                summary = "\(manifest.frozen.count) frozen layer(s), \(manifest.frozen.reduce(0) { $0 + $1.parameters.count }) parameter tensor(s): none moved"
                printLine("using freeze manifest \(FreezeManifest.path(forModel: base))")
            } else {
                let baseGraph = try ModelFile.load(path: base, weights: weightsBase)
                let moved = baseGraph.movedFrozenParameters(in: trainedGraph)
                movedLines = moved.map { "moved: \($0.node)/\($0.parameter): \($0.kind) \($0.detail)" }
                let frozen = baseGraph.nodes.filter { $0.freeze != .trainable }
                summary = "\(frozen.count) frozen layer(s), \(frozen.reduce(0) { $0 + $1.parameters.count }) parameter tensor(s): none moved"
            }
            for line in movedLines { printLine(line) }
            guard movedLines.isEmpty else {
                throw GraftError(.verificationFailed, "\(movedLines.count) frozen parameter(s) moved", file: trained)
            }
            printLine(summary)
        }
    }
}
