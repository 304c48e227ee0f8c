/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-prefault arm64: what differs between kernel lines.  arm64.c holds the
 * logic; each line's series builds exactly one arm64-<line>.c that
 * implements the functions below against that line's KVM.
 *
 * arm64-<line>.c also provides kvm_prefault_arch_begin() and
 * kvm_prefault_arch_end() of kvm_prefault.h: whether a pre-fault needs the
 * vCPU loaded depends on the line's stage-2 fault path.
 */
#ifndef __KVM_PREFAULT_ARM64_LINE_H
#define __KVM_PREFAULT_ARM64_LINE_H

#include <linux/kvm_host.h>

#include <asm/kvm_pgtable.h>

/* The size of the VM's IPA space: nothing at or above it can be mapped. */
u64 kvm_prefault_arm64_ipa_size(struct kvm *kvm);

/*
 * Whether the stage 2 the vCPU uses now is the VM's own, which a pre-fault
 * populates: 0, or a negative errno.  Called between
 * kvm_prefault_arch_begin() and kvm_prefault_arch_end().
 */
int kvm_prefault_arm64_check(struct kvm_vcpu *vcpu);

/*
 * Walk the vCPU's stage 2 for @gpa, with kvm->mmu_lock held: the
 * descriptor where the walk stopped in @pte (0 when the walk failed) and
 * its level in @level, whatever type the line's walker uses for levels.
 */
void kvm_prefault_arm64_get_leaf(struct kvm_vcpu *vcpu, gpa_t gpa,
				 kvm_pte_t *pte, int *level);

/*
 * Hand the data abort that arm64.c has put in vcpu->arch.fault to the
 * line's user_mem_abort(): a permission fault on the existing leaf if
 * @perm, else a translation fault.  Returns what user_mem_abort() returns.
 */
int kvm_prefault_arm64_abort(struct kvm_vcpu *vcpu, gpa_t gpa,
			     struct kvm_memory_slot *slot, unsigned long hva,
			     bool perm);

#endif /* __KVM_PREFAULT_ARM64_LINE_H */
