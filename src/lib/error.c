/* SPDX-License-Identifier: MIT */
/* mqb_strerror: one table for the codes errno lacks, the C library's
 * descriptions for the rest (glibc's strerrordesc_np is thread-safe, unlike
 * its strerror). */
#include "lib/internal.h"

#include <string.h>

#include "mqbridge/error.h"

static const char *const own[] = {
	[MQB_E_NOTFOUND - MQB_E_FIRST] = "not found",
	[MQB_E_INVALID_STATE - MQB_E_FIRST] = "invalid state (longer than 255 bytes or not UTF-8)",
};

const char *mqb_strerror(int err)
{
	int e = err < 0 ? -err : err;
	if (e > MQB_E_FIRST && e < MQB_E_LAST && own[e - MQB_E_FIRST])
		return own[e - MQB_E_FIRST];
#if defined(__GLIBC__)
	const char *s = strerrordesc_np(e);
#else
	/* musl's strerror returns constant text: thread-safe there */
	const char *s = strerror(e);
#endif
	return s ? s : "unknown error";
}
