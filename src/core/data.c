/* SPDX-License-Identifier: MIT */
/* Per-core storage for modules (mqb_core_async_data): a short list of
 * named values, one a module, in the core slot freed after the entities
 * and before the MQTT client, the services, states, bus and timers. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>

#include "core/hass.h"

struct datum {
	char *key;
	void *data;
	mqb_release_fn data_free;
	struct datum *next;
};

/* The slot's state, made with the first value stored. */
struct data {
	struct datum *head;
};

static struct datum *find(struct data *d, const char *key, struct datum **prev)
{
	*prev = NULL;
	for (struct datum *x = d ? d->head : NULL; x; *prev = x, x = x->next)
		if (strcmp(x->key, key) == 0)
			return x;
	return NULL;
}

static void datum_free(struct datum *x)
{
	if (x->data_free)
		x->data_free(x->data);
	mqb__free(x->key);
	mqb__free(x);
}

/* Newest first: what a module stored last goes first. Each value is off
 * the list before its free runs, which may look keys up. */
static void data_fini(struct mqb_core *core, void *state)
{
	struct data *d = state;
	while (d->head) {
		struct datum *x = d->head;
		d->head = x->next;
		datum_free(x);
	}
	mqb__free(d);
}

static const struct core_slot_ops data_ops = {.fini = data_fini};

void *mqb_core_async_data(struct mqb_core *core, const char *key)
{
	MQB_ASSERT_LOOP(core);
	struct datum *prev, *x = key ? find(core__slot(core, CORE_SLOT_DATA), key, &prev) : NULL;
	return x ? x->data : NULL;
}

int mqb_core_async_set_data(struct mqb_core *core, const char *key, void *data,
			    mqb_release_fn data_free)
{
	MQB_ASSERT_LOOP(core);
	if (!key || !*key)
		return -EINVAL;
	struct data *d = core__slot(core, CORE_SLOT_DATA);
	struct datum *prev, *x = find(d, key, &prev);
	if (x && !data) {
		if (prev)
			prev->next = x->next;
		else
			d->head = x->next;
		datum_free(x);
		return 0;
	}
	if (x) {
		/* the old value goes after the new one is in place: its free
		 * may look the key up */
		struct datum old = *x;
		x->data = data;
		x->data_free = data_free;
		if (old.data_free)
			old.data_free(old.data);
		return 0;
	}
	if (!data)
		return 0;
	if (!d) {
		if (!(d = mqb__calloc(1, sizeof *d)))
			return -ENOMEM;
		core__slot_set(core, CORE_SLOT_DATA, d, &data_ops);
	}
	if (!(x = mqb__calloc(1, sizeof *x)) || !(x->key = mqb__strdup(key))) {
		mqb__free(x);
		return -ENOMEM;
	}
	x->data = data;
	x->data_free = data_free;
	x->next = d->head;
	d->head = x;
	return 0;
}
