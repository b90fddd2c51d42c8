/* FUZZ-SOURCES: blf_pkg.c */
/*
 * fuzz_pkg.c — the `events` parameter (blf_pkg_serve) over any bytes, and
 * the 489's Allow-Events built from what it served. The input is the list
 * as the operator wrote it (read only within its length: ASan sees a read
 * past it); checked: the message is NUL-terminated within its buffer, an
 * error serves nothing, a success serves at least one package, each served
 * package's name occurs in the list, and Allow-Events lists exactly the
 * served ones.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "fuzz.h"

#include <strings.h>

#include "blf_pkg.h"

static blf_snap_t *fz_snapshot(const struct blf_entity *e)
{
	(void)e;
	return NULL;
}

static int fz_body(blf_snap_t *sn, const blf_body_req_t *r, blf_buf_t *out)
{
	(void)sn;
	(void)r;
	(void)out;
	return -1;
}

static void fz_snap_free(blf_snap_t *sn)
{
	(void)sn;
}

#define FZ_PKG(n)                                                            \
	{                                                                        \
		.name = n, .ctype = "a/b", .accept = "a/b", .snapshot = fz_snapshot, \
		.body = fz_body, .snap_free = fz_snap_free,                          \
	}

static blf_pkg_t fz_pkgs[] = {
		FZ_PKG("dialog"), FZ_PKG("presence"), FZ_PKG("x-test.a")};
#define FZ_NPKGS (sizeof(fz_pkgs) / sizeof(fz_pkgs[0]))

/* 1 when name occurs as a whole item of list[0..len) (trimmed, any case) */
static int fz_listed(const char *list, size_t len, const char *name)
{
	size_t i = 0, b, e, n = strlen(name);

	while(i <= len) {
		for(b = i; b < len && list[b] != ','; b++)
			;
		e = b;
		while(i < e && (list[i] == ' ' || list[i] == '\t'))
			i++;
		while(e > i && (list[e - 1] == ' ' || list[e - 1] == '\t'))
			e--;
		if(e - i == n && strncasecmp(list + i, name, n) == 0)
			return 1;
		i = b + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *list = malloc(size ? size : 1), msg[96], ae[256], want[256];
	size_t k, msize;
	int rc, n, served = 0;

	FZ_CHECK(list != NULL);
	if(size)
		memcpy(list, data, size);
	blf_pkg_reset();
	for(k = 0; k < FZ_NPKGS; k++)
		FZ_CHECK(blf_pkg_register(&fz_pkgs[k]) == (int)k);
	msize = 1 + (size ? data[0] % sizeof(msg) : 0);
	memset(msg, 'Z', sizeof(msg));
	rc = blf_pkg_serve(list, size, msg, msize);
	FZ_CHECK(memchr(msg, '\0', msize) != NULL);
	FZ_CHECK(rc == 0 || rc == -1);
	want[0] = '\0';
	for(k = 0; k < FZ_NPKGS; k++) {
		if(!fz_pkgs[k].served)
			continue;
		served++;
		FZ_CHECK(rc == 0);
		FZ_CHECK(fz_listed(list, size, fz_pkgs[k].name));
		FZ_CHECK(blf_pkg_find(fz_pkgs[k].name, strlen(fz_pkgs[k].name))
				 == &fz_pkgs[k]);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
				want[0] ? ", " : "", fz_pkgs[k].name);
	}
	FZ_CHECK(rc == 0 ? served > 0 : served == 0);
	n = blf_pkg_allow_events(ae, sizeof(ae));
	FZ_CHECK(n == (int)strlen(want) && strcmp(ae, want) == 0);
	free(list);
	return 0;
}
