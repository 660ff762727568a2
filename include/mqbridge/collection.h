/* SPDX-License-Identifier: MIT */
/* Home Assistant's YAML collection (helpers/collection.py) for the helper
 * integrations whose block maps object ids to options (input_boolean:,
 * counter:, timer:): one item and its entity an id, and the integration's
 * reload service, which reads the file again and sets the new block
 * against the running one, id by id: the entities of ids gone are
 * removed, changed ones updated, new ones added, and unchanged ones left
 * alone. */
#ifndef MQBRIDGE_COLLECTION_H
#define MQBRIDGE_COLLECTION_H

#include <stdbool.h>
#include <stddef.h>

#include "mqbridge/config.h"
#include "mqbridge/entity.h"
#include "mqbridge/job.h"
#include "mqbridge/platform.h"

struct mqb_collection_ops {
	/* Each item is this many bytes of the module's, zeroed at first,
	 * freed by the collection. */
	size_t item_size;
	/* Add item's entity from en, whose options were checked (the
	 * component's check), and put it in *e: for a new id (carried
	 * false), and again with the item as it was (carried true) after
	 * its options changed, as Home Assistant's async_update_config
	 * keeps what the entity holds, or after mqb_collection_async_readd.
	 * 0, or a negative errno (logged with en->path; a new entry is left
	 * out). Thread: loop. */
	int (*async_add)(struct mqb_integration *in, void *item,
			 const struct mqb_component_entry *en, bool carried,
			 struct mqb_entity **e);
	/* Free what item holds (not item), when its id is gone or the core
	 * is freed (its entity gone already). May be NULL. Thread: loop. */
	void (*fini)(void *item);
	/* Room to grow without a new API version; zero. */
	void *reserved[2];
};

/* The component's async_setup, given its ops (a static table): the
 * collection of in, kept with the core, takes entries[0..n) (each
 * created), and the service <integration>.reload is registered, which
 * calls mqb_integration_async_reload and waits for it. 0, or the first
 * error (-EEXIST: in has a collection; an entry's error: the others are
 * still created). Thread: loop, in the component's async_setup. */
int mqb_collection_async_setup(struct mqb_integration *in, const struct mqb_collection_ops *ops,
			       const struct mqb_component_entry *entries, size_t n);

/* The component's async_reload, as it is (.async_reload =
 * mqb_collection_async_reload): the new block set against the running
 * one id by id, as the top of this file says, an entry's options
 * compared as JSON (mqb_conf_to_json), so a change of layout or quoting
 * alone changes nothing. 0 (an entry's error is logged with its path and
 * the others are taken), or -ENOENT without a collection. Thread: loop. */
int mqb_collection_async_reload(struct mqb_integration *in,
				const struct mqb_component_entry *entries, size_t n);

/* The item of an id in in's collection, or NULL. Thread: loop. */
void *mqb_collection_async_get(struct mqb_integration *in, const char *key);

/* Announce item anew: its entity removed and added again (async_add,
 * carried) with the options it has, for a change the entity's
 * description holds (an input_select's options, in its discovery).
 * 0, -ENOENT (not an item of in), or async_add's error. Thread: loop. */
int mqb_collection_async_readd(struct mqb_integration *in, void *item);

/* What every entry of such a block must be (Home Assistant's
 * cv.schema_with_slug_keys): its key a slug ("invalid slug Porch Light
 * (try porch_light)"), its value a mapping, or null as an empty one,
 * checked against schema (required keys too) and stored into conf
 * (which may be NULL). Errors at their file:line:column. Returns the
 * problems found. Thread: any. */
size_t mqb_collection_check(const struct mqb_component_entry *en, const struct mqb_schema *schema,
			    void *conf, struct mqb_conf_errors *errs);

/* Add the entity of en to in's platform of its own domain
 * (input_boolean.<key>): info's object_id is en's key, the rest of info
 * the caller's; ops and item as mqb_platform_async_add_entity takes them
 * (item is not freed on error: the collection's). For async_add.
 * Thread: loop. */
int mqb_collection_add_entity(struct mqb_integration *in, const struct mqb_component_entry *en,
			      struct mqb_entity_info *info, const struct mqb_entity_ops *ops,
			      void *item, struct mqb_entity **e);

/* A helper module's component and descriptor, the one thing it exports:
 * a MAPPING block checked by check_, set up and reloaded as the
 * collection of ops_ (a struct mqb_collection_ops).
 *   MQB_COLLECTION_MODULE("counter", collection, check); */
#define MQB_COLLECTION_MODULE(name_, ops_, check_) \
	static int mqb_collection_setup_(struct mqb_integration *in, \
					 const struct mqb_component_entry *entries, size_t n) \
	{ \
		return mqb_collection_async_setup(in, &(ops_), entries, n); \
	} \
	static const struct mqb_component mqb_collection_component_ = { \
		.shape = MQB_COMPONENT_MAPPING, \
		.check = (check_), \
		.async_setup = mqb_collection_setup_, \
		.async_reload = mqb_collection_async_reload, \
	}; \
	const struct mqb_platform_desc mqb_platform_descriptor = { \
		.api_version = MQB_PLATFORM_API_VERSION, \
		.name = (name_), \
		.component = &mqb_collection_component_, \
	}

/* A problem with option key of en (NULL: the entry as a whole), at its
 * file:line:column with the path "<en->path>.<key>": for the checks
 * between options that a schema cannot make. Thread: any. */
void mqb_collection_error(struct mqb_conf_errors *errs, const struct mqb_component_entry *en,
			  const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* en's options into conf as mqb_collection_check stores them, for an
 * entry checked already (so nothing is reported). Thread: any. */
void mqb_collection_conf(const struct mqb_component_entry *en, const struct mqb_schema *schema,
			 void *conf);

#endif
