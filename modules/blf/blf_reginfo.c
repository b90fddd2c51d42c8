/*
 * blf_reginfo.c — RFC 3680 registration information bodies, pure
 * (libxml2 only).
 *
 * Written with libxml2's xmlTextWriter and blf_xml's cleaning writers, so
 * a Contact URI or Call-ID taken from any REGISTER cannot break the
 * document. Bounded by leaving contacts out from the end (a binary search
 * over the count).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "blf_xml.h"
#include "blf_reginfo.h"

#define BLF_XC(s) ((const xmlChar *)(s))
#define BLF_REGINFO_CHK(x) \
	do {                   \
		if((x) < 0)        \
			goto out;      \
	} while(0)

const char *blf_reginfo_event_name(blf_reginfo_event_t e)
{
	static const char *const names[] = {"registered", "created", "refreshed",
			"shortened", "expired", "deactivated", "probation", "unregistered",
			"rejected"};

	return (e >= 0 && e <= BLF_REGINFO_EV_REJECTED) ? names[e] : NULL;
}

static int blf_reginfo_num(xmlTextWriterPtr w, const char *attr, long v)
{
	char buf[24];

	if(v < 0)
		return 0;
	snprintf(buf, sizeof(buf), "%ld", v);
	return xmlTextWriterWriteAttribute(w, BLF_XC(attr), BLF_XC(buf));
}

/* the document with the first k contacts; *out malloc()ed. The
 * registration's state counts all n contacts, also those cut. */
static int blf_reginfo_write(const char *aor, const char *reg_id,
		unsigned int version, const blf_reginfo_contact_t *c, int n, int k,
		char **out, size_t *len)
{
	xmlBufferPtr b = xmlBufferCreate();
	xmlTextWriterPtr w = NULL;
	const char *state = n == 0 ? "init" : "terminated";
	char ver[16];
	int i, rc = -1;

	*out = NULL;
	if(b == NULL)
		return -1;
	xmlResetLastError();
	for(i = 0; i < n; i++)
		if(c[i].active)
			state = "active";
	w = xmlNewTextWriterMemory(b, 0);
	if(w == NULL)
		goto out;
	snprintf(ver, sizeof(ver), "%u", version);
	BLF_REGINFO_CHK(xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL));
	BLF_REGINFO_CHK(xmlTextWriterStartElement(w, BLF_XC("reginfo")));
	BLF_REGINFO_CHK(xmlTextWriterWriteAttribute(
			w, BLF_XC("xmlns"), BLF_XC(BLF_REGINFO_NS)));
	BLF_REGINFO_CHK(
			xmlTextWriterWriteAttribute(w, BLF_XC("version"), BLF_XC(ver)));
	BLF_REGINFO_CHK(
			xmlTextWriterWriteAttribute(w, BLF_XC("state"), BLF_XC("full")));
	BLF_REGINFO_CHK(xmlTextWriterStartElement(w, BLF_XC("registration")));
	BLF_REGINFO_CHK(blf_xml_write_uri(w, "aor", aor));
	BLF_REGINFO_CHK(blf_xml_write_text(w, "id", reg_id));
	BLF_REGINFO_CHK(
			xmlTextWriterWriteAttribute(w, BLF_XC("state"), BLF_XC(state)));
	for(i = 0; i < k; i++) {
		BLF_REGINFO_CHK(xmlTextWriterStartElement(w, BLF_XC("contact")));
		BLF_REGINFO_CHK(blf_xml_write_text(w, "id", c[i].id));
		BLF_REGINFO_CHK(blf_xml_write_text(
				w, "state", c[i].active ? "active" : "terminated"));
		BLF_REGINFO_CHK(blf_xml_write_text(
				w, "event", blf_reginfo_event_name(c[i].event)));
		BLF_REGINFO_CHK(blf_reginfo_num(w, "expires", c[i].expires));
		BLF_REGINFO_CHK(blf_reginfo_num(
				w, "duration-registered", c[i].duration_registered));
		if(c[i].q != NULL && c[i].q[0] != '\0')
			BLF_REGINFO_CHK(blf_xml_write_text(w, "q", c[i].q));
		if(c[i].callid != NULL && c[i].callid[0] != '\0')
			BLF_REGINFO_CHK(blf_xml_write_text(w, "callid", c[i].callid));
		if(c[i].cseq > 0) {
			char cs[24];
			snprintf(cs, sizeof(cs), "%lu", c[i].cseq);
			BLF_REGINFO_CHK(
					xmlTextWriterWriteAttribute(w, BLF_XC("cseq"), BLF_XC(cs)));
		}
		BLF_REGINFO_CHK(xmlTextWriterStartElement(w, BLF_XC("uri")));
		BLF_REGINFO_CHK(blf_xml_write_uri(w, NULL, c[i].uri));
		BLF_REGINFO_CHK(xmlTextWriterEndElement(w)); /* uri */
		BLF_REGINFO_CHK(xmlTextWriterEndElement(w)); /* contact */
	}
	BLF_REGINFO_CHK(xmlTextWriterEndDocument(w));
	rc = blf_xml_take(w, b, out, len);
	w = NULL;
out:
	if(w)
		xmlFreeTextWriter(w);
	xmlBufferFree(b);
	return rc;
}

int blf_reginfo_build(const char *aor, const char *reg_id, unsigned int version,
		const blf_reginfo_contact_t *c, int n, size_t max, char **out,
		size_t *len)
{
	int i, lo, hi, mid;
	char *s;
	size_t l;

	if(out)
		*out = NULL;
	if(len)
		*len = 0;
	if(aor == NULL || reg_id == NULL || out == NULL || len == NULL || n < 0
			|| (n > 0 && c == NULL))
		return -1;
	for(i = 0; i < n; i++)
		if(c[i].id == NULL || blf_reginfo_event_name(c[i].event) == NULL)
			return -1;
	if(blf_reginfo_write(aor, reg_id, version, c, n, n, out, len) < 0)
		return -1;
	if(*len <= max)
		return 0;
	free(*out);
	*out = NULL;
	lo = 0;
	hi = n - 1;
	while(lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if(blf_reginfo_write(aor, reg_id, version, c, n, mid, &s, &l) < 0)
			return -1;
		free(s);
		if(l <= max)
			lo = mid;
		else
			hi = mid - 1;
	}
	if(blf_reginfo_write(aor, reg_id, version, c, n, lo, out, len) < 0)
		return -1;
	if(*len > max) {
		free(*out);
		*out = NULL;
		*len = 0;
		return -1;
	}
	return n - lo;
}
