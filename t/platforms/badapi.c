/* SPDX-License-Identifier: MIT */
/* A test-only module built for another platform API: the loader must
 * refuse it with a configuration error, not crash. */
#include "mqbridge/platform.h"

const struct mqb_platform_desc mqb_platform_descriptor = {MQB_PLATFORM_API_VERSION + 41,
							  "badapi", NULL, 0};
