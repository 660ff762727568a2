/* SPDX-License-Identifier: MIT */
/* MQTT on the loop: one synchronous Paho MQTTClient driven only by the loop
 * thread (doc/mqtt-hosting.md has the measurements behind this). Connecting
 * and subscription changes block inside Paho, so they run as executor jobs
 * while the loop leaves the client alone; everything else — reading,
 * dispatching handlers per their job kind, publishing, keepalive — is the
 * loop's. This file connects, backs off, announces and stops; io.c reads
 * and writes, subs.c keeps the subscriptions. */
#include "mqtt/client_impl.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/pool.h"
#include "mqtt/diagnose.h"
#include "mqbridge/bus.h"

void mqtt__options_init(struct mqtt_options *opt)
{
	*opt = (struct mqtt_options){
		.host = "localhost",
		.keepalive = 60,
		.clean_session = true,
		.protocol = 4,
		.max_payload = 1024 * 1024,
		.max_inflight = 256,
		.outbound_queue_max = 1000,
		.inbound_batch = 64,
		.reconnect_min = 1.0,
		.reconnect_max = 60.0,
		.connect_timeout = 10.0,
	};
}

/* ---- the brokers ------------------------------------------------------------ */

static bool scheme(const char *entry, const char *name, const char **rest)
{
	size_t n = strlen(name);
	if (strncmp(entry, name, n) != 0 || strncmp(entry + n, "://", 3) != 0)
		return false;
	*rest = entry + n + 3;
	return true;
}

int mqtt__broker_uri(const char *entry, bool tls, int default_port, char **uri, char **host,
		     int *port, const char **why)
{
	*uri = NULL;
	if (host)
		*host = NULL;
	const char *hp = entry;
	bool secure = tls, given = true;
	if (scheme(entry, "tcp", &hp) || scheme(entry, "mqtt", &hp))
		secure = false;
	else if (scheme(entry, "ssl", &hp) || scheme(entry, "mqtts", &hp))
		secure = true;
	else if (strstr(entry, "://")) {
		*why = "the scheme is none of mqtt://, tcp://, mqtts:// and ssl://";
		return -EINVAL;
	} else
		given = false;
	if (given && secure != tls) {
		*why = tls ? "a plain mqtt:// or tcp:// broker, but tls is given"
			   : "an mqtts:// or ssl:// broker needs the tls block";
		return -EINVAL;
	}
	/* host, host:port, [v6], [v6]:port, or a bare IPv6 address (more
	 * than one colon: no port can be told from it). */
	const char *h = hp, *end, *colon = NULL;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end || (end[1] && end[1] != ':')) {
			*why = "an IPv6 address in brackets is followed by nothing or :port";
			return -EINVAL;
		}
		h++;
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strchr(h, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		end = colon ? colon : h + strlen(h);
	}
	int p = default_port;
	if (colon) {
		char *stop;
		long v = strtol(colon + 1, &stop, 10);
		if (!colon[1] || *stop || v < 1 || v > 65535) {
			*why = "the port is not within 1..65535";
			return -EINVAL;
		}
		p = (int)v;
	}
	size_t hl = (size_t)(end - h);
	if (hl == 0 || memchr(h, '/', hl) || memchr(h, ' ', hl)) {
		*why = hl ? "a host name holds no '/' or space" : "the host is empty";
		return -EINVAL;
	}
	bool v6 = memchr(h, ':', hl) != NULL;
	*uri = mqb__fmt(NULL, 0, v6 ? "%s://[%.*s]:%d" : "%s://%.*s:%d", secure ? "ssl" : "tcp",
			(int)hl, h, p);
	if (host && *uri)
		*host = mqb__fmt(NULL, 0, "%.*s", (int)hl, h);
	if (!*uri || (host && !*host)) {
		mqb__free(*uri);
		*uri = NULL;
		if (host) {
			mqb__free(*host);
			*host = NULL;
		}
		return -ENOMEM;
	}
	*port = p;
	return 0;
}

/* ---- connecting ---------------------------------------------------------- */

#define WHY_LEN 300

struct conn_req {
	struct mqb_mqtt *m;
	char **filters;
	int *qos;
	unsigned *ids;      /* their subscription identifiers */
	int n;
	int rc;             /* Paho's connect result, of the last broker tried */
	int sub_rc;
	int fd;
	int which;          /* the broker connected to; -1: none */
	unsigned tried;     /* brokers tried, in order */
	char (*why)[WHY_LEN]; /* why each one tried before which failed */
	char tls_error[256];
};

static void conn_req_free(struct conn_req *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++)
		mqb__free(r->filters[i]);
	mqb__free(r->filters);
	mqb__free(r->qos);
	mqb__free(r->ids);
	mqb__free(r->why);
	mqb__free(r);
}

static int tls_error_cb(const char *str, size_t len, void *u)
{
	struct conn_req *r = u;
	size_t have = strlen(r->tls_error);
	if (have + 3 < sizeof r->tls_error)
		snprintf(r->tls_error + have, sizeof r->tls_error - have, "%s%.*s",
			 have ? "; " : "", (int)len, str);
	return 0;
}

static int default_port(const struct mqtt_options *o)
{
	return o->port ? o->port : o->tls ? 8883 : 1883;
}

/* The inodes of the TCP sockets whose peer is port, from the kernel's
 * tables (IPv4 and IPv6). */
static size_t peer_inodes(int port, unsigned long *out, size_t max)
{
	static const char *const tables[] = {"/proc/self/net/tcp", "/proc/self/net/tcp6"};
	size_t n = 0;
	for (size_t t = 0; t < 2; t++) {
		FILE *f = fopen(tables[t], "re");
		if (!f)
			continue;
		char line[512];
		while (n < max && fgets(line, sizeof line, f)) {
			unsigned rport;
			unsigned long inode;
			/* sl local rem:port st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line, "%*s %*s %*[0-9A-Fa-f]:%x %*s %*s %*s %*s %*s %*s %lu", &rport,
				   &inode) == 2 &&
			    (int)rport == port && inode)
				out[n++] = inode;
		}
		fclose(f);
	}
	return n;
}

/* Paho has no option for TCP_NODELAY and does not expose its socket: find
 * the connected socket to the broker's port that was not there before.
 * Nothing here touches a descriptor (another pool thread may be creating or
 * closing one right now, a command's pipe): the kernel's TCP table gives
 * the inodes of sockets connected to the port, /proc/self/fd's link names
 * ("socket:[inode]") which of our descriptors they are. */
static void list_sockets(int port, int *out, int *n, int max)
{
	*n = 0;
	unsigned long inodes[256];
	size_t ni = peer_inodes(port, inodes, 256);
	if (!ni)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && *n < max) {
		int fd = atoi(e->d_name);
		char link[64];
		ssize_t ln = e->d_name[0] == '.' || fd == dirfd(d)
				     ? -1
				     : readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
		if (ln < 9 || memcmp(link, "socket:[", 8) != 0)
			continue;
		link[ln] = '\0';
		unsigned long inode = strtoul(link + 8, NULL, 10);
		for (size_t i = 0; i < ni; i++)
			if (inodes[i] == inode) {
				out[(*n)++] = fd;
				break;
			}
	}
	closedir(d);
}

static int find_new_socket(int port, const int *before, int nbefore)
{
	int now[256], n, found = -1;
	list_sockets(port, now, &n, 256);
	for (int i = 0; i < n; i++) {
		bool old = false;
		for (int j = 0; j < nbefore && !old; j++)
			old = before[j] == now[i];
		if (!old && now[i] > found)
			found = now[i];
	}
	return found;
}

/* One SUBSCRIBE under MQTT 5, carrying subscription identifier id (0:
 * none); Paho writes the granted QoS back, -1 where refused. */
static int subscribe5(struct mqb_mqtt *m, char **filters, int *qos, int n, unsigned id)
{
	MQTTProperties props = MQTTProperties_initializer;
	MQTTProperty sid = { .identifier = MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER,
			     .value.integer4 = id };
	if (id && m->paho->MQTTProperties_add(&props, &sid))
		return -1;
	MQTTResponse r = m->paho->MQTTClient_subscribeMany5(m->client, n, filters, qos, NULL,
							    id ? &props : NULL);
	int rc = r.reasonCode < 0 || r.reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR ? -1 : 0;
	for (int i = 0; i < n; i++)
		if (rc || (r.reasonCodes && i < r.reasonCodeCount &&
			   r.reasonCodes[i] >= MQTTREASONCODE_UNSPECIFIED_ERROR))
			qos[i] = -1;
	m->paho->MQTTResponse_free(r);
	m->paho->MQTTProperties_free(&props);
	return rc;
}

/* A SUBSCRIBE carries one subscription identifier for all its filters,
 * and under MQTT 5 a broker may send a message once for each subscription
 * it matches (mosquitto does), each copy naming its subscription (io.c
 * hands it to that subscription's handlers only). The filters without
 * wildcards go together under EXACT_SUB_ID, each one with wildcards or
 * shared in a SUBSCRIBE of its own: they are few, and a topic may match
 * several of them. */
int mqtt__subscribe_all(struct mqb_mqtt *m, char **filters, int *qos, const unsigned *ids, int n)
{
	if (n == 0)
		return 0;
	int rc = 0;
	if (m->opt.protocol == 5 && !m->sub_ids) {
		rc = subscribe5(m, filters, qos, n, 0);
	} else if (m->opt.protocol == 5) {
		char **pf = mqb__malloc((size_t)n * sizeof *pf);
		int *pq = mqb__malloc((size_t)n * sizeof *pq), *at = mqb__malloc((size_t)n * sizeof *at);
		int np = 0;
		if (!pf || !pq || !at) {
			rc = -1;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (ids[i] != EXACT_SUB_ID) {
				if (subscribe5(m, &filters[i], &qos[i], 1, ids[i]))
					rc = -1;
				continue;
			}
			pf[np] = filters[i];
			pq[np] = qos[i];
			at[np++] = i;
		}
		if (np && subscribe5(m, pf, pq, np, EXACT_SUB_ID))
			rc = -1;
		for (int k = 0; k < np; k++)
			qos[at[k]] = pq[k];
out:
		mqb__free(pf);
		mqb__free(pq);
		mqb__free(at);
	} else {
		/* Paho writes the granted QoS back into qos[] (0x80: refused). */
		rc = m->paho->MQTTClient_subscribeMany(m->client, n, filters, qos);
		for (int i = 0; i < n; i++)
			if (qos[i] == 0x80)
				qos[i] = -1;
	}
	return rc;
}

/* A CONNACK's refusal: MQTT 3.1.1's return codes (1-5), MQTT 5's reason
 * codes (0x80 and up). */
static const char *connack_reason(int rc)
{
	switch (rc) {
	case 1: case MQTTREASONCODE_UNSUPPORTED_PROTOCOL_VERSION:
		return "the broker does not accept this protocol version";
	case 2: case MQTTREASONCODE_CLIENT_IDENTIFIER_NOT_VALID:
		return "the broker rejected the client id";
	case 3: case MQTTREASONCODE_SERVER_UNAVAILABLE: case MQTTREASONCODE_SERVER_BUSY:
		return "the broker is unavailable";
	case 4: case MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD:
		return "not authorized: bad user name or password";
	case 5: case MQTTREASONCODE_NOT_AUTHORIZED:
		return "not authorized";
	case MQTTREASONCODE_BANNED: return "this client is banned";
	case MQTTREASONCODE_QUOTA_EXCEEDED: return "quota exceeded";
	case MQTTREASONCODE_CONNECTION_RATE_EXCEEDED: return "connecting too often";
	default:
		return rc >= MQTTREASONCODE_UNSPECIFIED_ERROR ? "refused" : NULL;
	}
}

/* Paho says only "failure" (-1) whether the name did not resolve, the
 * port refused, nothing answered, the certificate did not verify or the
 * broker did not complete the MQTT handshake: a TCP connect of our own,
 * bounded, and with a verified TLS OpenSSL's handshake on it
 * (mqtt__tls_probe), tell which for the log. */
static void tcp_diagnose(const struct mqb_mqtt *m, const struct broker *b, double timeout,
			 char *out, size_t len)
{
	char port[8];
	snprintf(port, sizeof port, "%d", b->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	int g = getaddrinfo(b->host, port, &hints, &ai);
	if (g) {
		snprintf(out, len, "unknown host: cannot resolve '%s': %s", b->host,
			 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return;
	}
	int err = ETIMEDOUT;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		err = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
		if (err == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			socklen_t sl = sizeof err;
			if (poll(&p, 1, (int)(timeout * 1000)) != 1 ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
				err = ETIMEDOUT;
		}
		out[0] = '\0';
		if (err == 0 && m->opt.tls && !m->opt.tls_insecure) {
			struct tls_target t = {
				.host = b->host, .ca_file = m->opt.ca_file, .ca_path = m->opt.ca_path,
				.cert_file = m->opt.cert_file, .key_file = m->opt.key_file,
			};
			mqtt__tls_probe(&t, fd, timeout, out, len);
		}
		close(fd);
		if (err == 0)
			break;
	}
	freeaddrinfo(ai);
	if (err)
		snprintf(out, len, "%s", strerror(err));
	else if (!out[0])
		snprintf(out, len, "it accepts TCP, but the MQTT handshake did not complete "
			 "(no CONNACK within connect_timeout, or the connection was closed)");
}

/* Why connecting to b failed, in words, into out. Executor. */
static void describe_failure(struct mqb_mqtt *m, const struct broker *b, struct conn_req *r,
			     char *out, size_t len)
{
	const char *why = r->rc > 0 ? connack_reason(r->rc) : NULL;
	char tcp[WHY_LEN - 80] = "";
	double t = m->opt.connect_timeout < 3 ? m->opt.connect_timeout : 3;
	if (r->rc == MQTTCLIENT_FAILURE)
		tcp_diagnose(m, b, t, tcp, sizeof tcp);
	if (why) {
		snprintf(out, len, "the broker refused the connection: %s (CONNACK code %d)", why,
			 r->rc);
	} else if (strncmp(tcp, "TLS", 3) == 0) {
		/* OpenSSL's own reason, which Paho's TLS error lacks */
		snprintf(out, len, "%s", tcp);
	} else if (r->rc == MQTTCLIENT_FAILURE && r->tls_error[0]) {
		snprintf(out, len, "TLS: %.280s", r->tls_error);
	} else if (r->rc == MQTTCLIENT_FAILURE) {
		/* Paho reports a failed host name check as a bare -1. */
		bool handshake = strncmp(tcp, "it accepts", 10) == 0;
		snprintf(out, len, "%s%s", tcp,
			 handshake && m->opt.tls ? " (TLS: does its certificate name this host "
						   "and chain to the CA?)" : "");
	} else {
		snprintf(out, len, "%s", m->paho->MQTTClient_strerror(r->rc));
	}
}

/* Connect to one broker: Paho's serverURIs holding that one URI, so that
 * each broker's failure is told apart (Paho's own walk through a longer
 * list reports only how the last one failed). */
static int connect_one(struct mqb_mqtt *m, MQTTClient_connectOptions *o, char *uri)
{
	char *uris[1] = {uri};
	o->serverURIs = uris;
	o->serverURIcount = 1;
	int rc;
	if (m->opt.protocol == 5) {
		MQTTProperties props = MQTTProperties_initializer;
		MQTTProperty expiry = { .identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL,
					.value.integer4 = SESSION_EXPIRY };
		if (!m->opt.clean_session)
			m->paho->MQTTProperties_add(&props, &expiry);
		/* The broker then drops what we would drop anyway, before it
		 * crosses the network: payload, a maximal topic and headers. */
		uint64_t maxpkt = (uint64_t)m->opt.max_payload + MQB_MQTT_MAX_TOPIC + 64;
		MQTTProperty mps = { .identifier = MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE,
				     .value.integer4 = maxpkt > 268435455 ? 268435455 : (unsigned)maxpkt };
		m->paho->MQTTProperties_add(&props, &mps);
		MQTTResponse resp = m->paho->MQTTClient_connect5(m->client, o, &props, NULL);
		rc = resp.reasonCode;
		/* Absent, the property means they are available (MQTT 5.0
		 * §3.2.2.3.12); a broker that says 0 would disconnect a client
		 * that sends one. */
		m->sub_ids = true;
		for (int i = 0; resp.properties && i < resp.properties->count; i++)
			if (resp.properties->array[i].identifier ==
			    MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIERS_AVAILABLE)
				m->sub_ids = resp.properties->array[i].value.byte != 0;
		m->paho->MQTTResponse_free(resp);
		m->paho->MQTTProperties_free(&props);
	} else {
		rc = m->paho->MQTTClient_connect(m->client, o);
	}
	o->serverURIs = NULL;
	o->serverURIcount = 0;
	return rc;
}

/* Executor: create the client once, connect (TCP, TLS, CONNECT/CONNACK) to
 * the first broker of the list that takes us, then subscribe every filter
 * — all of which block inside Paho. */
static int connect_job(void *ud, void *arg, void **result)
{
	struct mqb_mqtt *m = ud;
	struct conn_req *r = arg;
	r->fd = -1;
	r->which = -1;
	if (!m->client) {
		MQTTClient_createOptions co = MQTTClient_createOptions_initializer;
		co.MQTTVersion = m->opt.protocol == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
		r->rc = m->paho->MQTTClient_createWithOptions(&m->client, m->brokers[0].uri,
							      m->opt.client_id,
							      MQTTCLIENT_PERSISTENCE_NONE, NULL,
							      &co);
		if (r->rc != MQTTCLIENT_SUCCESS) {
			m->client = NULL;
			return 0;
		}
		if (m->opt.protocol == 5)
			m->paho->MQTTClient_setPublished(m->client, m, mqtt__published_cb);
	}
	m->paho->MQTTClient_setCommandTimeout(m->client,
					      (unsigned long)(m->opt.connect_timeout * 1000));

	MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
	MQTTClient_connectOptions o5 = MQTTClient_connectOptions_initializer5;
	if (m->opt.protocol == 5) {
		o = o5;
		o.cleanstart = m->opt.clean_session;
	} else {
		o.cleansession = m->opt.clean_session;
		/* Left at 0, Paho retries a failed 3.1.1 connect as 3.1 on a
		 * second connection: one attempt would become two, and a broker
		 * refusing 3.1.1 would get a silent downgrade. */
		o.MQTTVersion = MQTTVERSION_3_1_1;
	}
	o.keepAliveInterval = m->opt.keepalive;
	o.connectTimeout = (int)(m->opt.connect_timeout + 0.999);
	/* Paho's defaults allow one QoS 1 message in flight and make each
	 * further publish wait 100 ms in MQTTClient_yield. */
	o.reliable = 0;
	o.maxInflightMessages = (int)m->opt.max_inflight;
	o.username = m->opt.username;
	o.password = m->opt.password;
	MQTTClient_willOptions will = MQTTClient_willOptions_initializer;
	if (m->status_topic) {
		will.topicName = m->status_topic;
		will.message = "offline";
		will.retained = 1;
		will.qos = 1;
		o.will = &will;
	}
	MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
	if (m->opt.tls) {
		ssl.trustStore = m->opt.ca_file;
		ssl.CApath = m->opt.ca_path;
		ssl.keyStore = m->opt.cert_file;
		ssl.privateKey = m->opt.key_file;
		/* Paho checks the host name only when asked (verify). */
		ssl.enableServerCertAuth = !m->opt.tls_insecure;
		ssl.verify = !m->opt.tls_insecure;
		ssl.ssl_error_cb = tls_error_cb;
		ssl.ssl_error_context = r;
		o.ssl = &ssl;
	}
	for (unsigned i = 0; i < m->nbrokers && r->which < 0; i++) {
		const struct broker *b = &m->brokers[i];
		int before[256], nbefore;
		list_sockets(b->port, before, &nbefore, 256);
		r->tls_error[0] = '\0';
		r->rc = connect_one(m, &o, b->uri);
		r->tried = i + 1;
		if (r->rc == MQTTCLIENT_SUCCESS) {
			r->which = (int)i;
			r->sub_rc = mqtt__subscribe_all(m, r->filters, r->qos, r->ids, r->n);
			r->fd = find_new_socket(b->port, before, nbefore);
		} else {
			describe_failure(m, b, r, r->why[i], WHY_LEN);
		}
	}
	return 0;
}

static void schedule_reconnect(struct mqb_mqtt *m);
static void start_connect(struct mqb_mqtt *m);

static void announce(struct mqb_mqtt *m);

static void on_connected(struct mqb_mqtt *m, struct conn_req *r);

/* Connect and subscription jobs own the client while they run: submit one
 * and have done(f, arg) called on the loop when it ends. They run on the
 * pool's internal lane: with every worker taken by hanging commands, the
 * client still connects and subscribes, and keeps its keepalive. */
static int client_job(void *ud, void *arg, void **result)
{
	struct mqb_mqtt *m = ud;
	int queued = JOB_QUEUED;
	if (!atomic_compare_exchange_strong(&m->job_state, &queued, JOB_RUNNING))
		return -ECANCELED; /* the stop gave it up: the client is not ours */
	int rc = m->job_fn(ud, arg, result);
	atomic_store_explicit(&m->job_state, JOB_DONE, memory_order_release);
	return rc;
}

/* After a stop: whether the client job has left the client alone for good
 * (never started, or ended within a short wait). */
static bool job_left_client(struct mqb_mqtt *m)
{
	int queued = JOB_QUEUED;
	if (atomic_compare_exchange_strong(&m->job_state, &queued, JOB_GIVEN_UP))
		return true;
	/* A subscribe or a connect usually ends within milliseconds of its
	 * acknowledgement: waiting a little for it lets the stop say offline
	 * and free the client instead of leaving both to the thread. */
	for (int i = 0; i < 200 && atomic_load(&m->job_state) == JOB_RUNNING; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return atomic_load(&m->job_state) != JOB_RUNNING;
}

int mqtt__run_client_job(struct mqb_mqtt *m, mqb_job_fn fn, const char *name, void *arg,
			 mqb_future_done_fn done)
{
	struct mqb_job job = { .kind = MQB_JOB_EXECUTOR, .fn = client_job, .ud = m, .name = name };
	struct mqb_future *f;
	m->job_fn = fn;
	atomic_store(&m->job_state, JOB_QUEUED);
	int rc = job__async_run_internal(m->core, &job, arg, NULL, &f);
	if (rc) {
		atomic_store(&m->job_state, JOB_DONE);
		return rc;
	}
	if (mqb_future_async_add_done(f, done, arg)) {
		/* Out of memory for the continuation: nothing would ever tell
		 * us the job ended, so the client is given up. */
		MQB_LOG_ERROR(LOG, "out of memory waiting for %s", name);
		m->client_lost = true;
		mqb_future_unref(f);
	}
	return 0;
}

/* Whether shutdown gave up on a client job (and drops f): the job may still
 * be inside Paho on a detached thread, so the client is never touched again. */
bool mqtt__job_cut_short(struct mqb_mqtt *m, struct mqb_future *f)
{
	int st = mqb_future_status(f);
	mqb_future_unref(f);
	if (st != -ECANCELED)
		return false;
	m->state = ST_STOPPED;
	if (!job_left_client(m))
		m->client_lost = true;
	return true;
}

/* Completion of the connect job, on the loop. */
static void connect_finished(struct mqb_future *f, void *ud)
{
	struct conn_req *r = ud;
	struct mqb_mqtt *m = r->m;
	if (mqtt__job_cut_short(m, f)) {
		conn_req_free(r);
		return;
	}
	for (unsigned i = 0; i < r->tried && (int)i != r->which; i++)
		MQB_LOG_WARNING(LOG, "cannot connect to %s: %s", m->brokers[i].uri, r->why[i]);
	if (r->which < 0) {
		m->stats.connect_failures++;
		if (r->tried == 0) {
			snprintf(m->last_error, sizeof m->last_error, "cannot make a client: %s",
				 m->paho->MQTTClient_strerror(r->rc));
			MQB_LOG_WARNING(LOG, "cannot make a client for %s: %s", m->brokers[0].uri,
					m->paho->MQTTClient_strerror(r->rc));
		} else {
			/* for the status line and dump: the last broker tried, and why */
			m->current = r->tried - 1;
			snprintf(m->last_error, sizeof m->last_error, "%s", r->why[r->tried - 1]);
			if (m->nbrokers > 1)
				MQB_LOG_WARNING(LOG, "none of the %u brokers took the connection",
						m->nbrokers);
		}
		conn_req_free(r);
		m->recycling = false; /* what the next connect announces is lost */
		m->state = ST_BACKOFF;
		if (m->stopping)
			m->state = ST_STOPPED;
		else
			schedule_reconnect(m);
		return;
	}
	m->current = (unsigned)r->which;
	on_connected(m, r);
	bool many = r->n >= TRIM_AFTER;
	conn_req_free(r);
	if (many)
		mqb__trim(); /* what Paho and the job used for them */
}

static struct conn_req *snapshot_filters(struct mqb_mqtt *m)
{
	struct conn_req *r = mqb__calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->m = m;
	size_t n = filter_table__count(&m->filters), i = 0, b = 0;
	r->filters = mqb__calloc(n ? n : 1, sizeof *r->filters);
	r->qos = mqb__calloc(n ? n : 1, sizeof *r->qos);
	r->ids = mqb__calloc(n ? n : 1, sizeof *r->ids);
	r->why = mqb__calloc(m->nbrokers, sizeof *r->why);
	if (!r->filters || !r->qos || !r->ids || !r->why)
		goto fail;
	struct filter *fl = NULL;
	while ((fl = filter_table__next(&m->filters, &b, fl))) {
		if (!fl->subs)
			continue;
		if (!(r->filters[i] = mqb__strdup(fl->filter)))
			goto fail;
		r->ids[i] = fl->sub_id;
		r->qos[i++] = fl->qos;
		r->n = (int)i;
	}
	return r;
fail:
	conn_req_free(r);
	return NULL;
}

static void start_connect(struct mqb_mqtt *m)
{
	if (m->stopping || m->state != ST_BACKOFF)
		return;
	struct conn_req *r = snapshot_filters(m);
	int rc = r ? mqtt__run_client_job(m, connect_job, "mqtt connect", r, connect_finished) : -ENOMEM;
	if (rc) {
		MQB_LOG_WARNING(LOG, "cannot start connecting: %s", mqb_strerror(rc));
		conn_req_free(r);
		schedule_reconnect(m);
		return;
	}
	m->state = ST_CONNECTING;
}

static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	start_connect(w->data);
}

/* Capped exponential back-off with "equal jitter": half the delay fixed,
 * half random, so many clients do not reconnect in step. */
static void schedule_reconnect(struct mqb_mqtt *m)
{
	double d = m->opt.reconnect_min;
	for (unsigned i = 0; i < m->attempt && d < m->opt.reconnect_max; i++)
		d *= 2;
	if (d > m->opt.reconnect_max)
		d = m->opt.reconnect_max;
	d = d / 2 + d / 2 * mqb__random_unit(&m->rng);
	m->attempt++;
	m->state = ST_BACKOFF;
	ev_timer_stop(m->core->loop, &m->backoff);
	ev_timer_set(&m->backoff, d, 0);
	ev_timer_start(m->core->loop, &m->backoff);
	MQB_LOG_DEBUG(LOG, "reconnecting in %.2f s", d);
}

void mqtt__start_reading(struct mqb_mqtt *m)
{
	ev_io_stop(m->core->loop, &m->io);
	ev_io_set(&m->io, m->fd, EV_READ);
	ev_io_start(m->core->loop, &m->io);
	double every = m->opt.keepalive / 4.0;
	if (every < 0.25)
		every = 0.25;
	ev_timer_stop(m->core->loop, &m->tick);
	ev_timer_set(&m->tick, every, every);
	ev_timer_start(m->core->loop, &m->tick);
}

void mqtt__stop_reading(struct mqb_mqtt *m)
{
	ev_io_stop(m->core->loop, &m->io);
	ev_timer_stop(m->core->loop, &m->tick);
	ev_timer_stop(m->core->loop, &m->resend);
	ev_timer_stop(m->core->loop, &m->more);
}

static int publish_status(struct mqb_mqtt *m, const char *payload)
{
	if (!m->status_topic)
		return 0;
	struct outmsg o = { .topic = m->status_topic, .payload = (void *)payload,
			    .len = strlen(payload), .qos = 1, .retain = true };
	MQTTClient_message pub = MQTTClient_message_initializer;
	pub.payload = o.payload;
	pub.payloadlen = (int)o.len;
	pub.qos = 1;
	pub.retained = 1;
	MQTTClient_deliveryToken dt;
	int rc;
	if (m->opt.protocol == 5) {
		MQTTResponse r = m->paho->MQTTClient_publishMessage5(m->client, o.topic, &pub, &dt);
		rc = r.reasonCode;
		m->paho->MQTTResponse_free(r);
	} else {
		rc = m->paho->MQTTClient_publishMessage(m->client, o.topic, &pub, &dt);
	}
	if (rc == MQTTCLIENT_SUCCESS)
		m->stats.published++;
	return rc;
}

static void on_connected(struct mqb_mqtt *m, struct conn_req *r)
{
	m->fd = r->fd;
	if (m->fd < 0) {
		/* Without its socket the loop cannot tell when to read. */
		MQB_LOG_ERROR(LOG, "connected to %s but cannot find the socket", mqtt__uri(m));
		m->paho->MQTTClient_disconnect(m->client, 0);
		m->state = ST_BACKOFF;
		schedule_reconnect(m);
		return;
	}
	int one = 1;
	setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	mqtt__read_sndbuf(m);
	m->outq = 0; /* a new socket */
	m->last_in = ev_now(m->core->loop); /* the CONNACK, SUBACK just came */
	/* Paho may already hold messages it read during the connect job. */
	m->paho_may_hold = true;
	m->state = ST_CONNECTED;
	m->attempt = 0;
	m->stats.connected = true;
	m->stats.connects++;
	if (m->ever_connected)
		m->stats.reconnects++;
	m->ever_connected = true;
	for (int i = 0; i < r->n; i++) {
		struct filter *fl = filter_table__find(&m->filters, r->filters[i], strlen(r->filters[i]));
		if (!fl)
			continue;
		fl->broker_qos = r->sub_rc == 0 ? r->qos[i] : -1;
		if (fl->broker_qos < 0)
			MQB_LOG_ERROR(LOG, "the broker refused the subscription to %s", fl->filter);
	}
	m->last_error[0] = '\0';
	if (m->nbrokers > 1)
		MQB_LOG_INFO(LOG, "connected to %s as %s (broker %u of %u)", mqtt__uri(m),
			     m->opt.client_id, m->current + 1, m->nbrokers);
	else
		MQB_LOG_INFO(LOG, "connected to %s as %s", mqtt__uri(m), m->opt.client_id);
	if (m->stopping) {
		/* The stop came while the job held the client. */
		mqtt__leave(m);
		return;
	}
	m->birth_pending = true;
	mqtt__start_reading(m);
	mqtt__flush_queue(m);
	/* After giving Paho's buffers back the broker lost nothing (the
	 * DISCONNECT kept the will from it): no re-announcement. */
	if (!m->recycling)
		announce(m);
	m->recycling = false;
	/* Changes made while connecting are sent now, before "online". */
	if (m->dirty)
		ev_timer_start(m->core->loop, &m->debounce);
	mqtt__birth(m);
	mqtt__drain(m);
}

void mqtt__birth(struct mqb_mqtt *m)
{
	if (!m->birth_pending || m->state != ST_CONNECTED || m->dirty || m->stopping ||
	    !mqb_core_async_started(m->core))
		return;
	m->birth_pending = false;
	publish_status(m, "online");
}

static int mqtt_started(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct mqb_mqtt *m = ud;
	mqb_bus_async_unlisten(m->core, m->on_start);
	m->on_start = NULL;
	mqtt__birth(m);
	return 0;
}

/* A new session: every filter is to be subscribed again. */
static void broker_forgot(struct mqb_mqtt *m)
{
	size_t b = 0;
	struct filter *fl = NULL;
	while ((fl = filter_table__next(&m->filters, &b, fl)))
		fl->broker_qos = -1;
}

void mqtt__connection_lost(struct mqb_mqtt *m, const char *why)
{
	if (m->state != ST_CONNECTED)
		return;
	mqtt__stop_reading(m);
	m->stats.connected = false;
	snprintf(m->last_error, sizeof m->last_error, "connection lost: %s", why);
	MQB_LOG_WARNING(LOG, "connection to %s lost: %s", mqtt__uri(m), why);
	m->birth_pending = false;
	/* With a clean session the broker forgets unacknowledged messages:
	 * resend them after the reconnect (at least once). Otherwise Paho
	 * resends them itself and their futures settle as they are acked. */
	if (m->opt.clean_session)
		mqtt__outq_prepend(&m->queue, &m->inflight);
	broker_forgot(m);
	m->state = ST_BACKOFF;
	if (m->stopping)
		m->state = ST_STOPPED;
	else
		schedule_reconnect(m);
}

/* Paho reads a whole packet before we see its size, into a buffer it
 * keeps for good (its socket queue grows to the largest packet read, and
 * is freed only when its last client is destroyed): one message far over
 * max_payload would leave that much resident. So after dropping one the
 * client is destroyed and made anew, reconnecting at once with a clean
 * DISCONNECT (no will, so nothing to re-announce), and the heap trimmed.
 * With clean_session: true what is published to us meanwhile (a tenth of
 * a second) is lost. Under MQTT 5 the broker drops such messages itself
 * (the CONNECT's maximum packet size); under 3.1.1 the broker's
 * message_size_limit spares the trip and the reconnect. */
void mqtt__give_back(struct mqb_mqtt *m)
{
	size_t bytes = m->oversized;
	m->oversized = 0;
	MQB_LOG_WARNING(LOG, "reconnecting to give back the %zu bytes Paho read for a message "
			"over max_payload (%zu); the broker's message_size_limit would stop such "
			"messages before they cross the network", bytes, m->opt.max_payload);
	mqtt__stop_reading(m);
	m->paho->MQTTClient_disconnect(m->client, 0);
	m->paho->MQTTClient_destroy(&m->client);
	m->client = NULL;
	mqb__trim();
	/* Paho forgot the publishes it had in flight: sent again (at least
	 * once); what is published meanwhile waits in the queue. */
	mqtt__outq_prepend(&m->queue, &m->inflight);
	broker_forgot(m);
	m->stats.connected = false;
	m->recycling = true;
	m->attempt = 0;
	m->state = ST_BACKOFF;
	start_connect(m);
}

/* ---- announcing ---------------------------------------------------------- */

static void announce(struct mqb_mqtt *m)
{
	for (unsigned i = 0; i < m->non_connect; i++) {
		int rc = mqb_async_run_job(m->core, &m->on_connect[i], NULL, NULL, NULL);
		if (rc)
			MQB_LOG_WARNING(LOG, "on-connect job %s not run: %s",
					m->on_connect[i].name ? m->on_connect[i].name : "?",
					mqb_strerror(rc));
	}
}

int mqb_mqtt_async_on_connect(struct mqb_core *core, const struct mqb_job *job)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	if (!m)
		return -ENOTCONN;
	struct mqb_job *v = mqb__realloc(m->on_connect, (m->non_connect + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	m->on_connect = v;
	v[m->non_connect++] = *job;
	return 0;
}

int mqb_mqtt_async_stats(struct mqb_core *core, struct mqb_mqtt_stats *out)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	if (!m)
		return -ENOTCONN;
	m->stats.queued = m->queue.n;
	m->stats.inflight = m->inflight.n;
	m->stats.subscriptions = (unsigned)filter_table__count(&m->filters);
	*out = m->stats;
	return 0;
}

const char *mqtt__async_uri(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	return m ? mqtt__uri(m) : NULL;
}

const char *mqtt__async_last_error(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	return m ? m->last_error : NULL;
}

/* ---- life cycle ---------------------------------------------------------- */

/* mqbridge_stop: say "offline" and mqtt__leave cleanly while the loop still runs.
 * The offline publish is written before DISCONNECT on the same socket, so
 * the broker has it before it drops the will. */
void mqtt__leave(struct mqb_mqtt *m)
{
	mqtt__stop_reading(m);
	publish_status(m, "offline");
	m->paho->MQTTClient_disconnect(m->client, 0);
	m->stats.connected = false;
	m->state = ST_STOPPED;
	mqtt__outq_fail_all(&m->queue, -ECANCELED);
	mqtt__outq_fail_all(&m->inflight, -ECANCELED);
	MQB_LOG_INFO(LOG, "disconnected from %s", mqtt__uri(m));
}

static int mqtt_stop(void *ud, void *arg, void **result)
{
	struct mqb_mqtt *m = ud;
	m->stopping = true;
	ev_timer_stop(m->core->loop, &m->backoff);
	ev_timer_stop(m->core->loop, &m->debounce);
	if (m->state == ST_CONNECTED) {
		mqtt__leave(m);
	} else if (m->state == ST_BACKOFF) {
		m->state = ST_STOPPED;
	}
	/* A running job finishes on its own; its completion sees stopping.
	 * Nothing queued will be sent now. */
	mqtt__outq_fail_all(&m->queue, -ECANCELED);
	mqtt__outq_fail_all(&m->inflight, -ECANCELED);
	return 0;
}

static void mqtt_fini(struct mqb_core *core, void *client)
{
	struct mqb_mqtt *m = client;
	/* After the loop ended: a connect or sync job cut short by the
	 * shutdown may have left Paho mid-call on a detached thread. */
	if (m->state == ST_CONNECTING || m->state == ST_SYNCING)
		m->client_lost = true;
	mqtt__stop_reading(m);
	ev_timer_stop(core->loop, &m->backoff);
	ev_timer_stop(core->loop, &m->debounce);
	if (m->client_lost) {
		/* Its strings and the client are still in use on that thread:
		 * leaking them is the only safe choice. */
		MQB_LOG_WARNING(LOG, "leaving the client to a job that did not finish");
		return;
	}
	/* Connected still: a job the stop cut short left it so. */
	if (m->client && m->paho->MQTTClient_isConnected(m->client)) {
		if (m->state != ST_CONNECTED)
			publish_status(m, "offline");
		m->paho->MQTTClient_disconnect(m->client, 0);
	}
	if (m->client)
		m->paho->MQTTClient_destroy(&m->client);
	mqtt__outq_fail_all(&m->queue, -ECANCELED);
	mqtt__outq_fail_all(&m->inflight, -ECANCELED);
	size_t b = 0;
	for (struct filter *fl = filter_table__next(&m->filters, &b, NULL), *nfl; fl; fl = nfl) {
		nfl = filter_table__next(&m->filters, &b, fl);
		for (struct mqb_mqtt_sub *s = fl->subs, *next; s; s = next) {
			next = s->next;
			mqb__free(s);
		}
		mqb__free(fl);
	}
	filter_table__fini(&m->filters);
	topic_tree__free(m->tree);
	mqb__free(m->on_connect);
	for (size_t i = 0; i < sizeof m->strings / sizeof m->strings[0]; i++)
		mqb__free(m->strings[i]);
	for (unsigned i = 0; i < m->nbrokers; i++) {
		mqb__free(m->brokers[i].uri);
		mqb__free(m->brokers[i].host);
	}
	mqb__free(m->brokers);
	mqb__free(m->status_topic);
	mqb__free(m);
}

static int copy_option(struct mqb_mqtt *m, const char **field, int slot)
{
	if (!*field)
		return 0;
	if (!(m->strings[slot] = mqb__strdup(*field)))
		return -ENOMEM;
	*field = m->strings[slot];
	return 0;
}

/* The failover list, from brokers or else host, as Paho's URIs. */
static int make_brokers(struct mqb_mqtt *m)
{
	const struct mqtt_options *o = &m->opt;
	const char *const one[] = {o->host};
	const char *const *v = o->nbrokers ? o->brokers : one;
	unsigned n = o->nbrokers ? o->nbrokers : 1;
	if (!(m->brokers = mqb__calloc(n, sizeof *m->brokers)))
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct broker *b = &m->brokers[i];
		const char *why = NULL;
		int rc = mqtt__broker_uri(v[i], o->tls, default_port(o), &b->uri, &b->host,
					  &b->port, &why);
		if (rc == -EINVAL)
			MQB_LOG_ERROR(LOG, "broker %s: %s", v[i], why);
		if (rc)
			return rc;
		m->nbrokers = i + 1;
	}
	return 0;
}

static int check_options(const struct mqtt_options *o)
{
	const char *bad = NULL;
	if (o->nbrokers == 0 && (!o->host || !*o->host))
		bad = "host is empty";
	else if (o->port < 0 || o->port > 65535)
		bad = "port is not within 0..65535";
	else if (!o->client_id || !*o->client_id)
		bad = "client_id is empty";
	else if (o->keepalive < 0 || o->keepalive > 65535)
		bad = "keepalive is not within 0..65535";
	else if (o->protocol != 4 && o->protocol != 5)
		bad = "protocol is neither 3.1.1 (4) nor 5";
	else if (o->max_inflight == 0 || o->max_inflight > 65535)
		bad = "max_inflight is not within 1..65535";
	else if (o->inbound_batch == 0)
		bad = "inbound_batch is 0";
	else if (!(o->reconnect_min > 0) || !(o->reconnect_max >= o->reconnect_min))
		bad = "reconnect_min must be positive and at most reconnect_max";
	else if (!(o->connect_timeout > 0))
		bad = "connect_timeout must be positive";
	else if (o->base_topic && (!mqb_mqtt_topic_valid(o->base_topic, strlen(o->base_topic))))
		bad = "base_topic is not a valid topic";
	else if (o->nbrokers > MQTT_MAX_BROKERS)
		bad = "more than 16 brokers";
	else if (o->password && !o->username)
		bad = "a password needs a username";
	if (bad)
		MQB_LOG_ERROR(LOG, "%s", bad);
	return bad ? -EINVAL : 0;
}

int mqtt__new(struct mqb_core *core, const struct mqtt_options *opt)
{
	MQB_ASSERT_LOOP(core);
	if (client_of(core))
		return -EEXIST;
	if (check_options(opt))
		return -EINVAL;
	/* Without TLS the library without OpenSSL: 2 MiB less resident. */
	char why[512];
	const struct mqb_paho *paho = mqb__paho_get(opt->tls, why, sizeof why);
	if (!paho) {
		MQB_LOG_ERROR(LOG, "%s", why);
		return -ELIBACC;
	}
	struct mqb_mqtt *m = mqb__calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->core = core;
	m->paho = paho;
	m->opt = *opt;
	m->fd = -1;
	m->state = ST_BACKOFF;
	m->rng = mqb__random_seed();
	m->next_sub_id = EXACT_SUB_ID + 1;
	filter_table__init(&m->filters);
	int rc = -ENOMEM;
	if (copy_option(m, &m->opt.host, 0) || copy_option(m, &m->opt.client_id, 1) ||
	    copy_option(m, &m->opt.username, 2) || copy_option(m, &m->opt.password, 3) ||
	    copy_option(m, &m->opt.ca_file, 4) || copy_option(m, &m->opt.ca_path, 5) ||
	    copy_option(m, &m->opt.cert_file, 6) || copy_option(m, &m->opt.key_file, 7))
		goto fail;
	m->opt.base_topic = NULL; /* only status_topic is kept */
	if ((rc = make_brokers(m)))
		goto fail;
	m->opt.brokers = NULL; /* the caller's: only the URIs are kept */
	m->opt.nbrokers = 0;
	if (opt->base_topic) {
		size_t n = strlen(opt->base_topic) + sizeof "/status";
		if (!(m->status_topic = mqb__malloc(n)))
			goto fail;
		snprintf(m->status_topic, n, "%s/status", opt->base_topic);
	}
	if ((rc = topic_tree__new(&m->tree)))
		goto fail;
	ev_io_init(&m->io, mqtt__io_cb, -1, EV_READ);
	m->io.data = m;
	ev_timer_init(&m->tick, mqtt__tick_cb, 1, 1);
	m->tick.data = m;
	ev_timer_init(&m->more, mqtt__more_cb, 0, 0);
	m->more.data = m;
	ev_timer_init(&m->resend, mqtt__resend_cb, 0.01, 0);
	m->resend.data = m;
	ev_timer_init(&m->backoff, backoff_cb, 0, 0);
	m->backoff.data = m;
	/* Subscriptions made at start-up go out in one batch. */
	ev_timer_init(&m->debounce, mqtt__debounce_cb, 0.05, 0);
	m->debounce.data = m;
	if ((rc = mqb_bus_async_listen(core, MQB_EVENT_STOP, &MQB_CALLBACK(mqtt_stop, m), NULL)) ||
	    (!mqb_core_async_started(core) &&
	     (rc = mqb_bus_async_listen(core, MQB_EVENT_START, &MQB_CALLBACK(mqtt_started, m),
					&m->on_start))))
		goto fail;
	static const struct core_slot_ops ops = {.fini = mqtt_fini};
	core__slot_set(core, CORE_SLOT_MQTT, m, &ops);
	/* Connect once the loop runs (so start-up subscriptions ride along). */
	if (!opt->offline)
		ev_timer_start(core->loop, &m->backoff);
	return 0;
fail:
	mqtt_fini(core, m);
	return rc;
}
