/*
 * blf_reginfo.h — RFC 3680 registration information bodies
 * (application/reginfo+xml) for the reg package, pure (libxml2 only).
 * Always full state: one <registration> (the AOR) with one <contact> per
 * binding.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_REGINFO_H
#define BLF_REGINFO_H

#include <stddef.h>

#define BLF_REGINFO_NS "urn:ietf:params:xml:ns:reginfo"
#define BLF_REGINFO_CTYPE "application/reginfo+xml"

/* RFC 3680 section 5.4 <contact event> */
typedef enum blf_reginfo_event
{
	BLF_REGINFO_EV_REGISTERED = 0,
	BLF_REGINFO_EV_CREATED,
	BLF_REGINFO_EV_REFRESHED,
	BLF_REGINFO_EV_SHORTENED,
	BLF_REGINFO_EV_EXPIRED,
	BLF_REGINFO_EV_DEACTIVATED,
	BLF_REGINFO_EV_PROBATION,
	BLF_REGINFO_EV_UNREGISTERED,
	BLF_REGINFO_EV_REJECTED,
} blf_reginfo_event_t;

typedef struct blf_reginfo_contact
{
	const char *id;	 /* required: stable per binding */
	const char *uri; /* the Contact URI (<uri>, anyURI) */
	int active;		 /* 1 active, 0 terminated (its last NOTIFY) */
	blf_reginfo_event_t event;
	long expires;			  /* seconds left, < 0 leaves it out */
	long duration_registered; /* seconds, < 0 leaves it out */
	const char *q;			  /* "0.8"; NULL/"" leaves it out */
	const char *callid;		  /* NULL/"" leaves it out */
	unsigned long cseq;		  /* 0 leaves it out */
} blf_reginfo_contact_t;

/*
 * Builds <reginfo version state="full"><registration aor id state> with the
 * n contacts. The registration's state follows RFC 3680 section 5.1: init
 * with no contact, active with at least one active contact, else
 * terminated. reg_id: the registration's id (stable per AOR). Bounded as
 * blf_winfo_build: contacts are left out from the end until the body fits
 * max bytes, their count is returned; -1 on bad arguments, no memory or
 * when even no contact fits. *out malloc()ed on success, else NULL.
 */
int blf_reginfo_build(const char *aor, const char *reg_id, unsigned int version,
		const blf_reginfo_contact_t *c, int n, size_t max, char **out,
		size_t *len);

const char *blf_reginfo_event_name(blf_reginfo_event_t e);

#endif
