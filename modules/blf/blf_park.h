/* blf_park.h — park orbits (blf_park.c) and the HTTP process (blf_http.c) */
#ifndef BLF_PARK_H
#define BLF_PARK_H

#include "core/str.h"
#include "core/rpc.h"
#include "core/parser/msg_parser.h"

int blf_park_init(void);
void blf_park_destroy(void);
void blf_park_answer(int status, const char *body, size_t len);
void blf_park_rpc_list(rpc_t *rpc, void *c);
int blf_park_reply(struct sip_msg *msg, const str *format);

int blf_http_init(void);
int blf_http_child_init(int rank);
int blf_http_ask_alias(const str *key);
/* wakes the HTTP process (a visibility question is queued) */
void blf_http_wake(void);

#endif
