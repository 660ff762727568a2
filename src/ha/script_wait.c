/* SPDX-License-Identifier: MIT */
/* wait_template and wait_for_trigger: a run waits on the state machine or
 * on triggers, with a timeout, and leaves the `wait` variable behind. */
#include "lib/internal.h"

#include <errno.h>

#include "ha/script_impl.h"

size_t script__compile_triggers(const struct mqb_conf_node *node, const char *path,
				struct mqb_conf_errors *errs, struct mqb_triggers **out)
{
	*out = NULL;
	mqb_conf_error_at(errs, node, path, "wait_for_trigger is not supported yet");
	return 1;
}

void script__free_triggers(struct mqb_triggers *t)
{
	(void)t;
}

enum flow script__wait_action(struct task *t, const struct action *a)
{
	return script__fail(t, a, -ENOSYS, false, "Error", "not supported yet");
}
