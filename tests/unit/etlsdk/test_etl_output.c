/*
 * test_etl_output.c - the transform output object of liblocus-etl (src/etlsdk/etl_output.c):
 * set_static/set_copy/set_owned/write/set_error semantics, the switch to streaming with
 * backpressure, and cancellation of a blocked writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etlsdk/internal.h"

static int frees;
static void count_free(void *p)
{
    frees++;
    free(p);
}

static void test_buffers(void **state)
{
    locus_etl_output_t o;
    const char *p;
    size_t n;
    locus_etl__output_init(&o, true);
    locus_etl__output_bytes(&o, &p, &n); /* nothing set: empty result */
    assert_int_equal(n, 0);
    assert_int_equal(locus_etl_set_static(&o, "abc", 3), 0);
    locus_etl__output_bytes(&o, &p, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "abc", 3);
    char tmp[] = "xyz";
    assert_int_equal(locus_etl_set_copy(&o, tmp, 3), 0);
    tmp[0] = 'q';
    locus_etl__output_bytes(&o, &p, &n);
    assert_memory_equal(p, "xyz", 3);
    frees = 0;
    assert_int_equal(locus_etl_set_owned(&o, strdup("owned"), 5, count_free), 0);
    assert_int_equal(locus_etl_set_owned(&o, strdup("again"), 5, count_free), 0);
    assert_int_equal(frees, 1); /* the replaced buffer was freed */
    /* writing after a set_* is misuse */
    assert_int_equal(locus_etl_write(&o, "x", 1), LOCUS_ETL_EINVAL);
    locus_etl__output_dispose(&o);
    assert_int_equal(frees, 2);
}

static void test_write_and_error(void **state)
{
    locus_etl_output_t o;
    const char *p;
    size_t n;
    locus_etl__output_init(&o, false);
    o.state = JOB_RUNNING;
    assert_int_equal(locus_etl_write(&o, "ab", 2), 0);
    assert_int_equal(locus_etl_printf(&o, "-%d-", 42), 0);
    assert_int_equal(locus_etl_write(&o, NULL, 0), 0);
    frees = 0;
    /* set after write is misuse, and the owned buffer is still freed */
    assert_int_equal(locus_etl_set_owned(&o, strdup("z"), 1, count_free), LOCUS_ETL_EINVAL);
    assert_int_equal(frees, 1);
    assert_int_equal(locus_etl_set_static(&o, "z", 1), LOCUS_ETL_EINVAL);
    /* big output without may_stream stays buffered */
    char *big = calloc(1, LOCUS_ETL__STREAM_AT + 10);
    assert_int_equal(locus_etl_write(&o, big, LOCUS_ETL__STREAM_AT + 10), 0);
    free(big);
    assert_int_equal(o.state, JOB_RUNNING);
    locus_etl__output_bytes(&o, &p, &n);
    assert_int_equal(n, 6 + LOCUS_ETL__STREAM_AT + 10);
    assert_memory_equal(p, "ab-42-", 6);
    assert_int_equal(locus_etl_set_error(&o, 0, "bad %s", "thing"), LOCUS_ETL_ERROR);
    assert_string_equal(o.err_msg, "bad thing");
    assert_int_equal(o.err_status, 0);
    assert_int_equal(locus_etl_set_error(&o, 404, "gone"), LOCUS_ETL_ERROR);
    assert_int_equal(o.err_status, 404);
    assert_int_equal(locus_etl_set_error(&o, 99, "x"), LOCUS_ETL_ERROR);
    assert_int_equal(o.err_status, 0);
    locus_etl__output_dispose(&o);
    assert_int_equal(locus_etl_write(NULL, "x", 1), LOCUS_ETL_EINVAL);
    assert_int_equal(locus_etl_set_static(NULL, "x", 1), LOCUS_ETL_EINVAL);
}

#define TOTAL (12u << 20)

static void *writer(void *arg)
{
    locus_etl_output_t *o = arg;
    char chunk[64 * 1024];
    int rc = 0;
    for (size_t sent = 0; sent < TOTAL && rc == 0; sent += sizeof(chunk)) {
        for (size_t i = 0; i < sizeof(chunk); i++)
            chunk[i] = (char)((sent + i) % 251);
        rc = locus_etl_write(o, chunk, sizeof(chunk));
    }
    pthread_mutex_lock(&o->mu);
    o->rc = rc;
    o->state = JOB_DONE;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

/* Drains like the server's stream reader; checks the byte pattern and the pending bound. */
static void test_streaming(void **state)
{
    locus_etl_output_t o;
    locus_etl__output_init(&o, true);
    o.state = JOB_RUNNING;
    pthread_t t;
    pthread_create(&t, NULL, writer, &o);
    pthread_mutex_lock(&o.mu);
    while (o.state != JOB_STREAMING && o.state != JOB_DONE)
        pthread_cond_wait(&o.cond, &o.mu);
    assert_int_equal(o.state, JOB_STREAMING);
    size_t got = 0;
    for (;;) {
        while (o.len == o.off && o.state != JOB_DONE)
            pthread_cond_wait(&o.cond, &o.mu);
        assert_true(o.len - o.off <= LOCUS_ETL__PENDING_MAX + 64 * 1024);
        if (o.len == o.off)
            break;
        size_t n = o.len - o.off > 100000 ? 100000 : o.len - o.off;
        for (size_t i = 0; i < n; i++)
            assert_int_equal((unsigned char)o.buf[o.off + i], (got + i) % 251);
        o.off += n;
        got += n;
        pthread_cond_broadcast(&o.cond);
    }
    pthread_mutex_unlock(&o.mu);
    pthread_join(t, NULL);
    assert_int_equal(got, TOTAL);
    assert_int_equal(o.rc, 0);
    assert_true(o.cap <= 2 * (LOCUS_ETL__PENDING_MAX + 64 * 1024)); /* bounded memory */
    locus_etl__output_dispose(&o);
}

/* A writer blocked on a slow (here: absent) reader is released by cancel. */
static void test_cancel(void **state)
{
    locus_etl_output_t o;
    locus_etl__output_init(&o, true);
    o.state = JOB_RUNNING;
    pthread_t t;
    pthread_create(&t, NULL, writer, &o);
    pthread_mutex_lock(&o.mu);
    while (o.state == JOB_RUNNING)
        pthread_cond_wait(&o.cond, &o.mu);
    pthread_mutex_unlock(&o.mu);
    locus_etl__output_cancel(&o);
    pthread_join(t, NULL);
    assert_int_equal(o.rc, LOCUS_ETL_ECANCELED);
    assert_int_equal(locus_etl_write(&o, "x", 1), LOCUS_ETL_ECANCELED);
    locus_etl__output_dispose(&o);
}

/* locus_etl_read over memory (a ws message) and over a file (FQN, spooled body), with
 * cancellation. */
static void test_reader(void **state)
{
    locus_etl_output_t o;
    locus_etl__output_init(&o, true);
    locus_etl_reader_t r = {.mem = "hello world", .len = 11, .out = &o};
    char b[8];
    assert_int_equal(locus_etl_read(&r, b, sizeof(b)), 8);
    assert_memory_equal(b, "hello wo", 8);
    assert_int_equal(locus_etl_read(&r, b, sizeof(b)), 3);
    assert_memory_equal(b, "rld", 3);
    assert_int_equal(locus_etl_read(&r, b, sizeof(b)), 0);
    assert_int_equal(locus_etl_read(NULL, b, 1), LOCUS_ETL_EINVAL);
    assert_int_equal(locus_etl_read(&r, NULL, 1), LOCUS_ETL_EINVAL);

    int fd = locus_etl__tmpfile();
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    lseek(fd, 0, SEEK_SET);
    locus_etl_reader_t f = {.use_fd = true, .fd = fd, .out = &o};
    assert_int_equal(locus_etl_read(&f, b, 6), 6);
    assert_memory_equal(b, "012345", 6);
    locus_etl__output_cancel(&o);
    assert_int_equal(locus_etl_read(&f, b, 6), LOCUS_ETL_ECANCELED);
    close(fd);
    locus_etl__output_dispose(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buffers),   cmocka_unit_test(test_write_and_error),
        cmocka_unit_test(test_streaming), cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
