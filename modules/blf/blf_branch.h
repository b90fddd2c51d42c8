/*
 * blf_branch.h — the Via branch of the module's own NOTIFY transactions,
 * pure (no Kamailio): printing it, and reading it back from an answer.
 *
 * "z9hG4bKblf.<process>.<seq>.<boot>.<nonce>", all hex. process and seq
 * find the record (blf_ntx.c); boot tells an answer from a previous run;
 * nonce is 64 bits of SipHash-2-4 of (process, seq, boot) under a secret
 * key each process draws from the kernel's random source: an answer is
 * matched only with the nonce of the NOTIFY it answers, so a host that
 * sees its own NOTIFYs' branches cannot guess another watcher's.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_BRANCH_H
#define BLF_BRANCH_H

#include <stddef.h>
#include <stdint.h>

#define BLF_BRANCH_PREFIX "z9hG4bKblf."
#define BLF_BRANCH_PREFIX_LEN (sizeof(BLF_BRANCH_PREFIX) - 1)
/* prefix, four fields of at most 8 + 8 + 8 + 16 hex digits, 3 dots, NUL */
#define BLF_BRANCH_MAX (BLF_BRANCH_PREFIX_LEN + 40 + 3 + 1)

typedef struct blf_branch {
	unsigned int pno;
	unsigned int id;
	unsigned int boot;
	uint64_t nonce;
} blf_branch_t;

/*
 * Fills key (n bytes) from the kernel's random source: getrandom(), else
 * /dev/urandom. 0, or -1 when neither gave n bytes (key then undefined).
 */
int blf_random_key(unsigned char *key, size_t n);

/* SipHash-2-4 of len bytes under key (16 bytes) */
uint64_t blf_siphash(
		const unsigned char key[16], const unsigned char *in, size_t len);

/* SipHash-2-4 of the 16 bytes of (a, b, c, 0) under key (16 bytes) */
uint64_t blf_branch_mac(const unsigned char key[16], unsigned int a,
		unsigned int b, unsigned int c);

/* prints b into buf (size bytes, NUL-terminated); its length or -1 */
int blf_branch_print(char *buf, size_t size, const blf_branch_t *b);

/*
 * Reads a branch of len bytes (not NUL-terminated). 0: one of ours, b
 * filled; -1: not ours (another prefix, or fields that do not parse).
 */
int blf_branch_parse(const char *s, size_t len, blf_branch_t *b);

#endif
