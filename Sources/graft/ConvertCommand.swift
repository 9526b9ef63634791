import ArgumentParser
import Foundation
import GraftCore
import GraftIO

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model to Keras HDF5, Keras 3 .keras or a DL4J zip through the IR.",
        discussion: """
            The output format comes from --format or OUT's extension (.h5/.hdf5 → keras-h5, \
            .keras → keras, anything else → dl4j). The model is written to a temporary file and \
            renamed; its freeze manifest OUT.graft.json is written beside it. Refuses to write \
            over IN, and over an existing OUT without --force. Prints what the conversion dropped \
            or converted. Exits 1 when the target format cannot express a layer of the model (the \
            error names the node, its kind and the reason), 2 on bad input.
            """)

    @Argument(help: "The model to convert.") var input: String
    @Argument(help: "The output file.") var output: String
    @Option(help: "Output format: keras-h5, keras or dl4j.") var format: String?
    @Option(help: "Weights-only HDF5 file, when IN is a Keras JSON config.") var weights: String?
    @Flag(help: "Overwrite OUT if it exists.") var force = false
    @Flag(help: "Deflate the weight entries of a DL4J zip (stored by default: float weights barely compress).")
    var compress = false
    @Flag(help: "Refuse a model whose weights hold NaN or infinite values.") var strict = false

    func run() throws {
        try reportingErrors {
            let target = try parseOutputFormat(format)
            let graph = try loadModel(input, weights: weights, strict: strict)
            let report: ConversionReport
            do {
                report = try ModelFile.save(graph, to: output, format: target, source: input, force: force, compress: compress)
            } catch let error as GraftError where error.kind == .unsupported {
                // A valid model the target format cannot express: a failed conversion, not bad input.
                FileHandle.standardError.write(Data("graft: cannot convert: \(error.description)\n".utf8))
                throw ExitCode(1)
            }
            for note in report.notes { printLine(note.description) }
            printLine("wrote \(output) (\((target ?? ModelFile.outputFormat(forPath: output)).rawValue)) and \(FreezeManifest.path(forModel: output))")
        }
    }
}

/// Parses a `--format` value naming a writable model format.
func parseOutputFormat(_ text: String?) throws -> ModelFormat? {
    guard let text else { return nil }
    let writable: [ModelFormat] = [.kerasH5, .keras3, .dl4jZip]
    guard let format = ModelFormat(rawValue: text), writable.contains(format) else {
        throw GraftError(.invalidArgument, "unknown output format", field: "--format",
                         expected: writable.map(\.rawValue).joined(separator: ", "), found: text)
    }
    return format
}
