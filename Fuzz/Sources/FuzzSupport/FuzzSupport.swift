import Foundation
import GraftCore

#if canImport(Glibc)
import Glibc
#endif

/// Shared pieces of the libFuzzer harnesses: turning libFuzzer's buffer into bytes, a
/// scratch file for readers that take a path, the bundled fixtures, and the rule every
/// harness applies to an outcome.
public enum Fuzz {
    /// The harness' entry point: hands the command line to libFuzzer's driver. SwiftPM links
    /// executables with their own `main` symbol, so libFuzzer's `main` is not used.
    public static func main(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }

    /// libFuzzer's input as bytes (the pointer may be null when `size` is 0).
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Runs one input through a reader. Returning and throwing a `GraftError` are both fine
    /// (hostile input is refused with an error); any other error breaks the readers' contract
    /// (every failure is a `GraftError`) and is reported as a crash so libFuzzer keeps the input.
    public static func run(_ body: () throws -> Void) {
        do { try body() } catch is GraftError {} catch {
            fatalError("non-Graft error: \(error)")
        }
    }

    /// A per-process scratch folder on tmpfs when there is one (the readers that take a path
    /// read the input from here), removed at exit.
    public static let scratchDirectory: String = {
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = base + "/graft-fuzz-\(getpid())"
        mkdir(dir, 0o700)
        atexit { removeScratch() }
        return dir
    }()

    static func removeScratch() {
        let dir = "/dev/shm/graft-fuzz-\(getpid())"
        let alt = NSTemporaryDirectory() + "/graft-fuzz-\(getpid())"
        for d in [dir, alt] { try? FileManager.default.removeItem(atPath: d) }
    }

    /// Writes `bytes` to the scratch file `name` and returns its path.
    public static func file(_ bytes: [UInt8], name: String) -> String {
        let path = scratchDirectory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot write the scratch file \(path)")
        var written = 0
        bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                precondition(n > 0, "cannot write the scratch file \(path)")
                written += n
            }
        }
        close(fd)
        return path
    }

    /// The repository's `fixtures/` folder (`GRAFT_FIXTURES` overrides it).
    public static let fixtures: String = {
        if let dir = ProcessInfo.processInfo.environment["GRAFT_FIXTURES"] { return dir }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures").path
    }()
}

/// libFuzzer's driver (compiler-rt, linked by `-sanitize=fuzzer`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32
