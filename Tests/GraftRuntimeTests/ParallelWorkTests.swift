import Dispatch
import GraftCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import GraftRuntime

/// `ParallelWork.parts` on CGEMM's persistent worker pool: every part runs exactly once per
/// call over many back-to-back calls (the pool's epochs), nested calls (the pool busy: the
/// Dispatch fallback) and calls from several threads at once; the calling thread takes parts
/// too; `forEachItem` hands every item out once, to worker slots below its thread count.
final class ParallelWorkTests: XCTestCase {
    /// Counts per part, each slot written by its part only.
    final class Counts: @unchecked Sendable {
        var values: [Int]
        init(_ n: Int) { values = [Int](repeating: 0, count: n) }
    }

    func testEveryPartRunsOncePerCallOverManyCalls() {
        // More parts than cores (3, 5) oversubscribe a small machine: fewer calls there.
        for (parts, calls) in [(1, 100), (2, 3000), (3, 300), (5, 300), (2, 300)] {
            let counts = Counts(parts)
            for _ in 0..<calls {
                ParallelWork.parts(parts) { part in counts.values[part] += 1 }
            }
            XCTAssertEqual(counts.values, [Int](repeating: calls, count: parts), "parts \(parts)")
        }
    }

    func testNestedCallsFallBackAndStillRunEveryPart() {
        let counts = Counts(6)
        for _ in 0..<200 {
            ParallelWork.parts(2) { outer in
                ParallelWork.parts(3) { inner in counts.values[outer * 3 + inner] += 1 }
            }
        }
        XCTAssertEqual(counts.values, [Int](repeating: 200, count: 6))
    }

    func testTheCallingThreadRunsPartsToo() {
        final class Runners: @unchecked Sendable {
            var threads: [pthread_t?] = [nil, nil]
        }
        for _ in 0..<50 {
            let runners = Runners()
            ParallelWork.parts(2) { part in
                runners.threads[part] = pthread_self()
                usleep(300)  // long enough that the caller takes a part before a worker takes both
            }
            let caller = pthread_self()
            XCTAssertTrue(runners.threads.contains { $0.map { pthread_equal($0, caller) != 0 } ?? false },
                          "no part ran on the calling thread")
        }
    }

    func testForEachItemHandsOutEveryItemOnceToWorkerSlots() {
        for (count, threads) in [(1, 2), (7, 2), (100, 2), (100, 3), (5, 8)] {
            let taken = Counts(count), slots = Counts(threads)  // an out-of-range slot traps
            for _ in 0..<20 {
                ParallelWork.forEachItem(count, threads: threads) { worker, next in
                    slots.values[worker] = 1
                    while let item = next() { taken.values[item] += 1 }
                }
            }
            XCTAssertEqual(taken.values, [Int](repeating: 20, count: count), "count \(count), threads \(threads)")
            XCTAssertEqual(slots.values.firstIndex(of: 1), 0)
            XCTAssertLessThanOrEqual(slots.values.reduce(0, +), min(count, threads))
        }
    }

    func testCallsFromSeveralThreadsAtOnce() {
        let counts = Counts(4 * 2)
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            for _ in 0..<500 {
                ParallelWork.parts(2) { part in counts.values[caller * 2 + part] += 1 }
            }
        }
        XCTAssertEqual(counts.values, [Int](repeating: 500, count: 8))
    }
}

/// The float32 softmax (vector exp, rows split over threads from 32K values on) against the
/// row-by-row scalar formula with VectorMath's scalar exp, bit for bit, on 1 and 2 threads,
/// with a ragged last row.
final class SoftmaxSplitTests: XCTestCase {
    func testSoftmaxRowsSplitEqualsScalarFormula() {
        let saved = Runtime.threadCount
        defer { Runtime.setThreadCount(saved) }
        let length = 77, n = 77 * 600 + 30
        var rng = SplitMix64(seed: 3)
        let x = (0..<n).map { _ in Float(rng.uniform(-6, 6)) }
        var expected = x
        var start = 0
        while start < n {
            let count = min(length, n - start)
            var m = -Float.infinity
            for i in start..<(start + count) { m = max(m, expected[i]) }
            for i in start..<(start + count) { expected[i] = VectorMath.exp(expected[i] - m) }
            var sum: Float = 0
            for i in start..<(start + count) { sum += expected[i] }
            let inverse = 1 / sum
            for i in start..<(start + count) { expected[i] *= inverse }
            start += count
        }
        for threads in [1, 2] {
            Runtime.setThreadCount(threads)
            var y = x
            y.withUnsafeMutableBufferPointer { Activations.apply(.softmax(axis: -1), to: $0, rowLength: length) }
            XCTAssertEqual(y.map(\.bitPattern), expected.map(\.bitPattern), "threads \(threads)")
        }
    }
}
