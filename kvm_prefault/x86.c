// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY on x86: drive KVM's own two-dimensional paging fault
 * handler for one GPA, so that a pre-faulted mapping is exactly the one a
 * guest read (or, with KVM_PRE_FAULT_MEMORY_WRITE, a guest write) would have
 * created: same level, same memtype, same notifier/retry protocol, same
 * dirty logging, minus what only a real guest access does: the Accessed
 * bit, async page faults and the pf_taken statistic.
 *
 * Built into kvm.ko from virt/kvm/kvm_prefault/, with arch/x86/kvm on the
 * include path.  What differs between kernel lines (how a fault is made,
 * how the current root is walked) is in x86-<line>.c, behind x86_line.h.
 */
#include <linux/kvm_host.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "mmu.h"
#include "mmu/mmu_internal.h"
#include "mmu/spte.h"

#include "kvm_prefault.h"
#include "x86_line.h"

int kvm_prefault_arch_supported(struct kvm *kvm)
{
	/* Shadow paging indexes its tables by GVA: there is no GPA to map. */
	return tdp_enabled;
}

int kvm_prefault_arch_memory_fault_info(void)
{
	return 1;
}

/*
 * The TDP fault handler runs with the vCPU loaded: loading a root writes
 * the VMCS/VMCB, and a page made writable in a dirty-logged slot goes to
 * the dirty ring of the running vCPU, which the range loop watches.
 */
void kvm_prefault_arch_begin(struct kvm_vcpu *vcpu)
{
	vcpu_load(vcpu);
}

void kvm_prefault_arch_end(struct kvm_vcpu *vcpu)
{
	vcpu_put(vcpu);
}

/*
 * Whether the vCPU's current root can map @gpa at all.  The TDP iterator
 * indexes each level with the gfn's bits for that level and ignores the
 * bits above the root's reach: a gpa at 2^48 + X under a 4-level root
 * would land on X.  Beyond the host's MAXPHYADDR no SPTE may be made
 * either; a guest access there never reaches KVM on bare metal.
 */
static bool kvm_prefault_x86_gpa_reachable(struct kvm_vcpu *vcpu, gpa_t gpa)
{
	int root_level = vcpu->arch.mmu->root_role.level;

	if (gpa >> KVM_HPAGE_SHIFT(root_level + 1))
		return false;

	return gpa_to_gfn(gpa) <= kvm_mmu_max_gfn();
}

/*
 * The leaf SPTE that maps @gpa in the current root, and its level.
 * Returns 0 (never a present SPTE) when the walk stops at a missing table.
 */
static u64 kvm_prefault_x86_leaf(struct kvm_vcpu *vcpu, gpa_t gpa, int *level)
{
	u64 sptes[PT64_ROOT_MAX_LEVEL + 1];
	int leaf;

	leaf = kvm_prefault_x86_walk(vcpu, gpa, sptes);
	if (leaf < PG_LEVEL_4K)
		return 0;

	*level = leaf;
	return sptes[leaf];
}

/*
 * A leaf that already gives what was asked for is left alone, as a guest
 * access that finds it would: rewriting it through make_spte() would
 * clear its Accessed/Dirty bits without a flush, mark the page dirty
 * again (one more dirty-ring entry) and, under dirty logging, split a
 * huge leaf down to 4 KiB.  A read-only leaf still takes a write fault
 * for write intent.
 */
static bool kvm_prefault_x86_done(struct kvm_vcpu *vcpu, gpa_t gpa,
				  bool write, u8 *level)
{
	int leaf_level = PG_LEVEL_4K;
	u64 spte = kvm_prefault_x86_leaf(vcpu, gpa, &leaf_level);

	if (!is_shadow_present_pte(spte) || !is_last_spte(spte, leaf_level))
		return false;
	/*
	 * Without A/D bits, aging takes all permissions away from a leaf
	 * (access tracking): the guest's next touch would fault, so it is
	 * not done; the fault path restores it.
	 */
	if (is_access_track_spte(spte))
		return false;
	if (write && !is_writable_pte(spte))
		return false;

	*level = leaf_level;
	return true;
}

static int kvm_prefault_x86_map_page(struct kvm_vcpu *vcpu, gpa_t gpa,
				     u64 flags, u8 *level)
{
	struct kvm_memory_slot *slot;
	bool write;
	int r;

	for (;;) {
		if (signal_pending(current))
			return -EINTR;

		/* Leave the request set: KVM_RUN reports it too. */
		if (kvm_test_request(KVM_REQ_VM_DEAD, vcpu))
			return -EIO;

		/*
		 * A memslot update waits for our SRCU read side with the slot
		 * marked invalid, and the fault handler retries on such a
		 * slot forever: let the caller drop SRCU and come back.
		 */
		slot = kvm_vcpu_gfn_to_memslot(vcpu, gpa_to_gfn(gpa));
		if (slot && (slot->flags & KVM_MEMSLOT_INVALID))
			return -EAGAIN;

		/*
		 * Guest writes to a read-only memslot are MMIO exits, never
		 * mappings: write intent maps it for reads, like the guest's
		 * own reads, instead of failing the whole range.
		 */
		write = (flags & KVM_PRE_FAULT_MEMORY_WRITE) && slot &&
			!(slot->flags & KVM_MEM_READONLY);

		/*
		 * An obsolete root makes every fault stale until it is freed,
		 * which vcpu_enter_guest() would do: do it here, since the
		 * vCPU may not have run yet, then (re)load a root.
		 */
		if (kvm_check_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu))
			kvm_mmu_free_obsolete_roots(vcpu);

		r = kvm_mmu_reload(vcpu);
		if (r)
			return r;

		if (!VALID_PAGE(vcpu->arch.mmu->root.hpa))
			return -EIO;

		/* Nothing the guest could reach: as if there were no memslot. */
		if (!kvm_prefault_x86_gpa_reachable(vcpu, gpa))
			return -ENOENT;

		if (kvm_prefault_x86_done(vcpu, gpa, write, level))
			return 0;

		r = kvm_prefault_x86_fault(vcpu, gpa, write, level);
		switch (r) {
		case KVM_PREFAULT_X86_MAPPED:
			return 0;
		case KVM_PREFAULT_X86_NO_SLOT:
			/* The guest access would be emulated MMIO. */
			return -ENOENT;
		case KVM_PREFAULT_X86_WRITE_TRACKED:
			/*
			 * KVM emulates every write to a write-tracked page
			 * (one that shadows guest page tables, or KVMGT's):
			 * map it for reads, as the guest would find it,
			 * instead of failing the range.  The next pass finds
			 * a read mapping that exists as done.
			 */
			if (WARN_ON_ONCE(!write))
				return -EIO;
			flags &= ~KVM_PRE_FAULT_MEMORY_WRITE;
			break;
		case KVM_PREFAULT_X86_RETRY:
			/* An MMU notifier invalidation is in progress. */
			cond_resched();
			break;
		default:
			return r;
		}
	}
}

long kvm_prefault_arch_map(struct kvm_vcpu *vcpu, gpa_t gpa, u64 size,
			   u64 flags)
{
	u8 level = PG_LEVEL_4K;
	u64 end;
	int r;

	lockdep_assert_held(&vcpu->mutex);

	/*
	 * Only the TDP fault handler is indexed by GPA.  In guest mode the
	 * vCPU's MMU is the nested one, whose faults are L2 addresses.
	 */
	if (!tdp_enabled || vcpu->arch.mmu->page_fault != kvm_tdp_page_fault)
		return -EOPNOTSUPP;

	/* E.g. a confidential VM whose memory is not finalized yet. */
	if (!kvm_prefault_x86_allowed(vcpu))
		return -EOPNOTSUPP;

	r = kvm_prefault_x86_map_page(vcpu, gpa, flags, &level);
	if (r)
		return r;

	/* A huge mapping covers the rest of its huge page. */
	end = (gpa & KVM_HPAGE_MASK(level)) + KVM_HPAGE_SIZE(level);
	return min(size, end - gpa);
}
