/*
 * acl.c - who may do what: AIStore's access bits and its permission check (a token's admin
 * flag, then the bucket's ACL, then the cluster's, then the default cluster ACL).
 */
#include "auth/internal.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* AIStore's operation names (apc.AccessOp), bit i = names[i]. */
static const char *const ace_names[] = {
    "GET",           "HEAD-OBJECT",  "PUT",           "APPEND",
    "DELETE-OBJECT", "MOVE-OBJECT",  "PROMOTE",       "UPDATE-OBJECT",
    "HEAD-BUCKET",   "LIST-OBJECTS", "PATCH",         "SET-BUCKET-ACL",
    "LIST-BUCKETS",  "SHOW-CLUSTER", "CREATE-BUCKET", "DESTROY-BUCKET",
    "MOVE-BUCKET",   "ADMIN",
};

static int one_access(const char *s, size_t n, auth_ace_t *out)
{
    if (n == 2 && strncmp(s, "ro", 2) == 0)
        *out |= AUTH_ACCESS_RO;
    else if (n == 2 && strncmp(s, "rw", 2) == 0)
        *out |= AUTH_ACCESS_RW;
    else if (n == 2 && strncmp(s, "su", 2) == 0)
        *out = AUTH_ACCESS_ALL;
    else {
        for (size_t i = 0; i < ARRAY_SIZE(ace_names); i++) {
            if (strlen(ace_names[i]) == n && strncmp(ace_names[i], s, n) == 0) {
                *out |= 1ull << i;
                return 0;
            }
        }
        return -1;
    }
    return 0;
}

int auth_access_parse(const char *s, auth_ace_t *out)
{
    *out = 0;
    if (s == NULL || *s == '\0')
        return -1;
    if (s[0] >= '0' && s[0] <= '9') {
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end || errno)
            return -1;
        *out = v;
        return 0;
    }
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || one_access(p, n, out) < 0)
            return -1;
        p += n;
        if (*p == ',' && *++p == '\0')
            return -1;
    }
    return 0;
}

/* "GET,PUT" for the bits of a (at most a few names, for messages) into out. */
static void describe(auth_ace_t a, char *out, size_t len)
{
    size_t k = 0;
    out[0] = '\0';
    if (a == 0) {
        snprintf(out, len, "none");
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(ace_names) && k + 1 < len; i++)
        if (a & (1ull << i))
            k += (size_t)snprintf(out + k, len - k, "%s%s", k ? "," : "", ace_names[i]);
}

/* The cluster ACL for cluster_id: its own entry, else the default one (id ""). */
static bool acl_cluster(const auth_claims_t *c, const char *cluster_id, auth_ace_t *perm)
{
    const auth_clu_acl_t *dflt = NULL;
    for (size_t i = 0; i < c->n_clusters; i++) {
        if (strcmp(c->clusters[i].id, cluster_id) == 0) {
            *perm = c->clusters[i].perm;
            return true;
        }
        if (c->clusters[i].id[0] == '\0')
            dflt = &c->clusters[i];
    }
    if (dflt)
        *perm = dflt->perm;
    return dflt != NULL;
}

/* The ACL of bucket bck (provider ais) in cluster_id. */
static bool acl_bucket(const auth_claims_t *c, const char *cluster_id, const char *bck,
                       auth_ace_t *perm)
{
    for (size_t i = 0; i < c->n_buckets; i++) {
        const auth_bck_acl_t *b = &c->buckets[i];
        if (b->ns_uuid[0] != '\0' && strcmp(b->ns_uuid, cluster_id) != 0)
            continue;
        if (strcmp(b->name, bck) != 0 || (b->provider[0] && strcmp(b->provider, "ais") != 0))
            continue;
        *perm = b->perm;
        return true;
    }
    return false;
}

int auth_check(const auth_claims_t *c, const char *cluster_id, const char *bck, auth_ace_t perms,
               char *err, size_t errlen)
{
    if (c->admin)
        return 0;
    char want[256], have[256];
    auth_ace_t clu_perms = perms & (AUTH_CLUSTER_RW | AUTH_ACE_ADMIN);
    auth_ace_t obj_perms = perms & (AUTH_ACCESS_RW | AUTH_ACCESS_BUCKET_ADMIN | AUTH_ACE_PROMOTE);
    auth_ace_t clu_acl = 0, bck_acl = 0;
    bool clu_ok = acl_cluster(c, cluster_id, &clu_acl);
    if (perms == 0 || (perms & ~(clu_perms | obj_perms)) != 0) {
        snprintf(err, errlen, "user `%s`: invalid permissions requested", c->sub);
        return 403;
    }
    if (clu_perms && (!clu_ok || (clu_acl & clu_perms) != clu_perms)) {
        describe(clu_perms, want, sizeof(want));
        describe(clu_ok ? clu_acl : 0, have, sizeof(have));
        snprintf(err, errlen,
                 "user `%s` has insufficient permissions: needs %s in cluster %s, "
                 "granted(%s)",
                 c->sub, want, cluster_id, have);
        return 403;
    }
    if (obj_perms == 0)
        return 0;
    describe(obj_perms, want, sizeof(want));
    if (bck == NULL) {
        snprintf(err, errlen, "user `%s`: bucket permissions requested without a bucket", c->sub);
        return 403;
    }
    /* The bucket's own ACL when the token has one, else the cluster's. */
    auth_ace_t granted = acl_bucket(c, cluster_id, bck, &bck_acl) ? bck_acl : clu_ok ? clu_acl : 0;
    if ((granted & obj_perms) == obj_perms)
        return 0;
    describe(granted, have, sizeof(have));
    snprintf(err, errlen,
             "user `%s` has insufficient permissions: needs %s on ais://%s, granted(%s)", c->sub,
             want, bck, have);
    return 403;
}
