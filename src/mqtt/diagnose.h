/* SPDX-License-Identifier: MIT */
/* Why a TLS connect failed (diagnose.c): OpenSSL's own reason, for a log
 * line instead of Paho's bare "Failure". */
#ifndef MQB_MQTT_DIAGNOSE_H
#define MQB_MQTT_DIAGNOSE_H

#include <stddef.h>

struct tls_target {
	const char *host;       /* the name or address the certificate must hold */
	const char *ca_file, *ca_path, *cert_file, *key_file;
};

/* Shake hands over fd, a TCP connection to the broker, checked as Paho
 * checks it (the CA file or directory, else the system's; the host name or
 * address), and say in out why it failed: "TLS: the broker's certificate
 * did not verify: self-signed certificate", "TLS: cannot read the CA
 * certificates ...", "TLS handshake failed: ..."; "" when it did not, or
 * when the process has no OpenSSL loaded. Blocks up to timeout seconds a
 * step. Thread: any but the loop (the connect job). */
void mqtt__tls_probe(const struct tls_target *t, int fd, double timeout, char *out, size_t len);

#endif
