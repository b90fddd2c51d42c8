/* UNIT-SOURCES: blf_pkg.c */
/*
 * test_pkg.c — the event package registry (blf_pkg.c): registration,
 * lookups, the `events` parameter with hostile lists, the 489's
 * Allow-Events, output buffers and their bound, and the refcounted
 * snapshots one change shares (no leak, no double free, a failed snapshot).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "blf_pkg.h"

/* ---- a fake package: counts its snapshots, can fail them ---- */

static int t_snaps, t_frees, t_fail;

typedef struct t_snap {
	blf_snap_t h;
	int n;
} t_snap_t;

static blf_snap_t *t_snapshot(const struct blf_entity *e)
{
	t_snap_t *s;

	(void)e;
	if(t_fail)
		return NULL;
	s = calloc(1, sizeof(*s));
	if(s == NULL)
		return NULL;
	s->n = ++t_snaps;
	return &s->h;
}

static int t_body(blf_snap_t *sn, const blf_body_req_t *r, blf_buf_t *out)
{
	(void)sn;
	return blf_buf_add(out, r->entity_esc, r->entity_len);
}

static void t_snap_free(blf_snap_t *sn)
{
	t_frees++;
	free(sn);
}

#define T_PKG(n)                                                           \
	{                                                                      \
		.name = n, .ctype = "application/x-" n, .accept = "application/x", \
		.snapshot = t_snapshot, .body = t_body, .snap_free = t_snap_free,  \
	}

static blf_pkg_t p_dialog = T_PKG("dialog");
static blf_pkg_t p_presence = T_PKG("presence");
static blf_pkg_t p_winfo = T_PKG("dialog.winfo");

static void test_register(void)
{
	blf_pkg_t bad1 = T_PKG(""), bad2 = T_PKG("a b"), bad3 = T_PKG("a,b");
	blf_pkg_t dup = T_PKG("DIALOG"), nofn = T_PKG("x");
	char longname[BLF_PKG_NAME_MAX + 2];
	blf_pkg_t toolong = T_PKG("y");
	static blf_pkg_t many[BLF_PKG_MAX];
	static char names[BLF_PKG_MAX][16];
	int i, n;

	blf_pkg_reset();
	CHECK_INT(blf_pkg_register(&p_dialog), 0);
	CHECK_INT(blf_pkg_register(&p_presence), 1);
	CHECK_INT(blf_pkg_register(&p_winfo), 2);
	CHECK_INT(blf_pkg_register(NULL), -1);
	CHECK_INT(blf_pkg_register(&bad1), -1);
	CHECK_INT(blf_pkg_register(&bad2), -1);
	CHECK_INT(blf_pkg_register(&bad3), -1);
	CHECK_INT(blf_pkg_register(&dup), -1); /* names are case-insensitive */
	nofn.body = NULL;
	CHECK_INT(blf_pkg_register(&nofn), -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	toolong.name = longname;
	CHECK_INT(blf_pkg_register(&toolong), -1);
	bad1.name = NULL;
	CHECK_INT(blf_pkg_register(&bad1), -1);

	CHECK(blf_pkg_get(0) == &p_dialog);
	CHECK(blf_pkg_get(2) == &p_winfo);
	CHECK(blf_pkg_get(3) == NULL);
	CHECK(blf_pkg_get(255) == NULL);
	CHECK(blf_pkg_find_any("Dialog", 6) == &p_dialog);
	CHECK(blf_pkg_find_any("dialog.winfo", 12) == &p_winfo);
	CHECK(blf_pkg_find_any("dialog.winf", 11) == NULL);
	CHECK(blf_pkg_find_any("dialog", 5) == NULL); /* a prefix is not it */
	CHECK(blf_pkg_find_any("dialogx", 7) == NULL);
	CHECK(blf_pkg_find_any(NULL, 3) == NULL);
	CHECK(blf_pkg_find_any("", 0) == NULL);
	/* registered, not served yet */
	CHECK(blf_pkg_find("dialog", 6) == NULL);

	/* the registry holds BLF_PKG_MAX at most */
	blf_pkg_reset();
	for(i = 0; i < BLF_PKG_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "p%d", i);
		many[i] = (blf_pkg_t)T_PKG("z");
		many[i].name = names[i];
		n = blf_pkg_register(&many[i]);
		CHECK_INT(n, i);
	}
	CHECK_INT(blf_pkg_register(&p_dialog), -1);
	blf_pkg_reset();
	CHECK(blf_pkg_get(0) == NULL);
}

static int t_serve(const char *list, char *msg, size_t msize)
{
	return blf_pkg_serve(list, list ? strlen(list) : 0, msg, msize);
}

static void test_serve(void)
{
	char msg[128], ae[128], big[4096];
	int i;

	blf_pkg_reset();
	blf_pkg_register(&p_dialog);
	blf_pkg_register(&p_presence);

	/* the SPEC's default: two built, three skipped and said */
	CHECK_INT(t_serve(BLF_PKG_KNOWN, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "presence.winfo,dialog.winfo,reg");
	CHECK(blf_pkg_find("DIALOG", 6) == &p_dialog);
	CHECK(blf_pkg_find("presence", 8) == &p_presence);
	CHECK_INT(blf_pkg_allow_events(ae, sizeof(ae)), 16);
	CHECK_STR(ae, "dialog, presence");

	/* spaces, tabs, empty items, duplicates, case */
	CHECK_INT(t_serve(" ,dialog ,\t, DIALOG,,dialog\t", msg, sizeof(msg)), 0);
	CHECK_STR(msg, "");
	CHECK(blf_pkg_find("dialog", 6) == &p_dialog);
	CHECK(blf_pkg_find("presence", 8) == NULL); /* not listed this time */
	CHECK_INT(blf_pkg_allow_events(ae, sizeof(ae)), 6);
	CHECK_STR(ae, "dialog");

	/* an unknown name: an error naming it, nothing served */
	CHECK_INT(t_serve("dialog,foo", msg, sizeof(msg)), -1);
	CHECK_STR(msg, "unknown event package 'foo'");
	CHECK(blf_pkg_find("dialog", 6) == NULL);
	CHECK_INT(blf_pkg_allow_events(ae, sizeof(ae)), 0);
	CHECK_INT(t_serve("dialog,dialog x", msg, sizeof(msg)), -1);
	CHECK_STR(msg, "unknown event package 'dialog x'");
	CHECK_INT(t_serve("dialog;presence", msg, sizeof(msg)), -1);
	/* nothing served: an error too */
	CHECK_INT(t_serve("", msg, sizeof(msg)), -1);
	CHECK_STR(msg, "no event package served");
	CHECK_INT(t_serve(NULL, msg, sizeof(msg)), -1);
	CHECK_INT(t_serve(" , ,,", msg, sizeof(msg)), -1);
	CHECK_INT(t_serve("reg", msg, sizeof(msg)), -1); /* known, not built */
	CHECK_STR(msg, "no event package served");
	/* no room for a message */
	CHECK_INT(t_serve("dialog", NULL, 0), -1);
	CHECK_INT(t_serve("dialog", msg, 0), -1);
	/* a tiny message buffer: cut, NUL-terminated, no overflow */
	CHECK_INT(t_serve("dialog,foo", msg, 8), -1);
	CHECK_INT((int)strlen(msg), 7);
	CHECK_INT(t_serve("dialog,reg,dialog.winfo", msg, 5), 0);
	CHECK(strlen(msg) < 5);

	/* very long: a long unknown name is cut in the message */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "dialog,", 7);
	CHECK_INT(t_serve(big, msg, sizeof(msg)), -1);
	CHECK(strncmp(msg, "unknown event package 'xxxx", 27) == 0);
	CHECK(strlen(msg) < sizeof(msg));
	/* many valid items */
	for(i = 0; i + 7 < (int)sizeof(big); i += 7)
		memcpy(big + i, "dialog,", 7);
	big[i] = '\0';
	CHECK_INT(t_serve(big, msg, sizeof(msg)), 0);
	CHECK_INT(blf_pkg_allow_events(ae, sizeof(ae)), 6);
	/* a length shorter than the string: only that much is read */
	CHECK_INT(blf_pkg_serve("dialog,foo", 6, msg, sizeof(msg)), 0);
	CHECK_INT(blf_pkg_serve("presence", 4, msg, sizeof(msg)), -1);
	CHECK_STR(msg, "unknown event package 'pres'");

	/* Allow-Events into a small buffer: -1, never past it */
	CHECK_INT(t_serve("dialog,presence", msg, sizeof(msg)), 0);
	CHECK_INT(blf_pkg_allow_events(ae, 17), 16);
	CHECK_INT(blf_pkg_allow_events(ae, 16), -1);
	CHECK_INT(blf_pkg_allow_events(ae, 6), -1);
	CHECK_INT(blf_pkg_allow_events(NULL, 10), -1);
	CHECK_INT(blf_pkg_allow_events(ae, 0), -1);
	blf_pkg_reset();
}

static void test_buf(void)
{
	blf_buf_t b = {0};
	char big[5000];
	int i;

	CHECK_INT(blf_buf_add(&b, "abc", 3), 0);
	CHECK_INT((int)b.len, 3);
	CHECK_STR(b.s, "abc");
	CHECK_INT(blf_buf_add(&b, "", 0), 0);
	memset(big, 'q', sizeof(big));
	for(i = 0; i < 20; i++)
		CHECK_INT(blf_buf_add(&b, big, sizeof(big)), 0);
	CHECK_INT((int)b.len, 3 + 20 * (int)sizeof(big));
	CHECK(b.s[b.len] == '\0');
	CHECK_INT(blf_buf_need(&b, (size_t)-1), -1); /* overflow refused */
	CHECK_INT(blf_buf_need(&b, (size_t)-1 / 2), -1);
	blf_buf_free(&b);
	CHECK(b.s == NULL && b.len == 0 && b.size == 0);

	/* bounded: exactly max bytes fit, one more does not */
	b.max = 100;
	CHECK_INT(blf_buf_add(&b, big, 60), 0);
	CHECK_INT(blf_buf_add(&b, big, 40), 0);
	CHECK_INT((int)b.len, 100);
	CHECK_INT(blf_buf_add(&b, big, 1), -1);
	CHECK_INT((int)b.len, 100); /* unchanged by the refusal */
	CHECK(b.size <= 101);
	b.len = 0; /* reused for the next body */
	CHECK_INT(blf_buf_add(&b, "x", 1), 0);
	CHECK_STR(b.s, "x");
	blf_buf_free(&b);
}

static void test_snaps(void)
{
	blf_frags_t fr, fr2;
	blf_snap_t *a, *b, *c;
	blf_buf_t out = {0};
	blf_body_req_t r;
	char msg[64];

	blf_pkg_reset();
	blf_pkg_register(&p_dialog);
	blf_pkg_register(&p_presence);
	blf_pkg_serve("dialog,presence", 15, msg, sizeof(msg));
	t_snaps = t_frees = t_fail = 0;

	/* one snapshot per package and change, shared by its jobs */
	memset(&fr, 0, sizeof(fr));
	a = blf_pkg_snap(&fr, &p_dialog, NULL);
	b = blf_pkg_snap(&fr, &p_dialog, NULL);
	CHECK(a != NULL && a == b);
	CHECK_INT(t_snaps, 1);
	CHECK_INT(a->refs, 3); /* fr's and two jobs' */
	CHECK(a->pkg == &p_dialog);
	c = blf_pkg_snap(&fr, &p_presence, NULL);
	CHECK(c != NULL && c != a);
	CHECK_INT(t_snaps, 2);
	/* the change's holder let go first (jobs sent after it) */
	blf_frags_free(&fr);
	CHECK_INT(t_frees, 0);
	CHECK(fr.sn[0] == NULL && fr.sn[1] == NULL);
	blf_frags_free(&fr); /* twice is harmless */
	memset(&r, 0, sizeof(r));
	r.entity_esc = "sip:a@b";
	r.entity_len = 7;
	CHECK_INT(a->pkg->body(a, &r, &out), 0);
	CHECK_STR(out.s, "sip:a@b");
	blf_snap_put(a);
	CHECK_INT(t_frees, 0);
	blf_snap_put(b);
	CHECK_INT(t_frees, 1);
	blf_snap_hold(c);
	blf_snap_put(c);
	blf_snap_put(c);
	CHECK_INT(t_frees, 2);
	blf_snap_put(NULL);
	blf_snap_hold(NULL);

	/* the jobs sent first, the holder last */
	memset(&fr2, 0, sizeof(fr2));
	a = blf_pkg_snap(&fr2, &p_dialog, NULL);
	blf_snap_put(a);
	CHECK_INT(t_frees, 2);
	blf_frags_free(&fr2);
	CHECK_INT(t_frees, 3);

	/* a snapshot that fails (no memory): NULL, nothing kept, next try
	 * takes one */
	memset(&fr, 0, sizeof(fr));
	t_fail = 1;
	CHECK(blf_pkg_snap(&fr, &p_dialog, NULL) == NULL);
	CHECK(fr.sn[0] == NULL);
	t_fail = 0;
	a = blf_pkg_snap(&fr, &p_dialog, NULL);
	CHECK(a != NULL);
	blf_snap_put(a);
	blf_frags_free(&fr);
	CHECK_INT(t_frees, 4);
	CHECK_INT(t_snaps, t_frees);

	/* bad arguments */
	CHECK(blf_pkg_snap(NULL, &p_dialog, NULL) == NULL);
	CHECK(blf_pkg_snap(&fr, NULL, NULL) == NULL);
	blf_buf_free(&out);
	blf_pkg_reset();
}

int main(void)
{
	test_register();
	test_serve();
	test_buf();
	test_snaps();
	return tap_done("test_pkg");
}
