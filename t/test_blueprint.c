/* SPDX-License-Identifier: MIT */
/* Blueprints (src/config/blueprint.c), after Home Assistant's
 * tests/components/blueprint/test_models.py (test_blueprint_inputs,
 * test_blueprint_inputs_default, test_blueprint_inputs_override_default,
 * test_blueprint_validate, missing inputs, input sections) and
 * test_importer/test_default_blueprints: the item is the blueprint's body
 * with its inputs put in and its own keys over it. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "lib/internal.h"
#include "mqbridge/config.h"
#include "config/blueprint.h"
#include "config/load.h"

static char dir[64];

static void write_at(const char *rel, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	/* make the directories on the way */
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/mqb-bp-XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* Home Assistant's motion_light.yaml, as it ships */
	write_at("blueprints/automation/homeassistant/motion_light.yaml",
		 "blueprint:\n"
		 "  name: Motion-activated Light\n"
		 "  domain: automation\n"
		 "  input:\n"
		 "    motion_entity:\n"
		 "      name: Motion Sensor\n"
		 "      selector: {entity: {filter: {device_class: occupancy}}}\n"
		 "    light_target:\n"
		 "      name: Light\n"
		 "      selector: {target: {entity: {domain: light}}}\n"
		 "    no_motion_wait:\n"
		 "      name: Wait time\n"
		 "      default: 120\n"
		 "      selector: {number: {min: 0, max: 3600}}\n"
		 "mode: restart\n"
		 "max_exceeded: silent\n"
		 "triggers:\n"
		 "  trigger: state\n"
		 "  entity_id: !input motion_entity\n"
		 "  from: \"off\"\n"
		 "  to: \"on\"\n"
		 "actions:\n"
		 "  - action: light.turn_on\n"
		 "    target: !input light_target\n"
		 "  - wait_for_trigger:\n"
		 "      trigger: state\n"
		 "      entity_id: !input motion_entity\n"
		 "      from: \"on\"\n"
		 "      to: \"off\"\n"
		 "  - delay: !input no_motion_wait\n"
		 "  - action: light.turn_off\n"
		 "    target: !input light_target\n");
	/* inputs in a section (Home Assistant 2024.6) */
	write_at("blueprints/automation/sections.yaml",
		 "blueprint:\n"
		 "  name: Sections\n"
		 "  domain: automation\n"
		 "  input:\n"
		 "    timing:\n"
		 "      name: Timing\n"
		 "      input:\n"
		 "        wait: {name: Wait, default: 5}\n"
		 "    who: {name: Who}\n"
		 "triggers: {trigger: event, event_type: !input who}\n"
		 "actions:\n"
		 "  - delay: !input wait\n");
	write_at("blueprints/automation/undeclared.yaml",
		 "blueprint: {name: U, domain: automation, input: {who: {}}}\n"
		 "triggers: {trigger: event, event_type: !input who}\n"
		 "actions: [{event: !input nobody}]\n");
	write_at("blueprints/script/notify.yaml",
		 "blueprint:\n  name: Notify\n  domain: script\n  input:\n    msg: {}\n"
		 "sequence:\n  - event: say\n    event_data: {text: !input msg}\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* The main file's yaml loaded in dir; the item at key[index] applied. */
struct applied {
	struct mqb_conf_doc *doc;
	const struct mqb_conf_node *out;
	struct mqb_conf_errors errs;
};

static void apply(struct applied *a, const char *yaml, const char *domain)
{
	char main_file[PATH_MAX];
	write_at("configuration.yaml", yaml);
	snprintf(main_file, sizeof main_file, "%s/configuration.yaml", dir);
	mqb_conf_errors_init(&a->errs);
	assert_int_equal(conf__load(main_file, NULL, &a->doc, &a->errs), 0);
	const struct mqb_conf_node *list = mqb_conf_get(mqb_conf_root(a->doc), domain);
	const struct mqb_conf_node *item = mqb_conf_kind(list) == MQB_CONF_SEQ
						   ? mqb_conf_item(list, 0)
						   : mqb_conf_value(list, 0);
	a->out = conf__blueprint_apply(a->doc, dir, domain, item, "x", &a->errs);
}

static void done(struct applied *a)
{
	mqb_conf_errors_fini(&a->errs);
	mqb_conf_doc_free(a->doc);
}

static const char *text_at(const struct mqb_conf_node *n)
{
	const char *s = mqb_conf_scalar(n, NULL);
	assert_non_null(s);
	return s;
}

static void expect_error(const struct applied *a, const char *want)
{
	for (size_t i = 0; i < a->errs.n; i++)
		if (strstr(a->errs.v[i].message, want))
			return;
	mqb_conf_errors_print(&a->errs, stderr);
	fail_msg("no error '%s'", want);
}

/* test_default_blueprints' motion_light: the inputs given, the default
 * for the one not given, the item's alias and mode over the blueprint's,
 * use_blueprint and blueprint gone */
static void inputs_and_defaults_are_put_in_and_the_items_keys_win(void **state)
{
	(void)state;
	struct applied a;
	apply(&a,
	      "automation:\n"
	      "  - alias: Hall light\n"
	      "    mode: single\n"
	      "    use_blueprint:\n"
	      "      path: homeassistant/motion_light.yaml\n"
	      "      input:\n"
	      "        motion_entity: binary_sensor.hall\n"
	      "        light_target: {entity_id: light.hall}\n",
	      "automation");
	if (!a.out)
		mqb_conf_errors_print(&a.errs, stderr);
	assert_non_null(a.out);
	assert_int_equal(a.errs.n, 0);
	assert_null(mqb_conf_get(a.out, "use_blueprint"));
	assert_null(mqb_conf_get(a.out, "blueprint"));
	assert_string_equal(text_at(mqb_conf_get(a.out, "alias")), "Hall light");
	assert_string_equal(text_at(mqb_conf_get(a.out, "mode")), "single");
	assert_string_equal(text_at(mqb_conf_get(a.out, "max_exceeded")), "silent");
	const struct mqb_conf_node *t = mqb_conf_get(a.out, "triggers");
	assert_string_equal(text_at(mqb_conf_get(t, "entity_id")), "binary_sensor.hall");
	const struct mqb_conf_node *acts = mqb_conf_get(a.out, "actions");
	assert_int_equal(mqb_conf_len(acts), 4);
	assert_string_equal(
		text_at(mqb_conf_get(mqb_conf_get(mqb_conf_item(acts, 0), "target"), "entity_id")),
		"light.hall");
	assert_string_equal(
		text_at(mqb_conf_get(mqb_conf_get(mqb_conf_item(acts, 1), "wait_for_trigger"),
				     "entity_id")),
		"binary_sensor.hall");
	assert_string_equal(text_at(mqb_conf_get(mqb_conf_item(acts, 2), "delay")), "120");
	/* the blueprint's nodes keep their place, for errors */
	struct mqb_conf_mark m = mqb_conf_mark(mqb_conf_get(mqb_conf_item(acts, 3), "action"));
	assert_non_null(strstr(m.file, "blueprints/automation/homeassistant/motion_light.yaml"));
	assert_int_equal(m.line, 31);
	done(&a);

	/* test_blueprint_inputs_override_default */
	apply(&a,
	      "automation:\n"
	      "  - use_blueprint:\n"
	      "      path: homeassistant/motion_light.yaml\n"
	      "      input: {motion_entity: a.b, light_target: {}, no_motion_wait: 10}\n",
	      "automation");
	assert_non_null(a.out);
	acts = mqb_conf_get(a.out, "actions");
	assert_string_equal(text_at(mqb_conf_get(mqb_conf_item(acts, 2), "delay")), "10");
	assert_string_equal(text_at(mqb_conf_get(a.out, "mode")), "restart");
	done(&a);

	/* a script, and an item that uses none is itself */
	apply(&a, "script:\n  hello:\n    use_blueprint: {path: notify.yaml, input: {msg: hi}}\n",
	      "script");
	assert_non_null(a.out);
	assert_string_equal(text_at(mqb_conf_get(mqb_conf_get(mqb_conf_item(mqb_conf_get(a.out,
	      "sequence"), 0), "event_data"), "text")), "hi");
	done(&a);
	apply(&a, "automation:\n  - alias: plain\n    triggers: []\n", "automation");
	assert_non_null(a.out);
	assert_string_equal(text_at(mqb_conf_get(a.out, "alias")), "plain");
	done(&a);
}

/* test_blueprint_validate and BlueprintInputs.validate: what is wrong is
 * an error at its place, and nothing is made */
static void what_is_wrong_is_an_error_at_its_place(void **state)
{
	(void)state;
	struct applied a;
	apply(&a, "automation:\n  - use_blueprint:\n      path: homeassistant/motion_light.yaml\n",
	      "automation");
	assert_null(a.out);
	expect_error(&a, "Missing input light_target, motion_entity");
	assert_int_equal(a.errs.v[0].mark.line, 3);
	done(&a);
	apply(&a, "automation:\n  - use_blueprint: {path: nowhere.yaml}\n", "automation");
	assert_null(a.out);
	expect_error(&a, "Unable to find blueprint at path nowhere.yaml");
	done(&a);
	apply(&a, "automation:\n  - use_blueprint: {path: ../../etc/passwd}\n", "automation");
	assert_null(a.out);
	expect_error(&a, "is not one inside blueprints/automation");
	done(&a);
	apply(&a, "automation:\n  - use_blueprint: {path: notify.yaml, input: {msg: x}}\n",
	      "automation");
	assert_null(a.out);
	expect_error(&a, "Unable to find blueprint"); /* a script's is not in automation/ */
	done(&a);
	write_at("blueprints/automation/wrong_domain.yaml",
		 "blueprint: {name: W, domain: script}\nsequence: []\n");
	apply(&a, "automation:\n  - use_blueprint: {path: wrong_domain.yaml}\n", "automation");
	assert_null(a.out);
	expect_error(&a, "Found incorrect blueprint type script, expected automation");
	done(&a);
	/* an !input nobody declared */
	apply(&a, "automation:\n  - use_blueprint: {path: undeclared.yaml, input: {who: me}}\n",
	      "automation");
	assert_null(a.out);
	expect_error(&a, "No substitution found for input nobody");
	done(&a);
	apply(&a, "automation:\n  - use_blueprint: {path: x.yaml, bogus: 1}\n", "automation");
	assert_null(a.out);
	expect_error(&a, "extra keys not allowed @ data['use_blueprint']['bogus']");
	done(&a);
	/* !input anywhere but in a blueprint */
	char main_file[PATH_MAX];
	write_at("configuration.yaml", "a: !input b\n");
	snprintf(main_file, sizeof main_file, "%s/configuration.yaml", dir);
	struct mqb_conf_doc *doc = NULL;
	mqb_conf_errors_init(&a.errs);
	assert_int_equal(conf__load(main_file, NULL, &doc, &a.errs), -EINVAL);
	expect_error(&a, "!input is only valid in a blueprint");
	mqb_conf_errors_fini(&a.errs);
}

/* Input sections: an input inside a section is one of the blueprint's */
static void inputs_in_sections_are_inputs(void **state)
{
	(void)state;
	struct applied a;
	apply(&a, "automation:\n  - use_blueprint: {path: sections.yaml, input: {who: me}}\n",
	      "automation");
	assert_non_null(a.out);
	assert_string_equal(text_at(mqb_conf_get(mqb_conf_get(a.out, "triggers"), "event_type")),
			    "me");
	assert_string_equal(
		text_at(mqb_conf_get(mqb_conf_item(mqb_conf_get(a.out, "actions"), 0), "delay")), "5");
	done(&a);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(inputs_and_defaults_are_put_in_and_the_items_keys_win),
	cmocka_unit_test(what_is_wrong_is_an_error_at_its_place),
	cmocka_unit_test(inputs_in_sections_are_inputs),
};

int main(int argc, char **argv)
{
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
