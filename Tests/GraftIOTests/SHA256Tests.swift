import Foundation
import GraftCore
import XCTest

/// FIPS 180-4 / NIST example vectors.
final class SHA256Tests: XCTestCase {
    func testNISTVectors() {
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testMillionAsThroughEveryPath() throws {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(million.withUnsafeBytes { SHA256.hex($0) }, expected)
        // Uneven chunks cross block boundaries in both update paths.
        var hasher = SHA256()
        var offset = 0
        var step = 1
        while offset < million.count {
            let end = min(million.count, offset + step)
            if step % 2 == 0 { hasher.update(million[offset..<end]) } else { million[offset..<end].withUnsafeBytes { hasher.update($0) } }
            offset = end
            step = step * 3 % 997 + 1
        }
        XCTAssertEqual(SHA256.hexString(hasher.finalize()), expected)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("graft-sha-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(million).write(to: file)
        XCTAssertEqual(try SHA256.hex(fileAt: file.path), expected)
    }
}
