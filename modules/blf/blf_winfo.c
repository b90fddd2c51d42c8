/*
 * blf_winfo.c — RFC 3858 watcher information bodies, pure (libxml2 only).
 *
 * Written with libxml2's xmlTextWriter and blf_xml's cleaning writers, so
 * a watcher URI or display name taken from any SUBSCRIBE cannot break the
 * document. Bounded by leaving watchers out from the end (a binary search
 * over the count: a few builds, never one per watcher).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "blf_xml.h"
#include "blf_winfo.h"

#define BLF_XC(s) ((const xmlChar *)(s))
#define BLF_WINFO_CHK(x) \
	do {                 \
		if((x) < 0)      \
			goto out;    \
	} while(0)

const char *blf_winfo_status_name(blf_winfo_status_t s)
{
	static const char *const names[] = {
			"active", "terminated", "pending", "waiting"};

	return (s >= 0 && s <= BLF_WINFO_WAITING) ? names[s] : NULL;
}

const char *blf_winfo_event_name(blf_winfo_event_t e)
{
	static const char *const names[] = {"subscribe", "approved", "deactivated",
			"probation", "rejected", "timeout", "giveup", "noresource"};

	return (e >= 0 && e <= BLF_WINFO_EV_NORESOURCE) ? names[e] : NULL;
}

static int blf_winfo_num(xmlTextWriterPtr w, const char *attr, long v)
{
	char buf[24];

	if(v < 0)
		return 0;
	snprintf(buf, sizeof(buf), "%ld", v);
	return xmlTextWriterWriteAttribute(w, BLF_XC(attr), BLF_XC(buf));
}

/* the document with the first k watchers; *out malloc()ed */
static int blf_winfo_write(const char *resource, const char *package,
		unsigned int version, const blf_winfo_watcher_t *wt, int k, char **out,
		size_t *len)
{
	xmlBufferPtr b = xmlBufferCreate();
	xmlTextWriterPtr w = NULL;
	char ver[16];
	int i, rc = -1;

	*out = NULL;
	if(b == NULL)
		return -1;
	xmlResetLastError();
	w = xmlNewTextWriterMemory(b, 0);
	if(w == NULL)
		goto out;
	snprintf(ver, sizeof(ver), "%u", version);
	BLF_WINFO_CHK(xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL));
	BLF_WINFO_CHK(xmlTextWriterStartElement(w, BLF_XC("watcherinfo")));
	BLF_WINFO_CHK(xmlTextWriterWriteAttribute(
			w, BLF_XC("xmlns"), BLF_XC(BLF_WINFO_NS)));
	BLF_WINFO_CHK(
			xmlTextWriterWriteAttribute(w, BLF_XC("version"), BLF_XC(ver)));
	BLF_WINFO_CHK(
			xmlTextWriterWriteAttribute(w, BLF_XC("state"), BLF_XC("full")));
	BLF_WINFO_CHK(xmlTextWriterStartElement(w, BLF_XC("watcher-list")));
	BLF_WINFO_CHK(blf_xml_write_uri(w, "resource", resource));
	BLF_WINFO_CHK(blf_xml_write_text(w, "package", package));
	for(i = 0; i < k; i++) {
		BLF_WINFO_CHK(xmlTextWriterStartElement(w, BLF_XC("watcher")));
		BLF_WINFO_CHK(blf_xml_write_text(w, "id", wt[i].id));
		BLF_WINFO_CHK(blf_xml_write_text(
				w, "status", blf_winfo_status_name(wt[i].status)));
		BLF_WINFO_CHK(blf_xml_write_text(
				w, "event", blf_winfo_event_name(wt[i].event)));
		if(wt[i].display != NULL && wt[i].display[0] != '\0')
			BLF_WINFO_CHK(blf_xml_write_text(w, "display-name", wt[i].display));
		BLF_WINFO_CHK(blf_winfo_num(w, "expiration", wt[i].expiration));
		BLF_WINFO_CHK(blf_winfo_num(
				w, "duration-subscribed", wt[i].duration_subscribed));
		BLF_WINFO_CHK(blf_xml_write_uri(w, NULL, wt[i].uri));
		BLF_WINFO_CHK(xmlTextWriterEndElement(w));
	}
	BLF_WINFO_CHK(xmlTextWriterEndDocument(w));
	rc = blf_xml_take(w, b, out, len);
	w = NULL;
out:
	if(w)
		xmlFreeTextWriter(w);
	xmlBufferFree(b);
	return rc;
}

int blf_winfo_build(const char *resource, const char *package,
		unsigned int version, const blf_winfo_watcher_t *w, int n, size_t max,
		char **out, size_t *len)
{
	int i, lo, hi, mid;
	char *s;
	size_t l;

	if(out)
		*out = NULL;
	if(len)
		*len = 0;
	if(resource == NULL || package == NULL || out == NULL || len == NULL
			|| n < 0 || (n > 0 && w == NULL))
		return -1;
	for(i = 0; i < n; i++)
		if(w[i].id == NULL || blf_winfo_status_name(w[i].status) == NULL
				|| blf_winfo_event_name(w[i].event) == NULL)
			return -1;
	if(blf_winfo_write(resource, package, version, w, n, out, len) < 0)
		return -1;
	if(*len <= max)
		return 0;
	free(*out);
	*out = NULL;
	/* the largest k < n that fits: size grows with k */
	lo = 0;
	hi = n - 1;
	while(lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if(blf_winfo_write(resource, package, version, w, mid, &s, &l) < 0)
			return -1;
		free(s);
		if(l <= max)
			lo = mid;
		else
			hi = mid - 1;
	}
	if(blf_winfo_write(resource, package, version, w, lo, out, len) < 0)
		return -1;
	if(*len > max) {
		free(*out);
		*out = NULL;
		*len = 0;
		return -1;
	}
	return n - lo;
}
