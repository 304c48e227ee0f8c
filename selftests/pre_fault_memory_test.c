// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY: ABI, argument checks, progress semantics, signals,
 * races with memslot updates and with other vCPUs, mapping levels, and that
 * a pre-faulted range really needs no stage-2 fault afterwards.
 *
 * Skips everything when the running KVM does not know the ioctl.  When it
 * knows it but reports KVM_CAP_PRE_FAULT_MEMORY = 0 (x86 without TDP, e.g.
 * kvm_amd npt=0; arm64 in protected mode), the argument checks still run
 * and the ioctl must fail with EOPNOTSUPP; the sub-tests that need working
 * pre-faults skip.  Where KVM has no mapping-level statistics (arm64),
 * mapping sizes are told from the faults a guest pass takes.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "guest_code.h"
#include "kvm_lite.h"

#define DATA_SLOT	1
#define MiB		((uint64_t)1 << 20)
#define GiB		((uint64_t)1 << 30)
#define PAGE		KL_PAGE_SIZE
#define HPAGE		KL_HPAGE_SIZE

static enum kl_prefault_support g_mode;
static bool g_write_known;	/* KL_PF_WRITE accepted by this KVM */

static void need_tdp(void)
{
	if (g_mode != KL_PF_TDP)
		tap_skip("KVM_PRE_FAULT_MEMORY is EOPNOTSUPP here (no TDP or "
			 "protected mode)");
}

static void *add_data_slot(struct kl_vm *vm, uint32_t slot, uint32_t flags,
			   uint64_t gpa, uint64_t size, enum kl_backing b)
{
	void *hva = kl_mem_alloc(size, b);

	TEST_ASSERT(hva, "allocating %#" PRIx64 " bytes of backing %d",
		    size, b);
	kl_add_slot(vm, slot, flags, gpa, size, hva);
	return hva;
}

static uint32_t expected_sum(uint64_t npages, uint64_t stride_pages,
			     uint8_t seed)
{
	uint32_t sum = 0;
	uint64_t i;

	for (i = 0; i < npages; i++)
		sum = kl_checksum_step(sum, kl_pattern(i * stride_pages, seed));
	return sum;
}

static uint32_t guest_read(struct kl_vcpu *vcpu, uint64_t gpa,
			   uint64_t npages)
{
	struct kl_args a = {
		.addr = gpa, .count = npages, .stride = PAGE,
	};

	TEST_ASSERT(npages && gpa + npages * PAGE <= KL_GUEST_ADDR_LIMIT,
		    "guest read pass out of the guest's address range");
	kl_guest_load(vcpu, KL_BLOB(guest_read_pass), &a);
	return kl_run_to_done(vcpu);
}

/*
 * A read pass that must take no stage-2 fault: the code is loaded first
 * (the host's first write to the code page replaces the page that a
 * pre-fault would have mapped), then the code slot is pre-faulted too.
 * The data range must have been pre-faulted by the caller.
 */
static uint32_t guest_read_no_fault(struct kl_vm *vm, struct kl_vcpu *vcpu,
				    uint64_t gpa, uint64_t npages)
{
	struct kl_args a = {
		.addr = gpa, .count = npages, .stride = PAGE,
	};
	bool counted = kl_faults_available(vm);
	struct kl_faults f;
	uint32_t sum;

	kl_guest_load(vcpu, KL_BLOB(guest_read_pass), &a);
	kl_pre_fault_range(vcpu, 0, KL_CODE_SLOT_SIZE);
	kl_faults_begin(vm, &f);
	sum = kl_run_to_done(vcpu);
	if (counted)
		KL_ASSERT_NO_FAULTS(kl_faults_end(vm, &f), "read pass over %"
				    PRIu64 " pre-faulted pages", npages);
	return sum;
}

/*
 * A read pass, counting its stage-2 faults (kl_faults_available() must be
 * true); the code slot is pre-faulted as in guest_read_no_fault().
 */
static struct kl_fault_range guest_read_faults(struct kl_vm *vm,
					       struct kl_vcpu *vcpu,
					       uint64_t gpa, uint64_t npages,
					       uint32_t *sum)
{
	struct kl_args a = {
		.addr = gpa, .count = npages, .stride = PAGE,
	};
	struct kl_faults f;

	kl_guest_load(vcpu, KL_BLOB(guest_read_pass), &a);
	kl_pre_fault_range(vcpu, 0, KL_CODE_SLOT_SIZE);
	kl_faults_begin(vm, &f);
	*sum = kl_run_to_done(vcpu);
	return kl_faults_end(vm, &f);
}

/* Load (but do not run) a write pass: count bytes, stride apart. */
static void load_write(struct kl_vcpu *vcpu, uint64_t gpa, uint64_t count,
		       uint64_t stride, uint8_t val)
{
	struct kl_args a = {
		.addr = gpa, .count = count,
		.stride = stride, .val = val,
	};

	kl_guest_load(vcpu, KL_BLOB(guest_write_pass), &a);
}

static void guest_write(struct kl_vcpu *vcpu, uint64_t gpa, uint64_t count,
			uint64_t stride, uint8_t val)
{
	load_write(vcpu, gpa, count, stride, val);
	kl_run_to_done(vcpu);
}

/* Issue one request that must fail with err and leave the struct alone. */
static void expect_err(struct kl_vcpu *vcpu, uint64_t gpa, uint64_t size,
		       uint64_t flags, int err)
{
	struct kvm_pre_fault_memory r = {
		.gpa = gpa, .size = size, .flags = flags,
	};
	int ret = kl_pre_fault(vcpu, &r);

	errno = ret < 0 ? -ret : 0;
	TEST_ASSERT(ret == -err,
		    "gpa %#" PRIx64 " size %#" PRIx64 " flags %#" PRIx64
		    ": got %d (%s), want -%d (%s)", gpa, size, flags, ret,
		    ret ? strerror(-ret) : "success", err, strerror(err));
	TEST_ASSERT(r.gpa == gpa && r.size == size && r.flags == flags,
		    "struct changed on error: gpa %#llx size %#llx flags %#llx",
		    r.gpa, r.size, r.flags);
}

/* The mapping-level statistics (x86 only). */
static bool stats_ok(struct kl_vm *vm)
{
	bool ok = kl_stat_available(vm, "pages_4k") &&
		  kl_stat_available(vm, "pages_2m");

	if (!ok)
		tap_diag("no pages_4k/pages_2m statistics: mapping-level "
			 "checks skipped");
	return ok;
}

/* ------------------------------------------------------------------ */

static void test_abi_layout(void)
{
	struct kvm_pre_fault_memory r = { .gpa = KL_CODE_GPA, .size = PAGE };
	struct kvm_pre_fault_memory r2 = r;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	int a, b, ea, eb;

	_Static_assert(sizeof(struct kvm_pre_fault_memory) == 64, "size");
	TEST_ASSERT_EQ(offsetof(struct kvm_pre_fault_memory, gpa), 0);
	TEST_ASSERT_EQ(offsetof(struct kvm_pre_fault_memory, size), 8);
	TEST_ASSERT_EQ(offsetof(struct kvm_pre_fault_memory, flags), 16);
	TEST_ASSERT_EQ(offsetof(struct kvm_pre_fault_memory, padding), 24);
	TEST_ASSERT_EQ(sizeof(r.padding), 40);
	TEST_ASSERT_EQ(KVM_PRE_FAULT_MEMORY, 0xC040AED5UL);
	TEST_ASSERT_EQ(_IOC_DIR(KVM_PRE_FAULT_MEMORY), _IOC_READ | _IOC_WRITE);
	TEST_ASSERT_EQ(_IOC_TYPE(KVM_PRE_FAULT_MEMORY), KVMIO);
	TEST_ASSERT_EQ(_IOC_NR(KVM_PRE_FAULT_MEMORY), 0xd5);
	TEST_ASSERT_EQ(_IOC_SIZE(KVM_PRE_FAULT_MEMORY), 64);
	TEST_ASSERT_EQ(KVM_CAP_PRE_FAULT_MEMORY, 236);

	/* The literal number and the named one are the same ioctl. */
	vm = kl_vm_create_with_vcpu(&vcpu);
	a = ioctl(vcpu->fd, 0xC040AED5UL, &r);
	ea = errno;
	b = ioctl(vcpu->fd, KVM_PRE_FAULT_MEMORY, &r2);
	eb = errno;
	TEST_ASSERT(a == b && (a == 0 || ea == eb),
		    "raw 0xC040AED5: %d/%d, KVM_PRE_FAULT_MEMORY: %d/%d",
		    a, ea, b, eb);
	if (g_mode == KL_PF_TDP)
		TEST_ASSERT(!a && !r.size && r.gpa == KL_CODE_GPA + PAGE,
			    "one page at the code slot: ret %d gpa %#llx "
			    "size %#llx", a, r.gpa, r.size);
	else
		TEST_ASSERT(a == -1 && ea == EOPNOTSUPP, "ret %d errno %d",
			    a, ea);
	kl_vm_free(vm);
}

static void test_cap_value(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	int sys = kl_check_cap(vm->kvm_fd, KVM_CAP_PRE_FAULT_MEMORY);
	int vmcap = kl_check_cap(vm->fd, KVM_CAP_PRE_FAULT_MEMORY);
	char why[160];
	int want = kl_prefault_cap_expected(why, sizeof(why));

	tap_diag("KVM_CAP_PRE_FAULT_MEMORY: /dev/kvm %d, VM %d; %s", sys,
		 vmcap, why);
	TEST_ASSERT(sys == 0 || sys == 1, "cap on /dev/kvm = %d", sys);
	TEST_ASSERT_EQ(sys, vmcap);
	if (want >= 0)
		TEST_ASSERT(sys == want, "cap %d, want %d (%s)", sys, want,
			    why);
	TEST_ASSERT(sys == (g_mode == KL_PF_TDP),
		    "cap %d but a valid request %s", sys,
		    g_mode == KL_PF_TDP ? "succeeds" : "fails with EOPNOTSUPP");
	kl_vm_free(vm);
}

static void test_eopnotsupp_without_tdp(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;

	if (g_mode == KL_PF_TDP)
		tap_skip("TDP is enabled: the ioctl works here");
	vm = kl_vm_create_with_vcpu(&vcpu);
	add_data_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, 4 * MiB, KL_MEM_4K);
	expect_err(vcpu, KL_CODE_GPA, PAGE, 0, EOPNOTSUPP);
	expect_err(vcpu, KL_DATA_GPA, 4 * MiB, 0, EOPNOTSUPP);
	/* Not ENOENT: the TDP check comes before the memslot lookup. */
	expect_err(vcpu, 3 * GiB, PAGE, 0, EOPNOTSUPP);
	/* Still after the vCPU has run. */
	guest_write(vcpu, KL_DATA_GPA, 4, PAGE, 1);
	expect_err(vcpu, KL_DATA_GPA, 4 * MiB, 0, EOPNOTSUPP);
	kl_vm_free(vm);
}

static void test_einval_flags(void)
{
	static const uint64_t flags[] = {
		1, 2, 4, 0x80, 1ULL << 31, 1ULL << 32, 1ULL << 62, ~0ULL,
		KL_PF_WRITE | 1, KL_PF_WRITE | (1ULL << 62),
	};
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	unsigned int i;

	for (i = 0; i < TAP_ARRAY_SIZE(flags); i++)
		expect_err(vcpu, KL_CODE_GPA, PAGE, flags[i], EINVAL);
	/*
	 * Bit 63 is kvm-prefault's write-intent flag where the kernel has
	 * it (see write_intent); upstream refuses it like any other flag.
	 */
	if (!g_write_known)
		expect_err(vcpu, KL_CODE_GPA, PAGE, 1ULL << 63, EINVAL);
	kl_vm_free(vm);
}

static void test_einval_unaligned_gpa(void)
{
	static const uint64_t off[] = { 1, 8, 0x800, 0xfff };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	unsigned int i;

	for (i = 0; i < TAP_ARRAY_SIZE(off); i++) {
		expect_err(vcpu, KL_CODE_GPA + off[i], PAGE, 0, EINVAL);
		expect_err(vcpu, off[i], 2 * PAGE, 0, EINVAL);
	}
	kl_vm_free(vm);
}

static void test_einval_unaligned_size(void)
{
	static const uint64_t size[] = { 1, 0x800, 0xfff, 0x1001, 0x1800,
					 ~0ULL };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	unsigned int i;

	for (i = 0; i < TAP_ARRAY_SIZE(size); i++)
		expect_err(vcpu, KL_CODE_GPA, size[i], 0, EINVAL);
	kl_vm_free(vm);
}

static void test_einval_size_zero(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);

	expect_err(vcpu, KL_CODE_GPA, 0, 0, EINVAL);
	expect_err(vcpu, 0, 0, 0, EINVAL);
	expect_err(vcpu, 3 * GiB, 0, 0, EINVAL);
	kl_vm_free(vm);
}

static void test_einval_overflow(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	const uint64_t top = ~0ULL & ~(PAGE - 1);	/* last page */

	expect_err(vcpu, top, PAGE, 0, EINVAL);		/* end wraps to 0 */
	expect_err(vcpu, top, 2 * PAGE, 0, EINVAL);
	expect_err(vcpu, KL_CODE_GPA, top, 0, EINVAL);
	expect_err(vcpu, KL_CODE_GPA, ~0ULL - KL_CODE_GPA + 1, 0, EINVAL);
	expect_err(vcpu, 1ULL << 63, 1ULL << 63, 0, EINVAL);
	kl_vm_free(vm);
}

static void expect_efault_ptr(struct kl_vcpu *vcpu, void *arg,
			      const char *what)
{
	int ret = ioctl(vcpu->fd, KVM_PRE_FAULT_MEMORY, arg);

	TEST_ASSERT(ret == -1 && errno == EFAULT,
		    "%s (%p): ret %d, want -1/EFAULT", what, arg, ret);
}

static void test_efault_bad_pointer(void)
{
	struct kvm_pre_fault_memory good = { .gpa = KL_CODE_GPA,
					     .size = PAGE };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	char *pages = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	TEST_ASSERT(pages != MAP_FAILED, "mmap");
	expect_efault_ptr(vcpu, NULL, "NULL");
	expect_efault_ptr(vcpu, (void *)1, "(void *)1");
	expect_efault_ptr(vcpu, (void *)0xffffffff81000000ULL,
			  "kernel address");
	expect_efault_ptr(vcpu, (void *)(1ULL << 63), "non-canonical");

	/* Page 2 unmapped; page 1 PROT_NONE; page 0 read-only. */
	TEST_ASSERT(!munmap(pages + 2 * PAGE, PAGE), "munmap");
	expect_efault_ptr(vcpu, pages + 2 * PAGE, "unmapped page");
	TEST_ASSERT(!mprotect(pages + PAGE, PAGE, PROT_NONE), "mprotect");
	expect_efault_ptr(vcpu, pages + PAGE, "PROT_NONE page");

	/* The struct straddles a readable page and a PROT_NONE one. */
	memcpy(pages + PAGE - 32, &good, 32);
	expect_efault_ptr(vcpu, pages + PAGE - 32, "straddling PROT_NONE");

	/*
	 * Readable but not writable: the request is read and carried out,
	 * then writing back the leftover range fails.
	 */
	memcpy(pages, &good, sizeof(good));
	TEST_ASSERT(!mprotect(pages, PAGE, PROT_READ), "mprotect");
	expect_efault_ptr(vcpu, pages, "read-only struct");

	munmap(pages, 2 * PAGE);
	kl_vm_free(vm);
}

static void test_enoent_no_memslot(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	add_data_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, 4 * MiB, KL_MEM_4K);
	/* Past the last memslot, and in the hole between the two. */
	expect_err(vcpu, KL_DATA_GPA + 4 * MiB, PAGE, 0, ENOENT);
	expect_err(vcpu, 3 * GiB, 2 * MiB, 0, ENOENT);
	expect_err(vcpu, 1ULL << 38, PAGE, 0, ENOENT);
	expect_err(vcpu, KL_CODE_SLOT_SIZE, PAGE, 0, ENOENT);
	expect_err(vcpu, KL_DATA_GPA - PAGE, 2 * PAGE, 0, ENOENT);
	kl_vm_free(vm);
}

static void test_memslot_hole(void)
{
	const uint64_t a = KL_DATA_GPA, b = KL_DATA_GPA + 2 * MiB;
	struct kvm_pre_fault_memory r = { .gpa = a + MiB - 2 * PAGE,
					  .size = MiB + 4 * PAGE };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	int ret;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	/* [a, a+1M) and [b, b+1M): a 1 MiB hole at a+1M. */
	add_data_slot(vm, 1, 0, a, MiB, KL_MEM_4K);
	add_data_slot(vm, 2, 0, b, MiB, KL_MEM_4K);

	ret = kl_pre_fault(vcpu, &r);
	errno = -ret;
	TEST_ASSERT(!ret, "range into the hole must make partial progress");
	TEST_ASSERT(r.gpa == a + MiB && r.size == MiB + 2 * PAGE,
		    "stopped at gpa %#llx size %#llx, want %#" PRIx64
		    " size %#" PRIx64, r.gpa, r.size, a + MiB, MiB + 2 * PAGE);
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(ret == -ENOENT && r.gpa == a + MiB &&
		    r.size == MiB + 2 * PAGE,
		    "re-issue at the hole: ret %d gpa %#llx size %#llx", ret,
		    r.gpa, r.size);
	/* Skipping the hole, the rest goes through. */
	r.gpa = b;
	r.size = 2 * PAGE;
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(!ret && !r.size && r.gpa == b + 2 * PAGE,
		    "after the hole: ret %d gpa %#llx size %#llx", ret, r.gpa,
		    r.size);
	kl_vm_free(vm);
}

static void test_progress_reissue(void)
{
	const uint64_t size = 64 * MiB;
	struct kvm_pre_fault_memory r = { .gpa = KL_DATA_GPA, .size = size };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint64_t p4k = 0;
	unsigned int calls;
	bool stats;
	int ret;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	add_data_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, size, KL_MEM_4K);
	stats = stats_ok(vm);
	if (stats)
		p4k = kl_stat(vm, "pages_4k");

	ret = kl_pre_fault_loop(vcpu, &r, &calls);
	errno = -ret;
	TEST_ASSERT(!ret && !r.size && r.gpa == KL_DATA_GPA + size,
		    "stopped at %#llx+%#llx", r.gpa, r.size);
	tap_diag("64 MiB in %u call(s)", calls);
	if (stats) {
		uint64_t d = kl_stat(vm, "pages_4k") - p4k;

		TEST_ASSERT(d == size / PAGE,
			    "pages_4k grew by %" PRIu64 ", want %" PRIu64, d,
			    size / PAGE);
	}

	/* Again over the mapped range: success, nothing new mapped. */
	r.gpa = KL_DATA_GPA;
	r.size = size;
	ret = kl_pre_fault_loop(vcpu, &r, &calls);
	errno = -ret;
	TEST_ASSERT(!ret, "re-pre-fault of a mapped range");
	if (stats)
		TEST_ASSERT_EQ(kl_stat(vm, "pages_4k") - p4k, size / PAGE);

	/* Sub-ranges, one page at a time at both ends. */
	kl_pre_fault_range(vcpu, KL_DATA_GPA, PAGE);
	kl_pre_fault_range(vcpu, KL_DATA_GPA + size - PAGE, PAGE);
	kl_vm_free(vm);
}

static void test_padding_ignored(void)
{
	struct kvm_pre_fault_memory r = { .gpa = KL_CODE_GPA, .size = PAGE };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	unsigned int i;
	int ret;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	for (i = 0; i < 5; i++)
		r.padding[i] = 0x0123456789abcdefULL * (i + 1);
	ret = kl_pre_fault(vcpu, &r);
	errno = -ret;
	/* Upstream neither checks nor clears the padding. */
	TEST_ASSERT(!ret && !r.size, "non-zero padding: ret %d", ret);
	for (i = 0; i < 5; i++)
		TEST_ASSERT(r.padding[i] == 0x0123456789abcdefULL * (i + 1),
			    "padding[%u] changed to %#llx", i, r.padding[i]);
	kl_vm_free(vm);
}

/* ---- signals ---- */

static volatile sig_atomic_t g_signals;

static void count_signal(int sig)
{
	(void)sig;
	g_signals++;
}

static void install_handler(int sig)
{
	struct sigaction sa = { .sa_handler = count_signal };

	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the ioctl must return EINTR to us. */
	TEST_ASSERT(!sigaction(sig, &sa, NULL), "sigaction");
}

struct sig_stats {
	unsigned int calls, eintr, partial;
	bool misaligned_2m;
};

/* Pre-fault until done while signals rain; check the EINTR rules. */
static void prefault_under_signals(struct kl_vcpu *vcpu, uint64_t gpa,
				   uint64_t size, double budget_s,
				   struct sig_stats *st)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = size };
	double deadline = tap_now() + budget_s;

	memset(st, 0, sizeof(*st));
	while (r.size) {
		struct kvm_pre_fault_memory before = r;
		int ret = kl_pre_fault(vcpu, &r);

		st->calls++;
		if (ret == -EINTR) {
			TEST_ASSERT(r.gpa == before.gpa &&
				    r.size == before.size,
				    "EINTR but progress was reported: %#llx -> "
				    "%#llx", before.gpa, r.gpa);
			st->eintr++;
		} else {
			errno = -ret;
			TEST_ASSERT(!ret, "pre-fault under signals at %#llx",
				    before.gpa);
			TEST_ASSERT(r.size < before.size &&
				    r.gpa + r.size == before.gpa + before.size,
				    "bad progress %#llx+%#llx -> %#llx+%#llx",
				    before.gpa, before.size, r.gpa, r.size);
			if (r.size) {
				st->partial++;
				if (r.gpa % HPAGE)
					st->misaligned_2m = true;
			}
		}
		TEST_ASSERT(tap_now() < deadline,
			    "not done after %.0f s: %u calls, %u EINTR, at "
			    "%#llx", budget_s, st->calls, st->eintr, r.gpa);
	}
}

static void test_signal_itimer_1g(void)
{
	const uint64_t size = GiB;
	struct itimerval it = {
		.it_interval = { .tv_usec = 1000 },
		.it_value = { .tv_usec = 1000 },
	};
	struct itimerval off = { 0 };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	struct sig_stats st;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	/* Never touched by the host: read faults map the zero page. */
	add_data_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, size, KL_MEM_4K);
	install_handler(SIGALRM);
	TEST_ASSERT(!setitimer(ITIMER_REAL, &it, NULL), "setitimer");
	prefault_under_signals(vcpu, KL_DATA_GPA, size, 45, &st);
	setitimer(ITIMER_REAL, &off, NULL);
	tap_diag("1 GiB: %u calls, %u EINTR, %u partial, %d signals",
		 st.calls, st.eintr, st.partial, (int)g_signals);
	kl_vm_free(vm);
}

/*
 * Sends SIGUSR1 to target every period_us, or, with jitter_us, at random
 * intervals in [period_us, period_us + jitter_us).  Signals must be spaced
 * wider than one pre-fault step or every call fails with EINTR.
 */
struct killer {
	pthread_t target;
	volatile bool stop;
	unsigned int period_us, jitter_us;
};

static void *killer_thread(void *arg)
{
	struct killer *k = arg;
	unsigned int x = 12345;

	while (!k->stop) {
		pthread_kill(k->target, SIGUSR1);
		x = x * 1103515245 + 12345;
		usleep(k->period_us +
		       (k->jitter_us ? (x >> 8) % k->jitter_us : 0));
	}
	return NULL;
}

static void test_signal_thread(void)
{
	const uint64_t size = 256 * MiB;
	struct killer k = { .target = pthread_self(), .period_us = 200 };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	struct sig_stats st;
	pthread_t t;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	add_data_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, size, KL_MEM_4K);
	install_handler(SIGUSR1);
	TEST_ASSERT(!pthread_create(&t, NULL, killer_thread, &k),
		    "pthread_create");
	prefault_under_signals(vcpu, KL_DATA_GPA, size, 45, &st);
	k.stop = true;
	pthread_join(t, NULL);
	tap_diag("256 MiB: %u calls, %u EINTR, %u partial, %d signals",
		 st.calls, st.eintr, st.partial, (int)g_signals);

	/* The range is really mapped: a read pass takes no fault. */
	/* Never written: all zeroes, so the checksum is 0. */
	TEST_ASSERT_EQ(guest_read_no_fault(vm, vcpu, KL_DATA_GPA, size / PAGE),
		       0);
	kl_vm_free(vm);
}

/* ---- memslot updates racing with pre-faults ---- */

struct slot_racer {
	struct tap_watchdog wd;
	struct kl_vm *vm;
	void *hva;
	uint64_t gpa, size;
	volatile bool stop;
	unsigned int updates;
	int error;
};

static void *slot_racer_thread(void *arg)
{
	struct slot_racer *s = arg;

	while (!s->stop) {
		uint64_t gpa = s->gpa;
		int r;

		switch (s->updates % 3) {
		case 0:		/* delete, then re-add */
			r = kl_ioctl_region1(s->vm, DATA_SLOT, 0, 0, 0, 0);
			if (!r)
				usleep(100);
			break;
		case 1:		/* move away */
			gpa = s->gpa + 2 * s->size;
			/* fall through */
		default:	/* (re-)add or move back */
			r = kl_ioctl_region1(s->vm, DATA_SLOT, 0, gpa,
					     s->size, (uintptr_t)s->hva);
			break;
		}
		if (r) {
			s->error = -r;
			break;
		}
		tap_watchdog_kick(&s->wd);
		s->updates++;
		usleep(200);
	}
	return NULL;
}

static void test_memslot_delete_race(void)
{
	const uint64_t size = 64 * MiB;
	struct slot_racer s = { .gpa = KL_DATA_GPA, .size = size };
	unsigned int ok = 0, eagain = 0, enoent = 0, calls = 0;
	struct tap_watchdog wd;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	double end;
	pthread_t t;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	s.vm = vm;
	s.hva = kl_mem_alloc(size, KL_MEM_4K);
	TEST_ASSERT(s.hva, "alloc");
	/* The racer uses the old ioctl: the slot stays out of kvm_lite's table. */
	TEST_ASSERT(!kl_ioctl_region1(vm, DATA_SLOT, 0, s.gpa, size,
				      (uintptr_t)s.hva), "add slot");
	/*
	 * A memslot update waits for SRCU readers; a pre-fault that retries
	 * on the invalid slot under SRCU never lets it finish (upstream
	 * before 6.18).  Each side must keep making progress.
	 */
	tap_watchdog_start(&s.wd, 15, "memslot update blocked while "
			   "pre-faulting (deadlock?)");
	tap_watchdog_start(&wd, 15, "KVM_PRE_FAULT_MEMORY stuck while the "
			   "memslot changes (deadlock?)");
	TEST_ASSERT(!pthread_create(&t, NULL, slot_racer_thread, &s),
		    "pthread_create");

	end = tap_now() + 4;
	while (tap_now() < end) {
		struct kvm_pre_fault_memory r = { .gpa = s.gpa, .size = size };
		struct kvm_pre_fault_memory before = r;
		int ret = kl_pre_fault(vcpu, &r);

		tap_watchdog_kick(&wd);
		calls++;
		if (!ret) {
			ok++;
			TEST_ASSERT(r.size < before.size &&
				    r.gpa + r.size == before.gpa + before.size,
				    "bad progress to %#llx+%#llx", r.gpa,
				    r.size);
		} else if (ret == -EAGAIN) {
			eagain++;
		} else if (ret == -ENOENT) {
			enoent++;
		} else {
			errno = -ret;
			TEST_ASSERT(0, "pre-fault racing with memslot updates");
		}
		if (ret)
			TEST_ASSERT(r.gpa == before.gpa &&
				    r.size == before.size,
				    "error %d moved the range", ret);
	}
	tap_watchdog_stop(&wd);
	s.stop = true;
	pthread_join(t, NULL);
	tap_watchdog_stop(&s.wd);
	errno = s.error;
	TEST_ASSERT(!s.error, "memslot update failed");
	tap_diag("%u calls (%u ok, %u EAGAIN, %u ENOENT), %u slot updates",
		 calls, ok, eagain, enoent, s.updates);
	TEST_ASSERT(s.updates > 3 && calls > 3, "the race barely ran");

	/* Settle: slot back in place, then it all works. */
	TEST_ASSERT(!kl_ioctl_region1(vm, DATA_SLOT, 0, s.gpa, size,
				      (uintptr_t)s.hva), "re-add slot");
	kl_slot_track(vm, DATA_SLOT, 0, s.gpa, size, s.hva);
	kl_pre_fault_range(vcpu, s.gpa, size);
	kl_fill_pattern(s.hva, 16, 9);
	TEST_ASSERT_EQ(guest_read(vcpu, s.gpa, 16), expected_sum(16, 1, 9));
	kl_vm_free(vm);
}

/*
 * Deleting or moving a memslot makes the vCPU's MMU roots obsolete; the
 * vCPU only replaces them on its next entry.  A pre-fault must not spin on
 * the obsolete root (upstream fixed this after 6.11): each call below has
 * to finish.
 */
static void test_prefault_after_memslot_update(void)
{
	const uint64_t size = 4 * MiB;
	const uint64_t g1 = KL_DATA_GPA, g2 = KL_DATA_GPA + 64 * MiB;
	const uint64_t g1moved = KL_DATA_GPA + 128 * MiB;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	void *h1;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	h1 = add_data_slot(vm, 1, 0, g1, size, KL_MEM_4K);
	add_data_slot(vm, 2, 0, g2, size, KL_MEM_4K);
	kl_fill_pattern(h1, size / PAGE, 12);
	kl_pre_fault_range(vcpu, g1, size);

	/* Another slot goes away: the mapped one pre-faults again. */
	kl_add_slot(vm, 2, 0, g2, 0, NULL);
	kl_pre_fault_range(vcpu, g1, size);
	expect_err(vcpu, g2, size, 0, ENOENT);

	/* The slot itself moves. */
	kl_add_slot(vm, 1, 0, g1moved, size, h1);
	kl_pre_fault_range(vcpu, g1moved, size);
	expect_err(vcpu, g1, size, 0, ENOENT);

	/* Twice in a row without running the vCPU in between. */
	kl_add_slot(vm, 1, 0, g1, size, h1);
	kl_add_slot(vm, 2, 0, g2, size, kl_mem_alloc(size, KL_MEM_4K));
	kl_add_slot(vm, 2, 0, g2, 0, NULL);
	kl_pre_fault_range(vcpu, g1, size);

	TEST_ASSERT_EQ(guest_read_no_fault(vm, vcpu, g1, size / PAGE),
		       expected_sum(size / PAGE, 1, 12));
	kl_vm_free(vm);
}

/* ---- two vCPUs at once ---- */

struct pf_job {
	struct kl_vcpu *vcpu;
	uint64_t gpa, size;
	pthread_barrier_t *barrier;
	int ret;
	unsigned int calls;
};

static void *pf_job_thread(void *arg)
{
	struct pf_job *j = arg;
	struct kvm_pre_fault_memory r = { .gpa = j->gpa, .size = j->size };

	pthread_barrier_wait(j->barrier);
	j->ret = kl_pre_fault_loop(j->vcpu, &r, &j->calls);
	return NULL;
}

static void run_two(struct kl_vcpu *v0, struct kl_vcpu *v1, uint64_t g0,
		    uint64_t s0, uint64_t g1, uint64_t s1)
{
	pthread_barrier_t b;
	struct pf_job j[2] = {
		{ .vcpu = v0, .gpa = g0, .size = s0, .barrier = &b },
		{ .vcpu = v1, .gpa = g1, .size = s1, .barrier = &b },
	};
	pthread_t t[2];
	int i;

	pthread_barrier_init(&b, NULL, 2);
	for (i = 0; i < 2; i++)
		TEST_ASSERT(!pthread_create(&t[i], NULL, pf_job_thread, &j[i]),
			    "pthread_create");
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&b);
	for (i = 0; i < 2; i++) {
		errno = -j[i].ret;
		TEST_ASSERT(!j[i].ret, "vCPU %d pre-fault", i);
	}
	tap_diag("calls: %u and %u", j[0].calls, j[1].calls);
}

static void test_two_vcpus(void)
{
	const uint64_t size = 64 * MiB;
	const uint64_t g1 = KL_DATA_GPA, g2 = KL_DATA_GPA + 128 * MiB;
	struct kl_vcpu *v0, *v1;
	struct kl_vm *vm;
	void *h1, *h2;
	uint64_t p4k = 0;
	bool stats;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&v0);
	v1 = kl_vcpu_add(vm, 1);
	h1 = add_data_slot(vm, 1, 0, g1, size, KL_MEM_4K);
	h2 = add_data_slot(vm, 2, 0, g2, size, KL_MEM_4K);
	kl_fill_pattern(h1, size / PAGE, 3);
	kl_fill_pattern(h2, size / PAGE, 4);
	stats = stats_ok(vm);

	/* Same range from both. */
	if (stats)
		p4k = kl_stat(vm, "pages_4k");
	run_two(v0, v1, g1, size, g1, size);
	if (stats)
		TEST_ASSERT_EQ(kl_stat(vm, "pages_4k") - p4k, size / PAGE);

	/* Different halves of another slot. */
	if (stats)
		p4k = kl_stat(vm, "pages_4k");
	run_two(v0, v1, g2, size / 2, g2 + size / 2, size / 2);
	if (stats)
		TEST_ASSERT_EQ(kl_stat(vm, "pages_4k") - p4k, size / PAGE);

	/* Overlapping ranges, in opposite halves first. */
	run_two(v0, v1, g1, size, g1 + size / 2, size / 2);

	/* Both vCPUs see the data, without faults. */
	TEST_ASSERT_EQ(guest_read_no_fault(vm, v0, g1, size / PAGE),
		       expected_sum(size / PAGE, 1, 3));
	TEST_ASSERT_EQ(guest_read_no_fault(vm, v1, g2, size / PAGE),
		       expected_sum(size / PAGE, 1, 4));
	kl_vm_free(vm);
}

/* ---- backing page sizes ---- */

/*
 * Signals while pre-faulting a 2 MiB-mapped range: every partial result
 * must end on a 2 MiB boundary, because one step maps a whole huge page.
 */
static void huge_progress_steps(struct kl_vm *vm, struct kl_vcpu *vcpu,
				uint64_t size, void *hva)
{
	struct killer k = { .target = pthread_self(), .period_us = 50,
			    .jitter_us = 2000 };
	unsigned int partial = 0, eintr = 0, rounds = 0;
	double end = tap_now() + 4;
	pthread_t t;

	install_handler(SIGUSR1);
	TEST_ASSERT(!pthread_create(&t, NULL, killer_thread, &k),
		    "pthread_create");
	while (tap_now() < end && rounds < 64) {
		/*
		 * Each round a new memslot aliasing the same memory, so that
		 * nothing is mapped yet (deleting or moving a slot would test
		 * the MMU reload instead: prefault_after_memslot_update).
		 */
		uint64_t alias = 4 * GiB + rounds * size;
		struct sig_stats st;

		kl_add_slot(vm, 10 + rounds, 0, alias, size, hva);
		prefault_under_signals(vcpu, alias, size, 20, &st);
		TEST_ASSERT(!st.misaligned_2m,
			    "partial progress stopped inside a 2 MiB mapping");
		partial += st.partial;
		eintr += st.eintr;
		rounds++;
	}
	k.stop = true;
	pthread_join(t, NULL);
	tap_diag("huge steps: %u rounds, %u partial results (all 2 MiB "
		 "aligned), %u EINTR", rounds, partial, eintr);
}

static void backing_case(enum kl_backing b)
{
	const uint64_t size = 32 * MiB, gpa = KL_DATA_GPA;
	const bool huge = b != KL_MEM_4K;
	struct kvm_pre_fault_memory r;
	uint64_t p4k = 0, p2m = 0, d4k, d2m;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	bool stats;
	void *hva;
	int ret;

	need_tdp();
	if (b == KL_MEM_THP) {
		const char *m = kl_thp_mode();

		if (!m || !strcmp(m, "never"))
			tap_skip("transparent hugepages are %s",
				 m ? m : "not built in");
	}
	if (b == KL_MEM_HUGETLB && !kl_hugetlb_reserve(size / HPAGE))
		tap_skip("cannot reserve %" PRIu64 " 2 MiB hugetlb pages",
			 size / HPAGE);

	vm = kl_vm_create_with_vcpu(&vcpu);
	stats = stats_ok(vm);
	if (!stats && !kl_faults_available(vm)) {
		kl_hugetlb_restore();
		tap_skip("no pages_4k/pages_2m statistics and none to count "
			 "faults with");
	}
	hva = kl_mem_alloc(size, b);
	if (!hva && b == KL_MEM_HUGETLB) {
		kl_hugetlb_restore();
		tap_skip("MAP_HUGETLB failed: %s", strerror(errno));
	}
	TEST_ASSERT(hva, "alloc");
	kl_fill_pattern(hva, size / PAGE, 5);
	if (b == KL_MEM_THP && kl_anon_huge_kb(hva) < (long)(size >> 10))
		tap_skip("the host backed only %ld of %" PRIu64
			 " KiB with THPs", kl_anon_huge_kb(hva), size >> 10);
	kl_add_slot(vm, DATA_SLOT, 0, gpa, size, hva);

	if (stats) {
		p4k = kl_stat(vm, "pages_4k");
		p2m = kl_stat(vm, "pages_2m");
	}

	/* One 4 KiB page inside the first huge page. */
	r = (struct kvm_pre_fault_memory){ .gpa = gpa + PAGE, .size = PAGE };
	ret = kl_pre_fault(vcpu, &r);
	errno = -ret;
	TEST_ASSERT(!ret && !r.size && r.gpa == gpa + 2 * PAGE,
		    "one page: gpa %#llx size %#llx", r.gpa, r.size);
	if (stats) {
		d4k = kl_stat(vm, "pages_4k") - p4k;
		d2m = kl_stat(vm, "pages_2m") - p2m;
		/*
		 * The shadow-style MMU (kvm.tdp_mmu=0) also maps up to 8
		 * aligned neighbours of a 4K fault ("prefetch"); the TDP
		 * MMU maps one.
		 */
		TEST_ASSERT(huge ? (d2m == 1 && d4k == 0) :
			    (d2m == 0 && d4k >= 1 && d4k <= 8),
			    "one page mapped as %" PRIu64 " x 4K + %" PRIu64
			    " x 2M", d4k, d2m);
	} else {
		/*
		 * No mapping-level statistics (arm64): a huge mapping lets
		 * the guest read its whole 2 MiB without a fault, 4K
		 * mappings fault on every other page.
		 */
		uint32_t sum;
		struct kl_fault_range fr = guest_read_faults(vm, vcpu, gpa,
							     HPAGE / PAGE,
							     &sum);

		TEST_ASSERT_EQ(sum, expected_sum(HPAGE / PAGE, 1, 5));
		tap_diag("2 MiB after pre-faulting one page: %" PRIu64
			 " faults (up to %" PRIu64 ")", fr.lo, fr.hi);
		if (huge)
			KL_ASSERT_NO_FAULTS(fr, "reading the huge page of a "
					    "pre-faulted 4 KiB page");
		else
			TEST_ASSERT(fr.hi >= HPAGE / PAGE - 1,
				    "4K backing: %" PRIu64 " faults reading "
				    "2 MiB with one page pre-faulted, want >= "
				    "%" PRIu64, fr.hi, HPAGE / PAGE - 1);
	}

	/* A range ending mid huge page: progress stops exactly at its end. */
	r = (struct kvm_pre_fault_memory){ .gpa = gpa + 3 * PAGE,
					   .size = HPAGE };
	ret = kl_pre_fault(vcpu, &r);
	errno = -ret;
	TEST_ASSERT(!ret && !r.size && r.gpa == gpa + 3 * PAGE + HPAGE,
		    "mid-huge-page end: gpa %#llx size %#llx", r.gpa, r.size);

	kl_pre_fault_range(vcpu, gpa, size);
	if (stats) {
		d4k = kl_stat(vm, "pages_4k") - p4k;
		d2m = kl_stat(vm, "pages_2m") - p2m;
		tap_diag("32 MiB mapped as %" PRIu64 " x 4K + %" PRIu64
			 " x 2M", d4k, d2m);
		if (huge)
			TEST_ASSERT(d2m == size / HPAGE && d4k == 0,
				    "want %" PRIu64 " x 2M", size / HPAGE);
		else
			TEST_ASSERT(d4k == size / PAGE && d2m == 0,
				    "want %" PRIu64 " x 4K", size / PAGE);
	}

	/* Right data, no fault. */
	TEST_ASSERT_EQ(guest_read_no_fault(vm, vcpu, gpa, size / PAGE),
		       expected_sum(size / PAGE, 1, 5));

	if (huge)
		huge_progress_steps(vm, vcpu, size, hva);
	kl_vm_free(vm);
	kl_mem_free(hva, size);
	kl_hugetlb_restore();
}

static void test_backing_4k(void)
{
	backing_case(KL_MEM_4K);
}

static void test_backing_thp(void)
{
	backing_case(KL_MEM_THP);
}

static void test_backing_hugetlb(void)
{
	backing_case(KL_MEM_HUGETLB);
}

/* ---- memslot flags ---- */

static void test_readonly_memslot(void)
{
	const uint64_t size = 4 * MiB;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint64_t p4k = 0;
	bool stats;
	void *hva;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	hva = kl_mem_alloc(size, KL_MEM_4K);
	TEST_ASSERT(hva, "alloc");
	kl_fill_pattern(hva, size / PAGE, 6);
	kl_add_slot(vm, DATA_SLOT, KVM_MEM_READONLY, KL_DATA_GPA, size, hva);
	stats = stats_ok(vm);
	if (stats)
		p4k = kl_stat(vm, "pages_4k");
	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	if (stats)
		TEST_ASSERT_EQ(kl_stat(vm, "pages_4k") - p4k, size / PAGE);
	TEST_ASSERT_EQ(guest_read_no_fault(vm, vcpu, KL_DATA_GPA, size / PAGE),
		       expected_sum(size / PAGE, 1, 6));
	kl_vm_free(vm);
}

static unsigned long *get_dirty_log(struct kl_vm *vm, uint32_t slot,
				    uint64_t npages)
{
	unsigned long *bm = calloc((npages + 63) / 64, 8);
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bm };

	TEST_ASSERT(bm, "calloc");
	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log),
		    "KVM_GET_DIRTY_LOG");
	return bm;
}

static bool bit(const unsigned long *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

/*
 * Pages set in the log vs pages written (count pages, every stride-th
 * from first).
 * Returns the number of dirty pages that were not written.
 */
static uint64_t check_log(const unsigned long *bm, uint64_t npages,
			  uint64_t first, uint64_t stride, uint64_t count)
{
	uint64_t i, extra = 0;

	for (i = 0; i < npages; i++) {
		bool written = i >= first && (i - first) % stride == 0 &&
			       (i - first) / stride < count;

		TEST_ASSERT(!written || bit(bm, i),
			    "page %" PRIu64 " was written but is not dirty", i);
		if (!written && bit(bm, i))
			extra++;
	}
	return extra;
}

static void test_dirty_log(void)
{
	const uint64_t size = 4 * MiB, npages = size / PAGE;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	unsigned long *bm;
	uint64_t extra;
	void *hva;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);

	/* Untouched memory: pre-fault can only map the zero page. */
	hva = add_data_slot(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES,
			    KL_DATA_GPA, size, KL_MEM_4K);
	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	guest_write(vcpu, KL_DATA_GPA, npages / 3, 3 * PAGE, 0x5a);
	bm = get_dirty_log(vm, DATA_SLOT, npages);
	extra = check_log(bm, npages, 0, 3, npages / 3);
	TEST_ASSERT(!extra, "%" PRIu64 " pages dirty but never written",
		    extra);
	free(bm);
	TEST_ASSERT(((uint8_t *)hva)[3 * PAGE] == 0x5a, "guest write lost");

	/* Host-populated memory, in a second slot. */
	hva = add_data_slot(vm, DATA_SLOT + 1, KVM_MEM_LOG_DIRTY_PAGES,
			    KL_DATA_GPA + 64 * MiB, size, KL_MEM_4K);
	memset(hva, 1, size);
	kl_pre_fault_range(vcpu, KL_DATA_GPA + 64 * MiB, size);
	guest_write(vcpu, KL_DATA_GPA + 64 * MiB + PAGE, npages / 4, 4 * PAGE,
		    0x6b);
	bm = get_dirty_log(vm, DATA_SLOT + 1, npages);
	extra = check_log(bm, npages, 1, 4, npages / 4);
	free(bm);
	tap_diag("populated memory: %" PRIu64 " pages dirty after pre-fault "
		 "without a write (allowed: mapped writable)", extra);
	/* After the log was harvested, exactly the written pages. */
	guest_write(vcpu, KL_DATA_GPA + 64 * MiB + 2 * PAGE, npages / 5 - 1,
		    5 * PAGE, 0x7c);
	bm = get_dirty_log(vm, DATA_SLOT + 1, npages);
	extra = check_log(bm, npages, 2, 5, npages / 5 - 1);
	free(bm);
	TEST_ASSERT(!extra, "%" PRIu64 " pages dirty but never written",
		    extra);
	kl_vm_free(vm);
}

/* ---- no fault after pre-fault ---- */

static void test_no_fault_before_first_run(void)
{
	const uint64_t size = 64 * MiB;
	struct kl_fault_range fr;
	struct kl_vcpu *vcpu;
	struct kl_faults f;
	struct kl_vm *vm;
	void *hva;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	if (!kl_faults_available(vm))
		tap_skip("no statistics to count faults with (%s)",
			 kl_faults_what());
	hva = add_data_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, size, KL_MEM_4K);
	kl_fill_pattern(hva, size / PAGE, 7);
	/*
	 * Load the code before pre-faulting (the host's first write to the
	 * code page replaces the zero page, which would zap the mapping),
	 * but do not run: this vCPU never entered the guest yet.
	 */
	kl_guest_load(vcpu, KL_BLOB(guest_read_pass),
		      &(struct kl_args){ .addr = KL_DATA_GPA,
					 .count = size / PAGE, .stride = PAGE });
	kl_pre_fault_range(vcpu, 0, KL_CODE_SLOT_SIZE);
	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	kl_faults_begin(vm, &f);
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), expected_sum(size / PAGE, 1, 7));
	fr = kl_faults_end(vm, &f);
	tap_diag("faults: %" PRIu64 " (up to %" PRIu64 "; %s)", fr.lo, fr.hi,
		 kl_faults_what());
	KL_ASSERT_NO_FAULTS(fr, "first run, over %" PRIu64 " pre-faulted "
			    "pages", size / PAGE);
	kl_vm_free(vm);
}

static void test_no_fault_after_runs(void)
{
	const uint64_t size = 32 * MiB;
	const uint64_t ga = KL_DATA_GPA, gb = KL_DATA_GPA + 256 * MiB;
	struct kl_fault_range fr;
	struct kl_vcpu *vcpu;
	struct kl_faults f;
	struct kl_vm *vm;
	void *ha, *hb;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	if (!kl_faults_available(vm))
		tap_skip("no statistics to count faults with (%s)",
			 kl_faults_what());
	ha = add_data_slot(vm, 1, 0, ga, size, KL_MEM_4K);
	hb = add_data_slot(vm, 2, 0, gb, size, KL_MEM_4K);
	kl_fill_pattern(ha, size / PAGE, 8);
	kl_fill_pattern(hb, size / PAGE, 9);

	/* Run without pre-faulting: this takes faults. */
	kl_faults_begin(vm, &f);
	TEST_ASSERT_EQ(guest_read(vcpu, ga, size / PAGE),
		       expected_sum(size / PAGE, 1, 8));
	guest_write(vcpu, ga, size / PAGE, PAGE, 0x11);
	fr = kl_faults_end(vm, &f);
	tap_diag("without pre-fault: %" PRIu64 " faults (up to %" PRIu64
		 "; %s)", fr.lo, fr.hi, kl_faults_what());
	/* One per page, or one per 8 with the legacy MMU's prefetch. */
	TEST_ASSERT(fr.hi >= size / PAGE / 8,
		    "expected faults without pre-fault");

	/* Now pre-fault the other slot and read it: no fault. */
	kl_pre_fault_range(vcpu, gb, size);
	TEST_ASSERT_EQ(guest_read_no_fault(vm, vcpu, gb, size / PAGE),
		       expected_sum(size / PAGE, 1, 9));

	/* And the already mapped one pre-faults as a no-op. */
	kl_pre_fault_range(vcpu, ga, size);
	kl_vm_free(vm);
}

/* ---- kvm-prefault's write-intent flag ---- */

static void test_write_intent(void)
{
	const uint64_t size = 16 * MiB, npages = size / PAGE;
	const uint64_t g1 = KL_DATA_GPA, g2 = KL_DATA_GPA + 64 * MiB;
	const uint64_t g3 = KL_DATA_GPA + 128 * MiB;
	struct kvm_dirty_log log = { .slot = 3 };
	struct kvm_pre_fault_memory r;
	uint64_t p4k = 0, i;
	struct kl_vcpu *vcpu;
	struct kl_faults f;
	struct kl_vm *vm;
	unsigned long *bm;
	void *hva;
	long anon;
	bool stats;
	int ret;

	if (!g_write_known)
		tap_skip("KVM_PRE_FAULT_MEMORY_WRITE (kvm-prefault extension) "
			 "not supported by this KVM");
	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	stats = stats_ok(vm);

	/* Untouched memory: populated writable by the pre-fault itself. */
	hva = add_data_slot(vm, 1, 0, g1, size, KL_MEM_4K);
	load_write(vcpu, g1, npages, PAGE, 0x42);	/* code first... */
	kl_pre_fault_range(vcpu, 0, KL_CODE_SLOT_SIZE);	/* ...mapped */
	if (stats)
		p4k = kl_stat(vm, "pages_4k");
	r = (struct kvm_pre_fault_memory){ .gpa = g1, .size = size,
					   .flags = KL_PF_WRITE };
	ret = kl_pre_fault_loop(vcpu, &r, NULL);
	errno = -ret;
	TEST_ASSERT(!ret, "write-intent pre-fault of untouched memory");
	anon = kl_smaps_kb(hva, "Anonymous");
	tap_diag("host memory: %ld KiB anonymous of %" PRIu64 " KiB", anon,
		 size >> 10);
	TEST_ASSERT(anon == (long)(size >> 10),
		    "host memory not populated (zero page mapped?)");
	if (stats)
		TEST_ASSERT_EQ(kl_stat(vm, "pages_4k") - p4k, npages);

	/* The guest's first writes take no fault at all. */
	kl_faults_begin(vm, &f);
	kl_run_to_done(vcpu);
	if (kl_faults_available(vm))
		KL_ASSERT_NO_FAULTS(kl_faults_end(vm, &f), "write pass after "
				    "write-intent pre-fault");
	TEST_ASSERT(((uint8_t *)hva)[size - PAGE] == 0x42, "write lost");

	/* Read-only memslot: accepted, mapped for reads. */
	kl_fill_pattern(add_data_slot(vm, 2, KVM_MEM_READONLY, g2, size,
				      KL_MEM_4K), npages, 13);
	r = (struct kvm_pre_fault_memory){ .gpa = g2, .size = size,
					   .flags = KL_PF_WRITE };
	ret = kl_pre_fault_loop(vcpu, &r, NULL);
	errno = -ret;
	TEST_ASSERT(!ret, "write-intent pre-fault of a read-only memslot");
	TEST_ASSERT_EQ(guest_read_no_fault(vm, vcpu, g2, npages),
		       expected_sum(npages, 1, 13));

	/* Dirty-logged memslot: writable mappings are logged as dirty. */
	add_data_slot(vm, 3, KVM_MEM_LOG_DIRTY_PAGES, g3, size, KL_MEM_4K);
	r = (struct kvm_pre_fault_memory){ .gpa = g3, .size = size,
					   .flags = KL_PF_WRITE };
	ret = kl_pre_fault_loop(vcpu, &r, NULL);
	errno = -ret;
	TEST_ASSERT(!ret, "write-intent pre-fault of a dirty-logged memslot");
	bm = calloc(npages / 64, 8);
	TEST_ASSERT(bm, "calloc");
	log.dirty_bitmap = bm;
	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log),
		    "KVM_GET_DIRTY_LOG");
	for (i = 0; i < npages; i++)
		TEST_ASSERT(bm[i / 64] >> (i % 64) & 1,
			    "page %" PRIu64 " mapped writable but not dirty", i);
	/* Harvested: a write to one page dirties exactly that page. */
	guest_write(vcpu, g3 + 5 * PAGE, 1, PAGE, 1);
	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log),
		    "KVM_GET_DIRTY_LOG");
	for (i = 0; i < npages; i++)
		TEST_ASSERT(!!(bm[i / 64] >> (i % 64) & 1) == (i == 5),
			    "page %" PRIu64 " dirty state after one write", i);
	free(bm);
	kl_vm_free(vm);
}

/*
 * A read pre-fault of untouched anonymous memory maps the shared zero page
 * read-only; a write-intent pre-fault over it must still leave every page
 * writable.  Breaking copy-on-write on the host invalidates the mapping in
 * the middle of the write fault (arm64 found that once): the backend has
 * to fault again rather than count the read-only mapping as done.
 */
static void test_write_intent_after_read(void)
{
	const uint64_t size = 4 * MiB, npages = size / PAGE;
	const uint64_t g1 = KL_DATA_GPA;
	struct kvm_pre_fault_memory r;
	struct kl_vcpu *vcpu;
	struct kl_faults f;
	struct kl_vm *vm;
	void *hva;
	int ret;

	if (!g_write_known)
		tap_skip("KVM_PRE_FAULT_MEMORY_WRITE (kvm-prefault extension) "
			 "not supported by this KVM");
	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	hva = add_data_slot(vm, 1, 0, g1, size, KL_MEM_4K);
	load_write(vcpu, g1, npages, PAGE, 0x37);
	kl_pre_fault_range(vcpu, 0, KL_CODE_SLOT_SIZE);

	r = (struct kvm_pre_fault_memory){ .gpa = g1, .size = size };
	ret = kl_pre_fault_loop(vcpu, &r, NULL);
	errno = -ret;
	TEST_ASSERT(!ret, "read pre-fault of untouched memory");
	TEST_ASSERT(kl_smaps_kb(hva, "Anonymous") == 0,
		    "a read pre-fault populated %ld KiB",
		    kl_smaps_kb(hva, "Anonymous"));

	r = (struct kvm_pre_fault_memory){ .gpa = g1, .size = size,
					   .flags = KL_PF_WRITE };
	ret = kl_pre_fault_loop(vcpu, &r, NULL);
	errno = -ret;
	TEST_ASSERT(!ret, "write-intent pre-fault over the read pre-fault");
	TEST_ASSERT(kl_smaps_kb(hva, "Anonymous") == (long)(size >> 10),
		    "host memory not populated: %ld KiB anonymous",
		    kl_smaps_kb(hva, "Anonymous"));

	kl_faults_begin(vm, &f);
	kl_run_to_done(vcpu);
	if (kl_faults_available(vm))
		KL_ASSERT_NO_FAULTS(kl_faults_end(vm, &f), "write pass after "
				    "read, then write-intent pre-fault");
	TEST_ASSERT(((uint8_t *)hva)[size - PAGE] == 0x37, "write lost");
	kl_vm_free(vm);
}

static void test_write_intent_thp(void)
{
	const uint64_t size = 32 * MiB;
	struct kvm_pre_fault_memory r = { .gpa = KL_DATA_GPA, .size = size,
					  .flags = KL_PF_WRITE };
	uint64_t p4k = 0, p2m = 0, d4k, d2m;
	struct kl_vcpu *vcpu;
	struct kl_faults f;
	struct kl_vm *vm;
	const char *m;
	long huge_kb;
	bool stats;
	void *hva;
	int ret;

	if (!g_write_known)
		tap_skip("KVM_PRE_FAULT_MEMORY_WRITE (kvm-prefault extension) "
			 "not supported by this KVM");
	need_tdp();
	m = kl_thp_mode();
	if (!m || !strcmp(m, "never"))
		tap_skip("transparent hugepages are %s", m ? m : "not built in");
	vm = kl_vm_create_with_vcpu(&vcpu);
	stats = stats_ok(vm);
	if (!stats && !kl_faults_available(vm))
		tap_skip("no pages_4k/pages_2m statistics and none to count "
			 "faults with");
	hva = add_data_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, size, KL_MEM_THP);
	load_write(vcpu, KL_DATA_GPA, size / PAGE, PAGE, 0x24);
	kl_pre_fault_range(vcpu, 0, KL_CODE_SLOT_SIZE);
	if (stats) {
		p4k = kl_stat(vm, "pages_4k");
		p2m = kl_stat(vm, "pages_2m");
	}
	ret = kl_pre_fault_loop(vcpu, &r, NULL);
	errno = -ret;
	TEST_ASSERT(!ret, "write-intent pre-fault of THP memory");
	huge_kb = kl_anon_huge_kb(hva);
	if (stats) {
		d4k = kl_stat(vm, "pages_4k") - p4k;
		d2m = kl_stat(vm, "pages_2m") - p2m;
		tap_diag("32 MiB THP (host: %ld KiB huge) mapped as %" PRIu64
			 " x 4K + %" PRIu64 " x 2M", huge_kb, d4k, d2m);
		/* One huge mapping per host THP, 4K pages for the rest. */
		TEST_ASSERT(d2m * 512 + d4k == size / PAGE &&
			    (long)(d2m * 2048) == huge_kb,
			    "want %ld x 2M for the host's THPs, 4K for the rest",
			    huge_kb / 2048);
		TEST_ASSERT(d2m > 0, "no THP at all: host memory fragmented?");
	} else {
		tap_diag("32 MiB THP: host %ld KiB huge", huge_kb);
		TEST_ASSERT(huge_kb > 0, "no THP at all: host memory "
			    "fragmented?");
	}
	if (kl_faults_available(vm)) {
		kl_faults_begin(vm, &f);
		kl_run_to_done(vcpu);
		KL_ASSERT_NO_FAULTS(kl_faults_end(vm, &f), "write pass after "
				    "write-intent pre-fault of THP memory");
	} else {
		kl_run_to_done(vcpu);
	}
	TEST_ASSERT(((uint8_t *)hva)[size - PAGE] == 0x24, "write lost");
	kl_vm_free(vm);
}

static const struct tap_test tests[] = {
	{ "abi_layout", test_abi_layout, 0 },
	{ "cap_value", test_cap_value, 0 },
	{ "eopnotsupp_without_tdp", test_eopnotsupp_without_tdp, 0 },
	{ "einval_flags", test_einval_flags, 0 },
	{ "einval_unaligned_gpa", test_einval_unaligned_gpa, 0 },
	{ "einval_unaligned_size", test_einval_unaligned_size, 0 },
	{ "einval_size_zero", test_einval_size_zero, 0 },
	{ "einval_overflow", test_einval_overflow, 0 },
	{ "efault_bad_pointer", test_efault_bad_pointer, 0 },
	{ "enoent_no_memslot", test_enoent_no_memslot, 0 },
	{ "memslot_hole", test_memslot_hole, 0 },
	{ "progress_reissue", test_progress_reissue, 0 },
	{ "padding_ignored", test_padding_ignored, 0 },
	{ "signal_itimer_1g", test_signal_itimer_1g, 60 },
	{ "signal_thread", test_signal_thread, 60 },
	{ "prefault_after_memslot_update",
	  test_prefault_after_memslot_update, 0 },
	{ "memslot_delete_race", test_memslot_delete_race, 40 },
	{ "two_vcpus", test_two_vcpus, 0 },
	{ "backing_4k", test_backing_4k, 0 },
	{ "backing_thp", test_backing_thp, 0 },
	{ "backing_hugetlb", test_backing_hugetlb, 0 },
	{ "readonly_memslot", test_readonly_memslot, 0 },
	{ "dirty_log", test_dirty_log, 0 },
	{ "no_fault_before_first_run", test_no_fault_before_first_run, 0 },
	{ "no_fault_after_runs", test_no_fault_after_runs, 0 },
	{ "write_intent", test_write_intent, 0 },
	{ "write_intent_after_read", test_write_intent_after_read, 0 },
	{ "write_intent_thp", test_write_intent_thp, 0 },
};

int main(void)
{
	g_mode = kl_prefault_setup(tests, TAP_ARRAY_SIZE(tests),
				   &g_write_known);
	return kl_run_tests(tests, TAP_ARRAY_SIZE(tests));
}
