/*
 * hrw.h - highest-random-weight placement, bit-for-bit AIStore's
 * (core/meta/hrw.go, cmn/xoshiro256/xoshiro.go, SDK python/aistore/sdk/utils.py):
 *
 *   digest(s)    = XXH64(s, seed = 1103515245)
 *   id_digest    = digest(daemon_id)            (targets), digest(mountpath) (mountpaths)
 *   weight(n, u) = xoshiro256_hash(id_digest(n) ^ digest(uname))
 *   owner(u)     = argmax_n weight(n, u)        (ties: the first in the given order)
 */
#ifndef LOCUS_COMMON_HRW_H
#define LOCUS_COMMON_HRW_H

#include <stddef.h>
#include <stdint.h>

#define HRW_SEED 1103515245ULL

uint64_t hrw_digest(const void *p, size_t n);
uint64_t hrw_digest_str(const char *s);
/* AIStore's xoshiro256.Hash: a splitmix-seeded xoshiro256** mixing step of one u64. */
uint64_t hrw_xoshiro256(uint64_t x);
/* Index of the winner among n node digests for the given uname digest; -1 if n == 0. */
int hrw_select(const uint64_t *node_digests, size_t n, uint64_t uname_digest);
/* The n nodes' indices into idx in HRW order for the uname digest: the winner of hrw_select
 * first (ties keep the index order). */
void hrw_rank(const uint64_t *node_digests, size_t n, uint64_t uname_digest, size_t *idx);

#endif
