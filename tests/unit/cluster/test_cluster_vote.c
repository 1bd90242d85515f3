/*
 * test_cluster_vote.c - the parts of primary failover that need no cluster (src/cluster/vote.c):
 * the HRW order of the proxies for the primary role (AIStore's HrwProxy: the highest id digest,
 * the dead primary and proxies in maintenance or being decommissioned left out), and the
 * validation of the vote message, whose bytes come from the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/meta.h"
#include "cluster/vote.h"
#include "common/hrw.h"
#include "common/util.h"

/* A map with proxies p1..pN (p1 primary, flags[i] on proxy i+1) and one target t1. */
static smap_t *make_smap(int nproxies, const uint32_t *flags)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{\"tmap\":{\"t1\":{\"public_net\":{\"direct_url\":\"http://t1:1\"}}},\"pmap\":{");
    for (int i = 0; i < nproxies; i++)
        buf_printf(&b, "%s\"p%d\":{\"public_net\":{\"direct_url\":\"http://p%d:1\"},\"flags\":%u}",
                   i ? "," : "", i + 1, i + 1, flags ? flags[i] : 0);
    buf_puts(&b, "},\"proxy_si\":{\"daemon_id\":\"p1\"},\"uuid\":\"U1\",\"version\":\"7\"}");
    json_t *j = json_loads(b.base, JSON_DECODE_INT_AS_REAL, NULL);
    buf_dispose(&b);
    smap_t *s = smap_from_json(j);
    json_decref(j);
    assert_non_null(s);
    return s;
}

/* The expected next primary: the highest digest among p2..pN without excluded flags. */
static const char *expected_next(int nproxies, const uint32_t *flags, char *buf)
{
    uint64_t best = 0;
    buf[0] = '\0';
    for (int i = 1; i < nproxies; i++) {
        if (flags && (flags[i] & (SNODE_MAINT | SNODE_DECOMM)))
            continue;
        char id[16];
        snprintf(id, sizeof(id), "p%d", i + 1);
        uint64_t d = hrw_digest_str(id);
        if (buf[0] == '\0' || d > best) {
            best = d;
            strcpy(buf, id);
        }
    }
    return buf;
}

static void test_rank_skips_primary_and_flags(void **state)
{
    (void)state;
    char want[16];
    for (int n = 2; n <= 7; n++) {
        smap_t *s = make_smap(n, NULL);
        const snode_t *next = vote_next_primary(s, "p1");
        assert_non_null(next);
        assert_string_equal(next->id, expected_next(n, NULL, want));
        /* the whole order: digests descending, p1 absent */
        size_t idx[8];
        size_t k = vote_rank(s, "p1", idx, 8);
        assert_int_equal(k, (size_t)n - 1);
        for (size_t i = 0; i < k; i++) {
            assert_string_not_equal(s->proxies[idx[i]].id, "p1");
            if (i)
                assert_true(s->proxies[idx[i - 1]].digest >= s->proxies[idx[i]].digest);
        }
        smap_put(s);
    }
    /* the winner in maintenance, then decommissioned: the next one; DOWN does not matter */
    uint32_t flags[5] = {0};
    smap_t *s = make_smap(5, flags);
    char first[16];
    snprintf(first, sizeof(first), "%s", vote_next_primary(s, "p1")->id);
    int w = atoi(first + 1) - 1;
    smap_put(s);
    uint32_t fl[] = {SNODE_MAINT, SNODE_DECOMM, SNODE_DOWN};
    for (size_t f = 0; f < 3; f++) {
        memset(flags, 0, sizeof(flags));
        flags[w] = fl[f];
        s = make_smap(5, flags);
        assert_string_equal(vote_next_primary(s, "p1")->id, expected_next(5, flags, want));
        if (fl[f] == SNODE_DOWN)
            assert_string_equal(want, first);
        else
            assert_string_not_equal(want, first);
        smap_put(s);
    }
    /* nobody left: only the primary, or every other proxy in maintenance */
    s = make_smap(1, NULL);
    assert_null(vote_next_primary(s, "p1"));
    smap_put(s);
    uint32_t all[3] = {0, SNODE_MAINT, SNODE_MAINT};
    s = make_smap(3, all);
    assert_null(vote_next_primary(s, "p1"));
    /* without a skip the primary competes too */
    assert_non_null(vote_next_primary(s, NULL));
    smap_put(s);
}

static char *valid_msg(void)
{
    smap_t *s = make_smap(3, NULL);
    vote_record_t r = {.smap = s, .start_time = 1700000000000000000LL};
    strcpy(r.candidate, "p2");
    strcpy(r.primary, "p1");
    strcpy(r.initiator, "p2");
    char *t = vote_msg_text(&r);
    vote_record_dispose(&r);
    return t;
}

static void test_msg_round_trip(void **state)
{
    (void)state;
    char *t = valid_msg();
    vote_record_t r;
    char err[256];
    assert_int_equal(vote_msg_parse(t, strlen(t), &r, err, sizeof(err)), 0);
    assert_string_equal(r.candidate, "p2");
    assert_string_equal(r.primary, "p1");
    assert_string_equal(r.initiator, "p2");
    assert_int_equal(r.smap->version, 7);
    assert_string_equal(r.smap->uuid, "U1");
    assert_int_equal(r.smap->n_proxies, 3);
    vote_record_dispose(&r);
    assert_null(r.smap);
    free(t);
}

/* Replaces the first occurrence of from in text by to; caller frees. */
static char *subst(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    assert_non_null(p);
    return xasprintf("%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
}

static void test_msg_invalid(void **state)
{
    (void)state;
    char *t = valid_msg();
    static const char *const bad[][2] = {
        {"\"candidate\":\"p2\"", "\"candidate\":\"../p2\""}, /* id alphabet */
        {"\"candidate\":\"p2\"", "\"candidate\":\"t1\""},    /* a target */
        {"\"candidate\":\"p2\"", "\"candidate\":\"p9\""},    /* not in the map */
        {"\"candidate\":\"p2\"", "\"candidate\":\"p1\""},    /* the primary itself */
        {"\"candidate\":\"p2\"", "\"candidate\":7"},         /* not a string */
        {"\"primary\":\"p1\"", "\"primary\":\"p3\""},        /* not the map's primary */
        {"\"initiator\":\"p2\"", "\"initiator\":\"\""},      /* empty id */
        {"\"start_time\":", "\"start_time\":{},\"x\":"},     /* not a time */
        {"\"uuid\":\"U1\"", "\"uuid\":\"\""},                /* no uuid */
        {"\"version\":\"7\"", "\"version\":\"0\""},          /* no version */
        {"http://p2:1", "ftp://p2:1"},                       /* URL scheme */
        {"http://p2:1", "http://p2:1/ x"},                   /* URL with a space */
        {"\"vote_record\":", "\"vote_recor\":"},             /* no record */
        {"\"candidate\":\"p2\"", "\"candidate\":\"p2\",\"candidate\":\"p3\""}, /* duplicate key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *b = subst(t, bad[i][0], bad[i][1]);
        vote_record_t r;
        char err[256] = "";
        assert_int_equal(vote_msg_parse(b, strlen(b), &r, err, sizeof(err)), -1);
        assert_null(r.smap);
        assert_true(strncmp(err, "vote message: ", 14) == 0);
        free(b);
    }
    static const char *const junk[] = {
        "", "{", "[]", "null", "{\"vote_record\":[]}", "{\"vote_record\":{\"smap\":{}}}"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        vote_record_t r;
        char err[256];
        assert_int_equal(vote_msg_parse(junk[i], strlen(junk[i]), &r, err, sizeof(err)), -1);
    }
    vote_record_t r;
    char err[256];
    assert_int_equal(vote_msg_parse(NULL, 0, &r, err, sizeof(err)), -1);
    assert_int_equal(vote_msg_parse(t, (1 << 20) + 1, &r, err, sizeof(err)), -1); /* too big */
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_skips_primary_and_flags),
        cmocka_unit_test(test_msg_round_trip),
        cmocka_unit_test(test_msg_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
