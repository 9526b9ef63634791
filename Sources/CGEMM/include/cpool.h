#ifndef GRAFT_CPOOL_H
#define GRAFT_CPOOL_H

/// A persistent pool of worker threads for the runtime's short parallel sections (a GEMM
/// split over 2 threads lasts ~100 µs: waking sleeping threads per call costs a noticeable
/// part of that). After a job, workers spin briefly (20 µs) waiting for the next one, then
/// sleep on a futex. The caller does not run a part itself: it spins as briefly, then
/// sleeps until the last part is done. (On a loaded machine the scheduler tends to queue a
/// woken thread on its waker's CPU; a caller busy with part 0 there delayed the other part,
/// measured 2× slower than a caller that sleeps.)

typedef void (*graft_pool_body)(void *context, long part);

/// Runs body(context, part) for part in 0..<parts, each on its pool thread (created on first
/// use), and returns 1 when all have returned.
/// Returns 0 without running anything when the pool is in use (another caller, or a body
/// calling it again) or a thread could not be created: the caller then runs the parts
/// another way. Bodies must not block on each other.
int graft_pool_run(long parts, graft_pool_body body, void *context);

#endif
