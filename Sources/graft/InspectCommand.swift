import ArgumentParser
import GraftCore

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the layer table: name, op, output shape, parameters, freeze state.",
        discussion: "With --json, the same as JSON (documented in formats/cli-json.md).")

    @OptionGroup var model: ModelOptions
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
        try reportingErrors {
            let graph = try model.load()
            printLine(json ? try graph.inspectJSON().serialized(pretty: true) : try graph.inspectTable())
        }
    }
}
