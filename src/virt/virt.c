/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt side of online validation (spec 6): the only file that
 * includes libvirt headers. libvirt errors are taken right after the
 * failing call and become one message; libvirt itself prints nothing.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/policy.h"
#include "core/cpuid.h"
#include "util/cleanup.h"
#include "util/debug.h"
#include "util/encode.h"
#include "util/numparse.h"
#include "virt/virt.h"

/* libxml2's objects, for the one file that includes libxml2 (util/cleanup.h has the machinery). */
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_xml_doc_freep, xmlDocPtr, xmlFreeDoc)
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_xml_xpath_context_freep, xmlXPathContextPtr, xmlXPathFreeContext)
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_xml_xpath_object_freep, xmlXPathObjectPtr, xmlXPathFreeObject)

struct sg_virt_guest {
	struct sg_virt_opts opts;
	virConnectPtr conn;
	virDomainPtr dom;
	bool remote, secure;
	char *name;
	xmlDocPtr doc;
	xmlXPathContextPtr xp;
	/* Strings handed to the request (owned here). */
	char *firmware, *kernel, *initrd, *cmdline;
};

/* Record libvirt's last error (message only) and return SG_E_VIRT. */
static int
virt_error(struct sg_error *err, const char *fallback)
{
	virErrorPtr e = virGetLastError();
	const char *msg = e && e->message ? e->message : fallback;

	return sg_error_set(err, SG_E_VIRT, "%s", msg);
}

static void
quiet_handler(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

static void __attribute__((format(printf, 2, 3))) xml_quiet(void *ud, const char *fmt, ...)
{
	(void)ud;
	(void)fmt;
}

/* The host part of a libvirt URI: "" for "qemu:///system", "h" for "qemu+ssh://u@h:22/system". */
static void
uri_host(const char *uri, char *out, size_t len)
{
	const char *p = strstr(uri, "://"), *end;
	size_t n;

	out[0] = '\0';
	if (!p)
		return;
	p += 3;
	end = p + strcspn(p, "/?#");
	for (const char *at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') { /* [IPv6]:port */
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close) {
			p++;
			end = close;
		}
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon)
			end = colon;
	}
	n = (size_t)(end - p) < len - 1 ? (size_t)(end - p) : len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static bool
is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/*
 * Spec 6.2 with B5 fixed: local when the URI names no host, localhost or a
 * loopback address, or when the hypervisor's host name is ours, short or
 * fully qualified.
 */
static bool
decide_local(const char *uri, const char *hv_host)
{
	char host[256], shortname[256] = "", fqdn[NI_MAXHOST] = "";
	struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *ai = NULL;

	uri_host(uri, host, sizeof(host));
	if (!*host || !strcasecmp(host, "localhost") || is_loopback(host))
		return true;
	if (gethostname(shortname, sizeof(shortname) - 1) == 0 && *shortname &&
	    getaddrinfo(shortname, NULL, &hints, &ai) == 0) {
		if (ai && ai->ai_canonname)
			snprintf(fqdn, sizeof(fqdn), "%s", ai->ai_canonname);
		freeaddrinfo(ai);
	}
	sg_debug("Locality: URI host '%s', hypervisor '%s', ours '%s' / '%s'", host,
		 hv_host ? hv_host : "", shortname, fqdn);
	return hv_host && ((*shortname && !strcasecmp(hv_host, shortname)) ||
			   (*fqdn && !strcasecmp(hv_host, fqdn)));
}

static bool
all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool
is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* ID, UUID in any case, or name; a name shaped like a UUID is still found (B7). */
static virDomainPtr
lookup(virConnectPtr conn, const char *id)
{
	virDomainPtr dom = NULL;

	if (all_digits(id) && strlen(id) < 10) {
		dom = virDomainLookupByID(conn, atoi(id));
		if (dom)
			return dom;
	}
	if (is_uuid(id)) {
		dom = virDomainLookupByUUIDString(conn, id);
		if (dom)
			return dom;
	}
	return virDomainLookupByName(conn, id);
}

static void
guest_close(struct sg_virt_guest *g)
{
	if (!g)
		return;
	if (g->xp)
		xmlXPathFreeContext(g->xp);
	if (g->doc)
		xmlFreeDoc(g->doc);
	if (g->dom)
		virDomainFree(g->dom);
	if (g->conn)
		virConnectClose(g->conn);
	free(g->name);
	free(g->firmware);
	free(g->kernel);
	free(g->initrd);
	free(g->cmdline);
	free(g);
}

static int
guest_open(const struct sg_virt_opts *o, struct sg_virt_guest **ret, struct sg_error *err)
{
	struct sg_virt_guest *g = calloc(1, sizeof(*g));
	const char *uri = o->uri ? o->uri : "qemu:///system";
	char *hv_host = NULL;
	int active, state = 0, reason = 0, r;
	char uuid[VIR_UUID_STRING_BUFLEN] = "";
	const char *name;

	if (!g)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	g->opts = *o;
	/* libvirt (and libxml2 inside it) print errors on stderr by default: we report each once. */
	virSetErrorFunc(NULL, quiet_handler);
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	xmlSetStructuredErrorFunc(NULL, NULL);

	g->conn = virConnectOpen(uri);
	if (!g->conn) {
		r = virt_error(err, "cannot connect to libvirt");
		goto fail;
	}
	if (o->locality == SG_LOCALITY_AUTO)
		hv_host = virConnectGetHostname(g->conn);
	g->remote = o->locality == SG_LOCALITY_REMOTE ||
		    (o->locality == SG_LOCALITY_AUTO && !decide_local(uri, hv_host));
	free(hv_host);
	g->secure = !o->insecure;
	if (!g->remote && g->secure) {
		r = sg_error_set(err, SG_E_INSECURE,
				 "running locally on the hypervisor host is not secure");
		goto fail;
	}

	g->dom = lookup(g->conn, o->domain);
	if (!g->dom) {
		r = virt_error(err, "domain not found");
		goto fail;
	}
	name = virDomainGetName(g->dom);
	g->name = strdup(name ? name : o->domain);
	virDomainGetUUIDString(g->dom, uuid);
	sg_debug("VM: id=%d name=%s uuid=%s", (int)virDomainGetID(g->dom), g->name, uuid);

	/* From here on a failure leaves the guest to the caller, for --on-failure destroy. */
	*ret = g;
	active = virDomainIsActive(g->dom);
	if (active < 0)
		return virt_error(err, "cannot read the domain state");
	if (!active)
		return sg_error_set(err, SG_E_STATE,
				    "Domain must be running to validate measurement");
	if (virDomainGetState(g->dom, &state, &reason, 0) < 0)
		return virt_error(err, "cannot read the domain state");
	if (state != VIR_DOMAIN_PAUSED && g->secure)
		return sg_error_set(err, SG_E_STATE,
				    "Domain must be paused to validate measurement");
	return 0;
fail:
	guest_close(g);
	return r;
}

static int
xp_count(struct sg_virt_guest *g, const char *expr)
{
	_cleanup_(sg_xml_xpath_object_freep) xmlXPathObjectPtr o =
		xmlXPathEvalExpression((const xmlChar *)expr, g->xp);

	if (o && o->type == XPATH_NODESET && o->nodesetval)
		return o->nodesetval->nodeNr;
	return 0;
}

/* The text of the first node @expr selects: NULL if none, "" for an empty element (B6). */
static char *
xp_text(struct sg_virt_guest *g, const char *expr)
{
	_cleanup_(sg_xml_xpath_object_freep) xmlXPathObjectPtr o =
		xmlXPathEvalExpression((const xmlChar *)expr, g->xp);
	char *s = NULL;

	if (o && o->type == XPATH_NODESET && o->nodesetval && o->nodesetval->nodeNr > 0) {
		xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[0]);

		s = strdup(t ? (const char *)t : "");
		xmlFree(t);
	}
	return s;
}

static int
parse_xml(const char *xml, xmlDocPtr *ret_doc, xmlXPathContextPtr *ret_xp, const char *what,
	  struct sg_error *err)
{
	/* No network, no entity expansion, no DTD loading: the XML comes from the host. */
	_cleanup_(sg_xml_doc_freep) xmlDocPtr doc =
		xmlReadMemory(xml, (int)strlen(xml), what, NULL,
			      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlXPathContextPtr xp;

	if (!doc)
		return sg_error_set(err, SG_E_VIRT, "cannot parse the %s XML", what);
	xp = xmlXPathNewContext(doc);
	if (!xp)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	*ret_xp = xp;
	*ret_doc = SG_TAKE_PTR(doc);
	return 0;
}

/* Spec 6.4 step 3, in the reference's order and with its messages. */
static int
check_config(struct sg_virt_guest *g, const struct sg_validate_req *q, bool measure_kernel,
	     struct sg_error *err)
{
	int kern_nodes = xp_count(g, "/domain/os/kernel") + xp_count(g, "/domain/os/initrd") +
			 xp_count(g, "/domain/os/cmdline");

	if (xp_count(g, "/domain/launchSecurity[@type='sev']") != 1)
		return sg_error_set(err, SG_E_CONFIG,
				    "Domain is not configured with SEV launch security");
	if (xp_count(g, "/domain/launchSecurity[@type='sev']/dhCert") != 1)
		return sg_error_set(err, SG_E_CONFIG,
				    "Domain must have SEV owner cert to validate measurement");
	if (xp_count(g, "/domain/launchSecurity[@type='sev']/session") != 1)
		return sg_error_set(err, SG_E_CONFIG,
				    "Domain must have SEV session data to validate measurement");
	if (xp_count(g, "/domain/os/nvram") != 0 && g->secure)
		return sg_error_set(err, SG_E_INSECURE,
				    "Domain firmware with NVRAM cannot be securely measured");
	if (xp_count(g, "/domain/os/loader") != 1)
		return sg_error_set(err, SG_E_CONFIG, "Domain must have one firmware path");
	if (!measure_kernel) {
		if (q->kernel)
			return sg_error_set(err, SG_E_USAGE,
					    "kernel/initrd/cmdline provided but kernel measurement "
					    "not enabled");
		if (kern_nodes && g->secure)
			return sg_error_set(err, SG_E_INSECURE,
					    "direct kernel boot present without measurement");
	} else if (!kern_nodes) {
		return sg_error_set(err, SG_E_CONFIG,
				    "kernel/initrd/cmdline not provided but kernel measurement is "
				    "enabled");
	}
	return 0;
}

static int
param_u8(virTypedParameterPtr p, int n, const char *name, uint8_t *ret, struct sg_error *err)
{
	unsigned int v;

	if (virTypedParamsGetUInt(p, n, name, &v) != 1)
		return sg_error_set(err, SG_E_VIRT,
				    "'%s' not reported in domain launch security info", name);
	if (v > 0xff)
		return sg_error_set(err, SG_E_VIRT, "'%s' %u reported by the host is out of range",
				    name, v);
	*ret = (uint8_t)v;
	return 0;
}

/* Spec 6.4 step 4: only what the command line did not give. */
static int
fill_launch_state(struct sg_virt_guest *g, struct sg_validate_req *q, struct sg_error *err)
{
	virTypedParameterPtr p = NULL;
	int n = 0, r = 0;
	unsigned int u;
	const char *m = NULL;

	if (q->have_measurement && q->have_api_major && q->have_api_minor && q->have_build_id &&
	    q->have_policy)
		return 0;
	if (virDomainGetLaunchSecurityInfo(g->dom, &p, &n, 0) < 0)
		return virt_error(err, "cannot read the launch security info");
	if (virTypedParamsGetUInt(p, n, "sev-api-major", &u) != 1) {
		r = sg_error_set(err, SG_E_USAGE,
				 "'api-major' not reported in domain launch security info");
		goto out;
	}
	if (!q->have_measurement) {
		size_t len = 0;

		if (virTypedParamsGetString(p, n, "sev-measurement", &m) != 1 || !m) {
			r = sg_error_set(err, SG_E_VIRT,
					 "'sev-measurement' not reported in domain launch security "
					 "info");
			goto out;
		}
		if (sg_base64_decode(m, q->measurement, sizeof(q->measurement), &len, "measurement",
				     NULL) < 0 ||
		    len != SG_MEASURE_BLOB_LEN) {
			r = sg_error_set(err, SG_E_VIRT,
					 "the measurement the host reported is not base64 of 48 "
					 "bytes");
			goto out;
		}
		q->have_measurement = true;
	}
	if (!q->have_api_major &&
	    (r = param_u8(p, n, "sev-api-major", &q->platform.api_major, err)) < 0)
		goto out;
	if (!q->have_api_minor &&
	    (r = param_u8(p, n, "sev-api-minor", &q->platform.api_minor, err)) < 0)
		goto out;
	if (!q->have_build_id &&
	    (r = param_u8(p, n, "sev-build-id", &q->platform.build_id, err)) < 0)
		goto out;
	if (!q->have_policy) {
		if (virTypedParamsGetUInt(p, n, "sev-policy", &u) != 1) {
			r = sg_error_set(
				err, SG_E_VIRT,
				"'sev-policy' not reported in domain launch security info");
			goto out;
		}
		q->platform.policy = u;
	}
	q->have_api_major = q->have_api_minor = q->have_build_id = q->have_policy = true;
out:
	virTypedParamsFree(p, n);
	return r;
}

/* Spec 6.4 steps 6-9: a file from the XML only when local and insecure. */
static int
from_xml(struct sg_virt_guest *g, const char *expr, const char *what, bool is_path, char **slot,
	 struct sg_error *err)
{
	char *text;

	if (xp_count(g, expr) == 0)
		return 0;
	if (is_path && g->remote)
		return sg_error_set(err, SG_E_USAGE, "Cannot access %s path remotely", what);
	if (g->secure)
		return sg_error_set(err, SG_E_INSECURE,
				    is_path ? "Using %s path from XML is not secure" :
					      "Using %s string from XML is not secure",
				    what);
	text = xp_text(g, expr);
	if (!text)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	free(*slot);
	*slot = text;
	return 1;
}

static int
fill_cpu_signature(struct sg_virt_guest *g, struct sg_validate_req *q, struct sg_error *err)
{
	_cleanup_(sg_freep) char *xml = NULL;
	_cleanup_(sg_xml_doc_freep) xmlDocPtr caps = NULL;
	_cleanup_(sg_xml_xpath_context_freep) xmlXPathContextPtr xp = NULL;
	_cleanup_(sg_xml_xpath_object_freep) xmlXPathObjectPtr o = NULL;
	int r = 0;
	uint64_t fam, model, step;

	if (g->secure)
		return sg_error_set(err, SG_E_INSECURE,
				    "Using CPU SKU from capabilities is not secure");
	/* B1 fixed: compare the attribute's value, not a node list. */
	{
		_cleanup_(sg_xml_xpath_object_freep) xmlXPathObjectPtr m =
			xmlXPathEvalExpression((const xmlChar *)"string(/domain/cpu/@mode)", g->xp);
		bool pt = m && m->type == XPATH_STRING && m->stringval &&
			  !strcmp((const char *)m->stringval, "host-passthrough");

		if (!pt)
			return sg_error_set(
				err, SG_E_USAGE,
				"Using CPU family/model/stepping from host not possible "
				"unless 'host-passthrough' is used");
	}
	xml = virConnectGetCapabilities(g->conn);
	if (!xml)
		return virt_error(err, "cannot read the host capabilities");
	if ((r = parse_xml(xml, &caps, &xp, "capabilities", err)) < 0)
		return r;
	o = xmlXPathEvalExpression((const xmlChar *)"/capabilities/host/cpu/signature", xp);
	if (!o || o->type != XPATH_NODESET || !o->nodesetval || o->nodesetval->nodeNr != 1)
		return sg_error_set(err, SG_E_USAGE,
				    "Libvirt is too old to report host CPU signature");
	{
		xmlNodePtr sig = o->nodesetval->nodeTab[0];
		xmlChar *f = xmlGetProp(sig, (const xmlChar *)"family");
		xmlChar *mo = xmlGetProp(sig, (const xmlChar *)"model");
		xmlChar *st = xmlGetProp(sig, (const xmlChar *)"stepping");

		if (!f || !mo || !st || sg_parse_uint((const char *)f, 0xfff, "family", &fam) < 0 ||
		    sg_parse_uint((const char *)mo, 0xff, "model", &model) < 0 ||
		    sg_parse_uint((const char *)st, 0xff, "stepping", &step) < 0)
			r = sg_error_set(err, SG_E_VIRT, "the host CPU signature is malformed");
		xmlFree(f);
		xmlFree(mo);
		xmlFree(st);
		if (r < 0)
			return r;
	}
	q->have_cpu_sig = true;
	q->cpu_sig = sg_cpuid_signature((uint32_t)fam, (uint32_t)model, (uint32_t)step);
	sg_debug("CPU signature from capabilities: 0x%x", q->cpu_sig);
	return 0;
}

static int
guest_fill(struct sg_virt_guest *g, struct sg_validate_req *q, struct sg_error *err)
{
	char *xml = virDomainGetXMLDesc(g->dom, 0);
	bool measure_kernel;
	int r;

	if (!xml)
		return virt_error(err, "cannot read the domain XML");
	r = parse_xml(xml, &g->doc, &g->xp, "domain", err);
	free(xml);
	if (r < 0)
		return r;
	measure_kernel =
		xp_count(g, "/domain/launchSecurity[@type='sev'][@kernelHashes='yes']") >= 1;
	if (!g->opts.ignore_config && (r = check_config(g, q, measure_kernel, err)) < 0)
		return r;
	if ((r = fill_launch_state(g, q, err)) < 0)
		return r;

	if (sg_policy_is_es(q->platform.policy) && q->num_cpus == 0) {
		virDomainInfo info;

		if (g->secure)
			return sg_error_set(err, SG_E_INSECURE,
					    "Using CPU count from guest is not secure");
		if (virDomainGetInfo(g->dom, &info) < 0)
			return virt_error(err, "cannot read the domain info");
		q->num_cpus = info.nrVirtCpu;
	}
	if (!q->firmware) {
		/* The reference's order: remote, then secure, then a missing loader. */
		if (g->remote)
			return sg_error_set(err, SG_E_USAGE,
					    "Cannot access firmware path remotely");
		if (g->secure)
			return sg_error_set(err, SG_E_INSECURE,
					    "Using firmware path from XML is not secure");
		g->firmware = xp_text(g, "/domain/os/loader");
		if (!g->firmware || !*g->firmware)
			return sg_error_set(err, SG_E_USAGE,
					    "--firmware not specified and no firmware path found");
		q->firmware = g->firmware;
	}
	/* B4 fixed: the kernel, initrd and cmdline are measured only with kernelHashes='yes'. */
	if (measure_kernel) {
		if (!q->kernel &&
		    (r = from_xml(g, "/domain/os/kernel", "kernel", true, &g->kernel, err)) < 0)
			return r;
		if (!q->initrd &&
		    (r = from_xml(g, "/domain/os/initrd", "initrd", true, &g->initrd, err)) < 0)
			return r;
		if (!q->cmdline &&
		    (r = from_xml(g, "/domain/os/cmdline", "cmdline", false, &g->cmdline, err)) < 0)
			return r;
		if (g->kernel)
			q->kernel = g->kernel;
		if (g->initrd)
			q->initrd = g->initrd;
		if (g->cmdline)
			q->cmdline = g->cmdline;
	}
	if (sg_policy_is_es(q->platform.policy) && !q->vmsa_cpu0 && !q->have_cpu_sig &&
	    (r = fill_cpu_signature(g, q, err)) < 0)
		return r;
	return 0;
}

static int
guest_inject(struct sg_virt_guest *g, const char *header64, const char *payload64,
	     struct sg_error *err)
{
	virTypedParameterPtr p = NULL;
	int n = 0, max = 0, state = 0, reason = 0, r = 0;

	/* The check at the start may be stale: QEMU accepts a secret only while paused. */
	if (virDomainGetState(g->dom, &state, &reason, 0) < 0)
		return virt_error(err, "cannot read the domain state");
	if (state != VIR_DOMAIN_PAUSED)
		return sg_error_set(err, SG_E_STATE, "Domain must be paused to inject secrets");
	if (virTypedParamsAddString(&p, &n, &max, VIR_DOMAIN_LAUNCH_SECURITY_SEV_SECRET_HEADER,
				    header64) < 0 ||
	    virTypedParamsAddString(&p, &n, &max, VIR_DOMAIN_LAUNCH_SECURITY_SEV_SECRET,
				    payload64) < 0) {
		r = sg_error_set(err, SG_E_NOMEM, "out of memory");
		goto out;
	}
	if (virDomainSetLaunchSecurityState(g->dom, p, n, 0) < 0) {
		r = virt_error(err, "cannot inject the launch secret");
		goto out;
	}
	sg_debug("Injected the launch secret into %s", g->name);
	if (virDomainResume(g->dom) < 0)
		r = virt_error(err, "cannot resume the domain");
out:
	virTypedParamsFree(p, n);
	return r;
}

static void
guest_failed(struct sg_virt_guest *g)
{
	if (g && g->dom && g->opts.destroy_on_failure) {
		if (virDomainDestroy(g->dom) == 0)
			sg_debug("Destroyed %s after the failure", g->name);
	}
}

static const char *
guest_name(const struct sg_virt_guest *g)
{
	return g->name;
}

const struct sg_virt_api sg_virt_backend = {
	.open = guest_open,
	.fill = guest_fill,
	.inject = guest_inject,
	.failed = guest_failed,
	.name = guest_name,
	.close = guest_close,
};
