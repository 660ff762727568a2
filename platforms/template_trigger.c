/* SPDX-License-Identifier: MIT */
/* The template integration's trigger-based blocks, Home Assistant's
 * TriggerUpdateCoordinator: `template: - triggers: ... sensor: [...]`
 * with conditions, actions and variables. A firing renders the block's
 * variables under the trigger's, tests its conditions, runs its actions
 * and waits for them, then renders each entity of the block with the
 * variables the run left (a response_variable, a variables step). The
 * block's entities are the state-based ones' (template.c), rendering on
 * firings instead of on what they read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqbridge/condition.h"
#include "mqbridge/core.h"
#include "mqbridge/error.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/platform.h"
#include "mqbridge/script.h"
#include "mqbridge/trigger.h"

#include "script_util.h"
#include "template_entity.h"

#define SUB "template"
#define DATA_KEY "template.triggers"

/* Entity domains a block may name that the template integration has not
 * (template.c refuses a state-based one with the same words). */
static const char *const other_domains[] = {"image"};

static bool is_trigger_block(const struct mqb_component_entry *en)
{
	return mqb_conf_kind(en->node) == MQB_CONF_MAP &&
	       (mqb_conf_get(en->node, "trigger") || mqb_conf_get(en->node, "triggers"));
}

static int kind_of(const char *key)
{
	for (int k = 0; k < TPL_KINDS; k++)
		if (strcmp(key, tpl_domain_of[k]) == 0)
			return k;
	return -1;
}

/* Each entity of the block: fn(ud, kind, its node, its path), the paths
 * as the loader names a state-based block's items. */
static void each_entity(const struct mqb_component_entry *en,
			void (*fn)(void *ud, enum kind kind, const struct mqb_conf_node *node,
				   const char *path),
			void *ud)
{
	char p[256], q[288];
	for (size_t i = 0; i < mqb_conf_len(en->node); i++) {
		const char *k = mqb_conf_scalar(mqb_conf_key(en->node, i), NULL);
		int kind = k ? kind_of(k) : -1;
		if (kind < 0)
			continue;
		const struct mqb_conf_node *v = mqb_conf_value(en->node, i);
		snprintf(p, sizeof p, "%s.%s", en->path, k);
		if (mqb_conf_kind(v) == MQB_CONF_MAP)
			fn(ud, (enum kind)kind, v, p);
		for (size_t j = 0; mqb_conf_kind(v) == MQB_CONF_SEQ && j < mqb_conf_len(v); j++) {
			snprintf(q, sizeof q, "%s[%zu]", p, j);
			fn(ud, (enum kind)kind, mqb_conf_item(v, j), q);
		}
	}
}

/* ---- checking ---------------------------------------------------------------- */

struct checking {
	struct mqb_conf_errors *errs;
	size_t found;
};

static void check_entity(void *ud, enum kind kind, const struct mqb_conf_node *node,
			 const char *path)
{
	struct checking *c = ud;
	if (mqb_conf_kind(node) != MQB_CONF_MAP) {
		mqb_conf_error_at(c->errs, node, path, "expected a mapping");
		c->found++;
		return;
	}
	c->found += tpl_check_entity(kind, node, path, c->errs);
}

static size_t check_block(const struct mqb_component_entry *en, struct mqb_conf_errors *errs)
{
	struct su_parts p;
	char vpath[256];
	const struct mqb_conf_node *vars = mqb_conf_get(en->node, "variables");
	struct checking c = {errs, su_read_parts(en->node, en->path, errs, &p)};
	c.found += mqb_triggers_compile(p.triggers, p.tpath, errs, NULL);
	if (p.conditions)
		c.found += mqb_condition_compile(p.conditions, p.cpath, errs, NULL);
	if (p.actions)
		c.found += mqb_script_compile(p.actions, p.apath, NULL, errs, NULL);
	if (vars)
		c.found += mqb_script_variables_compile(
			vars, su_path(vpath, sizeof vpath, en->path, ".variables"), errs, NULL);
	const struct mqb_conf_node *uid = mqb_conf_get(en->node, "unique_id");
	if (uid && mqb_conf_kind(uid) != MQB_CONF_SCALAR) {
		mqb_conf_error_at(errs, uid, en->path, "unique_id: expected a string");
		c.found++;
	}
	for (size_t i = 0; i < mqb_conf_len(en->node); i++) {
		const char *k = mqb_conf_scalar(mqb_conf_key(en->node, i), NULL);
		for (size_t j = 0; k && j < MQB_ARRAY_SIZE(other_domains); j++)
			if (strcmp(k, other_domains[j]) == 0) {
				mqb_conf_error_at(errs, mqb_conf_key(en->node, i), en->path,
						  "template %s entities are not supported: mqbridge "
						  "has no way to show Home Assistant a picture", k);
				c.found++;
			}
	}
	each_entity(en, check_entity, &c);
	return c.found;
}

static void check(const struct mqb_component_entry *entries, size_t n,
		  struct mqb_conf_errors *errs)
{
	/* a block without triggers holds state-based entities: the loader
	 * checks those as its platforms' items */
	for (size_t i = 0; i < n; i++)
		if (is_trigger_block(&entries[i]))
			check_block(&entries[i], errs);
}

/* ---- blocks ------------------------------------------------------------------- */

struct tpl_block {
	struct mqb_core *core;
	char *path;                         /* "template[2]", for logs */
	json_t *raw;                        /* its configuration, for a reload */
	struct mqb_triggers *triggers;
	struct mqb_condition *cond;         /* NULL: none */
	struct mqb_script *script;          /* the actions; NULL: none */
	struct mqb_script_variables *vars;  /* NULL: none */
	struct mqb_trigger_attach *attach;
	struct tent **ents;
	size_t nents, cap;
	unsigned refs;                      /* the component's, and each run going */
	struct tpl_block *next;
};

/* The blocks of a core, freed after the entities. */
struct blocks {
	struct tpl_block *list;
};

static void block_unref(struct tpl_block *b)
{
	if (--b->refs)
		return;
	mqb_triggers_async_detach(b->attach);
	mqb_triggers_free(b->triggers);
	mqb_condition_free(b->cond);
	mqb_script_free(b->script);
	mqb_script_variables_free(b->vars);
	json_decref(b->raw);
	free(b->ents);
	free(b->path);
	free(b);
}

void tpl_block_forget(struct tpl_block *b, struct tent *t)
{
	for (size_t i = 0; i < b->nents; i++)
		if (b->ents[i] == t) {
			b->ents[i] = b->ents[--b->nents];
			return;
		}
}

/* Every entity of b renders with run. */
static void update(struct tpl_block *b, const json_t *run)
{
	for (size_t i = 0; i < b->nents; i++)
		tpl_render_fired(b->ents[i], run);
}

/* The actions ended: the entities render with the variables they left,
 * unless they ended in an error (Home Assistant renders nothing then). */
static void run_done(struct mqb_future *f, void *ud)
{
	struct tpl_block *b = ud;
	if (mqb_future_status(f) == 0 && json_is_object((json_t *)mqb_future_value(f)))
		update(b, mqb_future_value(f));
	mqb_future_unref(f);
	block_unref(b);
}

static const char *first_entity(const struct tpl_block *b)
{
	return b->nents ? tpl_entity_id(b->ents[0]) : b->path;
}

/* A firing, on the loop inside whatever fired. */
static void on_fire(void *ud, json_t *trigger, json_t *variables)
{
	struct tpl_block *b = ud;
	char err[256];
	json_t *run = json_object();
	if (!run || json_object_set_new(run, "trigger", trigger)) {
		json_decref(run);
		json_decref(variables);
		return;
	}
	if (variables)
		json_object_update(run, variables);
	json_decref(variables);
	/* the block's variables under the trigger's */
	if (b->vars &&
	    mqb_script_variables_async_render(b->core, b->vars, run, true, err, sizeof err)) {
		MQB_LOG_ERROR(SUB, "Error processing variables of configuration block containing "
				   "'%s': %s",
			      first_entity(b), err);
		goto out;
	}
	if (b->cond) {
		int rc = mqb_condition_async_test(b->core, b->cond, run, err, sizeof err);
		if (rc < 0)
			MQB_LOG_WARNING(SUB, "%s: Error in 'condition' evaluation: %s", b->path, err);
		if (rc != 1)
			goto out;
	}
	if (b->script) {
		struct mqb_future *f = NULL;
		int rc = mqb_script_async_run(b->core, b->script, json_incref(run), &f);
		if (rc == 0) {
			b->refs++;
			if (mqb_future_async_add_done(f, run_done, b)) {
				b->refs--;
				mqb_future_unref(f);
			}
			goto out;
		}
		/* Home Assistant renders with the variables as they were when
		 * its script refuses the run (already running) */
		if (rc != -EBUSY)
			goto out;
	}
	update(b, run);
out:
	json_decref(run);
}

struct adding {
	struct mqb_integration *in;
	struct tpl_block *b;
	const char *unique_id;
};

static void add_entity(void *ud, enum kind kind, const struct mqb_conf_node *node,
		       const char *path)
{
	struct adding *a = ud;
	struct tpl_block *b = a->b;
	struct mqb_platform *p = mqb_integration_async_platform(a->in, tpl_domain_of[kind]);
	if (b->nents == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 4;
		struct tent **v = realloc(b->ents, cap * sizeof *v);
		if (!v)
			return;
		b->ents = v;
		b->cap = cap;
	}
	struct tent *t = NULL;
	if (p && tpl_add_fired(p, kind, node, path, a->unique_id, b, &t) == 0)
		b->ents[b->nents++] = t;
}

static int block_new(struct mqb_integration *in, const struct mqb_component_entry *en,
		     struct tpl_block **out)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct su_parts p;
	char vpath[256];
	const struct mqb_conf_node *vars = mqb_conf_get(en->node, "variables");
	struct tpl_block *b = calloc(1, sizeof *b);
	int rc = -ENOMEM;
	if (!b || !(b->path = strdup(en->path)) || !(b->raw = mqb_conf_to_json(en->node)))
		goto fail;
	b->core = mqb_integration_core(in);
	b->refs = 1;
	su_read_parts(en->node, en->path, &errs, &p);
	/* Home Assistant's Script for the actions: single, answering with its
	 * variables for the entities */
	struct mqb_script_options o = {.name = b->path, .max_exceeded = MQB_LOG_WARNING,
				       .respond_variables = true};
	rc = -EINVAL; /* check() said what */
	if (mqb_triggers_compile(p.triggers, p.tpath, &errs, &b->triggers) ||
	    (p.conditions && mqb_condition_compile(p.conditions, p.cpath, &errs, &b->cond)) ||
	    (p.actions && mqb_script_compile(p.actions, p.apath, &o, &errs, &b->script)) ||
	    (vars && mqb_script_variables_compile(
			     vars, su_path(vpath, sizeof vpath, en->path, ".variables"), &errs,
			     &b->vars)))
		goto fail;
	struct adding a = {in, b, mqb_conf_scalar(mqb_conf_get(en->node, "unique_id"), NULL)};
	each_entity(en, add_entity, &a);
	/* its entities point at it from here: it stays, attached or not (the
	 * attach logs why not, and they stay unknown) */
	struct mqb_trigger_attach_options ao = {.log_name = b->path};
	mqb_triggers_async_attach(b->core, b->triggers, &ao, on_fire, b, &b->attach);
	mqb_conf_errors_fini(&errs);
	*out = b;
	return 0;
fail:
	mqb_conf_errors_fini(&errs);
	if (b)
		block_unref(b);
	return rc;
}

static void blocks_free(void *p)
{
	struct blocks *bs = p;
	while (bs->list) {
		struct tpl_block *b = bs->list;
		bs->list = b->next;
		mqb_triggers_async_detach(b->attach);
		b->attach = NULL;
		block_unref(b);
	}
	free(bs);
}

/* The trigger-based blocks of entries not kept (kept may be NULL),
 * added to bs. */
static void add_blocks(struct mqb_integration *in, struct blocks *bs,
		       const struct mqb_component_entry *entries, size_t n, const bool *kept)
{
	for (size_t i = 0; i < n; i++) {
		struct tpl_block *b = NULL;
		if (!is_trigger_block(&entries[i]) || (kept && kept[i]))
			continue;
		int rc = block_new(in, &entries[i], &b);
		if (rc) {
			MQB_LOG_ERROR(SUB, "%s: cannot set the block up: %s", entries[i].path,
				      mqb_strerror(rc));
			continue;
		}
		b->next = bs->list;
		bs->list = b;
	}
}

static int setup(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct mqb_core *core = mqb_integration_core(in);
	struct blocks *bs = calloc(1, sizeof *bs);
	if (!bs)
		return -ENOMEM;
	int rc = mqb_core_async_set_data(core, DATA_KEY, bs, blocks_free);
	if (rc) {
		free(bs);
		return rc;
	}
	add_blocks(in, bs, entries, n, NULL);
	return 0;
}

/* template.reload for the trigger-based blocks (Home Assistant reloads
 * them with the rest of template:): a block whose configuration is the
 * same goes on, its entities, triggers and a run of its actions with
 * it; one that changed or went stops firing and its entities are
 * removed; a new one is set up. A COROUTINE. */
static int reload(struct mqb_integration *in, const struct mqb_component_entry *entries, size_t n)
{
	struct blocks *bs = mqb_core_async_data(mqb_integration_core(in), DATA_KEY);
	if (!bs)
		return setup(in, entries, n);
	bool *kept = calloc(n ? n : 1, sizeof *kept);
	if (!kept)
		return -ENOMEM;
	for (struct tpl_block **pp = &bs->list, *b; (b = *pp);) {
		size_t i = 0;
		while (i < n && (kept[i] || !is_trigger_block(&entries[i]) ||
				 !su_same_config(b->raw, entries[i].node)))
			i++;
		if (i < n) {
			kept[i] = true;
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		mqb_triggers_async_detach(b->attach);
		b->attach = NULL;
		while (b->nents)
			tpl_entity_remove(b->ents[--b->nents]);
		block_unref(b);
	}
	add_blocks(in, bs, entries, n, kept);
	free(kept);
	return 0;
}

const struct mqb_component tpl_component = {
	.shape = MQB_COMPONENT_LIST,
	.check = check,
	.async_setup = setup,
	.async_reload = reload,
};
