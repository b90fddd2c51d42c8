/*
 * blf_xml.h — RFC 4235 dialog-info bodies, pure (libxml2 only).
 *
 * A NOTIFY body is built in two parts so one change serves every watcher:
 * the <dialog> elements are built once per change (and per visibility
 * level), while the small document head that carries the per-watcher
 * version and entity is printed for each NOTIFY. Every input is an argument;
 * nothing reads module globals.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_XML_H
#define BLF_XML_H

#include <stddef.h>
#include "blf_state.h"

typedef enum blf_vis {
	BLF_VIS_FULL = 0, /* everything: call-id, tags, both parties */
	BLF_VIS_STATE,	  /* states only: no call-id, tags, remote party */
	BLF_VIS_NONE,	  /* only the entity itself may watch */
} blf_vis_t;

typedef enum blf_dir {
	BLF_DIR_INITIATOR = 0,
	BLF_DIR_RECIPIENT,
} blf_dir_t;

typedef struct blf_xml_party {
	const char *identity; /* URI; NULL or "" omits the whole element */
	const char *display;  /* display name, NULL or "" when unknown */
	const char *target;	  /* <target uri>, NULL or "" when unknown */
} blf_xml_party_t;

typedef struct blf_xml_dialog {
	const char *id;			/* required, unique within the entity */
	const char *call_id;	/* NULL/"" omits the attribute */
	const char *local_tag;	/* NULL/"" omits the attribute */
	const char *remote_tag; /* NULL/"" omits the attribute */
	blf_dir_t direction;
	blf_dstate_t st;
	blf_xml_party_t local;
	blf_xml_party_t remote;
} blf_xml_dialog_t;

/*
 * Builds the <dialog> elements of n dialogs (n may be 0: empty fragment) as
 * one UTF-8 fragment, every value XML-escaped. With BLF_VIS_STATE the
 * call-id, tags, <remote> and the local <target> are left out.
 * On success *out is a malloc()ed NUL-terminated string (free() it), *len
 * its length, and 0 is returned; -1 on bad arguments or no memory (*out is
 * then NULL).
 */
int blf_xml_dialogs(const blf_xml_dialog_t *d, int n, blf_vis_t vis,
		char **out, size_t *len);

/*
 * Escapes s for use inside a double-quoted XML attribute into buf (size
 * bytes, NUL-terminated). Returns the length, or -1 if buf is too small.
 */
int blf_xml_escape_attr(const char *s, size_t slen, char *buf, size_t size);

/*
 * Prints the document head, from the XML declaration to the end of the
 * <dialog-info ...> start tag, state="full", with the given version and the
 * already-escaped entity URI. Returns its length, or -1 if buf is too small.
 * A full body is head + fragment + BLF_XML_TAIL.
 */
int blf_xml_head(char *buf, size_t size, unsigned int version,
		const char *entity_esc, size_t entity_len);

#define BLF_XML_TAIL "</dialog-info>\n"
#define BLF_XML_TAIL_LEN (sizeof(BLF_XML_TAIL) - 1)

/*
 * For the other pure builders: write the text content (attr NULL) or an
 * attribute of the element open in w (an xmlTextWriterPtr), every byte XML
 * forbids replaced by '?' (blf_xml_write_text), or, for xs:anyURI values,
 * every byte a URI may not hold percent-encoded (blf_xml_write_uri).
 * NULL is written as "". 0 on success, -1 on error.
 */
int blf_xml_write_text(void *w, const char *attr, const char *val);
int blf_xml_write_uri(void *w, const char *attr, const char *val);
/*
 * The direct writer the dialog elements are printed with, lent to the other
 * pure builders so that their hot documents need no xmlTextWriter (a
 * writer, a buffer and an encoder per document): start it zeroed, print,
 * then take the text. What it prints is what xmlTextWriter prints in a
 * document started with encoding "UTF-8": blf_xml_out_text as
 * blf_xml_write_text(w, NULL, val) (& < > " escaped, CR as &#13;, bytes
 * XML forbids as '?'), blf_xml_out_uri as the value of
 * blf_xml_write_uri(w, attr, val) (percent-encoded, then escaped; the
 * quotes are the caller's). Errors (no memory) stick: take reports them.
 */
typedef struct blf_xml_out
{
	char *s;
	size_t len, size;
	int err;
} blf_xml_out_t;
void blf_xml_out_put(blf_xml_out_t *o, const char *s, size_t n);
#define blf_xml_out_lit(o, lit) blf_xml_out_put((o), (lit), sizeof(lit) - 1)
void blf_xml_out_text(blf_xml_out_t *o, const char *val);
void blf_xml_out_uri(blf_xml_out_t *o, const char *val);
/* the text as a malloc()ed NUL-terminated copy in *out (*len bytes), the
 * writer's buffer freed (o is zeroed again); 0, or -1 after an error or
 * on no memory (*out NULL) */
int blf_xml_out_take(blf_xml_out_t *o, char **out, size_t *len);

/*
 * 1 when libxml2's last error (xmlGetLastError, per thread) is a failed
 * allocation. libxml2 2.9's xmlTextWriter loses text it has no memory to
 * escape yet reports success, so a builder calls xmlResetLastError()
 * first and this after, and drops such a body.
 */
int blf_xml_oom(void);

/* the end of a document written by w into b: frees w (which flushes it),
 * then copies b's text into *out (malloc()ed, NUL-terminated, *len bytes).
 * 0, or -1 when libxml2's writer lost text for want of memory (2.9 drops
 * text it cannot escape and still reports success) or on no memory.
 * b stays the caller's. (w: an xmlTextWriterPtr, b: an xmlBufferPtr) */
int blf_xml_take(void *w, void *b, char **out, size_t *len);

/* the RFC 4235 name of a direction */
const char *blf_dir_name(blf_dir_t d);
/* "full", "state", "none"; blf_vis_parse returns -1 on an unknown name */
const char *blf_vis_name(blf_vis_t v);
int blf_vis_parse(const char *s, size_t len, blf_vis_t *out);

#endif
