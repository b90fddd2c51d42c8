/*
 * blf_dtx.c — blf's KDMQ messages over UDP, kept by the module itself.
 *
 * Every message blf sends to its peers (replicas, versions passed on,
 * hellos, state) went through dmq's send_message: a copy of the node, two
 * URI strings built in pkg, and a tm transaction with its cell, its
 * timers, its wait timer and the matching of the 200 (about 12 % of a
 * 3-node cluster's CPU, notes/closing4.md part 2). With dmq_direct=1 (the
 * default), when dmq's own address and the peer are UDP at an IP address,
 * the module sends the same KDMQ request itself, as blf_ntx.c does for
 * NOTIFY:
 *
 *   - on the wire it is what dmq sends: "KDMQ sip:blf@<peer>", From
 *     sip:blf@<dmq server_address>, Max-Forwards and Content-Type, from
 *     dmq's socket, so dmq_handle_message() on the peer (of any version)
 *     takes it as it took tm's;
 *   - our Via branch ("z9hG4bKbdq.<process>.<seq>.<boot>.<nonce>", the
 *     NOTIFY branch of blf_branch.h under another prefix) names the
 *     record; the 200 is matched in the module's response callback (nonce,
 *     Call-ID, CSeq and the address it went to) and its body, the versions
 *     the peer's NOTIFYs took, goes to the same callback tm's reply fed;
 *   - it is retransmitted (Timer E: T1 doubling up to T2) and given up
 *     after tm's fr_timer (Timer F), with a 408 to the callback as tm
 *     would, from the "BLF DMQ VERSIONS" process when it ticks every
 *     200 ms or more often (dmq_version_delay), else from a "BLF DMQ TX"
 *     process of its own.
 *
 * At most BLF_DTX_MAX messages are kept for retransmission, over all peers:
 * a peer that does not answer cannot grow memory; past that a message is
 * sent once, unkept (counted in the dmq_direct_unkept statistic).
 * Everything else (a stream transport, a name to resolve, dmq_direct=0, a
 * process without a random key) goes through dmq and tm as before.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <strings.h>
#include <dlfcn.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/trim.h"
#include "core/forward.h"
#include "core/atomic_ops.h"
#include "core/socket_info.h"
#include "core/resolve.h"
#include "core/sr_module.h"
#include "core/timer_proc.h"
#include "core/parser/parse_uri.h"
#include "core/parser/parse_cseq.h"
#include "core/parser/msg_parser.h"
#include "modules/dmq/bind_dmq.h"

#include "blf.h"
#include "blf_put.h"
#include "blf_branch.h"
#include "blf_dtx.h"
#include "blf_ntx.h" /* the ms clock, tm's timers, resends (blf_ntx.c) */

#define BLF_DTX_BUCKETS 64		/* a power of two */
#define BLF_DTX_MAX 2048		/* messages kept for retransmission, at most */
#define BLF_DTX_TIMER_US 100000 /* retransmission timer resolution */
#define BLF_DTX_UDP_MAX 65000	/* a larger message goes through dmq */
#define BLF_DTX_URI_MAX 128		/* a peer's DMQ URI, as dmq's list has it */
#define BLF_DTX_PEERS 32		/* peers a broadcast reaches, at most */
#define BLF_DTX_CSEQ 10			/* as tm's requests outside a dialog */
#define BLF_DTX_PREFIX "z9hG4bKbdq."

typedef struct blf_dtx {
	struct blf_dtx *next;
	unsigned int id;	  /* our branch: the sender's process and its */
	unsigned int pno;	  /* sequence; they pick the bucket */
	unsigned int next_ms; /* next retransmission */
	unsigned int end_ms;  /* Timer F */
	unsigned int ival;	  /* the current retransmission interval */
	uint64_t nonce;
	unsigned short callid_off, callid_len;
	unsigned short port; /* the peer's DMQ port, for the callback */
	unsigned short ulen;
	char uri[BLF_DTX_URI_MAX]; /* the peer's DMQ URI, for log lines */
	struct ip_addr ip;
	struct dest_info dst;
	int len;
	char buf[]; /* the request as sent */
} blf_dtx_t;

typedef struct blf_dtx_table {
	gen_lock_set_t *locks;
	atomic_t n; /* messages kept, over all buckets */
	unsigned int boot;
	blf_dtx_t *b[BLF_DTX_BUCKETS];
} blf_dtx_table_t;

/* a peer a message goes to, copied out of dmq's list (or blf's own) */
typedef struct blf_dtx_peer {
	union sockaddr_union to;
	struct ip_addr ip;
	unsigned short port;
	str ruri; /* sip:blf@host:port, in ruri_buf */
	char ruri_buf[BLF_DTX_URI_MAX + 16];
	int ulen;
	char uri[BLF_DTX_URI_MAX];
} blf_dtx_peer_t;

static blf_dtx_table_t *blf_dtx = NULL;
static int blf_dtx_own_timer = 0; /* else blf_dtx_tick() from another's */
static blf_dtx_answer_f blf_dtx_cb = NULL;
static str blf_dtx_user = STR_NULL;			  /* the DMQ peer id: "blf" */
static dmq_node_list_t **blf_dtx_list = NULL; /* dmq's node list */
stat_var *blf_st_dmq_direct;
stat_var *blf_st_dmq_direct_unkept;

/* per process */
static unsigned int blf_dtx_seq = 0;
static unsigned char blf_dtx_key[16];
static int blf_dtx_ready = 0; /* 1: may send, -1: cannot (dmq and tm do) */
static struct socket_info *blf_dtx_sock = NULL; /* dmq's server socket */
static char blf_dtx_from[BLF_DTX_URI_MAX + 16]; /* sip:blf@our address */
static int blf_dtx_from_len = 0;
static char *blf_dtx_buf = NULL; /* the message being built */
static int blf_dtx_buf_size = 0;

int blf_dtx_init(const str *peer_id, blf_dtx_answer_f cb, int own_timer)
{
	struct sr_module *m;

	if(!blf_cfg.dmq_direct)
		return 0;
	m = find_module_by_name("dmq");
	if(m == NULL || m->handle == NULL
			|| (blf_dtx_list = dlsym(m->handle, "dmq_node_list")) == NULL) {
		LM_NOTICE("dmq's node list is not reachable: blf's KDMQ go through "
				  "dmq and tm (dmq_direct has no effect)\n");
		return 0;
	}
	blf_dtx = shm_malloc(sizeof(*blf_dtx));
	if(blf_dtx == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_dtx, 0, sizeof(*blf_dtx));
	atomic_set(&blf_dtx->n, 0);
	blf_dtx->boot = (unsigned int)rand() ^ (unsigned int)time(NULL);
	blf_dtx->locks = lock_set_alloc(BLF_DTX_BUCKETS);
	if(blf_dtx->locks == NULL || lock_set_init(blf_dtx->locks) == NULL) {
		LM_ERR("cannot create the KDMQ transaction locks\n");
		if(blf_dtx->locks)
			lock_set_dealloc(blf_dtx->locks);
		shm_free(blf_dtx);
		blf_dtx = NULL;
		return -1;
	}
	blf_dtx_user = *peer_id;
	blf_dtx_cb = cb;
	/* a process of its own only when no other ticks often enough: each
	 * one's wake-ups cost a quiet node 0.2-0.3 ms of CPU a second */
	blf_dtx_own_timer = own_timer;
	if(own_timer)
		register_basic_timers(1); /* the "BLF DMQ TX" process */
	return 0;
}

void blf_dtx_destroy(void)
{
	blf_dtx_t *t;
	int i;

	if(blf_dtx == NULL)
		return;
	for(i = 0; i < BLF_DTX_BUCKETS; i++)
		while((t = blf_dtx->b[i]) != NULL) {
			blf_dtx->b[i] = t->next;
			shm_free(t);
		}
	lock_set_destroy(blf_dtx->locks);
	lock_set_dealloc(blf_dtx->locks);
	shm_free(blf_dtx);
	blf_dtx = NULL;
}

/*
 * This process's sending side, once: dmq's server socket (UDP only), the
 * From URI dmq puts (sip:blf@ its server_address), a key for the branch
 * nonces. 0: we send; -1: dmq and tm do.
 */
static int blf_dtx_local(void)
{
	struct sr_module *m;
	modparam_t pt;
	str *addr, *sock;
	struct sip_uri u;
	char *p;

	if(blf_dtx_ready)
		return blf_dtx_ready > 0 ? 0 : -1;
	blf_dtx_ready = -1;
	m = find_module_by_name("dmq");
	addr = m ? find_param_export(m, "server_address", PARAM_STR, &pt) : NULL;
	sock = m ? find_param_export(m, "server_socket", PARAM_STR, &pt) : NULL;
	if(addr == NULL || addr->s == NULL || addr->len <= 0
			|| addr->len >= BLF_DTX_URI_MAX
			|| parse_uri(addr->s, addr->len, &u) < 0)
		return -1;
	if(u.proto != PROTO_NONE && u.proto != PROTO_UDP)
		return -1; /* dmq speaks a stream transport: its way */
	if(sock && sock->s && sock->len > 0)
		blf_dtx_sock = lookup_local_socket(sock);
	else
		blf_dtx_sock = grep_sock_info(&u.host, u.port_no, PROTO_UDP);
	if(blf_dtx_sock == NULL || blf_dtx_sock->proto != PROTO_UDP)
		return -1;
	if(blf_random_key(blf_dtx_key, sizeof(blf_dtx_key)) < 0) {
		LM_ERR("no random source for KDMQ branches: blf's KDMQ of process "
			   "%d go through dmq and tm\n",
				process_no);
		return -1;
	}
	/* dmq's build_uri_str(): sip:user@host[:port] */
	p = blf_dtx_from;
	BLF_PUTS(p, "sip:");
	BLF_PUT(p, blf_dtx_user.s, blf_dtx_user.len);
	*p++ = '@';
	BLF_PUT(p, u.host.s, u.host.len);
	if(u.port.len) {
		*p++ = ':';
		BLF_PUT(p, u.port.s, u.port.len);
	}
	blf_dtx_from_len = (int)(p - blf_dtx_from);
	blf_dtx_ready = 1;
	return 0;
}

/* a peer of dmq's list (or blf's dmq_peers) as we send to it; -1 when
 * only dmq can (a stream transport, no address) */
static int blf_dtx_peer(const dmq_node_t *node, blf_dtx_peer_t *pe)
{
	const struct sip_uri *u = &node->uri;
	str h = u->host;
	char *p;

	if(h.len > 2 && h.s[0] == '[') {
		h.s++;
		h.len -= 2;
	}
	/* a name is dmq's to resolve (and tm's to fail over) */
	if(h.len <= 0 || (str2ip(&h) == NULL && str2ip6(&h) == NULL))
		return -1;
	if((u->proto != PROTO_NONE && u->proto != PROTO_UDP)
			|| node->ip_address.af == 0 || u->host.len <= 0
			|| u->host.len + u->port.len + blf_dtx_user.len + 8
					   > BLF_DTX_URI_MAX
			|| node->orig_uri.len >= BLF_DTX_URI_MAX)
		return -1;
	pe->ip = node->ip_address;
	pe->port = u->port_no ? u->port_no : SIP_PORT;
	init_su(&pe->to, &pe->ip, pe->port);
	/* dmq's build_uri_str(): the request URI and To */
	p = pe->ruri_buf;
	BLF_PUTS(p, "sip:");
	BLF_PUT(p, blf_dtx_user.s, blf_dtx_user.len);
	*p++ = '@';
	BLF_PUT(p, u->host.s, u->host.len);
	if(u->port.len) {
		*p++ = ':';
		BLF_PUT(p, u->port.s, u->port.len);
	}
	pe->ruri.s = pe->ruri_buf;
	pe->ruri.len = (int)(p - pe->ruri_buf);
	pe->ulen = node->orig_uri.len;
	memcpy(pe->uri, node->orig_uri.s, pe->ulen);
	return 0;
}

#define BLF_DTX_BUCKET(pno, id) (((id) ^ ((pno) * 31u)) & (BLF_DTX_BUCKETS - 1))

/* the request to pe with body (content type ctype), sent and kept */
static int blf_dtx_tx(const blf_dtx_peer_t *pe, const str *body,
		const str *ctype, unsigned int now)
{
	struct socket_info *si = blf_dtx_sock;
	struct dest_info dst;
	blf_branch_t br;
	blf_dtx_t *t;
	str host, port;
	char brs[BLF_BRANCH_MAX];
	char *p;
	int need, n, callid_at, kept;
	unsigned int i;

	host = si->useinfo.name.len ? si->useinfo.name : si->address_str;
	port = si->useinfo.port_no_str.len ? si->useinfo.port_no_str
									   : si->port_no_str;
	br.pno = (unsigned int)process_no;
	br.id = blf_dtx_seq++;
	br.boot = blf_dtx->boot;
	br.nonce = blf_branch_mac(blf_dtx_key, br.pno, br.id, br.boot);
	/* blf_branch.h's NOTIFY branch under our prefix (same length) */
	if(blf_branch_print(brs, sizeof(brs), &br) < 0)
		return -1;
	memcpy(brs, BLF_DTX_PREFIX, BLF_BRANCH_PREFIX_LEN);

	need = 400 + 2 * pe->ruri.len + blf_dtx_from_len + 2 * host.len + port.len
		   + ctype->len + body->len;
	if(need > BLF_DTX_UDP_MAX)
		return 1;
	if(need > blf_dtx_buf_size) {
		char *nb = realloc(blf_dtx_buf, need + 1024);
		if(nb == NULL)
			return 1;
		blf_dtx_buf = nb;
		blf_dtx_buf_size = need + 1024;
	}
	/* what tm's t_request() puts for dmq_send_message(); need counts every
	 * variable part and 400 bytes for the fixed text (about 200) */
	p = blf_dtx_buf;
	BLF_PUTS(p, "KDMQ ");
	BLF_PUT(p, pe->ruri.s, pe->ruri.len);
	BLF_PUTS(p, " SIP/2.0\r\nVia: SIP/2.0/UDP ");
	if(si->address.af == AF_INET6 && host.len && host.s[0] != '[') {
		*p++ = '[';
		BLF_PUT(p, host.s, host.len);
		*p++ = ']';
	} else
		BLF_PUT(p, host.s, host.len);
	*p++ = ':';
	BLF_PUT(p, port.s, port.len);
	BLF_PUTS(p, ";branch=");
	BLF_PUT(p, brs, strlen(brs));
	BLF_PUTS(p, "\r\nMax-Forwards: 1\r\nTo: <");
	BLF_PUT(p, pe->ruri.s, pe->ruri.len);
	BLF_PUTS(p, ">\r\nFrom: <");
	BLF_PUT(p, blf_dtx_from, blf_dtx_from_len);
	BLF_PUTS(p, ">;tag=");
	BLF_PUT(p, brs + BLF_BRANCH_PREFIX_LEN,
			strlen(brs) - BLF_BRANCH_PREFIX_LEN);
	BLF_PUTS(p, "\r\nCall-ID: ");
	callid_at = (int)(p - blf_dtx_buf);
	BLF_PUTS(p, "bdq.");
	BLF_PUT(p, brs + BLF_BRANCH_PREFIX_LEN,
			strlen(brs) - BLF_BRANCH_PREFIX_LEN);
	*p++ = '@';
	BLF_PUT(p, host.s, host.len);
	n = (int)(p - blf_dtx_buf) - callid_at;
	BLF_PUTS(p, "\r\nCSeq: 10 KDMQ\r\nContent-Type: ");
	BLF_PUT(p, ctype->s, ctype->len);
	BLF_PUTS(p, "\r\nContent-Length: ");
	p = blf_put_uint(p, (unsigned int)body->len);
	BLF_PUTS(p, "\r\n\r\n");
	BLF_PUT(p, body->s, body->len);

	init_dest_info(&dst);
	dst.proto = PROTO_UDP;
	dst.send_sock = si;
	dst.to = pe->to;
	kept = 0;
	if(atomic_add(&blf_dtx->n, 1) <= BLF_DTX_MAX
			&& (t = shm_malloc(sizeof(*t) + (p - blf_dtx_buf))) != NULL) {
		t->id = br.id;
		t->pno = br.pno;
		t->nonce = br.nonce;
		t->ival = blf_ntx_tm_ms(BLF_TM_T1);
		t->next_ms = now + t->ival;
		t->end_ms = now + blf_ntx_tm_ms(BLF_TM_FR);
		t->callid_off = (unsigned short)callid_at;
		t->callid_len = (unsigned short)n;
		t->port = pe->port;
		t->ip = pe->ip;
		t->ulen = (unsigned short)pe->ulen;
		memcpy(t->uri, pe->uri, pe->ulen);
		t->dst = dst;
		t->len = (int)(p - blf_dtx_buf);
		memcpy(t->buf, blf_dtx_buf, t->len);
		i = BLF_DTX_BUCKET(t->pno, t->id);
		lock_set_get(blf_dtx->locks, i);
		t->next = blf_dtx->b[i];
		blf_dtx->b[i] = t;
		lock_set_release(blf_dtx->locks, i);
		kept = 1;
	} else {
		atomic_add(&blf_dtx->n, -1);
		update_stat(blf_st_dmq_direct_unkept, 1);
	}
	update_stat(blf_st_dmq_direct, 1);
	/* from our own copy: the 200 may free t before this returns */
	if(msg_send(&dst, blf_dtx_buf, (int)(p - blf_dtx_buf)) < 0)
		LM_WARN("cannot send a blf KDMQ to %.*s%s\n", pe->ulen, pe->uri,
				kept ? " (will retransmit)" : "");
	return 0;
}

int blf_dtx_send(const str *body, const str *ctype, const dmq_node_t *node)
{
	blf_dtx_peer_t pe;

	if(blf_dtx == NULL || blf_dtx_local() < 0 || blf_dtx_peer(node, &pe) < 0)
		return 1;
	return blf_dtx_tx(&pe, body, ctype, blf_ntx_ms());
}

/* dmq's cmp_dmq_node(): the same host and port strings and transport */
static int blf_dtx_same(const dmq_node_t *a, const dmq_node_t *b)
{
	return STR_EQ(a->uri.host, b->uri.host) && STR_EQ(a->uri.port, b->uri.port)
		   && a->uri.proto == b->uri.proto;
}

int blf_dtx_bcast(const str *body, const str *ctype, const dmq_node_t *except)
{
	static blf_dtx_peer_t pe[BLF_DTX_PEERS]; /* per process */
	dmq_node_list_t *list;
	dmq_node_t *nd;
	unsigned int now;
	int n = 0, i, r = 0;

	if(blf_dtx == NULL || blf_dtx_local() < 0 || (list = *blf_dtx_list) == NULL
			|| body->len + 1024 > BLF_DTX_UDP_MAX)
		return 1; /* (a failure past this point cannot depend on a peer) */
	/* dmq's bcast_dmq_message(): every active node but ourselves and
	 * except; copied out, sent after the lock. One that only dmq can
	 * reach sends the whole broadcast its way */
	lock_get(&list->lock);
	for(nd = list->nodes; nd; nd = nd->next) {
		if((except && blf_dtx_same(nd, except)) || nd->local
				|| nd->status != DMQ_NODE_ACTIVE)
			continue;
		if(n == BLF_DTX_PEERS || blf_dtx_peer(nd, &pe[n]) < 0) {
			r = 1;
			break;
		}
		n++;
	}
	lock_release(&list->lock);
	if(r)
		return 1;
	now = blf_ntx_ms();
	for(i = 0; i < n; i++)
		if(blf_dtx_tx(&pe[i], body, ctype, now) < 0)
			r = -1;
	return r;
}

/* ---- answers and timeouts ---- */

/* the callback, as dmq's tm callback would call it (the node: the fields
 * blf_dmq.c reads, its address, port and URI) */
static void blf_dtx_done(blf_dtx_t *t, struct sip_msg *msg, int code)
{
	dmq_node_t node;

	memset(&node, 0, sizeof(node));
	node.ip_address = t->ip;
	node.uri.port_no = t->port;
	node.orig_uri.s = t->uri;
	node.orig_uri.len = t->ulen;
	node.status = DMQ_NODE_ACTIVE;
	if(blf_dtx_cb)
		blf_dtx_cb(msg, code, &node);
}

/* an answer naming one of our messages that is not its answer: dropped,
 * counted in dmq_invalid, one log line a second (per process) */
static void blf_dtx_ignored(struct sip_msg *msg, const char *why)
{
	static unsigned int last = 0;
	unsigned int now = blf_ntx_ms();

	update_stat(blf_st_dmq_invalid, 1);
	if(last && !BLF_MS_AFTER(now, last + 1000))
		return;
	last = now ? now : 1;
	LM_NOTICE("answer to a blf KDMQ from %s:%d ignored: %s (more in the "
			  "blf:dmq_invalid statistic)\n",
			ip_addr2a(&msg->rcv.src_ip), (int)msg->rcv.src_port, why);
}

/* the branch of an answer, when it is one of ours */
static int blf_dtx_branch(const str *b, blf_branch_t *br)
{
	char tmp[BLF_BRANCH_MAX];

	if(b->len <= (int)BLF_BRANCH_PREFIX_LEN || b->len >= (int)sizeof(tmp)
			|| memcmp(b->s, BLF_DTX_PREFIX, BLF_BRANCH_PREFIX_LEN) != 0)
		return -1;
	memcpy(tmp, BLF_BRANCH_PREFIX, BLF_BRANCH_PREFIX_LEN);
	memcpy(tmp + BLF_BRANCH_PREFIX_LEN, b->s + BLF_BRANCH_PREFIX_LEN,
			b->len - BLF_BRANCH_PREFIX_LEN);
	return blf_branch_parse(tmp, b->len, br);
}

int blf_dtx_response(struct sip_msg *msg)
{
	blf_branch_t br;
	blf_dtx_t *t, **pt;
	struct cseq_body *cs;
	union sockaddr_union src;
	unsigned int i, cseq;
	str callid;
	int code;

	if(blf_dtx == NULL || msg->via1 == NULL || msg->via1->branch == NULL
			|| blf_dtx_branch(&msg->via1->branch->value, &br) < 0)
		return 1; /* not ours */
	if(br.boot != blf_dtx->boot)
		return 0; /* ours, from before a restart */
	if(msg->cseq == NULL || msg->cseq->parsed == NULL || msg->callid == NULL) {
		blf_dtx_ignored(msg, "CSeq or Call-ID missing");
		return 0;
	}
	cs = get_cseq(msg);
	if(str2int(&cs->number, &cseq) < 0 || cseq != BLF_DTX_CSEQ
			|| cs->method.len != 4 || strncasecmp(cs->method.s, "KDMQ", 4)) {
		blf_dtx_ignored(msg, "not CSeq 10 KDMQ");
		return 0;
	}
	callid = msg->callid->body;
	trim(&callid);
	init_su(&src, &msg->rcv.src_ip, msg->rcv.src_port);
	code = msg->first_line.u.reply.statuscode;
	i = BLF_DTX_BUCKET(br.pno, br.id);
	lock_set_get(blf_dtx->locks, i);
	for(pt = &blf_dtx->b[i]; (t = *pt) != NULL; pt = &t->next)
		if(t->id == br.id && t->pno == br.pno)
			break;
	if(t == NULL) {
		lock_set_release(blf_dtx->locks, i);
		return 0; /* a late copy: the transaction ended */
	}
	/* an answer only from where it went, with its nonce and Call-ID */
	if(t->nonce != br.nonce || !su_cmp(&src, &t->dst.to)
			|| msg->rcv.bind_address != t->dst.send_sock
			|| callid.len != t->callid_len
			|| memcmp(callid.s, t->buf + t->callid_off, callid.len)) {
		lock_set_release(blf_dtx->locks, i);
		blf_dtx_ignored(msg, "branch nonce, Call-ID or source differ from "
							 "the message's");
		return 0;
	}
	if(code < 200) {
		t->ival = blf_ntx_tm_ms(BLF_TM_T2);
		t->next_ms = blf_ntx_ms() + t->ival;
		lock_set_release(blf_dtx->locks, i);
		return 0;
	}
	*pt = t->next;
	lock_set_release(blf_dtx->locks, i);
	atomic_add(&blf_dtx->n, -1);
	blf_dtx_done(t, msg, code);
	shm_free(t);
	return 0;
}

/* retransmissions and Timer F: from the "BLF DMQ TX" process, or another
 * process's timer (blf_dtx_tick) */
static void blf_dtx_timer(unsigned int ticks, void *param)
{
	static blf_resend_t rq; /* this process's, sent after each bucket */
	blf_dtx_t *t, **pt, *dead;
	unsigned int now, t2, i;

	now = blf_ntx_ms();
	t2 = blf_ntx_tm_ms(BLF_TM_T2);
	for(i = 0; i < BLF_DTX_BUCKETS; i++) {
		if(blf_dtx->b[i] == NULL)
			continue; /* racy peek: the next round sees what it missed */
		dead = NULL;
		lock_set_get(blf_dtx->locks, i);
		for(pt = &blf_dtx->b[i]; (t = *pt) != NULL;) {
			if(!BLF_MS_AFTER(t->end_ms, now)) {
				*pt = t->next;
				t->next = dead;
				dead = t;
				continue;
			}
			if(!BLF_MS_AFTER(t->next_ms, now)
					&& blf_resend_add(&rq, &t->dst, t->buf, t->len) == 0) {
				t->ival = t->ival * 2 < t2 ? t->ival * 2 : t2;
				t->next_ms = now + t->ival;
			}
			pt = &t->next;
		}
		lock_set_release(blf_dtx->locks, i);
		blf_resend_flush(&rq, "KDMQ");
		while((t = dead) != NULL) {
			dead = t->next;
			atomic_add(&blf_dtx->n, -1);
			blf_dtx_done(t, NULL, 408);
			shm_free(t);
		}
	}
}

void blf_dtx_tick(void)
{
	if(blf_dtx && !blf_dtx_own_timer)
		blf_dtx_timer(0, NULL);
}

int blf_dtx_child_init(int rank)
{
	if(blf_dtx == NULL || !blf_dtx_own_timer || rank != PROC_MAIN)
		return 0;
	if(fork_basic_utimer(PROC_TIMER, "BLF DMQ TX", 1, blf_dtx_timer, NULL,
			   BLF_DTX_TIMER_US)
			< 0) {
		LM_ERR("cannot start the KDMQ retransmission process\n");
		return -1;
	}
	return 0;
}

unsigned long blf_dtx_pending(void)
{
	return blf_dtx ? (unsigned long)atomic_get(&blf_dtx->n) : 0;
}
