/*
 * cmd_etl.c - `locus etl ...`: ETL transformers on the cluster's targets (docs/protocol.md
 * §1.6-§1.7): init from a spec file or options, show, inline and copy transforms of one object,
 * offline bucket transforms (with a progress bar while waiting), stop/start/rm, logs, health.
 */
#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(
        f, "usage: locus etl init -f SPEC.yaml|-  [--name N] [--pipeline]\n"
           "       locus etl init --name N --image I [--comm-type hpush|hpull|ws]\n"
           "                      [--command 'PROG ARGS...'] [--arg A]... [--env K=V]...\n"
           "                      [--init-timeout D] [--obj-timeout D] [--direct-put]\n"
           "       locus etl show|ls [--json] [NAME [--job ID]]\n"
           "       locus etl object NAME BUCKET/OBJ OUT|- [--args S]\n"
           "       locus etl object NAME cp SRC_BUCKET/OBJ DST_BUCKET[/OBJ] [--args S]\n"
           "       locus etl bucket NAME SRC DST [--ext MAP] [--prefix P] [--prepend S]\n"
           "                      [--dry-run] [--num-workers N] [--cont-on-err] [--force]\n"
           "                      [--args S] [--wait [--timeout D]]\n"
           "       locus etl stop|start|rm NAME... | -f SPEC.yaml\n"
           "       locus etl logs NAME [TARGET]\n"
           "       locus etl health NAME\n"
           "\n"
           "init    starts an ETL on every target and prints its job id. -f reads a runtime spec\n"
           "        (YAML, several documents separated by '---' start several ETLs; or JSON;\n"
           "        '-' = stdin); --name overrides the name of a one-document spec. Without -f,\n"
           "        the options describe the ETL (--command is split like a shell would; --arg\n"
           "        appends one argument; --image may be any name when a command is given).\n"
           "        --pipeline starts the spec's ETLs as one pipeline, in document order: all\n"
           "        or none (a failure removes the ones it started), then prints 'a>>b>>c' for\n"
           "        etl object|bucket (job ids go to stderr).\n"
           "show    all ETLs (name, stage, job id, objects, bytes in/out), or one ETL's stage,\n"
           "        reason and init message; --job ID also lists that job's object errors.\n"
           "object  transforms one object to OUT (a file, written whole or not at all) or stdout\n"
           "        ('-'); with cp, stores the result as DST (default object name: the source's).\n"
           "        --args S is passed to the transformer as etl_args. NAME may be a pipeline,\n"
           "        'a>>b>>c' (quoted): each ETL transforms the previous one's output, in order.\n"
           "bucket  transforms every object of SRC (with --prefix) into DST (created if missing),\n"
           "        named PREPEND + name with the extension mapped by --ext ('{flac:wav}',\n"
           "        '{\"flac\":\"wav\"}' or 'flac:wav,mp3:ogg'). Prints the job id; --wait waits,\n"
           "        with a progress bar when stderr is a terminal, and fails if the job fails or\n"
           "        any object failed (--cont-on-err lets the job go on past failures). NAME may\n"
           "        be a pipeline 'a>>b>>c' as for object. --args S is passed to the transformer\n"
           "        with every object as etl_args.\n"
           "stop    stops the ETL's servers (stage Aborted); start restarts a stopped ETL; rm\n"
           "        stops and removes it. -f SPEC: the ETLs that spec file defines.\n"
           "logs    the transformer's output on each target (or on TARGET only).\n"
           "health  the health of the ETL's server on each target.\n");
}

/* ------------------------------------------------------------------------------------------ */
/* init */

static int read_input(const char *path, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (strcmp(path, "-") != 0) {
        int rc = read_file(path, data, len);
        return rc < 0 ? rc : 0;
    }
    buf_t b;
    buf_init(&b);
    char tmp[65536];
    for (;;) {
        ssize_t n = read(0, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            buf_dispose(&b);
            return e;
        }
        if (n == 0)
            break;
        buf_append(&b, tmp, (size_t)n);
    }
    *len = b.len;
    *data = buf_steal(&b);
    return 0;
}

typedef struct {
    char **v;
    size_t n;
} strv_t;

static void strv_add(strv_t *s, char *x)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = x;
}

/* Splits s into words like a POSIX shell (quotes and backslashes; no expansions). 0 or -1 for
 * an unterminated quote. */
static int split_words(const char *s, strv_t *out)
{
    buf_t w;
    buf_init(&w);
    bool in_word = false;
    for (const char *p = s;; p++) {
        if (*p == '\0' || *p == ' ' || *p == '\t' || *p == '\n') {
            if (in_word) {
                strv_add(out, xstrndup(w.base ? w.base : "", w.len));
                w.len = 0;
                in_word = false;
            }
            if (*p == '\0')
                break;
            continue;
        }
        in_word = true;
        if (*p == '\\' && p[1] != '\0') {
            buf_append(&w, ++p, 1);
        } else if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && *p != q) {
                if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
                    p++;
                buf_append(&w, p++, 1);
            }
            if (*p != q) {
                buf_dispose(&w);
                return -1;
            }
        } else {
            buf_append(&w, p, 1);
        }
    }
    buf_dispose(&w);
    return 0;
}

/* Replaces the name of a one-document init message; NULL if the message is not an object. */
static char *rename_msg(const char *msg, const char *name)
{
    json_t *j = json_loads(msg, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "name", json_string(name));
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

static char *msg_name(const char *msg)
{
    json_t *j = json_loads(msg, 0, NULL);
    const char *n = json_string_value(json_object_get(j, "name"));
    char *s = xstrdup(n != NULL ? n : "?");
    json_decref(j);
    return s;
}

/* What `etl init` was told: a spec file, or the options that describe one ETL. */
typedef struct {
    const char *file;
    locus_etl_spec_t spec;
    strv_t args, env;
    bool command;     /* --command given */
    bool pipeline;    /* --pipeline: all or none, then print the pipeline */
    const char *verb; /* in messages: "etl init", or "etl stop" etc. with -f */
} init_t;

static int opt_comm_type(const cli_opt_t *o, const char *cmd, const char *arg)
{
    static const char *ok[] = {"hpush", "hpull", "ws", "hpush://", "hpull://", "ws://"};
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
        if (strcmp(arg, ok[i]) == 0) {
            ((init_t *)o->dst)->spec.comm_type = arg;
            return 0;
        }
    return cli_usage_error(cmd, "%s", o->bad);
}

static int opt_command(const cli_opt_t *o, const char *cmd, const char *arg)
{
    init_t *in = o->dst;
    in->command = true;
    if (split_words(arg, &in->args) != 0)
        return cli_usage_error(cmd, "--command: unterminated quote in \"%s\"", arg);
    return 0;
}

static int opt_arg(const cli_opt_t *o, const char *cmd, const char *arg)
{
    (void)cmd;
    strv_add(&((init_t *)o->dst)->args, xstrdup(arg));
    return 0;
}

static int opt_env(const cli_opt_t *o, const char *cmd, const char *arg)
{
    if (strchr(arg, '=') == NULL || arg[0] == '=')
        return cli_usage_error(cmd, "--env: expecting NAME=VALUE, got \"%s\"", arg);
    strv_add(&((init_t *)o->dst)->env, xstrdup(arg));
    return 0;
}

/* A duration kept as text (the spec carries it as given). */
static int opt_duration_text(const cli_opt_t *o, const char *cmd, const char *arg)
{
    if (cli_parse_duration(arg) <= 0)
        return cli_usage_error(cmd, "%s", o->bad);
    *(const char **)o->dst = arg;
    return 0;
}

static int init_options(init_t *in, int argc, char **argv)
{
    cli_opt_t opts[] = {
        CLI_STR("file", &in->file),
        CLI_STR("name", &in->spec.name),
        CLI_STR("image", &in->spec.image),
        CLI_FN("comm-type", opt_comm_type, in, "--comm-type: one of hpush, hpull, ws"),
        CLI_FN("command", opt_command, in, NULL),
        CLI_FN("arg", opt_arg, in, NULL),
        CLI_FN("env", opt_env, in, NULL),
        CLI_FN("init-timeout", opt_duration_text, &in->spec.init_timeout,
               "--init-timeout: need a duration such as 45s or 5m"),
        CLI_FN("obj-timeout", opt_duration_text, &in->spec.obj_timeout,
               "--obj-timeout: need a duration such as 45s or 5m"),
        CLI_FLAG("direct-put", &in->spec.direct_put),
        CLI_FLAG("pipeline", &in->pipeline),
    };
    opts[0].short_name = 'f';
    static const cli_cmd_t cmd = {"etl", usage, 0, 0, "etl init: unexpected argument \"%s\""};
    int pos, rc = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (rc != CLI_OPTS_GO)
        return rc;
    const locus_etl_spec_t *sp = &in->spec;
    bool have_opts = sp->image != NULL || sp->comm_type != NULL || in->command || in->args.n > 0 ||
                     in->env.n > 0 || sp->init_timeout != NULL || sp->obj_timeout != NULL ||
                     sp->direct_put;
    if (in->file != NULL && have_opts)
        return cli_usage_error("etl", "etl init: -f takes the ETL from the file; only --name "
                                      "may be given with it");
    if (in->file == NULL && !have_opts)
        return cli_usage_error("etl", "etl init: need -f SPEC or --name and --image");
    return CLI_OPTS_GO;
}

/* The init messages of a spec file (renamed with --name). 0 or the exit code (printed). */
static int spec_msgs(const init_t *in, char ***msgs, size_t *nmsgs)
{
    char err[LOCUS_ERR_LEN] = "";
    char *text = NULL;
    size_t len = 0;
    const char *file = in->file;
    const char *verb = in->verb ? in->verb : "etl init";
    int rc = read_input(file, &text, &len);
    if (rc != 0)
        return cli_fail(verb, "%s: %s", strcmp(file, "-") ? file : "stdin", strerror(-rc));
    rc = locus_etl_spec_parse(text, len, msgs, nmsgs, err);
    free(text);
    if (rc != 0) {
        char what[300];
        snprintf(what, sizeof(what), "%s %s", verb, strcmp(file, "-") ? file : "(stdin)");
        return cli_fail_line(what, err);
    }
    if (in->spec.name != NULL) {
        if (*nmsgs != 1)
            return cli_usage_error("etl",
                                   "etl init: --name needs a spec with one document "
                                   "(%zu found)",
                                   *nmsgs);
        char *m = rename_msg((*msgs)[0], in->spec.name);
        free((*msgs)[0]);
        (*msgs)[0] = m;
    }
    return 0;
}

/* The init message the options describe. 0 or the usage error (printed). */
static int opts_msg(init_t *in, char ***msgs, size_t *nmsgs)
{
    char err[LOCUS_ERR_LEN] = "";
    locus_etl_spec_t *sp = &in->spec;
    if (sp->name == NULL || sp->image == NULL)
        return cli_usage_error("etl", "etl init: need --name and --image (or -f SPEC)");
    sp->argv = (const char *const *)in->args.v;
    sp->argc = in->args.n;
    sp->env = (const char *const *)in->env.v;
    sp->nenv = in->env.n;
    *msgs = xcalloc(1, sizeof(**msgs));
    *nmsgs = 1;
    if (locus_etl_spec_json(sp, &(*msgs)[0], err) != 0)
        return cli_usage_error("etl", "etl init: %s", err);
    return 0;
}

/* --pipeline failed: removes the ETLs it started (names[0..n)), last first. */
static void init_rollback(locus_client_t *c, char **names, size_t n)
{
    while (n-- > 0) {
        char err[LOCUS_ERR_LEN] = "";
        if (locus_etl_delete(c, names[n], err) != 0)
            fprintf(stderr, "locus: etl init: could not remove ETL %s: %s\n", names[n], err);
        else
            fprintf(stderr, "removed ETL %s (the pipeline did not start)\n", names[n]);
    }
}

/* Starts each ETL, printing its job id; stops at the first failure. With pipeline, a failure
 * removes the ETLs started before it, and success prints the stages joined by ">>" (the ids go
 * to stderr then). */
static int init_all(char **msgs, size_t nmsgs, bool pipeline)
{
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    int ret = CLI_EXIT_OK;
    char **names = xcalloc(nmsgs + 1, sizeof(*names));
    size_t n = 0;
    for (; n < nmsgs; n++) {
        char err[LOCUS_ERR_LEN] = "";
        names[n] = msg_name(msgs[n]);
        char *id = NULL;
        char what[300];
        snprintf(what, sizeof(what), "etl init %s", names[n]);
        if (locus_etl_init(c, msgs[n], &id, err) != 0) {
            ret = cli_fail_line(what, err);
            if (pipeline)
                init_rollback(c, names, n);
            free(names[n]);
            break;
        }
        if (!pipeline)
            printf("%s\n", id);
        fflush(stdout);
        if (pipeline)
            fprintf(stderr, "initialized ETL %s (job %s)\n", names[n], id);
        else if (nmsgs > 1)
            fprintf(stderr, "initialized ETL %s\n", names[n]);
        free(id);
    }
    if (ret == CLI_EXIT_OK && pipeline)
        for (size_t i = 0; i < n; i++)
            printf("%s%s", names[i], i + 1 < n ? ">>" : "\n");
    locus_strv_free(names, n);
    locus_client_destroy(c);
    return ret;
}

static int etl_init(int argc, char **argv)
{
    init_t in = {0};
    char **msgs = NULL;
    size_t nmsgs = 0;
    int ret = init_options(&in, argc, argv);
    if (ret == CLI_OPTS_GO) {
        ret = in.file != NULL ? spec_msgs(&in, &msgs, &nmsgs) : opts_msg(&in, &msgs, &nmsgs);
        if (ret == 0)
            ret = init_all(msgs, nmsgs, in.pipeline);
    }
    locus_strv_free(msgs, nmsgs);
    locus_strv_free(in.args.v, in.args.n);
    locus_strv_free(in.env.v, in.env.n);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* show */

/* --json: [{"name","stage","job_id","objects","bytes_in","bytes_out"}]. */
static void print_all_json(const locus_etl_info_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "name", v[i].name, "stage", v[i].stage,
                         "job_id", v[i].job_id, "objects", (json_int_t)v[i].obj_count, "bytes_in",
                         (json_int_t)v[i].in_bytes, "bytes_out", (json_int_t)v[i].out_bytes));
    char *t = json_dumps(a, JSON_INDENT(2));
    printf("%s\n", t);
    free(t);
    json_decref(a);
}

static int show_all(locus_client_t *c, bool as_json)
{
    char err[LOCUS_ERR_LEN] = "";
    locus_etl_info_t *v = NULL;
    size_t n = 0;
    if (locus_etl_list(c, &v, &n, err) != 0)
        return cli_fail_line("etl show", err);
    if (as_json) {
        print_all_json(v, n);
        locus_etl_infos_free(v, n);
        return CLI_EXIT_OK;
    }
    if (n == 0) {
        fprintf(stderr, "no ETLs\n");
        return CLI_EXIT_OK;
    }
    static const cli_col_t cols[] = {
        {"NAME", false, 0, 0},   {"STAGE", false, 0, 0},     {"JOB ID", false, 0, 0},
        {"OBJECTS", true, 8, 8}, {"BYTES IN", true, 10, 10}, {"BYTES OUT", true, 10, 10},
    };
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    for (size_t i = 0; i < n; i++) {
        char objs[24], in[32], out[32];
        snprintf(objs, sizeof(objs), "%lld", (long long)v[i].obj_count);
        cli_human_size(v[i].in_bytes, in, sizeof(in));
        cli_human_size(v[i].out_bytes, out, sizeof(out));
        cli_table_add(&t, (const char *[]){v[i].name, v[i].stage,
                                           v[i].job_id[0] ? v[i].job_id : "-", objs, in, out});
    }
    cli_table_finish(&t, stdout);
    locus_etl_infos_free(v, n);
    return CLI_EXIT_OK;
}

static int show_one(locus_client_t *c, const char *name, const char *job)
{
    char err[LOCUS_ERR_LEN] = "";
    char what[300];
    snprintf(what, sizeof(what), "etl show %s", name);
    locus_etl_details_t d;
    int ret = CLI_EXIT_OK;
    if (locus_etl_show(c, name, job, &d, err) != 0) {
        ret = cli_fail_line(what, err);
        goto out;
    }
    /* The job id and counters come from the list (best effort). */
    locus_etl_info_t *v = NULL;
    size_t n = 0;
    locus_etl_info_t *me = NULL;
    if (locus_etl_list(c, &v, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++)
            if (strcmp(v[i].name, name) == 0)
                me = &v[i];
    printf("%-10s %s\n", "name", name);
    printf("%-10s %s\n", "stage", d.stage[0] ? d.stage : "-");
    if (d.reason[0])
        printf("%-10s %s\n", "reason", d.reason);
    if (me != NULL) {
        char in[32], out[32];
        cli_human_size(me->in_bytes, in, sizeof(in));
        cli_human_size(me->out_bytes, out, sizeof(out));
        if (me->job_id[0])
            printf("%-10s %s\n", "job id", me->job_id);
        printf("%-10s %lld (%s in, %s out)\n", "objects", (long long)me->obj_count, in, out);
    }
    locus_etl_infos_free(v, n);
    json_t *im = json_loads(d.init_msg, JSON_DECODE_ANY, NULL);
    char *pretty = im != NULL ? json_dumps(im, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    printf("init message:\n%s\n", pretty != NULL ? pretty : d.init_msg);
    free(pretty);
    json_decref(im);
    if (job != NULL) {
        printf("\nobject errors of job %s: %zu\n", job, d.n_obj_errors);
        for (size_t i = 0; i < d.n_obj_errors; i++) {
            char *m = cli_one_line(d.obj_errors[i].msg);
            printf("  %s  (%d) %s\n", d.obj_errors[i].obj_name, d.obj_errors[i].ecode, m);
            free(m);
        }
    }
out:
    locus_etl_details_dispose(&d);
    return ret;
}

static int etl_show(int argc, char **argv)
{
    const char *job = NULL;
    bool as_json = false;
    const cli_opt_t opts[] = {CLI_STR("job", &job), CLI_FLAG("json", &as_json)};
    static const cli_cmd_t cmd = {"etl", usage, 0, 1, "etl show: at most one NAME"};
    int pos, rc = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (rc != CLI_OPTS_GO)
        return rc;
    int npos = argc - pos;
    if (npos == 0 && job != NULL)
        return cli_usage_error("etl", "etl show: --job needs the ETL NAME");
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    int ret = npos == 0 ? show_all(c, as_json) : show_one(c, argv[pos], job);
    locus_client_destroy(c);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* object */

static int need_obj(const char *arg, char **bck, char **obj)
{
    int ret = cli_parse_name("etl", arg, bck, obj);
    if (ret != 0)
        return ret;
    if (*obj == NULL || (*obj)[0] == '\0') {
        free(*bck);
        free(*obj);
        *bck = *obj = NULL;
        return cli_usage_error("etl", "\"%s\": need BUCKET/OBJECT", arg);
    }
    return 0;
}

typedef struct {
    locus_client_t *c;
    const char *name, *args, *bck, *obj;
    int64_t n;
} inline_t;

static int fetch_inline(int fd, void *arg)
{
    inline_t *x = arg;
    char err[LOCUS_ERR_LEN] = "";
    if (locus_etl_object_get_fd(x->c, x->name, x->args, x->bck, x->obj, fd, &x->n, err) == 0)
        return 0;
    char what[600];
    snprintf(what, sizeof(what), "etl object %s ais://%s/%s", x->name, x->bck, x->obj);
    return cli_fail_line(what, err);
}

static int object_inline(locus_client_t *c, const char *name, const char *args, const char *src,
                         const char *dst)
{
    char *bck = NULL, *obj = NULL;
    int ret = need_obj(src, &bck, &obj);
    if (ret != 0)
        return ret;
    inline_t x = {c, name, args, bck, obj, 0};
    ret = cli_download("etl object", dst, fetch_inline, &x);
    if (ret == 0 && strcmp(dst, "-") != 0) {
        char sz[32];
        cli_human_size(x.n, sz, sizeof(sz));
        fprintf(stderr, "transformed ais://%s/%s with %s => %s (%s)\n", bck, obj, name, dst, sz);
    }
    free(bck);
    free(obj);
    return ret;
}

static int object_copy(locus_client_t *c, const char *name, const char *args, const char *src,
                       const char *dst)
{
    char *sb = NULL, *so = NULL, *db = NULL, *dobj = NULL;
    int ret = need_obj(src, &sb, &so);
    if (ret != 0)
        return ret;
    ret = cli_parse_name("etl", dst, &db, &dobj);
    if (ret != 0)
        goto out;
    if (dobj == NULL || dobj[0] == '\0' || str_has_suffix(dobj, "/")) {
        /* DST is a bucket or a "directory": keep the source's name (its base after a '/'). */
        const char *base = dobj != NULL && dobj[0] ? strrchr(so, '/') : NULL;
        char *nn = xasprintf("%s%s", dobj != NULL ? dobj : "", base != NULL ? base + 1 : so);
        free(dobj);
        dobj = nn;
    }
    char err[LOCUS_ERR_LEN] = "";
    if (locus_etl_object_copy(c, name, args, sb, so, db, dobj, err) != 0) {
        char what[600];
        snprintf(what, sizeof(what), "etl object %s cp ais://%s/%s", name, sb, so);
        ret = cli_fail_line(what, err);
        goto out;
    }
    printf("transformed ais://%s/%s with %s => ais://%s/%s\n", sb, so, name, db, dobj);
out:
    free(sb);
    free(so);
    free(db);
    free(dobj);
    return ret;
}

#define OBJECT_ARGS "etl object: need NAME BUCKET/OBJ OUT|- or NAME cp SRC DST"

static int etl_object(int argc, char **argv)
{
    const char *args = NULL;
    const cli_opt_t opts[] = {CLI_STR("args", &args)};
    static const cli_cmd_t cmd = {"etl", usage, 3, 4, OBJECT_ARGS};
    int first, rc = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &first);
    if (rc != CLI_OPTS_GO)
        return rc;
    char **pos = argv + first;
    bool cp = argc - first == 4;
    if (cp && strcmp(pos[1], "cp") != 0)
        return cli_usage_error("etl", OBJECT_ARGS);
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    int ret = cp ? object_copy(c, pos[0], args, pos[2], pos[3])
                 : object_inline(c, pos[0], args, pos[1], pos[2]);
    locus_client_destroy(c);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* bucket */

/* Number of objects of bck under prefix (all pages); -1 if the listing fails. */
static int64_t count_objects(locus_client_t *c, const char *bck, const char *prefix)
{
    locus_lso_opts_t lo = {.prefix = prefix, .props = "name"};
    int64_t total = 0;
    char *uuid = NULL, *token = NULL;
    for (;;) {
        locus_lso_page_t page;
        lo.uuid = uuid;
        lo.continuation_token = token;
        int rc = locus_object_list_page(c, bck, &lo, &page, NULL);
        free(uuid);
        free(token);
        uuid = token = NULL;
        if (rc != 0) {
            locus_lso_page_dispose(&page);
            return -1;
        }
        total += (int64_t)page.n;
        bool more = page.continuation_token != NULL && page.continuation_token[0] != '\0';
        if (more) {
            uuid = page.uuid != NULL ? xstrdup(page.uuid) : NULL;
            token = xstrdup(page.continuation_token);
        }
        locus_lso_page_dispose(&page);
        if (!more)
            break;
    }
    return total;
}

static void draw_bar(int64_t done, int64_t total, int64_t bytes, double secs)
{
    char sz[32];
    cli_human_size(bytes, sz, sizeof(sz));
    if (total > 0) {
        double frac = (double)done / (double)total;
        if (frac > 1)
            frac = 1;
        enum { W = 30 };
        char bar[W + 1];
        int fill = (int)(frac * W);
        for (int i = 0; i < W; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[W] = '\0';
        fprintf(stderr, "\r\033[K[%s] %3.0f%%  %lld/%lld objects  %s written  %.1fs", bar,
                frac * 100, (long long)done, (long long)total, sz, secs);
    } else {
        fprintf(stderr, "\r\033[K%lld objects  %s written  %.1fs", (long long)done, sz, secs);
    }
    fflush(stderr);
}

/* The progress display of `etl bucket --wait`: the job's counters after every poll, drawn as a
 * bar when stderr is a terminal. */
typedef struct {
    locus_client_t *c;
    const char *job;
    bool tty, drawn;
    int64_t total, t0;
    locus_job_totals_t t;
} progress_t;

static void on_poll(const locus_job_status_t *st, void *arg)
{
    (void)st;
    progress_t *p = arg;
    locus_job_totals(p->c, p->job, &p->t, NULL);
    if (p->tty) {
        draw_bar(p->t.loc_objs + p->t.out_objs, p->total, p->t.written_bytes,
                 (double)(time_mono_ns() - p->t0) / 1e9);
        p->drawn = true;
    }
}

/* Lists the job's per-object failures (with --cont-on-err the job itself succeeds). */
static int obj_errors(locus_client_t *c, const char *name, const char *job, const char *what,
                      int ret)
{
    locus_etl_details_t d;
    if (locus_etl_show(c, name, job, &d, NULL) == 0 && d.n_obj_errors > 0) {
        size_t show = d.n_obj_errors < 20 ? d.n_obj_errors : 20;
        for (size_t i = 0; i < show; i++) {
            char *m = cli_one_line(d.obj_errors[i].msg);
            fprintf(stderr, "locus: etl bucket: %s: %s\n", d.obj_errors[i].obj_name, m);
            free(m);
        }
        if (show < d.n_obj_errors)
            fprintf(stderr, "... and %zu more (locus etl show %s --job %s)\n",
                    d.n_obj_errors - show, name, job);
        if (ret == CLI_EXIT_OK)
            ret = cli_fail(what, "%zu objects failed to transform", d.n_obj_errors);
    }
    locus_etl_details_dispose(&d);
    return ret;
}

/* The error of a job that ended badly: `job was aborted|failed[: <its error>]`. */
static int job_failed(const char *what, const locus_job_status_t *st)
{
    const char *how = st->aborted ? "was aborted" : "failed";
    if (st->err == NULL || st->err[0] == '\0')
        return cli_fail(what, "job %s", how);
    char *m = cli_one_line(st->err);
    int ret = cli_fail(what, "job %s: %s", how, m);
    free(m);
    return ret;
}

static int wait_bucket(locus_client_t *c, const char *name, const char *job, const char *src,
                       const char *dst, const char *prefix, bool dry_run, int64_t timeout)
{
    char err[LOCUS_ERR_LEN] = "";
    char what[300];
    snprintf(what, sizeof(what), "etl bucket %s", job);
    progress_t p = {.c = c, .job = job, .tty = isatty(2)};
    p.total = p.tty ? count_objects(c, src, prefix) : -1;
    p.t0 = time_mono_ns(); /* the wait's time and timeout start after the listing */
    locus_job_status_t st;
    int rc = locus_job_wait_progress(c, job, timeout, on_poll, &p, &st, err);
    /* LOCUS_ETIMEDOUT is also a request's own timeout: the wait's is the one past its limit. */
    bool late = rc == LOCUS_ETIMEDOUT && timeout > 0 && time_mono_ns() - p.t0 >= timeout;
    int ret = CLI_EXIT_OK;
    if (rc != 0 && rc != LOCUS_EJOB && !late) {
        if (p.drawn) /* a status request failed: the bar goes, the error takes its line */
            fputs("\r\033[K", stderr);
        ret = cli_fail_line(what, err);
    } else {
        if (p.drawn)
            fputs("\n", stderr);
        if (late) {
            ret = cli_fail(what, "still running after the timeout");
        } else if (rc == LOCUS_EJOB) {
            ret = job_failed(what, &st);
        } else {
            char sz[32];
            cli_human_size(p.t.written_bytes, sz, sizeof(sz));
            fprintf(stderr,
                    "etl bucket %s: %s %lld objects of ais://%s into ais://%s (%s) in %.2fs\n", job,
                    dry_run ? "dry run, would transform" : "transformed",
                    (long long)(p.t.loc_objs + p.t.out_objs), src, dst, sz,
                    (double)(time_mono_ns() - p.t0) / 1e9);
        }
    }
    locus_job_status_dispose(&st);
    /* Per-object failures are listed once the job ended (well or not). */
    return rc == 0 || rc == LOCUS_EJOB ? obj_errors(c, name, job, what, ret) : ret;
}

static int etl_bucket(int argc, char **argv)
{
    locus_etl_bck_opts_t bo = {0};
    bool wait = false;
    int64_t timeout = 0;
    const char *ext_arg = NULL;
    int64_t workers = 0;
    const cli_opt_t opts[] = {
        CLI_STR("ext", &ext_arg),
        CLI_STR("prefix", &bo.prefix),
        CLI_STR("prepend", &bo.prepend),
        CLI_STR("args", &bo.args),
        CLI_FLAG("dry-run", &bo.dry_run),
        CLI_INT("num-workers", &workers, -1, 1024, "--num-workers: need a number (-1..1024)"),
        CLI_FLAG("cont-on-err", &bo.cont_on_err),
        CLI_FLAG("force", &bo.force),
        CLI_WAIT_OPTS(&wait, &timeout),
    };
    static const cli_cmd_t cmd = {"etl", usage, 3, 3, "etl bucket: need NAME SRC DST"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    bo.num_workers = (int)workers;
    const char *name = argv[pos];
    char err[LOCUS_ERR_LEN] = "";
    char *ext = NULL, *src = NULL, *dst = NULL, *so = NULL, *dobj = NULL, *job = NULL;
    ret = CLI_EXIT_OK;
    locus_client_t *c = NULL;
    if (ext_arg != NULL && locus_etl_parse_ext(ext_arg, &ext, err) != 0) {
        ret = cli_usage_error("etl", "--ext: %s", err);
        goto out;
    }
    bo.ext = ext;
    if ((ret = cli_parse_name("etl", argv[pos + 1], &src, &so)) != 0 ||
        (ret = cli_parse_name("etl", argv[pos + 2], &dst, &dobj)) != 0)
        goto out;
    if ((so != NULL && so[0]) || (dobj != NULL && dobj[0])) {
        ret = cli_usage_error("etl", "etl bucket: SRC and DST are buckets (use --prefix to "
                                     "select objects)");
        goto out;
    }
    if ((c = cli_client()) == NULL) {
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    char what[300];
    snprintf(what, sizeof(what), "etl bucket %s ais://%s ais://%s", name, src, dst);
    if (locus_etl_bucket(c, name, src, dst, &bo, &job, err) != 0) {
        ret = cli_fail_line(what, err);
        goto out;
    }
    printf("%s\n", job);
    fflush(stdout);
    if (wait)
        ret = wait_bucket(c, name, job, src, dst, bo.prefix, bo.dry_run, timeout);
out:
    locus_client_destroy(c);
    free(job);
    free(ext);
    free(src);
    free(so);
    free(dst);
    free(dobj);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* stop, start, rm, logs, health */

/* The start of the subcommands without options (ETL names may start with '-'): --help, from min
 * to max operands (max -1 = any; else the usage error bad), a client (*c, caller destroys).
 * CLI_OPTS_GO or the exit code. */
static int simple_args(int argc, char **argv, int min, int max, const char *bad, locus_client_t **c)
{
    *c = NULL;
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc - 1 < min || (max >= 0 && argc - 1 > max))
        return cli_usage_error("etl", "%s", bad);
    return (*c = cli_client()) == NULL ? CLI_EXIT_FAIL : CLI_OPTS_GO;
}

static int etl_simple(const char *verb, int argc, char **argv);

/* `etl stop|start|rm -f SPEC`: the ETLs the spec file defines, in its order. */
static int etl_simple_spec(const char *verb, const char *file)
{
    char what[32];
    snprintf(what, sizeof(what), "etl %s", verb);
    init_t in = {.file = file, .verb = what};
    char **msgs = NULL;
    size_t n = 0;
    int ret = spec_msgs(&in, &msgs, &n);
    if (ret == 0) {
        char **names = xcalloc(n + 2, sizeof(*names));
        names[0] = xstrdup(verb);
        for (size_t i = 0; i < n; i++)
            names[i + 1] = msg_name(msgs[i]);
        ret = etl_simple(verb, (int)n + 1, names);
        locus_strv_free(names, n + 1);
    }
    locus_strv_free(msgs, n);
    return ret;
}

static int etl_simple(const char *verb, int argc, char **argv)
{
    if (argc == 3 && (strcmp(argv[1], "-f") == 0 || strcmp(argv[1], "--file") == 0))
        return etl_simple_spec(verb, argv[2]);
    char bad[64];
    snprintf(bad, sizeof(bad), "etl %s: need an ETL NAME", verb);
    locus_client_t *c;
    int ret = simple_args(argc, argv, 1, -1, bad, &c);
    if (ret != CLI_OPTS_GO)
        return ret;
    ret = CLI_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        char err[LOCUS_ERR_LEN] = "";
        int rc = strcmp(verb, "stop") == 0    ? locus_etl_stop(c, argv[i], err)
                 : strcmp(verb, "start") == 0 ? locus_etl_start(c, argv[i], err)
                                              : locus_etl_delete(c, argv[i], err);
        if (rc != 0) {
            char what[300];
            snprintf(what, sizeof(what), "etl %s %s", verb, argv[i]);
            ret = cli_fail_line(what, err);
            continue;
        }
        printf("%s ETL %s\n",
               strcmp(verb, "stop") == 0    ? "stopped"
               : strcmp(verb, "start") == 0 ? "started"
                                            : "removed",
               argv[i]);
    }
    locus_client_destroy(c);
    return ret;
}

/* `etl logs|health NAME ...`: fetch (0, or an error with err filled) then prints. */
static int one_etl(const char *verb, int argc, char **argv, int max, const char *bad,
                   int (*fetch)(locus_client_t *c, int argc, char **argv, char *err))
{
    locus_client_t *c;
    int ret = simple_args(argc, argv, 1, max, bad, &c);
    if (ret != CLI_OPTS_GO)
        return ret;
    char err[LOCUS_ERR_LEN] = "";
    ret = CLI_EXIT_OK;
    if (fetch(c, argc, argv, err) != 0) {
        char what[300];
        snprintf(what, sizeof(what), "etl %s %s", verb, argv[1]);
        ret = cli_fail_line(what, err);
    }
    locus_client_destroy(c);
    return ret;
}

static int print_logs(locus_client_t *c, int argc, char **argv, char *err)
{
    locus_etl_log_t *v = NULL;
    size_t n = 0;
    int rc = locus_etl_logs(c, argv[1], argc == 3 ? argv[2] : NULL, &v, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        printf("%s=== target %s ===\n", i ? "\n" : "", v[i].target_id);
        if (v[i].len == 0) {
            printf("(no output)\n");
            continue;
        }
        fwrite(v[i].data, 1, v[i].len, stdout);
        if (v[i].data[v[i].len - 1] != '\n')
            fputc('\n', stdout);
    }
    if (rc == 0 && n == 0)
        fprintf(stderr, "no logs (no target answered)\n");
    locus_etl_logs_free(v, n);
    return rc;
}

static int print_health(locus_client_t *c, int argc, char **argv, char *err)
{
    (void)argc;
    locus_etl_health_t *v = NULL;
    size_t n = 0;
    int rc = locus_etl_health(c, argv[1], &v, &n, err);
    if (rc == 0) {
        static const cli_col_t cols[] = {{"TARGET", false, 0, 0}, {"STATUS", false, 0, 0}};
        cli_table_t t;
        cli_table_init(&t, cols, ARRAY_SIZE(cols));
        for (size_t i = 0; i < n; i++)
            cli_table_add(&t, (const char *[]){v[i].target_id, v[i].status[0] ? v[i].status : "-"});
        cli_table_finish(&t, stdout);
    }
    locus_etl_health_free(v, n);
    return rc;
}

static int etl_logs(int argc, char **argv)
{
    return one_etl("logs", argc, argv, 2, "etl logs: need NAME and optionally TARGET", print_logs);
}

static int etl_health(int argc, char **argv)
{
    return one_etl("health", argc, argv, 1, "etl health: need one ETL NAME", print_health);
}

static int etl_stop(int argc, char **argv)
{
    return etl_simple("stop", argc, argv);
}

static int etl_start(int argc, char **argv)
{
    return etl_simple("start", argc, argv);
}

static int etl_rm(int argc, char **argv)
{
    return etl_simple("rm", argc, argv);
}

int locus_cli_cmd_etl(int argc, char **argv)
{
    static const cli_sub_t subs[] = {
        {"init", etl_init},     {"show", etl_show}, {"ls", etl_show},      {"object", etl_object},
        {"bucket", etl_bucket}, {"stop", etl_stop}, {"start", etl_start},  {"rm", etl_rm},
        {"delete", etl_rm},     {"logs", etl_logs}, {"health", etl_health}};
    return cli_dispatch("etl", usage, subs, ARRAY_SIZE(subs), CLI_HELP_WORD, argc, argv);
}
