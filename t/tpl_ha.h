/* SPDX-License-Identifier: MIT */
/* Tables of Home Assistant's template assertions for the t/test_tpl_ha*
 * drivers: a template, the text it renders or the error it raises, run
 * against a core (or none) with now() fixed at 2024-05-01 12:00:00 UTC. */
#ifndef T_TPL_HA_H
#define T_TPL_HA_H

#include <stddef.h>

#include "mqbridge/template.h"

struct mqb_core;

#define TPL_HA_NOW 1714564800.0

struct tcase {
	const char *tpl;
	const char *want;   /* NULL: a render error whose message holds err */
	const char *err;
};

/* Compile and render text once with vars (its now: TPL_HA_NOW when 0). */
int tpl_ha_render_vars(const char *text, const struct mqb_tpl_vars *vars, char **out,
		       struct mqb_tpl_error *err);
/* Compile and render text once; on_entity (may be NULL) sees each read. */
int tpl_ha_render(struct mqb_core *core, const char *text, char **out,
		  struct mqb_tpl_error *err, void (*on_entity)(void *, const char *), void *ud);
/* Every case of the table, each failure printed; fails the test if any. */
void tpl_ha_run_table(struct mqb_core *core, const struct tcase *c, size_t n);
#define RUN(core, table) tpl_ha_run_table(core, table, sizeof table / sizeof table[0])

#endif
