/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sevgate subcommands; each returns a sevgate exit code. */
#pragma once

#include <json-c/json.h>
#include <stdio.h>

#include "cli/opts.h"
#include "core/crypto.h"
#include "core/digest.h"
#include "validate/validate.h"

int sg_cmd_validate(int argc, char **argv);
int sg_cmd_digest(int argc, char **argv);
int sg_cmd_vmsa(int argc, char **argv);
int sg_cmd_ovmf(int argc, char **argv);
int sg_cmd_secret(int argc, char **argv);
int sg_cmd_keys(int argc, char **argv);
int sg_cmd_batch(int argc, char **argv);
int sg_cmd_audit(int argc, char **argv);

/* Add @val under @key, consuming @val even when the add fails (json-c keeps it then). */
void sg_json_add(struct json_object *obj, const char *key, struct json_object *val);
/* A string object, always valid UTF-8 (each invalid byte becomes U+FFFD); NULL for NULL. */
struct json_object *sg_json_str(const char *s);
/* A lowercase hex string object. */
struct json_object *sg_json_hex(const unsigned char *p, size_t len);
/* Print @obj as one plain line on stdout and release it. */
void sg_json_print(struct json_object *obj);

/* Print @s on @f, its terminal controls escaped (sg_str_escape). */
void sg_fputs_escaped(const char *s, FILE *f);
/* Print "error: <msg>" on stderr (escaped: sg_str_escape) and return the exit code for @code. */
int sg_cmd_fail(const char *msg, int code);
