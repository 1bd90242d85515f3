/*
 * internal.h - net internals shared by the files of src/net only: the libcurl request set-up
 * common to the one-shot client (http_client.c) and the fan-out (fanout.c), and the server's
 * count of suspended connections that streamed responses (http_stream.c) keep.
 */
#ifndef LOCUS_NET_INTERNAL_H
#define LOCUS_NET_INTERNAL_H

#include <curl/curl.h>

#include "net/net.h"

/* The body of a request as the signer sees it (httpc_set_signer): bytes, or fd >= 0 and its
 * size, or nothing. */
typedef struct {
    const void *p;
    size_t len;
    int fd;
    int64_t fd_off;
    int64_t fd_size;
} httpc_body_t;

/* Sets on h everything of one request but its body: method, url, headers (no Expect:
 * 100-continue, docs/design.md §13.5; ctype adds a Content-Type when not NULL; the signer's
 * headers for body), answer into r, no redirects followed, timeouts (timeout_ms 0 = none).
 * Returns the header list, to free with curl_slist_free_all once the transfer is over. */
struct curl_slist *httpc_prepare(CURL *h, const char *method, const char *url, const char *ctype,
                                 const httpc_header_t *hdrs, const httpc_body_t *body,
                                 int timeout_ms, httpc_resp_t *r);

/* The signer's header lines ("Name: value", malloc'd, NULL-terminated array; NULL when no
 * signer is set) for a request with an in-memory body (NULL: none) (http_lite.c). */
char **httpc_sign_lines(const char *method, const char *url, const void *body, size_t len);
/* Whether the comma-separated header value v[0..n) holds token (case-insensitive): Connection,
 * Upgrade (http_lite.c, ws_client.c). */
bool http_has_token(const char *v, size_t n, const char *token);
/* Closes this thread's http_lite connections (httpc_thread_cleanup calls it). */
void httpc_lite_thread_cleanup(void);

/* A content reader of a streamed response (http_stream.c) is about to suspend its connection
 * until the producer has data: counted so that the server does not stop under it. false when
 * the server is stopping (then the stream must end instead). */
bool http_server_park(http_server_t *s);
/* The producer resumed a parked connection. */
void http_server_unpark(http_server_t *s);

#endif
