/* SPDX-License-Identifier: MIT */
/* Home Assistant's triggers that cannot fire here: a webhook, a tag, a
 * zone, another integration's device trigger or its own "<domain>.<name>"
 * trigger. Kept, as DESIGN §7 keeps a copied integration mqbridge does not
 * have: the automation loads and its other triggers work, and each attach
 * says, at the trigger's place, that this one never fires. */
#include "lib/internal.h"

#include <stdio.h>
#include <string.h>

#include "ha/cv.h"
#include "ha/trigger_impl.h"

#define SUB "trigger"

/* Home Assistant's trigger platforms (an integration's trigger.py) whose
 * integration mqbridge does not have. */
static const char *const absent[] = {"calendar", "conversation", "geo_location",
				     "persistent_notification", "tag", "webhook", "zone"};

/* A slug: what Home Assistant's integration domains are made of. */
static bool slug(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

const char *trigger__absent_integration(const char *name, char *buf, size_t len)
{
	for (size_t i = 0; i < MQB_ARRAY_SIZE(absent); i++)
		if (strcmp(name, absent[i]) == 0)
			return absent[i];
	/* An integration's own trigger (Home Assistant 2024.x and later:
	 * "samsungtv.turn_on", "zwave_js.value_updated"). */
	const char *dot = strchr(name, '.');
	if (!dot || !slug(name, (size_t)(dot - name)) || !slug(dot + 1, strlen(dot + 1)) ||
	    (size_t)(dot - name) >= len)
		return NULL;
	memcpy(buf, name, (size_t)(dot - name));
	buf[dot - name] = '\0';
	return buf;
}

/* priv: the warning, with the trigger's place in it. Its keys are the
 * absent integration's, so nothing checks them. */
static size_t compile(const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs, void **priv)
{
	const struct mqb_conf_node *pn = mqb_conf_get(node, "trigger");
	if (!pn)
		pn = mqb_conf_get(node, "platform");
	const char *name = cv__text(pn);
	char dom[64];
	const char *integration = name ? trigger__absent_integration(name, dom, sizeof dom) : NULL;
	if (name && strcmp(name, "device") == 0)
		integration = cv__text(mqb_conf_get(node, "domain"));
	struct mqb_conf_mark m = mqb_conf_mark(pn);
	char text[512];
	snprintf(text, sizeof text,
		 "%s:%u:%u: %s: the %s trigger never fires here: mqbridge does not have Home "
		 "Assistant's %s integration",
		 m.file ? m.file : "", m.line, m.column, path, name ? name : "",
		 integration ? integration : "");
	if (!(*priv = mqb__strdup(text))) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	return 0;
}

static int attach(struct trig_run *r)
{
	MQB_LOG_WARNING(SUB, "%s: %s", trigger__name(r), (const char *)r->t->priv);
	r->state = NULL;
	return 0;
}

static void detach(struct trig_run *r)
{
	(void)r;
}

const struct trig_ops trigger__absent = {
	.name = "(absent)",
	.keys = NULL,
	.compile = compile,
	.free = mqb__free,
	.attach = attach,
	.detach = detach,
};
