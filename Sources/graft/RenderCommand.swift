import ArgumentParser
import Foundation
import GraftCore
import GraftIO

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Draw the graph: nodes with op and shape, frozen nodes shaded, edited nodes outlined.",
        discussion: "A .dot output is written directly; .svg needs Graphviz's `dot` on the PATH (apt-get install graphviz).")

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Where to write the picture (.dot or .svg).") var output: String
    @Option(name: .long, help: "Another model (e.g. the one before surgery) to draw on the left, side by side.") var before: String?

    func run() throws {
        try reportingErrors {
            let graph = try model.load()
            let dot: String
            if let before {
                let other = try ModelFile.load(path: before, weights: nil)
                dot = Graph.dotSideBySide(before: other, after: graph, beforeTitle: before, afterTitle: model.model)
            } else {
                dot = graph.dot()
            }
            if output.hasSuffix(".svg") {
                try AtomicFile.write(try GraphvizRenderer.svg(fromDOT: dot), to: output)
            } else {
                try AtomicFile.write(Data(dot.utf8), to: output)
            }
            printLine("wrote \(output)")
        }
    }
}

/// Runs Graphviz's `dot` to turn DOT text into SVG.
enum GraphvizRenderer {
    static func svg(fromDOT dot: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["dot", "-Tsvg"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            throw GraftError(.unsupported, "cannot run Graphviz 'dot' for SVG output; write .dot or install graphviz")
        }
        input.fileHandleForWriting.write(Data(dot.utf8))
        try? input.fileHandleForWriting.close()
        let svg = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GraftError(.unsupported, "Graphviz 'dot' failed: \(String(decoding: message, as: UTF8.self))")
        }
        return svg
    }
}
