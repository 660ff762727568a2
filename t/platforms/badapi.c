/* SPDX-License-Identifier: MIT */
/* A test-only module built for platform API 1, which this mqbridge no
 * longer loads: the loader must refuse it with a configuration error
 * naming both versions, not crash. */
#include "mqbridge/platform.h"

const struct mqb_platform_desc mqb_platform_descriptor = {
	.api_version = 1,
	.name = "badapi",
};
