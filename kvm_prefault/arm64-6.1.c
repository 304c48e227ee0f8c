// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-prefault arm64 on the 6.1 line: the functions of arm64_line.h against
 * 6.1's KVM, which has no dirty ring and no nested virtualization on arm64.
 */
#include <linux/kvm_host.h>

#include <asm/esr.h>
#include <asm/kvm_mmu.h>
#include <asm/kvm_pgtable.h>

#include "kvm_prefault.h"
#include "arm64_line.h"

/*
 * 6.1's stage-2 abort handler in arch/arm64/kvm/mmu.c, which our series
 * makes callable.  It is declared here rather than in a header that both
 * lines share: 6.12's takes other arguments and its series declares it in
 * asm/kvm_mmu.h.
 */
int user_mem_abort(struct kvm_vcpu *vcpu, phys_addr_t fault_ipa,
		   struct kvm_memory_slot *memslot, unsigned long hva,
		   unsigned long fault_status);

/*
 * Nothing of the loaded vCPU is needed: user_mem_abort() works on the VM's
 * stage 2 and the vCPU's memory cache, and 6.1 arm64 has no dirty ring
 * (whose entries go to the running vCPU).  Loading would also put the
 * registers of a vCPU that never ran on the CPU, MDCR_EL2 = 0 on VHE
 * among them: its debug state is set up only by the first KVM_RUN, and
 * VMMs pre-fault before that.
 */
void kvm_prefault_arch_begin(struct kvm_vcpu *vcpu)
{
}

void kvm_prefault_arch_end(struct kvm_vcpu *vcpu)
{
}

u64 kvm_prefault_arm64_ipa_size(struct kvm *kvm)
{
	return kvm_phys_size(kvm);
}

/* 6.1 arm64 has no nested virtualization: the stage 2 is always the VM's. */
int kvm_prefault_arm64_check(struct kvm_vcpu *vcpu)
{
	return 0;
}

void kvm_prefault_arm64_get_leaf(struct kvm_vcpu *vcpu, gpa_t gpa,
				 kvm_pte_t *pte, int *level)
{
	u32 l = 0;

	lockdep_assert_held(&vcpu->kvm->mmu_lock);

	if (kvm_pgtable_get_leaf(vcpu->arch.hw_mmu->pgt, gpa, pte, &l))
		*pte = 0;
	*level = l;
}

int kvm_prefault_arm64_abort(struct kvm_vcpu *vcpu, gpa_t gpa,
			     struct kvm_memory_slot *slot, unsigned long hva,
			     bool perm)
{
	return user_mem_abort(vcpu, gpa, slot, hva,
			      perm ? ESR_ELx_FSC_PERM : ESR_ELx_FSC_FAULT);
}
