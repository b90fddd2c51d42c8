/*
 * blf_json.c — parsing of the alias and park services' answers (jansson).
 *
 * Answers come from another system over the network: every field is
 * checked for type and length, and anything unexpected makes the whole
 * answer invalid (alias) or skips the one entry (park list) rather than
 * guessing.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <jansson.h>

#include "blf_json.h"

/* copies a JSON string member into buf; 0 ok, 1 absent, -1 bad */
static int blf_json_str(json_t *obj, const char *name, char *buf, size_t size)
{
	json_t *v = json_object_get(obj, name);
	const char *s;
	size_t n, i;

	buf[0] = '\0';
	if(v == NULL || json_is_null(v))
		return 1;
	if(!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	if(n >= size)
		return -1;
	/* URIs, call-ids and names: no control character (nor NUL) belongs in
	 * them, and each would end up in a SIP header or an XML page */
	for(i = 0; i < n; i++)
		if((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int blf_json_alias(const char *body, size_t len, blf_alias_answer_t *out)
{
	char vis[16];
	json_t *root;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if(body == NULL)
		return -1;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if(root == NULL || !json_is_object(root))
		goto out;
	if(blf_json_str(root, "entity", out->entity, sizeof(out->entity)) != 0
			|| out->entity[0] == '\0')
		goto out;
	switch(blf_json_str(root, "visibility", vis, sizeof(vis))) {
		case 0:
			if(blf_vis_parse(vis, strlen(vis), &out->vis) < 0)
				goto out;
			out->has_vis = 1;
			break;
		case 1:
			break;
		default:
			goto out;
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int blf_json_policy(const char *body, size_t len, blf_vis_t *vis)
{
	char v[16];
	json_t *root;
	int ret = -1;

	if(body == NULL || len == 0)
		return -1;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if(root == NULL || !json_is_object(root))
		goto out;
	if(blf_json_str(root, "visibility", v, sizeof(v)) != 0)
		goto out;
	if(blf_vis_parse(v, strlen(v), vis) < 0)
		goto out;
	ret = 0;
out:
	json_decref(root);
	return ret;
}

/* an orbit name becomes the user part of a SIP URI and a number a phone
 * dials: digits, letters and * # + . _ - only */
static int blf_json_orbit_ok(const char *o)
{
	if(*o == '\0')
		return 0;
	for(; *o; o++)
		if(!isalnum((unsigned char)*o) && !strchr("*#+._-", *o))
			return 0;
	return 1;
}

int blf_json_parks(
		const char *body, size_t len, blf_park_orbit_t *out, int max)
{
	json_t *root, *orbits, *o;
	size_t i;
	int n = 0, k, dup;

	if(body == NULL || max < 0)
		return -1;
	/* a key given twice (anywhere) makes the answer ambiguous: refused
	 * whole, as an alias answer is */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if(root == NULL || !json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	orbits = json_object_get(root, "orbits");
	if(!json_is_array(orbits)) {
		json_decref(root);
		return -1;
	}
	json_array_foreach(orbits, i, o)
	{
		blf_park_orbit_t *p;

		if(n >= max)
			break;
		if(!json_is_object(o))
			continue;
		p = &out[n];
		memset(p, 0, sizeof(*p));
		if(blf_json_str(o, "orbit", p->orbit, sizeof(p->orbit)) != 0
				|| !blf_json_orbit_ok(p->orbit))
			continue;
		if(blf_json_str(o, "call_id", p->call_id, sizeof(p->call_id)) < 0
				|| blf_json_str(o, "parked", p->parked, sizeof(p->parked)) < 0
				|| blf_json_str(o, "parker", p->parker, sizeof(p->parker))
						   < 0)
			continue;
		for(dup = 0, k = 0; k < n && !dup; k++)
			dup = (strcmp(out[k].orbit, p->orbit) == 0);
		if(!dup)
			n++;
	}
	json_decref(root);
	return n;
}

int blf_json_max_age(const char *value, size_t len)
{
	size_t i = 0;
	long v;

	while(i < len) {
		while(i < len && (isspace((unsigned char)value[i]) || value[i] == ','))
			i++;
		if(len - i >= 8 && strncasecmp(value + i, "no-store", 8) == 0)
			return 0;
		if(len - i >= 8 && strncasecmp(value + i, "no-cache", 8) == 0)
			return 0;
		if(len - i >= 8 && strncasecmp(value + i, "max-age=", 8) == 0) {
			i += 8;
			if(i >= len || !isdigit((unsigned char)value[i]))
				return -1;
			for(v = 0; i < len && isdigit((unsigned char)value[i]); i++) {
				v = v * 10 + (value[i] - '0');
				if(v > 86400 * 365)
					v = 86400 * 365;
			}
			return (int)v;
		}
		while(i < len && value[i] != ',')
			i++;
	}
	return -1;
}

/* --- resource lists and per-watcher visibility (issue #12) ------------ */

/*
 * A list member's URI becomes an entity, a watcher's key and an attribute
 * of an RLMI document: sip: or sips:, then something, and nothing that
 * ends a header or an attribute (space, quote, angle bracket, control).
 */
static int blf_json_member_uri_ok(const char *u)
{
	const char *p;

	if(strncasecmp(u, "sip:", 4) == 0)
		p = u + 4;
	else if(strncasecmp(u, "sips:", 5) == 0)
		p = u + 5;
	else
		return 0;
	if(*p == '\0')
		return 0;
	for(; *p; p++)
		if((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("\"<>\\", *p))
			return 0;
	return 1;
}

/* one entry of "members" into m; 0 ok, -1 skip it */
static int blf_json_member(json_t *v, blf_list_member_t *m)
{
	const char *s;
	size_t n, i;

	memset(m, 0, sizeof(*m));
	if(json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
		if(n == 0 || n >= sizeof(m->uri))
			return -1;
		for(i = 0; i < n; i++)
			if((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return -1;
		memcpy(m->uri, s, n);
	} else if(json_is_object(v)) {
		if(blf_json_str(v, "uri", m->uri, sizeof(m->uri)) != 0)
			return -1;
		if(blf_json_str(v, "name", m->name, sizeof(m->name)) < 0)
			return -1;
	} else {
		return -1;
	}
	return blf_json_member_uri_ok(m->uri) ? 0 : -1;
}

int blf_json_list(const char *body, size_t len, char *name, size_t name_size,
		blf_list_member_t *out, int max, int *dropped)
{
	char nm[BLF_JSON_NAME_MAX];
	json_t *root, *members, *v;
	size_t i;
	int n = 0, k, dup, drop = 0, ret = -1;

	if(dropped != NULL)
		*dropped = 0;
	if(name != NULL && name_size > 0)
		name[0] = '\0';
	if(body == NULL || max < 0 || (max > 0 && out == NULL))
		return -1;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if(root == NULL || !json_is_object(root))
		goto out;
	members = json_object_get(root, "members");
	if(!json_is_array(members))
		goto out;
	if(blf_json_str(root, "name", nm, sizeof(nm)) < 0)
		goto out;
	if(name != NULL && name_size > 0) {
		if(strlen(nm) >= name_size)
			goto out;
		strcpy(name, nm);
	}
	json_array_foreach(members, i, v)
	{
		if(n >= max) {
			drop++;
			continue;
		}
		if(blf_json_member(v, &out[n]) < 0) {
			drop++;
			continue;
		}
		for(dup = 0, k = 0; k < n && !dup; k++)
			dup = (strcmp(out[k].uri, out[n].uri) == 0);
		if(dup)
			drop++;
		else
			n++;
	}
	ret = n;
out:
	if(ret < 0 && name != NULL && name_size > 0)
		name[0] = '\0';
	if(dropped != NULL)
		*dropped = drop;
	json_decref(root);
	return ret;
}

int blf_json_visibility(const char *body, size_t len, blf_vis_t *vis)
{
	/* the same shape as the policy an alias answer may carry */
	return blf_json_policy(body, len, vis);
}
