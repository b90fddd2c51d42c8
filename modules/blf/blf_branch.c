/*
 * blf_branch.c — the Via branch of the module's own NOTIFY transactions,
 * pure (see blf_branch.h). It reads bytes any host can send, so it checks
 * every length before it reads.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "blf_branch.h"

int blf_random_key(unsigned char *key, size_t n)
{
	size_t got = 0;
	ssize_t r;
	int fd;

	while(got < n) {
		r = getrandom(key + got, n - got, 0);
		if(r < 0 && errno == EINTR)
			continue;
		if(r <= 0)
			break;
		got += (size_t)r;
	}
	if(got < n && (fd = open("/dev/urandom", O_RDONLY)) >= 0) {
		got = 0;
		while(got < n) {
			r = read(fd, key + got, n - got);
			if(r < 0 && errno == EINTR)
				continue;
			if(r <= 0)
				break;
			got += (size_t)r;
		}
		close(fd);
	}
	return got == n ? 0 : -1;
}

/* ---- SipHash-2-4 (Aumasson, Bernstein), 64-bit output ---- */

#define BLF_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define BLF_SIPROUND                \
	do {                            \
		v0 += v1;                   \
		v1 = BLF_ROTL(v1, 13);      \
		v1 ^= v0;                   \
		v0 = BLF_ROTL(v0, 32);      \
		v2 += v3;                   \
		v3 = BLF_ROTL(v3, 16);      \
		v3 ^= v2;                   \
		v0 += v3;                   \
		v3 = BLF_ROTL(v3, 21);      \
		v3 ^= v0;                   \
		v2 += v1;                   \
		v1 = BLF_ROTL(v1, 17);      \
		v1 ^= v2;                   \
		v2 = BLF_ROTL(v2, 32);      \
	} while(0)

static uint64_t blf_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for(i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t blf_siphash(
		const unsigned char key[16], const unsigned char *in, size_t len)
{
	uint64_t k0 = blf_le64(key), k1 = blf_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t m, b = ((uint64_t)len) << 56;
	unsigned char last[8];
	size_t i, left = len & 7;

	for(i = 0; i + 8 <= len; i += 8) {
		m = blf_le64(in + i);
		v3 ^= m;
		BLF_SIPROUND;
		BLF_SIPROUND;
		v0 ^= m;
	}
	memset(last, 0, sizeof(last));
	memcpy(last, in + i, left);
	b |= blf_le64(last);
	v3 ^= b;
	BLF_SIPROUND;
	BLF_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	BLF_SIPROUND;
	BLF_SIPROUND;
	BLF_SIPROUND;
	BLF_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t blf_branch_mac(const unsigned char key[16], unsigned int a,
		unsigned int b, unsigned int c)
{
	unsigned char in[16];
	unsigned int v[4] = {a, b, c, 0};
	int i, k;

	for(i = 0; i < 4; i++)
		for(k = 0; k < 4; k++)
			in[i * 4 + k] = (unsigned char)(v[i] >> (8 * k));
	return blf_siphash(key, in, sizeof(in));
}

/* ---- the branch ---- */

/* v in lowercase hex at p, without leading zeros ("%x"), or all of
 * width digits zero-padded when width > 0 ("%016llx"); the end */
static char *blf_branch_put_hex(char *p, uint64_t v, int width)
{
	static const char hx[] = "0123456789abcdef";
	char d[16];
	int i = 0;

	do {
		d[i++] = hx[v & 0xf];
		v >>= 4;
	} while(v && i < 16);
	while(i < width)
		d[i++] = '0';
	while(i)
		*p++ = d[--i];
	return p;
}

/* the bytes snprintf(BLF_BRANCH_PREFIX "%x.%x.%x.%016llx") writes, without
 * its format parsing (once per NOTIFY: bench/README.md) */
int blf_branch_print(char *buf, size_t size, const blf_branch_t *b)
{
	char tmp[BLF_BRANCH_MAX], *p = tmp;
	size_t n;

	if(buf == NULL || b == NULL)
		return -1;
	memcpy(p, BLF_BRANCH_PREFIX, BLF_BRANCH_PREFIX_LEN);
	p += BLF_BRANCH_PREFIX_LEN;
	p = blf_branch_put_hex(p, b->pno, 0);
	*p++ = '.';
	p = blf_branch_put_hex(p, b->id, 0);
	*p++ = '.';
	p = blf_branch_put_hex(p, b->boot, 0);
	*p++ = '.';
	p = blf_branch_put_hex(p, b->nonce, 16);
	n = (size_t)(p - tmp);
	if(n >= size)
		return -1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return (int)n;
}

/* a hex field of 1..max digits ending at '.' (dot set) or at the end;
 * *p and *len are moved past it and its dot */
static int blf_branch_hex(
		const char **p, size_t *len, int max, int dot, uint64_t *v)
{
	size_t i;
	int c;

	*v = 0;
	for(i = 0; i < *len && (*p)[i] != '.'; i++) {
		if((int)i == max)
			return -1;
		c = (unsigned char)(*p)[i];
		if(c >= '0' && c <= '9')
			c -= '0';
		else if(c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if(c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return -1;
		*v = (*v << 4) | (uint64_t)c;
	}
	if(i == 0)
		return -1;
	if(dot) {
		if(i == *len)
			return -1; /* a dot must follow */
		i++;
	} else if(i != *len) {
		return -1; /* the last field ends the branch */
	}
	*p += i;
	*len -= i;
	return 0;
}

int blf_branch_parse(const char *s, size_t len, blf_branch_t *b)
{
	uint64_t v[4];
	int i;

	if(s == NULL || b == NULL || len <= BLF_BRANCH_PREFIX_LEN
			|| memcmp(s, BLF_BRANCH_PREFIX, BLF_BRANCH_PREFIX_LEN) != 0)
		return -1;
	s += BLF_BRANCH_PREFIX_LEN;
	len -= BLF_BRANCH_PREFIX_LEN;
	for(i = 0; i < 4; i++)
		if(blf_branch_hex(&s, &len, i < 3 ? 8 : 16, i < 3, &v[i]) < 0)
			return -1;
	b->pno = (unsigned int)v[0];
	b->id = (unsigned int)v[1];
	b->boot = (unsigned int)v[2];
	b->nonce = v[3];
	return 0;
}
