/*
 * target.c - the target role's REST endpoints: objects (PUT streamed to a work file, GET with
 * Range: small bodies read into the response, big ones via sendfile; HEAD, DELETE), the
 * intra-cluster listing page and job control.
 */
#include "target/target.h"
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "cluster/daemon.h"
#include "cluster/meta.h"
#include "cluster/trust.h"
#include "common/log.h"
#include "common/lso.h"
#include "common/names.h"
#include "common/util.h"
#include "etl/etl.h"
#include "target/internal.h"
#include "target/jobs.h"
#include "target/rebalance.h"
#include "xact/xact.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

typedef struct {
    char *bck;
    char *obj;
    obj_writer_t w;
    bool w_open;
    int status; /* early error decided in on_headers, answered in on_request */
    char msg[768];
    char *location;     /* early redirect */
    int64_t await_smap; /* GET/HEAD routed by a proxy with a newer map: wait for it, re-route */
    char *xin;          /* id of the job this PUT belongs to (its in-objs counters) */
    bool etl_object;    /* /v1/etl/_object/...: an ETL server's read or direct put */
    char etl_name[64];  /* the ETL of /v1/etl/_object/<etl>/... */
    trust_t who;        /* the caller (cluster/trust.h) */
    auth_digest_t *dg;  /* a node's streamed PUT: the body's digest, checked before commit */
    bool local;         /* a node's ?local=true: this target's copy only, no redirect */
    bool received;      /* a node's ?reb= PUT: an object moved here with its metadata (rin) */
    lom_md_t rin;
    char *fqn;      /* GET/HEAD: the object's FQN, looked up once in on_headers */
    bool present;   /* GET/HEAD: it was there then */
    int fd;         /* GET/HEAD: ... and opened then (-1: not open), one path walk for both */
    struct stat st; /* ... its fstat */
    bool validate;  /* the bucket's checksum.validate_warm_get */
    int copies;     /* the bucket's mirror copies (1: no mirror) */
    bool ec;        /* the bucket is erasure-coded */
    bool ec_piece;  /* PUT /v1/internal/ec: a piece arriving (pc; its object's metadata in rin) */
    ec_piece_t pc;
    enum { OP_PLAIN = 0, OP_MPT_PART, OP_APPEND, OP_FLUSH, OP_PROMOTE } op; /* objapi.c */
    char etag[33]; /* PUT with CLUSTER_HDR_MD5_ETAG: the body's MD5, kept as its custom ETag */
} tctx_t;

static void tctx_free(http_req_t *req)
{
    tctx_t *c = req->ctx;
    if (c == NULL)
        return;
    if (c->w_open)
        store_writer_abort(&c->w); /* client went away mid-body: nothing becomes visible */
    free(c->xin);
    trust_dispose(&c->who);
    auth_digest_free(c->dg);
    lom_md_dispose(&c->rin);
    free(c->bck);
    free(c->obj);
    free(c->location);
    free(c->fqn);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    req->ctx = NULL;
}

static int put_sink(http_req_t *req, const char *data, size_t n)
{
    tctx_t *c = req->ctx;
    if (c->dg)
        auth_digest_update(c->dg, data, n);
    if (store_writer_write(&c->w, data, n) < 0) {
        snprintf(c->msg, sizeof(c->msg), "write error: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void early_error(http_req_t *req, tctx_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void early_error(http_req_t *req, tctx_t *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    c->status = status;
    req->body_mode = BODY_DISCARD;
}

/* Builds the redirect Location to node url keeping the raw path and query. Caller frees. */
static char *redirect_url(http_req_t *req, const char *url)
{
    return xasprintf("%s%s%s%s", url, req->raw_path, req->raw_query[0] ? "?" : "", req->raw_query);
}

static void start_put(http_req_t *req, tctx_t *c, const char *xid);
static void md5_etag(http_req_t *req, tctx_t *c);
static bool stream_body(http_req_t *req, tctx_t *c, int rc);
static bool put_body_ok(http_req_t *req, tctx_t *c);

/* The intra-cluster flags of an object request: ?local=true (this target's copy only) and
 * ?reb=<job> (a PUT of an object moved here, its metadata in the Locus-Lom header). Only
 * nodes may send them. false when answered early. */
static bool node_flags(http_req_t *req, tctx_t *c)
{
    const char *reb = http_query(req, "reb");
    bool local = http_query_bool(req, "local");
    if (reb == NULL && !local)
        return true;
    char msg[512];
    int st = trust_require_node(&c->who, msg, sizeof(msg));
    if (st == 0 && c->who.kind != TRUST_NODE && trust_active()) {
        st = 403;
        snprintf(msg, sizeof(msg), "?local and ?reb are for storage nodes only");
    }
    if (st) {
        early_error(req, c, st, "%s", msg);
        return false;
    }
    c->local = true;
    if (reb && strcmp(req->method, "PUT") == 0) {
        if (reb_lom_parse(http_header(req, REB_HDR_LOM), &c->rin) < 0) {
            early_error(req, c, 400, "a moved object needs valid %s metadata", REB_HDR_LOM);
            return false;
        }
        c->received = true;
    }
    return true;
}

/* A PUT of a multipart upload's part (?uploadId=&partNumber=) or an append (?append_type=):
 * true when it is one (its body streams to its writer, or it was answered early). */
static bool objapi_put_headers(http_req_t *req, tctx_t *c)
{
    const char *uid = http_query(req, "uploadId");
    const char *at = http_query(req, "append_type");
    if (uid) {
        c->op = OP_MPT_PART;
        char msg[512];
        int st = mpt_part_open(&c->w, c->bck, c->obj, uid, http_query(req, "partNumber"), msg,
                               sizeof(msg));
        if (st)
            early_error(req, c, st, "%s", msg);
        else if (stream_body(req, c, 0))
            md5_etag(req, c);
    } else if (at && strcmp(at, "append") == 0) {
        c->op = OP_APPEND;
        start_put(req, c, NULL);
    } else if (at && strcmp(at, "flush") == 0) {
        c->op = OP_FLUSH;
        req->body_mode = BODY_DISCARD;
    } else if (at) {
        early_error(req, c, 400, "invalid append_type \"%.32s\" (expecting append or flush)", at);
    }
    return uid || at;
}

static void set_redirect(http_req_t *req, tctx_t *c, const snode_t *owner)
{
    c->location = redirect_url(req, owner->url);
    req->body_mode = BODY_DISCARD;
    char *sfx = c->who.kind == TRUST_USER ? trust_redirect_suffix(req->method, c->location) : NULL;
    if (sfx) { /* the client drops its token on the way, as from a proxy */
        char *l = xasprintf("%s%s", c->location, sfx);
        free(c->location);
        free(sfx);
        c->location = l;
    }
}

/* A GET or HEAD that a proxy routed here by a newer map than this target's (smap_ver of its
 * redirect): the owner this target sees may be a node the proxy already knows is down, so the
 * request waits for the new map (object_request) rather than follow the old one. The version
 * it waits for, or 0. */
static int64_t newer_smap(http_req_t *req, const smap_t *s)
{
    const char *v = http_query(req, "smap_ver");
    if (v == NULL || (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0))
        return 0;
    char *end;
    long long ver = strtoll(v, &end, 10);
    return *end == '\0' && end != v && ver > s->version ? ver : 0;
}

/* After the wait of newer_smap: the owner by the map installed now (the old one if the push
 * did not come in time). false when answered with a redirect. */
static bool await_smap(http_req_t *req, tctx_t *c)
{
    enum { SMAP_WAIT_MS = 2000 };
    bool came = smap_wait_version(c->await_smap, SMAP_WAIT_MS);
    smap_t *s = smap_get();
    if (!came)
        LOCUS_LOG(LOG_WARNING, "%s: cluster map v%lld did not arrive in %d ms: routing by v%lld",
                  cluster_self_name(), (long long)c->await_smap, (int)SMAP_WAIT_MS,
                  (long long)s->version);
    const snode_t *owner = smap_owner(s, c->bck, c->obj);
    if (owner && strcmp(owner->id, cluster_self_id()) != 0)
        set_redirect(req, c, owner);
    smap_put(s);
    if (c->location == NULL)
        return true;
    http_reply_redirect(req, 307, c->location);
    return false;
}

static void object_headers(http_req_t *req, tctx_t *c, const char **segs, int nseg)
{
    if (nseg < 3 || segs[2][0] == '\0') {
        early_error(req, c, 400, "object name is missing in \"%s\"", req->path);
        return;
    }
    const char *why = name_check_bucket(segs[1]);
    if (why) {
        early_error(req, c, 400, "bucket name \"%s\" is invalid: %s", segs[1], why);
        return;
    }
    why = name_check_object(segs[2], strlen(segs[2]));
    if (why) {
        early_error(req, c, 400, "object name \"%s\" is invalid: %s", segs[2], why);
        return;
    }
    const char *prov = http_query(req, "provider");
    if (prov && prov[0] && strcmp(prov, "ais") != 0) {
        early_error(req, c, 400, "provider \"%s\" is not supported (only ais)", prov);
        return;
    }
    if (trust_active()) {
        char msg[512];
        int st = trust_require_object(&c->who, req, segs[1], msg, sizeof(msg));
        if (st) {
            early_error(req, c, st, "%s", msg);
            return;
        }
    }
    c->bck = xstrdup(segs[1]);
    c->obj = xstrdup(segs[2]);
    if (!cluster_ready()) { /* joining: the map may already name it, its metadata may lag */
        early_error(req, c, 503, "%s is joining the cluster", cluster_self_name());
        return;
    }
    bmd_t *b = bmd_get();
    json_t *be = bmd_bucket(b, c->bck);
    json_t *cks = json_object_get(json_object_get(be, "props"), "checksum");
    c->validate = json_is_true(json_object_get(cks, "validate_warm_get"));
    c->copies = mirror_copies_props(json_object_get(be, "props"));
    ec_conf_t ec;
    c->ec = ec_conf_props(json_object_get(be, "props"), &ec);
    bmd_put(b);
    if (be == NULL) {
        early_error(req, c, 404, "bucket \"ais://%s\" does not exist", c->bck);
        return;
    }
    if (!node_flags(req, c))
        return;
    smap_t *s = smap_get();
    const snode_t *owner = smap_owner(s, c->bck, c->obj);
    if (owner && strcmp(owner->id, cluster_self_id()) != 0 && !c->local) {
        c->await_smap = newer_smap(req, s);
        if (c->await_smap == 0)
            set_redirect(req, c, owner);
    }
    smap_put(s);
    if (c->location || strcmp(req->method, "PUT") != 0)
        return;
    if (http_query(req, "object_to")) {
        req->body_mode = BODY_DISCARD; /* copy/transform of a stored object: no body */
        return;
    }
    if (!c->local && objapi_put_headers(req, c))
        return;
    const char *xid = http_query(req, "xid");
    start_put(req, c, xid ? xid : http_query(req, "reb"));
}

/* The request body goes to the writer c->w that rc says opened (a node's body is hashed on the
 * way to check its signature); false when it did not (the error is answered later). */
static bool stream_body(http_req_t *req, tctx_t *c, int rc)
{
    if (rc < 0) {
        c->status = rc == -EINVAL ? 400 : 500;
        req->body_mode = BODY_DISCARD;
        return false;
    }
    c->w_open = true;
    req->body_mode = BODY_STREAM;
    req->on_body = put_sink;
    if (c->who.kind == TRUST_NODE && c->who.digest[0])
        c->dg = auth_digest_new(c->who.digest); /* valid: the signature was checked */
    return true;
}

/* The body's MD5 that the proxy's S3 API sent (CLUSTER_HDR_MD5_ETAG) into c->etag. */
static void md5_etag(http_req_t *req, tctx_t *c)
{
    const char *md5 = http_header(req, CLUSTER_HDR_MD5_ETAG);
    if (md5 && strlen(md5) == 32 && strspn(md5, "0123456789abcdef") == 32)
        memcpy(c->etag, md5, 33);
}

/* Streams the request body into a work file of c->bck/c->obj; xid: the job to count it in. */
static void start_put(http_req_t *req, tctx_t *c, const char *xid)
{
    if (!stream_body(req, c, store_writer_open(&c->w, c->bck, c->obj, c->msg, sizeof(c->msg))))
        return;
    if (xid)
        c->xin = xstrdup(xid);
    md5_etag(req, c);
}

/* PUT /v1/internal/ec?bck=&obj= from another target: an erasure-coded piece (its "D,P,slice,
 * xxhash" in Locus-Ec, its object's metadata in Locus-Lom), streamed to a work file. */
static void piece_headers(http_req_t *req, tctx_t *c)
{
    char msg[512];
    int st = trust_require_node(&c->who, msg, sizeof(msg));
    if (st) {
        early_error(req, c, st, "%s", msg);
        return;
    }
    const char *bck = http_query(req, "bck"), *obj = http_query(req, "obj");
    const char *why = bck && obj ? name_check(bck, obj) : "bck and obj are required";
    if (why) {
        early_error(req, c, 400, "EC piece: %s", why);
        return;
    }
    const char *h = http_header(req, EC_HDR_PIECE);
    if (reb_lom_parse(http_header(req, REB_HDR_LOM), &c->rin) < 0 || h == NULL ||
        ec_piece_parse(h, strlen(h), &c->pc) < 0) {
        early_error(req, c, 400, "an EC piece needs valid %s and %s headers", REB_HDR_LOM,
                    EC_HDR_PIECE);
        return;
    }
    int64_t want = ec_piece_len(c->rin.size, c->pc.d, c->pc.slice);
    if (req->content_length >= 0 && req->content_length != want) {
        early_error(req, c, 400, "EC piece %d of %lld bytes: expected %lld", c->pc.slice,
                    (long long)req->content_length, (long long)want);
        return;
    }
    c->bck = xstrdup(bck);
    c->obj = xstrdup(obj);
    stream_body(req, c, ec_piece_open(&c->w, bck, obj, c->msg, sizeof(c->msg)));
}

static void piece_put(http_req_t *req, tctx_t *c)
{
    if (c->status) {
        http_reply_error(req, (unsigned)c->status, "%s", c->msg);
        return;
    }
    if (!put_body_ok(req, c))
        return;
    c->w_open = false;
    int st = ec_piece_commit(&c->w, &c->rin, &c->pc, c->msg, sizeof(c->msg));
    if (st)
        http_reply_error(req, (unsigned)st, "%s", c->msg);
    else
        http_reply(req, 200, NULL, "", 0);
}

/* /v1/etl/_object/<etl>/<secret>/<uname>: an ETL server reads an object (GET/HEAD, hpull) or
 * delivers a result (PUT, direct put; ?uuid= names the job). */
static void etl_object_headers(http_req_t *req, tctx_t *c, const char **segs, int nseg)
{
    if (nseg < 5 || segs[4][0] == '\0') {
        early_error(req, c, 400, "invalid ETL object path \"%s\"", req->path);
        return;
    }
    int st = etl_check_secret(segs[2], segs[3], c->msg, sizeof(c->msg));
    if (st) {
        c->status = st;
        req->body_mode = BODY_DISCARD;
        return;
    }
    char *bck = NULL, *obj = NULL;
    if (uname_parse(segs[4], &bck, &obj) < 0 || obj[0] == '\0' ||
        name_check_object(obj, strlen(obj)) != NULL) {
        early_error(req, c, 400, "invalid object \"%s\" in ETL object path", segs[4]);
        free(bck);
        free(obj);
        return;
    }
    c->bck = bck;
    c->obj = obj;
    snprintf(c->etl_name, sizeof(c->etl_name), "%s", segs[2]);
    bmd_t *b = bmd_get();
    json_t *be = bmd_bucket(b, c->bck);
    ec_conf_t ec;
    c->ec = ec_conf_props(json_object_get(be, "props"), &ec);
    bmd_put(b);
    if (be == NULL) {
        early_error(req, c, 404, "bucket \"ais://%s\" does not exist", c->bck);
        return;
    }
    if (strcmp(req->method, "PUT") == 0)
        start_put(req, c, http_query(req, "uuid"));
}

/* An object request runs on the I/O thread (net.h) unless it transforms or copies: answering
 * from a stored file or committing a PUT never waits for anyone, except a commit with fsync,
 * which waits for the disk, and a GET of an object that is not here (get from neighbor) or a
 * DELETE (of every copy), which wait for other targets. A GET or HEAD looks up the object's
 * FQN here, once for the whole request. */
/* A GET into an archive (docs/design.md §16): ?archpath= or ?archregx=. */
static bool arch_query(http_req_t *req)
{
    return http_query(req, "archpath") || http_query(req, "archregx");
}

static bool object_fast(http_req_t *req, tctx_t *c)
{
    const char *m = req->method;
    if (c->status || c->location)
        return true;
    if (c->await_smap)
        return false; /* waits on a worker */
    /* the object API's requests copy files, or wait for other targets (promote) */
    if (c->op == OP_APPEND || c->op == OP_FLUSH || c->op == OP_PROMOTE || strcmp(m, "POST") == 0 ||
        strcmp(m, "PATCH") == 0 || (strcmp(m, "DELETE") == 0 && http_query(req, "uploadId")))
        return false;
    if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) && c->bck) {
        c->fqn = store_fqn(c->bck, c->obj);
        c->fd = c->fqn ? store_open_file(c->fqn, &c->st) : -1;
        c->present = c->fd >= 0;
        if (!c->present && !c->local)
            return false;
    }
    if (strcmp(m, "DELETE") == 0 && !c->local)
        return false;
    if (strcmp(m, "GET") == 0) /* validate_warm_get reads the whole object first */
        return http_query(req, "etl_name") == NULL && !c->validate && !arch_query(req);
    if (strcmp(m, "PUT") == 0) /* an EC commit sends the pieces to other targets */
        return http_query(req, "object_to") == NULL && !cluster_config()->fsync && !c->ec;
    return true; /* HEAD, DELETE, or a 405 */
}

/* POST /v1/objects/<bck> (promote): from a proxy, or from an admin straight to this target. */
static void promote_headers(http_req_t *req, tctx_t *c, const char *bck)
{
    c->op = OP_PROMOTE;
    const char *why = name_check_bucket(bck);
    if (why) {
        early_error(req, c, 400, "bucket name \"%s\" is invalid: %s", bck, why);
        return;
    }
    char msg[512];
    int st = trust_require(&c->who, NULL, AUTH_ACE_ADMIN, msg, sizeof(msg));
    if (st) {
        early_error(req, c, st, "promote: %s", msg);
        return;
    }
    c->bck = xstrdup(bck);
}

void target_on_headers(http_req_t *req)
{
    tctx_t *c = xcalloc(1, sizeof(*c));
    c->fd = -1;
    req->ctx = c;
    req->ctx_free = tctx_free;
    trust_identify(req, &c->who); /* cheap without a cluster secret: one header */
    char copy[8192];
    const char *segs[3];
    int n = route_split(req->path, copy, sizeof(copy), segs, 3);
    const char *s5[5];
    if (route_split(req->path, copy, sizeof(copy), s5, 5) == 5 && strcmp(s5[0], "etl") == 0 &&
        strcmp(s5[1], "_object") == 0) {
        c->etl_object = true;
        etl_object_headers(req, c, s5, 5);
        req->fast = object_fast(req, c);
        return;
    }
    n = route_split(req->path, copy, sizeof(copy), segs, 3);
    if (n == 2 && strcmp(segs[0], "internal") == 0 && strcmp(segs[1], "ec") == 0 &&
        strcmp(req->method, "PUT") == 0) {
        c->ec_piece = true;
        piece_headers(req, c);
        return;
    }
    if (n == 2 && strcmp(segs[0], "objects") == 0 && strcmp(req->method, "POST") == 0) {
        promote_headers(req, c, segs[1]);
        req->fast = false;
        return;
    }
    if (n >= 1 && strcmp(segs[0], "objects") == 0) {
        object_headers(req, c, segs, n);
        req->fast = object_fast(req, c);
        /* A refused or redirected PUT: answer at once when the client waits for 100-continue
         * with a big body (never sent), or sends a big body anyway (not worth reading); a
         * small one is read and dropped so that the connection is kept. */
        if ((c->status || c->location) && strcmp(req->method, "PUT") == 0) {
            if (http_answer_before_body(req) || req->content_length > (int64_t)HTTP_DRAIN_MAX) {
                if (c->location)
                    http_reply_redirect(req, 307, c->location);
                else
                    http_reply_error(req, c->status, "%s", c->msg);
            }
        }
    }
}

/* The object's attributes, on GET and HEAD (AIStore's ObjAttrs.ToHeader, plus Ais-Size). */
static void add_attr_headers(struct MHD_Response *r, const lom_md_t *md)
{
    char v[64];
    MHD_add_response_header(r, "Ais-Checksum-Type", md->cs_type);
    MHD_add_response_header(r, "Ais-Checksum-Value", md->cs_val);
    snprintf(v, sizeof(v), "%lld", (long long)md->atime_ns);
    MHD_add_response_header(r, "Ais-Atime", v);
    snprintf(v, sizeof(v), "%lld", (long long)md->version);
    MHD_add_response_header(r, "Ais-Version", v);
    snprintf(v, sizeof(v), "%lld", (long long)md->size);
    MHD_add_response_header(r, "Ais-Size", v);
    char *custom = lom_md_custom_header(md);
    if (custom) {
        MHD_add_response_header(r, "Ais-Custom-Md", custom);
        free(custom);
    }
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
}

/* HEAD's object properties besides the attributes: name, bucket, where it is, its copies. */
static void add_props_headers(struct MHD_Response *r, const char *bck, const char *obj,
                              const char *known_fqn, int mirror)
{
    char v[64];
    MHD_add_response_header(r, "Ais-Name", obj);
    MHD_add_response_header(r, "Ais-Bucket-Name", bck);
    MHD_add_response_header(r, "Ais-Bucket-Provider", "ais");
    char *fqn = known_fqn ? xstrdup(known_fqn) : store_fqn(bck, obj);
    size_t mp_len = strlen(fqn) - strlen(obj) - strlen(bck) - strlen("/@ais//%ob/");
    char *loc = xasprintf("%s:%.*s", cluster_self_name(), (int)mp_len, fqn);
    MHD_add_response_header(r, "Ais-Location", loc);
    buf_t paths;
    buf_init(&paths);
    buf_printf(&paths, "[%.*s", (int)mp_len, fqn);
    int copies = 1 + (mirror > 1 ? mirror_present(bck, obj, &paths) : 0);
    buf_puts(&paths, "]");
    snprintf(v, sizeof(v), "%d", copies);
    MHD_add_response_header(r, "Ais-Mirror-Paths", paths.base);
    MHD_add_response_header(r, "Ais-Mirror-Copies", v);
    MHD_add_response_header(r, "Ais-Present", "true");
    buf_dispose(&paths);
    free(loc);
    free(fqn);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    return MHD_CONTENT_READER_END_OF_STREAM;
}

/* Reads len bytes at off; true when all of them came. */
static bool pread_all(int fd, char *buf, size_t len, off_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

/* The body of a GET; takes fd. A small body is read here so that MHD sends headers and body
 * with one sendmsg; a big one goes out with sendfile after the headers (see
 * docs/benchmarks.md, "GET path: 4 KiB"). */
static struct MHD_Response *body_response(int fd, int64_t off, int64_t len)
{
    if (len == 0) {
        close(fd);
        return MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    }
    if (len <= TARGET_SMALL_GET_MAX) {
        char *buf = xmalloc((size_t)len);
        if (pread_all(fd, buf, (size_t)len, (off_t)off)) {
            close(fd);
            return MHD_create_response_from_buffer((size_t)len, buf, MHD_RESPMEM_MUST_FREE);
        }
        free(buf); /* a read error: let sendfile meet it as it did before */
    }
    /* MHD owns fd from here and sends it with sendfile. */
    return MHD_create_response_from_fd_at_offset64((uint64_t)len, fd, (uint64_t)off);
}

/* Restores the object's main replica from a good mirror copy on another mountpath. */
static bool repair_main(tctx_t *c)
{
    char *fqn = c->fqn ? NULL : store_fqn(c->bck, c->obj);
    bool ok = mirror_repair(c->bck, c->obj, c->fqn ? c->fqn : fqn) == 0;
    free(fqn);
    return ok;
}

/* The owner of an object it does not have asks the other targets (get from neighbor,
 * docs/design.md §14) unless the request is ?local. false when answered (503: it may be on a
 * target that is down). A miss stays a miss: the caller answers 404. */
static bool fetch_if_missing(http_req_t *req, tctx_t *c)
{
    if (c->local || (c->fqn ? c->present : store_exists(c->bck, c->obj)))
        return true;
    if (repair_main(c)) /* a mirror copy is here */
        return true;
    char err[1024], eerr[1024];
    int st = reb_gfn(c->bck, c->obj, err, sizeof(err));
    if (st && c->ec) { /* not anywhere whole: rebuilt from its erasure-coded pieces */
        int est = ec_restore(c->bck, c->obj, eerr, sizeof(eerr));
        if (est == 0 || (est != 404 && st == 404)) {
            st = est;
            memcpy(err, eerr, sizeof(err));
        }
    }
    if (st == 0 || st == 404)
        return true;
    http_reply_error(req, (unsigned)st, "%s", err);
    return false;
}

/* validate_warm_get: whether the stored bytes still have their checksum (a mismatch is never
 * served: repaired from a mirror copy, or answered 500). */
static bool checksum_ok(tctx_t *c, int fd, const lom_md_t *md)
{
    char cs[17];
    if (strcmp(md->cs_type, "xxhash") != 0 ||
        (store_checksum(fd, md->size, cs) == 0 && strcmp(cs, md->cs_val) == 0))
        return true;
    LOCUS_LOG(LOG_WARNING, "%s: ais://%s/%s: bad checksum (stored %s, read %s)",
              cluster_self_name(), c->bck, c->obj, md->cs_val, cs);
    return false;
}

static void object_get(http_req_t *req, tctx_t *c, bool head)
{
    if (!fetch_if_missing(req, c))
        return;
    int fd = c->fd, rc = 0;
    lom_md_t md;
    c->fd = -1; /* the response owns it from here */
    if (fd >= 0)
        store_md_of(fd, &c->st, &md);
    else
        rc = c->fqn ? store_open_fqn(c->fqn, c->bck, c->obj, &fd, &md)
                    : store_open(c->bck, c->obj, &fd, &md);
    if (rc == -ENOENT) {
        http_reply_error(req, 404, "%s: ais://%s/%s does not exist", cluster_self_name(), c->bck,
                         c->obj);
        return;
    }
    if (rc < 0) {
        http_reply_error(req, 500, "cannot open ais://%s/%s: %s", c->bck, c->obj, strerror(-rc));
        return;
    }
    if (!head && c->validate && !checksum_ok(c, fd, &md)) {
        close(fd);
        /* a mirror copy may still be good: it replaces the damaged main replica; else its
         * erasure-coded pieces rebuild it */
        char eerr[768];
        bool fixed =
            repair_main(c) || (c->ec && ec_repair(c->bck, c->obj, &md, eerr, sizeof(eerr)) == 0);
        lom_md_dispose(&md);
        rc = fixed ? store_open(c->bck, c->obj, &fd, &md) : -EIO;
        if (rc == 0 && !checksum_ok(c, fd, &md)) {
            close(fd);
            lom_md_dispose(&md);
            rc = -EIO;
        }
        if (rc < 0) {
            http_reply_error(req, 500,
                             "%s: ais://%s/%s is corrupt: its data no longer matches its "
                             "checksum and no good copy is left; not served",
                             cluster_self_name(), c->bck, c->obj);
            return;
        }
    }
    struct MHD_Response *r;
    unsigned status = 200;
    int64_t off = 0, len = md.size;
    if (head) {
        close(fd);
        r = MHD_create_response_from_callback((uint64_t)md.size, 4096, no_body, NULL, NULL);
    } else {
        int pr = range_parse(http_header(req, "Range"), md.size, &off, &len);
        if (pr < 0) {
            close(fd);
            char cr[64];
            snprintf(cr, sizeof(cr), "bytes */%lld", (long long)md.size);
            r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r, "Content-Range", cr);
            lom_md_dispose(&md);
            http_send(req, 416, r);
            return;
        }
        if (pr == 0) {
            status = 206;
        }
        r = body_response(fd, off, len);
        req->bytes_out = len;
        if (status == 206) {
            char cr[96];
            snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)off,
                     (long long)(off + len - 1), (long long)md.size);
            MHD_add_response_header(r, "Content-Range", cr);
        }
    }
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    add_attr_headers(r, &md);
    if (head) /* a GET answers the attributes only, as AIStore's does: less to build and send */
        add_props_headers(r, c->bck, c->obj, c->fqn, c->copies);
    lom_md_dispose(&md);
    http_send(req, status, r);
}

/* Whether a streamed PUT body arrived whole (and, from a node, is the one it signed); false
 * when answered. */
static bool put_body_ok(http_req_t *req, tctx_t *c)
{
    if (req->sink_failed) {
        http_reply_error(req, 500, "cannot store ais://%s/%s: %s", c->bck, c->obj, c->msg);
        return false;
    }
    if (req->content_length >= 0 && c->w.written != req->content_length) {
        http_reply_error(req, 400, "short body: got %lld of %lld bytes", (long long)c->w.written,
                         (long long)req->content_length);
        return false;
    }
    if (c->dg) { /* a node's PUT: commit only the body it signed */
        bool same = auth_digest_check(c->dg, c->who.digest);
        c->dg = NULL;
        if (!same) {
            http_reply_error(req, 401, "intra-cluster PUT: the body is not the one signed");
            return false;
        }
    }
    return true;
}

static void object_put(http_req_t *req, tctx_t *c)
{
    if (!put_body_ok(req, c))
        return;
    int64_t size = c->w.written;
    c->w_open = false;
    bool kept = false;
    if (c->received && reb_deleted_after(c->bck, c->obj, c->rin.atime_ns)) {
        /* deleted here while it was on its way: it stays deleted (the sender drops its copy) */
        store_writer_abort(&c->w);
        http_reply(req, 200, NULL, "", 0);
        return;
    }
    json_t *custom = c->etag[0] && !c->received ? json_pack("{s:s}", "ETag", c->etag) : NULL;
    int status = c->received
                     ? store_writer_commit_received(&c->w, &c->rin, &kept, c->msg, sizeof(c->msg))
                     : store_writer_commit(&c->w, custom, c->msg, sizeof(c->msg));
    json_decref(custom);
    if (status) {
        http_reply_error(req, (unsigned)status, "%s", c->msg);
        return;
    }
    if (c->xin) /* counted even when that job has not started here yet */
        xact_add_in(c->xin, 1, size);
    if (c->etl_name[0]) /* a direct put: its sender counted the object, without its size */
        etl_count_delivered(c->etl_name, size);
    LOCUS_LOG(LOG_DEBUG, "PUT ais://%s/%s %lld bytes", c->bck, c->obj, (long long)size);
    http_reply(req, 200, NULL, "", 0);
}

/* PUT /v1/objects/<b>/<o>?object_to=<uname>[&etl_name=X&etl_args=Y&etl_pipeline=b,c]: copy or
 * transform one stored object to another name (synchronous). */
static void object_copy(http_req_t *req, tctx_t *c)
{
    char *dbck = NULL, *dobj = NULL;
    const char *to = http_query(req, "object_to");
    if (uname_parse(to, &dbck, &dobj) < 0 || dobj[0] == '\0') {
        http_reply_error(req, 400, "invalid object_to \"%s\" (expecting ais/@#/<bucket>/<object>)",
                         to);
        goto out;
    }
    const char *bad = name_check_object(dobj, strlen(dobj));
    if (bad) { /* the copy checks it again before it writes; say so here, at the entry */
        http_reply_error(req, 400, "invalid object_to \"%s\": %s", to, bad);
        goto out;
    }
    bmd_t *b = bmd_get();
    bool exists = bmd_bucket(b, dbck) != NULL;
    bmd_put(b);
    if (!exists) {
        http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", dbck);
        goto out;
    }
    const char *en = http_query(req, "etl_name");
    etl_inst_t *etl = NULL;
    char err[1024];
    int st;
    if (en && (etl = etl_acquire(en, &st, err, sizeof(err))) == NULL) {
        http_reply_error(req, (unsigned)st, "%s", err);
        goto out;
    }
    const char *pspec = http_query(req, "etl_pipeline");
    etl_pipeline_t *pl = NULL;
    if (etl && pspec && pspec[0] &&
        (pl = etl_pipeline_acquire(etl, pspec, &st, err, sizeof(err))) == NULL) {
        etl_release(etl);
        http_reply_error(req, (unsigned)st, "%s", err);
        goto out;
    }
    st = jobs_copy_object(NULL, etl, NULL, pl, http_query(req, "etl_args"), c->bck, c->obj, dbck,
                          dobj, false, err, sizeof(err));
    etl_pipeline_release(pl);
    if (etl)
        etl_release(etl);
    if (st)
        http_reply_error(req, (unsigned)st, "%s", err);
    else
        http_reply(req, 200, NULL, "", 0);
out:
    free(dbck);
    free(dobj);
}

/* DELETE: the local copy and, unless ?local, any copy another target still holds (one that a
 * rebalance has not moved yet would come back otherwise). */
static void object_delete(http_req_t *req, tctx_t *c)
{
    reb_tombstone(c->bck, c->obj);
    int rc = store_delete(c->bck, c->obj);
    if (rc < 0 && rc != -ENOENT) {
        http_reply_error(req, 500, "cannot delete ais://%s/%s: %s", c->bck, c->obj, strerror(-rc));
        return;
    }
    bool deleted = rc == 0;
    char err[1024];
    int st = c->local ? 0 : reb_delete_others(c->bck, c->obj, &deleted, err, sizeof(err));
    if (st && !deleted)
        http_reply_error(req, (unsigned)st, "%s", err);
    else if (!deleted)
        http_reply_error(req, 404, "%s: ais://%s/%s does not exist", cluster_self_name(), c->bck,
                         c->obj);
    else
        http_reply(req, 200, NULL, "", 0);
}

/* The etl_pipeline of an inline GET ("b,c"), NULL when absent or empty. */
static const char *inline_pipeline(http_req_t *req)
{
    const char *p = http_query(req, "etl_pipeline");
    return p && p[0] ? p : NULL;
}

/* Answers 200 with an empty body, or status with c->msg. */
static void reply_status(http_req_t *req, tctx_t *c, int status)
{
    if (status)
        http_reply_error(req, (unsigned)status, "%s", c->msg);
    else
        http_reply(req, 200, NULL, "", 0);
}

/* A part, an append or a flush (objapi_put_headers). */
static void objapi_put(http_req_t *req, tctx_t *c)
{
    if (c->op == OP_FLUSH) {
        reply_status(
            req, c,
            apnd_flush(c->bck, c->obj, http_query(req, "append_handle"), c->msg, sizeof(c->msg)));
        return;
    }
    if (!put_body_ok(req, c))
        return;
    c->w_open = false;
    if (c->op == OP_MPT_PART) {
        reply_status(req, c, mpt_part_commit(&c->w, c->etag, c->msg, sizeof(c->msg)));
        return;
    }
    char handle[160];
    int st = apnd_append(&c->w, http_query(req, "append_handle"), handle, sizeof(handle), c->msg,
                         sizeof(c->msg));
    if (st) {
        reply_status(req, c, st);
        return;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Ais-Append-Handle", handle);
    http_send(req, 200, r);
}

/* An error answer with S3's code next to AIStore's fields (CLUSTER_HDR_S3_MPT). */
static void reply_s3_error(http_req_t *req, int status, const char *code, const char *msg)
{
    http_reply_json(req, (unsigned)status,
                    json_pack("{s:s, s:i, s:s}", "message", msg, "status", status, "code", code));
}

/* mpt-complete from the proxy's S3 API (CLUSTER_HDR_S3_MPT: the smallest part but the last). */
static void mpt_complete_s3_request(http_req_t *req, tctx_t *c)
{
    const char *min = http_header(req, CLUSTER_HDR_S3_MPT);
    mpt_s3_parts_t p;
    int rc = mpt_s3_parse(req->body.base, req->body.len, &p, c->msg, sizeof(c->msg));
    if (rc < 0) {
        reply_s3_error(req, 400, rc == -2 ? "InvalidPartOrder" : "MalformedXML", c->msg);
    } else {
        char etag[48];
        const char *code = "InternalError";
        int st = mpt_complete_s3(c->bck, c->obj, http_query(req, "uploadId"), &p,
                                 strtoll(min, NULL, 10), etag, &code, c->msg, sizeof(c->msg));
        if (st)
            reply_s3_error(req, st, code, c->msg);
        else
            http_reply_json(req, 200, json_pack("{s:s}", "etag", etag));
    }
    mpt_s3_dispose(&p);
}

/* POST /v1/objects/<b>/<o>: mpt-upload (answers the upload id as text) or mpt-complete. */
static void object_post(http_req_t *req, tctx_t *c)
{
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    const char *action = json_string_value(json_object_get(msg, "action"));
    if (action && strcmp(action, "mpt-upload") == 0) {
        char id[OBJAPI_ID_LEN + 1];
        int st = mpt_start(c->bck, c->obj, id, c->msg, sizeof(c->msg));
        if (st)
            reply_status(req, c, st);
        else
            http_reply(req, 200, "text/plain", id, strlen(id));
    } else if (action && strcmp(action, "mpt-complete") == 0 &&
               http_header(req, CLUSTER_HDR_S3_MPT)) {
        mpt_complete_s3_request(req, c);
    } else if (action && strcmp(action, "mpt-complete") == 0) {
        reply_status(req, c,
                     mpt_complete(c->bck, c->obj, http_query(req, "uploadId"), req->body.base,
                                  req->body.len, c->msg, sizeof(c->msg)));
    } else {
        http_reply_error(req, 400, "action \"%.64s\" is not supported for objects here",
                         action ? action : "");
    }
    json_decref(msg);
}

/* PATCH /v1/objects/<b>/<o>: custom metadata, merged (or replaced with ?set-new-custom=true). */
static void object_patch(http_req_t *req, tctx_t *c)
{
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    reply_status(req, c,
                 obj_set_custom(c->bck, c->obj, json_object_get(msg, "value"),
                                http_query_bool(req, "set-new-custom"), c->msg, sizeof(c->msg)));
    json_decref(msg);
}

/* POST /v1/objects/<b> {"action":"promote",...}; ?fshare=true from a proxy: a file share. */
static void promote_request(http_req_t *req, tctx_t *c)
{
    if (!trust_body_ok(&c->who, req->body.base, req->body.len)) {
        http_reply_error(req, 401, "intra-cluster request: the body is not the one signed");
        return;
    }
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    const char *action = json_string_value(json_object_get(msg, "action"));
    promote_args_t a;
    int st = 400;
    bmd_t *b = bmd_get();
    bool exists = bmd_bucket(b, c->bck) != NULL;
    bmd_put(b);
    if (action == NULL || strcmp(action, "promote") != 0)
        snprintf(c->msg, sizeof(c->msg), "action \"%.64s\" is not supported here (promote is)",
                 action ? action : "");
    else if (!exists && (st = 404))
        snprintf(c->msg, sizeof(c->msg), "bucket \"ais://%s\" does not exist", c->bck);
    else if (promote_args_parse(msg, &a, c->msg, sizeof(c->msg)) == 0) {
        st = promote_run(c->bck, &a, http_query_bool(req, "fshare"), c->msg, sizeof(c->msg));
        promote_args_dispose(&a);
    }
    if (st == 0 || st == PROMOTE_GONE) /* the proxy counts the targets that found it gone */
        http_reply_json(req, 200, json_pack("{s:b}", "gone", st == PROMOTE_GONE));
    else
        reply_status(req, c, st);
    json_decref(msg);
}

static void object_request(http_req_t *req, tctx_t *c)
{
    const char *m = req->method;
    if (c->status) {
        http_reply_error(req, (unsigned)c->status, "%s", c->msg);
    } else if (c->location) {
        http_reply_redirect(req, 307, c->location);
    } else if (c->await_smap && !await_smap(req, c)) {
        return; /* redirected by the new map */
    } else if (strcmp(m, "GET") == 0 && http_query(req, "etl_name")) {
        if (fetch_if_missing(req, c))
            etl_inline_get(req, c->bck, c->obj, http_query(req, "etl_name"),
                           http_query(req, "etl_args"), inline_pipeline(req));
    } else if (strcmp(m, "GET") == 0 && arch_query(req)) {
        if (fetch_if_missing(req, c))
            arch_object_get(req, c->bck, c->obj);
    } else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        object_get(req, c, m[0] == 'H');
    } else if (c->op == OP_PROMOTE) {
        promote_request(req, c);
    } else if (strcmp(m, "PUT") == 0 && http_query(req, "object_to")) {
        object_copy(req, c);
    } else if (strcmp(m, "PUT") == 0 && c->op != OP_PLAIN) {
        objapi_put(req, c);
    } else if (strcmp(m, "PUT") == 0) {
        object_put(req, c);
    } else if (strcmp(m, "POST") == 0) {
        object_post(req, c);
    } else if (strcmp(m, "PATCH") == 0) {
        object_patch(req, c);
    } else if (strcmp(m, "DELETE") == 0 && http_query(req, "uploadId")) {
        reply_status(
            req, c, mpt_abort(c->bck, c->obj, http_query(req, "uploadId"), c->msg, sizeof(c->msg)));
    } else if (strcmp(m, "DELETE") == 0) {
        object_delete(req, c);
    } else {
        http_reply_error(req, 405, "method %s is not supported for objects", m);
    }
}

/* GET /v1/internal/lso?bck=&prefix=&after=&limit=&props= : one sorted page of local names. */
static void internal_lso(http_req_t *req)
{
    const char *bck = http_query(req, "bck");
    const char *prefix = http_query(req, "prefix");
    const char *after = http_query(req, "after");
    const char *lim = http_query(req, "limit");
    const char *props = http_query(req, "props");
    if (bck == NULL || name_check_bucket(bck) != NULL) {
        http_reply_error(req, 400, "internal list: invalid bucket");
        return;
    }
    int pmask = lso_props_parse(props ? props : "");
    if (pmask < 0)
        pmask = LSO_PROP_DEFAULT;
    size_t limit = lim ? strtoul(lim, NULL, 10) : 10000;
    if (limit == 0 || limit > 10000)
        limit = 10000;
    lso_page_t page;
    lso_page_init(&page);
    store_list(bck, prefix ? prefix : "", after ? after : "", limit, pmask, &page);
    if (http_query_bool(req, "arch"))
        arch_expand_page(bck, &page);
    http_reply_json(req, 200, lso_encode_json(&page, pmask | LSO_PROP_NAME));
    lso_page_dispose(&page);
}

/* GET /v1/internal/mpt?bck=&obj=&uploadId= : an upload's parts; without obj, the bucket's
 * uploads: ?prefix=&key_marker=&id_marker=&limit= (the S3 API's listings). */
static void internal_mpt(http_req_t *req)
{
    const char *bck = http_query(req, "bck"), *obj = http_query(req, "obj");
    if (bck == NULL || name_check_bucket(bck) != NULL ||
        (obj && name_check_object(obj, strlen(obj)) != NULL)) {
        http_reply_error(req, 400, "internal mpt: invalid bucket or object name");
        return;
    }
    if (obj) {
        char msg[512];
        json_t *out = NULL;
        int st = mpt_list_parts(bck, obj, http_query(req, "uploadId"), &out, msg, sizeof(msg));
        if (st)
            http_reply_error(req, (unsigned)st, "%s", msg);
        else
            http_reply_json(req, 200, out);
        return;
    }
    const char *p = http_query(req, "prefix"), *km = http_query(req, "key_marker");
    const char *im = http_query(req, "id_marker"), *lim = http_query(req, "limit");
    mpt_filter_t f = {p ? p : "", km ? km : "", im ? im : "", lim ? strtoul(lim, NULL, 10) : 1000};
    if (f.limit == 0 || f.limit > 10000)
        f.limit = 10000;
    http_reply_json(req, 200, mpt_list_uploads(bck, &f));
}

/* /v1/daemon/mountpaths: an admin, or a node (a proxy relaying /v1/reverse/daemon/...). */
static void mountpaths_request(http_req_t *req, tctx_t *c)
{
    char msg[512];
    int st = trust_require(&c->who, NULL, AUTH_ACE_ADMIN, msg, sizeof(msg));
    if (st == 0 && !trust_body_ok(&c->who, req->body.base, req->body.len)) {
        st = 401;
        snprintf(msg, sizeof(msg), "intra-cluster request: the body is not the one signed");
    }
    if (st)
        http_reply_error(req, (unsigned)st, "%s", msg);
    else
        mpath_handle(req);
}

static json_t *daemon_what(const char *what)
{
    if (strcmp(what, "node_stats") == 0 || strcmp(what, "node_status") == 0)
        return nstats_json(strcmp(what, "node_status") == 0);
    return strcmp(what, "mountpaths") == 0 ? mpath_list_json() : NULL;
}

void target_on_request(http_req_t *req)
{
    tctx_t *c = req->ctx;
    if (stats_handle(req))
        return;
    char copy[8192];
    const char *segs[3];
    int n = route_split(req->path, copy, sizeof(copy), segs, 3);
    if (n < 0) {
        http_reply_error(req, 400, "invalid URL path \"%s\": expecting /v1/...", req->raw_path);
        return;
    }
    if (c->etl_object || (n >= 1 && strcmp(segs[0], "objects") == 0)) {
        object_request(req, c);
        return;
    }
    if (c->ec_piece) {
        piece_put(req, c);
        return;
    }
    const char *s4[4];
    n = route_split(req->path, copy, sizeof(copy), s4, 4);
    if (n == 2 && strcmp(s4[0], "daemon") == 0 && strcmp(s4[1], "mountpaths") == 0) {
        mountpaths_request(req, c);
        return;
    }
    if ((n == 2 || n == 3) && strcmp(s4[0], "ml") == 0 && strcmp(s4[1], "moss") == 0) {
        moss_handle(req, &c->who, n >= 3 ? s4[2] : NULL);
        return;
    }
    if (cluster_handle(req, s4, n, &c->who))
        return;
    /* Everything else here is intra-cluster: listing pages, jobs, ETL status, logs, health. */
    char msg[512];
    int st = trust_require_node(&c->who, msg, sizeof(msg));
    if (st == 0 && !trust_body_ok(&c->who, req->body.base, req->body.len)) {
        st = 401;
        snprintf(msg, sizeof(msg), "intra-cluster request: the body is not the one signed");
    }
    if (st) {
        http_reply_error(req, (unsigned)st, "%s", msg);
        return;
    }
    if (n == 2 && strcmp(s4[0], "internal") == 0 && strcmp(s4[1], "lso") == 0 &&
        strcmp(req->method, "GET") == 0) {
        internal_lso(req);
        return;
    }
    if (n == 2 && strcmp(s4[0], "internal") == 0 && strcmp(s4[1], "mpt") == 0 &&
        strcmp(req->method, "GET") == 0) {
        internal_mpt(req);
        return;
    }
    if (n == 2 && strcmp(s4[0], "internal") == 0 && strcmp(s4[1], "lom") == 0 &&
        strcmp(req->method, "GET") == 0) {
        reb_handle_lom(req);
        return;
    }
    if (n == 2 && strcmp(s4[0], "internal") == 0 && strcmp(s4[1], "send") == 0 &&
        strcmp(req->method, "POST") == 0) {
        reb_handle_send(req);
        return;
    }
    if (n == 2 && strcmp(s4[0], "internal") == 0 && strcmp(s4[1], "moss") == 0 &&
        strcmp(req->method, "GET") == 0) {
        moss_internal(req);
        return;
    }
    if (n == 2 && strcmp(s4[0], "internal") == 0 && strcmp(s4[1], "ec") == 0) {
        ec_handle(req);
        return;
    }
    if (n >= 1 && strcmp(s4[0], "etl") == 0 && etl_target_handle(req, s4, n))
        return;
    if (n >= 1 && strcmp(s4[0], "xactions") == 0) {
        jobs_handle(req);
        return;
    }
    http_reply_error(req, 404, "%s: no such endpoint: %s %s", cluster_self_name(), req->method,
                     req->raw_path);
}

static void on_bmd_change(const bmd_t *old_bmd, const bmd_t *new_bmd)
{
    const char *name;
    json_t *v;
    json_object_foreach(old_bmd->items, name, v)
    {
        if (json_object_get(new_bmd->items, name) == NULL) {
            LOCUS_LOG(LOG_NOTICE, "%s: bucket ais://%s destroyed: removing its objects",
                      cluster_self_name(), name);
            store_remove_bucket(name);
        }
    }
}

/* The target's objects as target-side ETL sees them (etl_objects_t). */
static int object_open(const char *bck, const char *obj, int *fd, int64_t *size)
{
    lom_md_t md;
    int rc = store_open(bck, obj, fd, &md);
    if (rc == 0) {
        *size = md.size;
        lom_md_dispose(&md);
    }
    return rc;
}

static size_t object_mountpaths(char **out, size_t max)
{
    mpset_t *s = mpath_get();
    size_t n = mpset_count(s) < max ? mpset_count(s) : max;
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(mpset_path(s, i));
    mpath_put(s);
    return n;
}

static const etl_objects_t objects = {
    .open = object_open, .fqn = store_fqn, .mountpaths = object_mountpaths};

int target_init(char *err, size_t errlen)
{
    if (store_init(err, errlen) < 0)
        return -1;
    cluster_on_bmd_change(on_bmd_change);
    cluster_on_daemon_what(daemon_what);
    jobs_init();
    tstats_init();
    mpt_sweeper_start();
    return etl_target_init(&objects, err, errlen);
}

void target_shutdown(void)
{
    mpt_sweeper_stop();
    reb_shutdown(); /* both move objects: done before the store goes */
    resilver_shutdown();
    jobs_shutdown(); /* first of the rest: running jobs hold ETL instances */
    etl_target_shutdown();
}

void target_remove_data(void)
{
    bmd_t *b = bmd_get();
    const char *name;
    json_t *v;
    json_object_foreach(b->items, name, v) store_remove_bucket(name);
    bmd_put(b);
}
