import ArgumentParser
import Foundation

/// The `graft` command line: a thin shell over the library. Exit codes: 0 success,
/// 1 failed verification, 2 bad input (the reason on stderr).
@main
struct Graft: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graft",
        abstract: "Network surgery and model interchange for trained Keras and DL4J models.",
        discussion: """
            MODEL is a Keras .h5/.hdf5, a Keras JSON config with --weights W.h5, a Keras 3 .keras \
            archive, or a DL4J zip (recognised by content, whatever its extension). Arrays travel \
            as NumPy .npy/.npz in the model's native data layout.
            """,
        version: "0.1.0",
        subcommands: [
            InspectCommand.self, PredictCommand.self, VerifyCommand.self, FeaturizeCommand.self,
            DiffCommand.self, RenderCommand.self, CheckFrozenCommand.self, ConvertArrayCommand.self,
            ConvertCommand.self, FreezeCommand.self, ApplyCommand.self,
        ]
    )

    /// Parses and runs like ArgumentParser's default `main`, except that a command-line
    /// usage error (missing argument, unknown option or subcommand) exits with 2, the
    /// "bad input" code of the CLI contract, instead of ArgumentParser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            exit(withError: code)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}
