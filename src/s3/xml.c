/*
 * xml.c - S3 XML: escaping for answers and the strict parser of DeleteObjects bodies (expat,
 * no namespace processing: a "p:Name" element is matched on "Name"). A body with a DTD, an
 * unknown element, text where none belongs, a text over S3_XML_TEXT_MAX or too many keys is
 * refused as a whole.
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

typedef struct {
    XML_Parser p;
    int depth;
    char names[DEPTH_MAX][24]; /* the open elements */
    buf_t text;
    char *key; /* the current <Object>'s Key */
    s3_delete_t *d;
    char *err;
    size_t errlen;
    bool failed;
} dparse_t;

static void fail(dparse_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(dparse_t *x, const char *fmt, ...)
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
 * an <Object>'s. */
static bool allowed(int depth, const char *parent, const char *name)
{
    static const char *const object[] = {"Key",  "VersionId", "ETag", "LastModifiedTime",
                                         "Size", NULL};
    if (depth == 0)
        return strcmp(name, "Delete") == 0;
    if (depth == 1)
        return strcmp(name, "Object") == 0 || strcmp(name, "Quiet") == 0;
    if (depth == 2 && strcmp(parent, "Object") == 0)
        for (const char *const *o = object; *o; o++)
            if (strcmp(*o, name) == 0)
                return true;
    return false;
}

static void XMLCALL on_start(void *ud, const XML_Char *qname, const XML_Char **attrs)
{
    (void)attrs;
    dparse_t *x = ud;
    const char *name = local_name(qname);
    const char *parent = x->depth > 0 ? x->names[x->depth - 1] : "";
    if (x->depth >= DEPTH_MAX || !allowed(x->depth, parent, name)) {
        fail(x, "unexpected element <%.64s> in <%.24s>", name, parent[0] ? parent : "(top)");
        return;
    }
    snprintf(x->names[x->depth], sizeof(x->names[0]), "%s", name);
    x->depth++;
    x->text.len = 0;
}

static void end_leaf(dparse_t *x, const char *name, const char *text)
{
    if (strcmp(name, "Key") == 0) {
        if (x->key) {
            fail(x, "an <Object> with two <Key>s");
            return;
        }
        x->key = xstrdup(text);
    } else if (strcmp(name, "Quiet") == 0) {
        if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
            fail(x, "<Quiet> must be true or false");
        x->d->quiet = strcmp(text, "true") == 0;
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *qname)
{
    dparse_t *x = ud;
    const char *name = local_name(qname);
    if (x->depth == 0)
        return;
    x->depth--;
    buf_append(&x->text, "", 1);
    x->text.len--;
    if (strcmp(name, "Object") == 0 && x->depth == 1) {
        if (x->key == NULL) {
            fail(x, "an <Object> without <Key>");
            return;
        }
        if (x->d->n >= S3_DELETE_MAX) {
            fail(x, "more than %d keys", S3_DELETE_MAX);
            return;
        }
        x->d->keys = xrealloc(x->d->keys, (x->d->n + 1) * sizeof(char *));
        x->d->keys[x->d->n++] = x->key;
        x->key = NULL;
    } else if (x->depth >= 1) {
        end_leaf(x, name, x->text.base ? x->text.base : "");
    }
    x->text.len = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    dparse_t *x = ud;
    /* a value: an Object's member (depth 3) or <Quiet> (depth 2) */
    bool leaf = x->depth == 3 || (x->depth == 2 && strcmp(x->names[1], "Quiet") == 0);
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

int s3x_parse_delete(const char *p, size_t n, s3_delete_t *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    if (n > S3_XML_MAX) {
        snprintf(err, errlen, "the body is over %u bytes", S3_XML_MAX);
        return -1;
    }
    dparse_t x = {.d = d, .err = err, .errlen = errlen};
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
    if (!x.failed && d->n == 0) {
        x.failed = true;
        snprintf(err, errlen, "no <Object> to delete");
    }
    XML_ParserFree(x.p);
    free(x.key);
    buf_dispose(&x.text);
    return x.failed ? -1 : 0;
}

void s3_delete_dispose(s3_delete_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->keys[i]);
    free(d->keys);
    memset(d, 0, sizeof(*d));
}
