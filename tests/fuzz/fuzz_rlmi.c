/* FUZZ-SOURCES: blf_rlmi.c */
/*
 * fuzz_rlmi.c — the RFC 4662 body builder (blf_rlmi.c) with hostile list
 * and member strings (URIs, names, reasons, content types, bodies cut from
 * the input) and a random max. blf_rlmi.c parses nothing, but every string
 * it prints comes from an HTTP answer or a call, so what it accepts must
 * come out framed and well-formed.
 *
 * Checked beyond "no crash, leak or UB": rendering is EINVAL or succeeds
 * for the whole split alike; each body is within max and the measured
 * length; the RLMI part (between the first part header block and the next
 * boundary line) is well-formed XML for libxml2; the boundary occurs in
 * no member body; rendering twice gives the same bytes.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <errno.h>

#include <libxml/parser.h>

#include "fuzz.h"

#include "blf_rlmi.h"

#define FZ_MEMBERS 6

static void fz_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static const char *fz_find(const char *h, size_t n, const char *s, size_t k)
{
	size_t i;

	for(i = 0; i + k <= n; i++)
		if(memcmp(h + i, s, k) == 0)
			return h + i;
	return NULL;
}

static void fz_body(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n,
		const blf_rlmi_slot_t *slots, int k, size_t max)
{
	char ct[BLF_RLMI_CTYPE_MAX], delim[64];
	const char *b, *xml, *end;
	size_t len = 0, len2 = 0;
	char *buf, *buf2;
	xmlDocPtr doc;
	int i;

	FZ_CHECK(blf_rlmi_render(l, m, n, slots, k, NULL, 0, &len) == ENOSPC);
	FZ_CHECK(slots == NULL || len <= max);
	buf = malloc(len);
	buf2 = malloc(len);
	FZ_CHECK(buf != NULL && buf2 != NULL);
	FZ_CHECK(blf_rlmi_render(l, m, n, slots, k, buf, len, &len2) == 0);
	FZ_CHECK(len2 == len);
	FZ_CHECK(blf_rlmi_render(l, m, n, slots, k, buf2, len, &len2) == 0);
	FZ_CHECK(memcmp(buf, buf2, len) == 0);
	FZ_CHECK(blf_rlmi_ctype(l, m, n, slots, k, ct, sizeof(ct)) > 0);
	{
		/* read back from the body (what the NOTIFY sender uses): the same */
		char back[BLF_RLMI_CTYPE_MAX];
		FZ_CHECK(blf_rlmi_ctype_of(buf, len, back, sizeof(back)) > 0);
		FZ_CHECK(strcmp(back, ct) == 0);
	}
	b = strstr(ct, "boundary=\"");
	FZ_CHECK(b != NULL);
	b += 10;
	snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)strcspn(b, "\""), b);
	for(i = 0; i < n; i++)
		FZ_CHECK(m[i].body == NULL
				 || fz_find(m[i].body, m[i].body_len, delim + 4,
							strlen(delim + 4))
							== NULL);
	xml = fz_find(buf, len, "\r\n\r\n", 4);
	FZ_CHECK(xml != NULL);
	xml += 4;
	end = fz_find(xml, len - (xml - buf), delim, strlen(delim));
	FZ_CHECK(end != NULL);
	doc = xmlReadMemory(xml, (int)(end - xml), "rlmi.xml", NULL,
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	FZ_CHECK(doc != NULL);
	xmlFreeDoc(doc);
	free(buf);
	free(buf2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	fz_in_t in = {data, size};
	unsigned char secret[BLF_RLMI_SECRET_LEN];
	blf_rlmi_member_t m[FZ_MEMBERS];
	blf_rlmi_slot_t slots[FZ_MEMBERS];
	char *str[3 + 6 * FZ_MEMBERS];
	blf_rlmi_list_t l;
	size_t max, blen[FZ_MEMBERS];
	int n, i, ns = 0, nb, rc;

	if(!init) {
		xmlSetGenericErrorFunc(NULL, fz_quiet);
		init = 1;
	}
	{
		/* the raw input read as a body: a clean -1 or a value */
		char ct[BLF_RLMI_CTYPE_MAX];
		FZ_CHECK(blf_rlmi_ctype_of((const char *)data, size, ct, sizeof(ct))
				 < (int)sizeof(ct));
	}
	memset(&l, 0, sizeof(l));
	memset(m, 0, sizeof(m));
	for(i = 0; i < BLF_RLMI_SECRET_LEN; i++)
		secret[i] = (unsigned char)fz_u8(&in);
	l.secret = secret;
	l.version = (unsigned int)fz_u64(&in);
	l.full = (int)(fz_u8(&in) & 1);
	max = 256 + fz_u16(&in) * 2;
	n = (int)(fz_u8(&in) % (FZ_MEMBERS + 1));
	l.uri = str[ns++] = fz_str(&in, NULL);
	l.name = str[ns++] = fz_str(&in, NULL);
	l.host = str[ns++] = fz_str(&in, NULL);
	for(i = 0; i < n; i++) {
		unsigned int f = fz_u8(&in);

		m[i].uri = str[ns++] = fz_str(&in, NULL);
		m[i].name = str[ns++] = fz_str(&in, NULL);
		m[i].ctype = str[ns++] = fz_str(&in, NULL);
		m[i].reason = str[ns++] = fz_str(&in, NULL);
		if(m[i].reason[0] == '\0')
			m[i].reason = NULL;
		m[i].body = str[ns++] = fz_str(&in, &blen[i]);
		m[i].body_len = blen[i];
		m[i].small = str[ns++] = fz_str(&in, &m[i].small_len);
		m[i].state = (blf_rlmi_state_t)(f % 3);
		m[i].gen = f >> 2;
		if(f & 0x80)
			m[i].body = NULL;
		if(f & 0x40)
			m[i].small = NULL;
	}
	rc = blf_rlmi_split(&l, m, n, max, slots, &nb);
	FZ_CHECK(rc == 0 || rc == EINVAL || rc == E2BIG);
	if(rc == 0) {
		FZ_CHECK(nb >= 1 && nb <= (n > 0 ? n + 1 : 1));
		for(i = 0; i < nb; i++)
			fz_body(&l, m, n, slots, i, max);
		fz_body(&l, m, n, NULL, 0, max);
	} else if(rc == EINVAL) {
		size_t len;

		FZ_CHECK(blf_rlmi_render(&l, m, n, NULL, 0, NULL, 0, &len) == EINVAL);
	}
	for(i = 0; i < ns; i++)
		free(str[i]);
	return 0;
}
