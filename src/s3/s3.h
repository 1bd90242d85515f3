/*
 * s3.h - the S3-compatible API of the proxy (docs/s3.md): requests under /s3 (path-style
 * addressing, /s3/<bucket>/<key>) translated to Locus's bucket and object operations, answered
 * in S3's XML. The proxy's dispatch hands such requests here whole: both handler calls.
 */
#ifndef LOCUS_S3_S3_H
#define LOCUS_S3_S3_H

#include <stdbool.h>

#include "net/net.h"

/* Whether a decoded request path belongs to the S3 API ("/s3" or "/s3/..."). */
bool s3_is_path(const char *path);
/* The two handler calls of net.h for an S3 request: on_headers decides the body's fate (a PUT's
 * body is spooled, bounded), on_request answers (it blocks: never marked fast). */
void s3_on_headers(http_req_t *req);
void s3_on_request(http_req_t *req);

#endif
