/*
 * blf_sock.c — this node's own SIP addresses: the Contact URI of a local
 * socket, for our subscriptions (blf_subs.c), their NOTIFYs (blf_notify.c)
 * and the subscriptions taken over in a cluster (blf_dmq.c), and the 16-bit
 * handle a subscription record keeps of its socket (blf_sub_sock). A leaf:
 * it reads Kamailio's socket lists and calls nothing of the module.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>

#include "core/socket_info.h"
#include "core/ip_addr.h"

#include "core/dprint.h"

#include "blf_subs.h"
#include "blf_table.h"

/* our Contact URI on socket si */
int blf_sock_contact(struct socket_info *si, char *buf, int size, str *out)
{
	str host, port;
	const char *tr = "";
	int n;

	if(si == NULL)
		return -1;
	host = si->useinfo.name.len ? si->useinfo.name : si->address_str;
	port = si->useinfo.port_no_str.len ? si->useinfo.port_no_str
									   : si->port_no_str;
	switch(si->proto) {
		case PROTO_TCP:
			tr = ";transport=tcp";
			break;
		case PROTO_TLS:
			tr = ";transport=tls";
			break;
		case PROTO_SCTP:
			tr = ";transport=sctp";
			break;
		case PROTO_WS:
		case PROTO_WSS:
			tr = ";transport=ws";
			break;
	}
	if(si->address.af == AF_INET6 && host.len && host.s[0] != '[')
		n = snprintf(buf, size, "sip:[%.*s]:%.*s%s", host.len, host.s, port.len,
				port.s, tr);
	else
		n = snprintf(buf, size, "sip:%.*s:%.*s%s", host.len, host.s, port.len,
				port.s, tr);
	if(n < 0 || n >= size)
		return -1;
	out->s = buf;
	out->len = n;
	return 0;
}


/*
 * The socket of a subscription, as a 16-bit handle (a pointer would cost a
 * million subscriptions 6 MB more): 1 + its place in Kamailio's socket
 * lists, walked in a fixed order (UDP, TCP, TLS, SCTP). The lists are made
 * before the fork and never change after, so every process numbers them
 * alike; each learns them once, on first use.
 */
#define BLF_SOCK_MAX 1024
static struct socket_info *blf_socks[BLF_SOCK_MAX];
static int blf_nsocks = -1;

static void blf_socks_learn(void)
{
	static const unsigned short protos[] = {
			PROTO_UDP, PROTO_TCP, PROTO_TLS, PROTO_SCTP};
	struct socket_info **list, *si;
	unsigned int i;

	blf_nsocks = 0;
	for(i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		list = get_sock_info_list(protos[i]);
		for(si = list ? *list : NULL; si && blf_nsocks < BLF_SOCK_MAX;
				si = si->next)
			blf_socks[blf_nsocks++] = si;
	}
}

struct socket_info *blf_sub_sock(const blf_sub_t *s)
{
	if(s->sock == 0)
		return NULL;
	if(blf_nsocks < 0)
		blf_socks_learn();
	return s->sock <= blf_nsocks ? blf_socks[s->sock - 1] : NULL;
}

void blf_sub_set_sock(blf_sub_t *s, struct socket_info *si)
{
	int i;

	s->sock = 0;
	if(si == NULL)
		return;
	if(blf_nsocks < 0)
		blf_socks_learn();
	for(i = 0; i < blf_nsocks; i++) {
		if(blf_socks[i] == si) {
			s->sock = (unsigned short)(i + 1);
			return;
		}
	}
	/* not in the lists (cannot happen with 5.6): tm picks one */
	LM_WARN("socket %.*s unknown: NOTIFYs leave from where tm picks\n",
			si->sock_str.len, si->sock_str.s);
}
