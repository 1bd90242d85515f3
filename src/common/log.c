/*
 * log.c - level-filtered, line-atomic logging to stderr or a file.
 */
#include "common/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

int log_threshold = LOG_NOTICE;
static char log_role = '-';
static int log_fd = 2;

int log_init(char role, int level, const char *path)
{
    log_role = role;
    if (level >= LOG_DEBUG && level <= LOG_WARNING)
        log_threshold = level;
    if (path != NULL && path[0] != '\0') {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        log_fd = fd;
    }
    return 0;
}

int log_level_parse(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"debug", LOG_DEBUG},   {"verbose", LOG_VERBOSE}, {"info", LOG_NOTICE},
                 {"notice", LOG_NOTICE}, {"warning", LOG_WARNING}, {"warn", LOG_WARNING},
                 {"error", LOG_WARNING}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].level;
    return -1;
}

void log_write(int level, const char *fmt, ...)
{
    static const char letters[] = "DVNW";
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n =
        snprintf(line, sizeof(line), "%d:%c %04d-%02d-%02d %02d:%02d:%02d.%03d %c ", (int)getpid(),
                 log_role, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, (int)(tv.tv_usec / 1000), letters[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines whole across threads (O_APPEND). */
    ssize_t w;
    do {
        w = write(log_fd, line, n);
    } while (w < 0 && errno == EINTR);
}
