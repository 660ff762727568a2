/* SPDX-License-Identifier: MIT */
/* Blueprints (blueprint.c): an automation or script that uses one, made
 * into the configuration it stands for. */
#ifndef MQB_CONFIG_BLUEPRINT_H
#define MQB_CONFIG_BLUEPRINT_H

#include "mqbridge/config.h"

/* item (an automation's or a script's configuration, at path) with
 * use_blueprint: the blueprint config_dir/blueprints/<domain>/<path> with
 * its inputs put in, the item's other keys over it, made in doc (which
 * holds the blueprint's document from then on). item itself when it uses
 * none; NULL with the problems in errs (a missing file or input, an input
 * the blueprint does not declare, a blueprint of another domain).
 * Thread: any. */
const struct mqb_conf_node *conf__blueprint_apply(struct mqb_conf_doc *doc,
						  const char *config_dir, const char *domain,
						  const struct mqb_conf_node *item, const char *path,
						  struct mqb_conf_errors *errs);

#endif
