// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_CHECK_EXTENSION answers for what this fork adds.  @kvm is NULL when
 * the question is asked on /dev/kvm rather than on a VM.
 */
#include <linux/kvm_host.h>

#include "kvm_prefault.h"

int kvm_prefault_check_extension(struct kvm *kvm, long cap)
{
	switch (cap) {
	case KVM_CAP_USER_MEMORY2:
		return 1;
	case KVM_CAP_MEMORY_FAULT_INFO:
		return kvm_prefault_arch_memory_fault_info();
	case KVM_CAP_PRE_FAULT_MEMORY:
		return kvm_prefault_arch_supported(kvm);
	default:
		return 0;
	}
}
