/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_lite: a very small KVM userspace library for the kvm-prefault
 * selftests.  The tests are architecture-neutral; what differs per
 * architecture lives in lib/<arch>/ (kvm_lite_arch.h, kvm_lite_arch.c and
 * the guest programs):
 *
 *   x86_64   guests run in 32-bit flat protected mode without paging, so a
 *            guest linear address is a guest physical address (below
 *            4 GiB); the guest talks to the host with port I/O.
 *   aarch64  guests run at EL1 with the MMU off (VA == IPA) and DAIF
 *            masked; the guest talks to the host with MMIO writes to
 *            KL_MMIO_GPA, which no memslot may cover.
 *
 * Either way a guest program signals "done" (kl_run_to_done() returns) or
 * "report a value" (a 32-bit value, kept in kl_vcpu.last_report).
 *
 * Guest code is a position-independent blob copied to KL_CODE_GPA.
 * Memslot 0 ([0, KL_CODE_SLOT_SIZE)) holds the code.  Tests put their data
 * slots elsewhere (KL_DATA_GPA and up).
 */
#ifndef KL_KVM_LITE_H
#define KL_KVM_LITE_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>
#include <linux/kvm_prefault.h>

#include "tap.h"
#include "kvm_lite_arch.h"

#define KL_PAGE_SIZE		((uint64_t)4096)
#define KL_HPAGE_SIZE		((uint64_t)2 << 20)
#define KL_CODE_SLOT		0
#define KL_CODE_SLOT_SIZE	((uint64_t)64 << 10)
#define KL_CODE_GPA		((uint64_t)0x1000)
#define KL_DATA_GPA		((uint64_t)1 << 30)

#define KL_MAX_SLOTS		128
#define KL_MAX_VCPUS		8

/*
 * Declare a guest code blob: bytes between name_start and name_end, defined
 * in lib/<arch>/guest_code.* (or in a test's top-level asm() block).
 */
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
	uint32_t dirty_ring_bytes;	/* KVM_CAP_DIRTY_LOG_RING size, or 0 */
};

struct kl_vcpu {
	struct kl_vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	int stats_fd;
	/* The vCPU's dirty ring (kl_vm_enable_dirty_ring()), or NULL. */
	struct kvm_dirty_gfn *ring;
	uint32_t ring_entries;
	uint32_t ring_fetch;	/* next entry to harvest */
	/* Values the guest program reported. */
	uint32_t last_report;
	unsigned int nr_reports;
};

/*
 * What a guest program starts with (guest_code.h); the architecture puts
 * them in registers (x86: ESI, ECX, EDI, EDX; arm64: x0, x1, x2, x3).
 */
struct kl_args {
	uint64_t addr;		/* first guest address to access */
	uint64_t count;		/* number of accesses */
	uint64_t stride;	/* bytes from one access to the next */
	uint64_t val;		/* value to store */
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
/* KVM_CREATE_VM with a machine type (arm64: KVM_VM_TYPE_ARM_IPA_SIZE). */
struct kl_vm *kl_vm_create_type(unsigned long type);
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

/*
 * 2 MiB hugetlb pages: make sure n are free (raising vm.nr_hugepages if
 * needed; false if that fails or the default size is not 2 MiB), and put
 * vm.nr_hugepages back as it was.
 */
bool kl_hugetlb_reserve(long n);
void kl_hugetlb_restore(void);
long kl_meminfo(const char *key);	/* a /proc/meminfo value, or -1 */

/* Code slot (memslot 0) plus one vCPU: the usual starting point. */
struct kl_vm *kl_vm_create_with_vcpu(struct kl_vcpu **vcpu);

/* vCPUs, set up to run guest programs (kl_arch_vcpu_init()). */
struct kl_vcpu *kl_vcpu_add(struct kl_vm *vm, int id);
/* Copy a blob to KL_CODE_GPA and point the vCPU at it with these args. */
void kl_guest_load(struct kl_vcpu *vcpu, const unsigned char *start,
		   const unsigned char *end, const struct kl_args *args);
int kl_vcpu_run(struct kl_vcpu *vcpu);	/* KVM_RUN: 0 or -errno */
/*
 * Run until the guest program is done; any other exit fails the test.
 * Returns the last reported value.  The exit that says "done" has
 * exit_reason KL_EXIT_DONE.
 */
uint32_t kl_run_to_done(struct kl_vcpu *vcpu);
const char *kl_exit_name(uint32_t reason);
/* kvm_run's memory_fault data (KVM_EXIT_MEMORY_FAULT), by value. */
struct kvm_memory_fault_info kl_memory_fault(const struct kvm_run *run);

/*
 * Per architecture, in lib/<arch>/kvm_lite_arch.c.
 * kl_arch_vcpu_init(): make a new vCPU ready to run guest programs.
 * kl_arch_guest_start(): registers for a program at pc with args.
 * kl_arch_handle_exit(): one exit of a guest program's host channel
 * (done or report); false if the exit is something else.
 * kl_arch_dump_vcpu(): diagnostics (registers) after an unexpected exit.
 */
void kl_arch_vcpu_init(struct kl_vcpu *vcpu);
void kl_arch_guest_start(struct kl_vcpu *vcpu, uint64_t pc,
			 const struct kl_args *args);
bool kl_arch_handle_exit(struct kl_vcpu *vcpu, bool *done);
void kl_arch_dump_vcpu(struct kl_vcpu *vcpu);

/*
 * Dirty ring (KVM_CAP_DIRTY_LOG_RING): enable it with a ring of @bytes per
 * vCPU before the first vCPU is added; kl_vcpu_add() then maps each ring.
 * Returns 0 or -errno (EINVAL: too small for this KVM, e.g. with PML).
 */
int kl_vm_enable_dirty_ring(struct kl_vm *vm, uint32_t bytes);
/*
 * The smallest dirty ring this KVM takes, from 4 KiB up to 64 KiB (Intel
 * PML reserves more entries): a small ring fills often.  Skips the
 * sub-test where KVM has no dirty ring (6.1 arm64).
 */
void kl_vm_enable_small_dirty_ring(struct kl_vm *vm);
/*
 * Harvest every dirty entry of the vCPU's ring, in order: call @fn for
 * each (may be NULL) and mark it for reset.  Returns how many there were.
 * KVM_RESET_DIRTY_RINGS (kl_dirty_ring_reset()) then recycles them.
 */
uint32_t kl_dirty_ring_harvest(struct kl_vcpu *vcpu,
			       void (*fn)(void *opaque, uint32_t slot,
					  uint64_t offset),
			       void *opaque);
/* Dirty entries published and not harvested yet. */
uint32_t kl_dirty_ring_pending(struct kl_vcpu *vcpu);
/* KVM_RESET_DIRTY_RINGS: the number of entries reset, or -errno. */
int kl_dirty_ring_reset(struct kl_vm *vm);

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
	KL_PF_NO_TDP,	/* known, but EOPNOTSUPP (x86: no TDP; arm64: pKVM) */
	KL_PF_TDP,	/* works */
};
/* Probe with a valid one-page request on the code slot. */
enum kl_prefault_support kl_probe_prefault(int *errno_out);
/*
 * How a pre-fault test binary runs here: the probe, checked against
 * KVM_CAP_PRE_FAULT_MEMORY.  KL_PF_ABSENT: skip everything (why says
 * why).  A KVM that reports the capability but fails the probe, or carries
 * kvm-prefault's series in arm64 protected mode but does not know the
 * ioctl, is run anyway (as KL_PF_TDP / KL_PF_NO_TDP) so that it fails.
 */
enum kl_prefault_support kl_prefault_mode(char *why, size_t len);

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
 * The running KVM carries kvm-prefault's series: it reports
 * KVM_CAP_MEMORY_FAULT_INFO or KVM_CAP_USER_MEMORY2, which no stock 6.1
 * kernel does.  Tells "pre-fault unsupported here" from "stock kernel"
 * where the ioctl itself cannot (arm64 protected mode).
 */
bool kl_kvm_has_series(void);
/* arm64 KVM in protected mode (kvm-arm.mode=protected on the cmdline). */
bool kl_kvm_protected(void);
/*
 * The value KVM_CAP_PRE_FAULT_MEMORY must have on this host: 0 or 1, or
 * -1 when that cannot be told (why says what was looked at).
 */
int kl_prefault_cap_expected(char *why, size_t len);

/*
 * Statistics: the per-VM debugfs directory
 * (/sys/kernel/debug/kvm/<pid>-<vmfd>/) when present, else KVM's binary
 * stats fds, else the global debugfs files.  UINT64_MAX when unavailable.
 */
uint64_t kl_stat(struct kl_vm *vm, const char *name);
const char *kl_stat_source(struct kl_vm *vm, const char *name);
bool kl_stat_available(struct kl_vm *vm, const char *name);

/*
 * Stage-2 faults taken by a VM's vCPUs between kl_faults_begin() and
 * kl_faults_end(), as a range [lo, hi].  x86 counts them exactly
 * (pf_taken: lo == hi).  arm64 6.1 has no such counter: hi is the vCPUs'
 * exits less their MMIO exits (the guest programs' own host channel), and
 * lo is hi less every host interrupt taken meanwhile (each one can force
 * at most one exit).  Assert "no faults" as lo <= KL_FAULT_SLACK and
 * "faults" on hi.  kl_faults_available() is false without the statistics.
 */
struct kl_faults {
	uint64_t v[4];
};
struct kl_fault_range {
	uint64_t lo, hi;
};
bool kl_faults_available(struct kl_vm *vm);
void kl_faults_begin(struct kl_vm *vm, struct kl_faults *f);
struct kl_fault_range kl_faults_end(struct kl_vm *vm,
				    const struct kl_faults *f);
/* What the counts are made of, for messages. */
const char *kl_faults_what(void);
/* Assert that a struct kl_fault_range says "no stage-2 fault". */
#define KL_ASSERT_NO_FAULTS(fr, fmt, ...)				\
	do {								\
		struct kl_fault_range __fr = (fr);			\
									\
		TEST_ASSERT(__fr.lo <= KL_FAULT_SLACK, fmt ": %" PRIu64	\
			    " stage-2 faults (up to %" PRIu64 "; %s), "	\
			    "allowed %d", ##__VA_ARGS__, __fr.lo,	\
			    __fr.hi, kl_faults_what(), KL_FAULT_SLACK);	\
	} while (0)

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
/*
 * Every test's main(): kl_require_cap() and kl_prefault_setup() skip all
 * of TESTS (and exit) where KVM lacks what the test is about;
 * kl_prefault_setup() also says how the pre-fault works here and whether
 * write intent is accepted.  kl_run_tests() runs the sub-tests; a test's
 * main() returns what it returns.  kl_seed() is a fuzzing seed: ARG if
 * given, else $ENV, else one from the time and pid.
 */
void kl_require_cap(const struct tap_test *tests, int n, long cap,
		    const char *name);
enum kl_prefault_support kl_prefault_setup(const struct tap_test *tests,
					   int n, bool *write_known);
int kl_run_tests(const struct tap_test *tests, int n);
uint64_t kl_seed(const char *arg, const char *env);

/* What a read pass over npages pages filled by kl_fill_pattern() returns. */
uint32_t kl_pattern_sum(uint64_t npages, uint8_t seed);

/*
 * xorshift64*: small, seedable, good enough to pick test cases; the
 * same seed and salt give the same sequence on every run.
 */
struct kl_rng {
	uint64_t s;
};

void kl_rng_init(struct kl_rng *r, uint64_t seed, uint64_t salt);
uint64_t kl_rnd(struct kl_rng *r);
uint64_t kl_rnd_below(struct kl_rng *r, uint64_t n);	/* 0 when n is 0 */

#endif /* KL_KVM_LITE_H */
