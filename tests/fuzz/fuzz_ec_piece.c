/*
 * fuzz_ec_piece.c - the metadata of an erasure-coded piece that another target sends (the
 * Locus-Ec header of PUT /v1/internal/ec, target/ec.c ec_piece_parse), also read back from a
 * piece file's xattr.
 *
 * Input: the header value's bytes. Properties: a parsed piece has 1 <= D, P <= 32, a slice in
 * 0..D+P and a 16-digit lower-case checksum, and formatting it and parsing that gives the same
 * piece back.
 */
#include "fuzz.h"

#include <string.h>

#include "target/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ec_piece_t pc, again;
    if (ec_piece_parse((const char *)data, size, &pc) != 0)
        return 0;
    FUZZ_CHECK(pc.d >= 1 && pc.d <= EC_MAX_SLICES && pc.p >= 1 && pc.p <= EC_MAX_SLICES,
               "slices %d+%d out of range", pc.d, pc.p);
    FUZZ_CHECK(pc.slice >= 0 && pc.slice <= pc.d + pc.p, "slice %d of %d+%d", pc.slice, pc.d, pc.p);
    FUZZ_CHECK(strlen(pc.scs) == 16 && strspn(pc.scs, "0123456789abcdef") == 16, "checksum \"%s\"",
               pc.scs);
    char t[EC_PIECE_TEXT];
    ec_piece_format(&pc, t);
    FUZZ_CHECK(ec_piece_parse(t, strlen(t), &again) == 0 && again.d == pc.d && again.p == pc.p &&
                   again.slice == pc.slice && strcmp(again.scs, pc.scs) == 0,
               "round trip changed \"%s\"", t);
    for (int i = 0; i <= pc.d + pc.p; i++)
        FUZZ_CHECK(ec_piece_len(1000003, pc.d, i) >= 0, "negative piece length");
    return 0;
}
