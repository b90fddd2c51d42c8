/*
 * blfgen.c — the load generator of `make bench`.
 *
 * One single-threaded epoll loop over a few UDP sockets plays every SIP
 * party of the benchmark:
 *   - S watchers (BLF phones) spread over M monitored extensions; watcher i
 *     watches extension i % M and lives on watcher socket i % K, told apart
 *     by its Contact user "w<i>". Every NOTIFY is answered 200 at once.
 *   - the caller (UAC) and callee (UAS) phones of every call, on one phone
 *     socket: INVITE -> 180 (To tag) -> 200 -> ACK -> hold -> BYE -> 200.
 * Each call-state change is timestamped at the phone that causes it
 * (CLOCK_REALTIME just before the send) and each NOTIFY at its arrival by
 * the kernel (SO_TIMESTAMPNS), so the generator's own scheduling delays do
 * not inflate the measured latency.
 *
 * A NOTIFY is matched per (watcher, call, role, state): its body is RFC 4235
 * dialog-info; each <dialog call-id=...> names one of our calls (call-ids are
 * "c<index>-<run>@bench") and the watcher's extension tells the role (caller
 * or callee). The first report of a state to a watcher is a delivery; a
 * NOTIFY that reports nothing new is "redundant"; a repeated version of one
 * subscription is a "duplicate"; a repeated CSeq is a SIP retransmission.
 * Each duplicate and out-of-order version is reported with the NOTIFY it
 * repeats or follows ("dup_detail": both CSeqs, versions, source ports,
 * Subscription-States, body digests and arrival times, the first 64), and
 * the first 8 bodies go to stderr: which node sent which.
 *
 * --event presence: the watchers subscribe to presence; each PIDF NOTIFY is
 * checked against the SPEC's table (basic, note, rpid:on-the-phone) and
 * matched to the extension's latest call. --list N: watcher i subscribes
 * to the RFC 4662 list "list<i>" of N extensions; each member part of a
 * multipart NOTIFY is matched as a watcher's NOTIFY would be. --publish:
 * on "PUBLISH" (before START) one PIDF PUBLISH per extension, then
 * "PUB_DONE {..}".
 *
 * Control: the orchestrator (run.py) reads lines on our stdout and answers
 * on our stdin, so it can sample Kamailio's CPU and memory between phases:
 *   READY            sockets bound                   <- waits for "START"
 *   SUBS_DONE {..}   every subscription settled      <- waits for "GO"
 *   CALLS_DONE {..}  every call over, NOTIFYs in      <- waits for "END"
 *   RESULT {..}      the final counters, then exit
 * "ABORT" (Kamailio died) ends the running phase at once.
 * Every loop and wait is bounded (timeouts below); EOF on stdin ends us.
 *
 * Build: cc -O2 -o blfgen blfgen.c (no dependencies).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* configuration                                                       */

static struct {
	const char *proxy;
	int proxy_port;
	int port_base;   /* watcher sockets: port_base .. port_base+nsock-1 */
	int nsock;       /* phone socket: port_base+nsock */
	int subs;        /* S */
	int exts;        /* M */
	double rate;     /* R calls/s */
	double duration; /* T s */
	int ring_ms;
	int hold_ms;
	const char *domain;
	int window;      /* subscriptions in flight */
	double sub_rate; /* SUBSCRIBEs/s, 0 = as fast as the window allows */
	int expires;
	int settle_ms;   /* wait for missing NOTIFYs after the last call */
	unsigned long long seed;
	int dump;        /* print the first N call-phase NOTIFYs to stderr */
	int presence;    /* --event presence: PIDF watchers instead of dialog */
	int list;        /* --list N: watcher i subscribes to list i of N members */
	int publish;     /* --publish: PUBLISH one PIDF per extension first */
	int vip;         /* --vip: a DOWN node's address moves (call_dest) */
} C = {"127.0.0.1", 5060, 5070, 4, 1000, 100, 10, 20, 300, 2000,
		"bench.local", 200, 0, 3600, 5000, 1, 0, 0, 0, 0, 0};

#define EXT_BASE 100000u /* extension e is user 100000+e */
#define NSTATE 4          /* trying, early, confirmed, terminated */
enum { ST_TRYING, ST_EARLY, ST_CONFIRMED, ST_TERMINATED };
static const char *state_name[NSTATE] = {
		"trying", "early", "confirmed", "terminated"};

static char run_id[16];

/* ------------------------------------------------------------------ */
/* time                                                                */

static int64_t ts_ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
#define mono_ns() ts_ns(CLOCK_MONOTONIC)
#define real_ns() ts_ns(CLOCK_REALTIME)
#define MS 1000000LL

/* ------------------------------------------------------------------ */
/* small containers                                                    */

/* A set of small integers (CSeqs, versions) of one subscription. */
typedef struct {
	uint32_t base, nbytes;
	uint8_t *bits;
} seen_t;

/* Returns 1 when v was already in the set, 0 after adding it. */
static int seen_add(seen_t *s, uint32_t v)
{
	uint32_t off, n;
	int was;

	if(!s->bits)
		s->base = v > 64 ? v - 64 : 0;
	if(v < s->base)
		return 0; /* far below anything seen: cannot tell, count as new */
	off = v - s->base;
	if(off / 8 >= s->nbytes) {
		n = s->nbytes ? s->nbytes * 2 : 16;
		while(n <= off / 8)
			n *= 2;
		s->bits = realloc(s->bits, n);
		if(!s->bits) {
			perror("realloc");
			exit(2);
		}
		memset(s->bits + s->nbytes, 0, n - s->nbytes);
		s->nbytes = n;
	}
	was = (s->bits[off / 8] >> (off % 8)) & 1;
	s->bits[off / 8] |= 1 << (off % 8);
	return was;
}

/* Latencies in µs with the state in the low 2 bits. */
typedef struct {
	uint64_t *v;
	size_t n, cap;
} lat_t;

static void lat_push(lat_t *l, int64_t ns, int state)
{
	if(ns < 0)
		ns = 0;
	if(l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if(!l->v) {
			perror("realloc");
			exit(2);
		}
	}
	l->v[l->n++] = ((uint64_t)(ns / 1000) << 2) | (uint64_t)state;
}

/* Timers: a binary min-heap of (due, kind, index). */
enum { T_SUB_RTX, T_INV_RTX, T_UAS_200, T_UAS_200_RTX, T_BYE, T_BYE_RTX,
	T_CALL_GUARD, T_FLOOR_BURST, T_PUB_RTX };
static void floor_burst(uint32_t b);
static void lat_json(FILE *f, lat_t *l, unsigned mask);
typedef struct {
	int64_t due;
	uint32_t kind, idx;
} tmr_t;
static tmr_t *heap;
static size_t heap_n, heap_cap;

static void tmr_add(int64_t due, uint32_t kind, uint32_t idx)
{
	size_t i;
	tmr_t t = {due, kind, idx};

	if(heap_n == heap_cap) {
		heap_cap = heap_cap ? heap_cap * 2 : 1024;
		heap = realloc(heap, heap_cap * sizeof(*heap));
		if(!heap) {
			perror("realloc");
			exit(2);
		}
	}
	i = heap_n++;
	while(i > 0 && heap[(i - 1) / 2].due > due) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = t;
}

static tmr_t tmr_pop(void)
{
	tmr_t top = heap[0], last = heap[--heap_n];
	size_t i = 0, c;

	while((c = 2 * i + 1) < heap_n) {
		if(c + 1 < heap_n && heap[c + 1].due < heap[c].due)
			c++;
		if(heap[c].due >= last.due)
			break;
		heap[i] = heap[c];
		i = c;
	}
	if(heap_n)
		heap[i] = last;
	return top;
}

/* ------------------------------------------------------------------ */
/* SIP message parsing (just what the parties need)                    */

typedef struct {
	const char *s;
	int len;
} span_t;

#define MAXH 16
typedef struct {
	int is_req;
	span_t method, ruri;
	int code;
	span_t via[MAXH], rr[MAXH]; /* whole header lines */
	int nvia, nrr;
	span_t from, to, callid, cseq; /* whole header lines */
	span_t to_v, callid_v, contact_v, sstate_v; /* values */
	uint32_t cseq_n;
	span_t cseq_m;
	span_t body;
} msg_t;

static int tolower_ascii(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int hname_is(const char *s, int n, const char *full, const char *compact)
{
	return ((int)strlen(full) == n && !strncasecmp(s, full, n))
		   || (compact && n == 1 && tolower_ascii(*s) == *compact);
}

static const char *memfind(const char *s, int n, const char *pat)
{
	return memmem(s, n, pat, strlen(pat));
}

static int sip_parse(const char *buf, int len, msg_t *m)
{
	const char *p = buf, *end = buf + len, *eol, *colon, *v;
	int clen = -1, n;

	memset(m, 0, sizeof(*m));
	eol = memfind(p, len, "\r\n");
	if(!eol)
		return -1;
	if(len > 8 && !memcmp(p, "SIP/2.0 ", 8)) {
		m->code = atoi(p + 8);
	} else {
		const char *sp1 = memchr(p, ' ', eol - p), *sp2;
		if(!sp1)
			return -1;
		sp2 = memchr(sp1 + 1, ' ', eol - sp1 - 1);
		if(!sp2)
			return -1;
		m->is_req = 1;
		m->method = (span_t){p, (int)(sp1 - p)};
		m->ruri = (span_t){sp1 + 1, (int)(sp2 - sp1 - 1)};
	}
	p = eol + 2;
	while(p < end) {
		eol = memfind(p, end - p, "\r\n");
		if(!eol)
			return -1;
		if(eol == p) { /* empty line: the body follows */
			p += 2;
			break;
		}
		colon = memchr(p, ':', eol - p);
		if(colon) {
			n = (int)(colon - p);
			while(n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			v = colon + 1;
			while(v < eol && (*v == ' ' || *v == '\t'))
				v++;
			span_t line = {p, (int)(eol - p)}, val = {v, (int)(eol - v)};
			if(hname_is(p, n, "via", "v")) {
				if(m->nvia < MAXH)
					m->via[m->nvia++] = line;
			} else if(hname_is(p, n, "record-route", NULL)) {
				if(m->nrr < MAXH)
					m->rr[m->nrr++] = line;
			} else if(hname_is(p, n, "from", "f")) {
				m->from = line;
			} else if(hname_is(p, n, "to", "t")) {
				m->to = line;
				m->to_v = val;
			} else if(hname_is(p, n, "call-id", "i")) {
				m->callid = line;
				m->callid_v = val;
			} else if(hname_is(p, n, "cseq", NULL)) {
				m->cseq = line;
				m->cseq_n = (uint32_t)strtoul(v, NULL, 10);
				const char *q = v;
				while(q < eol && *q >= '0' && *q <= '9')
					q++;
				while(q < eol && *q == ' ')
					q++;
				m->cseq_m = (span_t){q, (int)(eol - q)};
			} else if(hname_is(p, n, "contact", "m")) {
				m->contact_v = val;
			} else if(hname_is(p, n, "subscription-state", NULL)) {
				m->sstate_v = val;
			} else if(hname_is(p, n, "content-length", "l")) {
				clen = atoi(v);
			}
		}
		p = eol + 2;
	}
	if(p > end)
		p = end;
	n = (int)(end - p);
	if(clen >= 0 && clen < n)
		n = clen;
	m->body = (span_t){p, n};
	return 0;
}

static int span_eq(span_t s, const char *lit)
{
	return (int)strlen(lit) == s.len && !strncasecmp(s.s, lit, s.len);
}

/* "c123-<run>@bench" -> 123, else -1 (prefix 'c' calls, 's' subscriptions) */
static long our_id(const char *s, int len, char prefix)
{
	char *e;
	long v;
	int rl = (int)strlen(run_id);

	if(len < 2 || s[0] != prefix || s[1] < '0' || s[1] > '9')
		return -1;
	v = strtol(s + 1, &e, 10);
	if(e - s + 1 + rl > len || *e != '-' || memcmp(e + 1, run_id, rl))
		return -1;
	return v;
}

/* user part of sip:user@host (or of a <sip:...> value) */
static span_t uri_user(span_t u)
{
	const char *p = memfind(u.s, u.len, "sip:"), *at;
	span_t r = {NULL, 0};

	if(!p)
		return r;
	p += 4;
	at = memchr(p, '@', u.s + u.len - p);
	if(at)
		r = (span_t){p, (int)(at - p)};
	return r;
}

/* the URI inside <...> or up to ';' */
static span_t uri_of(span_t v)
{
	const char *lt = memchr(v.s, '<', v.len), *gt;
	int n;

	if(lt) {
		gt = memchr(lt, '>', v.s + v.len - lt);
		if(gt)
			return (span_t){lt + 1, (int)(gt - lt - 1)};
	}
	for(n = 0; n < v.len && v.s[n] != ';' && v.s[n] != ' '; n++)
		;
	return (span_t){v.s, n};
}

/* ------------------------------------------------------------------ */
/* XML: the few dialog-info bits we read                               */

/* value of attribute name="..." inside the start tag [s, e) */
static span_t xml_attr(const char *s, const char *e, const char *name)
{
	int nl = (int)strlen(name);
	const char *p = s;
	span_t r = {NULL, 0};

	while(p < e && (p = memfind(p, e - p, name)) != NULL) {
		const char *q = p + nl;
		int word = (p == s || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n'
					|| p[-1] == '\r');
		while(q < e && *q == ' ')
			q++;
		if(word && q < e && *q == '=') {
			q++;
			while(q < e && *q == ' ')
				q++;
			if(q < e && (*q == '"' || *q == '\'')) {
				const char *z = memchr(q + 1, *q, e - q - 1);
				if(z)
					r = (span_t){q + 1, (int)(z - q - 1)};
			}
			return r;
		}
		p += nl;
	}
	return r;
}

/* Next start tag whose local name is `name`: sets ts and te to the tag's
 * '<' and '>' and returns 1, or 0 when there is none before e. */
static int xml_next(const char *p, const char *e, const char *name,
		const char **ts, const char **te)
{
	int nl = (int)strlen(name);

	while(p < e && (p = memchr(p, '<', e - p)) != NULL) {
		const char *n = p + 1, *q, *gt;
		if(n < e && (*n == '/' || *n == '?' || *n == '!')) {
			p++;
			continue;
		}
		q = n;
		while(q < e && *q != ' ' && *q != '>' && *q != '/' && *q != ':'
				&& *q != '\t' && *q != '\r' && *q != '\n')
			q++;
		if(q < e && *q == ':') /* a namespace prefix */
			n = q + 1;
		if(e - n > nl && !memcmp(n, name, nl)
				&& (n[nl] == ' ' || n[nl] == '>' || n[nl] == '/'
						|| n[nl] == '\t' || n[nl] == '\r'
						|| n[nl] == '\n')) {
			gt = memchr(n, '>', e - n);
			if(!gt)
				return 0;
			*ts = p;
			*te = gt;
			return 1;
		}
		p++;
	}
	return 0;
}

static int state_code(span_t s)
{
	while(s.len && (*s.s == ' ' || *s.s == '\n' || *s.s == '\r'
						   || *s.s == '\t')) {
		s.s++;
		s.len--;
	}
	while(s.len && (s.s[s.len - 1] == ' ' || s.s[s.len - 1] == '\n'
						   || s.s[s.len - 1] == '\r'
						   || s.s[s.len - 1] == '\t'))
		s.len--;
	if(span_eq(s, "trying") || span_eq(s, "proceeding"))
		return ST_TRYING;
	if(span_eq(s, "early"))
		return ST_EARLY;
	if(span_eq(s, "confirmed"))
		return ST_CONFIRMED;
	if(span_eq(s, "terminated"))
		return ST_TERMINATED;
	return -1;
}

/* ------------------------------------------------------------------ */
/* parties                                                             */

enum { W_SENT = 1, W_2XX = 2, W_NOTIFIED = 4, W_FAILED = 8, W_DONE = 16 };
typedef struct {
	uint32_t ext;
	uint8_t flags, tries;
	uint16_t code;
	uint8_t gen; /* subscriptions made again (ended "deactivated") */
	int64_t t_sent; /* mono, first SUBSCRIBE */
	int32_t maxver;
	seen_t cseqs, vers;
} watcher_t;

enum { C_NEW, C_INVITING, C_RINGING, C_CONFIRMED, C_BYE, C_DONE, C_FAILED };
enum { U_NONE, U_RINGING, U_200, U_ACKED, U_BYE };
typedef struct {
	uint32_t a, b; /* extensions: caller, callee */
	uint8_t st, ust, inv_tries, bye_tries, u200_tries, got_prov;
	uint8_t px; /* the proxy (cluster node) the call goes through */
	uint8_t down_marks; /* states caused while px was down (1 << state) */
	uint8_t vpx;        /* --vip: 1 + the node px's address moved to */
	uint16_t early_n[NSTATE]; /* NOTIFYs of a state before its change */
	int64_t ts[NSTATE]; /* realtime ns of each state change, 0 = not yet */
	char *uas_hdrs;     /* Via/RR/From/To;tag/Call-ID/CSeq for responses */
	char *route;        /* "Route: ...\r\n" for in-dialog requests */
	char *target;       /* callee's Contact URI */
	char *to_v;         /* To value with the callee's tag */
	uint8_t *seen;      /* [role][state][slot] delivered marks */
	int64_t t_end;
} call_t;

static watcher_t *W;
static uint32_t *ext_est;  /* established watchers per extension */
static uint8_t *ext_busy;
static uint32_t *ext_call; /* the extension's latest call + 1, 0 = none */
static uint8_t *pub_tries; /* --publish: per extension; 255 = answered */
static uint32_t pub_next, pub_settled;
static uint32_t wmax;      /* watchers per extension, at most */
static call_t *calls;
static uint32_t ncalls, calls_cap;

static int fds[64];
static int phone_sock;
/* the proxies: one, or the nodes of a cluster (--proxy-ports): watcher i
 * subscribes through node i % nproxy, call k goes through node k % nproxy
 * (the next live one when the orchestrator said "DOWN <node>") */
#define MAXPROXY 8
static struct sockaddr_in proxy_addrs[MAXPROXY];
static int nproxy = 1;
static uint8_t proxy_down[MAXPROXY];
#define proxy_addr (proxy_addrs[0])
static int phase;
/* PH_PUB (--publish) comes before the others: "phase >= PH_CALLS" tests */
enum { PH_PUB, PH_WAIT_START, PH_SUBS, PH_WAIT_GO, PH_CALLS, PH_WAIT_END };

static struct {
	/* subscriptions */
	uint64_t sub_sent, sub_rtx, sub_2xx, sub_notified, sub_failed,
			sub_fail_timeout, sub_fail_code, sub_est, sub_again;
	int64_t sub_t0, sub_t_last;
	lat_t sub_lat; /* SUBSCRIBE sent -> initial NOTIFY */
	/* calls */
	uint64_t calls_started, calls_done, calls_failed, calls_skipped,
			inv_rtx, bye_rtx;
	int64_t calls_t0, calls_t_end;
	/* NOTIFYs in the call phase */
	uint64_t expected[NSTATE], delivered[NSTATE];
	uint64_t notifies, notifies_sub_phase_extra, retrans, dup_version,
			out_of_order, redundant, foreign, unmatched, unknown_state,
			entity_mismatch, sub_terminated, unknown_watcher, late,
			no_body, before_change;
	lat_t lat;
	uint64_t notify_bytes; /* call-phase NOTIFYs, whole datagrams */
	/* --event presence: PIDF documents that break the SPEC's table (basic
	 * not open, on-the-phone missing or left over, unknown note) */
	uint64_t pidf_invalid;
	/* --list: NOTIFYs (call phase) carrying fullState="true", and the
	 * member parts (dialog-info documents) in them */
	uint64_t list_full, list_parts;
	/* --publish */
	uint64_t pub_sent, pub_rtx, pub_2xx, pub_err;
	int64_t pub_t0, pub_t_last;
	uint64_t send_err, rx_msgs, rx_bad;
} st;

static uint64_t rng_state;
static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* ------------------------------------------------------------------ */
/* sending                                                             */

static char obuf[16384];
static int olen;

static void out(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(obuf + olen, sizeof(obuf) - olen, fmt, ap);
	va_end(ap);
	if(n > 0)
		olen += n;
	if(olen > (int)sizeof(obuf) - 1)
		olen = (int)sizeof(obuf) - 1;
}

static void out_span(span_t s)
{
	out("%.*s\r\n", s.len, s.s);
}

static void send_to(int fd, const struct sockaddr_in *to)
{
	if(sendto(fd, obuf, olen, 0, (const struct sockaddr *)to, sizeof(*to))
			< 0)
		st.send_err++;
	olen = 0;
}

/* a response copying the request's Via/From/To/Call-ID/CSeq */
static void reply(int fd, const struct sockaddr_in *to, msg_t *m, int code,
		const char *reason)
{
	int i;

	olen = 0;
	out("SIP/2.0 %d %s\r\n", code, reason);
	for(i = 0; i < m->nvia; i++)
		out_span(m->via[i]);
	out_span(m->from);
	out_span(m->to);
	out_span(m->callid);
	out_span(m->cseq);
	out("Content-Length: 0\r\n\r\n");
	send_to(fd, to);
}

static int wport(uint32_t i)
{
	return C.port_base + (int)(i % (uint32_t)C.nsock);
}

static void sub_send(uint32_t i)
{
	watcher_t *w = &W[i];
	const char *ev = C.presence ? "presence" : "dialog";
	const char *ct = C.presence ? "application/pidf+xml"
								: "application/dialog-info+xml";
	char target[32];

	/* a list watcher subscribes to list<i> (the orchestrator's HTTP list
	 * server answers its members), any other to its extension */
	if(C.list)
		snprintf(target, sizeof(target), "list%u", i);
	else
		snprintf(target, sizeof(target), "%u", EXT_BASE + w->ext);
	olen = 0;
	out("SUBSCRIBE sip:%s@%s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-s%u-%s.%u;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:w%u@%s>;tag=w%u\r\n"
		"To: <sip:%s@%s>\r\n"
		"Call-ID: s%u-%s.%u@bench\r\n"
		"CSeq: 1 SUBSCRIBE\r\n"
		"Contact: <sip:w%u@127.0.0.1:%d>\r\n"
		"Event: %s\r\n",
			target, C.domain, wport(i), i, run_id, w->gen, i, C.domain, i,
			target, C.domain, i, run_id, w->gen, i, wport(i), ev);
	if(C.list)
		out("Supported: eventlist\r\n"
			"Accept: multipart/related, application/rlmi+xml, %s\r\n",
				ct);
	else
		out("Accept: %s\r\n", ct);
	out("Expires: %d\r\n"
		"User-Agent: blfgen\r\n"
		"Content-Length: 0\r\n\r\n",
			C.expires);
	send_to(fds[i % (uint32_t)C.nsock], &proxy_addrs[i % (uint32_t)nproxy]);
}

static int phone_port(void)
{
	return C.port_base + C.nsock;
}

/* --publish: one PIDF document for extension e (RFC 3903 initial
 * PUBLISH, From = To = the entity), from the phone socket. The document
 * has one tuple and no person and no note, so the module's own tuple and
 * note (what the watchers are checked on) stay call-derived. */
static void pub_send(uint32_t e)
{
	char body[512];
	int bl;

	bl = snprintf(body, sizeof(body),
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
			"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
			"entity=\"sip:%u@%s\">\r\n"
			"<tuple id=\"ph%u\"><status><basic>open</basic></status>"
			"<contact>sip:%u@127.0.0.1:%d</contact></tuple>\r\n"
			"</presence>\r\n",
			EXT_BASE + e, C.domain, e, EXT_BASE + e, phone_port());
	olen = 0;
	out("PUBLISH sip:%u@%s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-p%u-%s;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:%u@%s>;tag=p%u\r\n"
		"To: <sip:%u@%s>\r\n"
		"Call-ID: p%u-%s@bench\r\n"
		"CSeq: 1 PUBLISH\r\n"
		"Event: presence\r\n"
		"Expires: 3600\r\n"
		"Content-Type: application/pidf+xml\r\n"
		"User-Agent: blfgen\r\n"
		"Content-Length: %d\r\n\r\n%s",
			EXT_BASE + e, C.domain, phone_port(), e, run_id, EXT_BASE + e,
			C.domain, e, EXT_BASE + e, C.domain, e, run_id, bl, body);
	send_to(phone_sock, &proxy_addrs[e % (uint32_t)nproxy]);
}

/*
 * Where a call's messages go: its proxy; with --vip, once the orchestrator
 * said that proxy is DOWN, the next live node, for the rest of the call --
 * the HA deployment where the dead proxy's address (a VIP) moves to a
 * survivor, which then gets the call's responses, ACK, BYE, CANCEL and
 * retransmissions with their headers unchanged (Via and Route name the
 * dead node's address, one the survivors own: bench/cluster.cfg's alias
 * lines). The address stays there when the node comes back UP: calls
 * started after that go through the restarted node.
 */
static const struct sockaddr_in *call_dest(call_t *c)
{
	int i, p;

	if(c->vpx)
		return &proxy_addrs[c->vpx - 1];
	if(!C.vip || nproxy < 2 || !proxy_down[c->px])
		return &proxy_addrs[c->px];
	for(i = 1; i < nproxy; i++) {
		p = (c->px + i) % nproxy;
		if(!proxy_down[p]) {
			c->vpx = (uint8_t)(p + 1);
			return &proxy_addrs[p];
		}
	}
	return &proxy_addrs[c->px];
}

static void inv_send(uint32_t k)
{
	call_t *c = &calls[k];

	olen = 0;
	out("INVITE sip:%u@%s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-i%u-%s;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:%u@%s>;tag=f%u\r\n"
		"To: <sip:%u@%s>\r\n"
		"Call-ID: c%u-%s@bench\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: <sip:%u@127.0.0.1:%d>\r\n"
		"User-Agent: blfgen\r\n"
		"Content-Length: 0\r\n\r\n",
			EXT_BASE + c->b, C.domain, phone_port(), k, run_id,
			EXT_BASE + c->a, C.domain, k, EXT_BASE + c->b, C.domain, k,
			run_id, EXT_BASE + c->a, phone_port());
	send_to(phone_sock, call_dest(c));
}

/* ACK or BYE inside the call's dialog, through the proxy (loose route) */
static void indlg_send(uint32_t k, const char *method, int cseq)
{
	call_t *c = &calls[k];

	olen = 0;
	out("%s %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%c%u-%s;rport\r\n"
		"%s"
		"Max-Forwards: 70\r\n"
		"From: <sip:%u@%s>;tag=f%u\r\n"
		"To: %s\r\n"
		"Call-ID: c%u-%s@bench\r\n"
		"CSeq: %d %s\r\n"
		"Content-Length: 0\r\n\r\n",
			method, c->target, phone_port(), method[0] == 'A' ? 'a' : 'b', k,
			run_id, c->route, EXT_BASE + c->a, C.domain, k, c->to_v, k,
			run_id, cseq, method);
	send_to(phone_sock, call_dest(c));
}

/* the UAS's 180 or 200 to the call's INVITE */
static void uas_send(uint32_t k, int code)
{
	call_t *c = &calls[k];

	olen = 0;
	out("SIP/2.0 %d %s\r\n%s"
		"Contact: <sip:%u@127.0.0.1:%d>\r\n"
		"Content-Length: 0\r\n\r\n",
			code, code == 180 ? "Ringing" : "OK", c->uas_hdrs,
			EXT_BASE + c->b, phone_port());
	send_to(phone_sock, call_dest(c));
}

/* ------------------------------------------------------------------ */
/* subscriptions                                                       */

static uint32_t sub_next; /* next watcher to subscribe */
static uint32_t sub_inflight, sub_settled;
static int64_t sub_last_progress;

static void sub_settle(uint32_t i, int ok)
{
	watcher_t *w = &W[i];

	if(w->flags & W_DONE)
		return;
	w->flags |= W_DONE;
	sub_inflight--;
	sub_settled++;
	sub_last_progress = mono_ns();
	if(ok) {
		st.sub_est++;
		if(C.list) { /* every member of the list gains a watcher */
			uint32_t j;
			for(j = 0; j < (uint32_t)C.list; j++)
				ext_est[(uint32_t)(((uint64_t)i * (uint32_t)C.list + j)
								   % (uint32_t)C.exts)]++;
		} else {
			ext_est[w->ext]++;
		}
		st.sub_t_last = sub_last_progress;
	} else {
		w->flags |= W_FAILED;
		st.sub_failed++;
	}
}

/* the subscription of watcher i ended "deactivated" before the calls
 * (RFC 6665 section 4.1.3: subscribe again at once; blf does so to a
 * list SUBSCRIBE it could not wait for, once the list service answered):
 * unsettled, and a new SUBSCRIBE (a new Call-ID) */
static int64_t sub_last_again;
static void sub_again(uint32_t i)
{
	watcher_t *w = &W[i];
	int64_t now = mono_ns();

	if(w->flags & W_DONE) {
		sub_settled--;
		sub_inflight++;
		if(w->flags & W_FAILED) {
			st.sub_failed--;
		} else {
			st.sub_est--;
			if(C.list) {
				uint32_t j;
				for(j = 0; j < (uint32_t)C.list; j++)
					ext_est[(uint32_t)(((uint64_t)i * (uint32_t)C.list + j)
									   % (uint32_t)C.exts)]--;
			} else {
				ext_est[w->ext]--;
			}
		}
	}
	w->gen++;
	w->flags = W_SENT;
	w->tries = 0;
	w->t_sent = now;
	w->maxver = 0;
	free(w->cseqs.bits);
	free(w->vers.bits);
	memset(&w->cseqs, 0, sizeof(w->cseqs));
	memset(&w->vers, 0, sizeof(w->vers));
	st.sub_again++;
	sub_last_again = sub_last_progress = now;
	sub_send(i);
	tmr_add(now + 500 * MS, T_SUB_RTX, i);
}

static void sub_check(uint32_t i)
{
	watcher_t *w = &W[i];

	if((w->flags & (W_2XX | W_NOTIFIED)) == (W_2XX | W_NOTIFIED))
		sub_settle(i, 1);
}

static void on_sub_reply(msg_t *m)
{
	long i = our_id(m->callid_v.s, m->callid_v.len, 's');
	watcher_t *w;

	if(i < 0 || i >= C.subs)
		return;
	w = &W[i];
	if(m->code < 200) {
		w->tries = 100; /* provisional: stop retransmitting */
		return;
	}
	if(w->flags & (W_2XX | W_DONE))
		return;
	if(m->code < 300) {
		w->flags |= W_2XX;
		st.sub_2xx++;
		sub_check((uint32_t)i);
	} else {
		w->code = (uint16_t)m->code;
		st.sub_fail_code++;
		sub_settle((uint32_t)i, 0);
	}
}

/* ------------------------------------------------------------------ */
/* NOTIFY                                                              */

/* a delivery of state s of call k to subscription i, as role (0 caller,
 * 1 callee) in slot `slot` of the call's marks; returns 1 when it was new */
static int deliver(long i, uint32_t slot, uint32_t k, int role, int s,
		int64_t rts)
{
	call_t *c = &calls[k];
	uint8_t *mark = &c->seen[((uint32_t)role * NSTATE + (uint32_t)s) * wmax
							 + slot];
	int64_t t0;

	(void)i;
	if(slot >= wmax)
		return 0;
	if(*mark)
		return 0;
	*mark = 1;
	/* presence reports "Ringing" for trying and early alike: its latency
	 * counts from the first of them */
	t0 = c->ts[s];
	if(C.presence && s == ST_EARLY && c->ts[ST_TRYING])
		t0 = c->ts[ST_TRYING];
	if(!t0) {
		st.before_change++;
		c->early_n[s]++;
		return 1;
	}
	st.delivered[s]++;
	lat_push(&st.lat, rts - t0, s);
	return 1;
}

/* extension number of "sip:<EXT_BASE+e>@domain", or -1 */
static long ent_ext(span_t ent)
{
	span_t u = uri_user(ent);
	char *e;
	long v;

	if(!u.len || u.s[0] < '0' || u.s[0] > '9')
		return -1;
	v = strtol(u.s, &e, 10);
	if(e != u.s + u.len || v < (long)EXT_BASE
			|| v >= (long)EXT_BASE + C.exts)
		return -1;
	return v - (long)EXT_BASE;
}

/* list i holds extensions (i*N + j) % M, j < N: with S lists of N members
 * and S*N a multiple of M every extension is in S*N/M lists */
static int list_has(uint32_t i, uint32_t e)
{
	uint32_t first = (uint32_t)(((uint64_t)i * (uint32_t)C.list)
								% (uint32_t)C.exts);
	return (e + (uint32_t)C.exts - first) % (uint32_t)C.exts
		   < (uint32_t)C.list;
}

/* RFC 4235 <dialog> elements in [b, be) of the document about extension
 * ext: call-id attribute, then the first <state> after it */
static int dlg_scan(const char *b, const char *be, long i, uint32_t ext,
		uint32_t slot, int64_t rts)
{
	const char *ds = b, *de, *ss, *se;
	int news = 0;

	while(ds < be && xml_next(ds, be, "dialog", &ds, &de)) {
		const char *next_s, *next_e, *lim = be;
		span_t cid = xml_attr(ds, de, "call-id");
		long k;
		int role, s;
		call_t *c;

		if(xml_next(de, be, "dialog", &next_s, &next_e))
			lim = next_s;
		if(!xml_next(de, lim, "state", &ss, &se)) {
			st.unknown_state++;
			ds = de;
			continue;
		}
		const char *txt_end = memchr(se, '<', lim - se);
		s = state_code((span_t){se + 1, (int)((txt_end ? txt_end : lim)
														- se - 1)});
		ds = de;
		k = cid.len ? our_id(cid.s, cid.len, 'c') : -1;
		if(k < 0 || (uint32_t)k >= ncalls) {
			st.unmatched++;
			continue;
		}
		if(s < 0) {
			st.unknown_state++;
			continue;
		}
		c = &calls[k];
		if(ext == c->a)
			role = 0;
		else if(ext == c->b)
			role = 1;
		else {
			st.foreign++;
			continue;
		}
		news += deliver(i, slot, (uint32_t)k, role, s, rts);
	}
	return news;
}

/* the text of the first <name> element in [b, e), trimmed */
static span_t xml_text(const char *b, const char *e, const char *name)
{
	const char *ts, *te, *lt;
	span_t r = {NULL, 0};

	if(!xml_next(b, e, name, &ts, &te) || te[-1] == '/')
		return r;
	lt = memchr(te, '<', e - te);
	if(!lt)
		return r;
	r = (span_t){te + 1, (int)(lt - te - 1)};
	while(r.len && (*r.s == ' ' || *r.s == '\n' || *r.s == '\r'
						   || *r.s == '\t')) {
		r.s++;
		r.len--;
	}
	while(r.len && (r.s[r.len - 1] == ' ' || r.s[r.len - 1] == '\n'
						   || r.s[r.len - 1] == '\r' || r.s[r.len - 1] == '\t'))
		r.len--;
	return r;
}

/* A PIDF document (SPEC "Presence"): the module's tuple comes first, its
 * <basic> is open (no usrloc here: every entity is registered) and its
 * <note> tells the call state: Ringing (trying/early), On the phone
 * (confirmed), Ready (idle, i.e. the call's terminated); <rpid:on-the-phone/>
 * is there exactly during a call. A document that breaks this counts as
 * pidf_invalid. The state is matched to the extension's latest call. */
static int pidf_scan(const char *b, const char *be, long i, uint32_t ext,
		uint32_t slot, int64_t rts)
{
	const char *ts, *te, *tend;
	span_t basic, note;
	int s, otp;
	uint32_t k;
	call_t *c;

	if(!xml_next(b, be, "tuple", &ts, &te)) {
		st.pidf_invalid++;
		return 0;
	}
	tend = memfind(te, be - te, "tuple>");
	if(!tend)
		tend = be;
	basic = xml_text(te, tend, "basic");
	note = xml_text(te, tend, "note");
	otp = xml_next(b, be, "on-the-phone", &ts, &te);
	if(span_eq(note, "Ringing"))
		s = ST_EARLY;
	else if(span_eq(note, "On the phone"))
		s = ST_CONFIRMED;
	else if(span_eq(note, "Ready"))
		s = ST_TERMINATED;
	else
		s = -1;
	if(s < 0 || !span_eq(basic, "open") || otp != (s != ST_TERMINATED)) {
		st.pidf_invalid++;
		return 0;
	}
	if(!ext_call[ext]) {
		st.unmatched++; /* no call of this extension yet */
		return 0;
	}
	k = ext_call[ext] - 1;
	c = &calls[k];
	if(s == ST_TERMINATED && !c->ts[ST_TERMINATED]) {
		/* idle before its call's BYE: the state the call began from */
		st.before_change++;
		return 0;
	}
	return deliver(i, slot, k, ext == c->a ? 0 : 1, s, rts);
}

/*
 * The call phase's last NOTIFYs (a ring), so that a repeated or an
 * out-of-order version can be reported with the NOTIFY it repeats:
 * which node sent each (source port), its CSeq, Subscription-State and a
 * digest of its body ("dup_detail" in the JSON, the first DUPD_MAX).
 */
#define NRING (1u << 18)
#define DUPD_MAX 64
typedef struct {
	uint32_t w, cseq, digest;
	int32_t ver;
	uint16_t port;
	char ss; /* Subscription-State: a(ctive), p(ending), t(erminated) */
	int64_t rts;
} nrec_t;
static nrec_t *nring;
static uint32_t nring_n; /* NOTIFYs recorded, the ring holds the last */
static struct {
	char kind; /* d: duplicate version, o: out of order */
	nrec_t a, b; /* the earlier NOTIFY (a.w 0xffffffff: gone), this one */
} dupd[DUPD_MAX];
static unsigned dupd_n;

static uint32_t body_digest(span_t b)
{
	uint32_t h = 2166136261u;
	int k;

	for(k = 0; k < b.len; k++)
		h = (h ^ (uint8_t)b.s[k]) * 16777619u;
	return h;
}

/* the newest recorded NOTIFY of watcher w with version ver (ver < 0: the
 * newest with the highest version), NULL if the ring holds none */
static const nrec_t *nring_find(uint32_t w, int32_t ver)
{
	const nrec_t *r, *best = NULL;
	uint32_t k, n = nring_n < NRING ? nring_n : NRING;

	for(k = 1; k <= n; k++) {
		r = &nring[(nring_n - k) & (NRING - 1)];
		if(r->w != w)
			continue;
		if(ver >= 0 ? r->ver == ver : (!best || r->ver > best->ver))
			best = r;
		if(ver >= 0 && best)
			break;
	}
	return best;
}

static void nring_note(char kind, const nrec_t *cur, span_t body)
{
	const nrec_t *prev;

	if(dupd_n >= DUPD_MAX)
		return;
	prev = nring_find(cur->w, kind == 'd' ? cur->ver : -1);
	dupd[dupd_n].kind = kind;
	if(prev)
		dupd[dupd_n].a = *prev;
	else
		dupd[dupd_n].a.w = 0xffffffffu;
	dupd[dupd_n].b = *cur;
	dupd_n++;
	if(dupd_n <= 8)
		fprintf(stderr,
				"--- %s to w%u: version %d CSeq %u from port %u\n%.*s\n",
				kind == 'd' ? "duplicate" : "out of order", cur->w, cur->ver,
				cur->cseq, cur->port, body.len > 1500 ? 1500 : body.len,
				body.s);
}

static void nrec_json(FILE *f, const nrec_t *r)
{
	if(r->w == 0xffffffffu) {
		fprintf(f, "null");
		return;
	}
	fprintf(f,
			"{\"cseq\":%u,\"version\":%d,\"port\":%u,\"state\":\"%c\","
			"\"digest\":\"%08x\",\"ms\":%.3f}",
			r->cseq, r->ver, r->port, r->ss, r->digest, (double)r->rts / 1e6);
}

static void dupd_json(FILE *f)
{
	unsigned k;

	fprintf(f, ",\"dup_detail\":[");
	for(k = 0; k < dupd_n; k++) {
		fprintf(f, "%s{\"kind\":\"%s\",\"watcher\":%u,\"first\":", k ? "," : "",
				dupd[k].kind == 'd' ? "duplicate" : "out_of_order",
				dupd[k].b.w);
		nrec_json(f, &dupd[k].a);
		fprintf(f, ",\"then\":");
		nrec_json(f, &dupd[k].b);
		fprintf(f, "}");
	}
	fprintf(f, "]");
}

static void on_notify(int fd, const struct sockaddr_in *src, msg_t *m,
		int64_t rts)
{
	span_t u = uri_user(m->ruri), ent, ver;
	const char *b, *be, *ts, *te;
	char *e;
	long i;
	watcher_t *w;
	int news = 0, vnum = -1;
	char want[96];

	reply(fd, src, m, 200, "OK");
	if(u.len < 2 || u.s[0] != 'w') {
		st.unknown_watcher++;
		return;
	}
	i = strtol(u.s + 1, &e, 10);
	if(e != u.s + u.len || i < 0 || i >= C.subs) {
		st.unknown_watcher++;
		return;
	}
	w = &W[i];
	if(seen_add(&w->cseqs, m->cseq_n)) {
		st.retrans++;
		return;
	}
	if(m->sstate_v.len >= 10 && !strncasecmp(m->sstate_v.s, "terminated", 10)) {
		if(phase < PH_CALLS
				&& memfind(m->sstate_v.s, m->sstate_v.len, "deactivated")) {
			sub_again((uint32_t)i);
			return;
		}
		st.sub_terminated++;
	}
	b = m->body.s;
	be = b + m->body.len;
	ent = (span_t){NULL, 0};
	/* the version a subscription counts: dialog-info's, or for a list
	 * the RLMI <list version> (per subscription; each member's
	 * dialog-info version counts per member) */
	if(m->body.len && C.list) {
		if(xml_next(b, be, "list", &ts, &te)) {
			ver = xml_attr(ts, te, "version");
			if(ver.len)
				vnum = atoi(ver.s);
		}
	} else if(m->body.len && C.presence) {
		if(xml_next(b, be, "presence", &ts, &te))
			ent = xml_attr(ts, te, "entity");
	} else if(m->body.len && xml_next(b, be, "dialog-info", &ts, &te)) {
		ver = xml_attr(ts, te, "version");
		if(ver.len)
			vnum = atoi(ver.s);
		ent = xml_attr(ts, te, "entity");
	}

	if(!(w->flags & W_NOTIFIED)) { /* the subscription's initial NOTIFY */
		w->flags |= W_NOTIFIED;
		st.sub_notified++;
		if(vnum >= 0) {
			seen_add(&w->vers, (uint32_t)vnum);
			w->maxver = vnum;
		}
		if(!(w->flags & W_DONE))
			lat_push(&st.sub_lat, mono_ns() - w->t_sent, 0);
		sub_check((uint32_t)i);
		return;
	}
	if(phase < PH_CALLS) {
		st.notifies_sub_phase_extra++;
		/* a list's full state split over several NOTIFYs: its versions */
		if(vnum >= 0 && !seen_add(&w->vers, (uint32_t)vnum)
				&& vnum > w->maxver)
			w->maxver = vnum;
		return;
	}
	st.notifies++;
	if(C.dump > 0) {
		C.dump--;
		fprintf(stderr, "--- NOTIFY to w%ld (%s %u)\n%.*s\n", i,
				C.list ? "list" : "extension",
				C.list ? (unsigned)i : EXT_BASE + w->ext, m->body.len,
				m->body.s);
	}
	if(phase == PH_WAIT_END)
		st.late++;
	if(!m->body.len)
		st.no_body++;
	if(vnum >= 0) {
		nrec_t cur;
		char kind = 0;

		cur.w = (uint32_t)i;
		cur.cseq = m->cseq_n;
		cur.ver = vnum;
		cur.port = ntohs(src->sin_port);
		cur.ss = m->sstate_v.len ? (char)tolower((uint8_t)m->sstate_v.s[0])
								 : '-';
		cur.digest = body_digest(m->body);
		cur.rts = rts;
		if(seen_add(&w->vers, (uint32_t)vnum)) {
			st.dup_version++;
			kind = 'd';
		} else if(vnum < w->maxver) {
			st.out_of_order++;
			kind = 'o';
		}
		if(kind && nring)
			nring_note(kind, &cur, m->body);
		if(vnum > w->maxver)
			w->maxver = vnum;
		if(nring)
			nring[nring_n++ & (NRING - 1)] = cur;
	}
	snprintf(want, sizeof(want), "sip:%u@%s", EXT_BASE + w->ext, C.domain);
	if(ent.len && !span_eq(ent, want))
		st.entity_mismatch++;

	if(C.list) {
		/* multipart/related: RLMI, then one dialog-info (or PIDF) per
		 * changed member; each part's entity names the member */
		const char *ps = b, *pe;
		const char *tag = C.presence ? "presence" : "dialog-info";
		if(xml_next(b, be, "list", &ts, &te)) {
			span_t fs = xml_attr(ts, te, "fullState");
			if(span_eq(fs, "true"))
				st.list_full++;
		}
		while(ps < be && xml_next(ps, be, tag, &ps, &pe)) {
			const char *ns, *ne, *lim = be;
			long x = ent_ext(xml_attr(ps, pe, "entity"));
			st.list_parts++;
			if(xml_next(pe, be, tag, &ns, &ne))
				lim = ns;
			if(x < 0 || !list_has((uint32_t)i, (uint32_t)x))
				st.entity_mismatch++;
			else if(C.presence)
				news += pidf_scan(pe, lim, i, (uint32_t)x, (uint32_t)i,
						rts);
			else
				news += dlg_scan(pe, lim, i, (uint32_t)x, (uint32_t)i, rts);
			ps = pe;
		}
	} else if(C.presence) {
		news = pidf_scan(b, be, i, w->ext, (uint32_t)i / (uint32_t)C.exts,
				rts);
	} else {
		news = dlg_scan(b, be, i, w->ext, (uint32_t)i / (uint32_t)C.exts,
				rts);
	}
	if(!news)
		st.redundant++;
}

/* ------------------------------------------------------------------ */
/* calls                                                               */

static void call_release(uint32_t k, int ok)
{
	call_t *c = &calls[k];

	if(c->st == C_DONE || c->st == C_FAILED)
		return;
	c->st = ok ? C_DONE : C_FAILED;
	c->t_end = mono_ns();
	st.calls_t_end = c->t_end;
	ext_busy[c->a] = ext_busy[c->b] = 0;
	if(ok)
		st.calls_done++;
	else
		st.calls_failed++;
	free(c->uas_hdrs);
	c->uas_hdrs = NULL;
}

/* a state change the phones just caused: NOTIFYs now expected */
static void call_mark(call_t *c, int s)
{
	if(c->ts[s])
		return;
	c->ts[s] = real_ns();
	st.expected[s] += ext_est[c->a] + ext_est[c->b];
	if(nproxy > 1 && proxy_down[c->px])
		c->down_marks |= (uint8_t)(1u << s);
}

static int call_start(void)
{
	uint32_t k, a = 0, b = 0;
	int tries;
	call_t *c;

	for(tries = 0; tries < 64; tries++) {
		a = (uint32_t)(rng() % (uint64_t)C.exts);
		b = (uint32_t)(rng() % (uint64_t)C.exts);
		if(a != b && !ext_busy[a] && !ext_busy[b])
			break;
	}
	if(tries == 64) {
		st.calls_skipped++;
		return -1;
	}
	if(ncalls == calls_cap) {
		calls_cap = calls_cap ? calls_cap * 2 : 1024;
		calls = realloc(calls, calls_cap * sizeof(*calls));
		if(!calls) {
			perror("realloc");
			exit(2);
		}
	}
	k = ncalls++;
	c = &calls[k];
	memset(c, 0, sizeof(*c));
	c->a = a;
	c->b = b;
	c->seen = calloc((size_t)2 * NSTATE * wmax, 1);
	if(!c->seen) {
		perror("calloc");
		exit(2);
	}
	ext_busy[a] = ext_busy[b] = 1;
	ext_call[a] = ext_call[b] = k + 1;
	c->px = (uint8_t)(k % (uint32_t)nproxy);
	for(tries = 0; tries < nproxy && proxy_down[c->px]; tries++)
		c->px = (uint8_t)((c->px + 1) % nproxy);
	c->st = C_INVITING;
	st.calls_started++;
	call_mark(c, ST_TRYING);
	inv_send(k);
	tmr_add(mono_ns() + 500 * MS, T_INV_RTX, k);
	tmr_add(mono_ns() + (C.ring_ms + C.hold_ms + 64000LL) * MS, T_CALL_GUARD,
			k);
	return 0;
}

static char *dupspan(span_t s)
{
	char *r = malloc((size_t)s.len + 1);
	if(!r) {
		perror("malloc");
		exit(2);
	}
	memcpy(r, s.s, s.len);
	r[s.len] = 0;
	return r;
}

/* "Route: " + the Record-Route entries of the 200, last first */
static char *route_set(msg_t *m)
{
	span_t ent[64];
	int n = 0, i, depth;
	size_t sz = 16;
	char *r, *p;

	for(i = 0; i < m->nrr; i++) {
		const char *s = memchr(m->rr[i].s, ':', m->rr[i].len) + 1;
		const char *e = m->rr[i].s + m->rr[i].len, *q, *start;
		depth = 0;
		for(start = q = s; q <= e; q++) {
			if(q < e && *q == '<')
				depth++;
			else if(q < e && *q == '>')
				depth--;
			if((q == e || (*q == ',' && !depth)) && n < 64) {
				while(start < q && *start == ' ')
					start++;
				ent[n++] = (span_t){start, (int)(q - start)};
				start = q + 1;
			}
		}
	}
	for(i = 0; i < n; i++)
		sz += (size_t)ent[i].len + 2;
	p = r = malloc(sz + 16);
	if(!r) {
		perror("malloc");
		exit(2);
	}
	*p = 0;
	if(!n)
		return r;
	p += sprintf(p, "Route: ");
	for(i = n - 1; i >= 0; i--)
		p += sprintf(p, "%.*s%s", ent[i].len, ent[i].s, i ? ", " : "\r\n");
	return r;
}

static void on_pub_reply(msg_t *m)
{
	long e = our_id(m->callid_v.s, m->callid_v.len, 'p');

	if(e < 0 || e >= C.exts || m->code < 200 || pub_tries[e] == 255)
		return;
	pub_tries[e] = 255;
	pub_settled++;
	st.pub_t_last = mono_ns();
	if(m->code < 300)
		st.pub_2xx++;
	else
		st.pub_err++;
}

static void on_phone(const struct sockaddr_in *src, msg_t *m)
{
	long k = our_id(m->callid_v.s, m->callid_v.len, 'c');
	call_t *c;
	int i;

	if(!m->is_req && span_eq(m->cseq_m, "PUBLISH")) {
		on_pub_reply(m);
		return;
	}

	if(k < 0 || (uint32_t)k >= ncalls) {
		if(m->is_req && !span_eq(m->method, "ACK"))
			reply(phone_sock, src, m, 481, "Call Does Not Exist");
		return;
	}
	c = &calls[k];
	if(m->is_req) {
		if(span_eq(m->method, "INVITE")) { /* the callee's phone */
			if(c->ust == U_NONE) {
				olen = 0;
				for(i = 0; i < m->nvia; i++)
					out_span(m->via[i]);
				for(i = 0; i < m->nrr; i++)
					out_span(m->rr[i]);
				out_span(m->from);
				out("%.*s;tag=t%ld\r\n", m->to.len, m->to.s, k);
				out_span(m->callid);
				out_span(m->cseq);
				c->uas_hdrs = dupspan((span_t){obuf, olen});
				olen = 0;
				c->ust = U_RINGING;
				call_mark(c, ST_EARLY);
				uas_send((uint32_t)k, 180);
				tmr_add(mono_ns() + C.ring_ms * MS, T_UAS_200, (uint32_t)k);
			} else if(c->uas_hdrs) {
				uas_send((uint32_t)k, c->ust == U_RINGING ? 180 : 200);
			}
		} else if(span_eq(m->method, "ACK")) {
			if(c->ust == U_200)
				c->ust = U_ACKED;
		} else if(span_eq(m->method, "BYE")) {
			reply(phone_sock, src, m, 200, "OK");
			c->ust = U_BYE;
		} else {
			reply(phone_sock, src, m, 405, "Method Not Allowed");
		}
		return;
	}
	/* responses reach the caller's phone */
	if(span_eq(m->cseq_m, "INVITE")) {
		if(m->code < 200) {
			c->got_prov = 1;
			if(m->code > 100 && c->st == C_INVITING)
				c->st = C_RINGING;
		} else if(m->code < 300) {
			if(c->st == C_INVITING || c->st == C_RINGING) {
				c->route = route_set(m);
				c->target = dupspan(uri_of(m->contact_v));
				c->to_v = dupspan(m->to_v);
				c->st = C_CONFIRMED;
				indlg_send((uint32_t)k, "ACK", 1);
				tmr_add(mono_ns() + C.hold_ms * MS, T_BYE, (uint32_t)k);
			} else if(c->target) {
				indlg_send((uint32_t)k, "ACK", 1); /* 200 retransmitted */
			}
		} else if(c->st == C_INVITING || c->st == C_RINGING) {
			/* negative final: ACK hop-by-hop, same branch */
			olen = 0;
			out("ACK sip:%u@%s SIP/2.0\r\n", EXT_BASE + c->b, C.domain);
			out_span(m->via[0]);
			out("Max-Forwards: 70\r\n");
			out_span(m->from);
			out_span(m->to);
			out_span(m->callid);
			out("CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
			send_to(phone_sock, call_dest(c));
			call_release((uint32_t)k, 0);
		}
	} else if(span_eq(m->cseq_m, "BYE") && m->code >= 200) {
		call_release((uint32_t)k, m->code < 300);
	}
}

static void on_timer(tmr_t t)
{
	call_t *c;
	watcher_t *w;
	int64_t now = mono_ns();

	switch(t.kind) {
		case T_SUB_RTX:
			w = &W[t.idx];
			if(w->flags & (W_2XX | W_DONE) || w->tries >= 100)
				break;
			if(w->tries >= 7) {
				st.sub_fail_timeout++;
				sub_settle(t.idx, 0);
				break;
			}
			st.sub_rtx++;
			sub_send(t.idx);
			tmr_add(now + (500LL << w->tries) * MS, T_SUB_RTX, t.idx);
			w->tries++;
			break;
		case T_INV_RTX:
			c = &calls[t.idx];
			if(c->st != C_INVITING || c->got_prov)
				break;
			if(++c->inv_tries >= 7) {
				call_release(t.idx, 0);
				break;
			}
			st.inv_rtx++;
			inv_send(t.idx);
			tmr_add(now + (500LL << c->inv_tries) * MS, T_INV_RTX, t.idx);
			break;
		case T_UAS_200:
			c = &calls[t.idx];
			if(c->ust != U_RINGING || !c->uas_hdrs)
				break;
			c->ust = U_200;
			call_mark(c, ST_CONFIRMED);
			uas_send(t.idx, 200);
			tmr_add(now + 500 * MS, T_UAS_200_RTX, t.idx);
			break;
		case T_UAS_200_RTX:
			c = &calls[t.idx];
			if(c->ust != U_200 || !c->uas_hdrs || ++c->u200_tries >= 7)
				break;
			uas_send(t.idx, 200);
			tmr_add(now + (500LL << c->u200_tries) * MS, T_UAS_200_RTX,
					t.idx);
			break;
		case T_BYE:
			c = &calls[t.idx];
			if(c->st != C_CONFIRMED)
				break;
			c->st = C_BYE;
			call_mark(c, ST_TERMINATED);
			indlg_send(t.idx, "BYE", 2);
			tmr_add(now + 500 * MS, T_BYE_RTX, t.idx);
			break;
		case T_BYE_RTX:
			c = &calls[t.idx];
			if(c->st != C_BYE)
				break;
			if(++c->bye_tries >= 7) {
				call_release(t.idx, 0);
				break;
			}
			st.bye_rtx++;
			indlg_send(t.idx, "BYE", 2);
			tmr_add(now + (500LL << c->bye_tries) * MS, T_BYE_RTX, t.idx);
			break;
		case T_CALL_GUARD:
			call_release(t.idx, 0);
			break;
		case T_FLOOR_BURST:
			floor_burst(t.idx);
			break;
		case T_PUB_RTX:
			if(pub_tries[t.idx] == 255)
				break;
			if(++pub_tries[t.idx] >= 7) { /* no answer: failed */
				pub_tries[t.idx] = 255;
				pub_settled++;
				st.pub_err++;
				break;
			}
			st.pub_rtx++;
			pub_send(t.idx);
			tmr_add(now + (500LL << pub_tries[t.idx]) * MS, T_PUB_RTX, t.idx);
			break;
	}
}

/* ------------------------------------------------------------------ */
/* floor mode (--floor-notifies): what Kamailio costs per message       */

/*
 * The floor side of the benchmark: a Kamailio that answers every request
 * with a stateless 200 (bench/floor.cfg) gets as many NOTIFY-sized requests
 * as the blf side delivered NOTIFYs, on the same schedule: the same number
 * of calls at the same rate, each with its four events (trying, early,
 * confirmed after RING_MS, terminated after HOLD_MS more), each event one
 * burst with one request per watcher. One receive, one parse and one send
 * per message is the least any module can spend on a NOTIFY and its answer.
 */
#define FLOOR_EVENTS 4

static struct {
	uint64_t msgs;	  /* requests in all */
	uint32_t calls;	  /* spread over this many calls, at C.rate */
	int bytes;		  /* size of each request (the blf side's mean) */
	uint64_t sent, answered, other;
	int64_t *burst_t; /* realtime ns each burst went out */
	lat_t lat;		  /* request sent -> 200 received */
} F;

static void floor_burst(uint32_t b)
{
	uint64_t nb = (uint64_t)F.calls * FLOOR_EVENTS;
	uint64_t n = F.msgs / nb + ((uint64_t)b < F.msgs % nb), j;
	int hlen, blen, pad;
	char body[16384];
	static const char head[] =
			"<?xml version=\"1.0\"?>\n<dialog-info xmlns=\"urn:ietf:params:"
			"xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"sip:"
			"100001@bench.local\">\n<dialog id=\"0123456789abcdef\" "
			"call-id=\"floor@bench\" local-tag=\"l\" remote-tag=\"r\" "
			"direction=\"recipient\"><state>confirmed</state></dialog>\n";
	static const char tail[] = "</dialog-info>\n";

	F.burst_t[b] = real_ns();
	for(j = 0; j < n; j++) {
		uint32_t w = (uint32_t)((b * 7919u + j) % (uint64_t)C.subs);
		olen = 0;
		out("NOTIFY sip:w%u@127.0.0.1:%d SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKfl.%u.%lu.%s\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:%u@%s>;tag=%08x%08x\r\n"
			"To: <sip:w%u@%s>;tag=w%u\r\n"
			"Call-ID: f%u-%lu-%s@bench\r\n"
			"CSeq: %lu NOTIFY\r\n"
			"Contact: <sip:127.0.0.1:%d>\r\n"
			"Event: dialog\r\n"
			"Subscription-State: active;expires=3600\r\n"
			"Content-Type: application/dialog-info+xml\r\n",
				w, wport(w), wport(w), b, (unsigned long)j, run_id,
				EXT_BASE + w % (uint32_t)C.exts, C.domain, b, (unsigned)j, w,
				C.domain, w, b, (unsigned long)j, run_id,
				(unsigned long)(b + 2), C.proxy_port);
		hlen = olen + 24; /* + Content-Length line and the blank line */
		pad = F.bytes - hlen - (int)(sizeof(head) - 1) - (int)(sizeof(tail) - 1);
		if(pad < 0)
			pad = 0;
		if(pad > (int)sizeof(body) - 512)
			pad = (int)sizeof(body) - 512;
		blen = snprintf(body, sizeof(body), "%s%*s%s", head, pad, "", tail);
		out("Content-Length: %d\r\n\r\n%s", blen, body);
		send_to(fds[w % (uint32_t)C.nsock], &proxy_addr);
		F.sent++;
	}
}

/* an answer to one of our requests */
static void floor_packet(const msg_t *m, int64_t rts)
{
	char *e;
	unsigned long b;

	if(m->is_req || m->code != 200 || m->callid_v.len < 2
			|| m->callid_v.s[0] != 'f') {
		F.other++;
		return;
	}
	b = strtoul(m->callid_v.s + 1, &e, 10);
	if(*e != '-' || b >= (unsigned long)F.calls * FLOOR_EVENTS) {
		F.other++;
		return;
	}
	F.answered++;
	lat_push(&st.lat, rts - F.burst_t[b], 0);
}

static void floor_json(FILE *f)
{
	fprintf(f,
			"{\"messages\":%lu,\"sent\":%lu,\"answered\":%lu,\"lost\":%lu,"
			"\"other\":%lu,\"calls\":%u,\"bursts\":%lu,\"bytes\":%d,"
			"\"send_errors\":%lu,\"latency_ms\":",
			F.msgs, F.sent, F.answered,
			F.sent > F.answered ? F.sent - F.answered : 0, F.other, F.calls,
			(unsigned long)F.calls * FLOOR_EVENTS, F.bytes, st.send_err);
	lat_json(f, &st.lat, 1);
	fprintf(f, "}");
}

/* ------------------------------------------------------------------ */
/* receiving                                                           */

#define BATCH 32
#define RBUF 65536
static char rbuf[BATCH][RBUF];
static char rctl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
static struct sockaddr_in rsrc[BATCH];
static struct iovec riov[BATCH];
static struct mmsghdr rmsg[BATCH];

static void on_packet(int si, char *buf, int len, const struct sockaddr_in *src,
		int64_t rts)
{
	msg_t m;
	int fd = fds[si];

	st.rx_msgs++;
	if(sip_parse(buf, len, &m) < 0 || !m.callid.len || !m.cseq.len) {
		st.rx_bad++;
		return;
	}
	if(F.msgs) {
		floor_packet(&m, rts);
		return;
	}
	if(fd == phone_sock) {
		on_phone(src, &m);
		return;
	}
	if(m.is_req) {
		if(span_eq(m.method, "NOTIFY")) {
			if(phase >= PH_CALLS)
				st.notify_bytes += (uint64_t)len;
			on_notify(fd, src, &m, rts);
		}
		else if(!span_eq(m.method, "ACK"))
			reply(fd, src, &m, 405, "Method Not Allowed");
		return;
	}
	if(span_eq(m.cseq_m, "SUBSCRIBE"))
		on_sub_reply(&m);
}

static void drain(int si)
{
	int n, i;
	struct cmsghdr *cm;

	for(int rounds = 0; rounds < 64; rounds++) { /* bounded per wakeup */
		for(i = 0; i < BATCH; i++) {
			riov[i] = (struct iovec){rbuf[i], RBUF - 1};
			rmsg[i].msg_hdr = (struct msghdr){.msg_name = &rsrc[i],
					.msg_namelen = sizeof(rsrc[i]),
					.msg_iov = &riov[i],
					.msg_iovlen = 1,
					.msg_control = rctl[i],
					.msg_controllen = sizeof(rctl[i])};
		}
		n = recvmmsg(fds[si], rmsg, BATCH, MSG_DONTWAIT, NULL);
		if(n <= 0)
			return;
		for(i = 0; i < n; i++) {
			int64_t rts = 0;
			for(cm = CMSG_FIRSTHDR(&rmsg[i].msg_hdr); cm;
					cm = CMSG_NXTHDR(&rmsg[i].msg_hdr, cm)) {
				if(cm->cmsg_level == SOL_SOCKET
						&& cm->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec t;
					memcpy(&t, CMSG_DATA(cm), sizeof(t));
					rts = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
				}
			}
			if(!rts)
				rts = real_ns();
			rbuf[i][rmsg[i].msg_len] = 0;
			on_packet(si, rbuf[i], (int)rmsg[i].msg_len, &rsrc[i], rts);
		}
		if(n < BATCH)
			return;
	}
}

static int udp_open(int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), one = 1;
	int sz = 16 * 1024 * 1024;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	if(fd < 0) {
		perror("socket");
		exit(2);
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if(setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if(bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "blfgen: bind 127.0.0.1:%d: %s\n", port,
				strerror(errno));
		exit(2);
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* reporting                                                           */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* percentiles in ms of the latencies whose state is in `mask` */
static void lat_json(FILE *f, lat_t *l, unsigned mask)
{
	uint64_t *v = malloc((l->n + 1) * sizeof(*v));
	size_t n = 0, i;
	double sum = 0;

	if(!v) {
		perror("malloc");
		exit(2);
	}
	for(i = 0; i < l->n; i++)
		if(mask & (1u << (l->v[i] & 3))) {
			v[n] = l->v[i] >> 2;
			sum += (double)v[n];
			n++;
		}
	qsort(v, n, sizeof(*v), cmp_u64);
#define PCT(p) (n ? (double)v[(size_t)((double)(n - 1) * (p) + 0.5)] / 1000 : 0)
	fprintf(f,
			"{\"count\":%zu,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,"
			"\"max\":%.3f,\"mean\":%.3f}",
			n, PCT(0.50), PCT(0.95), PCT(0.99),
			n ? (double)v[n - 1] / 1000 : 0, n ? sum / (double)n / 1000 : 0);
#undef PCT
	free(v);
}

static void subs_json(FILE *f)
{
	double dur = st.sub_t_last > st.sub_t0
						 ? (double)(st.sub_t_last - st.sub_t0) / 1e9
						 : 0;
	fprintf(f,
			"{\"requested\":%d,\"established\":%lu,\"failed\":%lu,"
			"\"failed_timeout\":%lu,\"failed_error_reply\":%lu,"
			"\"got_2xx\":%lu,\"got_initial_notify\":%lu,"
			"\"retransmissions\":%lu,\"deactivated_again\":%lu,"
			"\"duration_s\":%.3f,"
			"\"rate_per_s\":%.1f,\"notify_latency_ms\":",
			C.subs, st.sub_est, st.sub_failed, st.sub_fail_timeout,
			st.sub_fail_code, st.sub_2xx, st.sub_notified, st.sub_rtx,
			st.sub_again, dur,
			dur > 0 ? (double)st.sub_est / dur : 0);
	lat_json(f, &st.sub_lat, 1);
	fprintf(f, "}");
}

/*
 * Of the lost NOTIFYs, those of states a phone caused through a cluster
 * node already down (a 200 or BYE of a call that went through the killed
 * node): no live node ever saw that change, so no node could notify it;
 * and, for a call with such a state, NOTIFYs that came before the phone's
 * change (the survivors end the dead node's calls at the takeover, before
 * its phones hang up), which are not counted as deliveries.
 * Established watchers of a single extension only (not --list).
 */
static uint64_t lost_via_down_node(void)
{
	uint64_t n = 0;
	uint32_t k, sl, ext;
	int role, s;

	if(C.list)
		return 0;
	for(k = 0; k < ncalls; k++) {
		call_t *c = &calls[k];
		if(!c->down_marks || !c->seen)
			continue;
		for(role = 0; role < 2; role++)
			for(s = ST_EARLY; s < NSTATE; s++) {
				/* a NOTIFY before the phone's change is not a delivery:
				 * the survivors end the dead node's calls at the
				 * takeover, before their phones hang up (any state) */
				if(role == 0)
					n += c->early_n[s];
				if(!(c->down_marks & (1u << s)))
					continue;
				ext = role ? c->b : c->a;
				for(sl = 0; sl < wmax; sl++) {
					uint64_t wi = (uint64_t)sl * (uint32_t)C.exts + ext;
					if(wi >= (uint64_t)C.subs)
						break;
					if(!(W[wi].flags & W_DONE) || (W[wi].flags & W_FAILED))
						continue;
					if(!c->seen[((uint32_t)role * NSTATE + (uint32_t)s) * wmax
								+ sl])
						n++;
				}
			}
	}
	return n;
}

/* versions never received between a subscription's lowest and highest
 * (RFC 4235: +1 per NOTIFY; a gap is a NOTIFY lost or a version skipped) */
static uint64_t version_gaps(void)
{
	uint64_t gaps = 0;
	uint32_t i, b;
	int64_t lo, hi, n;

	for(i = 0; i < (uint32_t)C.subs; i++) {
		seen_t *v = &W[i].vers;
		lo = -1;
		hi = -1;
		n = 0;
		for(b = 0; b < v->nbytes * 8; b++)
			if((v->bits[b / 8] >> (b % 8)) & 1) {
				if(lo < 0)
					lo = b;
				hi = b;
				n++;
			}
		if(n)
			gaps += (uint64_t)(hi - lo + 1 - n);
	}
	return gaps;
}

static void pub_json(FILE *f)
{
	fprintf(f,
			"{\"requested\":%d,\"accepted\":%lu,\"failed\":%lu,"
			"\"retransmissions\":%lu,\"duration_s\":%.3f}",
			C.exts, st.pub_2xx, st.pub_err, st.pub_rtx,
			st.pub_t_last > st.pub_t0
					? (double)(st.pub_t_last - st.pub_t0) / 1e9
					: 0);
}

static void calls_json(FILE *f)
{
	uint64_t exp = 0, del = 0;
	int s;

	for(s = ST_EARLY; s < NSTATE; s++) {
		exp += st.expected[s];
		del += st.delivered[s];
	}
	fprintf(f,
			"{\"calls\":{\"started\":%lu,\"completed\":%lu,\"failed\":%lu,"
			"\"skipped_busy\":%lu,\"invite_retransmissions\":%lu,"
			"\"bye_retransmissions\":%lu,\"duration_s\":%.3f},",
			st.calls_started, st.calls_done, st.calls_failed,
			st.calls_skipped, st.inv_rtx, st.bye_rtx,
			st.calls_t_end > st.calls_t0
					? (double)(st.calls_t_end - st.calls_t0) / 1e9
					: 0);
	fprintf(f,
			"\"notify\":{\"expected\":%lu,\"delivered\":%lu,\"lost\":%lu,"
			"\"lost_via_down_node\":%lu,"
			"\"received\":%lu,\"duplicates\":%lu,\"retransmissions\":%lu,"
			"\"out_of_order\":%lu,\"version_gaps\":%lu,\"redundant\":%lu,"
			"\"trying_delivered\":%lu,\"trying_expected\":%lu,"
			"\"foreign\":%lu,\"unmatched_dialogs\":%lu,"
			"\"unknown_state\":%lu,\"entity_mismatch\":%lu,"
			"\"subscription_terminated\":%lu,\"unknown_watcher\":%lu,"
			"\"no_body\":%lu,\"late\":%lu,\"before_change\":%lu,"
			"\"sub_phase_extra\":%lu,\"by_state\":{",
			exp, del, exp > del ? exp - del : 0, lost_via_down_node(),
			st.notifies, st.dup_version,
			st.retrans, st.out_of_order, version_gaps(), st.redundant,
			st.delivered[ST_TRYING], st.expected[ST_TRYING], st.foreign,
			st.unmatched, st.unknown_state, st.entity_mismatch,
			st.sub_terminated, st.unknown_watcher, st.no_body, st.late,
			st.before_change, st.notifies_sub_phase_extra);
	for(s = ST_EARLY; s < NSTATE; s++)
		fprintf(f, "%s\"%s\":{\"expected\":%lu,\"delivered\":%lu}",
				s > ST_EARLY ? "," : "", state_name[s], st.expected[s],
				st.delivered[s]);
	fprintf(f, "}},\"latency_ms\":");
	lat_json(f, &st.lat, 0xe);
	fprintf(f, ",\"latency_by_state_ms\":{");
	for(s = 0; s < NSTATE; s++) {
		fprintf(f, "%s\"%s\":", s ? "," : "", state_name[s]);
		lat_json(f, &st.lat, 1u << s);
	}
	fprintf(f,
			"},\"notify_bytes\":%lu,\"send_errors\":%lu,\"rx_msgs\":%lu,"
			"\"rx_bad\":%lu",
			st.notify_bytes, st.send_err, st.rx_msgs, st.rx_bad);
	if(C.presence)
		fprintf(f, ",\"pidf_invalid\":%lu", st.pidf_invalid);
	if(C.list)
		fprintf(f, ",\"list_full_state_notifies\":%lu,\"list_parts\":%lu",
				st.list_full, st.list_parts);
	dupd_json(f);
	fprintf(f, "}");
}

/* ------------------------------------------------------------------ */
/* main loop                                                           */

static int epfd;
static char inbuf[256];
static int inlen;

/* reads control lines; returns the last complete one in *line, -1 on EOF */
static int stdin_line(char *line, size_t sz)
{
	ssize_t n = read(0, inbuf + inlen, sizeof(inbuf) - 1 - inlen);
	char *nl;

	if(n == 0)
		return -1;
	if(n < 0)
		return errno == EAGAIN ? 0 : -1;
	inlen += (int)n;
	inbuf[inlen] = 0;
	nl = strchr(inbuf, '\n');
	if(!nl) {
		if(inlen >= (int)sizeof(inbuf) - 1)
			inlen = 0;
		return 0;
	}
	*nl = 0;
	snprintf(line, sz, "%s", inbuf);
	memmove(inbuf, nl + 1, inlen - (nl + 1 - inbuf) + 1);
	inlen -= (int)(nl + 1 - inbuf);
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
			"usage: blfgen --proxy-port P --port-base B [--sockets K]\n"
			"  [--subs S] [--exts M] [--rate R] [--duration T]\n"
			"  [--ring-ms MS] [--hold-ms MS] [--domain D] [--window N]\n"
			"  [--sub-rate N] [--expires S] [--settle-ms MS] [--seed N]\n"
			"  [--dump N] [--proxy-ports P1,P2,...]\n"
			"  [--event dialog|presence] [--list N] [--publish] [--vip]\n"
			"  floor mode: --floor-notifies N --floor-calls C [--floor-bytes B]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"proxy-port", 1, 0, 'P'},
			{"port-base", 1, 0, 'B'}, {"sockets", 1, 0, 'K'},
			{"subs", 1, 0, 'S'}, {"exts", 1, 0, 'M'}, {"rate", 1, 0, 'R'},
			{"duration", 1, 0, 'T'}, {"ring-ms", 1, 0, 'r'},
			{"hold-ms", 1, 0, 'h'}, {"domain", 1, 0, 'd'},
			{"window", 1, 0, 'w'}, {"sub-rate", 1, 0, 's'},
			{"expires", 1, 0, 'e'}, {"settle-ms", 1, 0, 'z'},
			{"seed", 1, 0, 'x'}, {"dump", 1, 0, 'D'},
			{"floor-notifies", 1, 0, 'N'}, {"floor-calls", 1, 0, 'C'},
			{"floor-bytes", 1, 0, 'Y'}, {"proxy-ports", 1, 0, 'X'},
			{"event", 1, 0, 'E'}, {"list", 1, 0, 'L'},
			{"publish", 0, 0, 'U'}, {"vip", 0, 0, 'V'},
			{0, 0, 0, 0}};
	int o, i, n;
	uint32_t k;
	struct epoll_event ev, evs[64];
	int64_t now, next_call = 0, calls_stop = 0, calls_hard = 0,
				 settle_until = 0, sub_next_t = 0;
	uint64_t planned = 0;
	char line[256];

	while((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch(o) {
			case 'P': C.proxy_port = atoi(optarg); break;
			case 'B': C.port_base = atoi(optarg); break;
			case 'K': C.nsock = atoi(optarg); break;
			case 'S': C.subs = atoi(optarg); break;
			case 'M': C.exts = atoi(optarg); break;
			case 'R': C.rate = atof(optarg); break;
			case 'T': C.duration = atof(optarg); break;
			case 'r': C.ring_ms = atoi(optarg); break;
			case 'h': C.hold_ms = atoi(optarg); break;
			case 'd': C.domain = optarg; break;
			case 'w': C.window = atoi(optarg); break;
			case 's': C.sub_rate = atof(optarg); break;
			case 'e': C.expires = atoi(optarg); break;
			case 'z': C.settle_ms = atoi(optarg); break;
			case 'x': C.seed = strtoull(optarg, NULL, 10); break;
			case 'D': C.dump = atoi(optarg); break;
			case 'N': F.msgs = strtoull(optarg, NULL, 10); break;
			case 'C': F.calls = (uint32_t)atoi(optarg); break;
			case 'Y': F.bytes = atoi(optarg); break;
			case 'E':
				if(!strcmp(optarg, "presence"))
					C.presence = 1;
				else if(strcmp(optarg, "dialog"))
					usage();
				break;
			case 'L': C.list = atoi(optarg); break;
			case 'U': C.publish = 1; break;
			case 'V': C.vip = 1; break;
			case 'X': {
				char *p = optarg, *e;
				nproxy = 0;
				while(*p && nproxy < MAXPROXY) {
					proxy_addrs[nproxy++].sin_port =
							htons((uint16_t)strtoul(p, &e, 10));
					p = *e == ',' ? e + 1 : e;
					if(e == p && *p)
						usage();
				}
				if(nproxy)
					C.proxy_port = ntohs(proxy_addrs[0].sin_port);
				else
					usage();
				break;
			}
			default: usage();
		}
	}
	if(C.subs < 1 || C.exts < 2 || C.nsock < 1 || C.nsock > 60
			|| C.window < 1 || C.rate <= 0 || C.duration < 0
			|| (F.msgs && (F.calls < 1 || F.calls > 10000000))
			|| C.list < 0 || C.list > C.exts)
		usage();
	if(F.bytes < 300)
		F.bytes = 900;

	rng_state = C.seed * 2654435761ULL + 88172645463325252ULL;
	snprintf(run_id, sizeof(run_id), "%06llx",
			(unsigned long long)(rng() & 0xffffff));
	wmax = ((uint32_t)C.subs + (uint32_t)C.exts - 1) / (uint32_t)C.exts;
	if(C.list) /* a list subscription's marks are indexed by itself */
		wmax = (uint32_t)C.subs;
	W = calloc((size_t)C.subs, sizeof(*W));
	ext_est = calloc((size_t)C.exts, sizeof(*ext_est));
	ext_busy = calloc((size_t)C.exts, 1);
	ext_call = calloc((size_t)C.exts, sizeof(*ext_call));
	pub_tries = calloc((size_t)C.exts, 1);
	nring = malloc(NRING * sizeof(*nring)); /* NULL: no dup_detail */
	if(!W || !ext_est || !ext_busy || !ext_call || !pub_tries) {
		perror("calloc");
		return 2;
	}
	for(k = 0; k < (uint32_t)C.subs; k++) {
		W[k].ext = k % (uint32_t)C.exts;
		W[k].maxver = -1;
	}

	if(nproxy == 1)
		proxy_addrs[0].sin_port = htons(C.proxy_port);
	for(i = 0; i < nproxy; i++) {
		proxy_addrs[i].sin_family = AF_INET;
		proxy_addrs[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	epfd = epoll_create1(0);
	for(i = 0; i <= C.nsock; i++) {
		fds[i] = udp_open(C.port_base + i);
		ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = i};
		epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &ev);
	}
	phone_sock = fds[C.nsock];
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = 1000};
	epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("READY run=%s\n", run_id);

	phase = PH_WAIT_START;
	for(;;) {
		int timeout = 50;

		now = mono_ns();
		/* phase work */
		if(phase == PH_PUB) {
			/* PUBLISHes, WINDOW in flight; done when all answered */
			while(pub_next < (uint32_t)C.exts
					&& pub_next - pub_settled < (uint32_t)C.window) {
				st.pub_sent++;
				pub_send(pub_next);
				tmr_add(now + 500 * MS, T_PUB_RTX, pub_next);
				pub_next++;
			}
			if(pub_settled >= (uint32_t)C.exts) {
				printf("PUB_DONE ");
				pub_json(stdout);
				printf("\n");
				phase = PH_WAIT_START;
			}
		} else if(phase == PH_SUBS) {
			while(sub_next < (uint32_t)C.subs
					&& sub_inflight < (uint32_t)C.window
					&& (C.sub_rate <= 0 || now >= sub_next_t)) {
				watcher_t *w = &W[sub_next];
				w->flags |= W_SENT;
				w->t_sent = now;
				sub_inflight++;
				st.sub_sent++;
				sub_send(sub_next);
				tmr_add(now + 500 * MS, T_SUB_RTX, sub_next);
				sub_next++;
				if(C.sub_rate > 0)
					sub_next_t = (sub_next_t ? sub_next_t : now)
								 + (int64_t)(1e9 / C.sub_rate);
			}
			/* done when all settled; a 2xx without its NOTIFY for 40 s,
			 * or no progress at all for 40 s, counts as failed */
			/* (lists: 1.5 s quiet too, for what blf ends "deactivated"
			 * once the list service answered: subscribed again) */
			if((sub_settled == (uint32_t)C.subs
					   && (!C.list || now - sub_last_progress > 1500 * MS))
					|| now - sub_last_progress > 40000 * MS) {
				for(k = 0; k < sub_next; k++)
					if(!(W[k].flags & W_DONE)) {
						st.sub_fail_timeout++;
						sub_settle(k, 0);
					}
				printf("SUBS_DONE ");
				subs_json(stdout);
				printf("\n");
				phase = PH_WAIT_GO;
			}
		} else if(phase == PH_CALLS && F.msgs) {
			/* floor: done when every burst is out and answered, or
			 * settle_ms after the last one */
			if(!heap_n && F.answered >= F.sent) {
				settle_until = now;
			} else if(!heap_n && !settle_until) {
				settle_until = now + C.settle_ms * MS;
			}
			if(settle_until && now >= settle_until) {
				printf("FLOOR_DONE ");
				floor_json(stdout);
				printf("\n");
				phase = PH_WAIT_END;
			}
		} else if(phase == PH_CALLS) {
			while(now >= next_call && now < calls_stop) {
				call_start();
				planned++;
				next_call = st.calls_t0
							+ (int64_t)((double)planned * 1e9 / C.rate);
			}
			if(now >= calls_stop
					&& st.calls_done + st.calls_failed >= st.calls_started) {
				uint64_t exp = 0, del = 0;
				for(i = ST_EARLY; i < NSTATE; i++) {
					exp += st.expected[i];
					del += st.delivered[i];
				}
				if(!settle_until)
					settle_until = now + C.settle_ms * MS;
				if(del >= exp || now >= settle_until || now >= calls_hard) {
					printf("CALLS_DONE ");
					calls_json(stdout);
					printf("\n");
					phase = PH_WAIT_END;
				}
			} else if(now >= calls_hard) {
				for(k = 0; k < ncalls; k++)
					call_release(k, 0);
			}
		}

		/* timers */
		while(heap_n && heap[0].due <= now)
			on_timer(tmr_pop());
		if(heap_n) {
			int64_t d = (heap[0].due - now) / MS + 1;
			if(d < timeout)
				timeout = (int)d;
		}
		if(phase == PH_CALLS && next_call > now
				&& (next_call - now) / MS < timeout)
			timeout = (int)((next_call - now) / MS);
		if(phase == PH_SUBS && sub_next < (uint32_t)C.subs
				&& sub_inflight < (uint32_t)C.window)
			timeout = C.sub_rate > 0 ? 1 : 0;

		n = epoll_wait(epfd, evs, 64, timeout);
		for(i = 0; i < n; i++) {
			if(evs[i].data.u32 == 1000) {
				int r;
				while((r = stdin_line(line, sizeof(line))) > 0) {
					if(!strcmp(line, "PUBLISH") && phase == PH_WAIT_START
							&& !F.msgs) {
						/* before START: one PUBLISH per extension */
						phase = PH_PUB;
						st.pub_t0 = mono_ns();
					} else if(!strcmp(line, "START")
							   && phase == PH_WAIT_START) {
						phase = PH_SUBS;
						st.sub_t0 = sub_last_progress = mono_ns();
					} else if(!strcmp(line, "GO") && F.msgs
							   && phase == PH_WAIT_START) {
						/* floor mode: every burst on the calls' schedule */
						int64_t t0 = mono_ns();
						F.burst_t = calloc((size_t)F.calls * FLOOR_EVENTS,
								sizeof(*F.burst_t));
						if(!F.burst_t) {
							perror("calloc");
							return 2;
						}
						for(k = 0; k < F.calls; k++) {
							int64_t tc = t0
										 + (int64_t)((double)k * 1e9 / C.rate);
							tmr_add(tc, T_FLOOR_BURST, k * FLOOR_EVENTS);
							tmr_add(tc, T_FLOOR_BURST, k * FLOOR_EVENTS + 1);
							tmr_add(tc + C.ring_ms * MS, T_FLOOR_BURST,
									k * FLOOR_EVENTS + 2);
							tmr_add(tc + (C.ring_ms + C.hold_ms) * MS,
									T_FLOOR_BURST, k * FLOOR_EVENTS + 3);
						}
						phase = PH_CALLS;
					} else if(!strcmp(line, "GO") && phase == PH_WAIT_GO) {
						phase = PH_CALLS;
						st.calls_t0 = next_call = mono_ns();
						calls_stop = st.calls_t0
									 + (int64_t)(C.duration * 1e9);
						calls_hard = calls_stop
									 + (C.ring_ms + C.hold_ms + 70000LL)
											   * MS;
					} else if(!strncmp(line, "DOWN ", 5)
							   || !strncmp(line, "UP ", 3)) {
						/* a cluster node went away / came back: new
						 * calls avoid it (the orchestrator kills it) */
						int px = atoi(line + (line[0] == 'D' ? 5 : 3));
						if(px >= 0 && px < nproxy)
							proxy_down[px] = line[0] == 'D';
					} else if(!strcmp(line, "ABORT")) {
						/* Kamailio is gone: end the phase now */
						if(phase == PH_SUBS)
							sub_last_progress = 0;
						if(phase == PH_CALLS) {
							calls_stop = calls_hard = mono_ns();
							for(k = 0; k < ncalls; k++)
								call_release(k, 0);
						}
					} else if(!strcmp(line, "END") && F.msgs) {
						printf("RESULT {\"run\":\"%s\",\"floor\":", run_id);
						floor_json(stdout);
						printf("}\n");
						return 0;
					} else if(!strcmp(line, "END")) {
						printf("RESULT {\"run\":\"%s\",\"subscribe\":",
								run_id);
						subs_json(stdout);
						printf(",\"call_phase\":");
						calls_json(stdout);
						printf("}\n");
						return 0;
					}
				}
				if(r < 0)
					return 1; /* the orchestrator went away */
			} else {
				drain((int)evs[i].data.u32);
			}
		}
	}
}
