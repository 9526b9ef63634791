import COpenBLAS
import Dispatch

/// Kernels that split their own work over threads (the convolutions, pooling) rather than
/// leaving it to a multithreaded GEMM: OpenBLAS' threads pay a synchronisation per call that
/// small GEMMs (a small CNN's layers) do not cover, and two threads were measured slower than
/// one there. Items are independent pieces of one kernel call (blocks of output rows).
enum ParallelWork {
    /// The number of threads the runtime computes on: `Runtime.setThreadCount`'s value
    /// (OpenBLAS' setting).
    static var threadCount: Int { max(1, Int(openblas_get_num_threads())) }

    /// Calls `body(worker, items)` once per worker on up to `threads` threads, each with a
    /// contiguous share of `0..<count` (shares differ by at most one item; workers without
    /// items are not called). With more than one worker, OpenBLAS is held to one thread while
    /// the bodies run (their GEMMs are single-threaded: the parallelism is here) and its
    /// thread count is restored after. Bodies must not throw and must write disjoint memory.
    static func forEachShare(of count: Int, threads: Int, _ body: (_ worker: Int, _ items: Range<Int>) -> Void) {
        let workers = max(1, min(threads, count))
        guard count > 0 else { return }
        if workers == 1 {
            body(0, 0..<count)
            return
        }
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        // concurrentPerform returns only after every iteration has, so `body` never outlives
        // this call; the workers touch disjoint memory (the callers' contract).
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedBody(call: body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                shared.call(w, share(w, of: count, workers: workers))
            }
        }
    }

    /// A work body handed to the worker threads (see `forEachShare`).
    private struct UncheckedBody: @unchecked Sendable {
        let call: (Int, Range<Int>) -> Void
    }

    /// Worker `w`'s contiguous share of `0..<count` split in `workers` parts.
    static func share(_ w: Int, of count: Int, workers: Int) -> Range<Int> {
        (w * count / workers)..<((w + 1) * count / workers)
    }
}
