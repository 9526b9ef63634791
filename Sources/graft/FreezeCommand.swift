import ArgumentParser
import GraftCore
import GraftIO
import GraftSurgery

struct FreezeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freeze",
        abstract: "Freeze LAYER and every node it depends on, and save the model with its manifest.",
        discussion: """
            As DL4J's setFeatureExtractor: LAYER and all its graph ancestors become frozen. The \
            operation is recorded in the model's history; the output format follows --format or \
            OUT's extension, and OUT.graft.json lists the frozen nodes with a SHA-256 per parameter.
            """)

    @OptionGroup var model: ModelOptions
    @Option(name: .customLong("up-to"), help: "The last layer to freeze.") var upTo: String
    @Option(name: .long, help: "The output file.") var output: String
    @Option(help: "Output format: keras-h5, keras or dl4j.") var format: String?
    @Flag(name: .customLong("with-backprop"), help: "Freeze as FrozenLayerWithBackprop (gradients still flow).") var withBackprop = false
    @Flag(help: "Overwrite OUT if it exists.") var force = false

    func run() throws {
        try reportingErrors {
            let target = try parseOutputFormat(format)
            let graph = try model.load()
            let frozen = try graph.freeze(upTo: upTo, state: withBackprop ? .frozenWithBackprop : .frozen)
            let report = try ModelFile.save(frozen, to: output, format: target, source: model.model, force: force)
            for note in report.notes { printLine(note.description) }
            let names = frozen.nodes.filter { $0.freeze != .trainable }.map(\.name)
            printLine("frozen \(names.count) node(s): \(names.joined(separator: ", "))")
            printLine("wrote \(output) and \(FreezeManifest.path(forModel: output))")
        }
    }
}
