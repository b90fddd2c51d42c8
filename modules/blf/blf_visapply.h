/* blf_visapply.h — live subscriptions follow the per-watcher visibility
 * (blf_visapply.c) */
#ifndef BLF_VISAPPLY_H
#define BLF_VISAPPLY_H

#include "blf_table.h"

/* at refresh (e's slot lock held): s->vis from the cache when it knows;
 * returns the decision (BLF_VIS_NONE: end it, blf_visapply_reject_job) */
blf_vis_t blf_visapply_refresh(blf_entity_t *e, blf_sub_t *s);
/* the final NOTIFY terminated;reason=rejected, showing no call (lock held) */
blf_notify_job_t *blf_visapply_reject_job(
		blf_entity_t *e, blf_sub_t *s, blf_frags_t *fr, time_t now);
/* the answer about (entity, watcher) is new or changed (no lock held) */
void blf_visapply_pair(const str *entity, const str *watcher);
/* blf.flush_visibility: empties the cache, asks again for every live
 * (entity, watcher) pair and waits (at most http_timeout) for the answers
 * to be applied */
int blf_visapply_flush(int *flushed, int *pairs);

/* the entity policy of ekey changed (the alias cache's apply_policy hook
 * when visibility_url is on): every watcher of it decided again */
int blf_visapply_policy(const str *ekey, blf_vis_t vis);

#endif
