/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one way library code may print: debug lines on stderr, silent unless
 * the front end turned them on (--debug) or SEVGATE_DEBUG is set. Never
 * pass key or secret bytes here; print lengths and SHA-256 fingerprints.
 */
#pragma once

#include <stdbool.h>

/* Turn the debug lines on or off (the front ends, for --debug). */
void sg_debug_enable(bool on);
/* Whether sg_debug prints (--debug or SEVGATE_DEBUG): skip costly formatting when not. */
bool sg_debug_enabled(void);
/* One line on stderr when enabled, escaped as sg_str_escape does; nothing otherwise. */
void sg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
