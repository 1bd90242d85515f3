/*
 * fuzz_vote.c - the vote message of primary failover (src/cluster/vote.c vote_msg_parse): the
 * body of GET /v1/vote/proxy, which another node sends and which is parsed before anything else
 * is decided (AIStore's VoteMessage {"vote_record": {candidate, primary, smap, start_time,
 * initiator}}).
 *
 * Properties: a rejected message has an error text and no map; an accepted one has valid ids,
 * its candidate and primary are distinct proxies of its map, the primary is the map's, and it
 * survives vote_msg_text -> vote_msg_parse with the same fields.
 */
#include "fuzz.h"

#include "cluster/meta.h"
#include "cluster/vote.h"
#include "common/names.h"

static void check_accepted(const vote_record_t *r)
{
    FUZZ_CHECK(r->smap != NULL, "accepted without a map");
    const char *ids[] = {r->candidate, r->primary, r->initiator};
    for (size_t i = 0; i < 3; i++)
        FUZZ_CHECK(name_check_bucket(ids[i]) == NULL, "invalid id \"%s\" accepted", ids[i]);
    const snode_t *c = smap_find(r->smap, r->candidate);
    const snode_t *p = smap_find(r->smap, r->primary);
    FUZZ_CHECK(c && c->is_proxy, "candidate %s is not a proxy of the map", r->candidate);
    FUZZ_CHECK(p && p->is_proxy, "primary %s is not a proxy of the map", r->primary);
    FUZZ_CHECK(strcmp(r->candidate, r->primary) != 0, "candidate is the primary");
    FUZZ_CHECK(strcmp(r->smap->primary_id, r->primary) == 0, "primary is not the map's");
    FUZZ_CHECK(r->smap->version > 0, "version %lld", (long long)r->smap->version);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vote_record_t r;
    char err[320] = "";
    if (vote_msg_parse((const char *)data, size, &r, err, sizeof(err)) < 0) {
        FUZZ_CHECK(r.smap == NULL, "rejected with a map");
        FUZZ_CHECK(strncmp(err, "vote message: ", 14) == 0, "error text \"%s\"", err);
        return 0;
    }
    check_accepted(&r);
    char *t = vote_msg_text(&r);
    vote_record_t r2;
    int rc = vote_msg_parse(t, strlen(t), &r2, err, sizeof(err));
    FUZZ_CHECK(rc == 0, "re-encoded message rejected: %s (%s)", err, t);
    FUZZ_CHECK(strcmp(r.candidate, r2.candidate) == 0 && strcmp(r.primary, r2.primary) == 0 &&
                   strcmp(r.initiator, r2.initiator) == 0,
               "fields changed: %s", t);
    FUZZ_CHECK(r.smap->version == r2.smap->version && strcmp(r.smap->uuid, r2.smap->uuid) == 0 &&
                   r.smap->n_proxies == r2.smap->n_proxies &&
                   r.smap->n_targets == r2.smap->n_targets,
               "map changed: %s", t);
    vote_record_dispose(&r2);
    free(t);
    vote_record_dispose(&r);
    return 0;
}
