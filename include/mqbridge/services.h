/* SPDX-License-Identifier: MIT */
/* The service registry: domain.service -> a job, with a validator for the
 * call's data. A call fires call_service, runs the handler per its kind and
 * returns a future settled with the handler's status; a service may answer
 * with response data (Home Assistant's SupportsResponse), which a script's
 * response_variable receives. */
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
/* Whether the caller asked for response data (Home Assistant's
 * call.return_response). Thread: any. */
bool mqb_service_call_return_response(const struct mqb_service_call *c);

/* Checks a call's data before anything runs: 0, or -EINVAL with a message
 * written to msg (msglen bytes). */
typedef int (*mqb_service_validate_fn)(void *ud, const json_t *data, char *msg, size_t msglen);

/* Register (or replace) domain.service; names are lowercased. validate may
 * be NULL. Fires service_registered. -EINVAL for an empty or over-long name.
 * Thread: loop. */
int mqb_services_async_register(struct mqb_core *core, const char *domain, const char *service,
				const struct mqb_job *handler, mqb_service_validate_fn validate,
				void *validate_ud);
/* Whether a service answers with response data: Home Assistant's
 * SupportsResponse. */
enum mqb_service_response {
	MQB_SERVICE_RESPONSE_NONE,     /* never: a caller asking for it is refused */
	MQB_SERVICE_RESPONSE_OPTIONAL, /* when the caller asks */
	MQB_SERVICE_RESPONSE_ONLY,     /* always: a caller not asking is refused */
};

/* Register (or replace) domain.service as mqb_services_async_register
 * does, answering as supports says. Its handler answers by leaving a new
 * reference to a json_t object in *result, which becomes the value of
 * the call's future (its job's result_free, when NULL, is set to release
 * it). Thread: loop. */
int mqb_services_async_register_response(struct mqb_core *core, const char *domain,
					 const char *service, const struct mqb_job *handler,
					 mqb_service_validate_fn validate, void *validate_ud,
					 enum mqb_service_response supports);
/* How domain.service answers (an enum mqb_service_response), or
 * -MQB_E_NOTFOUND. Thread: loop. */
int mqb_services_async_supports_response(struct mqb_core *core, const char *domain,
					 const char *service);

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

/* How mqb_services_async_call_opt calls. */
struct mqb_service_call_options {
	/* Ask for response data: the future's value is then the handler's
	 * response (a json_t object owned by the future, NULL if it gave
	 * none). A service that answers nothing refuses the call (-EINVAL),
	 * as one that only answers refuses a call not asking. */
	bool return_response;
	/* Where a refusal's reason goes (the validator's message, "does not
	 * support responses", ...) instead of the log; may be NULL. */
	char *errmsg;
	size_t errlen;
	void *reserved[4];
};

/* mqb_services_async_call with options (opt may be NULL: as that).
 * Thread: loop. */
int mqb_services_async_call_opt(struct mqb_core *core, const char *domain, const char *service,
				json_t *data, const struct mqb_service_call_options *opt,
				struct mqb_future **out);

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
