/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvm-prefault: userspace ABI of the KVM features this fork adds to Linux LTS
 * kernels.  Every number and layout here is the one upstream KVM uses, so a
 * VMM built against a newer <linux/kvm.h> works unchanged; each definition is
 * guarded so that this header can be included after either an old or a new
 * <linux/kvm.h>.
 *
 * Include <linux/kvm.h> first.
 */
#ifndef _UAPI_LINUX_KVM_PREFAULT_H
#define _UAPI_LINUX_KVM_PREFAULT_H

#include <linux/types.h>
#include <linux/ioctl.h>

#ifndef KVMIO
#define KVMIO 0xAE
#endif

/* Capabilities (KVM_CHECK_EXTENSION on /dev/kvm or on a VM fd). */
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2		231
#endif
#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO	232
#endif
#ifndef KVM_CAP_PRE_FAULT_MEMORY
#define KVM_CAP_PRE_FAULT_MEMORY	236
#endif

/*
 * KVM_EXIT_MEMORY_FAULT: KVM_RUN failed with EFAULT or EHWPOISON because a
 * guest page could not be resolved.  The description lives in the kvm_run
 * union at the same offset as every other exit's data; with an old
 * <linux/kvm.h>, reach it through kvm_run_memory_fault().
 */
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT		39
#endif
#ifndef KVM_MEMORY_EXIT_FLAG_PRIVATE
#define KVM_MEMORY_EXIT_FLAG_PRIVATE	(1ULL << 3)
#endif

/*
 * may_alias: the accessor below reads the kvm_run union through this type,
 * which is allowed only for types that may alias others (-O2 optimizes on
 * strict aliasing in userspace).
 */
struct __attribute__((__may_alias__)) kvm_memory_fault_info {
	__u64 flags;
	__u64 gpa;
	__u64 size;
};

/* The kvm_run union starts at its first member, "hw", in every version. */
#define kvm_run_memory_fault(run) \
	((struct kvm_memory_fault_info *)(void *)&(run)->hw)

/* KVM_SET_USER_MEMORY_REGION2, without guest_memfd on LTS kernels. */
#ifndef KVM_SET_USER_MEMORY_REGION2
struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};

#define KVM_SET_USER_MEMORY_REGION2 \
	_IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD		(1UL << 2)
#endif

/* KVM_PRE_FAULT_MEMORY: vCPU ioctl, progress reported in place. */
#ifndef KVM_PRE_FAULT_MEMORY
struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};

#define KVM_PRE_FAULT_MEMORY \
	_IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

/*
 * kvm-prefault extension, not in upstream KVM: pre-fault as a guest write
 * would, populating the host memory writable (breaking copy-on-write) and
 * mapping it writable in stage 2.  Upstream and older kernels reject every
 * flag with EINVAL, so a VMM can probe for it and fall back.  The bit is
 * taken from the top so that it stays clear of what upstream may define.
 */
#define KVM_PRE_FAULT_MEMORY_WRITE	(1ULL << 63)

#endif /* _UAPI_LINUX_KVM_PREFAULT_H */
