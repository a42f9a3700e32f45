/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cleanup helper for json-c objects, for the files that build or read JSON
 * (the audit log, the front ends' --json output). json_object_put drops one
 * reference; a value handed to json_object_object_add is owned by its
 * parent, so hand it over with SG_TAKE_PTR.
 */
#pragma once

#include <json-c/json.h>

#include "util/cleanup.h"

SG_DEFINE_CLEANUP_FUNC_NAMED(sg_json_object_putp, struct json_object *, json_object_put)
