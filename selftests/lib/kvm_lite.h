/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_lite: a very small KVM userspace library for the kvm-prefault
 * selftests.  Guests run in 32-bit flat protected mode without paging, so a
 * guest linear address is a guest physical address (below 4 GiB).  Guest
 * code is a position-independent blob copied to KL_CODE_GPA; the guest talks
 * to the host with port I/O:
 *
 *   out to KL_PORT_DONE    the guest program is finished
 *   out to KL_PORT_REPORT  report a value (the data written, e.g. EAX)
 *
 * Memslot 0 ([0, KL_CODE_SLOT_SIZE)) holds the code.  Tests put their data
 * slots elsewhere (KL_DATA_GPA and up).
 */
#ifndef KL_KVM_LITE_H
#define KL_KVM_LITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>
#include <linux/kvm_prefault.h>

#include "tap.h"

#define KL_PAGE_SIZE		((uint64_t)4096)
#define KL_HPAGE_SIZE		((uint64_t)2 << 20)
#define KL_CODE_SLOT		0
#define KL_CODE_SLOT_SIZE	((uint64_t)64 << 10)
#define KL_CODE_GPA		((uint64_t)0x1000)
#define KL_DATA_GPA		((uint64_t)1 << 30)

#define KL_PORT_DONE		0x10
#define KL_PORT_REPORT		0x11

#define KL_MAX_SLOTS		128
#define KL_MAX_VCPUS		8

/* Declare a guest code blob defined in a top-level asm() block. */
#define KL_GUEST_BLOB(name)						\
	extern const unsigned char name##_start[], name##_end[]

#define KL_BLOB(name) name##_start, name##_end

struct kl_slot {
	bool used;
	uint32_t slot;
	uint32_t flags;
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

struct kl_vm {
	int kvm_fd;
	int fd;
	bool has_region2;
	struct kl_slot slots[KL_MAX_SLOTS];
	struct kl_vcpu *vcpus[KL_MAX_VCPUS];
	int stats_fd;		/* KVM_GET_STATS_FD of the VM, or -1 */
};

struct kl_vcpu {
	struct kl_vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	int stats_fd;
	/* Values the guest reported through KL_PORT_REPORT. */
	uint32_t last_report;
	unsigned int nr_reports;
};

/* Registers a guest program starts with. */
struct kl_args {
	uint32_t eax, ebx, ecx, edx, esi, edi;
};

/* /dev/kvm */
int kl_open_dev(void);		/* -1 with errno when there is no KVM */
int kl_check_cap(int fd, long cap);	/* KVM_CHECK_EXTENSION, -errno */

/*
 * Keep one VM with one vCPU open for the life of the process, so that the
 * static keys KVM flips when the first VM or vCPU appears and the last one
 * goes (preempt notifiers, vCPUs without in-kernel APIC) stay put while
 * sub-tests create and destroy their VMs.  Every flip patches kernel text,
 * and QEMU TCG with several vCPUs occasionally trips over that live
 * patching ("Oops: int3" in __schedule), which is not what we test.
 */
void kl_keep_static_keys(void);

/* VMs */
struct kl_vm *kl_vm_create(void);
void kl_vm_free(struct kl_vm *vm);

/*
 * Memslots.  kl_set_region() uses KVM_SET_USER_MEMORY_REGION2 when the VM
 * reports KVM_CAP_USER_MEMORY2, else the old ioctl; it returns 0 or -errno
 * and keeps the VM's slot table in sync.  size 0 deletes.
 */
int kl_set_region(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		  uint64_t gpa, uint64_t size, void *hva);
void kl_add_slot(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		 uint64_t gpa, uint64_t size, void *hva);
/* Raw ioctls, no bookkeeping; return 0 or -errno. */
int kl_ioctl_region1(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		     uint64_t gpa, uint64_t size, uint64_t hva);
int kl_ioctl_region2(struct kl_vm *vm,
		     const struct kvm_userspace_memory_region2 *r);
void kl_slot_track(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		   uint64_t gpa, uint64_t size, void *hva);
void *kl_gpa2hva(struct kl_vm *vm, uint64_t gpa);

/* Host memory to back memslots; every one is 2 MiB aligned. */
enum kl_backing {
	KL_MEM_4K,	/* anonymous, MADV_NOHUGEPAGE */
	KL_MEM_THP,	/* anonymous, MADV_HUGEPAGE */
	KL_MEM_HUGETLB,	/* MAP_HUGETLB 2 MiB pages */
};
void *kl_mem_alloc(uint64_t size, enum kl_backing b); /* NULL+errno */
void kl_mem_free(void *hva, uint64_t size);
const char *kl_thp_mode(void);	/* "always", "madvise", "never" or NULL */
/* A "<field>: N kB" line of /proc/self/smaps for hva's VMA, or -1. */
long kl_smaps_kb(void *hva, const char *field);
long kl_anon_huge_kb(void *hva);	/* AnonHugePages of hva's VMA, -1 */

/* Code slot (memslot 0) plus one vCPU: the usual starting point. */
struct kl_vm *kl_vm_create_with_vcpu(struct kl_vcpu **vcpu);

/* vCPUs */
struct kl_vcpu *kl_vcpu_add(struct kl_vm *vm, int id);
void kl_vcpu_set_flat32(struct kl_vcpu *vcpu);
/* Copy a blob to KL_CODE_GPA and point the vCPU at it with these args. */
void kl_guest_load(struct kl_vcpu *vcpu, const unsigned char *start,
		   const unsigned char *end, const struct kl_args *args);
int kl_vcpu_run(struct kl_vcpu *vcpu);	/* KVM_RUN: 0 or -errno */
/*
 * Run until the guest writes KL_PORT_DONE; any other exit fails the test.
 * Returns the last reported value.
 */
uint32_t kl_run_to_done(struct kl_vcpu *vcpu);
/* Handle one KVM_EXIT_IO on our ports; false if it is not one of ours. */
bool kl_handle_io(struct kl_vcpu *vcpu, bool *done);
const char *kl_exit_name(uint32_t reason);
/* kvm_run's memory_fault data (KVM_EXIT_MEMORY_FAULT), by value. */
struct kvm_memory_fault_info kl_memory_fault(const struct kvm_run *run);
void kl_get_regs(struct kl_vcpu *vcpu, struct kvm_regs *regs);

/* KVM_PRE_FAULT_MEMORY */
int kl_pre_fault(struct kl_vcpu *vcpu, struct kvm_pre_fault_memory *r);
/*
 * Re-issue until size == 0 or an error, checking the progress rules on
 * every call.  Returns 0 or the -errno that stopped it; *calls counts the
 * ioctls.  r is left as the kernel returned it.
 */
int kl_pre_fault_loop(struct kl_vcpu *vcpu, struct kvm_pre_fault_memory *r,
		      unsigned int *calls);
/* Assert that [gpa, gpa+size) pre-faults completely. */
void kl_pre_fault_range(struct kl_vcpu *vcpu, uint64_t gpa, uint64_t size);

enum kl_prefault_support {
	KL_PF_ABSENT,	/* the ioctl is unknown to this KVM */
	KL_PF_NO_TDP,	/* known, but EOPNOTSUPP (no TDP) */
	KL_PF_TDP,	/* works */
};
/* Probe with a valid one-page request on the code slot. */
enum kl_prefault_support kl_probe_prefault(int *errno_out);

/*
 * kvm-prefault's own write-intent flag (bit 63, not upstream ABI), when the
 * header defines it; 0 otherwise.  kl_prefault_write_known(): the running
 * KVM accepts the flag (a kernel without it fails with EINVAL).
 */
#ifdef KVM_PRE_FAULT_MEMORY_WRITE
#define KL_PF_WRITE	((uint64_t)KVM_PRE_FAULT_MEMORY_WRITE)
#else
#define KL_PF_WRITE	((uint64_t)0)
#endif
bool kl_prefault_write_known(void);

/*
 * Statistics: the per-VM debugfs directory
 * (/sys/kernel/debug/kvm/<pid>-<vmfd>/) when present, else KVM's binary
 * stats fds, else the global debugfs files.  UINT64_MAX when unavailable.
 */
uint64_t kl_stat(struct kl_vm *vm, const char *name);
const char *kl_stat_source(struct kl_vm *vm, const char *name);
bool kl_stat_available(struct kl_vm *vm, const char *name);

/* Misc */
const char *kl_module_param(const char *module, const char *param,
			    char *buf, size_t len);
/* A byte pattern for page i of a test region. */
static inline uint8_t kl_pattern(uint64_t page, uint8_t seed)
{
	return (uint8_t)(((uint32_t)page * 0x9e3779b1u + seed * 0x01000193u) >> 24);
}
void kl_fill_pattern(void *hva, uint64_t npages, uint8_t seed);
/* The checksum the read-pass guests compute: sum * 31 + byte. */
uint32_t kl_checksum_step(uint32_t sum, uint8_t byte);

#endif /* KL_KVM_LITE_H */
