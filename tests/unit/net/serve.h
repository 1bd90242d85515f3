/*
 * serve.h - for the net unit tests: our HTTP server on the first free loopback port from a
 * given one.
 */
#ifndef LOCUS_TESTS_NET_SERVE_H
#define LOCUS_TESTS_NET_SERVE_H

#include "net/net.h"

/* Tries ports first..first+199; *port gets the one taken. NULL when none was free. */
static inline http_server_t *serve_loopback(int first, const char *name, http_handler_cb on_headers,
                                            http_handler_cb on_request, int *port)
{
    char err[256];
    for (int p = first; p < first + 200; p++) {
        http_server_t *s =
            http_server_start("127.0.0.1", p, name, on_headers, on_request, err, sizeof(err));
        if (s) {
            *port = p;
            return s;
        }
    }
    return NULL;
}

#endif
