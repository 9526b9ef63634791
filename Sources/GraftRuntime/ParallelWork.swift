import CGEMM
import COpenBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Kernels that split their own work over threads (the convolutions, pooling) rather than
/// leaving it to a multithreaded GEMM: OpenBLAS' threads pay a synchronisation per call that
/// small GEMMs (a small CNN's layers) do not cover, and two threads were measured slower than
/// one there. Items are independent pieces of one kernel call (blocks of output rows, lines of
/// a pooled image), handed out one at a time to whichever worker is free (on a machine shared
/// with other work, a fixed split would wait for the slowest thread).
enum ParallelWork {
    /// The number of threads the runtime computes on: `Runtime.setThreadCount`'s value
    /// (OpenBLAS' setting).
    static var threadCount: Int { max(1, Int(openblas_get_num_threads())) }

    /// Runs `body(worker, next)` on up to `threads` threads (at most one per item); each body
    /// takes items of `0..<count` with `next()` until it returns nil, and every item is taken
    /// exactly once. `worker` (0..<threads) lets a body keep per-worker scratch. With more than
    /// one worker, OpenBLAS is held to one thread while the bodies run (their GEMMs are
    /// single-threaded: the parallelism is here) and its thread count is restored after.
    /// Bodies must not throw and must write disjoint memory.
    static func forEachItem(_ count: Int, threads: Int, _ body: (_ worker: Int, _ next: () -> Int?) -> Void) {
        guard count > 0 else { return }
        let workers = max(1, min(threads, count))
        if workers == 1 {
            var item = 0
            body(0) {
                guard item < count else { return nil }
                defer { item += 1 }
                return item
            }
            return
        }
        let counter = ItemCounter(count: count)
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        // Each part is one worker's share: its index is the worker slot of its scratch (the
        // pool may run two parts one after the other on one thread, never one part on two).
        parts(workers) { w in body(w) { counter.take() } }
    }

    /// Runs `body(part)` for every part of `0..<parts` on the calling thread and CGEMM's
    /// persistent worker pool (`cpool.h`: workers spin briefly between jobs, so the many short
    /// parallel sections of a forward pass mostly do not pay thread wake-ups; the threads take
    /// the parts in order as they come free), or on Dispatch when the pool is in use (a nested
    /// or concurrent call). Returns when every part has. Bodies must write disjoint memory and
    /// not wait on each other.
    static func parts(_ parts: Int, _ body: (_ part: Int) -> Void) {
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = PartsJob(call: body)
            let done = withUnsafeMutablePointer(to: &job) { pointer in
                graft_pool_run(parts, { context, part in
                    context?.assumingMemoryBound(to: PartsJob.self).pointee.call(part)
                }, pointer) != 0
            }
            if !done {
                let shared = job
                DispatchQueue.concurrentPerform(iterations: parts) { part in shared.call(part) }
            }
        }
    }

    /// The body of `parts` as the pool's workers see it.
    private struct PartsJob: @unchecked Sendable {
        let call: (Int) -> Void
    }

    /// The next item to hand out, under a mutex.
    private final class ItemCounter: @unchecked Sendable {
        private let count: Int
        private var next = 0
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>

        init(count: Int) {
            self.count = count
            mutex = .allocate(capacity: 1)
            mutex.initialize(to: pthread_mutex_t())
            pthread_mutex_init(mutex, nil)
        }

        deinit {
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }

        func take() -> Int? {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            guard next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }
}
