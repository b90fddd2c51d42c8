/*
 * blf_pidf.h — presence documents (RFC 3863 PIDF + RFC 4479 data model +
 * RFC 4480 RPID), pure (libxml2 only): the NOTIFY body built from the
 * first-party state merged with the live publications, the parser of a
 * PUBLISH body (RFC 3903), and the ETag maker.
 *
 * A parsed publication is ONE flat block with offsets instead of pointers
 * (blf_pidf_pub_t), so the publish wiring can memcpy() it into shm as it is
 * and free() the original; the builder reads it wherever it lives.
 *
 * What softphones match (baresip 1.0.0 modules/presence/subscriber.c
 * regexes the NOTIFY body, it does not parse it): the FIRST <basic>..</basic>
 * (blanks allowed before '>'; "open" = online, anything else offline), then
 * "<rpid:away/>" (-> closed), else "<rpid:busy/>" or "<rpid:on-the-phone/>"
 * (-> busy), each with optional blanks before "/>". So: <basic>
 * unprefixed (PIDF is the default namespace), the module's tuple first (its
 * <basic> wins), the prefixes dm: and rpid: literally, activities as empty
 * elements "<x/>", in RFC 4480's schema order.
 * MicroSIP compares the note text (Ready, Ringing, On the phone,
 * Unavailable); pjsip (MicroSIP's stack, pjsip-simple/rpid.c) reads only
 * the FIRST activity of the first person, and <dm:note>.
 *
 * Choices the SPEC leaves open (documented here and in the report):
 *  - visibility "state" drops the PUBLISHED notes (free text a user typed)
 *    and the published tuples' <contact> and <note>; the module's fixed
 *    notes (Ready, Ringing, On the phone, Unavailable) stay, since they
 *    say no more than <basic> and the activities do, and MicroSIP needs
 *    them to show busy;
 *  - a call wins over registration (open + on-the-phone even with no
 *    registered contact);
 *  - the module's tuple note is always the call-derived one; only the
 *    person's <dm:note> takes the newest published note.
 *
 * The publication store (ETag -> block per entity, refresh, modify =
 * replace, expiry, at most N per entity) is NOT here: it needs shm, locks
 * and the clock, so it belongs to the wiring (blf_publish.c). What it takes
 * from here: blf_pidf_etag() for new ETags, blf_pidf_parse() for bodies,
 * the flat block (memcpy into one shm block; pub->size for the stats), and
 * blf_pidf_build() with the live blocks newest first (expired ones left
 * out) in the presence package's snapshot/body. PIDF has no version, so a
 * package may build one body per visibility in its snapshot and append
 * it for every watcher; build it from the raw entity URI (the builder
 * escapes it), not from blf_body_req_t.entity_esc.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_PIDF_H
#define BLF_PIDF_H

#include <stddef.h>
#include <stdint.h>

#include "blf_xml.h"

#define BLF_PIDF_NS "urn:ietf:params:xml:ns:pidf"
#define BLF_PIDF_NS_DM "urn:ietf:params:xml:ns:pidf:data-model"
#define BLF_PIDF_NS_RPID "urn:ietf:params:xml:ns:pidf:rpid"
#define BLF_PIDF_CTYPE "application/pidf+xml"

/* the call summary of an entity, from blf_state */
typedef enum blf_pres_call
{
	BLF_PRES_IDLE = 0,	/* no call */
	BLF_PRES_RINGING,	/* a call trying / proceeding / early */
	BLF_PRES_CONFIRMED, /* a call confirmed */
} blf_pres_call_t;

/* "idle", "ringing", "confirmed" ("?" out of range) */
const char *blf_pres_call_name(blf_pres_call_t c);

/* the notes of the module's own tuple (SPEC table) */
#define BLF_PIDF_NOTE_READY "Ready"
#define BLF_PIDF_NOTE_RINGING "Ringing"
#define BLF_PIDF_NOTE_BUSY "On the phone"
#define BLF_PIDF_NOTE_OFFLINE "Unavailable"

/*
 * RPID activities (RFC 4480 section 3.2) a publication may set, as bits of
 * blf_pidf_pub_t.acts: bit i is blf_pidf_act_name(i). Only the names the
 * schema enumerates as empty elements are kept ("other" carries text and
 * "unknown" means none), so the merged document stays valid.
 */
#define BLF_PIDF_NACTS 24
/* the element name of activity bit i, NULL out of range */
const char *blf_pidf_act_name(int i);
/* the bit of an activity name, -1 when not one of them */
int blf_pidf_act_bit(const char *name);
#define BLF_PIDF_ACT(name) (1u << blf_pidf_act_bit(name))

/* --- parsing a PUBLISH body ---------------------------------------------- */

/* bounds of a PUBLISH body; the publish wiring may pass smaller ones */
typedef struct blf_pidf_limits
{
	size_t max_body; /* bytes of the body (SPEC: a module parameter) */
	int max_tuples;	 /* <tuple>s per document */
	int max_depth;	 /* element nesting, the root being depth 1 */
	size_t max_note; /* bytes of the note kept; longer ones are cut */
	size_t max_id;	 /* bytes of a tuple id */
} blf_pidf_limits_t;

/* the defaults blf_pidf_parse() uses for a NULL limits argument */
#define BLF_PIDF_MAX_BODY 16384
#define BLF_PIDF_MAX_TUPLES 16
#define BLF_PIDF_MAX_DEPTH 16
#define BLF_PIDF_MAX_NOTE 256
#define BLF_PIDF_MAX_ID 64

typedef struct blf_pidf_ptuple
{
	uint32_t id_off, id_len;	 /* the tuple's id attribute */
	uint32_t full_off, full_len; /* the <tuple> element, serialized */
	uint32_t bare_off, bare_len; /* the same without <contact> and <note> */
} blf_pidf_ptuple_t;

/*
 * One parsed publication, one block of `size` bytes: this header, the
 * tuples' offsets, then the NUL-terminated strings (offsets count from the
 * start of the block). Position-independent: copy it byte for byte.
 * Each serialized <tuple> declares the namespaces it uses, so it can be
 * pasted into any document.
 */
typedef struct blf_pidf_pub
{
	uint32_t size;	   /* bytes of the whole block */
	uint32_t flags;	   /* BLF_PIDF_PUB_* */
	uint32_t acts;	   /* the person's activities (bits, above) */
	uint32_t note_off; /* the note, 0 when none */
	uint32_t note_len;
	uint32_t entity_off; /* the document's entity attribute */
	uint32_t entity_len;
	int32_t ntuples;
	blf_pidf_ptuple_t t[];
} blf_pidf_pub_t;

/* the document has a <dm:person> (its activities, even none, count) */
#define BLF_PIDF_PUB_PERSON 1u

/* the string at offset off of a publication block */
#define BLF_PIDF_STR(pub, off) ((const char *)(pub) + (off))

/*
 * Parses a PUBLISH body: well-formed UTF-8 XML (an encoding declaration is
 * ignored: the body is read as UTF-8, RFC 3863 section 4.1), no DOCTYPE at
 * all (no entity can be declared, so none can expand or be fetched), root
 * <presence> in the PIDF namespace with an entity attribute, every <tuple>
 * with an id (an XML NCName, unique in the document) and a <status> whose
 * <basic>, if any, is open or closed (case and blanks forgiven), at
 * most `max_tuples` tuples and `max_depth` levels. Extracted: each tuple
 * serialized (with and without <contact>/<note>), the activities of the
 * first <dm:person>, and the note: the person's <dm:note>, else the first
 * tuple <note>, else the document's <note>, cut to max_note bytes at a
 * character boundary.
 *
 * lim NULL: the BLF_PIDF_MAX_* defaults. On success *out is a malloc()ed
 * block (free() it) and 0 is returned. On a body that is not acceptable
 * PIDF, 1 is returned and err (errsize bytes, may be NULL) holds a short
 * reason for the 400's log line; -1 on bad arguments or no memory. *out is
 * NULL whenever the result is not 0.
 */
int blf_pidf_parse(const char *body, size_t len, const blf_pidf_limits_t *lim,
		blf_pidf_pub_t **out, char *err, size_t errsize);

/* 1 when the publication (as parsed) carries id among its tuples */
int blf_pidf_pub_has_id(const blf_pidf_pub_t *pub, const char *id);

/* --- building the NOTIFY body -------------------------------------------- */

typedef struct blf_pidf_in
{
	const char *entity; /* the presentity URI (made an anyURI here) */
	blf_pres_call_t call;
	int registered; /* 0: no contact (closed); else open. Unknown = 1 */
	blf_vis_t vis;	/* FULL; anything else is built as STATE (NONE never
					 * gets a body: its SUBSCRIBE gets 403) */
	/* the entity's live publications, newest first; expired ones are
	 * simply not passed */
	const blf_pidf_pub_t *const *pubs;
	int npubs;
} blf_pidf_in_t;

/*
 * Builds the presence document:
 *   <presence entity> (default namespace PIDF, xmlns:dm, xmlns:rpid)
 *     <tuple id=OWN> <status><basic>open|closed</basic></status>
 *                    <note>Ready|Ringing|On the phone|Unavailable</note>
 *     the published tuples, newest publication first, one per id (the
 *       newest wins), ids kept; with STATE visibility without their
 *       <contact> and <note>
 *     <dm:person id=OWN-p> <rpid:activities> the union of the call's
 *       (on-the-phone) and the newest publication's </rpid:activities>
 *       (left out when empty) <dm:note> the newest publication's note, else
 *       the module's (STATE: always the module's) </dm:person>
 * A call (ringing or confirmed) wins over registration: the entity is open
 * and on the phone even with no registered contact (a call proves it is
 * reachable, e.g. a trunk-side device); closed/Unavailable only when idle.
 * The module's own ids are "blf" and "blf-p", suffixed "-1", "-2", ...
 * until no published tuple uses them (xs:ID must be unique).
 *
 * Bounded: when the document would exceed max bytes, published tuples are
 * left out, oldest first, until it fits (the module's tuple and the person
 * always stay); their count is returned. If even that does not fit, or on
 * bad arguments or no memory, -1. On success *out is malloc()ed
 * (NUL-terminated, free() it) and *len its length; on failure *out is NULL.
 */
int blf_pidf_build(
		const blf_pidf_in_t *in, size_t max, char **out, size_t *len);

/* --- ETags (RFC 3903 section 6) ------------------------------------------ */

#define BLF_PIDF_ETAG_LEN 20
/*
 * Writes the ETag of in (len bytes) under key into out (BLF_PIDF_ETAG_LEN
 * + 1 bytes): 20 characters of [A-Za-z0-9] from two SipHash-2-4 values,
 * so the same request always gets the same ETag (a retransmission finds
 * its publication) and without the key no ETag can be guessed from another.
 */
void blf_pidf_etag_of(const unsigned char key[16], const unsigned char *in,
		size_t len, char *out);

#endif
