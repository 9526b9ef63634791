#ifndef GRAFT_CSHA256_H
#define GRAFT_CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// SHA-256's compression function (FIPS 180-4, section 6.2.2) over `blocks` consecutive
/// 64-byte blocks at `data`, updating the eight-word hash `state` in place. In C so that
/// hashing a model file runs at a usable speed in debug builds too (the Swift version ran
/// at about 1 MB/s unoptimised). Uses the CPU's SHA extensions when present.
/// Padding and the digest stay in GraftCore's SHA256.swift.
void graft_sha256_compress(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
