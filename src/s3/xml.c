/*
 * xml.c - S3 XML: escaping for answers and the strict parser of the request bodies, DeleteObjects
 * and CompleteMultipartUpload (expat, no namespace processing: a "p:Name" element is matched on
 * "Name"). A body with a DTD, an unknown element, text where none belongs, a text over
 * S3_XML_TEXT_MAX or too many items is refused as a whole.
 */
#include "s3/xml.h"

#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void s3x_esc(buf_t *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&apos;");
            break;
        default:
            buf_append(b, p, 1);
        }
    }
}

void s3x_elem(buf_t *b, const char *name, const char *text)
{
    buf_printf(b, "<%s>", name);
    s3x_esc(b, text);
    buf_printf(b, "</%s>", name);
}

#define DEPTH_MAX 3

/* A request document: <root>[<flag>..</flag>]<item><leaf>..</leaf>...</item>...</root>. */
typedef struct xparse_s xparse_t;
typedef struct {
    const char *root, *item;
    const char *flag;          /* a boolean child of root, or NULL */
    const char *const *leaves; /* an item's children (NULL-terminated) */
    void (*leaf)(xparse_t *x, const char *name, const char *text);
    void (*item_end)(xparse_t *x); /* checks and takes the item */
} xdoc_t;

struct xparse_s {
    const xdoc_t *doc;
    XML_Parser p;
    int depth;
    char names[DEPTH_MAX][24]; /* the open elements */
    buf_t text;
    bool flag; /* the root's flag */
    void *out;
    /* the current item */
    char *key;
    int num;
    char etag[33];
    bool has_etag;
    char *err;
    size_t errlen;
    bool failed;
};

static void fail(xparse_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(xparse_t *x, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
    XML_StopParser(x->p, XML_FALSE);
}

static const char *local_name(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

/* The elements each level may hold: level 0 the root, level 1 the root's children, level 2
 * an item's. */
static bool allowed(const xdoc_t *doc, int depth, const char *parent, const char *name)
{
    if (depth == 0)
        return strcmp(name, doc->root) == 0;
    if (depth == 1)
        return strcmp(name, doc->item) == 0 || (doc->flag && strcmp(name, doc->flag) == 0);
    if (depth == 2 && strcmp(parent, doc->item) == 0)
        for (const char *const *o = doc->leaves; *o; o++)
            if (strcmp(*o, name) == 0)
                return true;
    return false;
}

static void XMLCALL on_start(void *ud, const XML_Char *qname, const XML_Char **attrs)
{
    (void)attrs;
    xparse_t *x = ud;
    const char *name = local_name(qname);
    const char *parent = x->depth > 0 ? x->names[x->depth - 1] : "";
    if (x->depth >= DEPTH_MAX || !allowed(x->doc, x->depth, parent, name)) {
        fail(x, "unexpected element <%.64s> in <%.24s>", name, parent[0] ? parent : "(top)");
        return;
    }
    snprintf(x->names[x->depth], sizeof(x->names[0]), "%s", name);
    x->depth++;
    x->text.len = 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *qname)
{
    xparse_t *x = ud;
    const char *name = local_name(qname);
    if (x->depth == 0)
        return;
    x->depth--;
    buf_append(&x->text, "", 1);
    x->text.len--;
    const char *text = x->text.base ? x->text.base : "";
    if (x->depth == 1 && strcmp(name, x->doc->item) == 0) {
        x->doc->item_end(x);
    } else if (x->depth == 1) { /* the flag */
        if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
            fail(x, "<%s> must be true or false", name);
        x->flag = strcmp(text, "true") == 0;
    } else if (x->depth == 2) {
        x->doc->leaf(x, name, text);
    }
    x->text.len = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    xparse_t *x = ud;
    /* a value: an item's member (depth 3) or the flag (depth 2) */
    bool leaf =
        x->depth == 3 || (x->depth == 2 && x->doc->flag && strcmp(x->names[1], x->doc->flag) == 0);
    if (!leaf) {
        for (int i = 0; i < len; i++)
            if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
                fail(x, "text outside of an element's value");
                return;
            }
        return;
    }
    if (x->text.len + (size_t)len > S3_XML_TEXT_MAX) {
        fail(x, "a value longer than %d bytes", S3_XML_TEXT_MAX);
        return;
    }
    buf_append(&x->text, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    fail(ud, "a DTD is not allowed");
}

/* Parses p with doc's rules into x->out. 0, or -1 with err. */
static int xparse(const xdoc_t *doc, const char *p, size_t n, void *out, char *err, size_t errlen)
{
    if (n > S3_XML_MAX) {
        snprintf(err, errlen, "the body is over %u bytes", S3_XML_MAX);
        return -1;
    }
    xparse_t x = {.doc = doc, .out = out, .err = err, .errlen = errlen};
    buf_init(&x.text);
    x.p = XML_ParserCreate("UTF-8");
    if (x.p == NULL)
        locus_panic("cannot create an XML parser");
    XML_SetUserData(x.p, &x);
    XML_SetElementHandler(x.p, on_start, on_end);
    XML_SetCharacterDataHandler(x.p, on_text);
    XML_SetStartDoctypeDeclHandler(x.p, on_doctype);
    enum XML_Status st = XML_Parse(x.p, p ? p : "", (int)n, XML_TRUE);
    if (st != XML_STATUS_OK && !x.failed) {
        x.failed = true;
        snprintf(err, errlen, "line %lu: %s", (unsigned long)XML_GetCurrentLineNumber(x.p),
                 XML_ErrorString(XML_GetErrorCode(x.p)));
    }
    XML_ParserFree(x.p);
    free(x.key);
    buf_dispose(&x.text);
    if (!x.failed && doc->flag)
        ((s3_delete_t *)out)->quiet = x.flag;
    return x.failed ? -1 : 0;
}

/* ---------------------------------------------------------------- DeleteObjects */

static void delete_leaf(xparse_t *x, const char *name, const char *text)
{
    if (strcmp(name, "Key") != 0)
        return;
    if (x->key)
        fail(x, "an <Object> with two <Key>s");
    else
        x->key = xstrdup(text);
}

static void delete_item(xparse_t *x)
{
    s3_delete_t *d = x->out;
    if (x->key == NULL) {
        fail(x, "an <Object> without <Key>");
        return;
    }
    if (d->n >= S3_DELETE_MAX) {
        fail(x, "more than %d keys", S3_DELETE_MAX);
        return;
    }
    d->keys = xrealloc(d->keys, (d->n + 1) * sizeof(char *));
    d->keys[d->n++] = x->key;
    x->key = NULL;
}

static const char *const delete_leaves[] = {"Key",  "VersionId", "ETag", "LastModifiedTime",
                                            "Size", NULL};
static const xdoc_t delete_doc = {"Delete",      "Object",    "Quiet",
                                  delete_leaves, delete_leaf, delete_item};

int s3x_parse_delete(const char *p, size_t n, s3_delete_t *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    if (xparse(&delete_doc, p, n, d, err, errlen) < 0)
        return -1;
    if (d->n == 0) {
        snprintf(err, errlen, "no <Object> to delete");
        return -1;
    }
    return 0;
}

void s3_delete_dispose(s3_delete_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->keys[i]);
    free(d->keys);
    memset(d, 0, sizeof(*d));
}

/* ---------------------------------------------------------------- CompleteMultipartUpload */

/* An ETag as clients send it: the part's MD5, quoted or not, any case. */
static bool etag_parse(const char *text, char out[33])
{
    size_t n = strlen(text);
    if (n == 34 && text[0] == '"' && text[33] == '"') {
        text++;
        n = 32;
    }
    if (n != 32 || strspn(text, "0123456789abcdefABCDEF") < 32)
        return false;
    for (int i = 0; i < 32; i++)
        out[i] = (char)(text[i] >= 'A' && text[i] <= 'F' ? text[i] - 'A' + 'a' : text[i]);
    out[32] = '\0';
    return true;
}

static void complete_leaf(xparse_t *x, const char *name, const char *text)
{
    if (strcmp(name, "PartNumber") == 0) {
        size_t n = strlen(text);
        if (x->num || n == 0 || n > 5 || strspn(text, "0123456789") != n || atoi(text) < 1 ||
            atoi(text) > S3_PARTS_MAX)
            fail(x, "<PartNumber> must be one integer in 1..%d", S3_PARTS_MAX);
        else
            x->num = atoi(text);
    } else if (strcmp(name, "ETag") == 0) {
        if (x->has_etag || !etag_parse(text, x->etag))
            fail(x, "<ETag> must be one part's MD5 (32 hex digits, quoted or not)");
        x->has_etag = true;
    }
}

static void complete_item(xparse_t *x)
{
    s3_complete_t *c = x->out;
    if (x->num == 0 || !x->has_etag) {
        fail(x, "a <Part> needs <PartNumber> and <ETag>");
        return;
    }
    if (c->n >= S3_PARTS_MAX) {
        fail(x, "more than %d parts", S3_PARTS_MAX);
        return;
    }
    if (c->n % 64 == 0)
        c->parts = xrealloc(c->parts, (c->n + 64) * sizeof(*c->parts));
    c->parts[c->n].num = x->num;
    memcpy(c->parts[c->n].etag, x->etag, 33);
    c->n++;
    x->num = 0;
    x->has_etag = false;
}

static const char *const complete_leaves[] = {
    "PartNumber",   "ETag",           "ChecksumCRC32",     "ChecksumCRC32C",
    "ChecksumSHA1", "ChecksumSHA256", "ChecksumCRC64NVME", NULL};
static const xdoc_t complete_doc = {"CompleteMultipartUpload", "Part",        NULL,
                                    complete_leaves,           complete_leaf, complete_item};

int s3x_parse_complete(const char *p, size_t n, s3_complete_t *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (xparse(&complete_doc, p, n, c, err, errlen) < 0)
        return -1;
    if (c->n == 0) {
        snprintf(err, errlen, "no <Part> to complete with");
        return -1;
    }
    return 0;
}

void s3_complete_dispose(s3_complete_t *c)
{
    free(c->parts);
    memset(c, 0, sizeof(*c));
}
