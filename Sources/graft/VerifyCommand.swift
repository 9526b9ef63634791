import ArgumentParser
import GraftCore
import GraftIO
import GraftRuntime

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that two models compute the same function; exit 1 if they do not.",
        discussion: """
            Both models run on the same inputs (--input, or seeded random inputs shaped like A's \
            inputs, with sizes A leaves open taken from B, else 4) and every output is compared; the largest errors \
            are printed. Inputs are given in A's layout; when B's format lays them out differently \
            (DL4J [batch, features, time] vs Keras [batch, time, features], channels first vs last) \
            they are transposed for B and B's outputs transposed back.
            """)

    @Argument(help: "The first model.") var a: String
    @Argument(help: "The second model.") var b: String
    @Option(name: .long, help: "Input array (.npy or .npz); repeat for several inputs.") var input: [String] = []
    @Option(name: .customLong("weights-a"), help: "Weights file when A is a Keras JSON config.") var weightsA: String?
    @Option(name: .customLong("weights-b"), help: "Weights file when B is a Keras JSON config.") var weightsB: String?
    @Option(help: "Seed for random inputs.") var seed: UInt64 = 42
    @Flag(help: "Refuse a model whose weights hold NaN or infinite values.") var strict = false
    @OptionGroup var tolerance: ToleranceOptions
    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        try reportingErrors {
            threadOptions.apply()
            let first = try loadModel(a, weights: weightsA, strict: strict)
            let second = try loadModel(b, weights: weightsB, strict: strict)
            // Map layouts between formats (DL4J [b, f, t] vs Keras [b, t, f], channels first vs last).
            let mapping = try LayoutMapping(from: first, to: second)
            let inputs = input.isEmpty ? try RandomInputs.make(for: first, sizesFrom: second, mapping: mapping, seed: seed)
                : try ArrayFile.readInputs(input)
            if !mapping.isIdentity { printLine("mapping input layouts from A to B and B's outputs back") }
            let outA = try Interpreter(graph: first).run(inputs)
            let outB = try mapping.outputsForA(try Interpreter(graph: second).run(try mapping.inputsForB(inputs)))
            try checkOutputs(outB, expected: outA, tolerance: tolerance, names: second.outputs.map(\.description))
            printLine("same function within atol \(tolerance.atol), rtol \(tolerance.rtol)")
        }
    }
}
