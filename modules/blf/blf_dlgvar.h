/*
 * blf_dlgvar.h — the value of the dialog variable that marks a tracked
 * call, so that a call restored by the dialog module (db_mode) is followed
 * again. Pure: no Kamailio headers.
 *
 * Format: "1" then, each as <decimal length>:<bytes>, the caller's and the
 * callee's entity as asked, the entities they stood for when the call began
 * (alias-resolved), and the caller's display name.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_DLGVAR_H
#define BLF_DLGVAR_H

#define BLF_DLGVAR_FIELDS 5
#define BLF_DLGVAR_FIELD_MAX 256 /* longest field (BLF_KEY_MAX) */
/* room for the longest value */
#define BLF_DLGVAR_MAX (1 + BLF_DLGVAR_FIELDS * (BLF_DLGVAR_FIELD_MAX + 5))

enum blf_dlgvar_field {
	BLF_DV_CKEY = 0, /* caller's entity (user@host) as asked */
	BLF_DV_RKEY,	 /* callee's */
	BLF_DV_CCUR,	 /* the entity the caller stood for */
	BLF_DV_RCUR,	 /* the entity the callee stood for */
	BLF_DV_CDISP	 /* caller's display name, may be empty */
};

typedef struct blf_span {
	const char *s;
	int len;
} blf_span_t;

/*
 * f[0..BLF_DLGVAR_FIELDS-1] into buf (size bytes, not terminated); the
 * length, or -1 when a field is longer than BLF_DLGVAR_FIELD_MAX or buf is
 * too small.
 */
int blf_dlgvar_encode(const blf_span_t *f, char *buf, int size);

/*
 * A value into f (pointing into s); -1 when it is not one of ours: another
 * version, a bad length, a field too long, trailing bytes, or an entity
 * field empty or without '@'.
 */
int blf_dlgvar_decode(const char *s, int len, blf_span_t *f);

#endif
