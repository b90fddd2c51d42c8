/*
 * blf_rlmi.h — RFC 4662 list NOTIFY bodies: multipart/related (RFC 2387)
 * with the RLMI document (application/rlmi+xml) first and one part per
 * list member carrying that member's ordinary body. Pure: no Kamailio
 * headers, no allocation; the caller gives the buffer (measure, allocate,
 * render), so nothing here can leak or fail for want of memory.
 *
 * Identifiers. A list subscription keeps one random secret of
 * BLF_RLMI_SECRET_LEN bytes for its whole life (stored, persisted and
 * replicated with it). Every identifier is a keyed hash (SipHash-2-4) of
 * that secret and a tag:
 *   instance id   = 16 hex of H(secret, 'i', gen, member URI)
 *   member cid    = 16 hex of H(secret, 'c', gen, member URI) "@" host
 *   RLMI cid      = 16 hex of H(secret, 'r', 0, list URI) "@" host
 *   boundary      = "blf-rlmi-" 16 hex of H(secret, 'b', try, version)
 * so they are stable across NOTIFYs, refreshes, restarts and takeovers
 * without being stored one by one, cannot be guessed by another watcher,
 * and differ between subscriptions. gen is the member's generation: 0, and
 * raised by the list record each time a member removed (sent as
 * terminated) is added again, so the new instance gets a new id as
 * RFC 4662 section 5.2 wants. The boundary is checked against every string
 * that goes into the body; on a hit the next try is hashed (16 tries).
 *
 * Splitting (blf_rlmi_split). A NOTIFY must fit one UDP datagram: given
 * max bytes for the body, members are laid out in order over bodies
 * 0..k-1, body j carrying RLMI version (version + j):
 *   - full state: body 0 says fullState="true" and lists the <resource> of
 *     EVERY member, so a watcher never takes a member it has not seen yet
 *     for removed; the members whose instance and part fit follow their
 *     <resource> with <instance cid> and their part, the others get a
 *     <resource> with no <instance> (RFC 4662: no state known yet) and are
 *     sent with their instance and part in bodies 1.. (fullState="false").
 *     When even the <resource> list of every member exceeds max, body 0
 *     carries only the members that fit whole, and the rest follow in
 *     partial bodies (the one case where a watcher sees a subset first).
 *   - partial state: every body is fullState="false".
 *   - a member whose part does not fit in a body of its own: its `small`
 *     body is used instead (the package gives a state-only rendering), and
 *     when that does not fit either, its <instance> is sent without cid
 *     and without a part (state only in the RLMI, never an oversize
 *     datagram, never a member lost).
 * Bodies are filled greedily in member order; body j > 0 has at least one
 * member. A member with no body (terminated, pending) has no part.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_RLMI_H
#define BLF_RLMI_H

#include <stddef.h>
#include <stdint.h>

#define BLF_RLMI_SECRET_LEN 16
/* 16 hex + NUL */
#define BLF_RLMI_ID_MAX 17
/* "<16 hex>@" + host (at most BLF_RLMI_HOST_MAX) + NUL */
#define BLF_RLMI_HOST_MAX 64
#define BLF_RLMI_CID_MAX (16 + 1 + BLF_RLMI_HOST_MAX + 1)
/* "blf-rlmi-" + 16 hex + NUL */
#define BLF_RLMI_BOUNDARY_MAX 26
/* the longest Content-Type header value blf_rlmi_ctype prints */
#define BLF_RLMI_CTYPE_MAX                                                 \
	(sizeof("multipart/related;type=\"application/rlmi+xml\";start=\"<>\"" \
			";boundary=\"\"")                                              \
			+ BLF_RLMI_CID_MAX + BLF_RLMI_BOUNDARY_MAX)
/* a body smaller than this cannot hold even one member: split refuses it */
#define BLF_RLMI_MIN_MAX 512

typedef enum blf_rlmi_state {
	BLF_RLMI_ACTIVE = 0,
	BLF_RLMI_PENDING,
	BLF_RLMI_TERMINATED,
} blf_rlmi_state_t;

typedef struct blf_rlmi_member {
	const char *uri;  /* required: the member's resource URI */
	const char *name; /* NULL or "": no <name> */
	unsigned int gen; /* generation, see above; 0 normally */
	blf_rlmi_state_t state;
	const char *reason; /* terminated: "noresource" etc.; else NULL */
	const char *ctype;	/* Content-Type of body and small */
	const char *body;	/* NULL: no part (terminated, pending) */
	size_t body_len;
	const char *small; /* NULL or a smaller stand-in for body */
	size_t small_len;
} blf_rlmi_member_t;

typedef struct blf_rlmi_list {
	const char *uri;	  /* required: the list URI */
	const char *name;	  /* NULL or "": no list <name> */
	unsigned int version; /* RLMI version of (the first) body */
	int full;			  /* 1: fullState="true" (first body) */
	const char *host;	  /* cid right-hand side; bad or NULL: blf.invalid */
	const unsigned char *secret; /* BLF_RLMI_SECRET_LEN bytes */
} blf_rlmi_list_t;

/* how one member goes into its body */
typedef enum blf_rlmi_mode {
	BLF_RLMI_PART = 0, /* instance with cid + part with body */
	BLF_RLMI_SMALL,	   /* instance with cid + part with small */
	BLF_RLMI_BARE,	   /* instance without cid, no part */
} blf_rlmi_mode_t;

typedef struct blf_rlmi_slot {
	int body; /* which body (0..nbodies-1) carries it */
	blf_rlmi_mode_t mode;
	int listed; /* 1: body 0 (full state) lists its <resource> without
               * <instance>; its instance and part follow in body */
} blf_rlmi_slot_t;

/*
 * Lays the n members out over bodies of at most max bytes (see the header
 * comment). slots has n entries; *nbodies gets the number of bodies
 * (1 when n == 0). 0 on success; EINVAL on bad arguments or a string that
 * cannot go into a SIP body (control characters, bytes that are not
 * UTF-8, a ctype with quotes); E2BIG when max < BLF_RLMI_MIN_MAX or one
 * member's bare instance does not fit a body of its own.
 */
int blf_rlmi_split(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n,
		size_t max, blf_rlmi_slot_t *slots, int *nbodies);

/*
 * Renders body k of a split (slots from blf_rlmi_split; slots NULL and
 * k 0: one body with every member as BLF_RLMI_PART) into buf (size bytes;
 * buf may be NULL to measure). *len gets the body's length. 0 when it was
 * written (NUL-terminated when len < size), ENOSPC when size is too small
 * (measure first), EINVAL on bad arguments. Rendering twice with the same
 * arguments gives the same bytes.
 */
int blf_rlmi_render(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n,
		const blf_rlmi_slot_t *slots, int k, char *buf, size_t size,
		size_t *len);

/*
 * The NOTIFY's Content-Type value for the same body k:
 * multipart/related;type="application/rlmi+xml";start="<cid>";boundary="B"
 * Returns its length, or -1 on bad arguments or when size is too small
 * (BLF_RLMI_CTYPE_MAX always suffices).
 */
int blf_rlmi_ctype(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n,
		const blf_rlmi_slot_t *slots, int k, char *buf, size_t size);

/*
 * The same Content-Type value read back from a body blf_rlmi_render wrote
 * (len bytes): its first line is the boundary, its first part's Content-ID
 * the start; what the NOTIFY sender uses, rather than hashing both again.
 * Its length, or -1 when body is not such a body or size is too small.
 */
int blf_rlmi_ctype_of(const char *body, size_t len, char *buf, size_t size);

/* a member's instance id and Content-ID (no angle brackets), as rendered;
 * 0, or EINVAL */
int blf_rlmi_instance_id(const unsigned char *secret, const char *uri,
		unsigned int gen, char out[BLF_RLMI_ID_MAX]);
int blf_rlmi_member_cid(const unsigned char *secret, const char *host,
		const char *uri, unsigned int gen, char out[BLF_RLMI_CID_MAX]);

/* SipHash-2-4 of msg under a 16-byte key (exported for its test vectors) */
uint64_t blf_rlmi_siphash(
		const unsigned char *key, const unsigned char *msg, size_t len);

/* "active", "pending", "terminated" */
const char *blf_rlmi_state_name(blf_rlmi_state_t s);

#endif
