// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-prefault x86 on the 6.1 line: the functions of x86_line.h against
 * 6.1's MMU, where the TDP fault handler takes a kvm_page_fault that its
 * caller fills, and the root walk is the one our series makes callable.
 */
#include <linux/kvm_host.h>

#include "mmu.h"
#include "mmu/mmu_internal.h"
#include "mmu/spte.h"
#include "mmu/tdp_mmu.h"

#include "kvm_prefault.h"
#include "x86_line.h"

bool kvm_prefault_x86_allowed(struct kvm_vcpu *vcpu)
{
	return true;
}

int kvm_prefault_x86_walk(struct kvm_vcpu *vcpu, gpa_t gpa, u64 *sptes)
{
	int root_level;
	int leaf;

	walk_shadow_page_lockless_begin(vcpu);
	if (is_tdp_mmu(vcpu->arch.mmu))
		leaf = kvm_tdp_mmu_get_walk(vcpu, gpa, sptes, &root_level);
	else
		leaf = get_walk(vcpu, gpa, sptes, &root_level);
	walk_shadow_page_lockless_end(vcpu);

	return leaf;
}

int kvm_prefault_x86_fault(struct kvm_vcpu *vcpu, gpa_t gpa, bool write,
			   u8 *level)
{
	struct kvm_page_fault fault = {
		.addr = gpa,
		/*
		 * A read of a not-present page never breaks copy-on-write;
		 * a write populates the host page writable, as the guest's
		 * first write would.
		 */
		.error_code = write ? PFERR_WRITE_MASK : 0,
		.write = write,
		/*
		 * Not a guest access: no Accessed bit, no async #PF, and
		 * pf_taken keeps counting only what the guest took.
		 */
		.prefetch = true,
		/* Poison is an error for the ioctl, not a SIGBUS. */
		.pre_fault_ioctl = true,
		.is_tdp = true,
		.nx_huge_page_workaround_enabled =
			is_nx_huge_page_enabled(vcpu->kvm),
		.max_level = KVM_MAX_HUGEPAGE_LEVEL,
		.req_level = PG_LEVEL_4K,
		.goal_level = PG_LEVEL_4K,
	};
	int r;

	r = kvm_tdp_page_fault(vcpu, &fault);
	*level = fault.goal_level;

	switch (r) {
	case RET_PF_FIXED:
		vcpu->stat.pf_fixed++;
		return KVM_PREFAULT_X86_MAPPED;
	case RET_PF_SPURIOUS:
		return KVM_PREFAULT_X86_MAPPED;
	case RET_PF_RETRY:
		return KVM_PREFAULT_X86_RETRY;
	case RET_PF_EMULATE:
		/*
		 * With a memslot, 6.1 emulates a write only to a
		 * write-tracked page; without one, every access.
		 */
		return write ? KVM_PREFAULT_X86_WRITE_TRACKED :
			       KVM_PREFAULT_X86_NO_SLOT;
	default:
		if (r < 0)
			return r;
		WARN_ONCE(1, "kvm_prefault: unexpected page fault result %d\n",
			  r);
		return -EIO;
	}
}
