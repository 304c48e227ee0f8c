// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY against what a hostile or careless VMM can do: each
 * sub-test is one hole that let a pre-fault WARN, hang, or lose or corrupt
 * guest memory, and fails on a kernel that has it.
 *
 *  dirty_ring_*          the pre-fault stops at the dirty ring's soft limit
 *                        (0 with progress, or EAGAIN); every page it made
 *                        writable is in the ring once, none is lost
 *  mapped_leaf_*         a mapping that already satisfies the request is
 *                        left alone: no new dirty entry, no huge-leaf split
 *  gpa_beyond_root       a gpa the stage-2 root cannot reach is ENOENT and
 *                        does not alias low guest memory
 *  hwpoison_*            a poisoned host page is EHWPOISON, with no signal
 *                        even when SIGBUS is blocked
 *  srcu_other_slot       a memslot update elsewhere does not wait for a
 *                        long pre-fault
 *
 * Sub-tests that need something this KVM or architecture lacks (the dirty
 * ring: x86 only on 6.1; the mapping-level statistics: x86) skip, saying so.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest_code.h"
#include "kvm_lite.h"

#define MiB		((uint64_t)1 << 20)
#define GiB		((uint64_t)1 << 30)
#define PAGE		KL_PAGE_SIZE
#define DATA_SLOT	1

/*
 * KVM_DIRTY_RING_RSVD_ENTRIES: the soft limit is at least this far below
 * the ring's size (more with Intel PML).
 */
#define RING_RSVD	64

static enum kl_prefault_support g_mode;
static bool g_write_known;

static void need_tdp(void)
{
	if (g_mode != KL_PF_TDP)
		tap_skip("KVM_PRE_FAULT_MEMORY is EOPNOTSUPP here (no TDP or "
			 "protected mode)");
}

static void *add_slot(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		      uint64_t gpa, uint64_t size, enum kl_backing b)
{
	void *hva = kl_mem_alloc(size, b);

	TEST_ASSERT(hva, "allocating %#" PRIx64 " bytes", size);
	kl_add_slot(vm, slot, flags, gpa, size, hva);
	return hva;
}


static uint32_t guest_read(struct kl_vcpu *vcpu, uint64_t gpa,
			   uint64_t npages)
{
	struct kl_args a = { .addr = gpa, .count = npages, .stride = PAGE };

	kl_guest_load(vcpu, KL_BLOB(guest_read_pass), &a);
	return kl_run_to_done(vcpu);
}

/* ---- dirty ring ---------------------------------------------------- */

/* A VM with the smallest dirty ring, one vCPU and the code slot. */
static struct kl_vm *ring_vm(struct kl_vcpu **vcpu)
{
	struct kl_vm *vm = kl_vm_create();
	void *code;

	kl_vm_enable_small_dirty_ring(vm);
	code = kl_mem_alloc(KL_CODE_SLOT_SIZE, KL_MEM_4K);
	TEST_ASSERT(code, "code slot");
	kl_add_slot(vm, KL_CODE_SLOT, 0, 0, KL_CODE_SLOT_SIZE, code);
	*vcpu = kl_vcpu_add(vm, 0);
	tap_diag("dirty ring: %u entries", (*vcpu)->ring_entries);
	return vm;
}

struct harvest {
	uint32_t slot;
	uint64_t npages;
	uint8_t *seen;		/* times each page of the slot was harvested */
	uint64_t total;
	uint64_t stray;		/* entries for other slots */
};

static void count_entry(void *opaque, uint32_t slot, uint64_t offset)
{
	struct harvest *h = opaque;

	h->total++;
	if (slot != h->slot || offset >= h->npages) {
		h->stray++;
		return;
	}
	if (h->seen[offset] < 255)
		h->seen[offset]++;
}

static void harvest_and_reset(struct kl_vcpu *vcpu, struct harvest *h)
{
	int r;

	kl_dirty_ring_harvest(vcpu, count_entry, h);
	r = kl_dirty_ring_reset(vcpu->vm);
	errno = r < 0 ? -r : 0;
	TEST_ASSERT(r >= 0, "KVM_RESET_DIRTY_RINGS");
}

/*
 * Pre-fault [gpa, gpa + size) as a VMM with a dirty ring must: on EAGAIN,
 * harvest and re-issue.  After every call the ring holds at most its soft
 * limit.  Returns the number of EAGAINs.
 */
static unsigned int ring_prefault(struct kl_vcpu *vcpu, uint64_t gpa,
				  uint64_t size, uint64_t flags,
				  struct harvest *h)
{
	struct kvm_pre_fault_memory r = {
		.gpa = gpa, .size = size, .flags = flags,
	};
	unsigned int eagain = 0, calls = 0;
	int ret;

	while (r.size) {
		uint64_t before = r.gpa;

		TEST_ASSERT(++calls < 100000, "no end after %u calls", calls);
		ret = kl_pre_fault(vcpu, &r);
		TEST_ASSERT(kl_dirty_ring_pending(vcpu) <=
			    vcpu->ring_entries - RING_RSVD,
			    "%u dirty entries pending after a pre-fault call; "
			    "the soft limit is at most %u",
			    kl_dirty_ring_pending(vcpu),
			    vcpu->ring_entries - RING_RSVD);
		if (ret == -EAGAIN) {
			TEST_ASSERT(r.gpa == before,
				    "EAGAIN with progress (gpa %#llx, was %#"
				    PRIx64 ")", r.gpa, before);
			TEST_ASSERT(kl_dirty_ring_pending(vcpu),
				    "EAGAIN with an empty dirty ring");
			eagain++;
			harvest_and_reset(vcpu, h);
			continue;
		}
		errno = ret < 0 ? -ret : 0;
		TEST_ASSERT(!ret && r.gpa > before,
			    "pre-fault at %#" PRIx64 ": %d", before, ret);
	}
	harvest_and_reset(vcpu, h);
	return eagain;
}

static void expect_each_once(const struct harvest *h, const char *what)
{
	uint64_t i, missing = 0, twice = 0;

	for (i = 0; i < h->npages; i++) {
		missing += !h->seen[i];
		twice += h->seen[i] > 1;
	}
	TEST_ASSERT(!missing && !twice && !h->stray,
		    "%s: of %" PRIu64 " pages %" PRIu64 " never in the ring, %"
		    PRIu64 " more than once; %" PRIu64 " stray entries", what,
		    h->npages, missing, twice, h->stray);
}

static void ring_case(bool write, bool populated)
{
	struct harvest h = { .slot = DATA_SLOT };
	uint64_t size, npages;
	struct kl_vcpu *vcpu;
	unsigned int eagain;
	struct kl_vm *vm;
	uint8_t *hva;

	need_tdp();
	if (write && !g_write_known)
		tap_skip("KVM_PRE_FAULT_MEMORY_WRITE not accepted here");
	vm = ring_vm(&vcpu);
	/* Four rings' worth: 4 MiB with the smallest (256-entry) ring. */
	npages = 4 * (uint64_t)vcpu->ring_entries;
	size = npages * PAGE;
	h.npages = npages;
	hva = add_slot(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES, KL_DATA_GPA,
		       size, KL_MEM_4K);
	if (populated)
		kl_fill_pattern(hva, npages, 21);
	h.seen = calloc(npages, 1);
	TEST_ASSERT(h.seen, "calloc");

	eagain = ring_prefault(vcpu, KL_DATA_GPA, size,
			       write ? KL_PF_WRITE : 0, &h);
	tap_diag("%" PRIu64 " pages, %u EAGAIN(s), %" PRIu64 " entries",
		 npages, eagain, h.total);
	/* Every page was mapped writable, so each must be in the ring. */
	expect_each_once(&h, write ? "write intent" : "read intent");
	TEST_ASSERT(eagain, "the ring never filled: the test proves nothing");

	/* Nothing was lost: the guest reads what the host wrote. */
	if (populated)
		TEST_ASSERT_EQ(guest_read(vcpu, KL_DATA_GPA, npages),
			       kl_pattern_sum(npages, 21));
	free(h.seen);
	kl_vm_free(vm);
}

/* Write intent over untouched memory: every page becomes writable. */
static void test_dirty_ring_write_intent(void)
{
	ring_case(true, false);
}

/*
 * Read intent over memory the host already wrote: KVM maps a writable
 * host page writable for a read fault too, so the ring fills just the same.
 */
static void test_dirty_ring_read_populated(void)
{
	ring_case(false, true);
}

/* ---- mappings that already exist ------------------------------------ */

/*
 * Pre-faulting a range that is already mapped must not push dirty-ring
 * entries again, nor make pages writable again that a harvest
 * write-protected.
 */
static void test_mapped_leaf_dirty_ring(void)
{
	const uint64_t npages = 64, size = npages * PAGE;
	struct harvest h = { .slot = DATA_SLOT, .npages = npages };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint8_t *hva;
	uint32_t n;

	need_tdp();
	vm = ring_vm(&vcpu);
	TEST_ASSERT(2 * npages <= vcpu->ring_entries - RING_RSVD,
		    "ring too small for this test");
	hva = add_slot(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES, KL_DATA_GPA,
		       size, KL_MEM_4K);
	kl_fill_pattern(hva, npages, 22);
	h.seen = calloc(npages, 1);
	TEST_ASSERT(h.seen, "calloc");

	/* Populated host memory: a read pre-fault maps it writable. */
	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	n = kl_dirty_ring_pending(vcpu);
	TEST_ASSERT(n == npages, "first pre-fault: %u entries, want %" PRIu64,
		    n, npages);

	/* Again, read and write intent, without harvesting: nothing new. */
	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	n = kl_dirty_ring_pending(vcpu);
	TEST_ASSERT(n == npages, "read pre-fault of mapped, writable pages "
		    "pushed %u more dirty entries", (unsigned int)(n - npages));
	if (g_write_known) {
		struct kvm_pre_fault_memory r = {
			.gpa = KL_DATA_GPA, .size = size, .flags = KL_PF_WRITE,
		};

		TEST_ASSERT(!kl_pre_fault_loop(vcpu, &r, NULL) && !r.size,
			    "write pre-fault of mapped pages");
		n = kl_dirty_ring_pending(vcpu);
		TEST_ASSERT(n == npages, "write pre-fault of mapped, writable "
			    "pages pushed %u more dirty entries",
			    (unsigned int)(n - npages));
	}

	/*
	 * Harvest: KVM write-protects the pages again (or, with PML, cleans
	 * them).  A read pre-fault then finds read mappings, which satisfy
	 * it: no page may become writable behind the VMM's back.
	 */
	harvest_and_reset(vcpu, &h);
	expect_each_once(&h, "first pre-fault");
	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	n = kl_dirty_ring_pending(vcpu);
	TEST_ASSERT(!n, "read pre-fault after a harvest pushed %u entries: "
		    "write-protected pages made writable again", n);
	TEST_ASSERT_EQ(guest_read(vcpu, KL_DATA_GPA, npages),
		       kl_pattern_sum(npages, 22));
	free(h.seen);
	kl_vm_free(vm);
}

/*
 * A huge leaf that dirty logging left in place (write-protected, as with
 * eager_page_split=N or the legacy MMU) satisfies a read pre-fault: it
 * must not be split into 4 KiB pages.
 */
static void test_mapped_leaf_huge_dirty_log(void)
{
	const char *param = "/sys/module/kvm/parameters/eager_page_split";
	const uint64_t size = 4 * MiB, npages = size / PAGE;
	uint64_t p4k, p2m;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	char old[8] = "";
	uint8_t *hva;
	FILE *f;
	int r;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	if (!kl_stat_available(vm, "pages_2m") ||
	    !kl_stat_available(vm, "pages_4k"))
		tap_skip("no pages_4k/pages_2m statistics (x86 only)");
	hva = add_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, size, KL_MEM_THP);
	kl_fill_pattern(hva, npages, 23);
	if (kl_anon_huge_kb(hva) < (long)(size >> 10))
		tap_skip("the host gave no transparent huge pages (THP %s)",
			 kl_thp_mode() ?: "absent");

	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	TEST_ASSERT(kl_stat(vm, "pages_2m") >= 2,
		    "THP-backed slot not mapped with 2 MiB pages (%" PRIu64
		    ")", kl_stat(vm, "pages_2m"));

	/* Dirty logging without eager splitting keeps the huge leaves. */
	f = fopen(param, "r+");
	if (!f)
		tap_skip("%s: cannot change it", param);
	TEST_ASSERT(fgets(old, sizeof(old), f), "read %s", param);
	rewind(f);
	TEST_ASSERT(fputs("N\n", f) >= 0 && !fflush(f), "write %s", param);
	r = kl_set_region(vm, DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES, KL_DATA_GPA,
			  size, hva);
	rewind(f);
	fputs(old, f);
	fclose(f);
	errno = -r;
	TEST_ASSERT(!r, "enable dirty logging");
	p4k = kl_stat(vm, "pages_4k");
	p2m = kl_stat(vm, "pages_2m");
	tap_diag("after enabling dirty logging: %" PRIu64 " x 2 MiB, %" PRIu64
		 " x 4 KiB", p2m, p4k);

	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	TEST_ASSERT(kl_stat(vm, "pages_2m") == p2m &&
		    kl_stat(vm, "pages_4k") == p4k,
		    "read pre-fault over mapped huge pages: 2 MiB %" PRIu64
		    " -> %" PRIu64 ", 4 KiB %" PRIu64 " -> %" PRIu64
		    " (split)", p2m, kl_stat(vm, "pages_2m"), p4k,
		    kl_stat(vm, "pages_4k"));
	TEST_ASSERT_EQ(guest_read(vcpu, KL_DATA_GPA, npages),
		       kl_pattern_sum(npages, 23));
	kl_vm_free(vm);
}

/* ---- gpa beyond the root ------------------------------------------- */

/* The host CPU's MAXPHYADDR, from /proc/cpuinfo, or 0. */
static unsigned int host_phys_bits(void)
{
	char line[256];
	unsigned int bits = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "address sizes : %u bits physical",
			   &bits) == 1)
			break;
	fclose(f);
	return bits;
}

static bool host_has_la57(void)
{
	char line[4096];
	bool la57 = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (!la57 && fgets(line, sizeof(line), f))
		la57 = !strncmp(line, "flags", 5) && strstr(line, " la57");
	fclose(f);
	return la57;
}

static void expect_enoent(struct kl_vcpu *vcpu, uint64_t gpa)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = PAGE };
	int ret = kl_pre_fault(vcpu, &r);

	TEST_ASSERT(ret == -ENOENT && r.gpa == gpa && r.size == PAGE,
		    "pre-fault at %#" PRIx64 ": %d (%s), gpa %#llx; want "
		    "ENOENT", gpa, ret, ret ? strerror(-ret) : "success",
		    r.gpa);
}

/*
 * x86: the TDP root reaches 2^48 (4 levels) or 2^57 (5 levels), and no
 * SPTE may be made above the host's MAXPHYADDR.  The highest page below
 * both pre-faults; the page just past is ENOENT, and where a memslot can
 * sit there (MAXPHYADDR > 48 with 4 levels) a pre-fault of it must not
 * map it over the low guest page with the same low bits.
 */
static void test_gpa_beyond_root(void)
{
	const uint64_t npages = 512, size = npages * PAGE;
	unsigned int phys = host_phys_bits();
	unsigned int reach_bits = host_has_la57() ? 57 : 48;
	uint64_t limit, alias;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint8_t *hva;

	need_tdp();
	if (strcmp(KL_ARCH_NAME, "x86_64"))
		tap_skip("x86 only (arm64: pre_fault_arm64_test "
			 "ipa_limit_enoent)");
	TEST_ASSERT(phys >= 32 && phys <= 52, "host MAXPHYADDR %u", phys);
	limit = (uint64_t)1 << (phys < reach_bits ? phys : reach_bits);
	tap_diag("host MAXPHYADDR %u, root reach 2^%u: highest gpa %#" PRIx64,
		 phys, reach_bits, limit - PAGE);

	vm = kl_vm_create_with_vcpu(&vcpu);
	hva = add_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, size, KL_MEM_4K);
	kl_fill_pattern(hva, npages, 31);
	kl_pre_fault_range(vcpu, KL_DATA_GPA, size);
	/* The top 2 MiB below the limit. */
	add_slot(vm, DATA_SLOT + 1, 0, limit - 2 * MiB, 2 * MiB, KL_MEM_4K);
	kl_pre_fault_range(vcpu, limit - PAGE, PAGE);
	kl_pre_fault_range(vcpu, limit - 2 * MiB, 2 * MiB);

	expect_enoent(vcpu, limit);
	expect_enoent(vcpu, limit + KL_DATA_GPA);
	alias = ((uint64_t)1 << reach_bits) + KL_DATA_GPA;
	if (phys > reach_bits) {
		uint8_t *high;

		/*
		 * A memslot above the root's reach, whose pages the guest
		 * can never access: pre-faulting it must not map them over
		 * the low pages it aliases.
		 */
		high = add_slot(vm, DATA_SLOT + 2, 0, alias, size, KL_MEM_4K);
		kl_fill_pattern(high, npages, 32);
		tap_diag("memslot at %#" PRIx64 ", above the root's reach",
			 alias);
		expect_enoent(vcpu, alias);
		expect_enoent(vcpu, alias + size - PAGE);
	} else {
		expect_enoent(vcpu, alias);
		tap_diag("MAXPHYADDR %u <= %u: no memslot can sit above the "
			 "root's reach here", phys, reach_bits);
	}
	expect_enoent(vcpu, (uint64_t)1 << 52);
	expect_enoent(vcpu, (uint64_t)1 << 57);
	expect_enoent(vcpu, (uint64_t)1 << 63);

	/* Low guest memory, mapped before, still maps its own pages. */
	TEST_ASSERT_EQ(guest_read(vcpu, KL_DATA_GPA, npages),
		       kl_pattern_sum(npages, 31));
	kl_vm_free(vm);
}

/* ---- hardware poison ------------------------------------------------ */

static sig_atomic_t g_sigbus;

static void on_sigbus(int sig)
{
	(void)sig;
	__atomic_add_fetch(&g_sigbus, 1, __ATOMIC_SEQ_CST);
}

/*
 * A poisoned page in the middle of the range: progress up to it, then
 * EHWPOISON on every re-issue, and no SIGBUS, whether SIGBUS is handled
 * or blocked (a blocked SIGBUS used to make the ioctl retry forever).
 */
static void hwpoison_case(bool blocked)
{
	const uint64_t npages = 16, bad = 5;
	struct kvm_pre_fault_memory r = {
		.gpa = KL_DATA_GPA, .size = npages * PAGE,
	};
	struct sigaction sa = { .sa_handler = on_sigbus };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	sigset_t set;
	uint8_t *hva;
	int ret;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	hva = add_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, npages * PAGE,
		       KL_MEM_4K);
	kl_fill_pattern(hva, npages, 41);
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGBUS, &sa, NULL), "sigaction");
	sigemptyset(&set);
	sigaddset(&set, SIGBUS);
	/*
	 * Poison with SIGBUS handled: on newer kernels (6.12 here),
	 * MADV_HWPOISON itself sends the caller a forced SIGBUS
	 * (BUS_MCEERR_AR), which would kill a process that blocks it.  Only
	 * the pre-fault runs with SIGBUS blocked.
	 */
	TEST_ASSERT(!sigprocmask(SIG_UNBLOCK, &set, NULL), "sigprocmask");
	if (madvise(hva + bad * PAGE, PAGE, MADV_HWPOISON))
		tap_skip("MADV_HWPOISON: %s (needs CONFIG_MEMORY_FAILURE and "
			 "CAP_SYS_ADMIN)", strerror(errno));
	g_sigbus = 0;
	if (blocked)
		TEST_ASSERT(!sigprocmask(SIG_BLOCK, &set, NULL),
			    "sigprocmask");

	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(!ret && r.gpa == KL_DATA_GPA + bad * PAGE,
		    "first call: %d, gpa %#llx; want progress up to %#"
		    PRIx64, ret, r.gpa, KL_DATA_GPA + bad * PAGE);
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(ret == -EHWPOISON && r.gpa == KL_DATA_GPA + bad * PAGE,
		    "re-issue at the poisoned page: %d (%s), gpa %#llx; want "
		    "EHWPOISON", ret, strerror(-ret), r.gpa);
	if (g_write_known) {
		r.flags = KL_PF_WRITE;
		ret = kl_pre_fault(vcpu, &r);
		TEST_ASSERT(ret == -EHWPOISON, "write intent: %d (%s)", ret,
			    strerror(-ret));
	}
	TEST_ASSERT(sigpending(&set) == 0 && !sigismember(&set, SIGBUS) &&
		    !g_sigbus, "pre-fault of a poisoned page sent SIGBUS "
		    "(handled %d)", (int)g_sigbus);

	/* The pages after it are fine. */
	kl_pre_fault_range(vcpu, KL_DATA_GPA + (bad + 1) * PAGE,
			   (npages - bad - 1) * PAGE);
	kl_vm_free(vm);
}

static void test_hwpoison_handled(void)
{
	hwpoison_case(false);
}

static void test_hwpoison_sigbus_blocked(void)
{
	hwpoison_case(true);
}

/* ---- SRCU ------------------------------------------------------------ */

struct long_prefault {
	struct kl_vcpu *vcpu;
	uint64_t gpa, size;
	int ret;
	int started, done;	/* __atomic: set by the thread */
};

static void *long_prefault_thread(void *arg)
{
	struct long_prefault *lp = arg;
	struct kvm_pre_fault_memory r = { .gpa = lp->gpa, .size = lp->size };

	__atomic_store_n(&lp->started, 1, __ATOMIC_SEQ_CST);
	lp->ret = kl_pre_fault_loop(lp->vcpu, &r, NULL);
	__atomic_store_n(&lp->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * A memslot update waits for every SRCU reader.  While one vCPU pre-faults
 * 1 GiB page by page, deleting and re-adding an unrelated slot must finish
 * long before the pre-fault does.
 */
static void test_srcu_other_slot(void)
{
	const uint64_t big = 1 * GiB, other_gpa = 3 * GiB;
	struct long_prefault lp = { .gpa = KL_DATA_GPA, .size = big };
	struct kl_vcpu *vcpu;
	double t0, t1, upd;
	struct kl_vm *vm;
	pthread_t th;
	void *other;
	int r;

	need_tdp();
	vm = kl_vm_create_with_vcpu(&vcpu);
	lp.vcpu = vcpu;
	/* Untouched: the read pre-fault maps the zero page, using no RAM. */
	add_slot(vm, DATA_SLOT, 0, KL_DATA_GPA, big, KL_MEM_4K);
	other = add_slot(vm, DATA_SLOT + 1, 0, other_gpa, 2 * MiB, KL_MEM_4K);

	t0 = tap_now();
	TEST_ASSERT(!pthread_create(&th, NULL, long_prefault_thread, &lp),
		    "pthread_create");
	while (!__atomic_load_n(&lp.started, __ATOMIC_SEQ_CST))
		usleep(1000);
	usleep(200 * 1000);
	TEST_ASSERT(!__atomic_load_n(&lp.done, __ATOMIC_SEQ_CST),
		    "1 GiB pre-faulted in under 0.2 s: too fast to overlap");

	t1 = tap_now();
	r = kl_set_region(vm, DATA_SLOT + 1, 0, other_gpa, 0, other);
	TEST_ASSERT(!r, "delete the other slot: %d", r);
	r = kl_set_region(vm, DATA_SLOT + 1, 0, other_gpa, 2 * MiB, other);
	TEST_ASSERT(!r, "re-add the other slot: %d", r);
	upd = tap_now() - t1;
	TEST_ASSERT(!__atomic_load_n(&lp.done, __ATOMIC_SEQ_CST),
		    "the update of another slot waited for the whole "
		    "pre-fault (%.2f s)", upd);

	pthread_join(th, NULL);
	errno = lp.ret < 0 ? -lp.ret : 0;
	TEST_ASSERT(!lp.ret, "the long pre-fault: %d", lp.ret);
	tap_diag("slot update %.3f s while the 1 GiB pre-fault ran %.2f s",
		 upd, tap_now() - t0);
	kl_pre_fault_range(vcpu, other_gpa, 2 * MiB);
	kl_vm_free(vm);
}

static const struct tap_test tests[] = {
	{ "dirty_ring_write_intent", test_dirty_ring_write_intent, 0 },
	{ "dirty_ring_read_populated", test_dirty_ring_read_populated, 0 },
	{ "mapped_leaf_dirty_ring", test_mapped_leaf_dirty_ring, 0 },
	{ "mapped_leaf_huge_dirty_log", test_mapped_leaf_huge_dirty_log, 0 },
	{ "gpa_beyond_root", test_gpa_beyond_root, 0 },
	{ "hwpoison_handled", test_hwpoison_handled, 30 },
	{ "hwpoison_sigbus_blocked", test_hwpoison_sigbus_blocked, 30 },
	{ "srcu_other_slot", test_srcu_other_slot, 90 },
};

int main(void)
{
	g_mode = kl_prefault_setup(tests, TAP_ARRAY_SIZE(tests),
				   &g_write_known);
	return kl_run_tests(tests, TAP_ARRAY_SIZE(tests));
}
