/* SPDX-License-Identifier: MIT */
/* Every MQTT domain's configuration, as its schema table fills it: one
 * struct each, starting with the options all share. Here, not in each
 * domain's file, because the module's descriptor (entity.c) tells the
 * loader their sizes. Strings point into the document; a template or a
 * list is kept as its node. */
#ifndef MQB_PLATFORMS_MQTT_CONF_H
#define MQB_PLATFORMS_MQTT_CONF_H

struct sensor_conf {
	struct mqtt_common com;
	const struct mqb_conf_node *suggested_display_precision, *last_reset_value_template, *options;
};

struct binary_sensor_conf {
	struct mqtt_common com;
	const char *payload_on, *payload_off;
	unsigned off_delay;
};

struct switch_conf {
	struct mqtt_common com;
	const char *payload_on, *payload_off, *state_on, *state_off;
};

struct button_conf {
	struct mqtt_common com;
	const char *payload_press;
};

struct number_conf {
	struct mqtt_common com;
	double min, max, step;
	const char *mode, *payload_reset;
};

struct select_conf {
	struct mqtt_common com;
	const struct mqb_conf_node *options;
};

struct text_conf {
	struct mqtt_common com;
	int min, max;
	const char *mode, *pattern;
};

struct scene_conf {
	struct mqtt_common com;
	const char *payload_on;
};

struct notify_conf {
	struct mqtt_common com;
};

struct event_conf {
	struct mqtt_common com;
	const struct mqb_conf_node *event_types;
};

struct update_conf {
	struct mqtt_common com;
	const char *latest_version_topic, *payload_install, *release_summary, *release_url, *title;
	const struct mqb_conf_node *latest_version_template;
	int display_precision;
};

struct device_tracker_conf {
	struct mqtt_common com;
	const char *payload_home, *payload_not_home, *payload_reset, *source_type;
};

/* A color or setting a basic light reads and commands on topics of its own. */
struct light_channel {
	const char *command_topic, *state_topic;
	const struct mqb_conf_node *command_template, *value_template;
};

struct light_conf {
	struct mqtt_common com;
	const char *schema, *payload_on, *payload_off, *on_command_type;
	const struct mqb_conf_node *state_value_template;
	/* basic */
	struct light_channel brightness, color_temp, effect, hs, rgb, rgbw, rgbww, xy;
	const char *color_mode_state_topic, *white_command_topic;
	const struct mqb_conf_node *color_mode_value_template, *white_command_template;
	int brightness_scale, white_scale;
	bool color_temp_kelvin;
	int min_mireds, max_mireds, min_kelvin, max_kelvin;
	const struct mqb_conf_node *effect_list;
	/* json */
	bool brightness_on, effect_on, flash, transition;
	const struct mqb_conf_node *supported_color_modes;
	unsigned flash_time_short, flash_time_long;
	/* template */
	const struct mqb_conf_node *command_on_template, *command_off_template, *state_template, *brightness_template;
	const struct mqb_conf_node *red_template, *green_template, *blue_template, *color_temp_template, *effect_template;
};

struct cover_conf {
	struct mqtt_common com;
	const struct mqb_conf_node *payload_open, *payload_close, *payload_stop;
	const char *state_open, *state_opening, *state_closed, *state_closing, *state_stopped;
	const char *position_topic, *set_position_topic;
	const struct mqb_conf_node *position_template, *set_position_template;
	int position_open, position_closed;
	const char *tilt_command_topic, *tilt_status_topic, *payload_stop_tilt;
	const struct mqb_conf_node *tilt_command_template, *tilt_status_template;
	int tilt_min, tilt_max, tilt_closed_value, tilt_opened_value;
	bool tilt_optimistic;
};

struct valve_conf {
	struct mqtt_common com;
	const struct mqb_conf_node *payload_open, *payload_close, *payload_stop;
	const char *state_open, *state_opening, *state_closed, *state_closing;
	bool reports_position;
	int position_open, position_closed;
};

/* A state the climate-like domains read and set on topics of their own. */
struct climate_channel {
	const char *command_topic, *state_topic;
	const struct mqb_conf_node *command_template, *state_template;
};

struct climate_conf {
	struct mqtt_common com;
	struct climate_channel mode, temperature, temperature_high, temperature_low, fan_mode,
		swing_mode, preset_mode, target_humidity, swing_horizontal_mode;
	const char *action_topic, *current_temperature_topic, *current_humidity_topic;
	const struct mqb_conf_node *action_template, *current_temperature_template, *current_humidity_template;
	const struct mqb_conf_node *modes, *fan_modes, *swing_modes, *preset_modes, *swing_horizontal_modes;
	const char *power_command_topic, *payload_on, *payload_off, *temperature_unit;
	const struct mqb_conf_node *power_command_template;
	double min_temp, max_temp, temp_step, precision, min_humidity, max_humidity, initial;
};

struct humidifier_conf {
	struct mqtt_common com;
	const char *payload_on, *payload_off, *payload_reset_humidity, *payload_reset_mode;
	const struct mqb_conf_node *state_value_template, *modes;
	struct climate_channel target_humidity, mode;
	const char *action_topic, *current_humidity_topic;
	const struct mqb_conf_node *action_template, *current_humidity_template;
	double min_humidity, max_humidity;
};

struct fan_conf {
	struct mqtt_common com;
	const char *payload_on, *payload_off;
	const struct mqb_conf_node *state_value_template;
	struct light_channel percentage, preset_mode, oscillation, direction;
	int speed_range_min, speed_range_max;
	const char *payload_reset_percentage, *payload_reset_preset_mode;
	const char *payload_oscillation_on, *payload_oscillation_off;
	const struct mqb_conf_node *preset_modes;
};

struct lock_conf {
	struct mqtt_common com;
	const char *payload_lock, *payload_unlock, *payload_reset, *code_format;
	const struct mqb_conf_node *payload_open;
	const char *state_locked, *state_unlocked, *state_locking, *state_unlocking;
	const char *state_jammed, *state_open, *state_opening;
};

struct siren_conf {
	struct mqtt_common com;
	const char *payload_on, *payload_off, *state_on, *state_off;
	const struct mqb_conf_node *state_value_template, *command_off_template, *available_tones;
	bool support_duration, support_volume_set;
};

struct alarm_conf {
	struct mqtt_common com;
	const char *code;
	bool code_arm_required, code_disarm_required, code_trigger_required;
	const char *payload_arm_away, *payload_arm_home, *payload_arm_night, *payload_arm_vacation;
	const char *payload_arm_custom_bypass, *payload_disarm, *payload_trigger;
	const struct mqb_conf_node *supported_features;
};

struct vacuum_conf {
	struct mqtt_common com;
	const char *schema;
	const char *payload_start, *payload_pause, *payload_stop, *payload_return_to_base;
	const char *payload_clean_spot, *payload_locate;
	const char *set_fan_speed_topic, *send_command_topic;
	const struct mqb_conf_node *fan_speed_list, *supported_features;
};

struct lawn_mower_conf {
	struct mqtt_common com;
	const char *activity_state_topic, *dock_command_topic, *pause_command_topic;
	const char *start_mowing_command_topic;
	const struct mqb_conf_node *activity_value_template, *dock_command_template, *pause_command_template;
	const struct mqb_conf_node *start_mowing_command_template;
};

struct device_automation_conf {
	struct mqtt_common com;
	const char *automation_type, *topic, *type, *subtype, *payload;
};

#endif
