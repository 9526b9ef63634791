import CSHA256
import Foundation

/// SHA-256 as specified in FIPS 180-4, for file and tensor fingerprints in freeze manifests.
/// Incremental: `update` any number of times, then `finalize`.
public struct SHA256: Sendable {
    private var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    public init() { buffer.reserveCapacity(64) }

    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for byte in bytes {
            buffer.append(byte)
            if buffer.count == 64 {
                compressBuffer()
                buffer.removeAll(keepingCapacity: true)
            }
        }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        // Fill a partial block first, then compress whole blocks straight from the input.
        while i < bytes.count && !buffer.isEmpty {
            buffer.append(bytes[i]); i += 1
            if buffer.count == 64 { compressBuffer(); buffer.removeAll(keepingCapacity: true) }
        }
        let whole = (bytes.count - i) / 64
        if whole > 0, let base = bytes.baseAddress {
            compress(base + i, blocks: whole); i += 64 * whole
        }
        while i < bytes.count { buffer.append(bytes[i]); i += 1 }
    }

    /// The 32-byte digest. The hasher should not be used afterwards.
    public mutating func finalize() -> [UInt8] {
        let bitLength = (length &+ UInt64(buffer.count)) &* 8
        buffer.append(0x80)
        while buffer.count % 64 != 56 { buffer.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        let blocks = buffer
        buffer.removeAll()
        blocks.withUnsafeBytes { raw in
            if let base = raw.baseAddress { compress(base, blocks: raw.count / 64, counted: false) }
        }
        return h.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(24 - 8 * $0)) } }
    }

    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hexString(hasher.finalize())
    }

    /// The digest of raw memory as 64 lowercase hex digits.
    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return hexString(hasher.finalize())
    }

    /// The digest of a file's contents as hex, read in 1 MiB chunks.
    public static func hex(fileAt path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw GraftError(.io, "cannot open file", file: path) }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch { throw error.graftError(file: path) }
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { hasher.update($0) }
        }
        return hexString(hasher.finalize())
    }

    /// A digest as lowercase hex.
    public static func hexString(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
    }

    private mutating func compressBuffer() {
        let block = buffer
        block.withUnsafeBytes { raw in if let base = raw.baseAddress { compress(base, blocks: 1) } }
    }

    /// `blocks` whole 64-byte blocks at `base` (FIPS 180-4 §6.2.2, in C: see csha256.h).
    private mutating func compress(_ base: UnsafeRawPointer, blocks: Int, counted: Bool = true) {
        if counted { length &+= 64 &* UInt64(blocks) }
        h.withUnsafeMutableBufferPointer { state in
            graft_sha256_compress(state.baseAddress, base.assumingMemoryBound(to: UInt8.self), blocks)
        }
    }
}
