import Foundation
import GraftCore
import GraftKeras
import XCTest

/// Inputs the libFuzzer harnesses (Fuzz/README.md) found, rebuilt here from a bundled fixture
/// and the bytes the fuzzer changed. Each must be refused with a `GraftError`; under
/// `make test-asan` each also must not make libhdf5 read or write out of bounds.
final class FuzzRegressionTests: XCTestCase {
    struct Case {
        var name: String
        var fixture: String
        /// (offset, new byte) pairs applied to the fixture.
        var patches: [(Int, UInt8)]
    }

    static let cases: [Case] = [
        // FuzzKerasH5: one byte of the `weight_names` attribute message's header in a layer
        // group (its datatype size 0x18 → 0x26) made libhdf5 1.10 memcpy past the message
        // in H5Aexists (H5O__msg_iterate_real → H5O attribute decode): heap-buffer-overflow.
        Case(name: "cnn.h5 weight_names attribute size", fixture: "cnn.h5", patches: [(13086, 0x26)]),
        // FuzzKerasH5: a 1 at 1172 and the "TREE" signature after it overwritten made libhdf5
        // 1.10 allocate 4 GB + 152 bytes for an object header chunk while H5Oopen loaded it
        // (libFuzzer out-of-memory, malloc limit 2 GB); the header is now checked before H5Oopen.
        Case(name: "mlp.h5 object header chunk size", fixture: "mlp.h5",
             patches: [(1172, 0x01), (1176, 0xAC), (1177, 0xAD), (1178, 0xBA), (1179, 0xBA)]),
    ]

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")

    func testFuzzerFindingsAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-fuzz-regression-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for c in Self.cases {
            var bytes = [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent(c.fixture)))
            for (offset, value) in c.patches {
                XCTAssertNotEqual(bytes[offset], value, "\(c.name): the fixture changed; rebuild this case")
                bytes[offset] = value
            }
            let path = dir.appendingPathComponent(c.fixture).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try KerasReader.read(path: path), c.name) { error in
                XCTAssertTrue(error is GraftError, "\(c.name): \(error)")
            }
        }
    }

    /// FuzzKerasH5's out-of-memory inputs of 2026-11-29 (Fuzz/findings/FuzzKerasH5-oom-root-header-*.h5):
    /// the root group's object header claims a 4 GB / 8 GB chunk, which libhdf5 1.10 allocated
    /// inside H5Fopen. The root header is now checked before libhdf5 opens the file.
    func testRootHeaderChunkSizeIsRefusedBeforeOpen() throws {
        let findings = Self.fixtures.deletingLastPathComponent().appendingPathComponent("Fuzz/findings")
        for name in ["FuzzKerasH5-oom-root-header-4G.h5", "FuzzKerasH5-oom-root-header-8G.h5"] {
            let path = findings.appendingPathComponent(name).path
            XCTAssertThrowsError(try KerasReader.read(path: path), name) { error in
                XCTAssertEqual((error as? GraftError)?.kind, .malformed, "\(name): \(error)")
                XCTAssertEqual((error as? GraftError)?.location, "/", "\(name): \(error)")
            }
        }
    }

    /// FuzzKerasH5's heap-buffer-overflow of 2026-11-29 10:07 (Fuzz/findings/FuzzKerasH5-overflow-vlen-size.h5):
    /// a variable-length string attribute whose datatype declares 8-byte elements; libhdf5 1.10
    /// sizes the attribute's data by that and H5Aread copies 16 bytes an element (the on-disk
    /// size it sets when opening). The header check refuses the declared size first.
    func testVariableLengthAttributeSmallerThanOnDiskIsRefused() throws {
        let path = Self.fixtures.deletingLastPathComponent().appendingPathComponent("Fuzz/findings/FuzzKerasH5-overflow-vlen-size.h5").path
        XCTAssertThrowsError(try KerasReader.read(path: path)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .malformed, "\(error)")
            XCTAssertEqual((error as? GraftError)?.field, "datatype size", "\(error)")
            XCTAssertTrue("\(error)".contains("variable-length element on disk"), "\(error)")
        }
    }

    /// FuzzKerasH5's out-of-memory of 2026-11-29 10:18 (Fuzz/findings/FuzzKerasH5-oom-superblock-short.h5):
    /// a 38-byte file, a version 0 superblock cut short; libhdf5 1.10 reallocated 2.6 GB for it
    /// in H5F__super_read. A superblock the file ends inside is refused before libhdf5 opens it.
    func testShortSuperblockIsRefusedBeforeOpen() throws {
        let path = Self.fixtures.deletingLastPathComponent().appendingPathComponent("Fuzz/findings/FuzzKerasH5-oom-superblock-short.h5").path
        XCTAssertThrowsError(try KerasReader.read(path: path)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .malformed, "\(error)")
            XCTAssertEqual((error as? GraftError)?.location, "superblock", "\(error)")
        }
    }

    /// FuzzKerasH5's negative-size memcpy of 2026-11-29 10:40 (Fuzz/findings/FuzzKerasH5-local-heap-size.h5):
    /// a local heap whose data segment follows its header declares 2^64 - 1 bytes; libhdf5 1.10
    /// loaded header and segment as one piece and copied -1 bytes (heap corruption without ASan).
    func testLocalHeapSegmentPastTheFileIsRefused() throws {
        let path = Self.fixtures.deletingLastPathComponent().appendingPathComponent("Fuzz/findings/FuzzKerasH5-local-heap-size.h5").path
        XCTAssertThrowsError(try KerasReader.read(path: path)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .malformed, "\(error)")
            XCTAssertEqual((error as? GraftError)?.field, "data segment size", "\(error)")
        }
    }

    /// FuzzKerasH5's hang (Fuzz/findings/FuzzKerasH5-hang-H5HG.h5, kept whole: too many changed
    /// bytes to patch): a global heap collection whose object list libhdf5 1.10 walks forever in
    /// H5Aread → H5T__conv_vlen → H5HG_read. The global-heap pre-check refuses it first.
    func testGlobalHeapHangIsRefused() throws {
        let path = Self.fixtures.deletingLastPathComponent().appendingPathComponent("Fuzz/findings/FuzzKerasH5-hang-H5HG.h5").path
        XCTAssertThrowsError(try KerasReader.read(path: path)) { error in
            XCTAssertEqual((error as? GraftError)?.kind, .malformed, "\(error)")
            XCTAssertTrue("\(error)".contains("global heap"), "\(error)")
        }
    }
}
