#ifndef GRAFT_SHA256_H
#define GRAFT_SHA256_H
#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU has the SHA extensions (x86-64 SHA-NI with SSSE3 and SSE4.1), else 0.
int graft_sha256_hw_available(void);

/// Runs the SHA-256 compression function over `blocks` 64-byte blocks at `data`, updating
/// `state` (H0…H7, host order). Only call when graft_sha256_hw_available() returned 1.
void graft_sha256_hw_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
