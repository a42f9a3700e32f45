/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The only place that turns SG_E_* codes into process exit codes. */
#pragma once

enum sg_exit {
	SG_EXIT_OK = 0,
	SG_EXIT_MISMATCH = 1,
	SG_EXIT_USAGE = 2,
	SG_EXIT_INSECURE = 3,
	SG_EXIT_CONFIG = 4,
	SG_EXIT_STATE = 5,
	SG_EXIT_OTHER = 6,
	SG_EXIT_REFUSED = 7, /* sevgate only */
};

/* virt-qemu-sev-validate: the reference's codes 0-6. */
int sg_exit_compat(int sg_error_code);
/* sevgate: 0-7. */
int sg_exit_sevgate(int sg_error_code);
/* A command over many guests: 1 if any mismatched, else the highest other code. */
int sg_exit_combine(int a, int b);

/*
 * The last step of both programs' main: a write error on standard output
 * (a full disk, /dev/full, a closed pipe) is an error. It is reported once
 * on stderr as "@prefix writing standard output: REASON" and turns a
 * successful @code into SG_EXIT_OTHER (6); a failing @code is kept. When
 * @code fails and the command has printed its own error line
 * (sg_exit_error_reported), that stays the one line: nothing is added.
 * Returns the exit code.
 */
int sg_exit_stdout(int code, const char *prefix);
/* Note that the command's error line is on stderr (sg_cmd_fail, the drop-in's ERROR:). */
void sg_exit_error_reported(void);
/* fflush(stdout) on the way, remembering why it failed for sg_exit_stdout. */
void sg_stdout_flush(void);
