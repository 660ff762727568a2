/* SPDX-License-Identifier: MIT */
/* Where the installation is: Home Assistant's hass.config location, from
 * the homeassistant: block (latitude, longitude, elevation, time_zone). The
 * sun, its triggers and conditions, and local times of day read it. */
#ifndef MQBRIDGE_LOCATION_H
#define MQBRIDGE_LOCATION_H

#include <stdbool.h>

struct mqb_core;

struct mqb_location {
	double latitude, longitude; /* degrees, north and east positive */
	double elevation;           /* metres above sea level */
	bool set;                   /* latitude and longitude were configured */
	/* unit_system us_customary (or its old name imperial): lengths, such
	 * as the templates' distance(), in miles rather than kilometres */
	bool miles;
	/* The IANA time zone local times are read in ("Europe/Berlin"); the
	 * daemon makes it the process's own (TZ), so localtime_r and mktime
	 * use it. "" when none was configured: the system's. */
	char time_zone[64];
};

/* The core's location; all zero (set false) until the daemon sets it.
 * Thread: loop, or any once the daemon has started. */
const struct mqb_location *mqb_core_location(const struct mqb_core *core);

#endif
