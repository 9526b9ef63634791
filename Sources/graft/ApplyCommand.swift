import ArgumentParser
import Foundation
import GraftCore
import GraftIO
import GraftSurgery

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a surgery recipe (formats/recipe.md) to a model and save the result.",
        discussion: """
            RECIPE is a JSON file {"ops": [...]} or the same in YAML (.yaml/.yml). Every op is checked before anything is written; \
            each applied op is printed with whether it preserves the network's function. A new \
            layer may be given in the IR's op notation, as a Keras layer config, or as DL4J layer \
            JSON. With --dry-run nothing is written and the resulting graph's table is printed.
            """)

    @OptionGroup var model: ModelOptions
    @Argument(help: "The recipe (.json, or .yaml/.yml).") var recipe: String
    @Option(name: .long, help: "The output file; its extension picks the format unless --format.") var output: String?
    @Option(help: "Output format: keras-h5, keras or dl4j.") var format: String?
    @Flag(help: "Overwrite OUT if it exists.") var force = false
    @Flag(name: .customLong("dry-run"), help: "Apply without saving; print the result's table.") var dryRun = false

    func validate() throws {
        if output == nil && !dryRun { throw ValidationError("give --output OUT, or --dry-run") }
    }

    func run() throws {
        try reportingErrors {
            let target = try parseOutputFormat(format)
            let parsed = try Recipe.load(path: recipe, foreignLayers: { try ForeignLayerParser.parse(json: $0) })
            // The loaded graph is edited in place: nothing else holds its tensors, so widening
            // grows them where they are instead of copying them.
            var result = try model.load()
            let historyBefore = result.history.count
            try parsed.apply(editing: &result)
            for record in result.history.dropFirst(historyBefore) {
                let args = record.arguments.serialized()
                printLine("\(record.operation) \(args): \(record.functionPreserving ? "preserves the function" : "changes the function")")
            }
            if dryRun {
                printLine(try result.inspectTable())
                return
            }
            guard let output else { return }
            let report = try ModelFile.save(result, to: output, format: target, source: model.model, force: force)
            for note in report.notes { printLine(note.description) }
            printLine("wrote \(output) and \(FreezeManifest.path(forModel: output))")
        }
    }
}
