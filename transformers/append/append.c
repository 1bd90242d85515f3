/*
 * append.c - a streaming transformer (docs/etl-framework.md, "Streaming"): copies the object
 * through in 64 KiB pieces, XOR-ing every byte with $APPEND_XOR (0..255, default 0), then
 * appends $APPEND_SUFFIX (default nothing). It never holds more than one piece of the object,
 * so it transforms objects of any size under a small memory limit; with suffixes it makes the
 * order of a pipeline's stages visible (stage a appends "a", stage b appends "b").
 */
#include <locus/etl.h>

#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char key;
    const char *suffix;
} conf_t;

static int append(const locus_etl_input_t *in, locus_etl_reader_t *r, locus_etl_output_t *out,
                  void *ud)
{
    const conf_t *c = ud;
    unsigned char buf[64 * 1024];
    long n;
    while ((n = locus_etl_read(r, buf, sizeof(buf))) > 0) {
        if (c->key)
            for (long i = 0; i < n; i++)
                buf[i] ^= c->key;
        int rc = locus_etl_write(out, buf, (size_t)n);
        if (rc != LOCUS_ETL_OK)
            return rc;
    }
    if (n < 0)
        return locus_etl_set_error(out, 0, "reading %s: %s", in->path, locus_etl_strerror((int)n));
    return c->suffix[0] ? locus_etl_write(out, c->suffix, strlen(c->suffix)) : LOCUS_ETL_OK;
}

int main(int argc, char **argv)
{
    const char *k = getenv("APPEND_XOR"), *sfx = getenv("APPEND_SUFFIX");
    conf_t c = {.key = (unsigned char)(k ? strtoul(k, NULL, 0) : 0), .suffix = sfx ? sfx : ""};
    return locus_etl_serve(&(locus_etl_server_t){LOCUS_ETL_API_V1, .name = "append",
                                                 .transform_stream = append, .userdata = &c},
                           argc, argv);
}
