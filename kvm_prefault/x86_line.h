/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-prefault x86: what differs between kernel lines.  x86.c holds the
 * logic; each line's series builds exactly one x86-<line>.c that
 * implements the functions below against that line's MMU.
 */
#ifndef __KVM_PREFAULT_X86_LINE_H
#define __KVM_PREFAULT_X86_LINE_H

#include <linux/kvm_host.h>

/* What one fault on a gpa came to, whatever the line's RET_PF_* are. */
enum kvm_prefault_x86_result {
	/* Mapped now, or already mapped (e.g. by another vCPU). */
	KVM_PREFAULT_X86_MAPPED,
	/* An MMU notifier invalidation was in progress: fault again. */
	KVM_PREFAULT_X86_RETRY,
	/* No memslot: a guest access would be emulated MMIO. */
	KVM_PREFAULT_X86_NO_SLOT,
	/* A write that KVM emulates (write-tracked page): fault it as a read. */
	KVM_PREFAULT_X86_WRITE_TRACKED,
};

/*
 * Whether this VM may be pre-faulted at all (a confidential VM may not
 * before its memory is finalized).
 */
bool kvm_prefault_x86_allowed(struct kvm_vcpu *vcpu);

/*
 * One fault on @gpa through KVM's TDP fault handler, with the vCPU loaded,
 * its root valid and kvm->srcu held: a read, or a write when @write.  Not
 * a guest access (no Accessed bit where A/D bits exist, no async #PF, no
 * pf_taken), and hardware poison is -EHWPOISON without a signal.  Returns
 * an enum kvm_prefault_x86_result, and in @level the size of the mapping
 * made, or a negative errno.
 */
int kvm_prefault_x86_fault(struct kvm_vcpu *vcpu, gpa_t gpa, bool write,
			   u8 *level);

/*
 * Walk the vCPU's current root for @gpa without the MMU lock, as KVM's
 * MMIO-SPTE check does: fills @sptes (PT64_ROOT_MAX_LEVEL + 1 entries)
 * indexed by level and returns the level of the last SPTE read, or a
 * value below PG_LEVEL_4K when there is no root.
 */
int kvm_prefault_x86_walk(struct kvm_vcpu *vcpu, gpa_t gpa, u64 *sptes);

#endif /* __KVM_PREFAULT_X86_LINE_H */
