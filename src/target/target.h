/*
 * target.h - the target role: object storage on mountpaths and the object REST endpoints.
 */
#ifndef LOCUS_TARGET_TARGET_H
#define LOCUS_TARGET_TARGET_H

#include <stdint.h>

#include "net/net.h"

/* GET bodies (whole objects or ranges) up to this many bytes are read into memory and sent with
 * their headers in one write; bigger ones use sendfile. */
#define TARGET_SMALL_GET_MAX (64 * 1024)

int target_init(char *err, size_t errlen);
void target_on_headers(http_req_t *req);
void target_on_request(http_req_t *req);
void target_shutdown(void);
/* Removes every object of every bucket on every mountpath (a decommission with rm_user_data);
 * after target_shutdown. */
void target_remove_data(void);

#endif
