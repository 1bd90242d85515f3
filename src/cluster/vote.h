/*
 * vote.h - primary proxy failover (docs/design.md §4.4): choosing the next primary, the vote
 * the other proxies take on it, the new primary's takeover, the primary's handover to another
 * proxy (set-primary), and discovering the newest cluster map a restarting node missed.
 *
 * DESIGN
 * AIStore's rule. When a non-primary proxy's keepalives to the primary have failed for
 * VOTE_FAILED_KEEPALIVES intervals, and the newest map the live nodes hold still names the
 * dead primary, the proxy ranked first by HRW over the proxy ids (the map's proxies without
 * the primary and without maintenance/decommission flags; a proxy ranked above it that does
 * not answer is passed over) asks every other proxy of the map for its vote
 * (GET /v1/vote/proxy with a VoteMessage). A voter says YES when the primary is unreachable to
 * it too, the record's map is not older than its own and names the same primary, and its own
 * HRW gives the same candidate. With YES from a majority of the proxies that answered
 * (counting itself; alone when no other proxy answers) the candidate becomes primary: one new
 * smap version without the old primary and naming itself primary, BMD and EtlMD versions
 * above any a live node holds, all pushed by metasync (the confirmation: every node accepts
 * a newer map from the proxy it names primary). Elections run on the membership thread only,
 * so there is at most one at a time per node.
 */
#ifndef LOCUS_CLUSTER_VOTE_H
#define LOCUS_CLUSTER_VOTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/meta.h"
#include "net/net.h"

/* Keepalive intervals without an answer from the primary before a proxy acts. */
#define VOTE_FAILED_KEEPALIVES 3
/* Answers of GET /v1/vote/proxy (AIStore's). */
#define VOTE_YES "YES"
#define VOTE_NO "NO"

/* Proxies of s in HRW order for the primary role: the highest id digest first; skip_id (the
 * dead primary, or NULL) and proxies flagged maintenance/decommission are left out. Fills
 * out[] with indexes into s->proxies; returns how many (at most max). */
size_t vote_rank(const smap_t *s, const char *skip_id, size_t *out, size_t max);
/* The first of vote_rank, or NULL when there is none (borrowed from s). */
const snode_t *vote_next_primary(const smap_t *s, const char *skip_id);

/* Whether the node at url answers at all (any HTTP status: one starting up is alive), within
 * a second. */
bool vote_node_answers(const char *url);

/* A vote record (AIStore's VoteRecord: {"candidate","primary","smap","start_time",
 * "initiator"}), the body of GET /v1/vote/proxy as {"vote_record": {...}}. */
typedef struct {
    char candidate[64];
    char primary[64];
    char initiator[64];
    int64_t start_time; /* unix ns */
    smap_t *smap;       /* the candidate's map; one reference */
} vote_record_t;

/* Parses and validates a VoteMessage body (untrusted bytes): every id a valid daemon id, the
 * candidate and the primary proxies of the map, the primary the map's primary, the candidate
 * not the primary, every node URL http(s)://, a positive version. 0 with *out filled, or -1
 * with err. */
int vote_msg_parse(const char *body, size_t len, vote_record_t *out, char *err, size_t errlen);
/* The body of a VoteMessage; caller frees. */
char *vote_msg_text(const vote_record_t *r);
void vote_record_dispose(vote_record_t *r);

/* GET /v1/vote/proxy on a proxy (the caller is a node, its body checked): answers YES or NO. */
void vote_handle(http_req_t *req);

/* Membership thread of a non-primary proxy whose keepalives have failed: runs the election when
 * this proxy is the candidate. true when it became primary. */
bool vote_maybe_elect(void);

/* Asks every node of the current map (and the configured primary URL) for its map and installs
 * the newest one of this cluster (any, when this node never joined), when it is newer than
 * ours. skip_primary: not the map's primary (it did not answer keepalives). true when it
 * installed one. */
bool vote_discover(bool skip_primary);

/* The primary hands its role to proxy id (PUT /v1/cluster/proxy/<id>): a new smap naming it
 * primary, pushed to every node. 0, or an HTTP status with err. */
int vote_set_primary(const char *id, char *err, size_t errlen);

#endif
