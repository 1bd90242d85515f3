/*
 * xml.h - the XML of the S3 API: text escaping for the answers we build, and a strict parser of
 * the request bodies S3 clients send (untrusted: bounded, no DTD, only the expected elements).
 */
#ifndef LOCUS_S3_XML_H
#define LOCUS_S3_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

#define S3_XML_MAX (2u << 20) /* a request body (1000 keys of 1 KiB fit) */
#define S3_DELETE_MAX 1000    /* keys of one DeleteObjects */
#define S3_XML_TEXT_MAX 4096  /* one element's text */
#define S3_XML_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* Appends s with &, <, >, " and ' escaped. */
void s3x_esc(buf_t *b, const char *s);
/* Appends <name>escaped text</name>. */
void s3x_elem(buf_t *b, const char *name, const char *text);

/* DeleteObjects' body: <Delete>[<Quiet>true|false</Quiet>]<Object><Key>k</Key>
 * [<VersionId>..</VersionId>]</Object>...</Delete>. */
typedef struct {
    char **keys; /* owned, n of them */
    size_t n;
    bool quiet;
} s3_delete_t;

/* Parses a DeleteObjects body. 0, or -1 with err (the body is not one: the S3 MalformedXML).
 * d is filled on success; s3_delete_dispose frees it either way. */
int s3x_parse_delete(const char *p, size_t n, s3_delete_t *d, char *err, size_t errlen);
void s3_delete_dispose(s3_delete_t *d);

#define S3_PARTS_MAX 10000 /* part numbers 1..S3_PARTS_MAX */

/* CompleteMultipartUpload's body: <CompleteMultipartUpload><Part><PartNumber>n</PartNumber>
 * <ETag>"md5"</ETag>[<ChecksumCRC32>..</ChecksumCRC32>...]</Part>...</CompleteMultipartUpload>,
 * in the client's order (not checked here). */
typedef struct {
    struct {
        int num;
        char etag[33]; /* lowercase hex, unquoted */
    } * parts;         /* owned, n of them */
    size_t n;
} s3_complete_t;

/* Parses a CompleteMultipartUpload body. 0, or -1 with err (S3's MalformedXML). c is filled on
 * success; s3_complete_dispose frees it either way. */
int s3x_parse_complete(const char *p, size_t n, s3_complete_t *c, char *err, size_t errlen);
void s3_complete_dispose(s3_complete_t *c);

#endif
