/*
 * blf_vis.h — what a watcher may see of an entity's calls, decided in one
 * place, pure (no Kamailio): full (everything), state (states only, no
 * identities, call-ids or tags) or none (nothing: a SUBSCRIBE gets 403, a
 * live subscription ends with terminated;reason=rejected).
 *
 * The inputs, most specific first:
 *  - the per-watcher answer of visibility_url (SPEC "Per-watcher visibility
 *    over HTTP", issue 12): when there is one, it is the policy;
 *  - else the entity's policy from its alias answer ("visibility");
 *  - else the global `visibility` parameter.
 * Then a ceiling: a wildcard subscription never sees more of a member than
 * it was granted itself. The entity itself always sees everything of its
 * own calls. An input out of range (a corrupt row, a future value) reads
 * as none: unknown never shows more.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_VIS_H
#define BLF_VIS_H

#include "blf_xml.h"

#define BLF_VIS_UNSET (-1) /* an input that says nothing */

/*
 * global: the visibility parameter; entity: the alias answer's policy or
 * BLF_VIS_UNSET; watcher: the per-watcher answer or BLF_VIS_UNSET (none
 * until visibility_url exists); cap: the most the subscription may see
 * (a wildcard's own visibility) or BLF_VIS_UNSET; self: the watcher is the
 * entity. BLF_VIS_NONE means: refuse.
 */
blf_vis_t blf_vis_decide(
		blf_vis_t global, int entity, int watcher, int cap, int self);

#endif
