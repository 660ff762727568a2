/* SPDX-License-Identifier: MIT */
/* The sun trigger (Home Assistant's components/sun/trigger.py): at sunrise
 * or sunset, with an offset, seen from the core's location (sun.h), on a
 * wall-clock timer set again after each firing. */
#include "lib/internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/location.h"
#include "mqbridge/sun.h"
#include "mqbridge/timer.h"

#include "ha/cv.h"
#include "ha/duration.h"
#include "ha/trigger_impl.h"

#define SUB "trigger"

struct conf {
	enum mqb_sun_event event;
	double offset;
};

static const char *const keys[] = {"event", "offset", NULL};

static size_t compile(const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs, void **priv)
{
	char p[CV_PATH_MAX];
	size_t found = 0;
	const struct mqb_conf_node *ev = cv__required(node, "event", path, errs, &found);
	if (!ev)
		return found;
	struct conf *c = mqb__calloc(1, sizeof *c);
	if (!c) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	const char *s = cv__text(ev);
	if (s && strcasecmp(s, "sunrise") == 0) {
		c->event = MQB_SUN_RISING;
	} else if (s && strcasecmp(s, "sunset") == 0) {
		c->event = MQB_SUN_SETTING;
	} else {
		mqb_conf_error_at(errs, ev, cv__path(p, path, ".event"),
				  "value must be one of ['sunrise', 'sunset']");
		found++;
	}
	const struct mqb_conf_node *off = mqb_conf_get(node, "offset");
	if (off) {
		struct duration d;
		cv__path(p, path, ".offset");
		if (duration__compile(&d, off, p, 0, errs)) {
			found++;
		} else {
			if (!duration__fixed(&d)) {
				mqb_conf_error_at(errs, off, p, "expected a duration, not a template");
				found++;
			}
			c->offset = d.seconds;
			duration__fini(&d);
		}
	}
	if (found)
		mqb__free(c);
	else
		*priv = c;
	return found;
}

struct run {
	struct trig_run *r;
	struct mqb_timer *timer;
	double when;
};

static void fire(struct mqb_timer *t, void *ud);

/* The first event whose time plus offset is after now (Home Assistant's
 * get_astral_event_next). */
static void schedule(struct run *run, double now)
{
	const struct conf *c = run->r->t->priv;
	const struct mqb_location *loc = mqb_core_location(run->r->a->core);
	run->when = mqb_sun_next(loc, c->event, now - c->offset) + c->offset;
	mqb_async_timer_cancel(run->timer);
	run->timer = NULL;
	if (isnan(run->when))
		MQB_LOG_WARNING(SUB, "%s: the sun does not %s here within a year",
				trigger__name(run->r), c->event == MQB_SUN_RISING ? "rise" : "set");
	else if (mqb_async_call_at(run->r->a->core, run->when, fire, run, &run->timer))
		MQB_LOG_ERROR(SUB, "%s: cannot arm the sun trigger", trigger__name(run->r));
}

static void fire(struct mqb_timer *t, void *ud)
{
	(void)t;
	struct run *run = ud;
	struct trig_run *r = run->r;
	const struct conf *c = r->t->priv;
	const char *event = c->event == MQB_SUN_RISING ? "sunrise" : "sunset";
	char desc[32];
	snprintf(desc, sizeof desc, c->offset ? "%s with offset" : "%s", event);
	trigger__enter(r);
	/* once a firing, no catching up what a jump of the clock skipped */
	schedule(run, fmax(mqb_async_now(r->a->core), run->when));
	trigger__fire(r, json_pack("{s:s,s:o,s:s}", "event", event, "offset",
				   trigger__timedelta(c->offset), "description", desc));
	trigger__leave(r);
}

static void detach(struct trig_run *r)
{
	struct run *run = r->state;
	if (!run)
		return;
	mqb_async_timer_cancel(run->timer);
	mqb__free(run);
	r->state = NULL;
}

static int attach(struct trig_run *r)
{
	struct run *run = mqb__calloc(1, sizeof *run);
	if (!run)
		return -ENOMEM;
	r->state = run;
	run->r = r;
	schedule(run, mqb_async_now(r->a->core));
	return 0;
}

const struct trig_ops trigger__sun = {
	.name = "sun",
	.keys = keys,
	.compile = compile,
	.free = free,
	.attach = attach,
	.detach = detach,
};
