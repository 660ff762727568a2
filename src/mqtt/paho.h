/* SPDX-License-Identifier: MIT */
/* Paho MQTT C loaded at run time, so that only a TLS client brings OpenSSL
 * (about 2 MiB resident) into the process: a table of the functions
 * client.c calls, one per library, each loaded once and never closed. */
#ifndef MQB_PAHO_H
#define MQB_PAHO_H

#include <stdbool.h>
#include <stddef.h>
#include <MQTTClient.h>

/* Every Paho function the client calls; the field types come from
 * MQTTClient.h, so a call through the table is checked like a direct one. */
#define MQB_PAHO_FUNCTIONS(X)                                                                 \
	X(MQTTClient_global_init)                                                             \
	X(MQTTClient_setTraceLevel)                                                           \
	X(MQTTClient_createWithOptions)                                                       \
	X(MQTTClient_destroy)                                                                 \
	X(MQTTClient_setPublished)                                                            \
	X(MQTTClient_setCommandTimeout)                                                       \
	X(MQTTClient_connect)                                                                 \
	X(MQTTClient_connect5)                                                                \
	X(MQTTClient_disconnect)                                                              \
	X(MQTTClient_isConnected)                                                             \
	X(MQTTClient_subscribeMany)                                                           \
	X(MQTTClient_subscribeMany5)                                                          \
	X(MQTTClient_unsubscribeMany)                                                         \
	X(MQTTClient_unsubscribeMany5)                                                        \
	X(MQTTClient_publishMessage)                                                          \
	X(MQTTClient_publishMessage5)                                                         \
	X(MQTTClient_receive)                                                                 \
	X(MQTTClient_getPendingDeliveryTokens)                                                \
	X(MQTTClient_freeMessage)                                                             \
	X(MQTTClient_free)                                                                    \
	X(MQTTClient_strerror)                                                                \
	X(MQTTResponse_free)                                                                  \
	X(MQTTProperties_add)                                                                 \
	X(MQTTProperties_free)

struct mqb_paho {
	const char *soname;
#define MQB_PAHO_FIELD(name) __typeof__(name) *name;
	MQB_PAHO_FUNCTIONS(MQB_PAHO_FIELD)
#undef MQB_PAHO_FIELD
};

/* The library for a client with or without TLS, loaded and set up (OpenSSL
 * left to set itself up) on first use. Memory a library allocates must go
 * back to the same library: a client keeps the table it was created with.
 * On failure NULL, and err says why in words. Thread: any. */
const struct mqb_paho *mqb__paho_get(bool tls, char *err, size_t errlen);

/* Tests only: load soname instead of the library for tls (NULL: the default
 * again). Libraries already loaded stay loaded. Thread: any. */
void mqb__paho_set_soname(bool tls, const char *soname);

#endif
