/*
 * blf_vis.c — the visibility decision (see blf_vis.h). Pure: no Kamailio,
 * no globals; every input is an argument so SUBSCRIBE handling, wildcard
 * members, restored subscriptions and (issue 12) per-watcher answers all
 * reach the same answer.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "blf_vis.h"

/* an input: unset stays unset, anything out of range is none */
static int blf_vis_in(int v)
{
	if(v == BLF_VIS_UNSET)
		return BLF_VIS_UNSET;
	if(v < (int)BLF_VIS_FULL || v > (int)BLF_VIS_NONE)
		return BLF_VIS_NONE;
	return v;
}

blf_vis_t blf_vis_decide(
		blf_vis_t global, int entity, int watcher, int cap, int self)
{
	int v;

	/* a phone watching its own line sees its own calls, whatever the
	 * policy towards others */
	if(self)
		return BLF_VIS_FULL;
	v = blf_vis_in(watcher);
	if(v == BLF_VIS_UNSET)
		v = blf_vis_in(entity);
	if(v == BLF_VIS_UNSET)
		v = blf_vis_in((int)global);
	if(v == BLF_VIS_UNSET)
		v = BLF_VIS_NONE; /* a global that is unset: fail closed */
	/* the enum grows towards less visible: the ceiling is a max */
	cap = blf_vis_in(cap);
	if(cap != BLF_VIS_UNSET && cap > v)
		v = cap;
	return (blf_vis_t)v;
}
