/* SPDX-License-Identifier: MIT */
/* Making the MQTT client (client.c): its options and attaching it to a
 * core, which the daemon does once; everything else of the client is the
 * public mqbridge/mqtt.h. */
#ifndef MQB_MQTT_CLIENT_H
#define MQB_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct mqb_core;

#define MQTT_MAX_BROKERS 16

struct mqtt_options {
	const char *host;           /* broker host name or address ("localhost") */
	int port;                   /* 0: 1883, or 8883 with tls; brokers' default too */
	/* Failover: brokers tried in order on every connect (at most
	 * MQTT_MAX_BROKERS), each "host", "host:port", "[v6]:port" or a URI
	 * (mqtt://, tcp://, mqtts://, ssl://); when nbrokers > 0, host is
	 * not used. host is such an entry too. */
	const char *const *brokers;
	unsigned nbrokers;
	const char *client_id;      /* required; stable, for clean_session false */
	const char *username, *password; /* may be NULL */
	int keepalive;              /* seconds (60); a silent broker: within 2.75x */
	bool clean_session;         /* true; false keeps QoS 1/2 messages across reconnects */
	int protocol;               /* 4: MQTT 3.1.1 (default), 5: MQTT 5 */
	bool tls;                   /* TLS, with certificate and host name verification */
	bool tls_insecure;          /* turn both verifications off */
	const char *ca_file, *ca_path, *cert_file, *key_file;
	const char *base_topic;     /* "<base>/status": birth online, will offline; NULL: none */
	size_t max_payload;         /* larger inbound messages are dropped and counted (1 MiB) */
	unsigned max_inflight;      /* QoS>0 publishes awaiting their ack (256) */
	unsigned outbound_queue_max; /* publishes queued while disconnected (1000) */
	unsigned inbound_batch;     /* messages handled per loop turn before yielding (64) */
	double reconnect_min, reconnect_max; /* back-off bounds, seconds (1, 60) */
	double connect_timeout;     /* seconds (10) */
	/* Never connect (mqbridge -C -v, --test): subscriptions are kept in
	 * the table, publishes wait and are dropped at stop. */
	bool offline;
};

/* One entry of brokers as Paho's URI ("tcp://host:port", "ssl://..."),
 * its host and port: 0 with *uri (free with mqb__free), or -EINVAL with
 * *why saying what is wrong (a URI whose scheme disagrees with tls, a
 * port out of range, an empty host), or -ENOMEM. Thread: any. */
int mqtt__broker_uri(const char *entry, bool tls, int default_port, char **uri, char **host,
		     int *port, const char **why);

/* Fills in the defaults above. Thread: any. */
void mqtt__options_init(struct mqtt_options *opt);

/* Attach an MQTT client to core (one per core) and start connecting once
 * the loop runs (never, when offline); reconnects with capped exponential back-off and jitter
 * until the core stops. On stop it publishes "offline" on <base>/status
 * and disconnects. The options' strings are copied. -EINVAL (bad options:
 * the log says which), -EEXIST (core has one), -ELIBACC (Paho's library,
 * libpaho-mqtt3c or with TLS libpaho-mqtt3cs, cannot be loaded: the log
 * says why), -ENOMEM. Thread: loop. */
int mqtt__new(struct mqb_core *core, const struct mqtt_options *opt);

/* The broker's URI ("tcp://127.0.0.1:1883"), and why the last connect
 * failed or the last connection was lost ("" once connected), for the
 * status line and dump; NULL without a client. Thread: loop. */
const char *mqtt__async_uri(struct mqb_core *core);
const char *mqtt__async_last_error(struct mqb_core *core);

#endif
