/* SPDX-License-Identifier: MIT */
/* The daemon's options, from the configuration file (src/config/ loads
 * and checks it): the `mqbridge:` and `mqtt:` blocks as schema tables
 * (data), the top-level integrations a file may name, Home Assistant's
 * packages merged in, the entity configurations collected for the
 * integration loader, and the result turned into core and MQTT options for
 * main.c and --check-config. */
#include "lib/internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/blueprint.h"
#include "config/load.h"
#include "config/schema.h"
#include "daemon/absent.h"
#include "daemon/loader.h"
#include "daemon/options.h"
#include "mqbridge/config.h"
#include "mqbridge/error.h"
#include "mqbridge/template.h"

#define NODE_ID_MAX 64

/* ---- the tables ----------------------------------------------------------- */

/* What the tables write into; copied into struct daemon_options after. */
struct mqbridge_block {
	const char *node_id, *name, *log_level, *state_dir;
	unsigned executor_threads, executor_queue;
	double shutdown_timeout;
	const struct mqb_conf_node *packages;
};

struct tls_block {
	const char *ca_certs, *ca_path, *certfile, *keyfile;
	bool insecure;
};

struct mqtt_block {
	const struct mqb_conf_node *broker;
	const char *client_id, *username, *password, *protocol;
	int port, keepalive;
	bool clean_session, discovery;
	const char *base_topic, *discovery_prefix;
	struct tls_block tls;
	size_t max_payload;
	unsigned max_inflight, outbound_queue;
	double reconnect_min, reconnect_max;
	double announce_rate;
	const char *discovery_mode;
};

static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};
static const char *const protocols[] = {"3.1.1", "5", NULL};
static const char *const discovery_modes[] = {"entity", "device", NULL};

#define MB(f) .offset = offsetof(struct mqbridge_block, f), .stored = true
static const struct mqb_schema_key mqbridge_keys[] = {
	{.key = "node_id", .type = MQB_S_STRING, MB(node_id),
	 .doc = "this bridge's id in topics and discovery: a-z, 0-9, _ and -, at most 64 "
		"(default: the host name, sanitised)"},
	{.key = "name", .type = MQB_S_STRING, MB(name),
	 .doc = "the device name Home Assistant shows (default: node_id)"},
	{.key = "log_level", .type = MQB_S_ENUM, .choices = log_levels, MB(log_level),
	 .doc = "debug, info, warning or error (the command line overrides it)"},
	{.key = "executor_threads", .type = MQB_S_UINT, .def = "4", .min = 1, .max = 64,
	 MB(executor_threads), .doc = "threads running blocking work (commands, files)"},
	{.key = "executor_queue", .type = MQB_S_UINT, .def = "1024", .min = 1, .max = 100000,
	 MB(executor_queue), .doc = "jobs that may wait for an executor thread"},
	{.key = "shutdown_timeout", .type = MQB_S_DURATION, .def = "10", .min = 0.1, .max = 3600,
	 MB(shutdown_timeout), .doc = "bound on each stage of a graceful stop"},
	{.key = "state_dir", .type = MQB_S_STRING, .def = STATEDIR, MB(state_dir),
	 .doc = "where the state that survives a restart is kept (relative: to the "
		"configuration file's directory)"},
	{.key = "packages", .type = MQB_S_ANY, MB(packages),
	 .doc = "named packages whose integrations are merged into the configuration"},
};
static const struct mqb_schema mqbridge_schema = {
	"mqbridge", mqbridge_keys, sizeof mqbridge_keys / sizeof mqbridge_keys[0]};

#define TLS(f) .offset = offsetof(struct tls_block, f), .stored = true
static const struct mqb_schema_key tls_keys[] = {
	{.key = "ca_certs", .type = MQB_S_STRING, TLS(ca_certs),
	 .doc = "file of CA certificates (default: the system's)"},
	{.key = "ca_path", .type = MQB_S_STRING, TLS(ca_path),
	 .doc = "directory of CA certificates"},
	{.key = "certfile", .type = MQB_S_STRING, TLS(certfile), .doc = "client certificate"},
	{.key = "keyfile", .type = MQB_S_STRING, TLS(keyfile), .doc = "client private key"},
	{.key = "insecure", .type = MQB_S_BOOL, .def = "false", TLS(insecure),
	 .doc = "skip certificate and host name verification"},
};
static const struct mqb_schema tls_schema = {"mqtt.tls", tls_keys,
					     sizeof tls_keys / sizeof tls_keys[0]};

/* The entity domains of Home Assistant's modern layout (Home Assistant's
 * MQTT ENTITY_PLATFORMS and device triggers; camera and image reach the
 * module, which refuses them by name). */
static const char *const mqtt_domains[] = {
	"sensor", "binary_sensor", "switch", "light", "cover", "button", "number", "select",
	"text", "scene", "notify", "event", "update", "device_tracker", "valve", "climate",
	"water_heater", "humidifier", "fan", "lock", "siren", "alarm_control_panel", "vacuum",
	"lawn_mower", "device_automation", "camera", "image",
};
#define NDOMAINS (sizeof mqtt_domains / sizeof mqtt_domains[0])

#define MQ(f) .offset = offsetof(struct mqtt_block, f), .stored = true
#define DOMAIN(d) {.key = d, .type = MQB_S_ANY, .doc = "MQTT " d " entities (a list)"}
static const struct mqb_schema_key mqtt_keys[] = {
	{.key = "broker", .type = MQB_S_ANY, .def = "localhost", MQ(broker),
	 .doc = "broker host name or address, host:port or URI; or a list of them, tried in "
		"order on every connect"},
	{.key = "port", .type = MQB_S_INT, .min = 1, .max = 65535, MQ(port),
	 .doc = "broker port (default 1883, 8883 with tls)"},
	{.key = "client_id", .type = MQB_S_STRING, MQ(client_id),
	 .doc = "MQTT client id (default mqbridge-<node_id>)"},
	{.key = "username", .type = MQB_S_STRING, MQ(username), .doc = "user name"},
	{.key = "password", .type = MQB_S_STRING, MQ(password), .doc = "password (use !secret)"},
	{.key = "keepalive", .type = MQB_S_INT, .def = "60", .min = 1, .max = 65535, MQ(keepalive),
	 .doc = "seconds between pings"},
	{.key = "clean_session", .type = MQB_S_BOOL, .def = "true", MQ(clean_session),
	 .doc = "false keeps QoS 1 and 2 messages across reconnects"},
	{.key = "protocol", .type = MQB_S_ENUM, .def = "3.1.1", .choices = protocols,
	 MQ(protocol), .doc = "MQTT version: \"3.1.1\" or \"5\""},
	{.key = "base_topic", .type = MQB_S_TOPIC, MQ(base_topic),
	 .doc = "prefix of the bridge's own topics (default mqbridge/<node_id>)"},
	{.key = "discovery", .type = MQB_S_BOOL, .def = "true", MQ(discovery),
	 .doc = "publish Home Assistant discovery"},
	{.key = "discovery_prefix", .type = MQB_S_TOPIC, .def = "homeassistant",
	 MQ(discovery_prefix), .doc = "Home Assistant's discovery prefix"},
	{.key = "discovery_mode", .type = MQB_S_ENUM, .def = "entity", .choices = discovery_modes,
	 MQ(discovery_mode), .doc = "entity: a discovery message per entity; device: one per "
				    "device, its entities under cmps (Home Assistant 2024.11)"},
	{.key = "tls", .type = MQB_S_MAP, .sub = &tls_schema, MQ(tls),
	 .doc = "connect with TLS (its presence turns TLS on)"},
	{.key = "max_payload", .type = MQB_S_SIZE, .def = "1048576", .min = 1, .max = 268435455,
	 MQ(max_payload), .doc = "larger inbound messages are dropped (bytes)"},
	{.key = "max_inflight", .type = MQB_S_UINT, .def = "256", .min = 1, .max = 65535,
	 MQ(max_inflight), .doc = "QoS 1 and 2 publishes awaiting their acknowledgement"},
	{.key = "outbound_queue", .type = MQB_S_UINT, .def = "1000", .min = 1, .max = 100000,
	 MQ(outbound_queue), .doc = "publishes queued while disconnected"},
	{.key = "reconnect_min", .type = MQB_S_DURATION, .def = "1", .min = 0.1, .max = 3600,
	 MQ(reconnect_min), .doc = "first reconnect delay"},
	{.key = "reconnect_max", .type = MQB_S_DURATION, .def = "60", .min = 0.1, .max = 86400,
	 MQ(reconnect_max), .doc = "longest reconnect delay"},
	{.key = "announce_rate", .type = MQB_S_FLOAT, .def = "2000", .min = 0, .max = 1e7,
	 MQ(announce_rate), .doc = "messages a second at most while announcing everything "
				   "(after a connect, when Home Assistant comes back); 0: no limit"},
	DOMAIN("sensor"), DOMAIN("binary_sensor"), DOMAIN("switch"), DOMAIN("light"),
	DOMAIN("cover"), DOMAIN("button"), DOMAIN("number"), DOMAIN("select"), DOMAIN("text"),
	DOMAIN("scene"), DOMAIN("notify"), DOMAIN("event"), DOMAIN("update"),
	DOMAIN("device_tracker"), DOMAIN("valve"), DOMAIN("climate"), DOMAIN("water_heater"),
	DOMAIN("humidifier"), DOMAIN("fan"), DOMAIN("lock"), DOMAIN("siren"),
	DOMAIN("alarm_control_panel"), DOMAIN("vacuum"), DOMAIN("lawn_mower"),
	DOMAIN("device_automation"), DOMAIN("camera"), DOMAIN("image"),
};
static const struct mqb_schema mqtt_schema = {"mqtt", mqtt_keys,
					      sizeof mqtt_keys / sizeof mqtt_keys[0]};

struct statestream_block {
	const char *base_topic;
	bool publish_attributes, publish_timestamps;
	const struct mqb_conf_node *include, *exclude;
};

/* Home Assistant's entity filter: which entities the mirror covers. */
static const struct mqb_schema_key filter_item[] = {
	{.key = "item", .type = MQB_S_STRING},
};
static const struct mqb_schema filter_list = {"filter", filter_item, 1};
static const struct mqb_schema_key filter_keys[] = {
	{.key = "domains", .type = MQB_S_LIST, .sub = &filter_list, .doc = "domains"},
	{.key = "entities", .type = MQB_S_LIST, .sub = &filter_list, .doc = "entity ids"},
	{.key = "entity_globs", .type = MQB_S_LIST, .sub = &filter_list,
	 .doc = "entity id patterns (* and ?)"},
};
static const struct mqb_schema filter_schema = {"mqtt_statestream.include", filter_keys,
						sizeof filter_keys / sizeof filter_keys[0]};
#define SS(f) .offset = offsetof(struct statestream_block, f), .stored = true
static const struct mqb_schema_key statestream_keys[] = {
	{.key = "base_topic", .type = MQB_S_TOPIC, .required = true, SS(base_topic),
	 .doc = "topic prefix of the mirror: <base_topic>/<domain>/<object_id>/state"},
	{.key = "publish_attributes", .type = MQB_S_BOOL, .def = "false", SS(publish_attributes),
	 .doc = "also one topic per attribute, its value as JSON"},
	{.key = "publish_timestamps", .type = MQB_S_BOOL, .def = "false", SS(publish_timestamps),
	 .doc = "also last_changed and last_updated"},
	{.key = "include", .type = MQB_S_MAP, .sub = &filter_schema, .doc = "mirror only these"},
	{.key = "exclude", .type = MQB_S_MAP, .sub = &filter_schema, .doc = "never mirror these"},
};
static const struct mqb_schema statestream_schema = {
	"mqtt_statestream", statestream_keys, sizeof statestream_keys / sizeof statestream_keys[0]};

/* Home Assistant's core configuration (homeassistant:). mqbridge reads
 * where it is (the sun, local times) and its time zone; the rest is
 * accepted so a main file copied from Home Assistant loads, and said to
 * have no effect in the man page. */
struct ha_block {
	const char *name, *time_zone, *unit_system;
	double latitude, longitude, elevation;
	const struct mqb_conf_node *customize, *customize_domain, *customize_glob;
};
static const char *const unit_systems[] = {"metric", "us_customary", "imperial", NULL};
#define HA(f) .offset = offsetof(struct ha_block, f), .stored = true
#define HA_IGNORED(k, t, d) {.key = k, .type = t, .doc = d}
static const struct mqb_schema_key ha_keys[] = {
	{.key = "name", .type = MQB_S_STRING, HA(name), .doc = "the installation's name"},
	{.key = "latitude", .type = MQB_S_FLOAT, .min = -90, .max = 90, HA(latitude),
	 .doc = "where the sun is seen from: degrees north"},
	{.key = "longitude", .type = MQB_S_FLOAT, .min = -180, .max = 180,
	 HA(longitude), .doc = "degrees east"},
	{.key = "elevation", .type = MQB_S_FLOAT, .def = "0", .min = -1000, .max = 10000,
	 HA(elevation), .doc = "metres above sea level"},
	{.key = "time_zone", .type = MQB_S_STRING, HA(time_zone),
	 .doc = "the IANA time zone local times are read in (default: the system's)"},
	{.key = "unit_system", .type = MQB_S_ENUM, .choices = unit_systems, HA(unit_system),
	 .doc = "metric, us_customary or imperial"},
	{.key = "customize", .type = MQB_S_ANY, HA(customize),
	 .doc = "per-entity attribute overrides"},
	{.key = "packages", .type = MQB_S_ANY, .doc = "packages merged into the configuration"},
	{.key = "customize_domain", .type = MQB_S_ANY, HA(customize_domain),
	 .doc = "attribute overrides for every entity of a domain"},
	{.key = "customize_glob", .type = MQB_S_ANY, HA(customize_glob),
	 .doc = "attribute overrides for the entities a pattern matches"},
	HA_IGNORED("radius", MQB_S_FLOAT, "accepted, no effect"),
	HA_IGNORED("currency", MQB_S_STRING, "accepted, no effect"),
	HA_IGNORED("country", MQB_S_STRING, "accepted, no effect"),
	HA_IGNORED("language", MQB_S_STRING, "accepted, no effect"),
	HA_IGNORED("temperature_unit", MQB_S_STRING, "accepted, no effect"),
	HA_IGNORED("external_url", MQB_S_STRING, "accepted, no effect"),
	HA_IGNORED("internal_url", MQB_S_STRING, "accepted, no effect"),
	HA_IGNORED("allowlist_external_dirs", MQB_S_ANY, "accepted, no effect"),
	HA_IGNORED("allowlist_external_urls", MQB_S_ANY, "accepted, no effect"),
	HA_IGNORED("media_dirs", MQB_S_ANY, "accepted, no effect"),
	HA_IGNORED("legacy_templates", MQB_S_BOOL, "accepted, no effect"),
	HA_IGNORED("auth_providers", MQB_S_ANY, "accepted, no effect"),
	HA_IGNORED("auth_mfa_modules", MQB_S_ANY, "accepted, no effect"),
	HA_IGNORED("debug", MQB_S_BOOL, "accepted, no effect"),
};
static const struct mqb_schema ha_schema = MQB_SCHEMA("homeassistant", ha_keys);

/* Home Assistant's logger: (homeassistant/components/logger): the
 * default level and each logger's own. Its levels are Python's, in any
 * case; checked by hand. */
struct logger_block {
	const char *level;
	const struct mqb_conf_node *logs, *filters;
};
#define LG(f) .offset = offsetof(struct logger_block, f), .stored = true
static const struct mqb_schema_key logger_keys[] = {
	{.key = "default", .type = MQB_S_STRING, LG(level),
	 .doc = "the level of every subsystem without one of its own: critical, fatal, error, "
		"warning, warn, info, debug or notset (mqbridge: log_level wins)"},
	{.key = "logs", .type = MQB_S_ANY, LG(logs),
	 .doc = "subsystems' own levels: mqbridge.mqtt, or Home Assistant's "
		"homeassistant.components.mqtt, is the mqtt subsystem"},
	{.key = "filters", .type = MQB_S_ANY, LG(filters),
	 .doc = "accepted, no effect"},
};
static const struct mqb_schema logger_schema = MQB_SCHEMA("logger", logger_keys);

static const struct mqb_schema *const tables[] = {&mqbridge_schema, &mqtt_schema,
						  &statestream_schema, &tls_schema, &ha_schema,
						  &logger_schema};

size_t options__schemas(const struct mqb_schema *const **out)
{
	*out = tables;
	return sizeof tables / sizeof tables[0];
}

/* The top-level keys: Home Assistant's integrations that mqbridge has or
 * will have, and what shape Home Assistant wants each in. LIST ones take
 * cv.ensure_list (a mapping is a list of one), may be labelled ("sensor
 * 2:", "automation old:") and merge from packages by concatenation;
 * MAPPING ones merge key by key; a BLOCK is one mapping of options. A
 * COMPONENT is set up by the module of its name (its own top-level block,
 * mqb_component); a key no table names may still be one, if a module of
 * that name says so. */
enum shape { LIST, MAPPING, BLOCK, OWN };

static const struct integration {
	const char *name;
	enum shape shape;
	bool component;  /* the module NAME.so sets it up */
	bool labels;     /* "NAME label:" keys add to it */
} integrations[] = {
	{"mqbridge", OWN, false, false},         {"mqtt", OWN, false, false},
	{"logger", OWN, false, false},
	{"sensor", LIST, false, true},           {"binary_sensor", LIST, false, true},
	{"switch", LIST, false, true},           {"light", LIST, false, true},
	{"cover", LIST, false, true},            {"command_line", LIST, false, true},
	{"button", LIST, false, true},           {"number", LIST, false, true},
	{"select", LIST, false, true},           {"template", LIST, true, true},
	{"text", LIST, false, true},             {"scene", LIST, false, true},
	{"notify", LIST, false, true},           {"event", LIST, false, true},
	{"update", LIST, false, true},           {"device_tracker", LIST, false, true},
	{"valve", LIST, false, true},            {"climate", LIST, false, true},
	{"water_heater", LIST, false, true},     {"humidifier", LIST, false, true},
	{"fan", LIST, false, true},              {"lock", LIST, false, true},
	{"siren", LIST, false, true},            {"alarm_control_panel", LIST, false, true},
	{"vacuum", LIST, false, true},           {"lawn_mower", LIST, false, true},
	{"camera", LIST, false, true},           {"image", LIST, false, true},
	{"weather", LIST, false, true},
	{"automation", LIST, true, true},        {"script", MAPPING, true, true},
	{"group", MAPPING, true, false},         {"input_boolean", MAPPING, true, false},
	{"input_number", MAPPING, true, false},  {"input_select", MAPPING, true, false},
	{"input_text", MAPPING, true, false},    {"input_datetime", MAPPING, true, false},
	{"input_button", MAPPING, true, false},  {"counter", MAPPING, true, false},
	{"timer", MAPPING, true, false},         {"shell_command", MAPPING, true, false},
	{"sun", BLOCK, true, false},             {"mqtt_eventstream", BLOCK, true, false},
	{"mqtt_statestream", MAPPING, false, false}, {"homeassistant", MAPPING, false, false},
	{"default_config", BLOCK, false, false},
};
#define NINTEGRATIONS MQB_ARRAY_SIZE(integrations)

/* "sensor", or "sensor 2" where labels are allowed; *label_at gets where
 * the label starts (0: none). */
static const struct integration *find_integration(const char *key, size_t *base_len)
{
	for (size_t i = 0; i < NINTEGRATIONS; i++) {
		const struct integration *in = &integrations[i];
		size_t n = strlen(in->name);
		if (strncmp(key, in->name, n) != 0)
			continue;
		if (key[n] == '\0' || (in->labels && key[n] == ' ' && key[n + 1])) {
			*base_len = n;
			return in;
		}
	}
	return NULL;
}

/* ---- loading -------------------------------------------------------------- */

/* Where modules are looked for; NULL: not known (tests of the options). */
static const char *const *platform_dirs;
static size_t nplatform_dirs;

/* Where a piece of configuration came from: the main file or a package. */
struct source {
	const struct integration *in;
	const struct mqb_conf_node *value;
	char *path;
};

/* Something Home Assistant has and mqbridge does not ("recorder",
 * "sensor platform rest"), and where it was first named. */
struct skipped {
	char *what;
	const struct mqb_conf_node *at;
};

struct load {
	struct mqb_conf_errors *errs;
	struct source *src;
	size_t nsrc, capsrc;
	struct mqbridge_block mb;
	struct mqtt_block mq;
	const struct mqb_conf_node *mqtt_settings; /* the block holding them, or NULL */
	char *mqtt_path;                           /* and its path */
	bool mqtt_seen;                            /* an mqtt: block anywhere */
	size_t found;                              /* problems found */
	bool oom;
	struct conf_item *items;                   /* entity configurations */
	size_t nitems, capitems;
	const struct mqb_conf_node *mb_node;       /* the mqbridge: block, or NULL */
	bool have_ss;                              /* an mqtt_statestream: block */
	struct statestream_block ss;
	struct ha_block ha;
	const struct mqb_conf_node *ha_node;       /* the homeassistant: block, or NULL */
	struct integration **dyn;                  /* components only a module names */
	size_t ndyn;
	struct conf_component *comps;              /* components' configurations */
	size_t ncomps, capcomps;
	struct skipped *skipped;                   /* what is skipped, each once */
	size_t nskipped;
	bool have_logger_level;                    /* logger: default, or logs: mqbridge */
	enum mqb_log_level logger_level;
	struct daemon_log_level *log_levels;       /* logger: logs: the subsystems' own */
	size_t nlog_levels;
	const char *main_file;                     /* the root's file, as marked */
	struct mqb_conf_doc *doc;                  /* what blueprints are made into */
};

/* A path for a message; NULL when out of memory (callers fall back on a
 * shorter one). Free with mqb__free. */
static char *__attribute__((format(printf, 1, 2))) path_fmt(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = mqb__vfmt(NULL, 0, fmt, ap);
	va_end(ap);
	return s;
}

static void __attribute__((format(printf, 4, 5)))
err(struct load *l, const struct mqb_conf_node *at, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mqb_conf_verror_at(l->errs, at, path, fmt, ap);
	va_end(ap);
	l->found++;
}

static void apply_schema(struct load *l, const struct mqb_schema *s,
			 const struct mqb_conf_node *node, const char *path, void *target)
{
	l->found += mqb_schema_apply(s, node, path, target, l->errs);
}

/* Record what Home Assistant has and mqbridge does not, named at at,
 * for the one warning that lists them: each name once, where it was
 * first seen. */
static void __attribute__((format(printf, 3, 4)))
skip(struct load *l, const struct mqb_conf_node *at, const char *fmt, ...)
{
	char what[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < l->nskipped; i++)
		if (strcmp(l->skipped[i].what, what) == 0)
			return;
	struct skipped *v = mqb__realloc(l->skipped, (l->nskipped + 1) * sizeof *v);
	char *w = v ? mqb__strdup(what) : NULL;
	if (v)
		l->skipped = v;
	if (!w) {
		l->oom = true;
		return;
	}
	l->skipped[l->nskipped++] = (struct skipped){w, at};
}

static const char *where(const struct mqb_conf_node *n, char *buf, size_t len)
{
	struct mqb_conf_mark m = mqb_conf_mark(n);
	snprintf(buf, len, "%s:%u:%u", m.file ? m.file : "?", m.line, m.column);
	return buf;
}

static bool is_mqtt_domain(const char *key)
{
	for (size_t i = 0; i < NDOMAINS; i++)
		if (strcmp(key, mqtt_domains[i]) == 0)
			return true;
	return false;
}

/* Entity domains Home Assistant has beyond MQTT's: the template
 * integration's weather. */
static const char *const other_domains[] = {"weather"};

/* The domain's name as the lists keep it, or NULL for no entity domain. */
static const char *entity_domain(const char *key)
{
	for (size_t i = 0; i < NDOMAINS; i++)
		if (strcmp(key, mqtt_domains[i]) == 0)
			return mqtt_domains[i];
	for (size_t i = 0; i < MQB_ARRAY_SIZE(other_domains); i++)
		if (strcmp(key, other_domains[i]) == 0)
			return other_domains[i];
	return NULL;
}

/* A list of entity mappings, as cv.ensure_list takes it. */
static void check_entity_list(struct load *l, const struct mqb_conf_node *v, const char *path)
{
	char buf[96];
	switch (mqb_conf_kind(v)) {
	case MQB_CONF_NULL:
	case MQB_CONF_MAP:
		return;
	case MQB_CONF_SCALAR:
		err(l, v, path, "expected a list of mappings, got %s",
		    schema__describe(v, buf, sizeof buf));
		return;
	case MQB_CONF_SEQ:
		break;
	}
	for (size_t i = 0; i < mqb_conf_len(v); i++) {
		const struct mqb_conf_node *item = mqb_conf_item(v, i);
		if (mqb_conf_kind(item) == MQB_CONF_MAP)
			continue;
		char *p = path_fmt("%s[%zu]", path, i);
		err(l, item, p ? p : path, "expected a mapping, got %s",
		    schema__describe(item, buf, sizeof buf));
		mqb__free(p);
	}
}

static bool has_settings(const struct mqb_conf_node *block)
{
	for (size_t i = 0; i < mqb_conf_len(block); i++) {
		const char *k = mqb_conf_scalar(mqb_conf_key(block, i), NULL);
		if (!k || is_mqtt_domain(k))
			continue;
		for (size_t j = 0; j < mqtt_schema.nkeys; j++)
			if (strcmp(k, mqtt_schema.keys[j].key) == 0)
				return true;
	}
	return false;
}

/* One mapping of the mqtt: block: domains of entities, and perhaps the
 * connection settings, which only one block may hold. */
static void modern_block(struct load *l, const struct mqb_conf_node *block, const char *path,
			 const void *ud);

static void mqtt_block(struct load *l, const struct mqb_conf_node *block, const char *path)
{
	char buf[96];
	if (mqb_conf_kind(block) == MQB_CONF_NULL)
		return;
	if (mqb_conf_kind(block) != MQB_CONF_MAP) {
		err(l, block, path, "expected a mapping, got %s",
		    schema__describe(block, buf, sizeof buf));
		return;
	}
	struct mqtt_block scratch = {0};
	void *target = &scratch;
	if (has_settings(block)) {
		if (l->mqtt_settings)
			err(l, block, path,
			    "the connection settings are already given at %s; give them in one place",
			    where(l->mqtt_settings, buf, sizeof buf));
		else {
			l->mqtt_settings = block;
			l->mqtt_path = mqb__strdup(path);
			l->oom |= !l->mqtt_path;
			target = &l->mq;
		}
	}
	apply_schema(l, &mqtt_schema, block, path, target);
	for (size_t i = 0; i < mqb_conf_len(block); i++) {
		const char *k = mqb_conf_scalar(mqb_conf_key(block, i), NULL);
		if (!k || !is_mqtt_domain(k))
			continue;
		char *p = path_fmt("%s.%s", path, k);
		check_entity_list(l, mqb_conf_value(block, i), p ? p : path);
		mqb__free(p);
	}
	modern_block(l, block, path, "mqtt");
}

/* mqtt: a mapping (one block) or a list of them. */
static void mqtt_source(struct load *l, const struct mqb_conf_node *v, const char *path)
{
	l->mqtt_seen = true;
	if (mqb_conf_kind(v) != MQB_CONF_SEQ) {
		mqtt_block(l, v, path);
		return;
	}
	for (size_t i = 0; i < mqb_conf_len(v); i++) {
		char *p = path_fmt("%s[%zu]", path, i);
		mqtt_block(l, mqb_conf_item(v, i), p ? p : path);
		mqb__free(p);
	}
}

static void add_source(struct load *l, const struct integration *in,
		       const struct mqb_conf_node *value, const char *path)
{
	if (l->nsrc == l->capsrc) {
		size_t cap = l->capsrc ? 2 * l->capsrc : 16;
		struct source *s = mqb__realloc(l->src, cap * sizeof *s);
		if (!s) {
			l->oom = true;
			return;
		}
		l->src = s;
		l->capsrc = cap;
	}
	char *p = mqb__strdup(path);
	if (!p) {
		l->oom = true;
		return;
	}
	l->src[l->nsrc++] = (struct source){in, value, p};
}

/* The items and what the loader gave each (loader.c allocates conf). */
static void items_free(struct conf_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mqb__free(v[i].path);
		mqb__free(v[i].conf);
	}
	mqb__free(v);
}

static void add_item(struct load *l, const char *integration, const char *domain,
		     const struct mqb_conf_node *node, const char *path)
{
	if (l->nitems == l->capitems) {
		size_t cap = l->capitems ? 2 * l->capitems : 32;
		struct conf_item *v = mqb__realloc(l->items, cap * sizeof *v);
		if (!v) {
			l->oom = true;
			return;
		}
		l->items = v;
		l->capitems = cap;
	}
	char *p = mqb__strdup(path);
	if (!p) {
		l->oom = true;
		return;
	}
	l->items[l->nitems++] = (struct conf_item){.integration = integration, .domain = domain,
						    .node = node, .path = p};
}

/* Each element of a list (or a mapping standing for a list of one) with
 * the path of each. */
static void each_item(struct load *l, const struct mqb_conf_node *v, const char *path,
		      void (*fn)(struct load *l, const struct mqb_conf_node *item, const char *path,
				 const void *ud),
		      const void *ud)
{
	if (mqb_conf_kind(v) == MQB_CONF_MAP) {
		fn(l, v, path, ud);
		return;
	}
	if (mqb_conf_kind(v) != MQB_CONF_SEQ)
		return;
	for (size_t i = 0; i < mqb_conf_len(v); i++) {
		const struct mqb_conf_node *item = mqb_conf_item(v, i);
		if (mqb_conf_kind(item) != MQB_CONF_MAP)
			continue; /* already an error */
		char *p = path_fmt("%s[%zu]", path, i);
		fn(l, item, p ? p : path, ud);
		mqb__free(p);
	}
}

/* The directory of the main file: Home Assistant's configuration
 * directory, where blueprints/ and custom_components/ are. */
static void config_dir(const struct load *l, char *buf, size_t len)
{
	const char *slash = l->main_file ? strrchr(l->main_file, '/') : NULL;
	if (slash)
		snprintf(buf, len, "%.*s", (int)(slash - l->main_file), l->main_file);
	else
		snprintf(buf, len, ".");
}

/* Whether name is an integration of the user's own beside the main file,
 * as Home Assistant finds one: custom_components/<name>/manifest.json in
 * its configuration directory. */
static bool custom_integration(const struct load *l, const char *name)
{
	if (!l->main_file || !*name || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
						 strlen(name))
		return false;
	char dir[PATH_MAX], path[PATH_MAX + 64];
	config_dir(l, dir, sizeof dir);
	int n = snprintf(path, sizeof path, "%s/custom_components/%s/manifest.json", dir, name);
	return n > 0 && (size_t)n < sizeof path && access(path, F_OK) == 0;
}

/* Whether name is an entity domain Home Assistant has as an integration
 * of its own, whose platforms under other domains mqbridge does not have
 * (light: - platform: switch, a switch shown as a light). */
static bool ha_entity_domain(const char *name)
{
	size_t n;
	const struct integration *in = find_integration(name, &n);
	return in && !in->component && in->shape == LIST && name[n] == '\0';
}

/* A legacy `<domain>: - platform: NAME` element. */
static void legacy_item(struct load *l, const struct mqb_conf_node *item, const char *path,
			const void *ud)
{
	char buf[96];
	const char *domain = ud;
	const struct mqb_conf_node *pn = mqb_conf_get(item, "platform");
	const char *platform = pn && mqb_conf_kind(pn) == MQB_CONF_SCALAR ? mqb_conf_scalar(pn, NULL)
									  : NULL;
	if (!pn && strcmp(domain, "scene") == 0)
		skip(l, item, "scene platform homeassistant"); /* Home Assistant's own scenes */
	else if (!pn)
		err(l, item, path, "required key 'platform' not provided");
	else if (!platform || !*platform)
		err(l, pn, path, "'platform' must be an integration name, got %s",
		    schema__describe(pn, buf, sizeof buf));
	else if ((absent__home_assistant_has(platform) || custom_integration(l, platform) ||
		  ha_entity_domain(platform)) &&
		 !loader__has_module(platform, platform_dirs, nplatform_dirs))
		skip(l, pn, "%s platform %s", domain, platform);
	else
		add_item(l, platform, domain, item, path);
}

/* Keys a modern template: block may hold besides its domains: those of
 * a trigger-based block, whose entities the template module's component
 * sets up. */
static const char *const template_block_keys[] = {
	"trigger", "triggers", "condition", "conditions", "action", "actions", "variables",
	"unique_id",
};

static bool is_one_of(const char *k, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(k, v[i]) == 0)
			return true;
	return false;
}

/* One mapping of a modern block (`command_line: - switch: {...}`,
 * `template: - sensor: [...]`, `mqtt: {sensor: [...]}`): each key a
 * domain, whose value is one entity or a list of them. */
static void modern_block(struct load *l, const struct mqb_conf_node *block, const char *path,
			 const void *ud)
{
	const char *integration = ud;
	bool is_template = strcmp(integration, "template") == 0;
	/* a trigger-based block's entities are its component's (they render
	 * on its firings), not items of the template platforms */
	bool triggered = is_template && (mqb_conf_get(block, "trigger") ||
					 mqb_conf_get(block, "triggers"));
	for (size_t i = 0; i < mqb_conf_len(block); i++) {
		const struct mqb_conf_node *kn = mqb_conf_key(block, i);
		const char *k = mqb_conf_scalar(kn, NULL);
		if (!k)
			continue;
		char *p = path_fmt("%s.%s", path, k);
		const char *kp = p ? p : path;
		bool domain_key = is_mqtt_domain(k) || (is_template && entity_domain(k));
		if (domain_key && triggered) {
			; /* the template component's */
		} else if (domain_key) {
			const struct mqb_conf_node *v = mqb_conf_value(block, i);
			const char *domain = entity_domain(k);
			if (mqb_conf_kind(v) == MQB_CONF_MAP)
				add_item(l, integration, domain, v, kp);
			for (size_t n = 0; mqb_conf_kind(v) == MQB_CONF_SEQ && n < mqb_conf_len(v); n++) {
				if (mqb_conf_kind(mqb_conf_item(v, n)) != MQB_CONF_MAP)
					continue; /* already an error */
				char *q = path_fmt("%s[%zu]", kp, n);
				add_item(l, integration, domain, mqb_conf_item(v, n), q ? q : kp);
				mqb__free(q);
			}
		} else if (strcmp(integration, "mqtt") != 0 &&
			   !(is_template && is_one_of(k, template_block_keys,
						      sizeof template_block_keys /
							      sizeof template_block_keys[0]))) {
			err(l, kn, kp, "unknown entity domain '%s' for %s", k, integration);
		}
		mqb__free(p);
	}
}

/* Every entity configuration: legacy domain lists, the modern blocks of
 * command_line: and template:, and the domains of each mqtt: block. */
static void collect_items(struct load *l)
{
	for (size_t i = 0; i < l->nsrc; i++) {
		const struct source *src = &l->src[i];
		const char *name = src->in->name;
		if (entity_domain(name))
			each_item(l, src->value, src->path, legacy_item, name);
		else if (strcmp(name, "command_line") == 0 || strcmp(name, "template") == 0)
			each_item(l, src->value, src->path, modern_block, name);
	}
}

/* ---- components ------------------------------------------------------------ */

static void components_free(struct conf_component *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i].n; j++)
			mqb__free((char *)v[i].entries[j].path);
		mqb__free(v[i].entries);
		mqb__free(v[i].name);
	}
	mqb__free(v);
}

static struct conf_component *component_of(struct load *l, const struct integration *in)
{
	const char *name = in->name;
	for (size_t i = 0; i < l->ncomps; i++)
		if (strcmp(l->comps[i].name, name) == 0)
			return &l->comps[i];
	if (l->ncomps == l->capcomps) {
		size_t cap = l->capcomps ? 2 * l->capcomps : 8;
		struct conf_component *v = mqb__realloc(l->comps, cap * sizeof *v);
		if (!v) {
			l->oom = true;
			return NULL;
		}
		l->comps = v;
		l->capcomps = cap;
	}
	char *copy = mqb__strdup(name);
	if (!copy) {
		l->oom = true;
		return NULL;
	}
	struct conf_component *c = &l->comps[l->ncomps++];
	*c = (struct conf_component){.name = copy,
				     .shape = in->shape == LIST      ? MQB_COMPONENT_LIST
					      : in->shape == BLOCK ? MQB_COMPONENT_BLOCK
								   : MQB_COMPONENT_MAPPING};
	return c;
}

static void add_entry(struct load *l, struct conf_component *c, const struct mqb_conf_node *kn,
		      const struct mqb_conf_node *node, const char *path)
{
	/* an automation or script that uses a blueprint is what it makes */
	if (node && l->doc && (strcmp(c->name, "automation") == 0 || strcmp(c->name, "script") == 0)) {
		char dir[PATH_MAX];
		config_dir(l, dir, sizeof dir);
		size_t before = l->errs->n;
		node = conf__blueprint_apply(l->doc, dir, c->name, node, path, l->errs);
		if (!node) {
			l->found += l->errs->n - before;
			return;
		}
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		struct mqb_component_entry *v = mqb__realloc(c->entries, cap * sizeof *v);
		if (!v) {
			l->oom = true;
			return;
		}
		c->entries = v;
		c->cap = cap;
	}
	char *p = mqb__strdup(path);
	if (!p) {
		l->oom = true;
		return;
	}
	c->entries[c->n++] = (struct mqb_component_entry){
		.key = kn ? mqb_conf_scalar(kn, NULL) : NULL, .key_node = kn, .node = node, .path = p};
}

static void list_entry(struct load *l, const struct mqb_conf_node *item, const char *path,
		       const void *ud)
{
	add_entry(l, (struct conf_component *)ud, NULL, item, path);
}

/* Each component's entries, from every source in the order found: the
 * items of a LIST, the keys of a MAPPING, each BLOCK given. */
static void collect_components(struct load *l)
{
	for (size_t i = 0; i < l->nsrc && !l->oom; i++) {
		const struct source *src = &l->src[i];
		if (strcmp(src->in->name, "default_config") == 0) {
			/* Home Assistant's default_config sets sun up (the rest of
			 * what it sets up, mqbridge does not have) */
			size_t len;
			struct conf_component *c = component_of(l, find_integration("sun", &len));
			if (c)
				add_entry(l, c, NULL, NULL, src->path);
			continue;
		}
		if (!src->in->component)
			continue;
		struct conf_component *c = component_of(l, src->in);
		if (!c)
			return;
		const struct mqb_conf_node *v = src->value;
		switch (src->in->shape) {
		case LIST:
			each_item(l, v, src->path, list_entry, c);
			break;
		case MAPPING:
			for (size_t k = 0; mqb_conf_kind(v) == MQB_CONF_MAP && k < mqb_conf_len(v); k++) {
				const struct mqb_conf_node *kn = mqb_conf_key(v, k);
				const char *key = mqb_conf_scalar(kn, NULL);
				char *p = path_fmt("%s.%s", src->path, key ? key : "?");
				add_entry(l, c, kn, mqb_conf_value(v, k), p ? p : src->path);
				mqb__free(p);
			}
			break;
		case BLOCK:
			add_entry(l, c, NULL, v, src->path);
			break;
		case OWN:
			break;
		}
	}
}

/* Values of MAPPING integrations merge as Home Assistant's packages do
 * (_recursive_merge): mappings merge key by key, lists concatenate, and
 * anything else given twice is an error naming both places. */
static void merge_check(struct load *l, const struct mqb_conf_node *a,
			const struct mqb_conf_node *b, const char *path, const char *integration)
{
	char buf[96];
	for (size_t i = 0; i < mqb_conf_len(b); i++) {
		const struct mqb_conf_node *kn = mqb_conf_key(b, i);
		const char *k = mqb_conf_scalar(kn, NULL);
		const struct mqb_conf_node *va = k ? mqb_conf_get(a, k) : NULL;
		if (!va)
			continue;
		const struct mqb_conf_node *vb = mqb_conf_value(b, i);
		enum mqb_conf_kind ka = mqb_conf_kind(va), kb = mqb_conf_kind(vb);
		if (kb == MQB_CONF_MAP && mqb_conf_len(vb) == 0)
			continue; /* an empty mapping adds nothing */
		char *p = path_fmt("%s.%s", path, k);
		if (ka == MQB_CONF_MAP && kb == MQB_CONF_MAP)
			merge_check(l, va, vb, p ? p : path, integration);
		else if (kb == MQB_CONF_SEQ && ka != MQB_CONF_MAP)
			; /* cv.ensure_list(a) + b */
		else if (ka != MQB_CONF_NULL || kb == MQB_CONF_MAP)
			err(l, vb, p ? p : path,
			    "integration '%s' has duplicate key '%s' (also defined at %s)",
			    integration, k, where(va, buf, sizeof buf));
		mqb__free(p);
	}
}

static void check_shape(struct load *l, const struct integration *in,
			const struct mqb_conf_node *v, const char *path)
{
	char buf[96];
	enum mqb_conf_kind k = mqb_conf_kind(v);
	if (in->shape == LIST)
		check_entity_list(l, v, path);
	else if (k != MQB_CONF_MAP && k != MQB_CONF_NULL)
		err(l, v, path, "expected a mapping, got %s", schema__describe(v, buf, sizeof buf));
}

/* A key no table names, which a module may still claim as its own
 * component ("NAME" or "NAME label"): the integration made for it, kept
 * with the load, or NULL. */
static const struct integration *module_integration(struct load *l, const char *key)
{
	if (!platform_dirs)
		return NULL;
	const char *sp = strchr(key, ' ');
	size_t n = sp ? (size_t)(sp - key) : strlen(key);
	for (size_t i = 0; i < l->ndyn; i++)
		if (strlen(l->dyn[i]->name) == n && strncmp(l->dyn[i]->name, key, n) == 0)
			return sp && !l->dyn[i]->labels ? NULL : l->dyn[i];
	char *name = mqb__strndup(key, n);
	enum mqb_component_shape shape;
	int rc = name ? loader__probe_component(name, platform_dirs, nplatform_dirs, &shape)
		      : -ENOMEM;
	struct integration *in = rc > 0 ? mqb__calloc(1, sizeof *in) : NULL;
	struct integration **v = in ? mqb__realloc(l->dyn, (l->ndyn + 1) * sizeof *v) : NULL;
	if (!v) {
		l->oom |= rc != 0; /* no module (0) is not an error here */
		mqb__free(in);
		mqb__free(name);
		return NULL;
	}
	*in = (struct integration){name, shape == MQB_COMPONENT_LIST ? LIST
					 : shape == MQB_COMPONENT_MAPPING ? MAPPING : BLOCK,
				   true, shape != MQB_COMPONENT_BLOCK};
	l->dyn = v;
	l->dyn[l->ndyn++] = in;
	return sp && !in->labels ? NULL : in;
}

static void unknown_integration(struct load *l, const struct mqb_conf_node *kn, const char *key,
				const char *path)
{
	const char *names[NINTEGRATIONS];
	for (size_t i = 0; i < NINTEGRATIONS; i++)
		names[i] = integrations[i].name;
	const char *near = schema__suggest(key, names, NINTEGRATIONS);
	if (!near) {
		const char *const *ha;
		size_t nha = absent__names(&ha);
		near = schema__suggest(key, ha, nha);
	}
	if (near)
		err(l, kn, path, "unknown integration '%s' (did you mean '%s'?)", key, near);
	else
		err(l, kn, path, "unknown integration '%s'", key);
}

static void read_logger(struct load *l, const struct mqb_conf_node *v, const char *path);

/* One top-level key of the main file (prefix "") or of a package. */
static void top_key(struct load *l, const struct mqb_conf_node *kn, const struct mqb_conf_node *v,
		    const char *prefix, bool in_package)
{
	char buf[96];
	const char *key = mqb_conf_kind(kn) == MQB_CONF_SCALAR ? mqb_conf_scalar(kn, NULL) : NULL;
	if (!key) {
		err(l, kn, prefix, "expected an integration name, got %s",
		    schema__describe(kn, buf, sizeof buf));
		return;
	}
	char *path = *prefix ? path_fmt("%s.%s", prefix, key) : mqb__strdup(key);
	if (!path) {
		l->oom = true;
		return;
	}
	size_t base_len = 0;
	const struct integration *in = find_integration(key, &base_len);
	if (!in)
		in = module_integration(l, key);
	if (!in) {
		char base[64];
		snprintf(base, sizeof base, "%.*s", (int)strcspn(key, " "), key);
		size_t n;
		if (absent__home_assistant_has(base) && !find_integration(base, &n))
			skip(l, kn, "%s", base);
		else if (custom_integration(l, key))
			skip(l, kn, "custom integration %s", key);
		else
			unknown_integration(l, kn, key, path);
	} else if (strcmp(in->name, "logger") == 0) {
		read_logger(l, v, path);
	} else if (strcmp(in->name, "mqbridge") == 0) {
		if (in_package)
			err(l, kn, path, "a package cannot set the 'mqbridge' options");
		else
			apply_schema(l, &mqbridge_schema, v, path, &l->mb);
	} else if (strcmp(in->name, "mqtt") == 0) {
		mqtt_source(l, v, path);
	} else {
		check_shape(l, in, v, path);
		if (in->shape != LIST && mqb_conf_kind(v) == MQB_CONF_MAP)
			for (size_t i = 0; i < l->nsrc; i++)
				if (l->src[i].in == in &&
				    mqb_conf_kind(l->src[i].value) == MQB_CONF_MAP)
					merge_check(l, l->src[i].value, v, path, in->name);
		add_source(l, in, v, path);
	}
	mqb__free(path);
}

/* packages: { name: { integration: ... } } */
static void packages(struct load *l, const struct mqb_conf_node *pk, const char *path)
{
	char buf[96];
	if (!pk || mqb_conf_kind(pk) == MQB_CONF_NULL)
		return;
	if (mqb_conf_kind(pk) != MQB_CONF_MAP) {
		err(l, pk, path, "expected a mapping of package names to configurations, got %s",
		    schema__describe(pk, buf, sizeof buf));
		return;
	}
	for (size_t i = 0; i < mqb_conf_len(pk); i++) {
		const char *name = mqb_conf_scalar(mqb_conf_key(pk, i), NULL);
		const struct mqb_conf_node *p = mqb_conf_value(pk, i);
		char *pp = path_fmt("%s.%s", path, name ? name : "?");
		if (!pp) {
			l->oom = true;
			return;
		}
		if (mqb_conf_kind(p) == MQB_CONF_MAP) {
			for (size_t j = 0; j < mqb_conf_len(p); j++) {
				const char *k = mqb_conf_scalar(mqb_conf_key(p, j), NULL);
				if (k && strcmp(k, "homeassistant") == 0)
					continue; /* Home Assistant's core settings: not ours */
				top_key(l, mqb_conf_key(p, j), mqb_conf_value(p, j), pp, true);
			}
		} else if (mqb_conf_kind(p) != MQB_CONF_NULL) {
			err(l, p, pp, "expected a mapping, got %s",
			    schema__describe(p, buf, sizeof buf));
		}
		mqb__free(pp);
	}
}

/* [a-z0-9_-], whatever the locale */
static bool node_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool node_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NODE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!node_id_char(s[i]))
			return false;
	return true;
}

/* The host name, lower case, everything but [a-z0-9_-] made '_'. */
static void host_node_id(char *out, size_t len)
{
	char host[256] = "";
	if (gethostname(host, sizeof host - 1) != 0 || !host[0])
		snprintf(host, sizeof host, "mqbridge");
	size_t i = 0;
	for (; host[i] && i < len - 1 && i < NODE_ID_MAX; i++) {
		char c = host[i] >= 'A' && host[i] <= 'Z' ? (char)(host[i] - 'A' + 'a') : host[i];
		out[i] = node_id_char(c) ? c : '_';
	}
	out[i] = '\0';
}

/* ---- derived strings ------------------------------------------------------ */

/* Strings made up here (the host's node_id, mqbridge-<node_id>, ...)
 * outlive the load: the options own them. */
struct options_derived {
	const char *brokers[MQTT_MAX_BROKERS];
	char node_id[NODE_ID_MAX + 1];
	char client_id[NODE_ID_MAX + 16];
	char base_topic[NODE_ID_MAX + 16];
	char state_dir[PATH_MAX];
	struct daemon_log_level *log_levels;
	char *skipped;
};

static struct options_derived *derived_new(struct daemon_options *owner)
{
	owner->derived = mqb__calloc(1, sizeof *owner->derived);
	return owner->derived;
}

static void derived_free(struct daemon_options *owner)
{
	if (owner->derived) {
		mqb__free(owner->derived->log_levels);
		mqb__free(owner->derived->skipped);
	}
	mqb__free(owner->derived);
	owner->derived = NULL;
}

/* ---- the whole file ------------------------------------------------------- */

static const struct mqb_conf_node *get_packages(const struct mqb_conf_node *block)
{
	if (!block || mqb_conf_kind(block) != MQB_CONF_MAP)
		return NULL;
	return mqb_conf_get(block, "packages");
}

/* An error about key of the mapping s at path. */
static void __attribute__((format(printf, 5, 6)))
key_err(struct load *l, const struct mqb_conf_node *s, const char *path, const char *key,
	const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char *p = path_fmt("%s.%s", path, key);
	err(l, mqb_conf_get(s, key), p ? p : path, "%s", msg);
	mqb__free(p);
}

/* mqtt.broker: one entry or a list of them, each a host, host:port or a
 * URI whose scheme agrees with the tls block (mqtt__broker_uri). */
static void check_brokers(struct load *l, const struct mqb_conf_node *s, const char *path)
{
	char buf[96];
	const struct mqb_conf_node *b = l->mq.broker;
	if (!b)
		return;
	bool seq = mqb_conf_kind(b) == MQB_CONF_SEQ;
	size_t n = seq ? mqb_conf_len(b) : 1;
	if ((!seq && mqb_conf_kind(b) != MQB_CONF_SCALAR) || n == 0 || n > MQTT_MAX_BROKERS) {
		key_err(l, s, path, "broker", "expected a broker or a list of 1 to %d, got %s",
			MQTT_MAX_BROKERS, schema__describe(b, buf, sizeof buf));
		return;
	}
	bool tls = mqb_conf_get(s, "tls") != NULL;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_conf_node *it = seq ? mqb_conf_item(b, i) : b;
		const char *v = mqb_conf_scalar(it, NULL);
		char *p = seq ? path_fmt("%s.broker[%zu]", path, i) : path_fmt("%s.broker", path);
		char *uri = NULL;
		const char *why = NULL;
		int port;
		int rc = v ? mqtt__broker_uri(v, tls, 1883, &uri, NULL, &port, &why) : -EINVAL;
		if (rc == -ENOMEM)
			l->oom = true;
		else if (rc)
			err(l, it, p ? p : path, "%s: %s", schema__describe(it, buf, sizeof buf),
			    why ? why : "expected a host name, host:port or a URI");
		mqb__free(uri);
		mqb__free(p);
	}
}

/* What one key of the mqtt: settings alone cannot say. */
static void mqtt_checks(struct load *l, const struct mqb_conf_node *s, const char *path)
{
	const struct mqtt_block *m = &l->mq;
	if (mqb_conf_get(s, "password") && !mqb_conf_get(s, "username"))
		key_err(l, s, path, "password", "a password needs a username");
	/* (NaN, for a value that was wrong, compares false) */
	if (m->reconnect_min > m->reconnect_max) {
		if (mqb_conf_get(s, "reconnect_min"))
			key_err(l, s, path, "reconnect_min", "must not be more than reconnect_max (%g)",
				m->reconnect_max);
		else
			key_err(l, s, path, "reconnect_max", "must not be less than reconnect_min (%g)",
				m->reconnect_min);
	}
	if (m->client_id && !*m->client_id)
		key_err(l, s, path, "client_id", "must not be empty");
	check_brokers(l, s, path);
	if (mqb_conf_get(s, "tls") && !m->tls.certfile != !m->tls.keyfile)
		key_err(l, s, path, "tls", "certfile and keyfile go together: give both or neither");
}

/* A level as Home Assistant's logger takes it (Python's names, in any
 * case) as one of mqbridge's four: critical and fatal are error, notset
 * is debug. 0 or -EINVAL. */
int options__ha_log_level(const char *name, enum mqb_log_level *out)
{
	static const struct {
		const char *name;
		enum mqb_log_level level;
	} levels[] = {
		{"critical", MQB_LOG_ERROR}, {"fatal", MQB_LOG_ERROR},   {"error", MQB_LOG_ERROR},
		{"warning", MQB_LOG_WARNING}, {"warn", MQB_LOG_WARNING}, {"info", MQB_LOG_INFO},
		{"debug", MQB_LOG_DEBUG},    {"notset", MQB_LOG_DEBUG},
	};
	for (size_t i = 0; name && i < MQB_ARRAY_SIZE(levels); i++)
		if (strcasecmp(name, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	return -EINVAL;
}

/* The subsystem a Python logger name stands for, in buf: mqbridge.mqtt
 * and homeassistant.components.mqtt (and the loggers below them,
 * ...mqtt.discovery) are "mqtt"; mqbridge, homeassistant and
 * homeassistant.components, parents of every subsystem, are "". NULL
 * for a name no subsystem of mqbridge logs as (custom_components.x, a
 * library's): Home Assistant takes any name, so it is no error. */
const char *options__log_subsystem(const char *name, char *buf, size_t len)
{
	static const char *const parents[] = {"homeassistant.components", "homeassistant.helpers",
					      "homeassistant", "mqbridge"};
	for (size_t i = 0; i < MQB_ARRAY_SIZE(parents); i++) {
		size_t n = strlen(parents[i]);
		if (strncmp(name, parents[i], n) != 0 || (name[n] && name[n] != '.'))
			continue;
		if (!name[n])
			return "";
		size_t k = strcspn(name + n + 1, ".");
		if (!k || k >= len)
			return NULL;
		snprintf(buf, len, "%.*s", (int)k, name + n + 1);
		return buf;
	}
	return NULL;
}

/* logger: (Home Assistant's): the default level, and the subsystems'
 * own in logs:, the later of a name winning. */
static void read_logger(struct load *l, const struct mqb_conf_node *v, const char *path)
{
	char buf[96];
	static const char levels[] = "critical, fatal, error, warning, warn, info, debug or notset";
	if (mqb_conf_kind(v) == MQB_CONF_NULL)
		return;
	if (mqb_conf_kind(v) != MQB_CONF_MAP) {
		err(l, v, path, "expected a mapping, got %s", schema__describe(v, buf, sizeof buf));
		return;
	}
	struct logger_block b = {0};
	apply_schema(l, &logger_schema, v, path, &b);
	if (b.level && options__ha_log_level(b.level, &l->logger_level) == 0)
		l->have_logger_level = true;
	else if (b.level)
		key_err(l, v, path, "default", "expected a log level (%s), got %s", levels,
			schema__describe(mqb_conf_get(v, "default"), buf, sizeof buf));
	const struct mqb_conf_node *const maps[] = {b.logs, b.filters};
	for (size_t i = 0; i < 2; i++)
		if (maps[i] && mqb_conf_kind(maps[i]) != MQB_CONF_MAP &&
		    mqb_conf_kind(maps[i]) != MQB_CONF_NULL)
			key_err(l, v, path, i ? "filters" : "logs", "expected a mapping, got %s",
				schema__describe(maps[i], buf, sizeof buf));
	for (size_t i = 0; mqb_conf_kind(b.logs) == MQB_CONF_MAP && i < mqb_conf_len(b.logs); i++) {
		const char *name = mqb_conf_scalar(mqb_conf_key(b.logs, i), NULL);
		const struct mqb_conf_node *lv = mqb_conf_value(b.logs, i);
		const char *text = mqb_conf_kind(lv) == MQB_CONF_SCALAR ? mqb_conf_scalar(lv, NULL)
									: NULL;
		enum mqb_log_level level = MQB_LOG_INFO;
		char *p = path_fmt("%s.logs.%s", path, name ? name : "?");
		if (options__ha_log_level(text, &level)) {
			err(l, lv, p ? p : path, "expected a log level (%s), got %s", levels,
			    schema__describe(lv, buf, sizeof buf));
			name = NULL;
		}
		mqb__free(p);
		char sub[sizeof l->log_levels[0].subsystem];
		const char *s = name ? options__log_subsystem(name, sub, sizeof sub) : NULL;
		if (s && !*s) {
			l->have_logger_level = true;
			l->logger_level = level;
			continue;
		}
		size_t k = 0;
		while (s && k < l->nlog_levels && strcmp(l->log_levels[k].subsystem, s) != 0)
			k++;
		if (s && k == l->nlog_levels) {
			struct daemon_log_level *nv =
				mqb__realloc(l->log_levels, (k + 1) * sizeof *nv);
			if (!nv) {
				l->oom = true;
				return;
			}
			l->log_levels = nv;
			snprintf(nv[k].subsystem, sizeof nv[k].subsystem, "%s", s);
			l->nlog_levels++;
		}
		if (s)
			l->log_levels[k].level = level;
	}
}

/* homeassistant: (only the main file's: Home Assistant's packages do not
 * set it). The time zone must be one the system knows, as Home Assistant
 * checks against the zone database; latitude and longitude go together. */
static void read_homeassistant(struct load *l, const struct mqb_conf_node *block)
{
	char buf[96];
	if (block && mqb_conf_kind(block) != MQB_CONF_MAP)
		return; /* check_shape said so */
	apply_schema(l, &ha_schema, block, "homeassistant", &l->ha);
	const char *tz = l->ha.time_zone;
	if (tz) {
		bool ok = *tz && tz[0] != '/' && !strstr(tz, "..") && strlen(tz) < 64;
		char path[160];
		snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
		if (!ok || access(path, R_OK) != 0)
			err(l, mqb_conf_get(block, "time_zone"), "homeassistant.time_zone",
			    "unknown time zone %s (not in /usr/share/zoneinfo)",
			    schema__describe(mqb_conf_get(block, "time_zone"), buf, sizeof buf));
	}
	const struct mqb_conf_node *cz[] = {l->ha.customize, l->ha.customize_domain,
					    l->ha.customize_glob};
	static const char *const cz_names[] = {"customize", "customize_domain", "customize_glob"};
	for (size_t i = 0; i < 3; i++) {
		const struct mqb_conf_node *c = cz[i];
		char *p = path_fmt("homeassistant.%s", cz_names[i]);
		if (c && mqb_conf_kind(c) != MQB_CONF_MAP && mqb_conf_kind(c) != MQB_CONF_NULL)
			err(l, c, p ? p : "homeassistant", "expected a mapping, got %s",
			    schema__describe(c, buf, sizeof buf));
		for (size_t k = 0; c && mqb_conf_kind(c) == MQB_CONF_MAP && k < mqb_conf_len(c); k++) {
			const struct mqb_conf_node *v = mqb_conf_value(c, k);
			if (mqb_conf_kind(v) != MQB_CONF_MAP && mqb_conf_kind(v) != MQB_CONF_NULL)
				err(l, v, p ? p : "homeassistant",
				    "expected a mapping of attributes, got %s",
				    schema__describe(v, buf, sizeof buf));
		}
		mqb__free(p);
	}
	if (isnan(l->ha.latitude) != isnan(l->ha.longitude)) {
		bool lat = !isnan(l->ha.latitude);
		err(l, mqb_conf_get(block, lat ? "latitude" : "longitude"),
		    lat ? "homeassistant.latitude" : "homeassistant.longitude",
		    "latitude and longitude go together: give both or neither");
	}
}

/* Every top-level key of root, the packages they name, and the defaults
 * of the blocks not given. false: root is not even a mapping. */
static bool read_top_level(struct load *l, const struct mqb_conf_node *root)
{
	char buf[96];
	if (root && mqb_conf_kind(root) != MQB_CONF_MAP && mqb_conf_kind(root) != MQB_CONF_NULL) {
		err(l, root, "", "expected a mapping of integrations, got %s",
		    schema__describe(root, buf, sizeof buf));
		return false;
	}
	const struct mqb_conf_node *ha_node = NULL;
	size_t n = root && mqb_conf_kind(root) == MQB_CONF_MAP ? mqb_conf_len(root) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *k = mqb_conf_scalar(mqb_conf_key(root, i), NULL);
		if (k && strcmp(k, "mqbridge") == 0)
			l->mb_node = mqb_conf_value(root, i);
		if (k && strcmp(k, "homeassistant") == 0)
			ha_node = mqb_conf_value(root, i);
		top_key(l, mqb_conf_key(root, i), mqb_conf_value(root, i), "", false);
	}
	if (!l->mb_node)
		apply_schema(l, &mqbridge_schema, NULL, "mqbridge", &l->mb);
	l->ha_node = ha_node;
	read_homeassistant(l, ha_node);
	packages(l, l->mb.packages, "mqbridge.packages");
	packages(l, get_packages(ha_node), "homeassistant.packages");
	if (!l->mqtt_settings)
		apply_schema(l, &mqtt_schema, NULL, "mqtt", &l->mq);
	return true;
}

/* mqtt_statestream:, if given (its last source wins). */
static void read_statestream(struct load *l)
{
	for (size_t i = 0; i < l->nsrc; i++) {
		const struct source *src = &l->src[i];
		if (strcmp(src->in->name, "mqtt_statestream") != 0)
			continue;
		l->have_ss = true;
		if (mqb_conf_kind(src->value) == MQB_CONF_MAP) {
			apply_schema(l, &statestream_schema, src->value, src->path, &l->ss);
			l->ss.include = mqb_conf_get(src->value, "include");
			l->ss.exclude = mqb_conf_get(src->value, "exclude");
		}
	}
}

/* What no one key can say alone. */
static void check_across_keys(struct load *l)
{
	char buf[96];
	if (l->mb.node_id && !node_id_valid(l->mb.node_id)) {
		const struct mqb_conf_node *at = mqb_conf_get(l->mb_node, "node_id");
		err(l, at, "mqbridge.node_id",
		    "must be 1 to %d characters of a-z, 0-9, '_' and '-'; got %s", NODE_ID_MAX,
		    schema__describe(at, buf, sizeof buf));
	}
	if (l->mqtt_settings && l->mqtt_path)
		mqtt_checks(l, l->mqtt_settings, l->mqtt_path);
}

/* 0, -EINVAL for the problems found, or -ENOMEM: also when memory ran out
 * recording one (found, but fewer than that many recorded). */
static int load_result(const struct load *l, size_t recorded)
{
	if (l->oom || l->found > recorded)
		return -ENOMEM;
	return l->found ? -EINVAL : 0;
}

static void fill_mqtt(const struct load *l, struct options_derived *d, struct mqtt_options *o)
{
	mqtt__options_init(o);
	const struct mqb_conf_node *b = l->mq.broker;
	if (b && mqb_conf_kind(b) == MQB_CONF_SEQ) {
		for (size_t i = 0; i < mqb_conf_len(b) && i < MQTT_MAX_BROKERS; i++)
			d->brokers[o->nbrokers++] = mqb_conf_scalar(mqb_conf_item(b, i), NULL);
		o->brokers = d->brokers;
		o->host = d->brokers[0];
	} else if (b) {
		o->host = mqb_conf_scalar(b, NULL);
	}
	o->tls = l->mqtt_settings && mqb_conf_get(l->mqtt_settings, "tls");
	o->port = l->mq.port ? l->mq.port : o->tls ? 8883 : 1883;
	o->client_id = l->mq.client_id ? l->mq.client_id : d->client_id;
	o->username = l->mq.username;
	o->password = l->mq.password;
	o->keepalive = l->mq.keepalive;
	o->clean_session = l->mq.clean_session;
	o->protocol = l->mq.protocol && strcmp(l->mq.protocol, "5") == 0 ? 5 : 4;
	o->tls_insecure = l->mq.tls.insecure;
	o->ca_file = l->mq.tls.ca_certs;
	o->ca_path = l->mq.tls.ca_path;
	o->cert_file = l->mq.tls.certfile;
	o->key_file = l->mq.tls.keyfile;
	o->base_topic = l->mq.base_topic ? l->mq.base_topic : d->base_topic;
	o->max_payload = l->mq.max_payload;
	o->max_inflight = l->mq.max_inflight;
	o->outbound_queue_max = l->mq.outbound_queue;
	o->reconnect_min = l->mq.reconnect_min;
	o->reconnect_max = l->mq.reconnect_max;
}

/* "recorder (configuration.yaml:3:1), sensor platform rest (...)" */
static char *skipped_text(const struct load *l)
{
	size_t len = 1;
	for (size_t i = 0; i < l->nskipped; i++)
		len += strlen(l->skipped[i].what) + PATH_MAX + 48;
	char *t = mqb__malloc(len), where_at[PATH_MAX + 32];
	size_t off = 0;
	for (size_t i = 0; t && i < l->nskipped; i++)
		off += (size_t)snprintf(t + off, len - off, "%s%s (%s)", i ? ", " : "",
					l->skipped[i].what,
					where(l->skipped[i].at, where_at, sizeof where_at));
	if (t && !l->nskipped)
		*t = '\0';
	return t;
}

/* The options out of a load that found no problem: the names made up
 * where none were given, then every block's values. 0 or -ENOMEM. */
static int fill_out(struct load *l, struct daemon_options *out)
{
	struct options_derived *d = derived_new(out);
	if (!d)
		return -ENOMEM;
	const char *node_id = l->mb.node_id;
	if (!node_id) {
		host_node_id(d->node_id, sizeof d->node_id);
		node_id = d->node_id;
	}
	snprintf(d->client_id, sizeof d->client_id, "mqbridge-%s", node_id);
	snprintf(d->base_topic, sizeof d->base_topic, "mqbridge/%s", node_id);

	out->node_id = node_id;
	out->name = l->mb.name ? l->mb.name : node_id;
	out->have_log_level = l->mb.log_level &&
			      mqb_log_level_parse(l->mb.log_level, &out->log_level) == 0;
	if (!out->have_log_level && l->have_logger_level) {
		out->have_log_level = true;
		out->log_level = l->logger_level;
	}
	d->log_levels = l->log_levels;
	out->log_levels = l->log_levels;
	out->nlog_levels = l->nlog_levels;
	l->log_levels = NULL;
	l->nlog_levels = 0;
	if (l->nskipped && !(out->skipped = d->skipped = skipped_text(l)))
		return -ENOMEM;
	mqb_core_options_init(&out->core);
	out->core.executor_threads = l->mb.executor_threads;
	out->core.executor_queue_max = l->mb.executor_queue;
	out->core.shutdown_timeout = l->mb.shutdown_timeout;
	out->state_dir = l->mb.state_dir;
	/* systemd's StateDirectory= says where, unless the file does; it
	 * may list several, the first is ours */
	const char *sd = getenv("STATE_DIRECTORY");
	if (sd && sd[0] == '/' && !mqb_conf_get(l->mb_node, "state_dir")) {
		snprintf(d->state_dir, sizeof d->state_dir, "%.*s", (int)strcspn(sd, ":"), sd);
		out->state_dir = d->state_dir;
	}
	/* entities under mqtt: want a broker, the default one if none is given */
	out->have_mqtt = l->mqtt_seen;
	fill_mqtt(l, d, &out->mqtt);
	out->location.set = !isnan(l->ha.latitude) && !isnan(l->ha.longitude);
	out->location.latitude = out->location.set ? l->ha.latitude : 0;
	out->location.longitude = out->location.set ? l->ha.longitude : 0;
	out->location.elevation = l->ha.elevation;
	out->location.miles = l->ha.unit_system && strcmp(l->ha.unit_system, "metric") != 0;
	if (l->ha.time_zone)
		snprintf(out->location.time_zone, sizeof out->location.time_zone, "%s",
			 l->ha.time_zone);
	out->customize = l->ha.customize;
	out->customize_domain = l->ha.customize_domain;
	out->customize_glob = l->ha.customize_glob;
	out->discovery = l->mq.discovery;
	out->discovery_prefix = l->mq.discovery_prefix;
	out->announce_rate = l->mq.announce_rate;
	out->device_discovery = l->mq.discovery_mode && strcmp(l->mq.discovery_mode, "device") == 0;
	out->statestream_base = l->have_ss ? l->ss.base_topic : NULL;
	out->statestream_attributes = l->ss.publish_attributes;
	out->statestream_timestamps = l->ss.publish_timestamps;
	out->statestream_include = l->ss.include;
	out->statestream_exclude = l->ss.exclude;
	/* Kept for as long as the daemon runs: without the doubling's spare
	 * room (up to 56 bytes an entity). */
	struct conf_item *fit = l->nitems && l->nitems < l->capitems
					? mqb__realloc(l->items, l->nitems * sizeof *fit)
					: NULL;
	out->items = fit ? fit : l->items;
	out->nitems = l->nitems;
	l->items = NULL;
	l->nitems = 0;
	out->components = l->comps;
	out->ncomponents = l->ncomps;
	l->comps = NULL;
	l->ncomps = 0;
	return 0;
}

/* Check root and fill out (whose doc the caller sets). 0; -EINVAL with
 * the problems in errs; -ENOMEM. */
static int apply(struct mqb_conf_doc *doc, const struct mqb_conf_node *root,
		 struct daemon_options *out, struct mqb_conf_errors *errs)
{
	struct load l = {.errs = errs, .mq = {.reconnect_min = NAN, .reconnect_max = NAN},
			 .ha = {.latitude = NAN, .longitude = NAN},
			 .main_file = mqb_conf_mark(root).file, .doc = doc};
	size_t before = errs->n;
	int rc = -EINVAL;
	if (!read_top_level(&l, root))
		goto out;
	collect_items(&l);
	collect_components(&l);
	read_statestream(&l);
	if (platform_dirs && !l.oom)
		l.found += loader__check(doc, l.items, l.nitems, platform_dirs, nplatform_dirs,
					 errs, &l.oom);
	if (platform_dirs && !l.oom)
		l.found += loader__check_components(l.comps, l.ncomps, platform_dirs,
						    nplatform_dirs, errs, &l.oom);
	check_across_keys(&l);
	if (!(rc = load_result(&l, errs->n - before)))
		rc = fill_out(&l, out);
out:
	items_free(l.items, l.nitems);
	components_free(l.comps, l.ncomps);
	for (size_t i = 0; i < l.ndyn; i++) {
		mqb__free((char *)l.dyn[i]->name);
		mqb__free(l.dyn[i]);
	}
	mqb__free(l.dyn);
	for (size_t i = 0; i < l.nskipped; i++)
		mqb__free(l.skipped[i].what);
	mqb__free(l.skipped);
	mqb__free(l.log_levels);
	mqb__free(l.mqtt_path);
	for (size_t i = 0; i < l.nsrc; i++)
		mqb__free(l.src[i].path);
	mqb__free(l.src);
	return rc;
}

void options__set_platform_dirs(const char *const *dirs, size_t n)
{
	platform_dirs = dirs;
	nplatform_dirs = n;
}

struct include_errors {
	struct mqb_conf_errors *errs;
	const char *dir;
};

static void include_error(void *ud, const char *file, const struct mqb_tpl_error *err)
{
	const struct include_errors *ie = ud;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", ie->dir, file);
	struct mqb_conf_mark m = { path, err->line, err->column };
	mqb_conf_error(ie->errs, &m, "", "invalid template: %s", err->message);
}

/* custom_templates/ beside the configuration file (Home Assistant's):
 * the files templates import, compiled before the templates that do. */
static int load_custom_templates(const char *path, struct mqb_conf_errors *errs)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	snprintf(dir, sizeof dir, "%.*s%scustom_templates", slash ? (int)(slash - path + 1) : 0,
		 path, "");
	struct include_errors ie = { errs, dir };
	int rc = mqb_template_load_includes(dir, include_error, &ie);
	if (rc && rc != -EINVAL)
		mqb_conf_error(errs, &(struct mqb_conf_mark){ dir, 0, 0 }, "", "%s", mqb_strerror(rc));
	return rc;
}

int options__load(const char *path, struct daemon_options *out, struct mqb_conf_errors *errs)
{
	memset(out, 0, sizeof *out);
	struct mqb_conf_doc *doc = NULL;
	/* a file that does not compile is reported with the rest, and fails
	 * the load as they do */
	int inc = load_custom_templates(path, errs);
	if (inc < 0 && inc != -EINVAL)
		return inc;
	int rc = conf__load(path, NULL, &doc, errs);
	if (rc < 0)
		return rc;
	rc = apply(doc, mqb_conf_root(doc), out, errs);
	if (rc < 0) {
		derived_free(out);
		mqb_conf_doc_free(doc);
		memset(out, 0, sizeof *out);
		return rc;
	}
	out->doc = doc;
	if (inc < 0) {
		options__fini(out);
		return inc;
	}
	return 0;
}

/* A file other users may read, and what its mode is. */
static bool readable_by_others(const char *path, unsigned *mode)
{
	struct stat st;
	if (!path || stat(path, &st) != 0)
		return false;
	*mode = (unsigned)st.st_mode & 07777;
	return (st.st_mode & S_IROTH) != 0;
}

unsigned options__warn(const struct daemon_options *o)
{
	unsigned n = 0, mode;
	const char *f;
	for (size_t i = 0; (f = conf__doc_secret_file(o->doc, i)); i++)
		if (readable_by_others(f, &mode) && ++n)
			MQB_LOG_WARNING("main", "%s holds secrets and every user may read it "
					"(mode %04o): chmod o-r %s", f, mode, f);
	if (o->mqtt.tls && readable_by_others(o->mqtt.key_file, &mode) && ++n)
		MQB_LOG_WARNING("main", "the TLS key %s is readable by every user (mode %04o): "
				"chmod o-r %s", o->mqtt.key_file, mode, o->mqtt.key_file);
	if (o->mqtt.tls && o->mqtt.tls_insecure && ++n)
		MQB_LOG_WARNING("main", "mqtt.tls.insecure is true: the broker's certificate and "
				"host name are not checked, so anyone on the way may read and "
				"change the traffic, passwords included");
	for (size_t i = 0; (f = conf__doc_note(o->doc, i)); i++, n++)
		MQB_LOG_WARNING("main", "%s", f);
	if (o->skipped && ++n)
		MQB_LOG_WARNING("main", "skipped, as mqbridge does not have them: %s", o->skipped);
	if (geteuid() == 0 && ++n)
		MQB_LOG_WARNING("main", "running as root: every command and file the "
				"configuration names runs or is read with root's rights; run as "
				"a user of its own (User= in mqbridge.service)");
	return n;
}

void options__fini(struct daemon_options *o)
{
	if (!o)
		return;
	derived_free(o);
	items_free(o->items, o->nitems);
	components_free(o->components, o->ncomponents);
	mqb_conf_doc_free(o->doc);
	memset(o, 0, sizeof *o);
}
