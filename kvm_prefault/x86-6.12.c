// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-prefault x86 on the 6.12 line: the functions of x86_line.h against
 * 6.12's MMU.  A fault goes through kvm_mmu_do_page_fault(), which derives
 * the fault from the error code and fills in its gfn and memslot (a
 * kvm_page_fault built here would have neither); our series adds the
 * synthetic error-code bit that marks it as KVM_PRE_FAULT_MEMORY's.
 */
#include <linux/kvm_host.h>

#include "mmu.h"
#include "mmu/mmu_internal.h"

#include "kvm_prefault.h"
#include "x86_line.h"

/*
 * Not before a confidential VM's initial memory is finalized (SEV-SNP):
 * its private pages must be populated through the VM type's own ioctl.
 */
bool kvm_prefault_x86_allowed(struct kvm_vcpu *vcpu)
{
	return vcpu->kvm->arch.pre_fault_allowed;
}

int kvm_prefault_x86_walk(struct kvm_vcpu *vcpu, gpa_t gpa, u64 *sptes)
{
	int root_level;

	return get_sptes_lockless(vcpu, gpa, sptes, &root_level);
}

int kvm_prefault_x86_fault(struct kvm_vcpu *vcpu, gpa_t gpa, bool write,
			   u8 *level)
{
	/*
	 * A read of a not-present page never breaks copy-on-write; a write
	 * populates the host page writable, as the guest's first write
	 * would.  The fault is a prefetch, not a guest access: no Accessed
	 * bit (where A/D bits exist), no async #PF, no pf_taken.
	 */
	u64 error_code = PFERR_GUEST_FINAL_MASK | PFERR_PRE_FAULT_IOCTL;
	int r;

	if (write)
		error_code |= PFERR_WRITE_MASK;

	/* The same view of the page as the guest has, shared or private. */
	if (kvm_arch_has_private_mem(vcpu->kvm) &&
	    kvm_mem_is_private(vcpu->kvm, gpa_to_gfn(gpa)))
		error_code |= PFERR_PRIVATE_ACCESS;

	r = kvm_mmu_do_page_fault(vcpu, gpa, error_code, true, NULL, level);

	switch (r) {
	case RET_PF_FIXED:
		vcpu->stat.pf_fixed++;
		return KVM_PREFAULT_X86_MAPPED;
	case RET_PF_SPURIOUS:
		return KVM_PREFAULT_X86_MAPPED;
	case RET_PF_RETRY:
		return KVM_PREFAULT_X86_RETRY;
	case RET_PF_EMULATE:
		/* 6.12 reports writes to write-tracked pages separately. */
		return KVM_PREFAULT_X86_NO_SLOT;
	case RET_PF_WRITE_PROTECTED:
		/*
		 * Only a write is write-protected: the page is write-tracked
		 * and maybe not mapped at all.
		 */
		return write ? KVM_PREFAULT_X86_WRITE_TRACKED :
			       KVM_PREFAULT_X86_MAPPED;
	default:
		if (r < 0)
			return r;
		WARN_ONCE(1, "kvm_prefault: unexpected page fault result %d\n",
			  r);
		return -EIO;
	}
}
