// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_lite, aarch64 part: vCPUs at EL1 with the MMU off, the MMIO channel
 * of the guest programs, stage-2 fault estimates from vCPU exits.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm_lite.h"

#define KL_CORE_REG(name)						\
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |		\
	 KVM_REG_ARM_CORE_REG(name))

/* PSTATE: EL1 with SP_EL1, debug, SError, IRQ and FIQ masked. */
#define KL_PSTATE_EL1H_DAIF	0x3c5ULL

static void kl_set_reg(struct kl_vcpu *vcpu, uint64_t id, uint64_t val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&val };

	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_ONE_REG, &r),
		    "KVM_SET_ONE_REG %#" PRIx64 " = %#" PRIx64, id, val);
}

static bool kl_get_reg(struct kl_vcpu *vcpu, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)val };

	return !ioctl(vcpu->fd, KVM_GET_ONE_REG, &r);
}

/*
 * KVM_ARM_VCPU_INIT with the host's preferred target and no optional
 * feature (no PSCI 0.2, PMU, SVE, pointer auth): the vCPU comes out of
 * reset at EL1h with the MMU and caches off and DAIF masked, so guest
 * addresses are IPAs and no interrupt reaches the guest.
 */
void kl_arch_vcpu_init(struct kl_vcpu *vcpu)
{
	struct kvm_vcpu_init init;

	memset(&init, 0, sizeof(init));
	TEST_ASSERT(!ioctl(vcpu->vm->fd, KVM_ARM_PREFERRED_TARGET, &init),
		    "KVM_ARM_PREFERRED_TARGET");
	memset(init.features, 0, sizeof(init.features));
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init),
		    "KVM_ARM_VCPU_INIT target %u on vCPU %d", init.target,
		    vcpu->id);
}

void kl_arch_guest_start(struct kl_vcpu *vcpu, uint64_t pc,
			 const struct kl_args *args)
{
	/*
	 * A vCPU whose last exit was MMIO would complete that access on the
	 * next KVM_RUN and step over the instruction at the PC, which is
	 * now the new program's first: drop the completion.
	 */
	if (vcpu->run->exit_reason == KVM_EXIT_MMIO)
		vcpu->run->exit_reason = KVM_EXIT_UNKNOWN;

	kl_set_reg(vcpu, KL_CORE_REG(regs.pstate), KL_PSTATE_EL1H_DAIF);
	kl_set_reg(vcpu, KL_CORE_REG(regs.pc), pc);
	kl_set_reg(vcpu, KL_CORE_REG(sp_el1), KL_CODE_SLOT_SIZE);
	kl_set_reg(vcpu, KL_CORE_REG(regs.regs[0]), args->addr);
	kl_set_reg(vcpu, KL_CORE_REG(regs.regs[1]), args->count);
	kl_set_reg(vcpu, KL_CORE_REG(regs.regs[2]), args->stride);
	kl_set_reg(vcpu, KL_CORE_REG(regs.regs[3]), args->val);
	kl_set_reg(vcpu, KL_CORE_REG(regs.regs[9]), KL_MMIO_GPA);
}

bool kl_arch_handle_exit(struct kl_vcpu *vcpu, bool *done)
{
	struct kvm_run *run = vcpu->run;
	uint32_t val = 0;

	if (run->exit_reason != KVM_EXIT_MMIO || !run->mmio.is_write)
		return false;
	switch (run->mmio.phys_addr) {
	case KL_MMIO_DONE:
		*done = true;
		return true;
	case KL_MMIO_REPORT:
		memcpy(&val, run->mmio.data,
		       run->mmio.len <= 4 ? run->mmio.len : 4);
		vcpu->last_report = val;
		vcpu->nr_reports++;
		*done = false;
		return true;
	}
	return false;
}

void kl_arch_dump_vcpu(struct kl_vcpu *vcpu)
{
	uint64_t pc = 0, pstate = 0, x[5] = { 0 };
	int i;

	kl_get_reg(vcpu, KL_CORE_REG(regs.pc), &pc);
	kl_get_reg(vcpu, KL_CORE_REG(regs.pstate), &pstate);
	for (i = 0; i < 5; i++)
		kl_get_reg(vcpu, KL_CORE_REG(regs.regs[i]), &x[i]);
	tap_diag("  pc %#" PRIx64 " pstate %#" PRIx64 " x0 %#" PRIx64
		 " x1 %#" PRIx64 " x2 %#" PRIx64 " x3 %#" PRIx64 " x4 %#"
		 PRIx64, pc, pstate, x[0], x[1], x[2], x[3], x[4]);
}

/* arm64: pre-faults work except in protected mode (pKVM owns stage 2). */
int kl_prefault_cap_expected(char *why, size_t len)
{
	bool prot = kl_kvm_protected();

	snprintf(why, len, "kvm-arm.mode=protected %s the command line",
		 prot ? "on" : "not on");
	return !prot;
}

/* ---- stage-2 faults, estimated from exits ---- */

/* Interrupts taken by all host CPUs so far (/proc/interrupts). */
static bool kl_host_irqs(uint64_t *total)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	int ncpu = 0;
	uint64_t sum = 0;
	char *p;

	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return false;
	}
	for (p = line; (p = strstr(p, "CPU")); p += 3)
		ncpu++;
	while (fgets(line, sizeof(line), f)) {
		int i;

		p = strchr(line, ':');
		if (!p)
			continue;
		p++;
		for (i = 0; i < ncpu; i++) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
	}
	fclose(f);
	*total = sum;
	return ncpu > 0;
}

static const char *const kl_exit_stats[] = {
	"exits", "mmio_exit_user", "mmio_exit_kernel",
};

bool kl_faults_available(struct kl_vm *vm)
{
	uint64_t irqs;
	unsigned int i;

	for (i = 0; i < TAP_ARRAY_SIZE(kl_exit_stats); i++)
		if (!kl_stat_available(vm, kl_exit_stats[i]))
			return false;
	return kl_host_irqs(&irqs);
}

void kl_faults_begin(struct kl_vm *vm, struct kl_faults *f)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	/* Interrupts first, so that their window covers the exits'. */
	kl_host_irqs(&f->v[3]);
	for (i = 0; i < TAP_ARRAY_SIZE(kl_exit_stats); i++)
		f->v[i] = kl_stat(vm, kl_exit_stats[i]);
}

struct kl_fault_range kl_faults_end(struct kl_vm *vm,
				    const struct kl_faults *f)
{
	uint64_t irqs = 0, d[3];
	struct kl_fault_range r;
	unsigned int i;

	for (i = 0; i < TAP_ARRAY_SIZE(kl_exit_stats); i++)
		d[i] = kl_stat(vm, kl_exit_stats[i]) - f->v[i];
	/* Interrupts last, so that their window covers the exits'. */
	kl_host_irqs(&irqs);
	irqs -= f->v[3];
	r.hi = d[0] - d[1] - d[2];
	r.lo = r.hi > irqs ? r.hi - irqs : 0;
	return r;
}

const char *kl_faults_what(void)
{
	return "vCPU exits less MMIO exits (less host interrupts: low bound)";
}
