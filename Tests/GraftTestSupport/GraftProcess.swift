import Foundation

/// Runs the built `graft` executable for end-to-end tests (GraftCLITests, ConformanceTests).
public enum GraftProcess {
    /// What a run of the binary produced.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The `graft` executable next to the test bundle.
    public static var binary: URL {
        #if os(macOS)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("graft")
        }
        #endif
        return Bundle.main.bundleURL.appendingPathComponent("graft")
    }

    /// Runs the binary with `arguments` and collects its exit status and output.
    public static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // stderr is drained on another thread so a full stderr pipe cannot block the child
        // while stdout is being read.
        let errData = ErrorDrain(err.fileHandleForReading)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = errData.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Reads a handle to its end on a background thread.
    final class ErrorDrain: @unchecked Sendable {
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)
        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }
        }
        func wait() -> Data { done.wait(); return data }
    }
}
