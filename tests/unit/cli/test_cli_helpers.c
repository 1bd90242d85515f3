/*
 * test_cli_helpers.c - unit tests for the CLI's shared helpers (src/cli/cli_table.c,
 * cli_opts.c, cli_util.c): the table printer, the option-table parser and the
 * download-to-temp-then-rename.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "common/util.h"

/* Runs fn(t) with output to a memory stream and returns what it printed (caller frees). */
static char *table_text(cli_table_t *t, bool finish)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (finish)
        cli_table_finish(t, f);
    else
        cli_table_flush(t, f);
    fclose(f);
    return text;
}

static void test_table_widths_from_data(void **state)
{
    (void)state;
    static const cli_col_t cols[] = {
        {"ID", false, 0, 0}, {"SIZE", true, 0, 0}, {"NOTE", false, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    cli_table_add(&t, (const char *[]){"t1", "3 B", "ok"});
    cli_table_add(&t, (const char *[]){"target-22", "10.5 KiB", NULL});
    char *s = table_text(&t, true);
    /* Left column padded to its widest cell, right column aligned right (header too), the
     * last left-aligned column unpadded (empty last cells print nothing, no trailing blanks). */
    assert_string_equal(s, "ID             SIZE  NOTE\n"
                           "t1              3 B  ok\n"
                           "target-22  10.5 KiB\n");
    free(s);
}

static void test_table_min_max_and_wide_chars(void **state)
{
    (void)state;
    static const cli_col_t cols[] = {{"NAME", false, 0, 6}, {"N", true, 4, 4}, {"X", false, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    cli_table_add(&t, (const char *[]){"日本", "1", "a"});               /* 4 columns wide */
    cli_table_add(&t, (const char *[]){"much-too-long", "123456", "b"}); /* overflows */
    char *s = table_text(&t, true);
    assert_string_equal(s, "NAME       N  X\n"
                           "日本       1  a\n"
                           "much-too-long  123456  b\n");
    free(s);
}

static void test_table_batches_keep_first_widths(void **state)
{
    (void)state;
    static const cli_col_t cols[] = {{"A", false, 0, 0}, {"B", false, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    char *s = table_text(&t, false); /* nothing yet: no header */
    assert_string_equal(s, "");
    free(s);
    cli_table_add(&t, (const char *[]){"xx", "1"});
    s = table_text(&t, false);
    assert_string_equal(s, "A   B\nxx  1\n");
    free(s);
    cli_table_add(&t, (const char *[]){"yyyy", "2"});
    s = table_text(&t, false); /* widths of the first batch, no second header */
    assert_string_equal(s, "yyyy  2\n");
    free(s);
    cli_table_dispose(&t);
}

static void test_table_empty_finish_prints_header(void **state)
{
    (void)state;
    static const cli_col_t cols[] = {{"TARGET", false, 0, 0}, {"STATUS", false, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    char *s = table_text(&t, true);
    assert_string_equal(s, "TARGET  STATUS\n");
    free(s);
}

/* --- options --- */

static int usage_calls;
static void fake_usage(FILE *f)
{
    (void)f;
    usage_calls++;
}

static int opt_upper(const cli_opt_t *o, const char *cmd, const char *arg)
{
    if (arg[0] < 'A' || arg[0] > 'Z')
        return cli_usage_error(cmd, "%s", o->bad);
    *(const char **)o->dst = arg;
    return 0;
}

typedef struct {
    bool flag;
    const char *str, *up;
    int64_t num, dur;
} opts_t;

static int parse(opts_t *v, int argc, char **argv, int *first)
{
    memset(v, 0, sizeof(*v));
    v->num = -7;
    cli_opt_t opts[] = {
        CLI_FLAG("flag", &v->flag),
        CLI_STR("str", &v->str),
        CLI_INT("num", &v->num, -1, 10, "--num: need -1..10"),
        CLI_DURATION("dur", &v->dur, "--dur: need a duration"),
        CLI_FN("up", opt_upper, &v->up, "--up: need a capital"),
    };
    opts[1].short_name = 's';
    static const cli_cmd_t cmd = {"test", fake_usage, 0, -1, NULL};
    return cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, first);
}

static void test_options_values(void **state)
{
    (void)state;
    char *argv[] = {"sub",   "A",  "--flag", "-s",  "x y", "--num", "-1", "B",
                    "--dur", "2m", "--up",   "Zed", "--",  "--num", NULL};
    int argc = (int)ARRAY_SIZE(argv) - 1, first = -1;
    opts_t v;
    assert_int_equal(parse(&v, argc, argv, &first), CLI_OPTS_GO);
    assert_true(v.flag);
    assert_string_equal(v.str, "x y");
    assert_int_equal(v.num, -1);
    assert_int_equal(v.dur, 120LL * 1000000000LL);
    assert_string_equal(v.up, "Zed");
    /* Operands are moved behind the options, "--" ends them. */
    assert_int_equal(argc - first, 3);
    assert_string_equal(argv[first], "A");
    assert_string_equal(argv[first + 1], "B");
    assert_string_equal(argv[first + 2], "--num");
}

static void test_options_defaults_kept(void **state)
{
    (void)state;
    char *argv[] = {"sub", NULL};
    int first = -1;
    opts_t v;
    assert_int_equal(parse(&v, 1, argv, &first), CLI_OPTS_GO);
    assert_int_equal(first, 1);
    assert_false(v.flag);
    assert_null(v.str);
    assert_int_equal(v.num, -7);
}

static void test_options_bad_values(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"--num", "11"}, {"--num", "-2"},   {"--num", "3x"}, {"--num", ""},     {"--dur", "0"},
        {"--dur", "5x"}, {"--up", "lower"}, {"--nope", "1"}, {"--flag=1", "x"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *argv[] = {"sub", (char *)bad[i][0], (char *)bad[i][1], NULL};
        int first;
        opts_t v;
        if (parse(&v, 3, argv, &first) != CLI_EXIT_USAGE)
            fail_msg("%s %s accepted", bad[i][0], bad[i][1]);
    }
    char *missing[] = {"sub", "--str", NULL};
    int first;
    opts_t v;
    assert_int_equal(parse(&v, 2, missing, &first), CLI_EXIT_USAGE);
}

static void test_options_help(void **state)
{
    (void)state;
    char *argv[] = {"sub", "x", "--help", "--num", "99", NULL};
    int first;
    opts_t v;
    usage_calls = 0;
    assert_int_equal(parse(&v, 5, argv, &first), CLI_EXIT_OK);
    assert_int_equal(usage_calls, 1);
    char *argv2[] = {"sub", "-h", NULL};
    assert_int_equal(parse(&v, 2, argv2, &first), CLI_EXIT_OK);
    assert_int_equal(usage_calls, 2);
}

static void test_options_operand_count(void **state)
{
    (void)state;
    static const cli_cmd_t one_or_two = {"test", fake_usage, 1, 2, "need A and maybe B"};
    static const cli_cmd_t none = {"test", fake_usage, 0, 0, "unexpected argument \"%s\""};
    char *zero[] = {"sub", "--x", NULL}, *two[] = {"sub", "a", "b", NULL},
         *three[] = {"sub", "a", "b", "c", NULL};
    bool flag = false;
    const cli_opt_t opts[] = {CLI_FLAG("x", &flag)};
    int first;
    assert_int_equal(cli_options(&one_or_two, opts, 1, 2, zero, &first), CLI_EXIT_USAGE);
    assert_int_equal(cli_options(&one_or_two, opts, 1, 3, two, &first), CLI_OPTS_GO);
    assert_int_equal(first, 1);
    assert_int_equal(cli_options(&one_or_two, opts, 1, 4, three, &first), CLI_EXIT_USAGE);
    assert_int_equal(cli_options(&none, opts, 1, 2, zero, &first), CLI_OPTS_GO);
    assert_true(flag);
    assert_int_equal(cli_options(&none, opts, 1, 3, two, &first), CLI_EXIT_USAGE);
}

static void test_duration_limits(void **state)
{
    (void)state;
    assert_int_equal(cli_parse_duration("30s"), 30LL * 1000000000LL);
    assert_int_equal(cli_parse_duration("1000000h"), 1000000LL * 3600 * 1000000000LL);
    /* Past int64 (was an undefined cast), or too large for now + the duration. */
    assert_int_equal(cli_parse_duration("99999999999h"), -1);
    assert_int_equal(cli_parse_duration("2562047h"), -1);
    assert_int_equal(cli_parse_duration("1500000h1500000h"), -1);
}

/* --- download to temp, then rename --- */

static int fetch_ok(int fd, void *arg)
{
    const char *s = arg;
    return write_all(fd, s, strlen(s)) == 0 ? 0 : CLI_EXIT_FAIL;
}

static int fetch_fails_midway(int fd, void *arg)
{
    (void)arg;
    assert_int_equal(write_all(fd, "partial", 7), 0);
    return CLI_EXIT_FAIL;
}

/* Number of entries in dir besides . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_download(void **state)
{
    (void)state;
    char dir[] = "/tmp/locus-test-dl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *out = xasprintf("%s/obj", dir);

    /* A failed fetch leaves neither the file nor a temp file. */
    assert_int_equal(cli_download("get", out, fetch_fails_midway, NULL), CLI_EXIT_FAIL);
    assert_int_equal(count_entries(dir), 0);

    /* ... and does not touch an existing file of that name. */
    assert_int_equal(write_file_atomic(out, "old", 3), 0);
    assert_int_equal(cli_download("get", out, fetch_fails_midway, NULL), CLI_EXIT_FAIL);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(read_file(out, &data, &len), 0);
    assert_memory_equal(data, "old", 3);
    free(data);
    assert_int_equal(count_entries(dir), 1);

    /* A whole download replaces it, with the umask's usual mode. */
    mode_t um = umask(022);
    assert_int_equal(cli_download("get", out, fetch_ok, "new body"), 0);
    umask(um);
    assert_int_equal(read_file(out, &data, &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(data, "new body", 8);
    free(data);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(count_entries(dir), 1);

    /* A directory that does not exist: the error, and nothing written. */
    char *bad = xasprintf("%s/no/such/obj", dir);
    assert_int_equal(cli_download("get", bad, fetch_ok, "x"), CLI_EXIT_FAIL);
    free(bad);

    unlink(out);
    free(out);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_widths_from_data),
        cmocka_unit_test(test_table_min_max_and_wide_chars),
        cmocka_unit_test(test_table_batches_keep_first_widths),
        cmocka_unit_test(test_table_empty_finish_prints_header),
        cmocka_unit_test(test_options_values),
        cmocka_unit_test(test_options_defaults_kept),
        cmocka_unit_test(test_options_bad_values),
        cmocka_unit_test(test_options_help),
        cmocka_unit_test(test_options_operand_count),
        cmocka_unit_test(test_duration_limits),
        cmocka_unit_test(test_download),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
