/*
 * echo.c - the echo transformer: returns the object unchanged (AIStore's
 * aistorage/transformer_echo). Zero-copy: the result points into the input, which the framework
 * keeps alive (memory or the mmapped FQN file) until the response is sent.
 */
#include <locus/etl.h>

static int echo(const locus_etl_input_t *in, locus_etl_output_t *out, void *ud)
{
    return locus_etl_set_static(out, in->data, in->len);
}

int main(int argc, char **argv)
{
    return locus_etl_serve(
        &(locus_etl_server_t){LOCUS_ETL_API_V1, .name = "echo", .transform = echo}, argc, argv);
}
