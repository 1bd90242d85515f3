/*
 * hello.c - the hello-world transformer: every object becomes "Hello World!" (AIStore's
 * aistorage/transformer_hello_world).
 */
#include <locus/etl.h>

static int hello(const locus_etl_input_t *in, locus_etl_output_t *out, void *ud)
{
    static const char msg[] = "Hello World!";
    return locus_etl_set_static(out, msg, sizeof(msg) - 1);
}

int main(int argc, char **argv)
{
    return locus_etl_serve(
        &(locus_etl_server_t){LOCUS_ETL_API_V1, .name = "hello", .transform = hello}, argc, argv);
}
