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
 * include path.
 */
#include <linux/kvm_host.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "mmu.h"
#include "mmu/mmu_internal.h"
#include "mmu/spte.h"
#include "mmu/tdp_mmu.h"

#include "kvm_prefault.h"

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
 * The leaf SPTE that maps @gpa in the current root, and its level, read
 * locklessly as the MMIO-SPTE check in mmu.c does.  Returns 0 (never a
 * present SPTE) when the walk stops at a missing table.
 */
static u64 kvm_prefault_x86_leaf(struct kvm_vcpu *vcpu, gpa_t gpa, int *level)
{
	u64 sptes[PT64_ROOT_MAX_LEVEL + 1];
	int root_level;
	int leaf;

	walk_shadow_page_lockless_begin(vcpu);
	if (is_tdp_mmu(vcpu->arch.mmu))
		leaf = kvm_tdp_mmu_get_walk(vcpu, gpa, sptes, &root_level);
	else
		leaf = get_walk(vcpu, gpa, sptes, &root_level);
	walk_shadow_page_lockless_end(vcpu);

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

/*
 * One attempt at a fault on @gpa.  Returns a RET_PF_* value or a negative
 * errno, and in @level the page size the mapping was made with.
 */
static int kvm_prefault_x86_fault(struct kvm_vcpu *vcpu, gpa_t gpa,
				  bool write, u8 *level)
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
	if (r == RET_PF_FIXED)
		vcpu->stat.pf_fixed++;

	*level = fault.goal_level;
	return r;
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

		/*
		 * KVM emulates every write to a write-tracked page (one that
		 * shadows guest page tables, or KVMGT's): map it for reads,
		 * as the guest would find it, instead of failing the range.
		 * The next pass finds a read mapping that exists as done.
		 */
		if (r == RET_PF_EMULATE && write) {
			flags &= ~KVM_PRE_FAULT_MEMORY_WRITE;
			continue;
		}
		if (r != RET_PF_RETRY)
			break;

		cond_resched();
	}

	if (r < 0)
		return r;

	switch (r) {
	case RET_PF_FIXED:
	case RET_PF_SPURIOUS:
		return 0;
	case RET_PF_EMULATE:
		/* No memslot: the guest access would be emulated MMIO. */
		return -ENOENT;
	default:
		WARN_ONCE(1, "kvm_prefault: unexpected page fault result %d\n",
			  r);
		return -EIO;
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

	r = kvm_prefault_x86_map_page(vcpu, gpa, flags, &level);
	if (r)
		return r;

	/* A huge mapping covers the rest of its huge page. */
	end = (gpa & KVM_HPAGE_MASK(level)) + KVM_HPAGE_SIZE(level);
	return min(size, end - gpa);
}
