import ArgumentParser

@main
struct Graft: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graft",
        abstract: "Network surgery and model interchange for Keras and DL4J models.",
        version: "0.1.0",
        subcommands: []
    )
}
