// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_EXIT_MEMORY_FAULT (KVM_CAP_MEMORY_FAULT_INFO): when KVM cannot
 * resolve a guest access to a memslot page (no VMA, PROT_NONE, a write to a
 * read-only mapping, a truncated file), KVM_RUN fails with EFAULT and
 * kvm_run says exit_reason 39 with the faulting page.  Emulated MMIO stays
 * KVM_EXIT_MMIO, exit_reason is never stale, the VMM can repair the mapping
 * and resume, and KVM_PRE_FAULT_MEMORY stops at the bad page.
 *
 * Skips when the capability is not reported.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_code.h"
#include "kvm_lite.h"

#define SLOT		1
#define NPAGES		16
#define PAGE		KL_PAGE_SIZE
#define GPA		KL_DATA_GPA
/* Guest accesses land inside the page, not at its start. */
#define OFF		0x123
#define SEED		0x3c

static const char *stage_name;

/* Pattern at offset OFF of each page (kl_fill_pattern writes offset 0). */
static void fill(uint8_t *hva, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		hva[i * PAGE + OFF] = kl_pattern(i, SEED);
}

static struct kl_vm *setup(struct kl_vcpu **vcpu, uint8_t **hva)
{
	struct kl_vm *vm = kl_vm_create_with_vcpu(vcpu);

	*hva = kl_mem_alloc(NPAGES * PAGE, KL_MEM_4K);
	TEST_ASSERT(*hva, "alloc");
	fill(*hva, 0, NPAGES);
	kl_add_slot(vm, SLOT, 0, GPA, NPAGES * PAGE, *hva);
	return vm;
}

static void load_read_pass(struct kl_vcpu *vcpu)
{
	kl_guest_load(vcpu, KL_BLOB(guest_read_pass),
		      &(struct kl_args){ .addr = GPA + OFF, .count = NPAGES,
					 .stride = PAGE });
}

/* KVM_RUN must fail with EFAULT and report the page of bad_gpa. */
static void expect_memory_fault(struct kl_vcpu *vcpu, uint64_t bad_gpa)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_memory_fault_info mf;
	int ret;

	run->exit_reason = KVM_EXIT_UNKNOWN;
	ret = kl_vcpu_run(vcpu);
	mf = kl_memory_fault(run);
	errno = ret < 0 ? -ret : 0;
	TEST_ASSERT(ret == -EFAULT,
		    "%s: KVM_RUN = %d (%s), exit_reason %u (%s); want -1/EFAULT",
		    stage_name, ret, ret ? strerror(-ret) : "success",
		    run->exit_reason, kl_exit_name(run->exit_reason));
	TEST_ASSERT(run->exit_reason == KVM_EXIT_MEMORY_FAULT,
		    "%s: EFAULT but exit_reason %u (%s), want %u "
		    "(MEMORY_FAULT)", stage_name, run->exit_reason,
		    kl_exit_name(run->exit_reason), KVM_EXIT_MEMORY_FAULT);
	TEST_ASSERT(mf.gpa == (bad_gpa & ~(PAGE - 1)) && mf.size == PAGE &&
		    mf.flags == 0,
		    "%s: memory_fault gpa %#llx size %#llx flags %#llx; want "
		    "gpa %#" PRIx64 " size %#" PRIx64 " flags 0", stage_name,
		    mf.gpa, mf.size, mf.flags, bad_gpa & ~(PAGE - 1), PAGE);
}

/* ---- unresolvable host mappings ---- */

static void test_munmap_read(void)
{
	const uint64_t bad = 5;
	struct kl_vcpu *vcpu;
	uint8_t *hva;
	struct kl_vm *vm = setup(&vcpu, &hva);
	void *p;

	stage_name = "read of a munmap'ed page";
	TEST_ASSERT(!munmap(hva + bad * PAGE, PAGE), "munmap");
	load_read_pass(vcpu);
	expect_memory_fault(vcpu, GPA + bad * PAGE + OFF);
	/* Again, without repairing: the same exit. */
	expect_memory_fault(vcpu, GPA + bad * PAGE + OFF);

	/* Repair: map the page back with its contents, resume. */
	p = mmap(hva + bad * PAGE, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	TEST_ASSERT(p == hva + bad * PAGE, "mmap MAP_FIXED");
	fill(hva, bad, 1);
	/* The next exit is a normal one, not a stale MEMORY_FAULT. */
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), kl_pattern_sum(NPAGES, SEED));
	TEST_ASSERT_EQ(vcpu->run->exit_reason, KL_EXIT_DONE);
	kl_vm_free(vm);
}

static void test_prot_none_read(void)
{
	const uint64_t bad = 9;
	struct kl_vcpu *vcpu;
	uint8_t *hva;
	struct kl_vm *vm = setup(&vcpu, &hva);

	stage_name = "read of a PROT_NONE page";
	TEST_ASSERT(!mprotect(hva + bad * PAGE, PAGE, PROT_NONE), "mprotect");
	load_read_pass(vcpu);
	expect_memory_fault(vcpu, GPA + bad * PAGE + OFF);
	TEST_ASSERT(!mprotect(hva + bad * PAGE, PAGE, PROT_READ | PROT_WRITE),
		    "mprotect");
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), kl_pattern_sum(NPAGES, SEED));
	kl_vm_free(vm);
}

static void test_prot_none_after_mapped(void)
{
	const uint64_t bad = 2;
	struct kl_vcpu *vcpu;
	uint8_t *hva;
	struct kl_vm *vm = setup(&vcpu, &hva);

	/* The page is mapped in stage 2 first; mprotect must zap it. */
	load_read_pass(vcpu);
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), kl_pattern_sum(NPAGES, SEED));
	stage_name = "read of a page made PROT_NONE after use";
	TEST_ASSERT(!mprotect(hva + bad * PAGE, PAGE, PROT_NONE), "mprotect");
	load_read_pass(vcpu);
	expect_memory_fault(vcpu, GPA + bad * PAGE + OFF);
	TEST_ASSERT(!mprotect(hva + bad * PAGE, PAGE, PROT_READ), "mprotect");
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), kl_pattern_sum(NPAGES, SEED));
	kl_vm_free(vm);
}

static void test_write_to_readonly_mapping(void)
{
	const uint64_t bad = 3;
	struct kl_vcpu *vcpu;
	uint8_t *hva;
	struct kl_vm *vm = setup(&vcpu, &hva);
	uint64_t i;

	stage_name = "write to a PROT_READ page of a writable memslot";
	TEST_ASSERT(!mprotect(hva + bad * PAGE, PAGE, PROT_READ), "mprotect");
	kl_guest_load(vcpu, KL_BLOB(guest_write_pass),
		      &(struct kl_args){ .addr = GPA + OFF, .count = NPAGES,
					 .stride = PAGE, .val = 0xee });
	expect_memory_fault(vcpu, GPA + bad * PAGE + OFF);
	/* Pages before the bad one are written, the bad one is not. */
	TEST_ASSERT_EQ(hva[(bad - 1) * PAGE + OFF], 0xee);
	TEST_ASSERT_EQ(hva[bad * PAGE + OFF], kl_pattern(bad, SEED));
	/* A read of that page is fine. */
	kl_guest_load(vcpu, KL_BLOB(guest_peek),
		      &(struct kl_args){ .addr = GPA + bad * PAGE });
	kl_run_to_done(vcpu);
	/* Repair and finish the write pass. */
	kl_guest_load(vcpu, KL_BLOB(guest_write_pass),
		      &(struct kl_args){ .addr = GPA + OFF, .count = NPAGES,
					 .stride = PAGE, .val = 0xee });
	expect_memory_fault(vcpu, GPA + bad * PAGE + OFF);
	TEST_ASSERT(!mprotect(hva + bad * PAGE, PAGE, PROT_READ | PROT_WRITE),
		    "mprotect");
	kl_run_to_done(vcpu);
	for (i = 0; i < NPAGES; i++)
		TEST_ASSERT(hva[i * PAGE + OFF] == 0xee, "page %" PRIu64, i);
	kl_vm_free(vm);
}

static void test_truncated_file(void)
{
	const uint64_t keep = 8;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	int fd = memfd_create("kvm_prefault_test", MFD_CLOEXEC);
	uint8_t *hva;
	uint32_t sum = 0;
	uint64_t i;

	TEST_ASSERT(fd >= 0, "memfd_create");
	TEST_ASSERT(!ftruncate(fd, NPAGES * PAGE), "ftruncate");
	hva = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	TEST_ASSERT(hva != MAP_FAILED, "mmap memfd");
	fill(hva, 0, NPAGES);
	kl_add_slot(vm, SLOT, 0, GPA, NPAGES * PAGE, hva);

	/* Map everything in stage 2 first, then cut the file short. */
	load_read_pass(vcpu);
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), kl_pattern_sum(NPAGES, SEED));
	TEST_ASSERT(!ftruncate(fd, keep * PAGE), "ftruncate smaller");

	stage_name = "read past the end of a truncated memfd";
	load_read_pass(vcpu);
	expect_memory_fault(vcpu, GPA + keep * PAGE + OFF);

	/* Grow it back: the lost pages come back as zeroes. */
	TEST_ASSERT(!ftruncate(fd, NPAGES * PAGE), "ftruncate back");
	for (i = 0; i < NPAGES; i++)
		sum = kl_checksum_step(sum, i < keep ? kl_pattern(i, SEED) : 0);
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), sum);
	kl_vm_free(vm);
	close(fd);
}

static void test_code_page_unmapped(void)
{
	struct kl_vcpu *vcpu;
	uint8_t *hva;
	struct kl_vm *vm = setup(&vcpu, &hva);
	uint8_t *code = kl_gpa2hva(vm, KL_CODE_GPA);
	uint8_t saved[PAGE];
	void *p;

	/* Instruction fetch from a page whose host mapping is gone. */
	load_read_pass(vcpu);
	memcpy(saved, code, PAGE);
	TEST_ASSERT(!munmap(code, PAGE), "munmap");
	stage_name = "instruction fetch from a munmap'ed page";
	expect_memory_fault(vcpu, KL_CODE_GPA);
	p = mmap(code, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	TEST_ASSERT(p == code, "mmap MAP_FIXED");
	memcpy(code, saved, PAGE);
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), kl_pattern_sum(NPAGES, SEED));
	kl_vm_free(vm);
}

/* ---- what must stay MMIO ---- */

static void test_readonly_memslot_write_is_mmio(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	uint8_t *hva = kl_mem_alloc(NPAGES * PAGE, KL_MEM_4K);
	struct kvm_run *run = vcpu->run;
	int ret;

	TEST_ASSERT(hva, "alloc");
	kl_add_slot(vm, SLOT, KVM_MEM_READONLY, GPA, NPAGES * PAGE, hva);
	kl_guest_load(vcpu, KL_BLOB(guest_poke),
		      &(struct kl_args){ .addr = GPA + 4 * PAGE + 8,
					 .val = 0x01020304 });
	ret = kl_vcpu_run(vcpu);
	errno = -ret;
	TEST_ASSERT(!ret && run->exit_reason == KVM_EXIT_MMIO,
		    "write to a read-only memslot: KVM_RUN %d, exit %u (%s)",
		    ret, run->exit_reason, kl_exit_name(run->exit_reason));
	TEST_ASSERT(run->mmio.is_write && run->mmio.len == 4 &&
		    run->mmio.phys_addr == GPA + 4 * PAGE + 8,
		    "mmio gpa %#llx len %u write %u", run->mmio.phys_addr,
		    run->mmio.len, run->mmio.is_write);
	kl_run_to_done(vcpu);
	TEST_ASSERT_EQ(hva[4 * PAGE + 8], 0);
	kl_vm_free(vm);
}

static void test_no_memslot_is_mmio(void)
{
	const uint64_t gpa = 3ULL << 30;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	struct kvm_run *run = vcpu->run;
	uint32_t v = 0xcafe1234;
	int ret;

	kl_guest_load(vcpu, KL_BLOB(guest_peek),
		      &(struct kl_args){ .addr = gpa + 0x10 });
	ret = kl_vcpu_run(vcpu);
	errno = -ret;
	TEST_ASSERT(!ret && run->exit_reason == KVM_EXIT_MMIO,
		    "read with no memslot: KVM_RUN %d, exit %u (%s)", ret,
		    run->exit_reason, kl_exit_name(run->exit_reason));
	TEST_ASSERT(!run->mmio.is_write && run->mmio.len == 4 &&
		    run->mmio.phys_addr == gpa + 0x10,
		    "mmio gpa %#llx len %u write %u", run->mmio.phys_addr,
		    run->mmio.len, run->mmio.is_write);
	memcpy(run->mmio.data, &v, 4);
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), v);
	kl_vm_free(vm);
}

/* ---- exit_reason is never stale ---- */

static void test_eintr_immediate_exit(void)
{
	const uint64_t bad = 1;
	struct kl_vcpu *vcpu;
	uint8_t *hva;
	struct kl_vm *vm = setup(&vcpu, &hva);
	struct kvm_run *run = vcpu->run;
	int ret;

	/* A real memory-fault exit first, so 39 is what kvm_run holds. */
	stage_name = "read of a munmap'ed page";
	TEST_ASSERT(!munmap(hva + bad * PAGE, PAGE), "munmap");
	load_read_pass(vcpu);
	ret = kl_vcpu_run(vcpu);
	tap_diag("memory fault: KVM_RUN %d, exit_reason %u", ret,
		 run->exit_reason);
	/* Whatever KVM did, make kvm_run say 39 before the EINTR run. */
	run->exit_reason = KVM_EXIT_MEMORY_FAULT;
	run->immediate_exit = 1;
	ret = kl_vcpu_run(vcpu);
	run->immediate_exit = 0;
	TEST_ASSERT(ret == -EINTR, "immediate_exit: KVM_RUN %d", ret);
	TEST_ASSERT(run->exit_reason != KVM_EXIT_MEMORY_FAULT,
		    "KVM_RUN failed with EINTR but exit_reason is still %u "
		    "(MEMORY_FAULT)", run->exit_reason);
	tap_diag("EINTR (immediate_exit): exit_reason %u (%s)",
		 run->exit_reason, kl_exit_name(run->exit_reason));
	kl_vm_free(vm);
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void test_eintr_pending_signal(void)
{
	struct kl_vcpu *vcpu;
	uint8_t *hva;
	struct kl_vm *vm = setup(&vcpu, &hva);
	struct kvm_run *run = vcpu->run;
	/* len, then the (empty) sigset right behind it, at offset 4. */
	union {
		struct kvm_signal_mask m;
		uint8_t bytes[sizeof(struct kvm_signal_mask) + 8];
	} kmask;
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t usr1;
	int ret;

	/* SIGUSR1 blocked in the thread, unblocked while in KVM_RUN. */
	memset(&kmask, 0, sizeof(kmask));
	kmask.m.len = 8;
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction");
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	TEST_ASSERT(!sigprocmask(SIG_BLOCK, &usr1, NULL), "sigprocmask");
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, &kmask),
		    "KVM_SET_SIGNAL_MASK");
	TEST_ASSERT(!raise(SIGUSR1), "raise");

	load_read_pass(vcpu);
	run->exit_reason = KVM_EXIT_MEMORY_FAULT;
	ret = kl_vcpu_run(vcpu);
	TEST_ASSERT(ret == -EINTR, "pending signal: KVM_RUN %d, exit_reason "
		    "%u (%s)", ret, run->exit_reason,
		    kl_exit_name(run->exit_reason));
	TEST_ASSERT(run->exit_reason == KVM_EXIT_INTR,
		    "EINTR with exit_reason %u (%s), want KVM_EXIT_INTR",
		    run->exit_reason, kl_exit_name(run->exit_reason));
	TEST_ASSERT(!sigprocmask(SIG_UNBLOCK, &usr1, NULL), "sigprocmask");
	TEST_ASSERT(got_usr1, "the signal was not delivered");
	/* And the guest still runs normally. */
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), kl_pattern_sum(NPAGES, SEED));
	kl_vm_free(vm);
}

/* ---- hardware-poisoned memory: upstream's SIGBUS, not a memory fault ---- */

static volatile sig_atomic_t got_sigbus;
static void *volatile sigbus_addr;
static volatile int sigbus_code;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	got_sigbus++;
	sigbus_addr = si->si_addr;
	sigbus_code = si->si_code;
}

/*
 * KVM_RUN keeps upstream's behaviour for a poisoned host page: SIGBUS with
 * BUS_MCEERR_AR at the page's host address to the faulting thread, and
 * KVM_RUN returns EINTR; exit_reason is never 39.  A pre-fault is not the
 * guest touching the page, so kvm-prefault fails it with EHWPOISON and
 * sends no signal on both architectures (upstream x86 sends SIGBUS, which
 * makes QEMU inject a machine check for a page the guest never used).
 */
static void test_hwpoison(void)
{
	const uint64_t bad = 3;
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO };
	struct kvm_pre_fault_memory r = { .gpa = GPA, .size = NPAGES * PAGE };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint8_t *hva, *p;
	int err = 0, ret;

	vm = setup(&vcpu, &hva);
	TEST_ASSERT(!sigaction(SIGBUS, &sa, NULL), "sigaction");
	if (madvise(hva + bad * PAGE, PAGE, MADV_HWPOISON))
		tap_skip("MADV_HWPOISON: %s (needs CONFIG_MEMORY_FAILURE "
			 "and CAP_SYS_ADMIN)", strerror(errno));

	load_read_pass(vcpu);
	vcpu->run->exit_reason = KVM_EXIT_UNKNOWN;
	ret = kl_vcpu_run(vcpu);
	TEST_ASSERT(ret == -EINTR && vcpu->run->exit_reason == KVM_EXIT_INTR,
		    "KVM_RUN on a poisoned page: %d (%s), exit_reason %u (%s); "
		    "want EINTR, KVM_EXIT_INTR", ret, strerror(-ret),
		    vcpu->run->exit_reason,
		    kl_exit_name(vcpu->run->exit_reason));
	TEST_ASSERT(got_sigbus && sigbus_code == BUS_MCEERR_AR &&
		    sigbus_addr == hva + bad * PAGE,
		    "SIGBUS %d code %d addr %p; want BUS_MCEERR_AR at %p",
		    (int)got_sigbus, sigbus_code, sigbus_addr,
		    (void *)(hva + bad * PAGE));

	/* Pre-fault stops at the page: progress, then EHWPOISON, no signal. */
	if (kl_probe_prefault(&err) != KL_PF_TDP)
		goto repair;
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(!ret && r.gpa == GPA + bad * PAGE,
		    "pre-fault: %d, gpa %#llx; want progress up to %#" PRIx64,
		    ret, r.gpa, GPA + bad * PAGE);
	got_sigbus = 0;
	sigbus_code = 0;
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(ret == -EHWPOISON && r.gpa == GPA + bad * PAGE &&
		    !got_sigbus,
		    "pre-fault re-issue: %d (%s), SIGBUS %d code %d, gpa %#llx;"
		    " want EHWPOISON and no signal", ret, strerror(-ret),
		    (int)got_sigbus, sigbus_code, r.gpa);

repair:
	/* A VMM replaces the page and the guest goes on. */
	p = mmap(hva + bad * PAGE, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	TEST_ASSERT(p == hva + bad * PAGE, "mmap MAP_FIXED");
	fill(hva, bad, 1);
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), kl_pattern_sum(NPAGES, SEED));
	kl_vm_free(vm);
}

/* ---- KVM_PRE_FAULT_MEMORY over a bad page ---- */

static void test_pre_fault_stops_at_bad_page(void)
{
	const uint64_t bad = 6;
	struct kvm_pre_fault_memory r = { .gpa = GPA, .size = NPAGES * PAGE };
	struct kl_vcpu *vcpu;
	uint8_t *hva;
	struct kl_vm *vm;
	int err = 0, ret;

	switch (kl_probe_prefault(&err)) {
	case KL_PF_ABSENT:
		tap_skip("KVM_PRE_FAULT_MEMORY not supported (%s)",
			 strerror(err));
	case KL_PF_NO_TDP:
		tap_skip("KVM_PRE_FAULT_MEMORY is EOPNOTSUPP here (no TDP or "
			 "protected mode)");
	case KL_PF_TDP:
		break;
	}
	vm = setup(&vcpu, &hva);
	TEST_ASSERT(!munmap(hva + bad * PAGE, PAGE), "munmap");
	ret = kl_pre_fault(vcpu, &r);
	errno = -ret;
	TEST_ASSERT(!ret && r.gpa == GPA + bad * PAGE &&
		    r.size == (NPAGES - bad) * PAGE,
		    "first call: %d, gpa %#llx size %#llx; want 0 and progress "
		    "up to the bad page %#" PRIx64, ret, r.gpa, r.size,
		    GPA + bad * PAGE);
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(ret == -EFAULT && r.gpa == GPA + bad * PAGE &&
		    r.size == (NPAGES - bad) * PAGE,
		    "re-issue: %d (%s), gpa %#llx size %#llx; want EFAULT at "
		    "the bad page", ret, strerror(-ret), r.gpa, r.size);
	/* Past the bad page it works again. */
	kl_pre_fault_range(vcpu, GPA + (bad + 1) * PAGE,
			   (NPAGES - bad - 1) * PAGE);
	kl_vm_free(vm);
}

static const struct tap_test tests[] = {
	{ "munmap_read", test_munmap_read, 0 },
	{ "prot_none_read", test_prot_none_read, 0 },
	{ "prot_none_after_mapped", test_prot_none_after_mapped, 0 },
	{ "write_to_readonly_mapping", test_write_to_readonly_mapping, 0 },
	{ "truncated_file", test_truncated_file, 0 },
	{ "code_page_unmapped", test_code_page_unmapped, 0 },
	{ "readonly_memslot_write_is_mmio",
	  test_readonly_memslot_write_is_mmio, 0 },
	{ "no_memslot_is_mmio", test_no_memslot_is_mmio, 0 },
	{ "eintr_immediate_exit", test_eintr_immediate_exit, 0 },
	{ "eintr_pending_signal", test_eintr_pending_signal, 0 },
	{ "pre_fault_stops_at_bad_page", test_pre_fault_stops_at_bad_page, 0 },
	{ "hwpoison_sigbus", test_hwpoison, 0 },
};

int main(void)
{
	kl_require_cap(tests, TAP_ARRAY_SIZE(tests),
		       KVM_CAP_MEMORY_FAULT_INFO, "KVM_CAP_MEMORY_FAULT_INFO");
	return kl_run_tests(tests, TAP_ARRAY_SIZE(tests));
}
