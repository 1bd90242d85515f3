/*
 * moss.h - AIStore's GetBatch request (MossReq, "multi-object streaming service"): parsing and
 * validating the JSON body of GET /v1/ml/moss[/<bucket>] (docs/protocol.md §1.14), and the
 * names its answer gives to each entry. Shared by the proxy (which checks it before the
 * redirect) and the target that assembles the answer.
 *
 * MossReq: {"in":[MossIn...], "mime":".tar", "coer":bool, "onob":bool, "strm":bool, "coloc":N}
 * MossIn:  {"objname", "bucket", "provider", "uname", "archpath", "opaque", "start", "length"}
 */
#ifndef LOCUS_COMMON_MOSS_H
#define LOCUS_COMMON_MOSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOSS_MAX_IN 200000         /* entries of one request */
#define MOSS_MISSING_DIR "__404__" /* AIStore's MossMissingDir: where missing entries go */

typedef struct {
    char *bucket;   /* owned: the entry's or the request's bucket */
    char *objname;  /* owned */
    char *archpath; /* owned, NULL when none */
    char *opaque;   /* owned, NULL when none: echoed back as given (base64 text) */
    int64_t start;  /* AIStore's range: (0,0) all; (N,L>0) L bytes at N; (N,-1) N to the end */
    int64_t length;
} moss_in_t;

typedef struct {
    moss_in_t *in; /* owned, n entries */
    size_t n;
    char *mime; /* owned: the output format as given ("" = TAR) */
    bool coer;  /* ContinueOnErr: a missing entry becomes __404__/<name>, empty */
    bool onob;  /* OnlyObjName: members named <objname>[/<archpath>] */
    bool strm;  /* StreamingGet: the archive alone (else multipart: MossResp, then archive) */
    int coloc;
} moss_req_t;

/* Archive formats (AIStore's "mime" names): 0 TAR, 1 TGZ, 2 ZIP, 3 TAR.LZ4 (target/arch.h's
 * arch_fmt_t). "", "tar", ".tar" -> TAR; "tgz", ".tgz", "tar.gz", ".tar.gz" -> TGZ; "zip",
 * ".zip" -> ZIP; "tar.lz4", ".tar.lz4" -> TAR.LZ4. -1 when unknown. */
int moss_fmt_parse(const char *mime);
/* The format of an archive object's name by its extension, or -1. */
int moss_fmt_of_name(const char *name);

/* Parses body (len bytes, untrusted). dflt_bck: the bucket of the URL, or NULL. 0, or -1 with
 * err filled (a client mistake: answer 400). r is initialized by the call; dispose it either
 * way. */
int moss_req_parse(const char *body, size_t len, const char *dflt_bck, moss_req_t *r, char *err,
                   size_t errlen);
void moss_req_dispose(moss_req_t *r);
/* The range of an entry of size bytes: 0 with *off, *len; -1 when not satisfiable. */
int moss_in_range(const moss_in_t *in, int64_t size, int64_t *off, int64_t *len);
/* The member name of an entry in the answer: [<bucket>/]<objname>[/<archpath>], prefixed with
 * "__404__/" when missing. Caller frees. */
char *moss_name_in_arch(const moss_req_t *r, const moss_in_t *in, bool missing);

/* The framed answer of GET /v1/internal/moss (another target's entries of a GetBatch): one frame
 * per entry, "<status> <length>\n" then length bytes (the entry's bytes for 200, else the error
 * text). docs/protocol.md §1.14. */
#define MOSS_FRAME_HDR_MAX 40   /* a header line, without its '\n' */
#define MOSS_FRAME_ERR_MAX 4096 /* an error frame's text */
/* Parses a frame's header line (n bytes without its '\n'; untrusted: another node's answer):
 * its status (200, or an error 400..599) with *len, or -1 when malformed (so is an error
 * frame's text longer than MOSS_FRAME_ERR_MAX, and any other status, such as the 303 of older
 * owners that had big entries fetched alone). */
int moss_frame_hdr(const char *line, size_t n, int64_t *len);

#endif
