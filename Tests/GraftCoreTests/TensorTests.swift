import GraftCore
import XCTest

final class TensorTests: XCTestCase {
    static func bits32(_ t: Tensor) -> [UInt32] { t.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) } }

    func testCopySharesStorageUntilWritten() {
        let a = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        var b = a
        XCTAssertTrue(a.storage === b.storage, "a copy shares its bytes")
        b.withUnsafeMutableBytes { $0.storeBytes(of: Float(9), toByteOffset: 0, as: Float.self) }
        XCTAssertFalse(a.storage === b.storage, "writing a shared tensor copies first")
        XCTAssertEqual(a.floats(), [1, 2, 3, 4], "the original is untouched")
        XCTAssertEqual(b.floats(), [9, 2, 3, 4])
    }

    func testUniqueTensorWritesInPlace() {
        var a = Tensor(shape: [3], floats: [1, 2, 3])
        let before = ObjectIdentifier(a.storage)
        a.withUnsafeMutableBytes { $0.storeBytes(of: Float(5), toByteOffset: 4, as: Float.self) }
        XCTAssertEqual(ObjectIdentifier(a.storage), before)
        XCTAssertEqual(a.floats(), [1, 5, 3])
    }

    func testReshapedSharesBytesAndWritesStayApart() throws {
        let a = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        var r = try a.reshaped([3, 2])
        XCTAssertEqual(r.shape, [3, 2])
        XCTAssertTrue(r.storage === a.storage)
        r.withUnsafeMutableBytes { $0.storeBytes(of: Float(0), toByteOffset: 20, as: Float.self) }
        XCTAssertEqual(a.floats(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(r.floats(), [1, 2, 3, 4, 5, 0])
        XCTAssertThrowsError(try a.reshaped([4, 2]))
    }

    /// NaN payloads, signalling NaNs, −0.0 and infinities survive copies, reshapes,
    /// transposition and same-dtype conversion bit for bit.
    func testBitExactSpecialValues() throws {
        let patterns: [UInt32] = [0x7FC0_1234, 0x7F80_0001, 0xFFC0_0000, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x3F80_0000, 0x0000_0001]
        let t = try patterns.withUnsafeBytes { try Tensor(shape: [2, 4], dtype: .float32, bytes: $0) }
        XCTAssertEqual(Self.bits32(t), patterns)
        let copy = t
        XCTAssertEqual(Self.bits32(copy), patterns)
        XCTAssertEqual(Self.bits32(try t.reshaped([8])), patterns)
        XCTAssertEqual(Self.bits32(try t.reshaped([4, 2]).reshaped([2, 4])), patterns)
        XCTAssertEqual(Self.bits32(t.converted(to: .float32)), patterns)
        // A double transpose is the identity and moves bytes, never values through arithmetic.
        XCTAssertEqual(Self.bits32(try t.transposed([1, 0]).transposed([1, 0])), patterns)
        XCTAssertTrue(t.bitwiseEqual(try t.transposed([1, 0]).transposed([1, 0])))
        // A written copy keeps the payloads of the elements not written.
        var w = t
        w.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(0), toByteOffset: 28, as: UInt32.self) }
        XCTAssertEqual(Array(Self.bits32(w).prefix(7)), Array(patterns.prefix(7)))
        XCTAssertEqual(Self.bits32(t), patterns)
        XCTAssertFalse(w.bitwiseEqual(t))
    }

    func testBitExactFloat16AndFloat64() throws {
        let half: [UInt16] = [0x7E01, 0x8000, 0x7C01, 0xFC00]
        let h = try half.withUnsafeBytes { try Tensor(shape: [4], dtype: .float16, bytes: $0) }
        let hCopy = try h.reshaped([2, 2])
        XCTAssertEqual(hCopy.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }, half)
        let double: [UInt64] = [0x7FF8_0000_DEAD_BEEF, 0x8000_0000_0000_0000, 0x7FF0_0000_0000_0001]
        let d = try double.withUnsafeBytes { try Tensor(shape: [3], dtype: .float64, bytes: $0) }
        XCTAssertEqual(try d.reshaped([3, 1]).withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }, double)
    }

    func testStorageSizeIsChecked() {
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 7).withUnsafeBytes { try Tensor(shape: [2], dtype: .float32, bytes: $0) }) {
            XCTAssertEqual(($0 as? GraftError)?.kind, .shapeMismatch)
        }
        XCTAssertThrowsError(try Tensor.checkedByteCount(shape: [Int.max, 4], dtype: .float64))
        XCTAssertThrowsError(try Tensor.checkedByteCount(shape: [-1], dtype: .float32))
    }

    /// Storage on both sides of the mapping and huge-page thresholds is zeroed, page-aligned,
    /// writable, and copy-on-write copies keep their own bytes.
    func testStorageSizesAreZeroedAlignedAndCopied() {
        let sizes = [0, 1, 4096, TensorStorage.mappingThreshold - 4, TensorStorage.mappingThreshold,
                     TensorStorage.hugePageThreshold + 4]
        for byteCount in sizes {
            let storage = TensorStorage(byteCount: byteCount)
            XCTAssertEqual(Int(bitPattern: storage.pointer) % 4096, 0, "\(byteCount) bytes page-aligned")
            let bytes = UnsafeRawBufferPointer(start: storage.pointer, count: byteCount)
            XCTAssertTrue(bytes.allSatisfy { $0 == 0 }, "\(byteCount) bytes zeroed")
            guard byteCount >= 8 else { continue }
            let count = byteCount / 4
            let ramp = (0..<count).map { Float($0) }
            let a = Tensor(shape: [count], floats: ramp)
            var b = a
            b.withUnsafeMutableBytes { $0.storeBytes(of: Float(-1), toByteOffset: (count - 1) * 4, as: Float.self) }
            XCTAssertEqual(a.floats(), ramp, "\(byteCount) bytes: the original is untouched")
            XCTAssertEqual(b.floats().last, -1)
            XCTAssertEqual(Array(b.floats().dropLast()), Array(ramp.dropLast()))
        }
    }
}
