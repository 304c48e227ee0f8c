// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY: the architecture-neutral range loop.
 *
 * The ioctl maps a GPA range into the stage-2 page tables before the guest
 * touches it.  Progress is reported in place: on return, gpa/size describe
 * what is left, so a caller that is interrupted (signal, memslot update)
 * simply issues the same struct again.
 */
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>

#include "kvm_prefault.h"

/* A kernel must reject what it does not implement: upstream has no flag. */
#define KVM_PREFAULT_VALID_FLAGS	KVM_PRE_FAULT_MEMORY_WRITE

static int kvm_prefault_check_range(const struct kvm_pre_fault_memory *range)
{
	if (range->flags & ~KVM_PREFAULT_VALID_FLAGS)
		return -EINVAL;

	if (!PAGE_ALIGNED(range->gpa) || !PAGE_ALIGNED(range->size))
		return -EINVAL;

	/* An empty range is an error too, like a range that wraps. */
	if (range->gpa + range->size <= range->gpa)
		return -EINVAL;

	return 0;
}

/* Host memory is populated for write intent this much at a time. */
#define KVM_PREFAULT_POPULATE_BYTES	SZ_2M

/*
 * Write intent: fault the host pages of [@gpa, up to the next 2 MiB
 * boundary or @end) in writable, in one call, the way
 * MADV_POPULATE_WRITE would.  The stage-2 faults that follow then find
 * every page present instead of each taking mmap_lock for its own slow
 * get_user_pages().  Returns where the populated chunk ends; failures are
 * left for the stage-2 fault to report on the page that has them.
 */
static gpa_t kvm_prefault_populate(struct kvm_vcpu *vcpu, gpa_t gpa, gpa_t end)
{
	struct kvm_memory_slot *slot;
	gfn_t gfn = gpa_to_gfn(gpa);
	gpa_t chunk_end;
	unsigned long npages;

	chunk_end = min(ALIGN(gpa + 1, KVM_PREFAULT_POPULATE_BYTES), end);
	slot = kvm_vcpu_gfn_to_memslot(vcpu, gfn);
	if (!slot || (slot->flags & (KVM_MEMSLOT_INVALID | KVM_MEM_READONLY)))
		return chunk_end;

	npages = min_t(u64, (chunk_end - gpa) >> PAGE_SHIFT,
		       slot->base_gfn + slot->npages - gfn);
	get_user_pages_unlocked(__gfn_to_hva_memslot(slot, gfn), npages,
				NULL, FOLL_WRITE);
	return gfn_to_gpa(gfn + npages);
}

static long kvm_prefault_range(struct kvm_vcpu *vcpu,
			       struct kvm_pre_fault_memory *range)
{
	u64 requested = range->size;
	gpa_t populated = 0;
	long r;

	lockdep_assert_held(&vcpu->mutex);

	r = kvm_prefault_check_range(range);
	if (r)
		return r;

	vcpu_load(vcpu);
	kvm_vcpu_srcu_read_lock(vcpu);

	do {
		/*
		 * A large range can take long: stay killable and let the
		 * caller handle its signals, keeping what is done so far.
		 */
		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}

		if ((range->flags & KVM_PRE_FAULT_MEMORY_WRITE) &&
		    range->gpa >= populated)
			populated = kvm_prefault_populate(vcpu, range->gpa,
						range->gpa + range->size);

		r = kvm_prefault_arch_map(vcpu, range->gpa, range->size,
					  range->flags);
		if (WARN_ON_ONCE(r == 0))
			r = -EIO;
		if (r < 0)
			break;

		range->gpa += r;
		range->size -= r;
		cond_resched();
	} while (range->size);

	kvm_vcpu_srcu_read_unlock(vcpu);
	vcpu_put(vcpu);

	/* Progress, however small, is success; the error comes on re-issue. */
	return range->size == requested ? r : 0;
}

long kvm_prefault_vcpu_ioctl(struct kvm_vcpu *vcpu, void __user *argp)
{
	struct kvm_pre_fault_memory range;
	long r;

	if (copy_from_user(&range, argp, sizeof(range)))
		return -EFAULT;

	r = kvm_prefault_range(vcpu, &range);

	/* Always hand back what is left, so that the caller can re-issue. */
	if (copy_to_user(argp, &range, sizeof(range)))
		return -EFAULT;

	return r;
}
