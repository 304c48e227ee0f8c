// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_SET_USER_MEMORY_REGION2 on a kernel without guest_memfd.
 *
 * Newer VMMs and upstream's selftest library use the extended struct
 * whenever KVM_CAP_USER_MEMORY2 is reported.  Without guest_memfd its extra
 * fields mean nothing, so the request is the old one in a bigger envelope;
 * asking for guest_memfd is an unknown flag here, hence -EINVAL.
 */
#include <linux/kvm_host.h>
#include <linux/uaccess.h>

#include "kvm_prefault.h"

int kvm_prefault_user_memory_region2(void __user *argp,
				     struct kvm_userspace_memory_region *mem)
{
	struct kvm_userspace_memory_region2 mem2;

	if (copy_from_user(&mem2, argp, sizeof(mem2)))
		return -EFAULT;

	if (mem2.flags & KVM_MEM_GUEST_MEMFD)
		return -EINVAL;

	*mem = (struct kvm_userspace_memory_region) {
		.slot = mem2.slot,
		.flags = mem2.flags,
		.guest_phys_addr = mem2.guest_phys_addr,
		.memory_size = mem2.memory_size,
		.userspace_addr = mem2.userspace_addr,
	};
	return 0;
}
