/* SPDX-License-Identifier: MIT */
/* Loads libpaho-mqtt3c (plain TCP) or libpaho-mqtt3cs (TLS, with OpenSSL) on
 * first use and resolves the functions client.c calls; a library that is
 * missing or lacks one of them is an error in words, not a crash. */
#include "mqtt/paho.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAIN_SONAME "libpaho-mqtt3c.so.1"
#define TLS_SONAME "libpaho-mqtt3cs.so.1"
#define PACKAGE_HINT "Debian: libpaho-mqtt1.3"

/* Loaded libraries by name: the two defaults, and room for what tests load
 * under other names. Never unloaded: a client may use its library until
 * the process ends, and Paho has no call that releases its global state. */
#define SLOTS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mqb_paho loaded[SLOTS];
static char loaded_name[SLOTS][64];
static int nloaded;
static const char *override[2]; /* [tls]: tests' replacement names */

static int load(const char *soname, struct mqb_paho *p, char *err, size_t errlen)
{
	/* RTLD_LOCAL: the plain and the TLS library export the same names,
	 * and each must call its own functions. */
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "cannot load %s: %s; " PACKAGE_HINT, soname,
			 why ? why : "unknown error");
		return -1;
	}
	const char *missing = NULL;
	void *sym;
	/* A function pointer is copied from dlsym's void * by bytes: ISO C
	 * has no conversion between the two, POSIX guarantees they fit. */
#define MQB_PAHO_RESOLVE(name)                                  \
	if (!missing) {                                         \
		sym = dlsym(h, #name);                          \
		if (sym)                                        \
			memcpy(&p->name, &sym, sizeof sym);     \
		else                                            \
			missing = #name;                        \
	}
	_Static_assert(sizeof(void *) == sizeof(p->MQTTClient_receive),
		       "function pointers are as wide as data pointers");
	MQB_PAHO_FUNCTIONS(MQB_PAHO_RESOLVE)
#undef MQB_PAHO_RESOLVE
	if (missing) {
		/* Another build of Paho, too old or cut down: the handle is
		 * closed again, nothing of it was used. */
		snprintf(err, errlen, "cannot load %s: it has no %s (Paho MQTT C 1.3 or later "
			 "is needed; " PACKAGE_HINT ")", soname, missing);
		dlclose(h);
		return -1;
	}
	/* Paho would set OpenSSL up for every client, TLS or not, which costs
	 * megabytes of resident memory; OpenSSL 1.1 and later set themselves
	 * up when a TLS connection first needs them. */
	MQTTClient_init_options init = MQTTClient_init_options_initializer;
	init.do_openssl_init = 0;
	p->MQTTClient_global_init(&init);
	/* Paho keeps a trace of its own in memory, at every function entry
	 * and exit and with a formatted line per packet, under a lock: about
	 * 30% of the instructions the daemon spends per message. Kept to
	 * errors, unless Paho's trace is asked for (MQTT_C_CLIENT_TRACE; its
	 * MQTT_C_CLIENT_TRACE_LEVEL then applies as before). */
	if (!getenv("MQTT_C_CLIENT_TRACE"))
		p->MQTTClient_setTraceLevel(MQTTCLIENT_TRACE_ERROR);
	return 0;
}

const struct mqb_paho *mqb__paho_get(bool tls, char *err, size_t errlen)
{
	const struct mqb_paho *found = NULL;
	pthread_mutex_lock(&lock);
	const char *soname = override[tls] ? override[tls] : tls ? TLS_SONAME : PLAIN_SONAME;
	for (int i = 0; i < nloaded && !found; i++)
		if (strcmp(loaded_name[i], soname) == 0)
			found = &loaded[i];
	if (!found) {
		/* A failure is not remembered: the next client tries again
		 * (the package may have been installed meanwhile). */
		if (nloaded == SLOTS || strlen(soname) >= sizeof loaded_name[0]) {
			snprintf(err, errlen, "cannot load %s: too many Paho libraries", soname);
		} else if (load(soname, &loaded[nloaded], err, errlen) == 0) {
			snprintf(loaded_name[nloaded], sizeof loaded_name[0], "%s", soname);
			loaded[nloaded].soname = loaded_name[nloaded];
			found = &loaded[nloaded++];
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

void mqb__paho_set_soname(bool tls, const char *soname)
{
	pthread_mutex_lock(&lock);
	override[tls] = soname;
	pthread_mutex_unlock(&lock);
}
