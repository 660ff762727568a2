/* SPDX-License-Identifier: MIT */
/* Why a TLS connect failed, in OpenSSL's words: Paho's synchronous client
 * says only "Failure" (-1) for a certificate that does not verify, and its
 * TLS error says "certificate verify failed" without the reason. After such
 * a failure the connect job shakes hands again itself, on its own TCP
 * connection, through the OpenSSL Paho's TLS library already brought into
 * the process (found with dlsym: nothing is linked or loaded for it). */
#include "lib/internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "mqtt/diagnose.h"
#include "mqbridge/config.h"

/* OpenSSL's functions the handshake needs, by name (openssl/ssl.h). */
struct ossl {
	const void *(*client_method)(void);
	void *(*ctx_new)(const void *method);
	void (*ctx_free)(void *ctx);
	int (*load_locations)(void *ctx, const char *file, const char *path);
	int (*default_paths)(void *ctx);
	void (*set_verify)(void *ctx, int mode, void *cb);
	int (*use_chain)(void *ctx, const char *file);
	int (*use_key)(void *ctx, const char *file, int type);
	void *(*ssl_new)(void *ctx);
	void (*ssl_free)(void *ssl);
	int (*set_fd)(void *ssl, int fd);
	int (*set1_host)(void *ssl, const char *host);
	void *(*get0_param)(void *ssl);
	int (*param_ip)(void *param, const char *ip);
	long (*ctrl)(void *ssl, int cmd, long larg, void *parg);
	int (*do_connect)(void *ssl);
	long (*verify_result)(const void *ssl);
	const char *(*verify_string)(long n);
	unsigned long (*err_get)(void);
	void (*err_string)(unsigned long e, char *buf, size_t len);
};

#define SSL_VERIFY_PEER 1
#define SSL_FILETYPE_PEM 1
#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define TLSEXT_NAMETYPE_host_name 0
#define X509_V_OK 0

/* OpenSSL as Paho's TLS library loaded it, or false. */
static bool ossl_find(struct ossl *o)
{
	static const char *const sonames[] = {"libssl.so.3", "libssl.so.1.1"};
	void *h = NULL;
	for (size_t i = 0; i < MQB_ARRAY_SIZE(sonames) && !h; i++)
		h = dlopen(sonames[i], RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		return false;
	struct {
		void **fn;
		const char *name;
	} want[] = {
		{(void **)&o->client_method, "TLS_client_method"},
		{(void **)&o->ctx_new, "SSL_CTX_new"},
		{(void **)&o->ctx_free, "SSL_CTX_free"},
		{(void **)&o->load_locations, "SSL_CTX_load_verify_locations"},
		{(void **)&o->default_paths, "SSL_CTX_set_default_verify_paths"},
		{(void **)&o->set_verify, "SSL_CTX_set_verify"},
		{(void **)&o->use_chain, "SSL_CTX_use_certificate_chain_file"},
		{(void **)&o->use_key, "SSL_CTX_use_PrivateKey_file"},
		{(void **)&o->ssl_new, "SSL_new"},
		{(void **)&o->ssl_free, "SSL_free"},
		{(void **)&o->set_fd, "SSL_set_fd"},
		{(void **)&o->set1_host, "SSL_set1_host"},
		{(void **)&o->get0_param, "SSL_get0_param"},
		{(void **)&o->param_ip, "X509_VERIFY_PARAM_set1_ip_asc"},
		{(void **)&o->ctrl, "SSL_ctrl"},
		{(void **)&o->do_connect, "SSL_connect"},
		{(void **)&o->verify_result, "SSL_get_verify_result"},
		{(void **)&o->verify_string, "X509_verify_cert_error_string"},
		{(void **)&o->err_get, "ERR_get_error"},
		{(void **)&o->err_string, "ERR_error_string_n"},
	};
	bool ok = true;
	for (size_t i = 0; i < MQB_ARRAY_SIZE(want); i++)
		ok &= (*want[i].fn = dlsym(h, want[i].name)) != NULL;
	dlclose(h); /* Paho's reference keeps it loaded */
	return ok;
}

/* The TLS handshake on fd, checked as Paho checks it (the CA file or
 * directory, else the system's; the host name or address): why it failed
 * into out, or "" when it did not. */
void mqtt__tls_probe(const struct tls_target *t, int fd, double timeout, char *out, size_t len)
{
	struct ossl o;
	out[0] = '\0';
	if (!ossl_find(&o))
		return;
	/* OpenSSL's blocking handshake, bounded by the socket's timeouts */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	struct timeval tv = {(time_t)timeout, (suseconds_t)((timeout - (time_t)timeout) * 1e6)};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	void *ctx = o.ctx_new(o.client_method());
	void *ssl = NULL;
	if (!ctx)
		return;
	if (t->ca_file || t->ca_path) {
		if (o.load_locations(ctx, t->ca_file, t->ca_path) != 1) {
			snprintf(out, len, "TLS: cannot read the CA certificates %s",
				 t->ca_file ? t->ca_file : t->ca_path);
			goto out;
		}
	} else {
		o.default_paths(ctx);
	}
	if (t->cert_file && o.use_chain(ctx, t->cert_file) != 1) {
		snprintf(out, len, "TLS: cannot read the client certificate %s", t->cert_file);
		goto out;
	}
	if (t->key_file && o.use_key(ctx, t->key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(out, len, "TLS: cannot read the client key %s", t->key_file);
		goto out;
	}
	o.set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!(ssl = o.ssl_new(ctx)) || o.set_fd(ssl, fd) != 1)
		goto out;
	struct in6_addr a6;
	bool ip = inet_pton(AF_INET, t->host, &a6) == 1 || inet_pton(AF_INET6, t->host, &a6) == 1;
	if (ip) {
		o.param_ip(o.get0_param(ssl), t->host);
	} else {
		o.set1_host(ssl, t->host);
		o.ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)t->host);
	}
	if (o.do_connect(ssl) == 1)
		goto out;
	long v = o.verify_result(ssl);
	unsigned long e = o.err_get();
	char es[256] = "";
	if (e)
		o.err_string(e, es, sizeof es);
	if (v != X509_V_OK)
		snprintf(out, len, "TLS: the broker's certificate did not verify: %s",
			 o.verify_string(v));
	else if (es[0])
		snprintf(out, len, "TLS handshake failed: %s", es);
	else
		snprintf(out, len, "TLS handshake failed: %s",
			 errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
out:
	if (ssl)
		o.ssl_free(ssl);
	o.ctx_free(ctx);
}
