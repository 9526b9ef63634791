#ifndef GRAFT_CPOOL_H
#define GRAFT_CPOOL_H

/// A persistent pool of worker threads for the runtime's short parallel sections (a GEMM
/// split over 2 threads lasts ~100 µs: waking sleeping threads per call costs a noticeable
/// part of that). After a job, workers spin up to 100 µs waiting for the next one, then
/// sleep on a futex. The caller works too: it and parts - 1 workers take the parts one at a
/// time, in order, until none is left (a worker that wakes late finds the caller has taken
/// its part), then the caller spins as briefly and sleeps until the last part is done. (A
/// caller that only waited left three threads on a 2-core machine: two workers and a
/// spinning caller; an MLP's 2-thread forward pass ran no faster than on one thread.)

typedef void (*graft_pool_body)(void *context, long part);

/// Runs body(context, part) for part in 0..<parts on the calling thread and up to parts - 1
/// pool threads (created on first use), and returns 1 when all have returned. Which thread
/// runs which part is not fixed: a body may use its part index for disjoint output or
/// scratch, never for the thread it runs on.
/// Returns 0 without running anything when the pool is in use (another caller, or a body
/// calling it again) or a thread could not be created: the caller then runs the parts
/// another way. Bodies must not block on each other.
int graft_pool_run(long parts, graft_pool_body body, void *context);

#endif
