/*
 * fuzz.h — what the libFuzzer harnesses share: a check that aborts (so
 * libFuzzer records the input) and a reader that cuts the input into the
 * typed values and NUL-terminated strings a harness feeds the code.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_FUZZ_H
#define BLF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a property the code must keep: on failure print it and abort */
#define FZ_CHECK(cond)                                                   \
	do {                                                                 \
		if(!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,       \
					__LINE__, #cond);                                    \
			abort();                                                     \
		}                                                                \
	} while(0)

/* the input, consumed from the front */
typedef struct fz_in {
	const uint8_t *p;
	size_t n;
} fz_in_t;

static inline unsigned int fz_u8(fz_in_t *in)
{
	if(in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static inline unsigned int fz_u16(fz_in_t *in)
{
	unsigned int hi = fz_u8(in);
	return (hi << 8) | fz_u8(in);
}

static inline uint64_t fz_u64(fz_in_t *in)
{
	uint64_t v = 0;
	int i;

	for(i = 0; i < 8; i++)
		v = (v << 8) | fz_u8(in);
	return v;
}

/*
 * The next string: the bytes up to the next NUL (or the end), returned as a
 * malloc()ed NUL-terminated copy of exactly that size, so ASan sees any
 * read past its end. *len gets its length. Never NULL (an allocation
 * failure aborts: the harness is not what is under test).
 */
static inline char *fz_str(fz_in_t *in, size_t *len)
{
	const uint8_t *end = memchr(in->p, 0, in->n);
	size_t l = end ? (size_t)(end - in->p) : in->n;
	char *s = malloc(l + 1);

	if(s == NULL)
		abort();
	if(l)
		memcpy(s, in->p, l);
	s[l] = '\0';
	in->p += l;
	in->n -= l;
	if(in->n) { /* the NUL */
		in->p++;
		in->n--;
	}
	if(len)
		*len = l;
	return s;
}

#endif
