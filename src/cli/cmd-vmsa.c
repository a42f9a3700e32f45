/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sevgate vmsa build|show: what sevctl's vmsa commands and sev-snp-measure --dump-vmsa give. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmdtab.h"
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "core/cpuid.h"
#include "core/ovmf.h"
#include "core/vmsa.h"
#include "util/cursor.h"
#include "util/fileio.h"
#include "util/numparse.h"

static const struct sg_command *
build_command(void)
{
	return sg_command_find("sevgate", "vmsa build");
}

static int
vmsa_build(int argc, char **argv)
{
	struct sg_vmsa_params p = { 0 };
	struct sg_error err = { 0 };
	uint64_t fam = 0, model = 0, step = 0, v, reset = 0;
	unsigned sku = 0;
	bool have_sig = false, have_reset = false;
	const char *firmware = NULL;
	uint8_t page[SG_VMSA_SIZE];
	struct sg_command_getopt g;
	int c, r;

	if ((r = sg_command_getopt_init(build_command(), &g, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	opterr = 0;
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		switch (c) {
		case 'h': sg_command_usage(build_command(), stdout); return SG_EXIT_OK;
		case SG_GOPT_CPU_FAMILY:
			r = sg_parse_uint_err(optarg, 0x10e, "--cpu-family", &fam, &err);
			sku |= 1;
			break;
		case SG_GOPT_CPU_MODEL:
			r = sg_parse_uint_err(optarg, 0xff, "--cpu-model", &model, &err);
			sku |= 2;
			break;
		case SG_GOPT_CPU_STEPPING:
			r = sg_parse_uint_err(optarg, 0xf, "--cpu-stepping", &step, &err);
			sku |= 4;
			break;
		case SG_GOPT_VCPU_TYPE:
			r = sg_cpuid_lookup(optarg, &p.cpu_sig, &err);
			have_sig = true;
			break;
		case SG_COPT_CPU_SIG:
			r = sg_parse_uint_err(optarg, UINT32_MAX, "--cpu-sig", &v, &err);
			p.cpu_sig = (uint32_t)v;
			have_sig = true;
			break;
		case SG_GOPT_VMSA_PROFILE:
			r = sg_vmsa_profile_parse(optarg, &p.profile, &err);
			break;
		case SG_GOPT_SEV_FEATURES:
			r = sg_parse_uint_err(optarg, UINT64_MAX, "--sev-features", &p.sev_features,
					      &err);
			break;
		case 'f': firmware = optarg; break;
		case SG_COPT_RESET_ADDR:
			r = sg_parse_uint_err(optarg, UINT32_MAX, "--reset-addr", &reset, &err);
			have_reset = true;
			break;
		default:
			r = sg_error_set(&err, SG_E_USAGE, "unrecognized option '%s'",
					 argv[optind - 1]);
		}
	}
	if (r < 0)
		return sg_cmd_fail(err.msg, r);
	if (sku && sku != 7)
		return sg_cmd_fail("--cpu-family, --cpu-model and --cpu-stepping go together",
				   SG_E_USAGE);
	if ((sku != 0) + have_sig != 1)
		return sg_cmd_fail(
			"give one of --cpu-family/--cpu-model/--cpu-stepping, --vcpu-type "
			"or --cpu-sig",
			SG_E_USAGE);
	if (sku)
		p.cpu_sig = sg_cpuid_signature((uint32_t)fam, (uint32_t)model, (uint32_t)step);
	if (argc - optind < 1 || argc - optind > 2)
		return sg_cmd_fail("expected BSP_OUT [AP_OUT]", SG_E_USAGE);
	if (argc - optind == 2 && !!firmware == have_reset)
		return sg_cmd_fail("AP_OUT needs one of --firmware or --reset-addr", SG_E_USAGE);

	sg_vmsa_build_bsp(&p, page);
	if ((r = sg_file_write(argv[optind], page, sizeof(page), 0644, "VMSA", &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (argc - optind == 2) {
		uint32_t addr = (uint32_t)reset;

		if (firmware) {
			_cleanup_(sg_file_freep) struct sg_file *f = NULL;
			struct sg_ovmf o;

			if ((r = sg_file_map(firmware, SG_FILE_MAX, "firmware", &f, &err)) < 0 ||
			    (r = sg_ovmf_parse(f->data, f->len, &o, &err)) < 0 ||
			    (r = sg_ovmf_reset_addr(&o, &addr, &err)) < 0)
				return sg_cmd_fail(err.msg, r);
		}
		sg_vmsa_build_ap(&p, addr, page);
		if ((r = sg_file_write(argv[optind + 1], page, sizeof(page), 0644, "VMSA", &err)) <
		    0)
			return sg_cmd_fail(err.msg, r);
	}
	return SG_EXIT_OK;
}

static int
vmsa_show(int argc, char **argv)
{
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	struct sg_error err = { 0 };
	struct json_object *j;
	int r;

	if (argc != 2)
		return sg_cmd_fail("usage: sevgate vmsa show FILE", SG_E_USAGE);
	if ((r = sg_file_map(argv[1], SG_FILE_MAX, "VMSA", &f, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (f->len != SG_VMSA_SIZE)
		return sg_cmd_fail("VMSA must be 4096 bytes in length", SG_E_USAGE);
	j = json_object_new_object();
	for (unsigned i = 0; i < sg_vmsa_nfields; i++) {
		const struct sg_vmsa_field *fd = &sg_vmsa_fields[i];
		const uint8_t *p = f->data + fd->offset;
		struct json_object *val;

		switch (fd->kind) {
		case SG_VMSA_SEGMENT:
			val = json_object_new_object();
			sg_json_add(val, "selector", json_object_new_int(sg_get_u16le(p)));
			sg_json_add(val, "attrib", json_object_new_int(sg_get_u16le(p + 2)));
			sg_json_add(val, "limit", json_object_new_int64(sg_get_u32le(p + 4)));
			sg_json_add(val, "base", json_object_new_uint64(sg_get_u64le(p + 8)));
			break;
		case SG_VMSA_U64: val = json_object_new_uint64(sg_get_u64le(p)); break;
		case SG_VMSA_U32: val = json_object_new_int64(sg_get_u32le(p)); break;
		case SG_VMSA_U16: val = json_object_new_int(sg_get_u16le(p)); break;
		default: val = json_object_new_int(p[0]); break;
		}
		sg_json_add(j, fd->name, val);
	}
	sg_json_print(j);
	return SG_EXIT_OK;
}

int
sg_cmd_vmsa(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		sg_command_synopsis(build_command(), stdout);
		sg_command_synopsis(sg_command_find("sevgate", "vmsa show"), stdout);
		return SG_EXIT_OK;
	}
	if (argc >= 2 && !strcmp(argv[1], "build"))
		return vmsa_build(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "show"))
		return vmsa_show(argc - 1, argv + 1);
	return sg_cmd_fail("usage: sevgate vmsa build|show ...", SG_E_USAGE);
}
