/* SPDX-License-Identifier: MIT */
/* The service registry: domain.service -> a job, with a validator for the
 * call's data. A call fires call_service, runs the handler per its kind and
 * returns a future settled with the handler's status. */
#ifndef MQBRIDGE_SERVICES_H
#define MQBRIDGE_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "mqbridge/job.h"

struct mqb_core;
struct mqb_future;

/* A service call is immutable and reference-counted; it is the handler
 * job's arg (held by the core until the job is done). */
struct mqb_service_call;
struct mqb_service_call *mqb_service_call_ref(struct mqb_service_call *c);
void mqb_service_call_unref(struct mqb_service_call *c); /* accepts NULL */
const char *mqb_service_call_domain(const struct mqb_service_call *c);
const char *mqb_service_call_service(const struct mqb_service_call *c);
const json_t *mqb_service_call_data(const struct mqb_service_call *c); /* never NULL */

/* Checks a call's data before anything runs: 0, or -EINVAL with a message
 * written to msg (msglen bytes). */
typedef int (*mqb_service_validate_fn)(void *ud, const json_t *data, char *msg, size_t msglen);

/* Register (or replace) domain.service; names are lowercased. validate may
 * be NULL. Fires service_registered. -EINVAL for an empty or over-long name.
 * Thread: loop. */
int mqb_services_async_register(struct mqb_core *core, const char *domain, const char *service,
				const struct mqb_job *handler, mqb_service_validate_fn validate,
				void *validate_ud);
/* -MQB_E_NOTFOUND. Thread: loop. */
int mqb_services_async_remove(struct mqb_core *core, const char *domain, const char *service);
/* Thread: loop. */
bool mqb_services_async_has(struct mqb_core *core, const char *domain, const char *service);

/* Call domain.service with data (reference taken in every case; NULL means
 * {}). Validation runs first: -MQB_E_NOTFOUND or -EINVAL (logged with the
 * validator's message) and nothing runs. Otherwise fires call_service
 * {domain, service, service_data} and runs the handler (mqb_async_run_job);
 * *out, if not NULL, gets the handler's future. Thread: loop. */
int mqb_services_async_call(struct mqb_core *core, const char *domain, const char *service,
			    json_t *data, struct mqb_future **out);

/* Thread-safe flavours. register waits for the loop (-EDEADLK on it); call
 * does not wait: block on *out with mqb_future_result if you need the
 * outcome (errors found on the loop settle it). Thread: any but the loop
 * (register), any (call). */
int mqb_services_register(struct mqb_core *core, const char *domain, const char *service,
			  const struct mqb_job *handler, mqb_service_validate_fn validate,
			  void *validate_ud);
int mqb_services_call(struct mqb_core *core, const char *domain, const char *service,
		      json_t *data, struct mqb_future **out);

#endif
