import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Large blocks behind a forward pass' intermediate values (`TensorStorage(uninitializedHeapByteCount:)`
/// of `minimumBytes` and more), kept when their storage is released and handed out again. The
/// C allocator maps blocks this large afresh on every allocation and unmaps them on release, so
/// each forward pass of a large model paid the kernel's page faults and zero fill again for
/// every such value (VGG16 at batch 32: 411 MB for the first convolution's output alone;
/// measured ~8 % of a 1-thread forward pass). A request takes the smallest kept block that holds
/// it and is at least a quarter of it; at most `maximumKept` blocks are kept (the oldest are
/// unmapped first), so the memory held between passes stays about that of the largest values
/// alive at once. `TensorStorage.releaseReusableBlocks()` gives them all back.
enum ReusableBlocks {
    /// glibc's largest mmap threshold: smaller blocks come back from its heap anyway.
    static let minimumBytes = 32 << 20
    static let maximumKept = 4

    private static let lock = NSLock()
    nonisolated(unsafe) private static var kept: [(pointer: UnsafeMutableRawPointer, length: Int)] = []

    /// A block of at least `byteCount` bytes, page-aligned and not initialised: a kept one, or a
    /// fresh anonymous mapping; nil when the system has no memory for one.
    static func take(_ byteCount: Int) -> (pointer: UnsafeMutableRawPointer, length: Int)? {
        lock.lock()
        var best: Int?
        for (i, block) in kept.enumerated() where block.length >= byteCount && byteCount >= block.length / 4 {
            if best.map({ block.length < kept[$0].length }) ?? true { best = i }
        }
        let reused = best.map { kept.remove(at: $0) }
        lock.unlock()
        if let reused { return reused }
        guard let mapped = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != MAP_FAILED else { return nil }
        #if os(Linux)
        _ = madvise(mapped, byteCount, MADV_HUGEPAGE)
        #endif
        return (mapped, byteCount)
    }

    /// Keeps a block `take` handed out, unmapping the oldest kept ones past `maximumKept`.
    static func give(_ pointer: UnsafeMutableRawPointer, length: Int) {
        lock.lock()
        kept.append((pointer, length))
        let evicted = kept.count > maximumKept ? Array(kept.prefix(kept.count - maximumKept)) : []
        kept.removeFirst(evicted.count)
        lock.unlock()
        for block in evicted { munmap(block.pointer, block.length) }
    }

    /// Unmaps every kept block.
    static func releaseAll() {
        lock.lock()
        let all = kept
        kept = []
        lock.unlock()
        for block in all { munmap(block.pointer, block.length) }
    }
}
