/*
 * proxy.h - the proxy role: object redirects, bucket operations, list-objects merge and the
 * job control plane.
 */
#ifndef LOCUS_PROXY_PROXY_H
#define LOCUS_PROXY_PROXY_H

#include "net/net.h"

int proxy_init(char *err, size_t errlen);
/* Stops the primary's rebalance coordinator (shutdown). */
void proxy_shutdown(void);
/* The rebalance coordinator (proxy/rebalance.c): started by proxy_init on the primary. */
void proxy_reb_init(void);
void proxy_reb_stop(void);
void proxy_on_headers(http_req_t *req);
void proxy_on_request(http_req_t *req);

#endif
