// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-prefault arm64 on the 6.12 line: the functions of arm64_line.h against
 * 6.12's KVM, which has the dirty ring, nested virtualization (a vCPU may
 * run on a shadow stage 2) and signed stage-2 levels (LPA2).
 */
#include <linux/kvm_host.h>

#include <asm/kvm_mmu.h>
#include <asm/kvm_pgtable.h>

#include "kvm_prefault.h"
#include "arm64_line.h"

/*
 * 6.12 arm64 has the dirty ring.  A page user_mem_abort() makes writable
 * in a dirty-logged slot goes to the ring of the running vCPU, which the
 * range loop watches for its soft limit, and mark_page_dirty_in_slot()
 * WARNs on any writable mapping made with no running vCPU.  So the vCPU
 * is loaded for the range, as upstream's generic loop does.
 *
 * A vCPU that never ran has MDCR_EL2 = 0 until the first KVM_RUN computes
 * it (kvm_arch_vcpu_run_pid_change()), and a VHE load writes it to the
 * CPU; VMMs pre-fault before that.  Compute it first, as KVM_RUN would:
 * KVM_RUN computes it again on its first call.
 *
 * Protected mode is refused page by page (arm64.c): load nothing there.
 */
void kvm_prefault_arch_begin(struct kvm_vcpu *vcpu)
{
	lockdep_assert_held(&vcpu->mutex);

	if (is_protected_kvm_enabled())
		return;

	if (!vcpu_has_run_once(vcpu))
		kvm_arm_vcpu_init_debug(vcpu);
	vcpu_load(vcpu);
}

void kvm_prefault_arch_end(struct kvm_vcpu *vcpu)
{
	if (is_protected_kvm_enabled())
		return;

	vcpu_put(vcpu);
}

u64 kvm_prefault_arm64_ipa_size(struct kvm *kvm)
{
	return kvm_phys_size(&kvm->arch.mmu);
}

/*
 * A vCPU in a nested guest runs on a shadow stage 2, which maps the L2
 * guest's IPA space and not the VM's: refuse, as x86 does for a vCPU in
 * guest mode on shadow tables.  The loaded vCPU's hw_mmu is fixed while
 * we hold vcpu->mutex.
 */
int kvm_prefault_arm64_check(struct kvm_vcpu *vcpu)
{
	if (kvm_is_nested_s2_mmu(vcpu->kvm, vcpu->arch.hw_mmu))
		return -EOPNOTSUPP;

	return 0;
}

void kvm_prefault_arm64_get_leaf(struct kvm_vcpu *vcpu, gpa_t gpa,
				 kvm_pte_t *pte, int *level)
{
	s8 l = 0;

	lockdep_assert_held(&vcpu->kvm->mmu_lock);

	if (kvm_pgtable_get_leaf(vcpu->arch.hw_mmu->pgt, gpa, pte, &l))
		*pte = 0;
	*level = l;
}

/* Not a nested guest's abort: there is no L2 translation to honour. */
int kvm_prefault_arm64_abort(struct kvm_vcpu *vcpu, gpa_t gpa,
			     struct kvm_memory_slot *slot, unsigned long hva,
			     bool perm)
{
	return user_mem_abort(vcpu, gpa, NULL, slot, hva, perm);
}
