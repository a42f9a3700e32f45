/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An LD_PRELOAD shim over libvirt for the online-mode tests. The libvirt test
 * driver (test:///) lacks the SEV calls, so this library interposes exactly
 * these public symbols and leaves everything else to the real libvirt.so:
 *
 *   virDomainGetLaunchSecurityInfo  typed params from the environment:
 *       SEVGATE_SHIM_MEASUREMENT (string; omitted when unset),
 *       SEVGATE_SHIM_API_MAJOR (default 0), SEVGATE_SHIM_API_MINOR (24),
 *       SEVGATE_SHIM_BUILD_ID (15), SEVGATE_SHIM_POLICY (3);
 *       SEVGATE_SHIM_NO_API=1 leaves out sev-api-major. A domain whose XML has
 *       no <launchSecurity type='sev'> gets no parameters (as QEMU's driver).
 *       SEVGATE_SHIM_INFO_FAIL=1 fails the call (VIR_ERR_NO_SUPPORT).
 *   virDomainSetLaunchSecurityState fails like the QEMU driver when the
 *       domain is not running / not paused (real virDomainGetState); else
 *       writes the "sev-secret-header", "sev-secret" (and, if given,
 *       "sev-secret-set-address") params to files of those names in
 *       SEVGATE_SHIM_CAPTURE_DIR and returns 0. With
 *       SEVGATE_SHIM_CAPTURE_PER_DOMAIN=1 the files go to the subdirectory
 *       named after the domain (created 0700; a name that is empty, "." or
 *       "..", or holds a '/', fails the call), so a batch keeps every packet.
 *       SEVGATE_SHIM_INJECT_FAIL=1 fails it (VIR_ERR_OPERATION_FAILED), with
 *       the message SEVGATE_SHIM_INJECT_FAIL_MSG when set (a remote host's text).
 *   virNodeGetSEVInfo                fixed platform values.
 *   virDomainResume, virDomainDestroy(Flags)  logged, then forwarded.
 *   virDomainGetXMLDesc              forwarded; only when SEVGATE_SHIM_XML_OS_EXTRA
 *       is set, that text is inserted before "</os>" of the result. libvirt's
 *       parser drops a second <loader> and an empty <cmdline/>, so no driver
 *       can produce such XML; this is how the tools' handling of it is tested.
 *   fdatasync (libc, not libvirt)  only when SEVGATE_SHIM_FDATASYNC_MS=N is
 *       set: sleeps N milliseconds, then calls the real one; a slow disk, so
 *       that attestations outpace releases and the release queue forms groups
 *       (tests/virt/online_batch_test.py). Not logged.
 *
 * Every interposed libvirt call appends "<call> <domain name>" to SEVGATE_SHIM_LOG.
 *
 * Faults staged in-process (each test:/// connection has its own state):
 *   SEVGATE_SHIM_RESUME_BEFORE_INJECT=1|info|set: the real virDomainResume is
 *       called on the same domain ("resumed by someone else") at the start of
 *       the first GetLaunchSecurityInfo (1, info) or at the start of
 *       SetLaunchSecurityState (1 when GetLaunchSecurityInfo was not called,
 *       set). Logged as "shim-resume".
 *   SEVGATE_SHIM_DESTROY_BEFORE_INJECT=1: SetLaunchSecurityState calls the real
 *       virDomainDestroy (logged "shim-destroy"), then fails as QEMU's driver
 *       does for a domain that is gone.
 *   SEVGATE_SHIM_KILL_PID=N: GetLaunchSecurityInfo (or, when it is not called,
 *       SetLaunchSecurityState) sends SIGKILL to pid N (the libvirtd of the
 *       end-to-end test) and waits (bounded) until it is dead, then returns
 *       normally, so that the caller's next call sees a dropped connection.
 *
 * Typed parameters are built with libvirt's own virTypedParamsAdd* helpers so
 * that callers free them with virTypedParamsFree.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

typedef int (*dom_fn)(virDomainPtr);
typedef int (*state_fn)(virDomainPtr, int *, int *, unsigned int);

static int info_called;

static void *
real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		fprintf(stderr, "virt-shim: %s not found: %s\n", name, dlerror());
		abort();
	}
	return p;
}

static const char *
dom_name(virDomainPtr dom)
{
	const char *n = dom ? virDomainGetName(dom) : NULL;

	return n ? n : "?";
}

static void
shim_log(const char *fmt, ...)
{
	const char *path = getenv("SEVGATE_SHIM_LOG");
	char buf[512];
	va_list ap;
	int fd, n;

	if (!path || !*path)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, buf, n) != n) {
		/* nothing to do: the test sees a short log */
	}
	close(fd);
}

static int
env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

static unsigned int
env_uint(const char *name, unsigned int dflt)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned int)strtoul(v, NULL, 0) : dflt;
}

/*
 * Sets the thread's libvirt error as a driver would (no handler call).
 * virSetError is exported by libvirt.so but not in its public headers (it is
 * in the versioned private ABI), so it is looked up at run time.
 */
static void
set_error(int domain, int code, const char *msg)
{
	typedef int (*set_error_fn)(virErrorPtr);
	set_error_fn fn = (set_error_fn)dlsym(RTLD_NEXT, "virSetError");
	virError e;

	if (!fn) {
		fprintf(stderr, "virt-shim: virSetError not found: %s\n", dlerror());
		abort();
	}
	memset(&e, 0, sizeof(e));
	e.code = code;
	e.domain = domain;
	e.level = VIR_ERR_ERROR;
	e.message = (char *)msg;
	fn(&e);
}

/*
 * The directory the packet of @dom is captured in: SEVGATE_SHIM_CAPTURE_DIR,
 * or its subdirectory named after the domain (made if needed) with
 * SEVGATE_SHIM_CAPTURE_PER_DOMAIN. Returns 1 and the path in @buf, 0 when
 * nothing is captured, -1 (libvirt error set) for a domain name that is no
 * file name.
 */
static int
capture_dir(virDomainPtr dom, char *buf, size_t size)
{
	const char *dir = getenv("SEVGATE_SHIM_CAPTURE_DIR");
	const char *n;

	if (!dir || !*dir)
		return 0;
	if (!env_flag("SEVGATE_SHIM_CAPTURE_PER_DOMAIN")) {
		return snprintf(buf, size, "%s", dir) < (int)size ? 1 : 0;
	}
	n = dom_name(dom);
	if (!*n || !strcmp(n, ".") || !strcmp(n, "..") || strchr(n, '/')) {
		set_error(VIR_FROM_NONE, VIR_ERR_INVALID_ARG,
			  "virt-shim: the domain name is no capture directory name");
		return -1;
	}
	if (snprintf(buf, size, "%s/%s", dir, n) >= (int)size) {
		set_error(VIR_FROM_NONE, VIR_ERR_INVALID_ARG, "virt-shim: capture path too long");
		return -1;
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
		set_error(VIR_FROM_NONE, VIR_ERR_SYSTEM_ERROR,
			  "virt-shim: cannot make the capture directory");
		return -1;
	}
	return 1;
}

static void
write_file(const char *dir, const char *name, const char *data)
{
	char path[4096];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(data, f);
	fclose(f);
}

static void
kill_pid_if_asked(void)
{
	const char *v = getenv("SEVGATE_SHIM_KILL_PID");
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	char path[64], buf[512];
	long pid;
	int i;

	if (!v || !*v)
		return;
	pid = strtol(v, NULL, 10);
	if (pid <= 1)
		return;
	shim_log("shim-kill %ld", pid);
	if (kill((pid_t)pid, SIGKILL) != 0)
		return;
	/* Dead means gone or a zombie: its sockets are closed either way. */
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	for (i = 0; i < 250; i++) {
		FILE *f = fopen(path, "r");
		char *p;

		if (!f)
			break;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p && (p = strrchr(buf, ')')) && (p[2] == 'Z' || p[2] == 'X'))
			break;
		nanosleep(&ts, NULL);
	}
}

static void
resume_if_asked(virDomainPtr dom, int in_info)
{
	const char *v = getenv("SEVGATE_SHIM_RESUME_BEFORE_INJECT");
	int now;

	if (!v || !*v || !strcmp(v, "0"))
		return;
	if (in_info)
		now = strcmp(v, "set") != 0;
	else
		now = !strcmp(v, "set") || (strcmp(v, "info") != 0 && !info_called);
	if (!now)
		return;
	shim_log("shim-resume %s", dom_name(dom));
	((dom_fn)real("virDomainResume"))(dom);
}

static int
has_sev(virDomainPtr dom)
{
	char *xml = virDomainGetXMLDesc(dom, 0);
	int r;

	if (!xml)
		return -1;
	r = strstr(xml, "<launchSecurity type='sev'") != NULL ||
	    strstr(xml, "<launchSecurity type=\"sev\"") != NULL;
	free(xml);
	return r;
}

SHIM_EXPORT int
virDomainGetLaunchSecurityInfo(virDomainPtr dom, virTypedParameterPtr *params, int *nparams,
			       unsigned int flags)
{
	const char *m = getenv("SEVGATE_SHIM_MEASUREMENT");
	virTypedParameterPtr p = NULL;
	int n = 0, max = 0, sev;

	(void)flags;
	shim_log("GetLaunchSecurityInfo %s", dom_name(dom));
	resume_if_asked(dom, 1);
	info_called = 1;
	if (!dom || !params || !nparams) {
		set_error(VIR_FROM_DOMAIN, VIR_ERR_INVALID_ARG, "invalid argument");
		return -1;
	}
	if (env_flag("SEVGATE_SHIM_INFO_FAIL")) {
		set_error(VIR_FROM_NONE, VIR_ERR_NO_SUPPORT,
			  "this function is not supported by the connection driver: "
			  "virDomainGetLaunchSecurityInfo");
		return -1;
	}
	sev = has_sev(dom);
	if (sev < 0)
		return -1;
	if (sev) {
		if (m && virTypedParamsAddString(&p, &n, &max, "sev-measurement", m) < 0)
			goto fail;
		if (!env_flag("SEVGATE_SHIM_NO_API") &&
		    virTypedParamsAddUInt(&p, &n, &max, "sev-api-major",
					  env_uint("SEVGATE_SHIM_API_MAJOR", 0)) < 0)
			goto fail;
		if (virTypedParamsAddUInt(&p, &n, &max, "sev-api-minor",
					  env_uint("SEVGATE_SHIM_API_MINOR", 24)) < 0 ||
		    virTypedParamsAddUInt(&p, &n, &max, "sev-build-id",
					  env_uint("SEVGATE_SHIM_BUILD_ID", 15)) < 0 ||
		    virTypedParamsAddUInt(&p, &n, &max, "sev-policy",
					  env_uint("SEVGATE_SHIM_POLICY", 3)) < 0)
			goto fail;
	}
	/* The values are ready: now drop the daemon, so the next call fails. */
	kill_pid_if_asked();
	*params = p;
	*nparams = n;
	return 0;
fail:
	virTypedParamsFree(p, n);
	return -1;
}

SHIM_EXPORT int
virDomainSetLaunchSecurityState(virDomainPtr dom, virTypedParameterPtr params, int nparams,
				unsigned int flags)
{
	const char *hdr = NULL, *sec = NULL;
	unsigned long long addr = 0;
	int state = -1, reason = 0, has_addr, cap;
	char buf[32], dir[4096];

	(void)flags;
	shim_log("SetLaunchSecurityState %s %d", dom_name(dom), nparams);
	resume_if_asked(dom, 0);
	if (!info_called)
		kill_pid_if_asked();
	if (env_flag("SEVGATE_SHIM_DESTROY_BEFORE_INJECT")) {
		shim_log("shim-destroy %s", dom_name(dom));
		((dom_fn)real("virDomainDestroy"))(dom);
		set_error(VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
			  "Requested operation is not valid: domain is not running");
		return -1;
	}
	if (((state_fn)real("virDomainGetState"))(dom, &state, &reason, 0) < 0)
		return -1;
	if (state == VIR_DOMAIN_SHUTOFF) {
		set_error(VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
			  "Requested operation is not valid: domain is not running");
		return -1;
	}
	if (state != VIR_DOMAIN_PAUSED) {
		set_error(VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
			  "Requested operation is not valid: domain must be in a paused state");
		return -1;
	}
	if (env_flag("SEVGATE_SHIM_INJECT_FAIL")) {
		const char *msg = getenv("SEVGATE_SHIM_INJECT_FAIL_MSG");

		set_error(VIR_FROM_QEMU, VIR_ERR_OPERATION_FAILED,
			  msg ? msg : "operation failed: SEV: failed to inject launch secret");
		return -1;
	}
	if (virTypedParamsGetString(params, nparams, "sev-secret-header", &hdr) < 0 ||
	    virTypedParamsGetString(params, nparams, "sev-secret", &sec) < 0)
		return -1;
	has_addr = virTypedParamsGetULLong(params, nparams, "sev-secret-set-address", &addr);
	if (has_addr < 0)
		return -1;
	if (!hdr || !sec) {
		set_error(VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
			  "invalid argument: Both secret and the secret header are required");
		return -1;
	}
	cap = capture_dir(dom, dir, sizeof(dir));
	if (cap < 0)
		return -1;
	if (cap == 0)
		return 0;
	write_file(dir, "sev-secret-header", hdr);
	write_file(dir, "sev-secret", sec);
	if (has_addr == 1) {
		snprintf(buf, sizeof(buf), "%llu", addr);
		write_file(dir, "sev-secret-set-address", buf);
	}
	return 0;
}

SHIM_EXPORT int
virNodeGetSEVInfo(virConnectPtr conn, virTypedParameterPtr *params, int *nparams,
		  unsigned int flags)
{
	virTypedParameterPtr p = NULL;
	int n = 0, max = 0;

	(void)conn;
	(void)flags;
	shim_log("NodeGetSEVInfo");
	if (virTypedParamsAddString(&p, &n, &max, "pdh", "UERIAA==") < 0 ||
	    virTypedParamsAddString(&p, &n, &max, "cert-chain", "Q0VSVA==") < 0 ||
	    virTypedParamsAddString(&p, &n, &max, "cpu0-id", "Q1BVMA==") < 0 ||
	    virTypedParamsAddUInt(&p, &n, &max, "cbitpos", 47) < 0 ||
	    virTypedParamsAddUInt(&p, &n, &max, "reduced-phys-bits", 1) < 0 ||
	    virTypedParamsAddUInt(&p, &n, &max, "max-guests", 15) < 0 ||
	    virTypedParamsAddUInt(&p, &n, &max, "max-es-guests", 494) < 0) {
		virTypedParamsFree(p, n);
		return -1;
	}
	*params = p;
	*nparams = n;
	return 0;
}

SHIM_EXPORT int
virDomainResume(virDomainPtr dom)
{
	shim_log("Resume %s", dom_name(dom));
	return ((dom_fn)real("virDomainResume"))(dom);
}

SHIM_EXPORT int
virDomainDestroy(virDomainPtr dom)
{
	shim_log("Destroy %s", dom_name(dom));
	return ((dom_fn)real("virDomainDestroy"))(dom);
}

SHIM_EXPORT int
virDomainDestroyFlags(virDomainPtr dom, unsigned int flags)
{
	typedef int (*fn)(virDomainPtr, unsigned int);

	shim_log("Destroy %s", dom_name(dom));
	return ((fn)real("virDomainDestroyFlags"))(dom, flags);
}

SHIM_EXPORT char *
virDomainGetXMLDesc(virDomainPtr dom, unsigned int flags)
{
	typedef char *(*fn)(virDomainPtr, unsigned int);
	const char *extra = getenv("SEVGATE_SHIM_XML_OS_EXTRA");
	char *xml = ((fn)real("virDomainGetXMLDesc"))(dom, flags), *out, *at;
	size_t pre, elen;

	if (!xml || !extra || !*extra || !(at = strstr(xml, "</os>")))
		return xml;
	pre = (size_t)(at - xml);
	elen = strlen(extra);
	out = malloc(strlen(xml) + elen + 1);
	if (!out)
		return xml;
	memcpy(out, xml, pre);
	memcpy(out + pre, extra, elen);
	strcpy(out + pre + elen, at);
	free(xml);
	return out;
}

SHIM_EXPORT int
fdatasync(int fd)
{
	typedef int (*fn)(int);
	unsigned int ms = env_uint("SEVGATE_SHIM_FDATASYNC_MS", 0);
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000 * 1000 };

	while (ms && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return ((fn)real("fdatasync"))(fd);
}
