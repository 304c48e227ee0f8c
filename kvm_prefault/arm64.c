// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY, arm64 backend.
 *
 * A pre-fault is a stage-2 data abort that the guest did not take: we build
 * the syndrome a read (or, with KVM_PRE_FAULT_MEMORY_WRITE, a write)
 * translation fault on the page would carry and hand it to user_mem_abort(),
 * the handler every real guest abort goes through.  The mappings are thus
 * exactly those a guest fault would create: same block sizes, same dirty
 * logging and MMU-notifier rules, same memory cache.
 *
 * What differs between kernel lines (user_mem_abort()'s arguments, the
 * walker's level type, whether the vCPU is loaded, nested guests) is in
 * arm64-<line>.c, behind arm64_line.h.
 */
#include <linux/kvm_host.h>
#include <linux/sched/signal.h>

#include <asm/esr.h>
#include <asm/kvm_emulate.h>
#include <asm/kvm_mmu.h>
#include <asm/kvm_pgtable.h>

#include "kvm_prefault.h"
#include "arm64_line.h"

/* Access flag of a stage-2 leaf descriptor (Arm ARM, lower attributes). */
#define KVM_PREFAULT_S2_AF	BIT(10)

/*
 * A write abort on a read-only leaf can end with the leaf still read-only:
 * breaking copy-on-write on the host (e.g. of the zero page a read
 * pre-fault mapped) makes the MMU notifier remap the new page read-only
 * and user_mem_abort() back off; the next abort then makes it writable.
 * Past this many aborts a valid leaf counts as done anyway, so that a page
 * the host keeps read-only cannot hold the ioctl in a loop.
 */
#define KVM_PREFAULT_WRITE_ABORTS	4

struct kvm_prefault_leaf {
	kvm_pte_t pte;
	int level;
};

static void kvm_prefault_get_leaf(struct kvm_vcpu *vcpu, gpa_t gpa,
				  struct kvm_prefault_leaf *leaf)
{
	struct kvm *kvm = vcpu->kvm;

	read_lock(&kvm->mmu_lock);
	kvm_prefault_arm64_get_leaf(vcpu, gpa, &leaf->pte, &leaf->level);
	read_unlock(&kvm->mmu_lock);
}

/* Bytes from @gpa to the end of the mapping that @leaf describes. */
static u64 kvm_prefault_leaf_extent(const struct kvm_prefault_leaf *leaf,
				    gpa_t gpa, u64 size)
{
	u64 granule = kvm_granule_size(leaf->level);

	return min(ALIGN_DOWN(gpa, granule) + granule - gpa, size);
}

/*
 * A mapping that exists counts as done, like a guest access that finds it;
 * what a guest access would still change, the access flag, we set here.
 */
static void kvm_prefault_mkyoung(struct kvm_vcpu *vcpu, gpa_t gpa,
				 const struct kvm_prefault_leaf *leaf)
{
	struct kvm *kvm = vcpu->kvm;

	if (leaf->pte & KVM_PREFAULT_S2_AF)
		return;

	write_lock(&kvm->mmu_lock);
	kvm_pgtable_stage2_mkyoung(vcpu->arch.hw_mmu->pgt, gpa);
	write_unlock(&kvm->mmu_lock);
}

/*
 * Run user_mem_abort() on a data abort made up for @gpa: a translation
 * fault at the level where the walk stopped, or a permission fault on the
 * existing leaf when a write has to upgrade a read-only mapping.
 */
static int kvm_prefault_abort(struct kvm_vcpu *vcpu, gpa_t gpa,
			      struct kvm_memory_slot *slot, unsigned long hva,
			      const struct kvm_prefault_leaf *leaf, bool write)
{
	bool perm = kvm_pte_valid(leaf->pte);
	unsigned long fsc = perm ? ESR_ELx_FSC_PERM : ESR_ELx_FSC_FAULT;
	struct kvm_vcpu_fault_info saved = vcpu->arch.fault;
	int r;

	/* The vCPU's memory cache and fault state are ours while we hold it. */
	lockdep_assert_held(&vcpu->mutex);

	/*
	 * The vCPU may sit in an MMIO exit whose completion decodes this
	 * very syndrome (kvm_handle_mmio_return()): put it back afterwards.
	 */
	vcpu->arch.fault.esr_el2 = (ESR_ELx_EC_DABT_LOW << ESR_ELx_EC_SHIFT) |
				   ESR_ELx_IL | (write ? ESR_ELx_WNR : 0) |
				   fsc | (leaf->level & ESR_ELx_FSC_LEVEL);
	vcpu->arch.fault.far_el2 = gpa;
	vcpu->arch.fault.hpfar_el2 = (gpa >> 8) & HPFAR_MASK;

	/* Poison must come back as an error, not as SIGBUS to the caller. */
	vcpu_set_flag(vcpu, IN_PREFAULT);
	r = kvm_prefault_arm64_abort(vcpu, gpa, slot, hva, perm);
	vcpu_clear_flag(vcpu, IN_PREFAULT);

	vcpu->arch.fault = saved;
	return r;
}

long kvm_prefault_arch_map(struct kvm_vcpu *vcpu, gpa_t gpa, u64 size,
			   u64 flags)
{
	struct kvm *kvm = vcpu->kvm;
	gfn_t gfn = gpa_to_gfn(gpa);
	struct kvm_prefault_leaf leaf;
	struct kvm_memory_slot *slot;
	int aborts = 0;
	unsigned long hva;
	bool writable;
	bool write;
	int r;

	/* The host does not own a protected VM's stage-2. */
	if (is_protected_kvm_enabled())
		return -EOPNOTSUPP;

	r = kvm_prefault_arm64_check(vcpu);
	if (r)
		return r;

	if (gpa >= kvm_prefault_arm64_ipa_size(kvm))
		return -ENOENT;

	slot = gfn_to_memslot(kvm, gfn);
	if (!slot)
		return -ENOENT;
	/* Being deleted or moved: the caller retries once the update is done. */
	if (slot->flags & KVM_MEMSLOT_INVALID)
		return -EAGAIN;

	hva = gfn_to_hva_memslot_prot(slot, gfn, &writable);
	if (kvm_is_error_hva(hva))
		return -ENOENT;

	/* A read-only memslot is mapped for reads, as on x86: no error. */
	write = (flags & KVM_PRE_FAULT_MEMORY_WRITE) && writable;

	for (;;) {
		kvm_prefault_get_leaf(vcpu, gpa, &leaf);
		/* Done once mapped, and writable if a write was asked for. */
		if (kvm_pte_valid(leaf.pte) &&
		    (!write || aborts >= KVM_PREFAULT_WRITE_ABORTS ||
		     (kvm_pgtable_stage2_pte_prot(leaf.pte) & KVM_PGTABLE_PROT_W))) {
			kvm_prefault_mkyoung(vcpu, gpa, &leaf);
			return kvm_prefault_leaf_extent(&leaf, gpa, size);
		}

		if (signal_pending(current))
			return -EINTR;

		r = kvm_prefault_abort(vcpu, gpa, slot, hva, &leaf, write);
		if (r < 0)
			return r;
		/*
		 * 0 also means "raced with an MMU notifier, nothing mapped":
		 * look again, and abort again if needed.
		 */
		aborts++;
		cond_resched();
	}
}

int kvm_prefault_arch_supported(struct kvm *kvm)
{
	return !is_protected_kvm_enabled();
}

int kvm_prefault_arch_memory_fault_info(void)
{
	return 1;
}
