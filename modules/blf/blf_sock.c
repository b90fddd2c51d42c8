/*
 * blf_sock.c — this node's own SIP addresses: the Contact URI of a local
 * socket, for our subscriptions (blf_subs.c), their NOTIFYs (blf_notify.c)
 * and the subscriptions taken over in a cluster (blf_dmq.c). A leaf: it
 * reads Kamailio's socket list and calls nothing of the module.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>

#include "core/socket_info.h"
#include "core/ip_addr.h"

#include "blf_subs.h"

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
