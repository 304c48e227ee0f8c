/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-prefault: the interface between KVM's own code (the thin hooks in our
 * patch series) and the logic in virt/kvm/kvm_prefault/.
 *
 * Generic code: prefault.c (the KVM_PRE_FAULT_MEMORY range loop),
 * memslot.c (KVM_SET_USER_MEMORY_REGION2) and caps.c (KVM_CHECK_EXTENSION);
 * a kernel line that has the last two upstream (6.12) does not build them.
 * Each architecture provides the kvm_prefault_arch_*() backend below:
 * x86.c (with x86-<line>.c, see x86_line.h), arm64.c (with arm64-<line>.c,
 * see arm64_line.h; each line declares its user_mem_abort(), the stage-2
 * abort handler our series makes callable, where its arguments are known).
 */
#ifndef __KVM_PREFAULT_H
#define __KVM_PREFAULT_H

#include <linux/kvm_host.h>
#include <linux/kvm_prefault.h>

#include "version.h"

/* Generic entry points, called from virt/kvm/kvm_main.c. */
long kvm_prefault_vcpu_ioctl(struct kvm_vcpu *vcpu, void __user *argp);
int kvm_prefault_check_extension(struct kvm *kvm, long cap);
int kvm_prefault_user_memory_region2(void __user *argp,
				     struct kvm_userspace_memory_region *mem);

/*
 * Architecture backend.
 *
 * kvm_prefault_arch_begin() and kvm_prefault_arch_end() bracket a range:
 * they set up (and undo) what kvm_prefault_arch_map() needs of the vCPU,
 * e.g. loading it on the CPU (x86), and nothing more.
 *
 * kvm_prefault_arch_map() maps the page at @gpa as a stage-2 read fault of
 * @vcpu would (a write fault with KVM_PRE_FAULT_MEMORY_WRITE in @flags),
 * between kvm_prefault_arch_begin() and kvm_prefault_arch_end() and with
 * kvm->srcu held (taken per page, so memslot updates need not wait for the
 * whole range).  It returns how many bytes from @gpa (at most @size) are
 * now mapped: a huge mapping counts up to its end.  Otherwise it returns a
 * negative errno and maps nothing.
 */
void kvm_prefault_arch_begin(struct kvm_vcpu *vcpu);
void kvm_prefault_arch_end(struct kvm_vcpu *vcpu);
long kvm_prefault_arch_map(struct kvm_vcpu *vcpu, gpa_t gpa, u64 size,
			   u64 flags);

#ifdef CONFIG_X86
/*
 * x86, 6.1 line: the lockless walk of the vCPU's current root that mmu.c
 * uses to find MMIO SPTEs, which our series makes callable; x86-6.1.c
 * reads the leaf that maps a gpa with it.  (6.12's series declares its
 * walk, get_sptes_lockless(), in mmu_internal.h.)
 */
void walk_shadow_page_lockless_begin(struct kvm_vcpu *vcpu);
void walk_shadow_page_lockless_end(struct kvm_vcpu *vcpu);
int get_walk(struct kvm_vcpu *vcpu, u64 addr, u64 *sptes, int *root_level);
#endif

/* The KVM_CAP_PRE_FAULT_MEMORY value: whether the ioctl can work at all. */
int kvm_prefault_arch_supported(struct kvm *kvm);

/* Whether KVM_RUN fills memory_fault on this architecture's fault paths. */
int kvm_prefault_arch_memory_fault_info(void);

/*
 * Describe a guest page that KVM could not resolve to userspace.  The caller
 * then fails KVM_RUN with -EFAULT (or -EHWPOISON); the data is meaningful to
 * userspace only together with that error.
 */
static inline void kvm_prefault_memory_fault_exit(struct kvm_vcpu *vcpu,
						  gpa_t gpa, u64 size,
						  u64 flags)
{
	struct kvm_memory_fault_info *info = kvm_run_memory_fault(vcpu->run);

	vcpu->run->exit_reason = KVM_EXIT_MEMORY_FAULT;
	info->flags = flags;
	info->gpa = gpa;
	info->size = size;
}

/*
 * At the start of KVM_RUN: never let userspace read a memory-fault exit
 * left over from an earlier call.  Other values stay as they are: existing
 * VMMs (and the 6.1 KVM selftests) read exit_reason after KVM_RUN calls
 * that do not set it.
 */
static inline void kvm_prefault_run_begin(struct kvm_vcpu *vcpu)
{
	if (vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT)
		vcpu->run->exit_reason = KVM_EXIT_UNKNOWN;
}

#endif /* __KVM_PREFAULT_H */
