/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How sevgate shows a guest's outcome: one human line, or one JSON object. */
#pragma once

#include <json-c/json.h>

#include "engine/guest.h"

/*
 * The `validate --json` object for a guest described by @spec, with its
 * result @res (NULL: it never got that far), result code (0, SG_E_*: its
 * verdict and sevgate exit code) and message.
 * The caller owns it.
 */
struct json_object *
sg_cli_guest_json(const struct sg_guest_spec *spec, const struct sg_validate_result *res, int rc,
		  const char *message, double elapsed);
/* The same for a finished guest (sg_guest_finish). */
struct json_object *sg_cli_guest_outcome_json(const struct sg_guest *gu);

/* The one-line human verdict of a finished guest: trusted on stdout, the others on stderr. */
void sg_cli_guest_print(const struct sg_guest *gu);
