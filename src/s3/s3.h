/*
 * s3.h - the S3-compatible API of the proxy (docs/s3.md): requests under /s3 (path-style
 * addressing, /s3/<bucket>/<key>) translated to Locus's bucket and object operations, answered
 * in S3's XML. The proxy's dispatch hands such requests here whole: both handler calls.
 */
#ifndef LOCUS_S3_S3_H
#define LOCUS_S3_S3_H

#include <stdbool.h>

#include "net/net.h"

/* Whether a request belongs to the S3 API: its path is "/s3" or "/s3/...", or it is outside
 * /v1 and signed the S3 way (an AWS Authorization header, x-amz-date or x-amz-content-sha256,
 * or a presigned query): S3 at the root, for clients that cannot add a path to their endpoint
 * (AIStore's S3-API-via-Root, always on here since such a path is no native endpoint). */
bool s3_is_request(http_req_t *req);
/* The two handler calls of net.h for an S3 request: on_headers decides the body's fate (a PUT's
 * body is spooled, bounded), on_request answers (it blocks: never marked fast). on_request
 * must only be called for a request whose on_headers was s3_on_headers (s3_owns). */
void s3_on_headers(http_req_t *req);
void s3_on_request(http_req_t *req);
/* Loads the S3 access keys (s3_keys_file, NULL: none) that SigV4 signatures are checked with
 * while auth is on. 0, or -1 with err (unreadable, readable by others, malformed). Call once at
 * start, before any request. */
int s3_init(const char *keys_file, char *err, size_t errlen);
/* Whether s3_on_headers took req. */
bool s3_owns(const http_req_t *req);

#endif
