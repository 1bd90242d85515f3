/*
 * pool.c - the data pool of locus-bench obj and etl: every object body is a slice of one buffer of
 * random bytes, starting at an offset derived from the object's name, so a body can be checked
 * without keeping a copy (see bench.h).
 */
#include <string.h>

#include "bench.h"

uint8_t *bench_pool_new(size_t max, size_t *len)
{
    *len = (max + BENCH_POOL_SLACK + 7) & ~(size_t)7;
    uint8_t *pool = xmalloc(*len);
    uint64_t x = 0x9E3779B97F4A7C15ULL ^ (uint64_t)time_now_ns();
    for (size_t i = 0; i < *len; i += 8) { /* xorshift64* */
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t v = x * 0x2545F4914F6CDD1DULL;
        memcpy(pool + i, &v, 8);
    }
    return pool;
}

uint32_t bench_pool_off(const char *name)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 1099511628211ULL;
    return (uint32_t)(h % BENCH_POOL_SLACK);
}
