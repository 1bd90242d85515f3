/*
 * hrw.c - highest-random-weight placement, bit-for-bit AIStore's (see hrw.h).
 *
 * Sources: core/meta/hrw.go (HrwName2T: digest = xxhash.Checksum64S(uname, cos.MLCG32),
 * weight = xoshiro256.Hash(tsi.digest() ^ digest)), cmn/xoshiro256/xoshiro.go and the SDK
 * mirror python/aistore/sdk/utils.py (xoshiro256_hash, get_digest).
 *
 * NOTE: Go iterates the target map in random order and keeps the last node with
 * `cs >= maxH`, so ties are not deterministic there; a tie needs two identical 64-bit
 * weights, which does not happen in practice. We keep the first one in the given order.
 */
#include "common/hrw.h"

#include <string.h>
#include <xxhash.h>

uint64_t hrw_digest(const void *p, size_t n)
{
    return (uint64_t)XXH64(p, n, HRW_SEED);
}

uint64_t hrw_digest_str(const char *s)
{
    return hrw_digest(s, strlen(s));
}

/* http://xoshiro.di.unimi.it/splitmix64.c */
static uint64_t splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Go: s0 := splitmix64(seed); s1 := splitmix64(s0); return bits.RotateLeft64(s1*5, 7) * 9
 * (the xoshiro256** output scrambler applied to the second splitmix64 word). */
uint64_t hrw_xoshiro256(uint64_t x)
{
    uint64_t s0 = splitmix64(x);
    uint64_t s1 = splitmix64(s0);
    return rotl64(s1 * 5, 7) * 9;
}

int hrw_select(const uint64_t *node_digests, size_t n, uint64_t uname_digest)
{
    if (n == 0)
        return -1;
    int best = 0;
    uint64_t best_w = hrw_xoshiro256(node_digests[0] ^ uname_digest);
    for (size_t i = 1; i < n; i++) {
        uint64_t w = hrw_xoshiro256(node_digests[i] ^ uname_digest);
        if (w > best_w) {
            best_w = w;
            best = (int)i;
        }
    }
    return best;
}

void hrw_rank(const uint64_t *node_digests, size_t n, uint64_t uname_digest, size_t *idx)
{
    if (n == 0)
        return;
    uint64_t w[n];
    for (size_t i = 0; i < n; i++) {
        w[i] = hrw_xoshiro256(node_digests[i] ^ uname_digest);
        idx[i] = i;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort by weight, descending: n is small */
        for (size_t k = i; k > 0 && w[idx[k - 1]] < w[idx[k]]; k--) {
            size_t t = idx[k];
            idx[k] = idx[k - 1];
            idx[k - 1] = t;
        }
}
