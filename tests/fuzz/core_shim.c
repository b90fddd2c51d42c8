/*
 * core_shim.c — what Kamailio's SIP parser files (compiled into a harness
 * from KAMAILIO_SRC, see the FUZZ-CORE line of fuzz_subcore.c) need of the
 * rest of the core, and nothing more: the harness builds them without
 * PKG_MALLOC, so pkg_malloc() is malloc() and ASan sees every block; the
 * logging globals say "log nothing"; the free functions of header kinds
 * the harness never has parsed abort, so a path that reaches them is seen.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <string.h>

#include "core/cfg_core.h"
#include "core/dprint.h"
#include "core/error.h"
#include "core/globals.h"
#include "core/ip_addr.h"
#include "core/ut.h"
#include "core/mem/shm.h"
#include "core/data_lump.h"
#include "core/data_lump_rpl.h"
#include "core/parser/parse_allow.h"
#include "core/parser/parse_date.h"
#include "core/parser/parse_disposition.h"
#include "core/parser/parse_identity.h"
#include "core/parser/parse_identityinfo.h"
#include "core/parser/parse_ppi_pai.h"
#include "core/parser/parse_rr.h"
#include "core/parser/parse_sipifmatch.h"
#include "core/parser/parse_subscription_state.h"
#include "core/parser/digest/digest.h"

/* logging: off (get_debug_level below every level) */
km_log_f _km_log_func = NULL;
ksr_slog_f _ksr_slog_func = NULL;
int log_stderr = 1;
int log_color = 0;
str *log_prefix_val = NULL;
volatile int dprint_crit = 0;
int process_no = 0;
struct log_level_info log_level_info[] = {{"ALERT", 0}, {"BUG", 0},
		{"CRITICAL", 0}, {"ERROR", 0}, {"WARNING", 0}, {"NOTICE", 0},
		{"INFO", 0}, {"DEBUG", 0}};
/* the core's configuration as cfg_get() reads it: all zero, so the
 * parser's own log level (sip_parser_log) is below what is printed */
static struct cfg_group_core fz_core_cfg;
void *core_cfg = &fz_core_cfg;

int get_debug_level(char *mname, int mnlen)
{
	(void)mname;
	(void)mnlen;
	return L_ALERT - 1;
}

int get_debug_facility(char *mname, int mnlen)
{
	(void)mname;
	(void)mnlen;
	return 0;
}

void dprint_color(int level)
{
	(void)level;
}

void dprint_color_reset(void)
{
}

int my_pid(void)
{
	return 0;
}

/* globals of the core the parser reads */
int ser_error = -1;
int phone2tel = 1; /* the core's default */
char ut_buf_int2str[INT2STR_MAX_LEN];
sr_shm_api_t _shm_root;

int shm_address_in(void *p)
{
	(void)p;
	return 0; /* no shm here: a path vector is pkg (malloc) */
}

char *ip_addr2a(struct ip_addr *ip)
{
	(void)ip;
	return "0.0.0.0";
}

int get_valid_proto_string(
		unsigned int iproto, int utype, int vtype, str *sproto)
{
	(void)iproto;
	(void)utype;
	(void)vtype;
	sproto->s = "udp";
	sproto->len = 3;
	return 0;
}

/* parsed bodies of header kinds the harness never parses, and lumps it
 * never adds: reaching one is a harness bug */
void free_allow_header(struct hdr_field *hf)
{
	(void)hf;
	abort();
}

void free_date(struct date_body *db)
{
	(void)db;
	abort();
}

void free_disposition(struct disposition **disp)
{
	(void)disp;
	abort();
}

void free_identity(struct identity_body *ib)
{
	(void)ib;
	abort();
}

void free_identityinfo(struct identityinfo_body *ii_b)
{
	(void)ii_b;
	abort();
}

int free_pai_ppi_body(p_id_body_t *pid_b)
{
	(void)pid_b;
	abort();
}

void free_rr(rr_t **r)
{
	(void)r;
	abort();
}

void free_sipifmatch(str **e)
{
	(void)e;
	abort();
}

void free_subscription_state(subscription_state_t **ss)
{
	(void)ss;
	abort();
}

void free_credentials(auth_body_t **b)
{
	(void)b;
	abort();
}

void free_lump_list(struct lump *l)
{
	(void)l;
	abort();
}

void free_lump_rpl(struct lump_rpl *l)
{
	(void)l;
	abort();
}

/* Kamailio 6.0's hf.c frees a parsed Diversion too (5.6 has no such
 * function; the header is not included, so the type is left open) */
int free_diversion_body(void *div_b)
{
	(void)div_b;
	abort();
}
