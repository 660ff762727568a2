/* SPDX-License-Identifier: MIT */
/* The t/test_tpl_ha* drivers' table runner: renders each case through the
 * public API and reports every difference before failing. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tpl_ha.h"

int tpl_ha_render_vars(const char *text, const struct mqb_tpl_vars *vars, char **out,
		       struct mqb_tpl_error *err)
{
	struct mqb_template *t = NULL;
	int rc = mqb_template_compile(text, strlen(text), &t, err);
	if (rc)
		return rc;
	struct mqb_tpl_vars v = *vars;
	if (!v.now)
		v.now = TPL_HA_NOW;
	size_t len;
	rc = mqb_template_render(t, &v, NULL, out, &len, err);
	mqb_template_free(t);
	return rc;
}

int tpl_ha_render(struct mqb_core *core, const char *text, char **out,
		  struct mqb_tpl_error *err, void (*on_entity)(void *, const char *), void *ud)
{
	struct mqb_tpl_vars vars = { .core = core, .on_entity = on_entity, .ud = ud };
	return tpl_ha_render_vars(text, &vars, out, err);
}

void tpl_ha_run_table(struct mqb_core *core, const struct tcase *c, size_t n)
{
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;
		struct mqb_tpl_error err = { 0 };
		int rc = tpl_ha_render(core, c[i].tpl, &out, &err, NULL, NULL);
		if (c[i].want) {
			if (rc != 0 || strcmp(out, c[i].want) != 0) {
				print_message("%s\n  want %s\n  got  rc=%d %s\n", c[i].tpl, c[i].want, rc,
					      rc ? err.message : out);
				failures++;
			}
		} else if (rc != -EINVAL || !strstr(err.message, c[i].err)) {
			print_message("%s\n  want error containing \"%s\"\n  got  rc=%d %s\n", c[i].tpl,
				      c[i].err, rc, rc ? err.message : out);
			failures++;
		}
		free(out);
	}
	assert_int_equal(failures, 0);
}
