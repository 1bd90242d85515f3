/*
 * etl_log.c - liblocus-etl's logging: one overridable hook (STYLE.md 34). The default hook writes
 * `pid:E YYYY-MM-DD HH:MM:SS.mmm L msg` lines to stderr, the daemons' format with role E.
 */
#include "etlsdk/internal.h"

#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The hook is set once before the server starts; readers only load it. */
static locus_etl_log_cb log_hook;
static void *log_hook_ud;
static atomic_int log_level = LOCUS_ETL_LOG_NOTICE;

static void default_hook(locus_etl_log_level_t level, const char *msg, void *ud)
{
    static const char letters[] = "DVNW";
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
    /* One fprintf per line: stdio locks the stream, so lines from threads don't interleave. */
    fprintf(stderr, "%d:E %s.%03d %c %s\n", (int)getpid(), ts, (int)(tv.tv_usec / 1000),
            letters[level & 3], msg);
}

void locus_etl_set_log_hook(locus_etl_log_cb cb, void *userdata)
{
    log_hook = cb;
    log_hook_ud = userdata;
}

void locus_etl_set_log_level(locus_etl_log_level_t level)
{
    atomic_store(&log_level, (int)level);
}

void locus_etl__vlog(locus_etl_log_level_t level, const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&log_level))
        return;
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (log_hook != NULL)
        log_hook(level, msg, log_hook_ud);
    else
        default_hook(level, msg, NULL);
}

void locus_etl_log(locus_etl_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    locus_etl__vlog(level, fmt, ap);
    va_end(ap);
}

int locus_etl__log_level_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcasecmp(s, "debug") == 0)
        return LOCUS_ETL_LOG_DEBUG;
    if (strcasecmp(s, "verbose") == 0)
        return LOCUS_ETL_LOG_VERBOSE;
    if (strcasecmp(s, "notice") == 0 || strcasecmp(s, "info") == 0)
        return LOCUS_ETL_LOG_NOTICE;
    if (strcasecmp(s, "warning") == 0 || strcasecmp(s, "warn") == 0 || strcasecmp(s, "error") == 0)
        return LOCUS_ETL_LOG_WARNING;
    return -1;
}

const char *locus_etl_strerror(int code)
{
    switch (code) {
    case LOCUS_ETL_OK:
        return "success";
    case LOCUS_ETL_ERROR:
        return "transform failed";
    case LOCUS_ETL_EINVAL:
        return "invalid argument";
    case LOCUS_ETL_ENOMEM:
        return "out of memory";
    case LOCUS_ETL_ECANCELED:
        return "request canceled";
    case LOCUS_ETL_EIO:
        return "I/O error";
    default:
        return "unknown error";
    }
}
