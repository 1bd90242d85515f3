/*
 * md5.c - the MD5 transformer: the object becomes the lowercase hex MD5 digest of its bytes
 * (32 characters, no newline), like AIStore's aistorage/transformer_md5.
 */
#include <locus/etl.h>

#include <openssl/evp.h>

static int md5(const locus_etl_input_t *in, locus_etl_output_t *out, void *ud)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (EVP_Digest(in->data, in->len, d, &dl, EVP_md5(), NULL) != 1)
        return locus_etl_set_error(out, 0, "md5 of %s failed", in->path);
    static const char hex[] = "0123456789abcdef";
    char s[2 * EVP_MAX_MD_SIZE];
    for (unsigned int i = 0; i < dl; i++) {
        s[2 * i] = hex[d[i] >> 4];
        s[2 * i + 1] = hex[d[i] & 15];
    }
    return locus_etl_set_copy(out, s, 2 * (size_t)dl);
}

int main(int argc, char **argv)
{
    return locus_etl_serve(&(locus_etl_server_t){LOCUS_ETL_API_V1, .name = "md5", .transform = md5},
                           argc, argv);
}
