/*
 * target.h - the target role: object storage on mountpaths and the object REST endpoints.
 */
#ifndef LOCUS_TARGET_TARGET_H
#define LOCUS_TARGET_TARGET_H

#include <stdint.h>

#include "net/net.h"

int target_init(char *err, size_t errlen);
void target_on_headers(http_req_t *req);
void target_on_request(http_req_t *req);
void target_shutdown(void);

#endif
