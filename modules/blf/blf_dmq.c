/*
 * blf_dmq.c — a cluster of proxies over Kamailio's DMQ.
 *
 * Every node tells the others what changes at home: the calls it tracks
 * (with a per-call sequence so replicas never go backwards) and the
 * subscriptions it owns (created, refreshed, versions sent, ended). A node
 * keeps the others' calls and subscriptions beside its own: its watchers see
 * calls tracked anywhere, and it can take a subscription over when its owner
 * dies. The tables note what one operation changes, under the slot locks
 * (blf_chg.c); after the locks are gone, this file's change listener turns
 * the notes into replicas and sends them as one DMQ message. What a replica
 * from another node does to the table is the table's (blf_entity_repl.c):
 * this file decodes and checks.
 *
 * Liveness: every node says hello each second; a node silent for
 * BLF_DMQ_DEAD_AFTER seconds is dead. Its calls end (their proxy is gone,
 * so are they) and each of its subscriptions goes to the live node that
 * ranks first for it (a hash of node name and subscription tag), the same
 * choice on every node, so exactly one node takes each over and sends the
 * next version with a higher CSeq. A node that starts asks a peer for the
 * full state.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/hashes.h"
#include "core/socket_info.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_content.h"
#include "core/parser/parse_uri.h"
#include "core/resolve.h"
#include "core/events.h"
#include "modules/dmq/bind_dmq.h"

#include "blf.h"
#include "blf_chg.h"
#include "blf_order.h"
#include "blf_repl.h"
#include "blf_pidf.h"
#include "blf_lsub.h"
#include "blf_inflight.h"
#include "blf_coalesce.h"
#include "blf_dtx.h"
#include "blf_adopt.h"

#define BLF_DMQ_MAX_NODES 32
#define BLF_DMQ_DEAD_AFTER 4  /* s without hello */
/* restored subscriptions wait this long after the first peer is heard of
 * (or RESTORE_ALONE after start when none is) for a takeover of them
 * (blf_sub_restore_hold): a peer that knew our former incarnation hears
 * our first hello, takes over at its next tick (1 s) and tells us */
#define BLF_DMQ_RESTORE_HOLD BLF_DMQ_DEAD_AFTER
#define BLF_DMQ_RESTORE_ALONE (2 * BLF_DMQ_DEAD_AFTER)
#define BLF_DMQ_SYNC_BATCH 64 /* records per sync message */
#define BLF_DMQ_SEND_DEAD 15  /* s of silence before a peer in dmq_peers
							   * no longer gets replicas (hellos it does) */
#define BLF_DMQ_TKO_PACE_MS 5000 /* a takeover waits at most this long in
								  * all for room among the NOTIFYs in
								  * flight (watchers that do not answer,
								  * tm's cells kept for its wait timer) */
/*
 * A takeover that does not know what the dead node's last NOTIFY of a
 * subscription showed (blf_rhist.c: an older node's version records, no
 * NOTIFY since this node heard of the subscription) replays the changes
 * applied here since this long before the dead node was last heard from.
 * Why 300 ms: a change applied here before that was broadcast to the dead
 * node at the same moment by the node of the call; it reached the dead
 * node (DMQ's delivery, a few ms on a LAN, a few tens under load: its
 * workers queue) and was NOTIFYd at once, all while the dead node was
 * still alive (it sent its last message later). What it may still have
 * been holding back: a NOTIFY notify_min_interval coalesces (added to the
 * margin), one the in-flight bounds deferred (owed: the takeover's full
 * state shows the present anyway). Both times are this node's own clock
 * (blf_rhist_now_ms), so no clocks of two nodes are compared.
 */
#define BLF_DMQ_REPLAY_MARGIN_MS 300

_Static_assert(BLF_REPL_CF_N == BLF_CF_N && BLF_REPL_SF_N == BLF_SF_N
					   && BLF_REPL_HIST_MAX == BLF_CALL_HIST
					   && BLF_REPL_KEY_MAX == BLF_KEY_MAX - 1,
		"blf_repl.h and blf.h disagree on the record layout");

typedef struct blf_node {
	char name[BLF_REPL_NAME_MAX + 1];
	struct ip_addr addr; /* where its messages come from (not node 0) */
	unsigned short port; /* the port of its DMQ URI (UDP: their source) */
	time_t last_seen;
	int alive;
	unsigned int boot; /* its incarnation: changes when it restarts */
	int restarted;	   /* a new incarnation was heard of */
	/* in blf_rhist_now_ms() milliseconds (a takeover's replay bound,
	 * BLF_DMQ_REPLAY_MARGIN_MS): last_seen, the one before the latest
	 * message, when a dead incarnation was last heard from */
	unsigned long long seen_ms, prev_ms, gone_ms;
	int rv; /* it reads versions from our answers and passes them on */
	int cv; /* it reads compact versions ("vc", blf_repl.h) */
	int pa; /* it reads versions passed on in our answers ("pa") */
} blf_node_t;

/* node 0 is this node; the others as they are heard of */
typedef struct blf_nodes {
	gen_lock_t lock;
	int n;
	int synced; /* a full state was asked for */
	unsigned int boot; /* this node's incarnation */
	/* when (blf_rhist_now_ms) a message of ours last went to every peer
	 * a hello goes to: the hello of that second is not needed
	 * (blf_dmq_hello) */
	unsigned long long all_ms;
	blf_node_t node[BLF_DMQ_MAX_NODES];
} blf_nodes_t;

static blf_nodes_t *blf_nodes = NULL;
static dmq_api_t blf_dmqb;
static dmq_peer_t *blf_dmq_peer = NULL;
static str blf_dmq_ctype = str_init("application/json");
static json_t *blf_outbox = NULL; /* per process */

/* DMQ wants a reply callback; a failed delivery is the peer's death, which
 * the hello timeout detects, so there is nothing to do here */
static int blf_dmq_log_ok(unsigned int *quiet);
static int blf_dmq_on(void);
static void blf_dmq_answer_in(struct sip_msg *msg, dmq_node_t *node);

static int blf_dmq_resp_f(
		struct sip_msg *msg, int code, dmq_node_t *node, void *param)
{
	unsigned int quiet;

	if(code == 403 || code == 400) {
		/* the peer refused it: its dmq_peers or its script's KDMQ gate
		 * does not name us, or it runs another version */
		if(blf_dmq_log_ok(&quiet))
			LM_NOTICE("cluster peer %.*s answered %d to a blf message: does "
					  "its dmq_peers (and KDMQ gate) name this node? (%u "
					  "more)\n",
					node ? node->orig_uri.len : 0,
					node ? node->orig_uri.s : "", code, quiet);
	} else if(code >= 300) {
		LM_DBG("DMQ message answered %d\n", code);
	} else if(code >= 200 && msg && msg != (struct sip_msg *)-1
			  && blf_dmq_on()) {
		blf_dmq_answer_in(msg, node); /* versions it took, to pass on */
	}
	return 0;
}
static dmq_resp_cback_t blf_dmq_resp = {blf_dmq_resp_f, 0};

/* the answer to a message blf_dtx.c sent (dmq_direct): the same callback */
static void blf_dmq_dtx_answer(struct sip_msg *msg, int code, dmq_node_t *node)
{
	blf_dmq_resp_f(msg, code, node, NULL);
}

/* modparam dmq_peers, parsed at mod_init (inherited by every process) */
typedef struct blf_peer {
	struct ip_addr ip;
	unsigned short port; /* 0: any */
	char uri[128];		 /* sip:ip:port[;params], when the port is given */
	dmq_node_t node;	 /* what blf sends to it (not dmq's list) */
} blf_peer_t;
static blf_peer_t blf_peers[BLF_DMQ_MAX_NODES];
static int blf_npeers = 0;
static int blf_peers_send = 0; /* every peer has its port: send to them only */

stat_var *blf_st_dmq_untrusted;
stat_var *blf_st_dmq_invalid;

/*
 * A peer can send hostile messages in a loop: the log says the first one
 * of each second and how many it kept quiet about (per process).
 */
static int blf_dmq_log_ok(unsigned int *quiet)
{
	static time_t last = 0;
	static unsigned int n = 0;
	time_t now = time(NULL);

	if(now == last) {
		n++;
		return 0;
	}
	last = now;
	*quiet = n;
	n = 0;
	return 1;
}

/* a peer given as its DMQ URI, sip:IP:port[;transport=...] (its host an
 * IP address): blf sends to it with that transport */
static int blf_peer_parse_uri(str *a, blf_peer_t *p)
{
	struct ip_addr *ip;
	str host;

	if(a->len >= (int)sizeof(p->uri))
		return -1;
	memset(&p->node, 0, sizeof(p->node));
	memcpy(p->uri, a->s, a->len);
	p->uri[a->len] = '\0';
	p->node.orig_uri.s = p->uri;
	p->node.orig_uri.len = a->len;
	if(parse_uri(p->uri, a->len, &p->node.uri) < 0
			|| p->node.uri.user.len || p->node.uri.port_no == 0)
		return -1;
	host = p->node.uri.host;
	if(host.len > 2 && host.s[0] == '[') {
		host.s++;
		host.len -= 2;
	}
	ip = str2ip(&host);
	if(ip == NULL)
		ip = str2ip6(&host);
	if(ip == NULL)
		return -1;
	p->ip = *ip;
	p->port = p->node.uri.port_no;
	p->node.ip_address = *ip;
	p->node.status = 1 << 1; /* DMQ_NODE_ACTIVE */
	return 0;
}

/* "ip", "ip:port", "[ipv6]:port", a bare IPv6 address or a DMQ URI */
static int blf_peer_parse(str *a, blf_peer_t *p)
{
	struct ip_addr *ip;
	str host = *a, port = STR_NULL;
	char *c, *close;
	unsigned int pn = 0;
	int i;

	if(a->len > 4 && strncasecmp(a->s, "sip:", 4) == 0)
		return blf_peer_parse_uri(a, p);
	if(a->len > 0 && a->s[0] == '[') {
		close = memchr(a->s, ']', a->len);
		if(close == NULL)
			return -1;
		host.s = a->s + 1;
		host.len = close - host.s;
		if(close + 1 < a->s + a->len) {
			if(close[1] != ':')
				return -1;
			port.s = close + 2;
			port.len = a->s + a->len - port.s;
		}
	} else {
		c = memchr(a->s, ':', a->len);
		if(c && memchr(c + 1, ':', a->s + a->len - c - 1) == NULL) {
			host.len = c - a->s;
			port.s = c + 1;
			port.len = a->s + a->len - port.s;
		}
	}
	if(port.s) {
		if(port.len == 0 || port.len > 5)
			return -1;
		for(i = 0; i < port.len; i++) {
			if(port.s[i] < '0' || port.s[i] > '9')
				return -1;
			pn = pn * 10 + (port.s[i] - '0');
		}
		if(pn == 0 || pn > 65535)
			return -1;
	}
	ip = str2ip(&host);
	if(ip == NULL)
		ip = str2ip6(&host);
	if(ip == NULL)
		return -1;
	p->ip = *ip;
	p->port = (unsigned short)pn;
	if(pn) {
		/* the node blf sends to: its DMQ URI, as its server_address */
		memset(&p->node, 0, sizeof(p->node));
		snprintf(p->uri, sizeof(p->uri),
				ip->af == AF_INET6 ? "sip:[%s]:%u" : "sip:%s:%u",
				ip_addr2a(ip), pn);
		p->node.orig_uri.s = p->uri;
		p->node.orig_uri.len = strlen(p->uri);
		if(parse_uri(p->node.orig_uri.s, p->node.orig_uri.len, &p->node.uri)
				< 0)
			return -1;
		p->node.ip_address = *ip;
		p->node.status = 1 << 1; /* DMQ_NODE_ACTIVE */
	}
	return 0;
}

/* modparam dmq_peers: addresses separated by commas or spaces */
static int blf_peers_init(void)
{
	str v = blf_cfg.dmq_peers, a;
	int i = 0, j;

	while(i < v.len) {
		while(i < v.len && (v.s[i] == ',' || v.s[i] == ' ' || v.s[i] == '\t'))
			i++;
		j = i;
		while(j < v.len && v.s[j] != ',' && v.s[j] != ' ' && v.s[j] != '\t')
			j++;
		if(j == i)
			break;
		a.s = v.s + i;
		a.len = j - i;
		if(blf_npeers == BLF_DMQ_MAX_NODES) {
			LM_ERR("dmq_peers: more than %d addresses\n", BLF_DMQ_MAX_NODES);
			return -1;
		}
		if(blf_peer_parse(&a, &blf_peers[blf_npeers]) < 0) {
			LM_ERR("dmq_peers: '%.*s' is not an IP address, IP:port, "
				   "[IPv6]:port or sip:IP:port;transport=...\n",
					a.len > 64 ? 64 : a.len, a.s);
			return -1;
		}
		blf_npeers++;
		i = j;
	}
	blf_peers_send = blf_npeers > 0;
	for(i = 0; i < blf_npeers; i++)
		if(blf_peers[i].port == 0)
			blf_peers_send = 0;
	return 0;
}

/*
 * Whether a blf message may be applied: its sender must be a node the dmq
 * module knows (its From names a node of dmq's list), the message must come
 * from that node's address (its IP; over UDP its port too, as dmq sends
 * from its server_address), and, when dmq_peers is set, from one of those
 * addresses. On 0, *src and *sport are where it came from.
 */
static int blf_dmq_sender_ok(struct sip_msg *msg, dmq_node_t *node,
		const char **why, unsigned short *port)
{
	struct receive_info *ri = &msg->rcv;
	unsigned short nport;
	int i;

	if(node == NULL) {
		*why = "its From is not a node of the DMQ node list";
		return 0;
	}
	if(node->local) {
		*why = "its From is this node";
		return 0;
	}
	if(!ip_addr_cmp(&node->ip_address, &ri->src_ip)) {
		*why = "it does not come from the address of the DMQ node its "
			   "From names";
		return 0;
	}
	nport = node->uri.port_no ? node->uri.port_no
							  : (node->uri.proto == PROTO_TLS ? SIPS_PORT
															  : SIP_PORT);
	if(ri->proto == PROTO_UDP && ri->src_port != nport) {
		*why = "it does not come from the port of the DMQ node its From "
			   "names";
		return 0;
	}
	*port = nport; /* over streams the source port is any: the node's */
	if(blf_npeers == 0)
		return 1;
	for(i = 0; i < blf_npeers; i++)
		if(ip_addr_cmp(&blf_peers[i].ip, &ri->src_ip)
				&& (blf_peers[i].port == 0 || blf_peers[i].port == nport))
			return 1;
	*why = "its address is not in modparam dmq_peers";
	return 0;
}

static int blf_dmq_on(void)
{
	return blf_cfg.enable_dmq && blf_nodes != NULL;
}

const char *blf_dmq_node_name(int idx)
{
	if(blf_nodes == NULL || idx < 0 || idx >= blf_nodes->n)
		return "";
	return blf_nodes->node[idx].name;
}

static int blf_node_at(
		const blf_node_t *nd, struct ip_addr *ip, unsigned short port)
{
	return ip_addr_cmp(&nd->addr, ip) && nd->port == port;
}

/*
 * The index of node name, whose message came as ri says (a sender the DMQ
 * module knows: blf_dmq_sender_ok); added when new and touched (heard of).
 * A name is bound to the address it speaks from: another address may take
 * it over only once it is dead (a replacement host), and an address speaks
 * for one live name at a time, so a peer cannot pass for another node nor
 * fill the table with invented names. -1 (and *why) when refused.
 */
static int blf_node_idx(const char *name, struct ip_addr *ip,
		unsigned short port, const char **why)
{
	blf_node_t *nd;
	int i, j;

	lock_get(&blf_nodes->lock);
	for(i = 1; i < blf_nodes->n; i++)
		if(strcmp(blf_nodes->node[i].name, name) == 0)
			break;
	for(j = 1; j < blf_nodes->n; j++)
		if(j != i && blf_nodes->node[j].alive
				&& blf_node_at(&blf_nodes->node[j], ip, port))
			break;
	if(j < blf_nodes->n) {
		*why = "its address speaks for another live node";
		goto refused;
	}
	if(i == blf_nodes->n) {
		if(i == BLF_DMQ_MAX_NODES) {
			*why = "the node table is full";
			goto refused;
		}
		nd = &blf_nodes->node[i];
		memset(nd, 0, sizeof(*nd));
		strcpy(nd->name, name); /* checked: blf_repl_name_ok */
		nd->addr = *ip;
		nd->port = port;
		blf_nodes->n++;
		LM_INFO("cluster node %s joined from %s:%d\n", name, ip_addr2a(ip),
				(int)port);
		if(i == 1 && blf_sub_restore_hold) /* the first peer heard of */
			*blf_sub_restore_hold =
					(unsigned int)time(NULL) + BLF_DMQ_RESTORE_HOLD;
	}
	nd = &blf_nodes->node[i];
	if(!blf_node_at(nd, ip, port)) {
		if(nd->alive) {
			*why = "the node it names is alive at another address";
			goto refused;
		}
		LM_NOTICE("cluster node %s now at %s:%d\n", name, ip_addr2a(ip),
				(int)port);
		nd->addr = *ip;
		nd->port = port;
	}
	if(!nd->alive && nd->last_seen)
		LM_INFO("cluster node %s is back\n", name);
	nd->last_seen = time(NULL);
	nd->prev_ms = nd->seen_ms;
	nd->seen_ms = blf_rhist_now_ms();
	nd->alive = 1;
	lock_release(&blf_nodes->lock);
	return i;
refused:
	lock_release(&blf_nodes->lock);
	return -1;
}

/*
 * Every message carries the sender's incarnation. A node that restarted faster
 * than it could be declared dead has lost what it held: its old
 * incarnation is handled as dead all the same (see blf_dmq_timer).
 */
static void blf_node_boot(
		int idx, json_t *b, json_t *rv, json_t *cv, json_t *pa)
{
	unsigned int boot;

	if(!json_is_integer(b))
		return;
	boot = (unsigned int)json_integer_value(b);
	lock_get(&blf_nodes->lock);
	/* whether it reads versions from our answers and passes them on (a
	 * node of an older version does not say so) */
	blf_nodes->node[idx].rv = json_integer_value(rv) == 1;
	blf_nodes->node[idx].cv = json_integer_value(cv) == 1;
	blf_nodes->node[idx].pa = json_integer_value(pa) == 1;
	if(blf_nodes->node[idx].boot && blf_nodes->node[idx].boot != boot) {
		blf_nodes->node[idx].restarted = 1;
		/* the old incarnation was last heard from before this message */
		blf_nodes->node[idx].gone_ms = blf_nodes->node[idx].prev_ms;
		LM_NOTICE("cluster node %s restarted\n", blf_nodes->node[idx].name);
	}
	blf_nodes->node[idx].boot = boot;
	lock_release(&blf_nodes->lock);
}

/* ---- sending ---- */

/*
 * With dmq_peers (every one with its port) blf sends to those nodes only,
 * not to whatever dmq's node list holds: a host that got into that list
 * learns nothing. Hellos and state requests go to every peer; the rest
 * not to a peer silent for BLF_DMQ_SEND_DEAD s (as dmq's broadcast skips a
 * node its pings found dead): a peer that restarts meanwhile still gets
 * what changed (tm's retransmissions), e.g. who took its subscriptions
 * over, and asks for the full state anyway.
 */
/* per process: a node a broadcast leaves out (0: none), set around the
 * passing on of its own versions (blf_vq_pass_on) */
static int blf_dmq_but = 0;

/* 1 when every peer got it (none left out as dead or as blf_dmq_but) */
static int blf_dmq_send_peers(str *body, json_t *type)
{
	const char *t = json_string_value(type);
	blf_node_t *nd;
	int i, k, always, dead, all = 1;
	time_t now = time(NULL);

	always = t && (strcmp(t, "hello") == 0 || strcmp(t, "sync") == 0);
	for(i = 0; i < blf_npeers; i++) {
		dead = 0;
		if(blf_dmq_but > 0) {
			lock_get(&blf_nodes->lock);
			nd = &blf_nodes->node[blf_dmq_but];
			dead = ip_addr_cmp(&nd->addr, &blf_peers[i].ip)
				   && nd->port == blf_peers[i].port;
			lock_release(&blf_nodes->lock);
			if(dead) {
				all = 0;
				continue;
			}
		}
		if(!always) {
			lock_get(&blf_nodes->lock);
			for(k = 1; k < blf_nodes->n; k++) {
				nd = &blf_nodes->node[k];
				if(ip_addr_cmp(&nd->addr, &blf_peers[i].ip)
						&& nd->port == blf_peers[i].port) {
					dead = !nd->alive
						   && now - nd->last_seen > BLF_DMQ_SEND_DEAD;
					if(!dead)
						break;
				}
			}
			lock_release(&blf_nodes->lock);
		}
		if(dead)
			all = 0;
		else if(blf_dtx_send(body, &blf_dmq_ctype, &blf_peers[i].node) != 0)
			blf_dmqb.send_message(blf_dmq_peer, body, &blf_peers[i].node,
					&blf_dmq_resp, 1, &blf_dmq_ctype);
	}
	return all;
}

/* blf_dmq_but as a node of dmq's list to leave out (dmq compares the
 * host and port strings and the transport of its URI: a node listed by
 * another spelling still gets the message, and ignores what is its own) */
static dmq_node_t *blf_dmq_but_node(void)
{
	static dmq_node_t ex;
	static char u[96];
	struct ip_addr ip;
	unsigned short port;
	int len;

	if(blf_dmq_but <= 0)
		return NULL;
	lock_get(&blf_nodes->lock);
	ip = blf_nodes->node[blf_dmq_but].addr;
	port = blf_nodes->node[blf_dmq_but].port;
	lock_release(&blf_nodes->lock);
	len = snprintf(u, sizeof(u),
			ip.af == AF_INET6 ? "sip:[%s]:%u" : "sip:%s:%u", ip_addr2a(&ip),
			(unsigned)port);
	memset(&ex, 0, sizeof(ex));
	if(len <= 0 || len >= (int)sizeof(u) || parse_uri(u, len, &ex.uri) < 0)
		return NULL;
	return &ex;
}

/*
 * Compact versions: the "ver" records of batch msg as one "vc" string
 * (blf_repl.h), when whoever reads it says "cv". A version record is the
 * most frequent record, and as a JSON object of six members it was most of
 * the receiver's json_loadb (a third of a node's blf CPU, bench/README.md);
 * one string line parses without an allocation. Only when every live peer
 * (cv_of < 0), or node cv_of, said so: an older node ignores "vc".
 */
static int blf_dmq_cv_ok(int cv_of)
{
	int i, ok;

	lock_get(&blf_nodes->lock);
	if(cv_of > 0) {
		ok = cv_of < blf_nodes->n && blf_nodes->node[cv_of].cv;
	} else {
		ok = blf_nodes->n > 1;
		for(i = 1; i < blf_nodes->n; i++)
			if(blf_nodes->node[i].alive && !blf_nodes->node[i].cv)
				ok = 0;
	}
	lock_release(&blf_nodes->lock);
	return ok;
}

/* one field of a "vc" line: a string without space or newline */
static int blf_vc_put(char **buf, size_t *len, size_t *size, const char *f,
		size_t flen, char after)
{
	char *nb;

	if(f == NULL || flen == 0 || memchr(f, ' ', flen) || memchr(f, '\n', flen))
		return -1;
	if(*len + flen + 1 > *size) {
		nb = realloc(*buf, (*len + flen + 1) * 2);
		if(nb == NULL)
			return -1;
		*buf = nb;
		*size = (*len + flen + 1) * 2;
	}
	memcpy(*buf + *len, f, flen);
	*len += flen;
	(*buf)[(*len)++] = after;
	return 0;
}

static void blf_dmq_compact(json_t *msg, int cv_of)
{
	json_t *m, *r, *keep, *o, *cd;
	const char *t;
	char *buf = NULL, num[2][24];
	size_t i, len = 0, size = 0, l0;
	int nv = 0;

	m = json_object_get(msg, "m");
	t = json_string_value(json_object_get(msg, "t"));
	if(t == NULL || strcmp(t, "batch") || !json_is_array(m)
			|| !blf_dmq_cv_ok(cv_of))
		return;
	keep = json_array();
	json_array_foreach(m, i, r)
	{
		t = json_string_value(json_object_get(r, "t"));
		if(t && strcmp(t, "ver") == 0) {
			o = json_object_get(r, "o");
			snprintf(num[0], sizeof(num[0]), "%lld",
					(long long)json_integer_value(json_object_get(r, "v")));
			cd = json_object_get(r, "cd"); /* the state it showed */
			if(cd)
				snprintf(num[1], sizeof(num[1]), "%lld/%lld",
						(long long)json_integer_value(json_object_get(r, "q")),
						(long long)json_integer_value(cd));
			else
				snprintf(num[1], sizeof(num[1]), "%lld",
						(long long)json_integer_value(json_object_get(r, "q")));
			l0 = len;
			if(blf_vc_put(&buf, &len, &size,
					   json_string_value(json_object_get(r, "e")),
					   json_string_length(json_object_get(r, "e")), ' ')
							== 0
					&& blf_vc_put(&buf, &len, &size,
							   json_string_value(json_object_get(r, "g")),
							   json_string_length(json_object_get(r, "g")),
							   ' ') == 0
					&& blf_vc_put(&buf, &len, &size, num[0], strlen(num[0]),
							   ' ') == 0
					&& blf_vc_put(&buf, &len, &size, num[1], strlen(num[1]),
							   o ? ' ' : '\n') == 0
					&& (o == NULL
							|| blf_vc_put(&buf, &len, &size,
									   json_string_value(o),
									   json_string_length(o), '\n')
									   == 0)) {
				nv++;
				continue;
			}
			len = l0; /* not in the line's shape: stays a record */
		}
		json_array_append(keep, r);
	}
	if(nv) {
		json_object_set_new(msg, "vc", json_stringn(buf, len));
		json_object_set_new(msg, "m", keep);
	} else
		json_decref(keep);
	free(buf);
}

/* per process: the message being sent is our hello (blf_dmq_hello) */
static int blf_dmq_hello_sending = 0;

static void blf_dmq_send(json_t *msg, dmq_node_t *to)
{
	str body;
	char *s;
	int all = 0;

	json_object_set_new(msg, "n", json_string(blf_nodes->node[0].name));
	/* every message carries our incarnation, so a peer knows it whatever
	 * it heard of us first */
	json_object_set_new(msg, "b", json_integer((json_int_t)blf_nodes->boot));
	/* we read the versions a peer puts in its answer and pass them on:
	 * it may answer with them instead of broadcasting (blf_dmq_handle) */
	json_object_set_new(msg, "rv", json_integer(1));
	/* we read compact versions ("vc"): a peer may send them */
	json_object_set_new(msg, "cv", json_integer(1));
	/* we read versions passed on ("o") in its answers to us
	 * (blf_vq_grab_for): optional, an older node ignores it */
	json_object_set_new(msg, "pa", json_integer(1));
	blf_dmq_compact(msg, -1);
	s = json_dumps(msg, JSON_COMPACT);
	if(s == NULL)
		return;
	body.s = s;
	body.len = strlen(s);
	/* dmq_direct: our own UDP transactions (blf_dtx.c), else dmq's */
	if(to) {
		if(blf_dtx_send(&body, &blf_dmq_ctype, to) != 0)
			blf_dmqb.send_message(
					blf_dmq_peer, &body, to, &blf_dmq_resp, 1, &blf_dmq_ctype);
	} else if(blf_peers_send) {
		all = blf_dmq_send_peers(&body, json_object_get(msg, "t"));
	} else {
		/* every active node of dmq's list, as a hello goes */
		all = blf_dmq_but == 0;
		if(blf_dtx_bcast(&body, &blf_dmq_ctype, blf_dmq_but_node()) != 0)
			blf_dmqb.bcast_message(blf_dmq_peer, &body, blf_dmq_but_node(),
					&blf_dmq_resp, 1, &blf_dmq_ctype);
	}
	free(s);
	if(all && !blf_dmq_hello_sending) {
		/* every peer hears of us: our hello can wait (blf_dmq_hello;
		 * not a hello itself, or they would go every other second) */
		lock_get(&blf_nodes->lock);
		blf_nodes->all_ms = blf_rhist_now_ms();
		lock_release(&blf_nodes->lock);
	}
}

static void blf_out(json_t *m)
{
	if(blf_outbox == NULL)
		blf_outbox = json_array();
	json_array_append_new(blf_outbox, m);
}

static void blf_dmq_flush(void)
{
	json_t *msg;

	if(blf_outbox == NULL || json_array_size(blf_outbox) == 0)
		return;
	msg = json_object();
	json_object_set_new(msg, "t", json_string("batch"));
	json_object_set(msg, "m", blf_outbox);
	json_decref(blf_outbox);
	blf_outbox = NULL;
	if(blf_dmq_on())
		blf_dmq_send(msg, NULL);
	json_decref(msg);
}

/*
 * ---- versions: in answers, passed on (modparam dmq_version_delay) ----
 *
 * Every NOTIFY of ours takes a version and a CSeq that the other nodes must
 * know, so that a node taking the subscription over sends the next ones.
 * Broadcast at once, that was one broadcast per node and per change of an
 * entity its watchers follow: most of the cluster's messages, each costing
 * far more on both ends (a tm transaction, its 200, a parse, a DMQ job)
 * than the NOTIFY it reports. Most of those NOTIFYs answer a replica from
 * another node (a call there). So, when the sender of that replica and
 * every live peer say they can ("rv"), the versions go back in our 200 to
 * it (blf_dmq_handle: no message of their own, and they reach it as soon
 * as before), and it passes them on to the other nodes with an owner field
 * ("o"), with the next message it sends anyway or, at the latest,
 * dmq_version_delay ms later (this queue, in shm). Each node keeps the
 * highest version and CSeq it hears of (blf_sub_replica_ver): order does
 * not matter. If we die, the node we answered holds our versions and
 * passes them on long before anyone finds us dead (4 s): a takeover still
 * sends the next version. Versions of NOTIFYs not caused by a peer's
 * replica (our own calls, subscriptions, timers) are broadcast at once.
 */
/* versions waiting at most; a full queue is sent by the process that
 * fills it */
#define BLF_VQ_MAX 256
#define BLF_VQ_PIGGYBACK 256	 /* records a replica message takes along */
#define BLF_VQ_PIGGYBACK_WITH 64 /* ... when it has at most this many */
#define BLF_DMQ_ANSWER_MAX 512	 /* versions in one answer; more: broadcast */
typedef struct blf_vrec {
	unsigned int v, q;
	unsigned int cd; /* the digest of the calls its NOTIFY showed, 0: none */
	unsigned short klen, tlen;
	int owner; /* the node whose subscription it is */
	unsigned long long ms; /* when it came (blf_rhist_now_ms) */
	char key[BLF_REPL_KEY_MAX];
	char tag[BLF_REPL_TAG_MAX];
} blf_vrec_t;

typedef struct blf_vq {
	gen_lock_t lock;
	int n;
	blf_vrec_t r[BLF_VQ_MAX];
} blf_vq_t;

static blf_vq_t *blf_vq = NULL;
static blf_vrec_t blf_vq_out[BLF_VQ_MAX]; /* per process: taken out */
/* per process: versions for the answer being built (blf_dmq_handle) */
static json_t *blf_dmq_answer = NULL;

static int blf_vq_init(void)
{
	if(blf_cfg.dmq_version_delay < 0 || blf_cfg.dmq_version_delay > 1000) {
		LM_ERR("dmq_version_delay: 0 to 1000 ms\n");
		return -1;
	}
	blf_vq = shm_malloc(sizeof(blf_vq_t));
	if(blf_vq == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_vq, 0, sizeof(blf_vq_t));
	lock_init(&blf_vq->lock);
	return 0;
}

/* node owner's version of subscription tag at entity key, to be passed on;
 * -1: not queued (full), the caller sends the queue at once */
static int blf_vq_put(const str *key, const str *tag, unsigned int v,
		unsigned int q, int owner, unsigned int cd)
{
	blf_vrec_t *r;

	if(key->len <= 0 || key->len > BLF_REPL_KEY_MAX || tag->len <= 0
			|| tag->len > BLF_REPL_TAG_MAX)
		return 0; /* blf_repl_check let none such through */
	lock_get(&blf_vq->lock);
	if(blf_vq->n == BLF_VQ_MAX) {
		lock_release(&blf_vq->lock);
		return -1;
	}
	r = &blf_vq->r[blf_vq->n++]; /* in the order they come */
	r->ms = blf_rhist_now_ms();
	r->v = v;
	r->q = q;
	r->cd = cd;
	r->owner = owner;
	r->klen = (unsigned short)key->len;
	r->tlen = (unsigned short)tag->len;
	memcpy(r->key, key->s, key->len);
	memcpy(r->tag, tag->s, tag->len);
	lock_release(&blf_vq->lock);
	return 0;
}

/* up to max waiting versions, the oldest first, into blf_vq_out (copied
 * out under the queue's lock; the JSON is built after it); how many */
static int blf_vq_grab(int max)
{
	int n;

	if(blf_vq == NULL || blf_vq->n == 0 || max <= 0) /* a racy peek: a
														* later flush sees it */
		return 0;
	lock_get(&blf_vq->lock);
	n = blf_vq->n < max ? blf_vq->n : max;
	memcpy(blf_vq_out, blf_vq->r, n * sizeof(blf_vrec_t));
	if(n < blf_vq->n)
		memmove(blf_vq->r, blf_vq->r + n, (blf_vq->n - n) * sizeof(blf_vrec_t));
	blf_vq->n -= n;
	lock_release(&blf_vq->lock);
	return n;
}

/*
 * The waiting versions node to is the last node to be told of, at most
 * max, into blf_vq_out, for our answer to its message (blf_dmq_answer_body):
 * a message of its own saved. Only in a cluster of three (as this node's
 * table knows it: every node ever heard of), where the versions of one
 * peer go to the other peer alone, and only when to says it reads them
 * ("pa"). Elsewhere they wait for a message to every node.
 */
static int blf_vq_grab_for(int to, int max)
{
	int i, n = 0, k = 0, ok;

	if(blf_vq == NULL || blf_vq->n == 0 || max <= 0 || to <= 0)
		return 0; /* a racy peek, as blf_vq_grab */
	lock_get(&blf_nodes->lock);
	ok = blf_nodes->n == 3 && to < blf_nodes->n && blf_nodes->node[to].pa;
	lock_release(&blf_nodes->lock);
	if(!ok)
		return 0;
	lock_get(&blf_vq->lock);
	for(i = 0; i < blf_vq->n; i++) {
		if(n < max && blf_vq->r[i].owner > 0 && blf_vq->r[i].owner != to)
			blf_vq_out[n++] = blf_vq->r[i];
		else if(k++ != i)
			blf_vq->r[k - 1] = blf_vq->r[i];
	}
	blf_vq->n = k; /* the rest in their order: r[0] the oldest */
	lock_release(&blf_vq->lock);
	return n;
}

static json_t *blf_vrec_json(const blf_vrec_t *r)
{
	json_t *j;

	j = json_pack("{s:s, s:s%, s:s%, s:i, s:i, s:s}", "t", "ver", "e",
			r->key, (size_t)r->klen, "g", r->tag, (size_t)r->tlen, "v",
			(int)r->v, "q", (int)r->q, "o", blf_dmq_node_name(r->owner));
	if(j && r->cd) /* optional: an older node ignores it (blf_rhist.c) */
		json_object_set_new(j, "cd", json_integer((json_int_t)r->cd));
	return j;
}

/* up to max waiting versions, as "ver" records into the outbox (a message
 * about to go to every node: their owners ignore their own) */
static void blf_vq_take(int max)
{
	json_t *m;
	int i, n;

	n = blf_vq_grab(max);
	for(i = 0; i < n; i++)
		if((m = blf_vrec_json(&blf_vq_out[i])))
			blf_out(m);
}

/* every waiting version, one message per owner, to every node but it */
static void blf_vq_pass_on(void)
{
	json_t *batch, *msg, *m;
	int i, j, n, owner;

	n = blf_vq_grab(BLF_VQ_MAX);
	for(i = 0; i < n; i++) {
		if((owner = blf_vq_out[i].owner) < 0)
			continue; /* gone with an earlier owner's message */
		batch = json_array();
		for(j = i; j < n; j++) {
			if(blf_vq_out[j].owner != owner)
				continue;
			if((m = blf_vrec_json(&blf_vq_out[j])))
				json_array_append_new(batch, m);
			blf_vq_out[j].owner = -1;
		}
		msg = json_pack("{s:s, s:o}", "t", "batch", "m", batch);
		if(msg && blf_dmq_on()) {
			blf_dmq_but = owner;
			blf_dmq_send(msg, NULL);
			blf_dmq_but = 0;
		}
		json_decref(msg);
	}
}

static json_t *blf_json_strs(const str *f, int n)
{
	json_t *a = json_array();
	int i;

	for(i = 0; i < n; i++)
		json_array_append_new(a, json_stringn(f[i].s, f[i].len));
	return a;
}

/* the first n fields of subscription s as a JSON array */
static json_t *blf_json_sub_strs(const blf_sub_t *s, int n)
{
	json_t *a = json_array();
	int i;

	for(i = 0; i < n; i++)
		json_array_append_new(
				a, json_stringn(BLF_SF(s, i).s, (size_t)BLF_SF(s, i).len));
	return a;
}

static json_t *blf_call_json(const str *key, const blf_call_t *c)
{
	json_t *h = json_array();
	int i;

	for(i = 0; i < c->nhist; i++)
		json_array_append_new(h, json_pack("[i, i, i, i]",
										 (int)c->hist[i].seq,
										 (int)c->hist[i].state,
										 (int)c->hist[i].term,
										 (int)c->hist[i].code));
	return json_pack("{s:s, s:s%, s:i, s:i, s:i, s:i, s:i, s:I, s:o, s:o}",
			"t", "call", "e", key->s, (size_t)key->len, "d", (int)c->dir,
			"s", (int)c->st.state, "x", (int)c->st.term, "c", c->st.code, "q",
			(int)c->seq, "st", (json_int_t)c->start, "f",
			blf_json_strs(c->f, BLF_CF_N), "h", h);
}

static json_t *blf_sub_json(const str *key, const blf_sub_t *s)
{
	const blf_pkg_t *p = blf_pkg_get(s->pkg);
	json_t *j;

	j = json_pack("{s:s, s:s%, s:I, s:i, s:i, s:i, s:i, s:o}", "t", "sub",
			"e", key->s, (size_t)key->len, "x", (json_int_t)s->expires,
			"v", (int)s->version, "q", (int)s->cseq, "fl",
			(int)(s->flags & (BLF_SUB_WILDCARD | BLF_SUB_LIST)), "vi", (int)s->vis, "f",
			blf_json_sub_strs(s, BLF_SF_N));
	/* its event package, by name; absent means dialog, and a node of an
	 * older version ignores the key (json_unpack without '!') */
	if(j && p && s->pkg != 0)
		json_object_set_new(j, "ev", json_string(p->name));
	/* taken over by the watcher's refresh here (blf_sub_takeover_hold):
	 * optional, an older node ignores it */
	if(j && (s->flags & BLF_SUB_TAKEN))
		json_object_set_new(j, "tk", json_integer(1));
	return j;
}

/*
 * A list subscription's member versions (blf_lsub.c), in optional fields a
 * node of an older version ignores: "mv" the whole set (new, refreshed, a
 * sync; left out above BLF_DMQ_MV_MAX bytes: the peer resumes
 * never-repeat), after a NOTIFY "mv" again for a short list, else "mvd"
 * the members it carried, from the anchor "fa" on, or "mvx" (too many for
 * one replica: peers forget theirs).
 */
#define BLF_DMQ_MV_MAX 65536
static json_t *blf_sub_json_mv(json_t *j, const blf_sub_t *s, int delta)
{
	str t;
	char *txt = NULL;
	unsigned int fa = 0;
	int len;

	if(j == NULL || !(s->flags & BLF_SUB_LIST))
		return j;
	t = BLF_SF(s, BLF_SF_TTAG);
	if(delta) {
		int whole = 0;
		len = blf_lsub_mvers_delta(&t, &txt, &fa, &whole);
		if(len > 0 && whole)
			json_object_set_new(j, "mv", json_stringn(txt, (size_t)len));
		else if(len >= 0) {
			json_object_set_new(j, "mvd", json_stringn(txt, (size_t)len));
			json_object_set_new(j, "fa", json_integer((json_int_t)fa));
		} else if(len == -2)
			json_object_set_new(j, "mvx", json_integer(1));
	} else if((len = blf_lsub_mvers(&t, &txt)) > 0) {
		if(len <= BLF_DMQ_MV_MAX)
			json_object_set_new(j, "mv", json_stringn(txt, (size_t)len));
		else
			json_object_set_new(j, "mvx", json_integer(1));
	}
	free(txt);
	return j;
}

/* a peer's member versions of list subscription ttag (checked by
 * blf_repl_check: well-formed, bounded) */
static void blf_dmq_rx_lmv(json_t *m, const str *ttag, int owner)
{
	json_t *v;

	if((v = json_object_get(m, "mv")) && json_is_string(v)) {
		if(blf_lsub_mvers_keep(ttag, json_string_value(v),
				   json_string_length(v))
				== -1)
			LM_WARN("member versions of list subscription %.*s from %s not "
					"kept\n",
					ttag->len, ttag->s, blf_dmq_node_name(owner));
	} else if((v = json_object_get(m, "mvd")) && json_is_string(v))
		blf_lsub_mvers_merge(ttag,
				(unsigned int)json_integer_value(json_object_get(m, "fa")),
				json_string_value(v), json_string_length(v));
	else if(json_object_get(m, "mvx"))
		blf_lsub_mvers_forget(ttag);
}

/*
 * The change listener (registered by blf_dmq_init): what this node's tables
 * changed, as replicas, built from the batch's copies after the unlock and
 * sent as one message. Calls tracked elsewhere and subscriptions another
 * node owns are never noted (blf_chg.c), so they are not echoed back.
 */
/* a publication of ours: its raw body goes, the receiver parses it */
static json_t *blf_pub_json(const str *key, const blf_pub_t *p)
{
	return json_pack("{s:s, s:s%, s:s, s:I, s:I, s:s%}", "t", "pub", "e",
			key->s, (size_t)key->len, "g", p->etag, "x",
			(json_int_t)p->expires, "md", (json_int_t)p->modified, "bd",
			p->body, (size_t)p->body_len);
}

static json_t *blf_chg_json(const blf_chg_t *g)
{
	const blf_sub_t *s = g->sub;
	const blf_call_t *c = g->call;
	json_t *m;

	switch(g->kind) {
		case BLF_CHG_CALL:
			return blf_call_json(&g->key, c);
		case BLF_CHG_CALL_MOVE:
			/* a local call moved from entity key to key2 (an alias answer,
			 * blf_entity_move_calls): the other nodes move their copy */
			return json_pack("{s:s, s:s%, s:s%, s:i, s:i, s:[s%]}", "t", "mv",
					"e", g->key.s, (size_t)g->key.len, "to", g->key2.s,
					(size_t)g->key2.len, "d", g->dir, "q", (int)g->seq, "f",
					c->f[BLF_CF_CALLID].s, (size_t)c->f[BLF_CF_CALLID].len);
		case BLF_CHG_SUB_NEW:
			return blf_sub_json_mv(blf_sub_json(&g->key, s), s, 0);
		case BLF_CHG_SUB_LMV: /* a list's NOTIFY: its member versions */
			return blf_sub_json_mv(blf_sub_json(&g->key, s), s, 1);
		case BLF_CHG_SUB_DEL:
			return json_pack("{s:s, s:s%, s:o}", "t", "unsub", "e", g->key.s,
					(size_t)g->key.len, "f", blf_json_sub_strs(s, 3));
		case BLF_CHG_PUB_PUT:
			return blf_pub_json(&g->key, g->pub);
		case BLF_CHG_PUB_DEL:
			return json_pack("{s:s, s:s%, s:s}", "t", "unpub", "e", g->key.s,
					(size_t)g->key.len, "g", g->pub->etag);
		case BLF_CHG_SUB_VER:
			/* "cd": which state of the calls this NOTIFY showed, so that a
			 * node taking the subscription over replays only what came
			 * after it (blf_rhist.c); optional, an older node ignores it */
			m = json_pack("{s:s, s:s%, s:s%, s:i, s:i}", "t", "ver", "e",
					g->key.s, (size_t)g->key.len, "g", g->key2.s,
					(size_t)g->key2.len, "v", (int)g->version, "q",
					(int)g->cseq);
			if(m && g->shown)
				json_object_set_new(
						m, "cd", json_integer((json_int_t)g->shown));
			return m;
		default:
			return NULL;
	}
}

#define BLF_DMQ_CHG_KINDS                                              \
	(BLF_CHG_CALL | BLF_CHG_CALL_MOVE | BLF_CHG_SUB_NEW | BLF_CHG_SUB_DEL \
			| BLF_CHG_SUB_VER | BLF_CHG_PUB_PUT | BLF_CHG_PUB_DEL      \
			| BLF_CHG_SUB_LMV)

static void blf_dmq_chg(blf_chg_batch_t *b, void *param)
{
	blf_chg_t *g = NULL;
	json_t *m;

	if(!blf_dmq_on())
		return;
	while((g = blf_chg_next(b, g, BLF_DMQ_CHG_KINDS))) {
		m = blf_chg_json(g);
		if(m == NULL)
			continue;
		/* applying a peer's replica (blf_dmq_handle): our versions go in
		 * the answer */
		if(g->kind == BLF_CHG_SUB_VER && blf_dmq_answer
				&& json_array_size(blf_dmq_answer) < BLF_DMQ_ANSWER_MAX)
			json_array_append_new(blf_dmq_answer, m);
		else
			blf_out(m);
	}
	/* a message goes anyway: the versions waiting go with it (not with a
	 * large batch: a message stays well under BLF_REPL_RECORDS_MAX and
	 * BLF_REPL_BODY_MAX, a ver record is under 600 bytes) */
	if(blf_outbox && json_array_size(blf_outbox)
			&& json_array_size(blf_outbox) <= BLF_VQ_PIGGYBACK_WITH)
		blf_vq_take(BLF_VQ_PIGGYBACK);
	blf_dmq_flush();
}

/*
 * The "BLF DMQ VERSIONS" process: the versions to pass on that no other
 * message took along, once the oldest of them has waited
 * dmq_version_delay ms (and, at 200 ms or less, our direct KDMQs'
 * retransmissions: blf_dtx.c). It looks 4 times per delay: a version
 * waits for a message going anyway for most of the delay, not until a
 * tick that may come at once (a message of its own saved), and never
 * more than a quarter of the delay longer.
 */
unsigned int blf_dmq_vq_tick_ms(void)
{
	unsigned int d = (unsigned int)blf_cfg.dmq_version_delay;

	d = (d + 3) / 4;
	return d < 1 ? 1 : (d > 50 ? 50 : d);
}

void blf_dmq_vq_proc(unsigned int ticks, void *param)
{
	unsigned long long first;

	blf_dtx_tick(); /* our KDMQs' retransmissions (dmq_direct) */
	if(!blf_dmq_on() || blf_vq == NULL || blf_vq->n == 0)
		return;
	lock_get(&blf_vq->lock);
	first = blf_vq->n ? blf_vq->r[0].ms : 0;
	lock_release(&blf_vq->lock);
	if(blf_rhist_now_ms() - first + 1
			< (unsigned long long)blf_cfg.dmq_version_delay)
		return; /* + 1: a tick a little early still sends */
	blf_vq_pass_on();
}

static int blf_json_key(json_t *m, str *key);
static void blf_dmq_rx_ver(json_t *m, int owner);
static void blf_dmq_vc_one(const blf_repl_vrec_t *r, int origin);

/*
 * The answer of node idx (whose name its body gives, from the address we
 * sent to) to a message of ours: the versions its NOTIFYs took while it
 * applied it. Checked like a message (blf_repl_decode), "ver" records only,
 * of its own subscriptions; kept here and queued to be passed on.
 */
/* one version of node origin's answer: kept, and queued to be passed on */
static void blf_dmq_answer_ver(str *key, str *tag, unsigned int v,
		unsigned int q, int origin, unsigned int cd)
{
	blf_sub_replica_ver(key, tag->s, tag->len, v, q, origin, cd);
	if(blf_vq_put(key, tag, v, q, origin, cd) < 0) {
		/* the queue is full: it goes now, this one waits */
		blf_vq_pass_on();
		blf_vq_put(key, tag, v, q, origin, cd);
	}
}

/* whether owner (olen bytes), named by a version an answer passes on,
 * is this node or the answer's sender (named sender) */
static int blf_dmq_owner_bad(const char *owner, size_t olen, const char *sender)
{
	return (strlen(blf_nodes->node[0].name) == olen
				   && memcmp(blf_nodes->node[0].name, owner, olen) == 0)
		   || (sender && strlen(sender) == olen
				   && memcmp(sender, owner, olen) == 0);
}

static void blf_dmq_answer_in(struct sip_msg *msg, dmq_node_t *node)
{
	blf_repl_limits_t lim;
	blf_repl_vrec_t vr;
	size_t vpos;
	json_t *root = NULL, *r, *vc = NULL, *o;
	const char *name, *why = NULL, *tag;
	char rwhy[160];
	unsigned int quiet;
	size_t i, tlen;
	int origin, vv, q;
	json_int_t cd;
	str body, key, tg;

	body.s = get_body(msg);
	body.len = body.s && msg->content_length ? get_content_length(msg) : 0;
	if(body.len <= 0 || node == NULL)
		return;
	lim.now = time(NULL);
	lim.max_expires = blf_cfg.expiry.max_expires;
	rwhy[0] = '\0';
	if(!ip_addr_cmp(&node->ip_address, &msg->rcv.src_ip))
		why = "it does not come from the node we sent to";
	else if(blf_repl_decode(body.s, body.len, &lim, &root, rwhy, sizeof(rwhy))
			< 0)
		why = rwhy;
	else if(strcmp(json_string_value(json_object_get(root, "t")), "batch"))
		why = "not a batch";
	if(why == NULL) {
		/* versions only: its own, and those of a third node it passes
		 * on to us ("o": we said "pa"), never ours nor its own */
		name = json_string_value(json_object_get(root, "n"));
		json_array_foreach(json_object_get(root, "m"), i, r)
		{
			if(strcmp(json_string_value(json_object_get(r, "t")), "ver")) {
				why = "a record other than versions";
				break;
			}
			if((o = json_object_get(r, "o"))
					&& blf_dmq_owner_bad(json_string_value(o),
							json_string_length(o), name)) {
				why = "a version passed on names this node or its sender";
				break;
			}
		}
		vc = json_object_get(root, "vc");
		vpos = 0;
		while(why == NULL
				&& blf_repl_vc_next(json_string_value(vc),
						   json_string_length(vc), &vpos, &vr)
						   == 1)
			if(vr.owner && blf_dmq_owner_bad(vr.owner, vr.olen, name))
				why = "a compact version passed on names this node or its "
					  "sender";
	}
	if(why == NULL) {
		name = json_string_value(json_object_get(root, "n"));
		origin = strcmp(name, blf_nodes->node[0].name) == 0
						 ? -1
						 : blf_node_idx(name, &node->ip_address,
								 node->uri.port_no ? node->uri.port_no
												   : SIP_PORT,
								 &why);
		if(origin <= 0 && why == NULL)
			why = "it names this node";
	}
	if(why) {
		update_stat(blf_st_dmq_invalid, 1);
		if(blf_dmq_log_ok(&quiet))
			LM_NOTICE("blf DMQ answer from %s:%d ignored: %s (%u more "
					  "dropped or refused in the last second)\n",
					ip_addr2a(&msg->rcv.src_ip), (int)msg->rcv.src_port, why,
					quiet);
		json_decref(root);
		return;
	}
	json_array_foreach(json_object_get(root, "m"), i, r)
	{
		cd = 0; /* optional (checked: 1 to 2^32 - 1) */
		if(blf_json_key(r, &key) < 0
				|| json_unpack(r, "{s:s%, s:i, s:i, s?I}", "g", &tag, &tlen,
						   "v", &vv, "q", &q, "cd", &cd)
						   < 0)
			continue; /* checked: not reached */
		if((o = json_object_get(r, "o"))) {
			/* passed on to us: kept (it told the others), as
			 * blf_dmq_rx_ver */
			blf_dmq_rx_ver(r, origin);
			continue;
		}
		tg.s = (char *)tag;
		tg.len = (int)tlen;
		blf_dmq_answer_ver(&key, &tg, vv, q, origin, (unsigned int)cd);
	}
	vpos = 0;
	while(blf_repl_vc_next(json_string_value(vc), json_string_length(vc),
				  &vpos, &vr)
			== 1) {
		key.s = (char *)vr.key;
		key.len = (int)vr.klen;
		if(vr.owner) { /* passed on to us */
			blf_dmq_vc_one(&vr, origin);
			continue;
		}
		tg.s = (char *)vr.tag;
		tg.len = (int)vr.tlen;
		blf_dmq_answer_ver(&key, &tg, vr.v, vr.q, origin, vr.cd);
	}
	json_decref(root);
	/* dmq_version_delay 0: passed on at once */
	if(blf_cfg.dmq_version_delay == 0)
		blf_vq_pass_on();
}

/* ---- receiving ---- */

/* the strings of a JSON array into f[0..n-1] (pointing into the JSON) */
static int blf_json_fields(json_t *a, str *f, int n)
{
	json_t *v;
	int i;

	if(!json_is_array(a) || (int)json_array_size(a) < n)
		return -1;
	for(i = 0; i < n; i++) {
		v = json_array_get(a, i);
		if(!json_is_string(v))
			return -1;
		f[i].s = (char *)json_string_value(v);
		f[i].len = json_string_length(v);
	}
	return 0;
}

static int blf_json_key(json_t *m, str *key)
{
	json_t *v = json_object_get(m, "e");

	if(!json_is_string(v) || json_string_length(v) == 0
			|| json_string_length(v) >= BLF_KEY_MAX)
		return -1;
	key->s = (char *)json_string_value(v);
	key->len = json_string_length(v);
	return 0;
}

static int blf_dstate_ok(const blf_dstate_t *st)
{
	return (unsigned)st->state <= BLF_STATE_TERMINATED
		   && (unsigned)st->term <= BLF_TERM_TIMEOUT && st->code >= 0
		   && st->code <= 699;
}

/* a subscription owned by node owner: created or refreshed there */
static void blf_dmq_rx_sub(json_t *m, int owner)
{
	str f[BLF_SF_N], key;
	blf_sub_t *s;
	json_int_t expires;
	int version, cseq, flags, vis;
	const blf_pkg_t *pkg;
	json_t *ev = json_object_get(m, "ev");

	/* absent: dialog (a node of an older version) */
	pkg = ev ? blf_pkg_find(json_string_value(ev),
					   json_is_string(ev) ? json_string_length(ev) : 0)
			 : blf_pkg_find("dialog", 6);
	if(pkg == NULL) {
		LM_NOTICE("subscription replica from %s of event package '%.32s' "
				  "not served here (events): ignored\n",
				blf_dmq_node_name(owner),
				json_is_string(ev) ? json_string_value(ev) : "?");
		return;
	}

	if(blf_json_key(m, &key) < 0
			|| blf_json_fields(json_object_get(m, "f"), f, BLF_SF_N) < 0
			|| json_unpack(m, "{s:I, s:i, s:i, s:i, s:i}", "x", &expires, "v",
					   &version, "q", &cseq, "fl", &flags, "vi", &vis)
					   < 0) {
		LM_ERR("bad subscription replica from %s\n",
				blf_dmq_node_name(owner));
		return;
	}
	s = blf_sub_build(f, flags & (BLF_SUB_WILDCARD | BLF_SUB_LIST));
	if(s == NULL)
		return;
	s->expires = (unsigned int)expires;
	s->version = version;
	s->cseq = cseq;
	s->vis = (unsigned char)vis;
	s->pkg = pkg->id;
	s->owner = owner;
	s->sock = 0;
	if(json_integer_value(json_object_get(m, "tk")) == 1)
		s->flags |= BLF_SUB_TAKEN; /* the watcher moved to it: it owns */
	blf_sub_replica_put(&key, s, blf_dmq_node_name);
	if(flags & BLF_SUB_LIST)
		blf_dmq_rx_lmv(m, &f[BLF_SF_TTAG], owner);
}

static void blf_dmq_rx_unsub(json_t *m, int owner)
{
	str f[3], key;

	if(blf_json_key(m, &key) < 0
			|| blf_json_fields(json_object_get(m, "f"), f, 3) < 0)
		return;
	blf_sub_replica_del(&key, f, owner);
}

/* a publication taken by node origin: its body parsed here as a PUBLISH's
 * (publish_max_body), bounded by max_publications like one */
static void blf_dmq_rx_pub(json_t *m, int origin)
{
	blf_pidf_limits_t lim;
	blf_pidf_pub_t *doc = NULL;
	json_int_t x, md;
	const char *etag;
	char err[128];
	str key, body;
	size_t bl;

	if(blf_json_key(m, &key) < 0
			|| json_unpack(m, "{s:s, s:I, s:I, s:s%}", "g", &etag, "x", &x,
					   "md", &md, "bd", &body.s, &bl)
					   < 0)
		return;
	body.len = (int)bl;
	if(body.len > blf_cfg.publish_max_body) {
		LM_NOTICE("publication replica from %s over publish_max_body: "
				  "ignored\n",
				blf_dmq_node_name(origin));
		return;
	}
	memset(&lim, 0, sizeof(lim));
	lim.max_body = (size_t)blf_cfg.publish_max_body;
	lim.max_tuples = BLF_PIDF_MAX_TUPLES;
	lim.max_depth = BLF_PIDF_MAX_DEPTH;
	lim.max_note = BLF_PIDF_MAX_NOTE;
	lim.max_id = BLF_PIDF_MAX_ID;
	if(blf_pidf_parse(body.s, body.len, &lim, &doc, err, sizeof(err)) != 0) {
		LM_NOTICE("publication replica from %s ignored: %s\n",
				blf_dmq_node_name(origin), err);
		return;
	}
	if(blf_pub_replica_put(&key, etag, (time_t)x, (time_t)md, doc, &body,
			   origin, blf_cfg.max_publications)
			== BLF_PUB_E_FULL)
		LM_NOTICE("publication replica from %s: %.*s has max_publications "
				  "already: ignored\n",
				blf_dmq_node_name(origin), key.len, key.s);
	free(doc);
}

static void blf_dmq_rx_unpub(json_t *m, int origin)
{
	const char *etag;
	str key;

	if(blf_json_key(m, &key) < 0
			|| json_unpack(m, "{s:s}", "g", &etag) < 0)
		return;
	blf_pub_del(&key, etag, origin);
}

/* the index of the node called name, 0 for this node, -1 when unknown */
static int blf_node_find(const char *name)
{
	int i;

	lock_get(&blf_nodes->lock);
	for(i = 0; i < blf_nodes->n; i++)
		if(strcmp(blf_nodes->node[i].name, name) == 0)
			break;
	if(i == blf_nodes->n)
		i = -1;
	lock_release(&blf_nodes->lock);
	return i;
}

/* whether node idx is alive and answers a takeover replica with its last
 * version (it reads versions from answers: a node of this version; an
 * older one's silence costs the timer's second, blf_sub_takeover_hold) */
static int blf_dmq_owner_answers(int idx)
{
	int ok;

	if(idx <= 0 || idx >= BLF_DMQ_MAX_NODES || !blf_dmq_on())
		return 0;
	lock_get(&blf_nodes->lock);
	ok = idx < blf_nodes->n && blf_nodes->node[idx].alive
		 && blf_nodes->node[idx].rv;
	lock_release(&blf_nodes->lock);
	return ok;
}

/* whether node idx is alive in incarnation gen (blf_adopt.h) */
static int blf_dmq_origin_live(int idx, unsigned int gen)
{
	int ok;

	if(idx <= 0 || idx >= BLF_DMQ_MAX_NODES || !blf_dmq_on())
		return 0;
	lock_get(&blf_nodes->lock);
	ok = idx < blf_nodes->n && blf_nodes->node[idx].alive
		 && !blf_nodes->node[idx].restarted
		 && blf_nodes->node[idx].boot == gen;
	lock_release(&blf_nodes->lock);
	return ok;
}

static void blf_dmq_rx_ver(json_t *m, int owner)
{
	json_t *o;
	const char *tag;
	size_t tlen;
	int v, q;
	json_int_t cd = 0; /* optional: an older node does not say it */
	str key;

	if(blf_json_key(m, &key) < 0
			|| json_unpack(m, "{s:s%, s:i, s:i, s?I}", "g", &tag, &tlen, "v",
					   &v, "q", &q, "cd", &cd)
					   < 0)
		return;
	/* passed on from the answer of its owner (checked: a node name); ours
	 * (we sent that answer) or a node not heard of: nothing to do */
	if((o = json_object_get(m, "o"))
			&& (owner = blf_node_find(json_string_value(o))) <= 0)
		return;
	blf_sub_replica_ver(&key, tag, tlen, v, q, owner, (unsigned int)cd);
}

/* one compact version of node origin's message: as a "ver" record */
static void blf_dmq_vc_one(const blf_repl_vrec_t *r, int origin)
{
	char name[BLF_REPL_NAME_MAX + 1];
	int owner = origin;
	str key;

	if(r->owner) {
		/* passed on (see blf_dmq_rx_ver) */
		memcpy(name, r->owner, r->olen);
		name[r->olen] = '\0';
		if((owner = blf_node_find(name)) <= 0)
			return;
	}
	key.s = (char *)r->key;
	key.len = (int)r->klen;
	blf_sub_replica_ver(&key, r->tag, r->tlen, r->v, r->q, owner, r->cd);
}

/* a batch's compact versions ("vc", checked): as "ver" records */
static void blf_dmq_rx_vc(json_t *vc, int origin)
{
	blf_repl_vrec_t r;
	size_t pos = 0;

	if(vc == NULL)
		return;
	while(blf_repl_vc_next(json_string_value(vc), json_string_length(vc),
				  &pos, &r)
			== 1)
		blf_dmq_vc_one(&r, origin);
}

/* node origin moved its call from entity "e" to entity "to" */
static void blf_dmq_rx_mv(json_t *m, int origin)
{
	const char *to;
	size_t tolen;
	str from, tokey, callid;
	int dir, seq;

	if(blf_json_key(m, &from) < 0
			|| blf_json_fields(json_object_get(m, "f"), &callid, 1) < 0
			|| json_unpack(m, "{s:s%, s:i, s:i}", "to", &to, &tolen, "d", &dir,
					   "q", &seq)
					   < 0)
		return; /* checked by blf_repl: not reached */
	tokey.s = (char *)to;
	tokey.len = (int)tolen;
	blf_entity_call_replica_move(&from, &tokey, &callid, dir, seq, origin);
}

/*
 * A call replica from node origin: its history of changes is applied in
 * order, each one not seen yet with its own NOTIFYs, so watchers here see
 * every state even when DMQ delivers the replicas out of order.
 */
/* the incarnation ("b") of the message being applied (per process) */
static unsigned int blf_rx_boot = 0;

static void blf_dmq_rx_call(json_t *m, int origin)
{
	blf_call_upd_t upd;
	blf_dstate_t st;
	json_int_t start = 0;
	json_t *h, *v;
	size_t i;
	int dir, seq, hseq;
	str key;

	memset(&upd, 0, sizeof(upd));
	memset(&st, 0, sizeof(st));
	if(blf_json_key(m, &key) < 0
			|| blf_json_fields(json_object_get(m, "f"), upd.f, BLF_CF_N) < 0
			|| json_unpack(m, "{s:i, s:i, s:i, s:i, s:i, s?I}", "d", &dir, "s",
					   (int *)&st.state, "x", (int *)&st.term, "c", &st.code,
					   "q", &seq, "st", &start)
					   < 0
			|| !blf_dstate_ok(&st) || dir < 0 || dir > 1) {
		LM_ERR("bad call replica from %s\n", blf_dmq_node_name(origin));
		return;
	}
	h = json_object_get(m, "h");
	json_array_foreach(h, i, v)
	{
		blf_dstate_t hs;
		memset(&hs, 0, sizeof(hs));
		if(json_unpack(v, "[i, i, i, i]", &hseq, (int *)&hs.state,
				   (int *)&hs.term, &hs.code)
						< 0
				|| !blf_dstate_ok(&hs)
				|| !blf_seq_before(hseq, seq))
			continue; /* the last one is the replica's own state */
		blf_entity_call_replica(&key, &upd, dir, origin, blf_rx_boot,
				(time_t)start, hseq, hs);
	}
	blf_entity_call_replica(
			&key, &upd, dir, origin, blf_rx_boot, (time_t)start, seq, st);
}

/* this node's calls and subscriptions of one entity, into a batch */
/* bytes of the publication bodies in the batch being built: a batch goes
 * out before it nears BLF_REPL_BODY_MAX, which the receiver enforces */
static size_t blf_dmq_state_bytes = 0;
#define BLF_DMQ_SYNC_BYTES (BLF_REPL_BODY_MAX / 2)

static int blf_dmq_state_entity(blf_entity_t *e, void *arg)
{
	json_t *batch = arg;
	blf_call_t *c;
	blf_sub_t *s;
	blf_pub_t *p;

	for(c = e->calls; c; c = c->next)
		if(c->origin == 0 && !(e->flags & BLF_ENT_PARK))
			json_array_append_new(batch, blf_call_json(&e->key, c));
	for(s = e->subs; s; s = s->next)
		if(s->owner == 0) {
			json_t *j = blf_sub_json_mv(blf_sub_json(&e->key, s), s, 0);
			json_t *mv = j ? json_object_get(j, "mv") : NULL;
			if(mv) /* a list's member versions count like a body */
				blf_dmq_state_bytes += json_string_length(mv);
			json_array_append_new(batch, j);
		}
	for(p = e->pubs; p; p = p->next)
		if(p->origin == 0) {
			json_array_append_new(batch, blf_pub_json(&e->key, p));
			blf_dmq_state_bytes += p->body_len + e->key.len + 64;
		}
	return 0;
}

/* everything this node tracks and owns, to one node, in batches */
static void blf_dmq_send_state(dmq_node_t *to)
{
	json_t *batch = json_array(), *msg;
	unsigned int i, n = blf_table_slots();

	for(i = 0; i < n; i++) {
		blf_table_slot_each(i, blf_dmq_state_entity, batch);
		if(json_array_size(batch) >= BLF_DMQ_SYNC_BATCH
				|| blf_dmq_state_bytes >= BLF_DMQ_SYNC_BYTES
				|| (i + 1 == n && json_array_size(batch))) {
			blf_dmq_state_bytes = 0;
			msg = json_pack("{s:s, s:o}", "t", "batch", "m", batch);
			blf_dmq_send(msg, to);
			json_decref(msg);
			batch = json_array();
		}
	}
	json_decref(batch);
}

static void blf_dmq_rx(json_t *m, int origin, dmq_node_t *from)
{
	const char *t = json_string_value(json_object_get(m, "t"));
	json_t *v;
	size_t i;

	if(t == NULL)
		return;
	if(strcmp(t, "batch") == 0) {
		json_array_foreach(json_object_get(m, "m"), i, v)
			blf_dmq_rx(v, origin, from);
		blf_dmq_rx_vc(json_object_get(m, "vc"), origin);
	} else if(strcmp(t, "call") == 0) {
		blf_dmq_rx_call(m, origin);
	} else if(strcmp(t, "sub") == 0) {
		blf_dmq_rx_sub(m, origin);
	} else if(strcmp(t, "unsub") == 0) {
		blf_dmq_rx_unsub(m, origin);
	} else if(strcmp(t, "ver") == 0) {
		blf_dmq_rx_ver(m, origin);
	} else if(strcmp(t, "mv") == 0) {
		blf_dmq_rx_mv(m, origin);
	} else if(strcmp(t, "pub") == 0) {
		blf_dmq_rx_pub(m, origin);
	} else if(strcmp(t, "unpub") == 0) {
		blf_dmq_rx_unpub(m, origin);
	} else if(strcmp(t, "sync") == 0) {
		LM_INFO("sending the full state to %s\n", blf_dmq_node_name(origin));
		blf_dmq_send_state(from);
	}
	/* "hello": the sender was marked alive already */
}

static int blf_dmq_tag_ok(json_t *r)
{
	json_t *v = json_array_get(json_object_get(r, "f"), BLF_SF_TTAG);
	unsigned int h;
	str tag, key;

	if(blf_json_key(r, &key) < 0 || !json_is_string(v))
		return 0;
	tag.s = (char *)json_string_value(v);
	tag.len = (int)json_string_length(v);
	return blf_tag_hash(&tag, &h) == 0 && h == blf_key_hash(&key);
}

/*
 * The URIs of the records of a checked message parse as Kamailio parses
 * them (blf_repl checked their charset and bounds already), and the To tag
 * of a subscription is one of ours for its entity (it encodes the entity's
 * hash: how a refresh finds it).
 */
static int blf_dmq_uris_ok(json_t *root, const char **field)
{
	static const int call_uris[] = {BLF_CF_LURI, BLF_CF_LTARGET, BLF_CF_RURI,
			BLF_CF_RTARGET, -1};
	static const int sub_uris[] = {BLF_SF_WURI, BLF_SF_URI, BLF_SF_CONTACT,
			BLF_SF_LCONTACT, BLF_SF_DST, -1};
	struct sip_uri pu;
	json_t *recs, *r, *v;
	const char *t;
	const int *ix;
	size_t i;
	str u;

	t = json_string_value(json_object_get(root, "t"));
	if(t && strcmp(t, "batch") == 0) {
		recs = json_object_get(root, "m");
		json_incref(recs);
	} else {
		recs = json_array();
		json_array_append(recs, root);
	}
	json_array_foreach(recs, i, r)
	{
		t = json_string_value(json_object_get(r, "t"));
		if(t && strcmp(t, "call") == 0) {
			ix = call_uris;
		} else if(t && strcmp(t, "sub") == 0) {
			ix = sub_uris;
			if(!blf_dmq_tag_ok(r)) {
				*field = "the To tag of a subscription is not one of ours "
						 "for its entity";
				json_decref(recs);
				return 0;
			}
		} else {
			continue;
		}
		for(; *ix >= 0; ix++) {
			v = json_array_get(json_object_get(r, "f"), *ix);
			u.s = (char *)json_string_value(v);
			u.len = u.s ? (int)json_string_length(v) : 0;
			if(u.len && parse_uri(u.s, u.len, &pu) < 0) {
				*field = t[0] == 'c'
								 ? "a URI of a call does not parse"
								 : "a URI of a subscription does not parse";
				json_decref(recs);
				return 0;
			}
		}
	}
	json_decref(recs);
	return 1;
}

/*
 * Whether the versions our NOTIFYs take while applying msg from node origin
 * go in the answer (see blf_vq_put): the sender passes them on ("rv"), and
 * so does every live peer (an older node would not, and one that did not
 * hear them would have to take our subscriptions over with stale
 * versions); and dmq's worker sends the answer (it frees the body; the
 * script's dmq_process_message() would not).
 */
static int blf_dmq_answer_ok(struct sip_msg *msg, int origin, json_t *root)
{
	int i, ok = 1;

	if(!(msg->msg_flags & FL_SHM_CLONE)
			|| json_integer_value(json_object_get(root, "rv")) != 1)
		return 0;
	lock_get(&blf_nodes->lock);
	for(i = 1; i < blf_nodes->n; i++)
		if(i != origin && blf_nodes->node[i].alive && !blf_nodes->node[i].rv)
			ok = 0;
	lock_release(&blf_nodes->lock);
	return ok;
}

/* the answer's body: our versions, as a batch message of ours (pkg: dmq's
 * worker frees it once the answer is sent) */
static void blf_dmq_answer_body(peer_reponse_t *resp, int origin)
{
	json_t *msg, *m;
	char *s;
	size_t len;
	int i, n;

	/* what we pass on to it alone goes along (blf_vq_grab_for) */
	n = blf_vq_grab_for(
			origin, BLF_DMQ_ANSWER_MAX - (int)json_array_size(blf_dmq_answer));
	for(i = 0; i < n; i++)
		if((m = blf_vrec_json(&blf_vq_out[i])))
			json_array_append_new(blf_dmq_answer, m);
	if(json_array_size(blf_dmq_answer) == 0)
		return;
	msg = json_pack("{s:s, s:O, s:s, s:I}", "t", "batch", "m", blf_dmq_answer,
			"n", blf_nodes->node[0].name, "b", (json_int_t)blf_nodes->boot);
	if(msg)
		blf_dmq_compact(msg, origin); /* it alone reads the answer */
	s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if(s == NULL)
		goto broadcast;
	len = strlen(s);
	resp->body.s = pkg_malloc(len + 1);
	if(resp->body.s == NULL) {
		PKG_MEM_ERROR;
		free(s);
		goto broadcast;
	}
	memcpy(resp->body.s, s, len + 1);
	resp->body.len = (int)len;
	resp->content_type = blf_dmq_ctype;
	free(s);
	return;
broadcast: /* as before: to every node, now */
	json_array_extend(blf_outbox ? blf_outbox : (blf_outbox = json_array()),
			blf_dmq_answer);
	blf_dmq_flush();
}

/*
 * A peer's replica makes NOTIFYs here whose versions go back in our answer
 * to it (blf_dmq_answer). Sent while it is applied, before dmq's worker
 * sends that answer (after blf_dmq_handle returns), a NOTIFY would leave
 * a window: killed in it, this node NOTIFYd versions no peer heard of,
 * and the node taking its subscriptions over would send them again (the
 * kill bench saw a watcher get one version twice). So they are held
 * (blf_notify_hold) and sent once the answer has left: the core runs
 * SREV_SIP_REPLY_OUT right after sl sent it, in this process. Should
 * that answer not go (a failure of dmq's), the next message sends them.
 */
static int blf_dmq_reply_hook = 0; /* blf_dmq_reply_out registered */

static int blf_dmq_reply_out(sr_event_param_t *evp)
{
	if(blf_notify_holds())
		blf_notify_release();
	return 0;
}

void blf_dmq_proc_init(void)
{
	if(!blf_cfg.enable_dmq)
		return;
	/* our answers' NOTIFYs go after them (blf_dmq_reply_out); without the
	 * hook (its list full) they go before, as they did. Registered here
	 * (the main process, after every module's mod_init, before the
	 * forks), after blf_reply_proc_init has looked whether anyone else
	 * listens: our own listener must not turn the direct 200 off */
	if(sr_event_register_cb(SREV_SIP_REPLY_OUT, blf_dmq_reply_out) == 0)
		blf_dmq_reply_hook = 1;
	else
		LM_WARN("no room for a reply-out hook: a NOTIFY a peer's replica "
				"makes goes before the answer with its version\n");
}

static int blf_dmq_handle(
		struct sip_msg *msg, peer_reponse_t *resp, dmq_node_t *node)
{
	blf_repl_limits_t lim;
	json_t *root = NULL;
	const char *name, *why = NULL;
	char rwhy[160];
	unsigned int quiet;
	unsigned short nport = 0;
	str body;
	int origin;

	if(blf_notify_holds())
		blf_notify_release(); /* the last answer did not go */
	resp->resp_code = 400;
	resp->reason.s = "Bad Request";
	resp->reason.len = 11;
	if(!blf_dmq_sender_ok(msg, node, &why, &nport)) {
		update_stat(blf_st_dmq_untrusted, 1);
		if(blf_dmq_log_ok(&quiet))
			LM_NOTICE("blf DMQ message from %s:%d dropped: %s (%u more "
					  "dropped or refused in the last second)\n",
					ip_addr2a(&msg->rcv.src_ip), (int)msg->rcv.src_port, why,
					quiet);
		resp->resp_code = 403;
		resp->reason.s = "Forbidden";
		resp->reason.len = 9;
		return 0;
	}
	body.s = get_body(msg);
	body.len = msg->content_length ? get_content_length(msg) : 0;
	lim.now = time(NULL);
	lim.max_expires = blf_cfg.expiry.max_expires;
	rwhy[0] = '\0';
	if(body.s == NULL || body.len <= 0
			|| blf_repl_decode(body.s, body.len, &lim, &root, rwhy,
					   sizeof(rwhy))
					   < 0
			|| !blf_dmq_uris_ok(root, &why)) {
		if(why)
			snprintf(rwhy, sizeof(rwhy), "%s", why);
		update_stat(blf_st_dmq_invalid, 1);
		if(blf_dmq_log_ok(&quiet))
			LM_NOTICE("blf DMQ message from %s:%d rejected: %s (%u more "
					  "dropped or refused in the last second)\n",
					ip_addr2a(&msg->rcv.src_ip), (int)msg->rcv.src_port,
					rwhy[0] ? rwhy : "no body", quiet);
		goto out;
	}
	name = json_string_value(json_object_get(root, "n"));
	if(strcmp(name, blf_nodes->node[0].name) == 0) {
		update_stat(blf_st_dmq_untrusted, 1);
		if(blf_dmq_log_ok(&quiet))
			LM_NOTICE("blf DMQ message from %s:%d dropped: it names this "
					  "node (%s) as its sender (%u more)\n",
					ip_addr2a(&msg->rcv.src_ip), (int)msg->rcv.src_port, name,
					quiet);
		goto out;
	}
	origin = blf_node_idx(name, &msg->rcv.src_ip, nport, &why);
	if(origin <= 0) {
		update_stat(blf_st_dmq_untrusted, 1);
		if(blf_dmq_log_ok(&quiet))
			LM_NOTICE("blf DMQ message from %s:%d as node %s dropped: %s (%u "
					  "more)\n",
					ip_addr2a(&msg->rcv.src_ip), (int)msg->rcv.src_port, name,
					why ? why : "refused", quiet);
		resp->resp_code = 403;
		resp->reason.s = "Forbidden";
		resp->reason.len = 9;
		goto out;
	}
	blf_node_boot(origin, json_object_get(root, "b"),
			json_object_get(root, "rv"), json_object_get(root, "cv"),
			json_object_get(root, "pa"));
	blf_rx_boot = json_is_integer(json_object_get(root, "b"))
						  ? (unsigned int)json_integer_value(
								  json_object_get(root, "b"))
						  : 0;
	if(blf_dmq_answer_ok(msg, origin, root)) {
		blf_dmq_answer = json_array();
		/* its NOTIFYs after the answer with their versions (above) */
		if(blf_dmq_reply_hook)
			blf_notify_hold();
	}
	blf_dmq_rx(root, origin, node);
	blf_chg_flush(); /* what applying it changed here (a DB row gone) */
	if(blf_dmq_answer) {
		blf_dmq_answer_body(resp, origin);
		json_decref(blf_dmq_answer);
		blf_dmq_answer = NULL;
	}
	if(!blf_notify_holds())
		blf_notify_release(); /* nothing held: holding no more */
	resp->resp_code = 200;
	resp->reason.s = "OK";
	resp->reason.len = 2;
out:
	json_decref(root);
	return 0;
}

/* ---- liveness and takeover ---- */

/*
 * Our hello, at most once a second (a long takeover says it between slots,
 * so the others never think us dead meanwhile). Not when a message of ours
 * went to every peer in the last second: a peer marks a node alive on any
 * blf message of it (blf_node_idx, in every version), and every message
 * carries what a hello says (name, incarnation, "rv", "cv"). A busy node
 * then sends no hellos at all; a peer hears of it at most 2 s apart,
 * well inside BLF_DMQ_DEAD_AFTER.
 */
#define BLF_DMQ_HELLO_MS 1000
static void blf_dmq_hello(void)
{
	static time_t last = 0;
	time_t now = time(NULL);
	unsigned long long all_ms;
	json_t *m;

	if(now == last)
		return;
	last = now;
	lock_get(&blf_nodes->lock);
	all_ms = blf_nodes->all_ms;
	lock_release(&blf_nodes->lock);
	if(all_ms && blf_rhist_now_ms() - all_ms < BLF_DMQ_HELLO_MS)
		return;
	m = json_pack("{s:s}", "t", "hello");
	blf_dmq_hello_sending = 1;
	blf_dmq_send(m, NULL);
	blf_dmq_hello_sending = 0;
	json_decref(m);
}

/* the live node that ranks first for a subscription tag */
static int blf_dmq_pick(const str *tag, const int *alive, int n)
{
	return blf_order_pick(blf_nodes->node[0].name, sizeof(blf_node_t), alive,
			n, tag->s, tag->len);
}

/* our Contact for subscriptions taken over from another node: the first
 * UDP socket, an IPv6 address in brackets (blf_sock_contact) */
static int blf_dmq_contact(char *buf, int size, str *out)
{
	return blf_sock_contact(udp_listen, buf, size, out);
}

/*
 * Node dead has died. Its calls end (their proxy is gone, and with it the
 * calls; of a node that restarted, those its old incarnation sent);
 * each of its subscriptions goes to the live node that ranks first
 * for it, and those that fall to us get a full-state NOTIFY at once with the
 * next version and a higher CSeq.
 */
/* one takeover's walk over a slot (its lock held) */
typedef struct blf_tko {
	int dead;
	const int *alive;
	int n;
	str lc; /* our Contact, for the subscriptions taken */
	str *keys; /* entities with calls of the dead node */
	int nkeys, maxkeys, mine, lost;
	unsigned long long since_ms; /* the dead node's changes replayed from
								  * then on, when its NOTIFYs' are not
								  * known (blf_rhist.c) */
	unsigned int keep; /* its calls from this incarnation stay (0: none) */
	time_t now;
	blf_notify_job_t *jobs;
	/* when each node was last heard from: the versions the dead node's
	 * relays may have lost are not used again (blf_sub_take_over) */
	unsigned long long heard_ms[BLF_DMQ_MAX_NODES];
	blf_heard_t heard;
} blf_tko_t;

/* the node that takes a subscription of the dead node over */
static int blf_dmq_pick_cb(const str *ttag, void *arg)
{
	blf_tko_t *t = arg;

	return blf_dmq_pick(ttag, t->alive, t->n);
}

static int blf_dmq_takeover_entity(blf_entity_t *e, void *arg)
{
	blf_tko_t *t = arg;
	blf_call_t *c;
	str *nk;

	for(c = e->calls;
			c && (c->origin != t->dead || (t->keep && c->gen == t->keep));
			c = c->next)
		;
	if(c) { /* ended below, slot by slot, with wildcard locks */
		if(t->nkeys == t->maxkeys) {
			nk = pkg_realloc(t->keys,
					(t->maxkeys ? t->maxkeys * 2 : 64) * sizeof(str));
			if(nk == NULL) {
				PKG_MEM_ERROR;
				t->lost++;
				return 0;
			}
			t->keys = nk;
			t->maxkeys = t->maxkeys ? t->maxkeys * 2 : 64;
		}
		t->keys[t->nkeys].s = pkg_malloc(e->key.len + 1);
		if(t->keys[t->nkeys].s) {
			memcpy(t->keys[t->nkeys].s, e->key.s, e->key.len);
			t->keys[t->nkeys].len = e->key.len;
			t->nkeys++;
		} else {
			t->lost++;
		}
	}
	t->mine += blf_sub_take_over(e, t->dead, blf_dmq_pick_cb, t, &t->lc,
			udp_listen ? &udp_listen->sock_str : NULL, &t->jobs, t->since_ms,
			&t->heard, t->now);
	return 0;
}

/*
 * Between two slots of a takeover: its NOTIFYs (a replay sends several per
 * subscription) leave as fast as the watchers answer, so that they never
 * fill max_notifies_inflight, which would defer the live NOTIFYs of every
 * process (and lose the states they carried). Waits while more than half
 * of it is in flight, saying hello meanwhile; *left: the milliseconds the
 * whole takeover may still wait (BLF_DMQ_TKO_PACE_MS), so that watchers
 * which never answer cannot stretch it slot after slot.
 */
static void blf_dmq_takeover_pace(int *left)
{
	unsigned long half = (unsigned long)blf_cfg.max_notifies_inflight / 2;

	while(half && *left > 0 && blf_inflight_count() > half) {
		usleep(5000);
		*left -= 5;
		blf_dmq_hello();
	}
}

static void blf_dmq_takeover(int dead, const int *alive, int n,
		unsigned long long gone_ms, unsigned int keep)
{
	char cbuf[128];
	blf_tko_t t;
	unsigned int i;
	unsigned long long margin;
	int k, ended = 0, held = 0, pace = BLF_DMQ_TKO_PACE_MS;

	memset(&t, 0, sizeof(t));
	t.dead = dead;
	t.alive = alive;
	t.n = n;
	t.now = time(NULL);
	t.keep = keep;
	/* what the dead node did not show its watchers is replayed
	 * (blf_rhist.c); where that is not known, what changed since shortly
	 * before it was last heard from */
	margin = BLF_DMQ_REPLAY_MARGIN_MS
			 + (unsigned long long)(blf_coal_interval > 0 ? blf_coal_interval
														  : 0);
	t.since_ms = gone_ms > margin ? gone_ms - margin : 1;
	/* a relay passes the versions in its answers on at most
	 * dmq_version_delay later (ours: the same on every node of a cluster,
	 * as the examples configure it); heard from after that (+ the replay
	 * margin: delivery, the queues of dmq's workers), it did */
	lock_get(&blf_nodes->lock);
	for(k = 0; k < n && k < BLF_DMQ_MAX_NODES; k++)
		t.heard_ms[k] = blf_nodes->node[k].seen_ms;
	lock_release(&blf_nodes->lock);
	t.heard.now_ms = blf_rhist_now_ms();
	t.heard_ms[0] = t.heard.now_ms; /* we pass on what we hear */
	t.heard_ms[dead] = gone_ms;
	t.heard.ms = t.heard_ms;
	t.heard.n = n < BLF_DMQ_MAX_NODES ? n : BLF_DMQ_MAX_NODES;
	t.heard.dead = dead;
	/* the VERSIONS process passes a version on once it waited
	 * dmq_version_delay, looking four times per delay (blf_dmq_vq_proc) */
	t.heard.pass_ms =
			blf_cfg.dmq_version_delay > 0
					? (unsigned long long)blf_cfg.dmq_version_delay * 5 / 4
					: 0;
	/* a live node's longest silence: a busy one skips its hellos, a peer
	 * hears of it at most two hello intervals apart (blf_dmq_hello) */
	t.heard.hello_ms = 2 * BLF_DMQ_HELLO_MS;
	t.heard.margin_ms = BLF_DMQ_REPLAY_MARGIN_MS;
	if(blf_dmq_contact(cbuf, sizeof(cbuf), &t.lc) < 0)
		t.lc.len = 0;
	for(i = 0; i < blf_table_slots(); i++) {
		if(blf_table_slot_empty(i))
			continue;
		t.jobs = NULL;
		blf_table_slot_each(i, blf_dmq_takeover_entity, &t);
		blf_chg_send(t.jobs);
		blf_dmq_hello();
		blf_dmq_takeover_pace(&pace);
		/* this slot's entities with calls of the dead node: every one of
		 * them, whatever their number (the keys of one slot at a time) */
		for(k = 0; k < t.nkeys; k++) {
			/* held for takeover_call_hold first (blf_adopt.c) */
			held += blf_adopt_hold(&t.keys[k], dead, keep);
			pkg_free(t.keys[k].s);
		}
		ended += t.nkeys;
		t.nkeys = 0;
	}
	if(t.keys)
		pkg_free(t.keys);
	if(t.lost)
		LM_ERR("cluster node %s is dead: out of pkg memory, the calls of %d "
			   "entities stay\n",
				blf_dmq_node_name(dead), t.lost);
	LM_NOTICE("cluster node %s is dead: calls ended at %d entities (%d call "
			  "sides held for takeover_call_hold), %d of its subscriptions "
			  "taken over here, versions skipped in %d (it may have sent "
			  "them unheard of)\n",
			blf_dmq_node_name(dead), ended, held, t.mine, t.heard.skipped);
}

/* every second, from the BLF DMQ timer process */
void blf_dmq_timer(void)
{
	int alive[BLF_DMQ_MAX_NODES], dead[BLF_DMQ_MAX_NODES];
	unsigned long long gone[BLF_DMQ_MAX_NODES];
	unsigned int keep[BLF_DMQ_MAX_NODES];
	int i, n, ndead = 0, ask = 0;
	json_t *m;
	time_t now = time(NULL);

	if(!blf_dmq_on())
		return;
	blf_dmq_hello();
	blf_adopt_timer(); /* held calls whose hold ended */

	lock_get(&blf_nodes->lock);
	n = blf_nodes->n;
	alive[0] = 1;
	for(i = 1; i < n; i++) {
		blf_node_t *nd = &blf_nodes->node[i];
		if(nd->alive && now - nd->last_seen >= BLF_DMQ_DEAD_AFTER) {
			nd->alive = 0;
			gone[ndead] = nd->seen_ms;
			keep[ndead] = 0;
			dead[ndead++] = i;
		} else if(nd->restarted) {
			/* its new incarnation holds nothing yet: the survivors take
			 * its old one's subscriptions and end its calls */
			gone[ndead] = nd->gone_ms ? nd->gone_ms : nd->seen_ms;
			/* the calls its new incarnation replicated already (before
			 * this tick) stay */
			keep[ndead] = nd->boot;
			dead[ndead++] = i;
		}
		nd->restarted = 0;
		alive[i] = nd->alive;
	}
	for(i = 0; i < ndead; i++)
		alive[dead[i]] = 0;
	if(!blf_nodes->synced && n > 1) {
		blf_nodes->synced = 1;
		ask = 1;
	}
	lock_release(&blf_nodes->lock);

	if(ask) {
		/* the first peer heard of: ask everyone for their state */
		m = json_pack("{s:s}", "t", "sync");
		blf_dmq_send(m, NULL);
		json_decref(m);
	}
	for(i = 0; i < ndead; i++)
		blf_dmq_takeover(dead[i], alive, n, gone[i], keep[i]);
}

/*
 * The "BLF DMQ" timer process: hellos, deaths and takeovers every second,
 * beside the expiry pass (its own process), so a slow pass never delays a
 * hello into a false death.
 */
void blf_dmq_timer_proc(unsigned int ticks, void *param)
{
	blf_dmq_timer();
}

int blf_dmq_init(void)
{
	dmq_peer_t p;
	const char *name;
	char buf[128];

	if(!blf_cfg.enable_dmq)
		return 0;
	blf_lsub_mvers_replicate(); /* lists' member versions: deltas */
	if(dmq_load_api(&blf_dmqb) < 0) {
		LM_ERR("enable_dmq needs dmq.so loaded before blf.so\n");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.callback = blf_dmq_handle;
	p.init_callback = NULL;
	p.peer_id.s = "blf";
	p.peer_id.len = 3;
	p.description.s = "blf";
	p.description.len = 3;
	blf_dmq_peer = blf_dmqb.register_dmq_peer(&p);
	if(blf_dmq_peer == NULL) {
		LM_ERR("cannot register the blf DMQ peer\n");
		return -1;
	}
	/* dmq_direct: blf's UDP KDMQs as our own transactions */
	if(blf_dtx_init(&p.peer_id, blf_dmq_dtx_answer,
			   blf_cfg.dmq_version_delay <= 0
					   || blf_cfg.dmq_version_delay > 200)
			< 0)
		return -1;
	blf_nodes = shm_malloc(sizeof(blf_nodes_t));
	if(blf_nodes == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_nodes, 0, sizeof(blf_nodes_t));
	lock_init(&blf_nodes->lock);
	/* restored subscriptions: quiet until our peers could take them over
	 * (blf_table.h) */
	blf_sub_restore_hold = shm_malloc(sizeof(*blf_sub_restore_hold));
	if(blf_sub_restore_hold == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	*blf_sub_restore_hold = (unsigned int)time(NULL) + BLF_DMQ_RESTORE_ALONE;
	if(blf_sub_repl_init() < 0)
		return -1;
	blf_rhist_enable(); /* the states a takeover replays */
	if(blf_vq_init() < 0)
		return -1;
	/* this node's name: node_name, else its first listen socket */
	if(blf_cfg.node_name.len) {
		snprintf(buf, sizeof(buf), "%.*s", blf_cfg.node_name.len,
				blf_cfg.node_name.s);
		name = buf;
	} else if(udp_listen) {
		snprintf(buf, sizeof(buf), "%.*s", udp_listen->sock_str.len,
				udp_listen->sock_str.s);
		name = buf;
	} else {
		LM_ERR("set modparam blf node_name (no UDP listen socket)\n");
		return -1;
	}
	if(blf_cfg.node_name.len > BLF_REPL_NAME_MAX
			|| !blf_repl_name_ok(name, strlen(name))) {
		LM_ERR("node_name '%.*s': 1 to %d letters, digits or . _ : @ [ ] "
			   "-\n",
				64, name, BLF_REPL_NAME_MAX);
		return -1;
	}
	if(blf_peers_init() < 0)
		return -1;
	if(blf_npeers == 0)
		LM_NOTICE("modparam dmq_peers is empty: blf accepts replicas from "
				  "every node the dmq module admits; let only the peers' "
				  "KDMQ reach dmq_handle_message() (see the README, "
				  "Security)\n");
	strcpy(blf_nodes->node[0].name, name);
	blf_nodes->boot = ((unsigned int)time(NULL) << 10) ^ (unsigned int)getpid();
	blf_nodes->n = 1;
	blf_nodes->node[0].alive = 1;
	LM_INFO("cluster node name: %s\n", name);
	/* a refresh taking a live node's subscription over asks it first */
	blf_repl_owner_answers = blf_dmq_owner_answers;
	/* a held call of a node alive after all does not end */
	blf_adopt_origin_live = blf_dmq_origin_live;
	/* and a wildcard's burst follows the version */
	blf_repl_wild_resume = blf_subs_takeover_burst;
	/* what the tables change here, replicated */
	return blf_chg_listen(BLF_DMQ_CHG_KINDS, blf_dmq_chg, NULL);
}
