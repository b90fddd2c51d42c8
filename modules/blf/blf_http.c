/*
 * blf_http.c — the HTTP process: every alias lookup and park-list poll goes
 * through libcurl here, never in a SIP worker.
 *
 * SIP workers put alias keys on a bounded shm ring and write one byte on a
 * pipe; the process sleeps in curl_multi_poll() on that pipe and on its
 * transfers, so a request starts at once and answers are applied as they
 * arrive. The multi handle keeps connections to the services alive between
 * requests. When the services are slow or down, the ring fills up and
 * further misses are simply not asked (the URI stands for itself until a
 * later lookup asks again): SIP never waits for room.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <poll.h>
#include <curl/curl.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/pt.h"
#include "core/cfg/cfg_struct.h"

#include "blf.h"
#include "blf_alias.h"
#include "blf_json.h"
#include "blf_park.h"
#include "blf_viscache.h"

#define BLF_HTTPQ_SIZE 1024		 /* alias lookups waiting to be asked */
#define BLF_HTTP_MAX_FLIGHT 64	 /* transfers at once */
#define BLF_HTTP_SWEEP_MS 1000	 /* between passes over the alias cache */

typedef struct blf_httpq {
	gen_lock_t lock;
	unsigned int head; /* next to take */
	unsigned int count;
	char keys[BLF_HTTPQ_SIZE][BLF_KEY_MAX];
} blf_httpq_t;

static blf_httpq_t *blf_httpq = NULL;
static int blf_http_pipe[2] = {-1, -1};

int blf_http_needed(void)
{
	return blf_cfg.alias_url.len > 0 || blf_cfg.park_url.len > 0
		   || blf_cfg.visibility_url.len > 0;
}

/* mod_init: the ring and the wake-up pipe, before any fork */
int blf_http_init(void)
{
	if(!blf_http_needed())
		return 0;
	blf_httpq = shm_malloc(sizeof(blf_httpq_t));
	if(blf_httpq == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_httpq, 0, sizeof(blf_httpq_t));
	lock_init(&blf_httpq->lock);
	if(pipe(blf_http_pipe) < 0) {
		LM_ERR("cannot create the HTTP wake-up pipe: %s\n", strerror(errno));
		return -1;
	}
	fcntl(blf_http_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(blf_http_pipe[1], F_SETFL, O_NONBLOCK);
	register_procs(1);
	cfg_register_child(1);
	return 0;
}

/* queues an alias lookup; -1 when the ring is full (nothing waits) */
int blf_http_ask_alias(const str *key)
{
	unsigned int i;
	char b = 1;

	if(blf_httpq == NULL || key->len >= BLF_KEY_MAX)
		return -1;
	lock_get(&blf_httpq->lock);
	if(blf_httpq->count == BLF_HTTPQ_SIZE) {
		lock_release(&blf_httpq->lock);
		LM_WARN("HTTP queue full: alias %.*s not asked now\n", key->len,
				key->s);
		return -1;
	}
	i = (blf_httpq->head + blf_httpq->count) % BLF_HTTPQ_SIZE;
	memcpy(blf_httpq->keys[i], key->s, key->len);
	blf_httpq->keys[i][key->len] = '\0';
	blf_httpq->count++;
	lock_release(&blf_httpq->lock);
	/* a full pipe already means "wake up": EAGAIN is fine */
	if(write(blf_http_pipe[1], &b, 1) < 0 && errno != EAGAIN)
		LM_ERR("cannot wake the HTTP process: %s\n", strerror(errno));
	return 0;
}

/* a visibility question is on blf_viscache.c's ring: wake up */
void blf_http_wake(void)
{
	char b = 1;

	if(blf_http_pipe[1] >= 0 && write(blf_http_pipe[1], &b, 1) < 0
			&& errno != EAGAIN)
		LM_ERR("cannot wake the HTTP process: %s\n", strerror(errno));
}

static int blf_http_take(char *key)
{
	int got = 0;

	lock_get(&blf_httpq->lock);
	if(blf_httpq->count) {
		strcpy(key, blf_httpq->keys[blf_httpq->head]);
		blf_httpq->head = (blf_httpq->head + 1) % BLF_HTTPQ_SIZE;
		blf_httpq->count--;
		got = 1;
	}
	lock_release(&blf_httpq->lock);
	return got;
}

/* ---- transfers ---- */

typedef enum {
	BLF_XFER_ALIAS = 0,
	BLF_XFER_PARK,
	BLF_XFER_VIS
} blf_xfer_kind_t;

typedef struct blf_xfer {
	blf_xfer_kind_t kind;
	CURL *h;
	char key[BLF_KEY_MAX];
	char watcher[BLF_KEY_MAX]; /* BLF_XFER_VIS: key is the entity */
	char *body;
	size_t len;
	int max_age;
	int truncated;
} blf_xfer_t;

static size_t blf_http_write(char *p, size_t size, size_t n, void *arg)
{
	blf_xfer_t *x = arg;
	size_t add = size * n;
	char *nb;

	if(x->len + add > (size_t)blf_cfg.http_max_body) {
		x->truncated = 1;
		return 0; /* aborts the transfer */
	}
	nb = realloc(x->body, x->len + add + 1);
	if(nb == NULL)
		return 0;
	x->body = nb;
	memcpy(x->body + x->len, p, add);
	x->len += add;
	x->body[x->len] = '\0';
	return add;
}

static size_t blf_http_header(char *p, size_t size, size_t n, void *arg)
{
	blf_xfer_t *x = arg;
	size_t len = size * n;

	if(len > 14 && strncasecmp(p, "cache-control:", 14) == 0)
		x->max_age = blf_json_max_age(p + 14, len - 14);
	return len;
}

static void blf_xfer_free(blf_xfer_t *x)
{
	if(x->h)
		curl_easy_cleanup(x->h);
	free(x->body);
	free(x);
}

static blf_xfer_t *blf_xfer_new(CURLM *m, blf_xfer_kind_t kind, const char *url)
{
	blf_xfer_t *x;

	x = calloc(1, sizeof(*x));
	if(x == NULL)
		return NULL;
	x->kind = kind;
	x->max_age = -1;
	x->h = curl_easy_init();
	if(x->h == NULL) {
		free(x);
		return NULL;
	}
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, (long)blf_cfg.http_timeout);
	curl_easy_setopt(
			x->h, CURLOPT_CONNECTTIMEOUT_MS, (long)blf_cfg.http_timeout);
	curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, blf_http_write);
	curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, blf_http_header);
	curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->h, CURLOPT_USERAGENT, "kamailio-blf");
	curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* a Content-Length over the bound fails the transfer at once */
	curl_easy_setopt(x->h, CURLOPT_MAXFILESIZE, (long)blf_cfg.http_max_body);
	if(curl_multi_add_handle(m, x->h) != CURLM_OK) {
		blf_xfer_free(x);
		return NULL;
	}
	update_stat(blf_st_http_requests, 1);
	return x;
}

static void blf_http_start_alias(CURLM *m, const char *key, int *flight)
{
	char url[2048], uri[BLF_KEY_MAX + 8];
	blf_xfer_t *x;
	char *enc;
	CURL *tmp;

	tmp = curl_easy_init();
	snprintf(uri, sizeof(uri), "sip:%s", key);
	enc = tmp ? curl_easy_escape(tmp, uri, 0) : NULL;
	if(enc == NULL) {
		if(tmp)
			curl_easy_cleanup(tmp);
		return;
	}
	snprintf(url, sizeof(url), "%.*s%suri=%s", blf_cfg.alias_url.len,
			blf_cfg.alias_url.s,
			memchr(blf_cfg.alias_url.s, '?', blf_cfg.alias_url.len) ? "&"
																	 : "?",
			enc);
	curl_free(enc);
	curl_easy_cleanup(tmp);
	x = blf_xfer_new(m, BLF_XFER_ALIAS, url);
	if(x == NULL) {
		str k = {(char *)key, strlen(key)};
		blf_alias_answer(&k, 0, NULL, 0, -1);
		return;
	}
	strcpy(x->key, key);
	(*flight)++;
}

/* GET visibility_url?entity=sip:..&watcher=sip:.. */
static void blf_http_start_vis(
		CURLM *m, const char *entity, const char *watcher, int *flight)
{
	char url[2048], uri[BLF_KEY_MAX + 8];
	char *ee = NULL, *ew = NULL;
	blf_xfer_t *x = NULL;
	CURL *tmp;

	tmp = curl_easy_init();
	if(tmp) {
		snprintf(uri, sizeof(uri), "sip:%s", entity);
		ee = curl_easy_escape(tmp, uri, 0);
		snprintf(uri, sizeof(uri), "sip:%s", watcher);
		ew = curl_easy_escape(tmp, uri, 0);
	}
	if(ee && ew) {
		snprintf(url, sizeof(url), "%.*s%sentity=%s&watcher=%s",
				blf_cfg.visibility_url.len, blf_cfg.visibility_url.s,
				memchr(blf_cfg.visibility_url.s, '?',
						blf_cfg.visibility_url.len)
						? "&"
						: "?",
				ee, ew);
		x = blf_xfer_new(m, BLF_XFER_VIS, url);
	}
	if(ee)
		curl_free(ee);
	if(ew)
		curl_free(ew);
	if(tmp)
		curl_easy_cleanup(tmp);
	if(x == NULL) {
		blf_viscache_answer(entity, watcher, 0, NULL, 0, -1);
		return;
	}
	strcpy(x->key, entity);
	strcpy(x->watcher, watcher);
	(*flight)++;
}

static const char *blf_xfer_name(blf_xfer_kind_t k)
{
	return k == BLF_XFER_ALIAS ? "alias"
		   : k == BLF_XFER_VIS ? "visibility"
							   : "park";
}

static void blf_http_done(CURLM *m, CURLMsg *msg, int *flight)
{
	blf_xfer_t *x = NULL;
	long status = 0;
	str k;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
	if(x == NULL)
		return;
	if(msg->data.result == CURLE_FILESIZE_EXCEEDED)
		x->truncated = 1;
	else if(msg->data.result == CURLE_OK)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	else
		LM_NOTICE("HTTP %s request failed: %s\n", blf_xfer_name(x->kind),
				curl_easy_strerror(msg->data.result));
	if(x->truncated) {
		/* a longer answer than http_max_body: an error, counted */
		update_stat(blf_st_http_oversize, 1);
		LM_NOTICE("HTTP %s answer longer than http_max_body (%d): "
				  "dropped\n",
				blf_xfer_name(x->kind),
				blf_cfg.http_max_body);
		status = 0;
	}
	curl_multi_remove_handle(m, x->h);
	(*flight)--;
	if(x->kind == BLF_XFER_ALIAS) {
		k.s = x->key;
		k.len = strlen(x->key);
		blf_alias_answer(&k, (int)status, x->body, x->len, x->max_age);
	} else if(x->kind == BLF_XFER_VIS) {
		blf_viscache_answer(
				x->key, x->watcher, (int)status, x->body, x->len, x->max_age);
	} else {
		if(status != 200)
			update_stat(blf_st_http_errors, 1);
		blf_park_answer((int)status, x->body, x->len);
	}
	blf_xfer_free(x);
}

static unsigned long long blf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void blf_http_loop(void)
{
	char key[BLF_KEY_MAX], wkey[BLF_KEY_MAX], drain[64];
	struct curl_waitfd wfd;
	unsigned long long now, next_park = 0, next_sweep = 0;
	blf_xfer_t *park = NULL;
	CURLMsg *msg;
	CURLM *m;
	int running, left, flight = 0, timeout;

	if(curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		LM_CRIT("cannot initialise libcurl\n");
		return;
	}
	m = curl_multi_init();
	if(m == NULL) {
		LM_CRIT("cannot create the curl multi handle\n");
		return;
	}
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
	for(;;) {
		cfg_update();
		while(flight < BLF_HTTP_MAX_FLIGHT && blf_http_take(key))
			blf_http_start_alias(m, key, &flight);
		while(flight < BLF_HTTP_MAX_FLIGHT && blf_viscache_take(key, wkey))
			blf_http_start_vis(m, key, wkey, &flight);
		now = blf_now_ms();
		if(blf_cfg.park_url.len && park == NULL && now >= next_park) {
			park = blf_xfer_new(m, BLF_XFER_PARK, blf_cfg.park_url.s);
			if(park)
				flight++;
			next_park = now + (unsigned long long)blf_cfg.park_poll_interval
									  * 1000;
		}
		if(now >= next_sweep) {
			/* ages the alias cache out (alias_cache_idle) */
			blf_alias_sweep();
			blf_viscache_sweep();
			next_sweep = now + BLF_HTTP_SWEEP_MS;
		}
		curl_multi_perform(m, &running);
		while((msg = curl_multi_info_read(m, &left))) {
			if(msg->msg != CURLMSG_DONE)
				continue;
			if(park && msg->easy_handle == park->h)
				park = NULL;
			blf_http_done(m, msg, &flight);
		}
		timeout = 1000;
		if(blf_cfg.park_url.len && park == NULL) {
			now = blf_now_ms();
			timeout = next_park > now ? (int)(next_park - now) : 0;
			if(timeout > 1000)
				timeout = 1000;
		}
		wfd.fd = blf_http_pipe[0];
		wfd.events = CURL_WAIT_POLLIN;
		wfd.revents = 0;
		curl_multi_poll(m, &wfd, 1, timeout, NULL);
		while(read(blf_http_pipe[0], drain, sizeof(drain)) > 0)
			;
	}
}

/* child_init(PROC_MAIN): start the HTTP process */
int blf_http_child_init(int rank)
{
	int pid;

	if(rank != PROC_MAIN || !blf_http_needed())
		return 0;
	pid = fork_process(PROC_RPC, "BLF HTTP", 1);
	if(pid < 0) {
		LM_ERR("cannot start the HTTP process\n");
		return -1;
	}
	if(pid == 0) {
		if(cfg_child_init())
			return -1;
		blf_http_loop();
		exit(-1);
	}
	return 0;
}
