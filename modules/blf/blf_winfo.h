/*
 * blf_winfo.h — RFC 3858 watcher information bodies
 * (application/watcherinfo+xml) for the presence.winfo and dialog.winfo
 * packages (RFC 3857), pure (libxml2 only). Always full state: one
 * <watcher-list resource package> with one <watcher> per subscription.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_WINFO_H
#define BLF_WINFO_H

#include <stddef.h>

#define BLF_WINFO_NS "urn:ietf:params:xml:ns:watcherinfo"
#define BLF_WINFO_CTYPE "application/watcherinfo+xml"

/* RFC 3858 section 4 <watcher status>; only active and terminated are
 * used (the module has no authorization step, so no pending/waiting) */
typedef enum blf_winfo_status
{
	BLF_WINFO_ACTIVE = 0,
	BLF_WINFO_TERMINATED,
	BLF_WINFO_PENDING,
	BLF_WINFO_WAITING,
} blf_winfo_status_t;

/* RFC 3858 <watcher event>: what made the status what it is */
typedef enum blf_winfo_event
{
	BLF_WINFO_EV_SUBSCRIBE = 0, /* a new subscription */
	BLF_WINFO_EV_APPROVED,
	BLF_WINFO_EV_DEACTIVATED,
	BLF_WINFO_EV_PROBATION,
	BLF_WINFO_EV_REJECTED,
	BLF_WINFO_EV_TIMEOUT, /* expired without refresh */
	BLF_WINFO_EV_GIVEUP,
	BLF_WINFO_EV_NORESOURCE,
} blf_winfo_event_t;

typedef struct blf_winfo_watcher
{
	const char *id;		 /* required: stable per subscription */
	const char *uri;	 /* the watcher's URI (the element's text, anyURI) */
	const char *display; /* display-name, NULL/"" leaves it out */
	blf_winfo_status_t status;
	blf_winfo_event_t event;
	long expiration;		  /* seconds left, < 0 leaves it out */
	long duration_subscribed; /* seconds, < 0 leaves it out */
} blf_winfo_watcher_t;

/*
 * Builds <watcherinfo version state="full"><watcher-list resource package>
 * with the n watchers (n may be 0). resource: the entity's URI; package:
 * the watched package ("presence", "dialog"). Bounded: watchers are left
 * out from the end until the body fits max bytes; their count is returned
 * (0 when all fit). -1 on bad arguments (NULL resource/package/id, a
 * status or event out of range), no memory, or when even no watcher fits.
 * On success *out is malloc()ed, NUL-terminated (free() it), *len its
 * length; otherwise *out is NULL.
 */
int blf_winfo_build(const char *resource, const char *package,
		unsigned int version, const blf_winfo_watcher_t *w, int n, size_t max,
		char **out, size_t *len);

const char *blf_winfo_status_name(blf_winfo_status_t s);
const char *blf_winfo_event_name(blf_winfo_event_t e);

#endif
