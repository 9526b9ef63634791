import ArgumentParser
import GraftIO

struct ConvertArrayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-array",
        abstract: "Convert an Nd4j binary array to .npy, or a .npy to an Nd4j binary array.",
        discussion: "The input is recognised by content; an OUT ending in .npy gets NumPy, anything else Nd4j (MIXED_DATA_TYPES encoding).")

    @Argument(help: "The array to read (.npy or Nd4j binary).") var input: String
    @Argument(help: "The array to write.") var output: String

    func run() throws {
        try reportingErrors {
            try ArrayFile.convert(input, to: output)
            printLine("wrote \(output)")
        }
    }
}
