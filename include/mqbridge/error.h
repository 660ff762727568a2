/* SPDX-License-Identifier: MIT */
/* Error codes: 0 is success, a negative errno is failure (libuv's rule: a call
 * that fails never runs its callback). Codes errno lacks are listed here. */
#ifndef MQBRIDGE_ERROR_H
#define MQBRIDGE_ERROR_H

/* Beyond errno's range, so they never collide with it. */
enum {
	MQB_E_FIRST = 10000,
	MQB_E_NOTFOUND,      /* no such service, entity or listener */
	MQB_E_INVALID_STATE, /* state string too long or not UTF-8 */
	MQB_E_LAST
};

/* Thread: any. Message for a negative code (errno or MQB_E_*). Never NULL. */
const char *mqb_strerror(int err);

#endif
