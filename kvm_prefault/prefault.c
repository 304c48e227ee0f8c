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
#include <linux/sched/signal.h>
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

/*
 * Every page made writable in a dirty-logged slot pushes one entry onto the
 * running vCPU's dirty ring, and KVM enforces the ring's soft limit only
 * before guest entry (KVM_EXIT_DIRTY_RING_FULL).  A pre-fault must stop at
 * that limit itself: past the hard limit kvm_dirty_ring_push() WARNs and
 * overwrites entries userspace has not harvested.  One page pushes at most
 * one entry (dirty logging maps 4 KiB pages only), so checking before each
 * page keeps the ring at or below its soft limit.
 */
static bool kvm_prefault_dirty_ring_full(struct kvm_vcpu *vcpu)
{
	return vcpu->kvm->dirty_ring_size &&
	       kvm_dirty_ring_soft_full(&vcpu->dirty_ring);
}

static long kvm_prefault_range(struct kvm_vcpu *vcpu,
			       struct kvm_pre_fault_memory *range)
{
	u64 requested = range->size;
	long r;

	lockdep_assert_held(&vcpu->mutex);

	r = kvm_prefault_check_range(range);
	if (r)
		return r;

	kvm_prefault_arch_begin(vcpu);

	do {
		/*
		 * A large range can take long: stay killable and let the
		 * caller handle its signals, keeping what is done so far.
		 */
		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}

		/* The caller harvests the ring and issues the rest again. */
		if (kvm_prefault_dirty_ring_full(vcpu)) {
			r = -EAGAIN;
			break;
		}

		/*
		 * kvm->srcu is held for one page at a time: a memslot update
		 * waits for every reader, and must not wait for the whole of
		 * a long range.
		 */
		kvm_vcpu_srcu_read_lock(vcpu);
		r = kvm_prefault_arch_map(vcpu, range->gpa, range->size,
					  range->flags);
		kvm_vcpu_srcu_read_unlock(vcpu);

		if (WARN_ON_ONCE(r == 0))
			r = -EIO;
		if (r < 0)
			break;

		range->gpa += r;
		range->size -= r;
		cond_resched();
	} while (range->size);

	kvm_prefault_arch_end(vcpu);

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
