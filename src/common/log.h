/*
 * log.h - the one logging module of the daemons.
 *
 * Lines look like `pid:R 2026-11-25 15:58:14.123 N message` where R is the role
 * (P proxy, T target, E ETL server, C client tools) and the level letter is one
 * of D V N W. LOCUS_LOG checks the level before evaluating its arguments.
 */
#ifndef LOCUS_COMMON_LOG_H
#define LOCUS_COMMON_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3 };

extern int log_threshold;

/* Sets the role letter, the level and the destination (NULL or "" = stderr). 0 or -errno. */
int log_init(char role, int level, const char *path);
/* Parses "debug|verbose|notice|warning" (or "info" = notice, "warn"/"error" = warning). -1 if
 * unknown. */
int log_level_parse(const char *s);
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOCUS_LOG(level, ...)                                                                      \
    do {                                                                                           \
        if ((level) >= log_threshold)                                                              \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)

#endif
