/*
 * xxhash.c - the XXH64 transformer (AIStore's aistorage/transformer_hash_with_args): the object
 * becomes the XXH64 digest of its bytes as 16 lowercase hex digits. The seed is `etl_args` (a
 * decimal or 0x-prefixed unsigned 64-bit integer) when given, else $SEED_DEFAULT, else 0.
 * A malformed seed is answered with 400.
 */
#include <locus/etl.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

/* 0 and *seed, or -1 if s is not an unsigned 64-bit integer. */
static int parse_seed(const char *s, unsigned long long *seed)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    while (isspace((unsigned char)*end))
        end++;
    if (errno != 0 || *end != '\0')
        return -1;
    *seed = v;
    return 0;
}

static int xxh(const locus_etl_input_t *in, locus_etl_output_t *out, void *ud)
{
    unsigned long long seed = *(const unsigned long long *)ud;
    if (in->args[0] != '\0' && parse_seed(in->args, &seed) != 0)
        return locus_etl_set_error(out, 400, "invalid seed (etl_args) %s", in->args);
    char s[17];
    snprintf(s, sizeof(s), "%016llx", (unsigned long long)XXH64(in->data, in->len, seed));
    return locus_etl_set_copy(out, s, 16);
}

int main(int argc, char **argv)
{
    static unsigned long long seed_default = 0;
    const char *env = getenv("SEED_DEFAULT");
    if (env != NULL && *env != '\0' && parse_seed(env, &seed_default) != 0) {
        fprintf(stderr, "xxhash: invalid SEED_DEFAULT %s\n", env);
        return 2;
    }
    return locus_etl_serve(&(locus_etl_server_t){LOCUS_ETL_API_V1, .name = "xxhash",
                                                 .transform = xxh, .userdata = &seed_default},
                           argc, argv);
}
