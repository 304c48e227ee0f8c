// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_lite, x86_64 part: 32-bit flat protected mode vCPUs, the port-I/O
 * channel of the guest programs, stage-2 fault counting with pf_taken.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm_lite.h"

static void kl_flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->db = 1;
	s->s = 1;
	s->l = 0;
	s->g = 1;
}

/*
 * 32-bit protected mode, paging off, flat 4 GiB segments.  The segment
 * caches are loaded directly, so the guest needs no GDT in its memory as
 * long as it never reloads a segment register.
 */
void kl_arch_vcpu_init(struct kl_vcpu *vcpu)
{
	struct kvm_sregs sregs;

	TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
	kl_flat_seg(&sregs.cs, 0x08, 0x0b);	/* code, exec/read, accessed */
	kl_flat_seg(&sregs.ds, 0x10, 0x03);	/* data, read/write, accessed */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.cr0 = (sregs.cr0 | 0x1 /* PE */ | 0x10 /* ET */) &
		    ~(0x80000000ULL /* PG */ | 0x40000000 /* CD */ |
		      0x20000000 /* NW */);
	sregs.cr4 = 0;
	sregs.efer = 0;
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
}

void kl_arch_guest_start(struct kl_vcpu *vcpu, uint64_t pc,
			 const struct kl_args *args)
{
	struct kvm_regs regs;

	TEST_ASSERT(args->addr < KL_GUEST_ADDR_LIMIT &&
		    args->count <= UINT32_MAX && args->stride <= UINT32_MAX &&
		    args->val <= UINT32_MAX,
		    "guest program arguments out of 32-bit range: addr %#"
		    PRIx64 " count %#" PRIx64 " stride %#" PRIx64 " val %#"
		    PRIx64, args->addr, args->count, args->stride, args->val);
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = pc;
	regs.rsp = KL_CODE_SLOT_SIZE;
	regs.rsi = args->addr;
	regs.rcx = args->count;
	regs.rdi = args->stride;
	regs.rdx = args->val;
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_REGS, &regs), "KVM_SET_REGS");
}

bool kl_arch_handle_exit(struct kl_vcpu *vcpu, bool *done)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t val = 0;

	if (run->exit_reason != KVM_EXIT_IO ||
	    run->io.direction != KVM_EXIT_IO_OUT || run->io.count != 1)
		return false;
	switch (run->io.port) {
	case KL_PORT_DONE:
		*done = true;
		return true;
	case KL_PORT_REPORT:
		memcpy(&val, data, run->io.size <= 4 ? run->io.size : 4);
		vcpu->last_report = val;
		vcpu->nr_reports++;
		*done = false;
		return true;
	}
	return false;
}

void kl_arch_dump_vcpu(struct kl_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;

	if (run->exit_reason == KVM_EXIT_IO)
		tap_diag("  io: dir %u size %u port %#x count %u",
			 run->io.direction, run->io.size, run->io.port,
			 run->io.count);
	if (!ioctl(vcpu->fd, KVM_GET_REGS, &regs))
		tap_diag("  rip %#llx rax %#llx rcx %#llx rsi %#llx",
			 regs.rip, regs.rax, regs.rcx, regs.rsi);
}

static int kl_param_bool(const char *module, const char *param)
{
	char buf[32];
	const char *v = kl_module_param(module, param, buf, sizeof(buf));

	if (!v)
		return -1;
	return v[0] == 'Y' || v[0] == 'y' || v[0] == '1';
}

/* x86 reports the capability when TDP (NPT or EPT) is on. */
int kl_prefault_cap_expected(char *why, size_t len)
{
	int npt = kl_param_bool("kvm_amd", "npt");
	int ept = kl_param_bool("kvm_intel", "ept");

	snprintf(why, len, "kvm_amd.npt %d, kvm_intel.ept %d (-1: not loaded)",
		 npt, ept);
	return npt >= 0 ? npt : ept;
}

/* ---- stage-2 faults: pf_taken, exact ---- */

bool kl_faults_available(struct kl_vm *vm)
{
	return kl_stat_available(vm, "pf_taken");
}

void kl_faults_begin(struct kl_vm *vm, struct kl_faults *f)
{
	memset(f, 0, sizeof(*f));
	f->v[0] = kl_stat(vm, "pf_taken");
}

struct kl_fault_range kl_faults_end(struct kl_vm *vm,
				    const struct kl_faults *f)
{
	uint64_t d = kl_stat(vm, "pf_taken") - f->v[0];

	return (struct kl_fault_range){ .lo = d, .hi = d };
}

const char *kl_faults_what(void)
{
	return "pf_taken";
}
