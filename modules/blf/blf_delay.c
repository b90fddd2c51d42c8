/*
 * blf_delay.c — the change -> NOTIFY delay statistics (blf:notify_delay_*):
 * noted by the NOTIFY sender, read by the statistics of blf_mod.c.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <time.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"

#include "blf_cfg.h"

/*
 * The delay from a change to its NOTIFYs leaving Kamailio, for operators
 * (statistics blf:notify_delay_*, xhttp_prom). blf_notify_send_all() takes
 * the time when the NOTIFYs of a change (a call state, a new subscription,
 * an expiry, a cluster update) are built, and notes them once they are
 * sent, all together (they leave together: blf_ntx_flush): the delay grows
 * with the watchers of one entity (their NOTIFYs are built one after the
 * other) and with a slow send path. notify_delay_sum_us/notify_delay_count
 * are counters (their rates give the mean); notify_delay_max_ms is the
 * largest delay of the current and the previous BLF_DELAY_WINDOW seconds,
 * an alerting gauge that falls back once the slow NOTIFYs are over.
 */
#define BLF_DELAY_WINDOW 60

typedef struct blf_delay {
	gen_lock_t lock;
	time_t window;			/* start of the current window */
	unsigned long max_cur;	/* us, current window */
	unsigned long max_prev; /* us, the window before */
} blf_delay_t;

static blf_delay_t *blf_delay = NULL;

int blf_delay_init(void)
{
	blf_delay = shm_malloc(sizeof(*blf_delay));
	if(blf_delay == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_delay, 0, sizeof(*blf_delay));
	if(lock_init(&blf_delay->lock) == NULL) {
		LM_ERR("cannot init the notify delay lock\n");
		shm_free(blf_delay);
		blf_delay = NULL;
		return -1;
	}
	return 0;
}

void blf_delay_destroy(void)
{
	if(blf_delay == NULL)
		return;
	lock_destroy(&blf_delay->lock);
	shm_free(blf_delay);
	blf_delay = NULL;
}

/* moves the windows on to now; the lock is held */
static void blf_delay_roll(time_t now)
{
	time_t w = now - now % BLF_DELAY_WINDOW;

	if(w == blf_delay->window)
		return;
	if(w - blf_delay->window == BLF_DELAY_WINDOW)
		blf_delay->max_prev = blf_delay->max_cur;
	else
		blf_delay->max_prev = 0;
	blf_delay->max_cur = 0;
	blf_delay->window = w;
}

unsigned long long blf_delay_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL
		   + (unsigned long long)ts.tv_nsec / 1000;
}

/* n NOTIFYs sent for a change whose NOTIFYs were built from t0_us on: one
 * lock (shared by every process) per change, not per NOTIFY */
void blf_delay_note(unsigned long long t0_us, unsigned int n)
{
	unsigned long long now = blf_delay_now_us();
	unsigned long us = now > t0_us ? (unsigned long)(now - t0_us) : 0;

	update_stat(blf_st_delay_sum_us, (long)us * (long)n);
	update_stat(blf_st_delay_count, (long)n);
	if(blf_delay == NULL)
		return;
	lock_get(&blf_delay->lock);
	blf_delay_roll(time(NULL));
	if(us > blf_delay->max_cur)
		blf_delay->max_cur = us;
	lock_release(&blf_delay->lock);
}

unsigned long blf_delay_max_ms(void)
{
	unsigned long us;

	if(blf_delay == NULL)
		return 0;
	lock_get(&blf_delay->lock);
	blf_delay_roll(time(NULL));
	us = blf_delay->max_cur;
	if(blf_delay->max_prev > us)
		us = blf_delay->max_prev;
	lock_release(&blf_delay->lock);
	return (us + 999) / 1000; /* rounded up: a slow NOTIFY never reads 0 */
}
