/*
 * blf_ntx.c — NOTIFY transactions over UDP, kept by the module itself.
 *
 * A NOTIFY is a non-INVITE client transaction (RFC 3261 17.1.2). Through tm
 * it costs a transaction cell, its timers, a wait timer and the reply
 * matching, which together are most of the CPU a lamp change costs (see
 * bench/README.md). With notify_direct=1 (the default), for the common case, a
 * subscription that came in over UDP and whose next hop is an IP address,
 * the module does the transaction itself:
 *
 *   - the request is built once into a block from a small per-bucket pool
 *     (no allocator call once warm) and sent from the subscription's own
 *     socket, with the other NOTIFYs of its change (blf_ntx_flush);
 *   - our Via branch names the record ("z9hG4bKblf.<process>.<seq>.<boot>.
 *     <nonce>", in hex, see blf_branch.h), so the watcher's answer is found
 *     with one bucket lock, in this module's response callback, before tm
 *     or the core look at it; the nonce (64 bits keyed by a secret each
 *     process draws from getrandom()) makes the branch unguessable, and an
 *     answer counts only when its CSeq (number and NOTIFY), Call-ID, both
 *     tags and its source address are the NOTIFY's: see blf_ntx_match();
 *   - the "BLF NOTIFY" timer process retransmits (Timer E: T1 doubling up
 *     to T2, T2 after a provisional answer) and gives up after Timer F as
 *     tm would, with a local 408;
 *   - T1, T2 and Timer F are tm's own retr_timer1, retr_timer2 and
 *     fr_timer, read from tm's configuration, so one setting still governs
 *     every non-INVITE transaction of the proxy.
 *
 * Everything else (stream transports, host names that need DNS, strict
 * routes, sips:) still goes through tm: see blf_notify.c. So does every
 * NOTIFY with notify_direct=0: then tm's event_route[tm:local-request] and
 * its statistics see them, which they do not see of the module's own
 * transactions, nor onsend_route (run by tm); the core's send path, and
 * so the SREV_NET_DATA_OUT hook that topoh and siptrace use, sees both.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sendmmsg() */
#endif
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <errno.h>
#include <sys/socket.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/forward.h"
#include "core/resolve.h"
#include "core/socket_info.h"
#include "core/timer_proc.h"
#include "core/pt.h"
#include "core/cfg/cfg_struct.h"
#include "core/cfg_core.h"
#include "core/parser/parse_uri.h"
#include "core/parser/parse_rr.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_cseq.h"
#include "core/trim.h"
#include "core/events.h"
#include "core/globals.h"
#include "core/route.h"
#include "core/kemi.h"

#include "blf.h"
#include "blf_put.h"
#include "blf_branch.h"
#include "blf_sipcheck.h"
#include "blf_sipscan.h"
#include "blf_ntx.h"
#include "blf_lograte.h"

#define BLF_NTX_BUCKETS 256		/* a power of two */
#define BLF_NTX_BLOCK 2048		/* pooled block: record and message */
#define BLF_NTX_FREE_MAX 8		/* free blocks a bucket keeps */
#define BLF_NTX_TRIM_MS 2000	/* an idle bucket frees its pool after this */
#define BLF_NTX_TIMER_MS 50		/* retransmission timer resolution */
#define BLF_NTX_SLEEP_MAX_MS 1000 /* the longest the timer sleeps */
#define BLF_NTX_UDP_MAX 65000	/* a NOTIFY larger is not sent over UDP */

typedef struct blf_ntx {
	struct blf_ntx *next;
	unsigned int id;	  /* our branch: the sender's process and its */
	unsigned int pno;	  /* sequence; they pick the bucket */
	unsigned int hash;	  /* the entity holding the subscription */
	unsigned int next_ms; /* next retransmission */
	unsigned int end_ms;  /* Timer F */
	unsigned int ival;	  /* the current retransmission interval */
	unsigned int cseq;	  /* an answer must carry it, with NOTIFY */
	uint64_t nonce;		  /* an answer's branch must carry it */
	unsigned int inflight; /* its place in blf_inflight.c */
	unsigned short pooled;
	/* where Call-ID, our tag and the watcher's tag are in buf */
	unsigned short callid_off, callid_len;
	unsigned short ttag_off, ttag_len;
	unsigned short ftag_off, ftag_len;
	struct dest_info dst;
	int len;
	char buf[]; /* the NOTIFY as sent */
} blf_ntx_t;

typedef struct blf_ntx_bucket {
	blf_ntx_t *first;
	blf_ntx_t *pool; /* free pooled blocks */
	unsigned int npool;
	unsigned int npending; /* on first */
	unsigned int used_ms; /* last allocation */
} blf_ntx_bucket_t;

typedef struct blf_ntx_table {
	gen_lock_set_t *locks;
	unsigned int boot; /* in every branch: answers from a previous run
						* of Kamailio are not ours */
	blf_ntx_bucket_t b[BLF_NTX_BUCKETS];
} blf_ntx_table_t;

static blf_ntx_table_t *blf_ntx = NULL;
static unsigned int blf_ntx_seq = 0; /* per process */
static unsigned char blf_ntx_key[16]; /* per process: the branch nonces' */
static int blf_ntx_keyed = 0;		  /* 1: key drawn, -1: could not */
/* per process: the NOTIFYs built and not sent yet (blf_ntx_flush), their
 * bytes one after the other in blf_ntx_buf */
#define BLF_NTX_BATCH 64			/* NOTIFYs a batch holds */
#define BLF_NTX_BATCH_BYTES 65536 /* and the bytes past which it is sent */
typedef struct blf_ntx_out {
	struct dest_info dst;
	int off, len; /* in blf_ntx_buf */
} blf_ntx_out_t;
static char *blf_ntx_buf = NULL;
static int blf_ntx_buf_size = 0;
static int blf_ntx_used = 0; /* bytes of blf_ntx_buf the batch holds */
static blf_ntx_out_t blf_ntx_out[BLF_NTX_BATCH];
static int blf_ntx_nout = 0;

/* ---- tm's timers ---- */

unsigned int blf_ntx_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned int)(ts.tv_sec * 1000u + ts.tv_nsec / 1000000);
}

typedef struct blf_tm_var {
	const char *name;
	int ticks;		  /* tm keeps it in timer ticks (else in ms) */
	unsigned int dflt; /* ms, when tm's configuration cannot be read */
	cfg_group_t *g;
	cfg_mapping_t *v;
} blf_tm_var_t;

static blf_tm_var_t blf_tm_t1 = {"retr_timer1", 0, 500, 0, 0};
static blf_tm_var_t blf_tm_t2 = {"retr_timer2", 0, 4000, 0, 0};
static blf_tm_var_t blf_tm_fr = {"fr_timer", 1, 30000, 0, 0};

/* the current value of one of tm's timers, in ms (read through the
 * configuration framework, so cfg.set_now_int tm ... is honoured: one
 * setting governs every non-INVITE transaction, tm's, ours, blf_dtx.c's);
 * the lookup is kept per process */
unsigned int blf_ntx_tm_ms(blf_tm_timer_t which)
{
	blf_tm_var_t *t = which == BLF_TM_T1   ? &blf_tm_t1
					  : which == BLF_TM_T2 ? &blf_tm_t2
										   : &blf_tm_fr;
	str gn = str_init("tm");
	str vn;
	unsigned int v;

	if(t->v == NULL) {
		vn.s = (char *)t->name;
		vn.len = strlen(t->name);
		if(cfg_lookup_var(&gn, &vn, &t->g, &t->v) < 0) {
			t->v = NULL;
			return t->dflt;
		}
	}
	if(t->g->handle == NULL || *t->g->handle == NULL)
		return t->dflt;
	v = *(unsigned int *)((char *)*t->g->handle + t->v->offset);
	if(t->ticks)
		v = TICKS_TO_MS(v);
	return v ? v : t->dflt;
}

/* ---- the table ---- */

static int blf_ntx_dgram_in(sr_event_param_t *evp);

int blf_ntx_init(void)
{
	if(!blf_cfg.notify_direct)
		return 0; /* notify_direct=0: every NOTIFY through tm */
	blf_ntx = shm_malloc(sizeof(*blf_ntx));
	if(blf_ntx == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_ntx, 0, sizeof(*blf_ntx));
	blf_ntx->boot = (unsigned int)rand() ^ (unsigned int)time(NULL);
	blf_ntx->locks = lock_set_alloc(BLF_NTX_BUCKETS);
	if(blf_ntx->locks == NULL || lock_set_init(blf_ntx->locks) == NULL) {
		LM_ERR("cannot create the NOTIFY transaction locks\n");
		if(blf_ntx->locks)
			lock_set_dealloc(blf_ntx->locks);
		shm_free(blf_ntx);
		blf_ntx = NULL;
		return -1;
	}
	register_basic_timers(1); /* the "BLF NOTIFY" process */
	return 0;
}

void blf_ntx_destroy(void)
{
	blf_ntx_t *t;
	int i;

	if(blf_ntx == NULL)
		return;
	for(i = 0; i < BLF_NTX_BUCKETS; i++) {
		while((t = blf_ntx->b[i].first) != NULL) {
			blf_ntx->b[i].first = t->next;
			shm_free(t);
		}
		while((t = blf_ntx->b[i].pool) != NULL) {
			blf_ntx->b[i].pool = t->next;
			shm_free(t);
		}
	}
	lock_set_destroy(blf_ntx->locks);
	lock_set_dealloc(blf_ntx->locks);
	shm_free(blf_ntx);
	blf_ntx = NULL;
}

#define BLF_NTX_BUCKET(pno, id) (((id) ^ ((pno) * 31u)) & (BLF_NTX_BUCKETS - 1))
#define blf_ntx_lock(i) lock_set_get(blf_ntx->locks, (i))
#define blf_ntx_unlock(i) lock_set_release(blf_ntx->locks, (i))

/* a block for a message of len bytes; bucket i is locked */
static blf_ntx_t *blf_ntx_alloc(blf_ntx_bucket_t *b, int len, unsigned int now)
{
	blf_ntx_t *t;
	size_t need = sizeof(blf_ntx_t) + len;

	b->used_ms = now;
	if(need <= BLF_NTX_BLOCK) {
		if((t = b->pool) != NULL) {
			b->pool = t->next;
			b->npool--;
		} else if((t = shm_malloc(BLF_NTX_BLOCK)) == NULL)
			return NULL;
		t->pooled = 1;
		return t;
	}
	if((t = shm_malloc(need)) == NULL)
		return NULL;
	t->pooled = 0;
	return t;
}

/* the transaction ended: its place in flight is free; bucket i locked */
static void blf_ntx_release(blf_ntx_bucket_t *b, blf_ntx_t *t)
{
	blf_inflight_put(t->inflight);
	t->inflight = 0;
	if(t->pooled && b->npool < BLF_NTX_FREE_MAX) {
		t->next = b->pool;
		b->pool = t;
		b->npool++;
		return;
	}
	shm_free(t);
}

/* statistics: per-bucket counts kept under the bucket lock, summed without
 * it (a racy read of ints, like every counter; never a list walk) */
unsigned long blf_ntx_pending(void)
{
	unsigned long n = 0;
	int i;

	for(i = 0; blf_ntx && i < BLF_NTX_BUCKETS; i++)
		n += blf_ntx->b[i].npending;
	return n;
}

unsigned long blf_ntx_blocks(void)
{
	unsigned long n = 0;
	int i;

	for(i = 0; blf_ntx && i < BLF_NTX_BUCKETS; i++)
		n += blf_ntx->b[i].npool;
	return n + blf_ntx_pending();
}

/* ---- sending ---- */

/*
 * This process's secret for the branch nonces, drawn once from the kernel
 * (getrandom, else /dev/urandom). A process that cannot get one leaves its
 * NOTIFYs to tm rather than send guessable branches.
 */
static int blf_ntx_key_init(void)
{
	if(blf_ntx_keyed)
		return blf_ntx_keyed > 0 ? 0 : -1;
	if(blf_random_key(blf_ntx_key, sizeof(blf_ntx_key)) < 0) {
		LM_ERR("no random source for NOTIFY branches: NOTIFYs of process "
			   "%d go through tm\n", process_no);
		blf_ntx_keyed = -1;
		return -1;
	}
	blf_ntx_keyed = 1;
	return 0;
}

/* per process: the addresses last worked out from Contacts (without a
 * route set), by a hash of the Contact: a Contact names one address for
 * good, and its parse_uri() for every NOTIFY was 1 % of the bench's call
 * phase (bench/README.md, eighth session). Longer Contacts are parsed. */
#define BLF_NTX_HOPS 256 /* a power of two */
#define BLF_NTX_HOP_MAX 96
typedef struct blf_ntx_hop {
	int len; /* of uri; 0: empty */
	char uri[BLF_NTX_HOP_MAX];
	union sockaddr_union to;
} blf_ntx_hop_t;
static blf_ntx_hop_t blf_ntx_hops[BLF_NTX_HOPS];

static blf_ntx_hop_t *blf_ntx_hop_slot(const str *c)
{
	unsigned int h = 2166136261u; /* FNV-1a */
	int i;

	for(i = 0; i < c->len; i++)
		h = (h ^ (unsigned char)c->s[i]) * 16777619u;
	return &blf_ntx_hops[(h ^ (h >> 16)) & (BLF_NTX_HOPS - 1)];
}

/* the next hop of a NOTIFY, when we can send it ourselves: the watcher's
 * Contact, or the first Route if it is a loose route. 1: use tm. */
static int blf_ntx_next_hop(const blf_notify_job_t *j, union sockaddr_union *to)
{
	struct sip_uri u;
	rr_t *rr = NULL;
	str nh = j->f[BLF_SF_CONTACT];
	struct ip_addr *ip;
	blf_ntx_hop_t *hop = NULL;
	int ret = 1;

	if(!j->f[BLF_SF_RR].len && nh.len > 0 && nh.len <= BLF_NTX_HOP_MAX) {
		hop = blf_ntx_hop_slot(&nh);
		if(hop->len == nh.len && memcmp(hop->uri, nh.s, nh.len) == 0) {
			*to = hop->to;
			return 0;
		}
	}
	if(j->f[BLF_SF_RR].len) {
		if(parse_rr_body(j->f[BLF_SF_RR].s, j->f[BLF_SF_RR].len, &rr) < 0
				|| rr == NULL)
			return 1;
		nh = rr->nameaddr.uri;
	}
	if(parse_uri(nh.s, nh.len, &u) < 0 || u.type != SIP_URI_T
			|| (u.proto != PROTO_NONE && u.proto != PROTO_UDP)
			|| u.maddr_val.len)
		goto out;
	if(rr && u.lr.s == NULL)
		goto out; /* a strict router: tm knows how to rewrite */
	ip = str2ip(&u.host);
	if(ip == NULL)
		ip = str2ip6(&u.host);
	if(ip == NULL)
		goto out; /* a name: tm resolves it (DNS, SRV, failover) */
	init_su(to, ip, u.port_no ? u.port_no : SIP_PORT);
	ret = 0;
	if(hop) {
		hop->len = nh.len;
		memcpy(hop->uri, nh.s, nh.len);
		hop->to = *to;
	}
out:
	if(rr)
		free_rr(&rr);
	return ret;
}

int blf_ntx_send(const blf_notify_job_t *j, const str *hdrs, const str *body)
{
	struct socket_info *si = j->sock;
	struct dest_info dst;
	blf_ntx_bucket_t *b;
	blf_ntx_t *t;
	str host, port;
	unsigned int id, now, i;
	int n, need, callid_at, ttag_at, ftag_at;
	const char *v6;
	char *p, *m;
	char brs[BLF_BRANCH_MAX];
	blf_branch_t br;

	if(blf_ntx == NULL || (si && si->proto != PROTO_UDP)
			|| j->f[BLF_SF_DST].len || blf_ntx_key_init() < 0)
		return 1;
	init_dest_info(&dst);
	if(blf_ntx_next_hop(j, &dst.to) != 0)
		return 1;
	if(si == NULL) {
		/* no socket of its own (a subscription taken over from a dead
		 * node): the one the core picks towards the next hop, as tm
		 * would. Through tm, a takeover's burst would hold places among
		 * max_notifies_inflight for tm's wait timer and defer the live
		 * NOTIFYs behind it */
		si = get_send_socket(NULL, &dst.to, PROTO_UDP);
		if(si == NULL || si->proto != PROTO_UDP)
			return 1;
	}
	dst.proto = PROTO_UDP;
	dst.send_sock = si;
	host = si->useinfo.name.len ? si->useinfo.name : si->address_str;
	port = si->useinfo.port_no_str.len ? si->useinfo.port_no_str
									   : si->port_no_str;
	v6 = (si->address.af == AF_INET6 && host.len && host.s[0] != '[') ? "["
																		: "";
	id = blf_ntx_seq++;
	i = BLF_NTX_BUCKET(process_no, id);
	/* the pooled block this NOTIFY will likely take was last touched by
	 * another process: fetched while the message is built (a racy read,
	 * harmless: a prefetch does not fault). Its first line was most of
	 * this function's own cost in the profile. */
	if((t = blf_ntx->b[i].pool) != NULL)
		__builtin_prefetch(t, 1);
	br.pno = (unsigned int)process_no;
	br.id = id;
	br.boot = blf_ntx->boot;
	br.nonce = blf_branch_mac(blf_ntx_key, br.pno, br.id, br.boot);
	if(blf_branch_print(brs, sizeof(brs), &br) < 0)
		return -1;

	need = 512 + j->f[BLF_SF_CONTACT].len + host.len + port.len
		   + j->f[BLF_SF_URI].len
		   + j->f[BLF_SF_WURI].len + 2 * j->f[BLF_SF_CALLID].len
		   + j->f[BLF_SF_TTAG].len + j->f[BLF_SF_FTAG].len
		   + j->f[BLF_SF_RR].len + hdrs->len + body->len;
	if(blf_ntx_nout == BLF_NTX_BATCH
			|| (blf_ntx_used && blf_ntx_used + need > BLF_NTX_BATCH_BYTES))
		blf_ntx_flush(); /* the batch is full: what it holds leaves now */
	if(blf_ntx_used + need > blf_ntx_buf_size) {
		char *nb = realloc(blf_ntx_buf, blf_ntx_used + need + 1024);
		if(nb == NULL) {
			LM_ERR("no memory for a %d byte NOTIFY\n", need);
			return -1;
		}
		blf_ntx_buf = nb;
		blf_ntx_buf_size = blf_ntx_used + need + 1024;
	}
	m = blf_ntx_buf + blf_ntx_used; /* this NOTIFY, after the batch's */
	/* RFC 3261 8.1.1: the same headers tm puts in a request within a
	 * dialog (From is our side, To the watcher's). need counts every
	 * variable part and 512 bytes for the fixed text (about 250 with the
	 * branch and two numbers), so no copy below can overrun the buffer.
	 * Copies rather than snprintf(): its format parsing was a third of
	 * what building a NOTIFY cost (bench/README.md, "Where the CPU
	 * goes"). */
	p = m;
	BLF_PUTS(p, "NOTIFY ");
	BLF_PUT(p, j->f[BLF_SF_CONTACT].s, j->f[BLF_SF_CONTACT].len);
	BLF_PUTS(p, " SIP/2.0\r\nVia: SIP/2.0/UDP ");
	if(*v6)
		*p++ = '[';
	BLF_PUT(p, host.s, host.len);
	if(*v6)
		*p++ = ']';
	*p++ = ':';
	BLF_PUT(p, port.s, port.len);
	BLF_PUTS(p, ";branch=");
	BLF_PUT(p, brs, strlen(brs));
	BLF_PUTS(p, "\r\n");
	if(j->f[BLF_SF_RR].len) {
		BLF_PUTS(p, "Route: ");
		BLF_PUT(p, j->f[BLF_SF_RR].s, j->f[BLF_SF_RR].len);
		BLF_PUTS(p, "\r\n");
	}
	BLF_PUTS(p, "From: <");
	BLF_PUT(p, j->f[BLF_SF_URI].s, j->f[BLF_SF_URI].len);
	BLF_PUTS(p, ">;tag=");
	ttag_at = (int)(p - m);
	BLF_PUT(p, j->f[BLF_SF_TTAG].s, j->f[BLF_SF_TTAG].len);
	BLF_PUTS(p, "\r\nTo: <");
	BLF_PUT(p, j->f[BLF_SF_WURI].s, j->f[BLF_SF_WURI].len);
	BLF_PUTS(p, ">;tag=");
	ftag_at = (int)(p - m);
	BLF_PUT(p, j->f[BLF_SF_FTAG].s, j->f[BLF_SF_FTAG].len);
	BLF_PUTS(p, "\r\nCall-ID: ");
	callid_at = (int)(p - m);
	BLF_PUT(p, j->f[BLF_SF_CALLID].s, j->f[BLF_SF_CALLID].len);
	BLF_PUTS(p, "\r\nCSeq: ");
	p = blf_put_uint(p, j->cseq);
	BLF_PUTS(p, " NOTIFY\r\n");
	BLF_PUT(p, hdrs->s, hdrs->len);
	BLF_PUTS(p, "Content-Length: ");
	p = blf_put_uint(p, (unsigned int)body->len);
	BLF_PUTS(p, "\r\n\r\n");
	n = (int)(p - m);
	if(blf_ntx_used + n + body->len >= blf_ntx_buf_size
			|| n + body->len > BLF_NTX_UDP_MAX) {
		/* the body is bounded (notify_max_body); the rest is fields a
		 * SUBSCRIBE bounds (a replica or the database may not have) */
		LM_ERR("NOTIFY %.*s of %d bytes does not fit a UDP datagram: not "
			   "sent\n",
				j->f[BLF_SF_CALLID].len > 128 ? 128 : j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s, n + body->len);
		return -1;
	}
	memcpy(m + n, body->s, body->len);
	n += body->len;

	now = blf_ntx_ms();
	b = &blf_ntx->b[i];
	blf_ntx_lock(i);
	t = blf_ntx_alloc(b, n, now);
	if(t == NULL) {
		blf_ntx_unlock(i);
		SHM_MEM_ERROR;
		return -1;
	}
	t->id = id;
	t->pno = (unsigned int)process_no;
	t->nonce = br.nonce;
	t->cseq = j->cseq;
	t->inflight = j->inflight;
	t->hash = j->hash;
	t->ival = blf_ntx_tm_ms(BLF_TM_T1);
	t->next_ms = now + t->ival;
	t->end_ms = now + blf_ntx_tm_ms(BLF_TM_FR);
	t->callid_off = (unsigned short)callid_at;
	t->callid_len = (unsigned short)j->f[BLF_SF_CALLID].len;
	t->ttag_off = (unsigned short)ttag_at;
	t->ttag_len = (unsigned short)j->f[BLF_SF_TTAG].len;
	t->ftag_off = (unsigned short)ftag_at;
	t->ftag_len = (unsigned short)j->f[BLF_SF_FTAG].len;
	t->dst = dst;
	t->len = n;
	memcpy(t->buf, m, n);
	t->next = b->first;
	b->first = t;
	b->npending++;
	blf_ntx_unlock(i);
	/* sent by blf_ntx_flush(), from the batch's copy: once the first
	 * NOTIFY of a batch has left, its answer may free its record while
	 * the others are being sent */
	blf_ntx_out[blf_ntx_nout].dst = dst;
	blf_ntx_out[blf_ntx_nout].off = blf_ntx_used;
	blf_ntx_out[blf_ntx_nout].len = n;
	blf_ntx_nout++;
	blf_ntx_used += n;
	return 0;
}

/* 1 when a NOTIFY must leave through the core's msg_send(), one by one: a
 * module sees outgoing data (topoh, siptrace's network mode, sipdump:
 * SREV_NET_DATA_OUT, _SENT; README, "NOTIFY"), the socket is one the core
 * would not send from as it is (multicast), or the core sends UDP over
 * its raw socket */
static int blf_ntx_core_sends(const struct dest_info *dst)
{
	if(sr_event_enabled(SREV_NET_DATA_OUT)
			|| sr_event_enabled(SREV_NET_DATA_SENT))
		return 1;
	if(dst->send_sock == NULL || dst->send_sock->socket < 0
			|| (dst->send_sock->flags & SI_IS_MCAST))
		return 1;
#ifdef USE_RAW_SOCKS
	if(raw_udp4_send_sock >= 0 && cfg_get(core, core_cfg, udp4_raw)
			&& dst->send_sock->address.af == AF_INET)
		return 1;
#endif
	return 0;
}

#ifdef __linux__
/* the batch's NOTIFYs from .. to-1, all from one socket: one sendmmsg()
 * (a failed one is skipped: its transaction retransmits it after T1, as
 * after a loss) */
static void blf_ntx_mmsg(int from, int to)
{
	static time_t last = 0; /* per process: a log line a second */
	struct mmsghdr mm[BLF_NTX_BATCH];
	struct iovec iov[BLF_NTX_BATCH];
	blf_ntx_out_t *o;
	int fd = blf_ntx_out[from].dst.send_sock->socket;
	int i, n = to - from, r, done = 0;

	memset(mm, 0, sizeof(mm[0]) * n);
	for(i = 0; i < n; i++) {
		o = &blf_ntx_out[from + i];
		iov[i].iov_base = blf_ntx_buf + o->off;
		iov[i].iov_len = (size_t)o->len;
		mm[i].msg_hdr.msg_name = &o->dst.to.s;
		mm[i].msg_hdr.msg_namelen = sockaddru_len(o->dst.to);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while(done < n) {
		r = sendmmsg(fd, mm + done, (unsigned int)(n - done), 0);
		if(r > 0) {
			done += r;
			continue;
		}
		if(r < 0 && errno == EINTR)
			continue;
		if(blf_log_ok(&last))
			LM_WARN("cannot send a NOTIFY (will retransmit): %s\n",
					r < 0 ? strerror(errno) : "none sent");
		done++;
	}
}
#endif

/*
 * Sends the NOTIFYs blf_ntx_send() built since the last call, in the order
 * they were built: a change notifies every watcher of its entity (ten in
 * the bench, hundreds for a receptionist's extension), and one sendmmsg()
 * per socket instead of one sendto() each saves a system call per NOTIFY
 * (bench/README.md, "Where the CPU goes against the floor"). Through the
 * core's msg_send(), one by one, whenever something must see each message
 * (blf_ntx_core_sends). blf_notify_send_all() calls it after a change's
 * last NOTIFY; blf_ntx_send() when the batch is full.
 */
void blf_ntx_flush(void)
{
	blf_ntx_out_t *o;
	int i, k;

	for(i = 0; i < blf_ntx_nout; i = k) {
		o = &blf_ntx_out[i];
		k = i + 1;
#ifdef __linux__
		if(!blf_ntx_core_sends(&o->dst)) {
			while(k < blf_ntx_nout
					&& blf_ntx_out[k].dst.send_sock == o->dst.send_sock
					&& !blf_ntx_core_sends(&blf_ntx_out[k].dst))
				k++;
			blf_ntx_mmsg(i, k);
			continue;
		}
#endif
		if(msg_send(&o->dst, blf_ntx_buf + o->off, o->len) < 0)
			LM_WARN("cannot send a NOTIFY (will retransmit)\n");
	}
	blf_ntx_nout = 0;
	blf_ntx_used = 0;
}

/* ---- answers and timeouts ---- */

/* the transaction ended with code >= 300 (408: no answer); t is unlinked */
static void blf_ntx_failed(blf_ntx_t *t, int code)
{
	str callid = {t->buf + t->callid_off, t->callid_len};
	str ttag = {t->buf + t->ttag_off, t->ttag_len};
	str ftag = {t->buf + t->ftag_off, t->ftag_len};

	update_stat(blf_st_notifies_failed, 1);
	if(code != 481 && code != 408) {
		LM_NOTICE("NOTIFY %.*s answered %d\n", callid.len, callid.s, code);
		return;
	}
	if(blf_subs_remove(t->hash, &callid, &ftag, &ttag))
		LM_INFO("NOTIFY %.*s %s %d: subscription removed\n", callid.len,
				callid.s, code == 408 ? "timed out," : "answered", code);
}

/* a field of an answer against the NOTIFY's copy of it */
static int blf_ntx_str_is(const str *a, const char *b, int blen)
{
	return a->len == blen && (blen == 0 || memcmp(a->s, b, blen) == 0);
}

/* what an answer says, read by the core's parser (blf_ntx_response) or in
 * place off the wire (blf_ntx_dgram_in) */
typedef struct blf_ntx_ans {
	int code;
	str callid, ftag, ttag;
	unsigned int cseq;
	int cseq_notify;
	union sockaddr_union src;
	struct socket_info *bind;
	struct ip_addr *src_ip; /* for log lines */
	unsigned short src_port;
} blf_ntx_ans_t;

/*
 * Is a an answer to t, as tm would have it (RFC 3261 17.1.3) and more:
 * branch nonce, CSeq number and method NOTIFY, Call-ID, From tag (ours)
 * and To tag (the watcher's) of the NOTIFY, and from the address the
 * NOTIFY was sent to. Bucket lock held; no allocation.
 */
static int blf_ntx_match(
		const blf_ntx_t *t, const blf_ntx_ans_t *a, const blf_branch_t *br)
{
	if(t->nonce != br->nonce || !a->cseq_notify || a->cseq != t->cseq)
		return 0;
	if(!blf_ntx_str_is(&a->callid, t->buf + t->callid_off, t->callid_len)
			|| !blf_ntx_str_is(&a->ftag, t->buf + t->ttag_off, t->ttag_len)
			|| !blf_ntx_str_is(&a->ttag, t->buf + t->ftag_off, t->ftag_len))
		return 0;
	/* the source: where the NOTIFY went (a phone behind NAT answers from
	 * the address its fixed Contact names; see README, Security) */
	if(!su_cmp(&a->src, &t->dst.to) || a->bind != t->dst.send_sock)
		return 0;
	return 1;
}

/* an answer that names one of our transactions but is not its answer */
static void blf_ntx_ignored(const blf_ntx_ans_t *a, const char *why)
{
	static unsigned int last = 0; /* per process: one line a second */
	unsigned int now = blf_ntx_ms();

	update_stat(blf_st_notify_answers_ignored, 1);
	if(last && !BLF_MS_AFTER(now, last + 1000))
		return;
	last = now ? now : 1;
	LM_NOTICE("answer %d to a NOTIFY from %s:%d ignored: %s (more in the "
			  "blf:notify_answers_ignored statistic)\n",
			a->code, ip_addr2a(a->src_ip), (int)a->src_port, why);
}

/* an answer naming our transaction br: ends it, whatever it says */
static void blf_ntx_answer(const blf_ntx_ans_t *a, const blf_branch_t *br)
{
	unsigned int i;
	blf_ntx_bucket_t *b;
	blf_ntx_t *t, **pt;

	i = BLF_NTX_BUCKET(br->pno, br->id);
	b = &blf_ntx->b[i];
	blf_ntx_lock(i);
	for(pt = &b->first; (t = *pt) != NULL; pt = &t->next)
		if(t->id == br->id && t->pno == br->pno)
			break;
	if(t == NULL) {
		blf_ntx_unlock(i); /* a late copy: the transaction ended */
		return;
	}
	if(!blf_ntx_match(t, a, br)) {
		blf_ntx_unlock(i);
		blf_ntx_ignored(a, "branch nonce, CSeq, Call-ID, tags or source "
						   "differ from the NOTIFY's");
		return;
	}
	if(a->code < 200) {
		/* RFC 3261 17.1.2.2: Proceeding, retransmit every T2 */
		t->ival = blf_ntx_tm_ms(BLF_TM_T2);
		t->next_ms = blf_ntx_ms() + t->ival;
		blf_ntx_unlock(i);
		return;
	}
	*pt = t->next;
	b->npending--;
	if(a->code < 300) {
		blf_ntx_release(b, t);
		blf_ntx_unlock(i);
		return;
	}
	blf_ntx_unlock(i);
	blf_ntx_failed(t, a->code);
	blf_ntx_lock(i);
	blf_ntx_release(b, t);
	blf_ntx_unlock(i);
}

/*
 * The core's response callback (before tm's, for every reply the core
 * parsed): answers to our NOTIFYs end here, whatever they say; 0 tells the
 * core they were ours.
 */
int blf_ntx_response(struct sip_msg *msg)
{
	blf_branch_t br;
	blf_ntx_ans_t a;
	struct cseq_body *cs;

	if(blf_ntx == NULL || msg->via1 == NULL || msg->via1->branch == NULL)
		return 1;
	if(blf_branch_parse(msg->via1->branch->value.s,
			   msg->via1->branch->value.len, &br)
			< 0)
		return 1; /* not ours */
	if(br.boot != blf_ntx->boot)
		return 0; /* ours, from before a restart */
	memset(&a, 0, sizeof(a));
	a.code = msg->first_line.u.reply.statuscode;
	init_su(&a.src, &msg->rcv.src_ip, msg->rcv.src_port);
	a.bind = msg->rcv.bind_address;
	a.src_ip = &msg->rcv.src_ip;
	a.src_port = msg->rcv.src_port;
	/* the core has found From, To, Call-ID and CSeq and parsed the
	 * bodies of To and CSeq (receive_msg, get_hdr_field); From's tag is
	 * read in place: parse_from_header() would cost two pkg allocations
	 * per answer, and with Kamailio's default allocator (q_malloc) each
	 * is a walk over every free-list bucket below the pool's big
	 * fragment (bench/README.md, "Where the CPU goes against the floor") */
	if(msg->cseq == NULL || msg->cseq->parsed == NULL || msg->callid == NULL
			|| msg->from == NULL || msg->to == NULL || msg->to->parsed == NULL
			|| blf_sip_hdr_tag(msg->from->body.s, msg->from->body.len,
					   (const char **)&a.ftag.s, &a.ftag.len)
					   != 0) {
		blf_ntx_ignored(&a, "From, To, Call-ID or CSeq missing");
		return 0;
	}
	cs = get_cseq(msg);
	if(str2int(&cs->number, &a.cseq) < 0) {
		blf_ntx_ignored(&a, "bad CSeq");
		return 0;
	}
	a.cseq_notify = (cs->method_id == METHOD_NOTIFY);
	a.callid = msg->callid->body;
	trim(&a.callid);
	a.ttag = get_to(msg)->tag_value;
	blf_ntx_answer(&a, &br);
	return 0;
}

/* 1 when nothing but the core's reply path would see an answer: no module
 * looks at received data (siptrace, topoh, sipdump: SREV_NET_DATA_IN and
 * _RECV), no event_route[core:msg-received], no reply_route in the script
 * (native or KEMI) */
static int blf_ntx_fast_ok(void)
{
	return !sr_event_enabled(SREV_NET_DATA_IN)
		   && !sr_event_enabled(SREV_NET_DATA_RECV) && ksr_evrt_received_mode == 0
		   && onreply_rt.rlist[DEFAULT_RT] == NULL
		   && (kemi_reply_route_callback.len == 0 || sr_kemi_eng_get() == NULL);
}

/*
 * The core's hook for every UDP datagram, before it is parsed: an answer
 * to one of our NOTIFYs, in the usual shape (blf_sipscan.c), is matched
 * and consumed here, without the core's parse (a pkg allocation per
 * header) and free. Anything else -- a request, another transaction's
 * reply, an answer of unusual shape, or when something else would have
 * seen the answer (blf_ntx_fast_ok) -- goes on to the core as before.
 * <0: consumed.
 */
static int blf_ntx_dgram_in(sr_event_param_t *evp)
{
	void **d = (void **)evp->data;
	char *buf = (char *)d[0];
	unsigned int len = *(unsigned int *)d[1];
	receive_info_t *ri = (receive_info_t *)d[2];
	blf_sipscan_t sc;
	blf_branch_t br;
	blf_ntx_ans_t a;

	if(blf_ntx == NULL || len < 12 || len > BLF_NTX_UDP_MAX
			|| memcmp(buf, "SIP/2.0 ", 8) != 0 || !blf_ntx_fast_ok())
		return 0;
	if(blf_sipscan_reply(buf, (int)len, &sc) < 0
			|| blf_branch_parse(sc.branch, sc.branch_len, &br) < 0)
		return 0; /* not ours, or for the core's parser */
	if(br.boot != blf_ntx->boot)
		return -1; /* ours, from before a restart */
	memset(&a, 0, sizeof(a));
	a.code = sc.code;
	a.callid.s = (char *)sc.callid;
	a.callid.len = sc.callid_len;
	a.ftag.s = (char *)sc.ftag;
	a.ftag.len = sc.ftag_len;
	a.ttag.s = (char *)sc.ttag;
	a.ttag.len = sc.ttag_len;
	a.cseq = sc.cseq;
	a.cseq_notify = sc.cseq_notify;
	a.src = ri->src_su;
	a.bind = ri->bind_address;
	a.src_ip = &ri->src_ip;
	a.src_port = ri->src_port;
	update_stat(blf_st_notify_answers_fast, 1);
	blf_ntx_answer(&a, &br);
	return -1;
}

/* ---- retransmissions sent after the lock ---- */

#define BLF_RESEND_MAX (256 * 1024)
#define BLF_RESEND_ALIGN(n) (((n) + 7u) & ~(size_t)7u)

typedef struct blf_resend_hdr
{
	struct dest_info dst;
	int len;
} blf_resend_hdr_t;

int blf_resend_add(
		blf_resend_t *q, const struct dest_info *dst, const char *m, int len)
{
	size_t need = BLF_RESEND_ALIGN(sizeof(blf_resend_hdr_t) + (size_t)len);
	blf_resend_hdr_t *h;
	size_t ns;
	char *nb;

	if(len <= 0 || q->len + need > BLF_RESEND_MAX)
		return -1;
	if(q->len + need > q->size) {
		for(ns = q->size ? q->size : 16384; ns < q->len + need; ns *= 2)
			;
		nb = realloc(q->buf, ns);
		if(nb == NULL)
			return -1;
		q->buf = nb;
		q->size = ns;
	}
	h = (blf_resend_hdr_t *)(q->buf + q->len);
	h->dst = *dst;
	h->len = len;
	memcpy(h + 1, m, (size_t)len);
	q->len += need;
	return 0;
}

void blf_resend_flush(blf_resend_t *q, const char *what)
{
	blf_resend_hdr_t *h;
	size_t off;

	for(off = 0; off < q->len;
			off += BLF_RESEND_ALIGN(sizeof(*h) + (size_t)h->len)) {
		h = (blf_resend_hdr_t *)(q->buf + off);
		if(msg_send(&h->dst, (char *)(h + 1), h->len) < 0)
			LM_DBG("%s retransmission failed\n", what);
	}
	q->len = 0;
}

/* the earlier of *w and a, on the wrapping ms clock */
#define BLF_NTX_EARLIER(w, a)        \
	do {                             \
		if(BLF_MS_AFTER(*(w), (a))) \
			*(w) = (a);              \
	} while(0)

/*
 * The "BLF NOTIFY" process's round: retransmissions, Timer F, pool
 * trimming. Returns the ms until the next round is due: the earliest
 * retransmission, Timer F or trim of the transactions it saw, and no later
 * than T1 from now, since a transaction made after this round is due no
 * earlier than T1 after it. So the process wakes when there is something
 * to do, not every 50 ms: on this kind of host a wake-up costs about as
 * much CPU as a NOTIFY (bench/README.md, "Where the CPU goes against the
 * floor", eighth session).
 */
static unsigned int blf_ntx_timer(void)
{
	static blf_resend_t rq; /* this process's, sent after each bucket */
	blf_ntx_bucket_t *b;
	blf_ntx_t *t, **pt, *dead, *fr;
	unsigned int now, t1, t2, i, wake;

	now = blf_ntx_ms();
	t1 = blf_ntx_tm_ms(BLF_TM_T1);
	t2 = blf_ntx_tm_ms(BLF_TM_T2);
	wake = now + (t1 < BLF_NTX_SLEEP_MAX_MS ? t1 : BLF_NTX_SLEEP_MAX_MS);
	for(i = 0; i < BLF_NTX_BUCKETS; i++) {
		b = &blf_ntx->b[i];
		if(b->first == NULL && b->pool == NULL)
			continue; /* racy peek: the next round sees what it missed */
		dead = NULL;
		blf_ntx_lock(i);
		for(pt = &b->first; (t = *pt) != NULL;) {
			if(!BLF_MS_AFTER(t->end_ms, now)) {
				*pt = t->next;
				b->npending--;
				t->next = dead;
				dead = t;
				continue;
			}
			if(!BLF_MS_AFTER(t->next_ms, now)
					&& blf_resend_add(&rq, &t->dst, t->buf, t->len) == 0) {
				t->ival = t->ival * 2 < t2 ? t->ival * 2 : t2;
				t->next_ms = now + t->ival;
			}
			BLF_NTX_EARLIER(&wake, t->next_ms);
			BLF_NTX_EARLIER(&wake, t->end_ms);
			pt = &t->next;
		}
		if(b->first == NULL && b->pool) {
			if(BLF_MS_AFTER(now, b->used_ms + BLF_NTX_TRIM_MS)) {
				while((fr = b->pool) != NULL) {
					b->pool = fr->next;
					shm_free(fr);
				}
				b->npool = 0;
			} else
				BLF_NTX_EARLIER(&wake, b->used_ms + BLF_NTX_TRIM_MS + 1);
		}
		blf_ntx_unlock(i);
		blf_resend_flush(&rq, "NOTIFY");
		while((t = dead) != NULL) {
			dead = t->next;
			blf_ntx_failed(t, 408);
			blf_ntx_lock(i);
			blf_ntx_release(b, t);
			blf_ntx_unlock(i);
		}
	}
	now = blf_ntx_ms(); /* the round itself took time */
	return BLF_MS_AFTER(wake, now) ? wake - now : 0;
}

/* the "BLF NOTIFY" process (fork_basic_utimer's loop, with a sleep that
 * follows what is due) */
static void blf_ntx_timer_loop(void)
{
	unsigned int ms = BLF_NTX_TIMER_MS;

	for(;;) {
		sleep_us(ms * 1000u);
		cfg_update();
		ms = blf_ntx_timer();
		if(ms < BLF_NTX_TIMER_MS)
			ms = BLF_NTX_TIMER_MS;
		else if(ms > BLF_NTX_SLEEP_MAX_MS)
			ms = BLF_NTX_SLEEP_MAX_MS;
	}
}

int blf_ntx_child_init(int rank)
{
	static int hook_tried = 0; /* inherited by the processes forked after */
	int pid;

	if(blf_ntx == NULL)
		return 0;
	/* answers read off the wire (blf_ntx_dgram_in). The core has one
	 * such hook per process; taken here, after every module's mod_init,
	 * so a module that needs it (sipcapture's HEP) keeps it, and the
	 * answers then go through the core's parser and blf_ntx_response */
	if(!hook_tried) {
		hook_tried = 1;
		if(sr_event_register_cb(SREV_NET_DGRAM_IN, blf_ntx_dgram_in) < 0)
			LM_INFO("the UDP datagram hook is taken: answers to NOTIFYs go "
					"through the core's parser\n");
	}
	if(rank != PROC_MAIN)
		return 0;
	pid = fork_process(PROC_TIMER, "BLF NOTIFY", 1);
	if(pid < 0) {
		LM_ERR("cannot start the NOTIFY retransmission process\n");
		return -1;
	}
	if(pid == 0) {
		if(cfg_child_init())
			return -1;
		blf_ntx_timer_loop(); /* does not return */
	}
	return 0;
}
