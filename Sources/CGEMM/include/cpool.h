#ifndef GRAFT_CPOOL_H
#define GRAFT_CPOOL_H

/// A persistent pool of worker threads for the runtime's short parallel sections (a GEMM
/// split over 2 threads lasts ~100 µs: waking a sleeping thread per call costs a noticeable
/// part of that). After a job, workers spin for a while (about a millisecond) waiting for
/// the next one, then sleep on a futex; the caller runs part 0 itself and spins until the
/// others are done.

typedef void (*graft_pool_body)(void *context, long part);

/// Runs body(context, part) for part in 0..<parts, part 0 on the calling thread and the
/// others on pool threads (created on first use), and returns 1 when all have returned.
/// Returns 0 without running anything when the pool is in use (another caller, or a body
/// calling it again) or a thread could not be created: the caller then runs the parts
/// another way. Bodies must not block on each other.
int graft_pool_run(long parts, graft_pool_body body, void *context);

#endif
