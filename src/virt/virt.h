/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Online mode: the guest's launch state and configuration from libvirt
 * (spec 6), secret injection and resume. Implemented in the module
 * sevgate-virt.so, the only code that includes libvirt headers, loaded
 * only when a domain is named: offline runs never load libvirt.
 */
#pragma once

#include <stdbool.h>

#include "util/error.h"
#include "validate/validate.h"

enum sg_locality {
	SG_LOCALITY_AUTO,   /* from the URI and the host names (spec 6.2, B5 fixed) */
	SG_LOCALITY_REMOTE, /* --assume-remote */
	SG_LOCALITY_LOCAL,  /* --assume-local */
};

struct sg_virt_opts {
	const char *uri; /* NULL: qemu:///system */
	const char *domain;
	bool insecure, ignore_config;
	enum sg_locality locality;
	bool destroy_on_failure; /* --on-failure destroy */
};

struct sg_virt_guest;

struct sg_virt_api {
	/*
	 * Connect, decide locality, look the domain up, check it is running and
	 * paused. 0 and *@ret, or reports in @err SG_E_VIRT (libvirt's message),
	 * SG_E_INSECURE (run on the hypervisor host itself without --insecure),
	 * SG_E_STATE (not running, not paused) or SG_E_NOMEM.
	 */
	int (*open)(const struct sg_virt_opts *o, struct sg_virt_guest **ret,
		    struct sg_error *err) SG_NODISCARD;
	/*
	 * Check the domain XML and fill what the command line left out (launch
	 * state, vCPU count, firmware/kernel/initrd/cmdline, CPU signature) into
	 * @q, under the rules of spec 6.4. Strings stay owned by @g. 0, or
	 * reports in @err SG_E_CONFIG (the XML fails a check), SG_E_INSECURE (a
	 * value that cannot be trusted from the host), SG_E_USAGE (a value that
	 * cannot be had: a remote path, no host-passthrough CPU), SG_E_VIRT or
	 * SG_E_NOMEM.
	 */
	int (*fill)(struct sg_virt_guest *g, struct sg_validate_req *q,
		    struct sg_error *err) SG_NODISCARD;
	/*
	 * The domain still paused, inject the packet, then resume it. 0, or
	 * reports in @err SG_E_STATE (no longer paused), SG_E_VIRT (libvirt's
	 * message) or SG_E_NOMEM; a failed injection leaves it paused.
	 */
	int (*inject)(struct sg_virt_guest *g, const char *header64, const char *payload64,
		      struct sg_error *err) SG_NODISCARD;
	/* After any failure: destroy the domain if asked to (never resume it); reports nothing. */
	void (*failed)(struct sg_virt_guest *g);
	/* The domain's name, owned by @g. */
	const char *(*name)(const struct sg_virt_guest *g);
	/* Close the connection and free @g; NULL is a no-op. */
	void (*close)(struct sg_virt_guest *g);
};

/*
 * The module's table in *@ret, loading sevgate-virt.so on first use (once,
 * under a lock). Returns 0, or reports SG_E_VIRT in @err (the module cannot
 * be loaded, with the reason); a later call tries again.
 */
SG_NODISCARD int sg_virt_api(const struct sg_virt_api **ret, struct sg_error *err);
