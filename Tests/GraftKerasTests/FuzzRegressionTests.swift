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

    /// What a kept input's error must name.
    enum Expected {
        case location(String)
        case field(String)
        case text(String)
    }

    /// Inputs kept whole in Fuzz/findings/ (too many changed bytes to patch a fixture), each a
    /// libhdf5 1.10 defect that Graft's checks now refuse before libhdf5 reads the bytes.
    static let keptInputs: [(file: String, expected: Expected)] = [
        // Out-of-memory inside H5Fopen: the root group's object header claims a 4 GB / 8 GB
        // chunk; the root header is checked before libhdf5 opens the file.
        ("FuzzKerasH5-oom-root-header-4G.h5", .location("/")),
        ("FuzzKerasH5-oom-root-header-8G.h5", .location("/")),
        // Heap-buffer-overflow in H5A__read: a variable-length string attribute declaring 15-byte
        // elements; libhdf5 sizes the data by that and copies 16 bytes an element (its on-disk size).
        ("FuzzKerasH5-overflow-vlen-size.h5", .field("datatype size")),
        // Out-of-memory in H5F__super_read: a 38-byte file ending inside a version 0 superblock
        // (a 2.6 GB realloc); a superblock the file ends inside is refused before libhdf5 opens it.
        ("FuzzKerasH5-oom-superblock-short.h5", .location("superblock")),
        // Negative-size memcpy in H5HL_protect: a local heap whose data segment follows its
        // header declares 2^64 - 1 bytes (heap corruption without ASan).
        ("FuzzKerasH5-local-heap-size.h5", .field("data segment size")),
        // Hang in H5Aread → H5T__conv_vlen → H5HG_read: a global heap collection whose object
        // list libhdf5 walks forever; the global-heap pre-check refuses it.
        ("FuzzKerasH5-hang-H5HG.h5", .text("global heap")),
        // Out-of-memory in H5Lexists → H5G__stab_lookup → H5HL_protect: a group's local heap
        // declares a 12 GB data segment lying apart from its header, far past the end of the file.
        ("FuzzKerasH5-oom-local-heap-segment.h5", .field("data segment")),
        // Hang in H5Aread → H5T__conv_vlen → H5HG__protect: a global heap collection declaring
        // 3840 bytes (under the 4096 the whole-file scan takes as a real collection) with a
        // free-space object of size 0; refused where a variable-length attribute references it.
        ("FuzzKerasH5-hang-open.h5", .text("objects that fit the global heap collection")),
        // Heap-buffer-overflows in H5Aget_type → H5T_copy_reopen (memcpy of enumeration values)
        // and H5Aexists → strdup (an enumeration member name): a string attribute's datatype
        // turned into an enumeration of 1 / 254 members within its 20 bytes; every datatype is
        // now decoded by its class's layout against the bytes it may use.
        ("FuzzKerasH5-overflow-enum-values.h5", .text("enumeration member name")),
        ("FuzzKerasH5-overflow-enum-names.h5", .text("enumeration member name")),
    ]

    func testKeptFuzzerInputsAreRefused() throws {
        let findings = Self.fixtures.deletingLastPathComponent().appendingPathComponent("Fuzz/findings")
        for (file, expected) in Self.keptInputs {
            let path = findings.appendingPathComponent(file).path
            XCTAssertThrowsError(try KerasReader.read(path: path), file) { error in
                guard let graftError = error as? GraftError else { return XCTFail("\(file): \(error)") }
                XCTAssertEqual(graftError.kind, .malformed, "\(file): \(error)")
                switch expected {
                case .location(let location): XCTAssertEqual(graftError.location, location, "\(file): \(error)")
                case .field(let field): XCTAssertEqual(graftError.field, field, "\(file): \(error)")
                case .text(let text): XCTAssertTrue("\(error)".contains(text), "\(file): \(error)")
                }
            }
        }
    }
}
