import Dispatch
import XCTest
@testable import GraftRuntime

/// `ParallelWork.parts` on CGEMM's persistent worker pool: every part runs exactly once per
/// call over many back-to-back calls (the pool's epochs), nested calls (the pool busy: the
/// Dispatch fallback) and calls from several threads at once.
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
