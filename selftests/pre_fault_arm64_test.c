// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY on arm64, what the architecture-neutral tests do not
 * cover: the capabilities per KVM mode, the VM's IPA size as the end of
 * guest memory, block (2 MiB) mappings from THP and hugetlb backing, the
 * synthetic stage-2 abort a pre-fault runs (and that a guest pass after it
 * takes no fault), mappings that exist already, write intent on arm64
 * (read-only zero page, permission upgrade), poisoned pages (EHWPOISON
 * without SIGBUS), unresolvable host memory (EFAULT), and EOPNOTSUPP in
 * protected mode.
 *
 * arm64 6.1 counts no stage-2 faults: the faults of a guest pass are
 * estimated from the vCPU's exits (kl_faults_end()), which is why every
 * "no fault" check comes with a control that shows the same pass faulting
 * without the pre-fault.
 *
 * Skips everything on a KVM without kvm-prefault's series (stock kernel).
 */
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

#define MiB		((uint64_t)1 << 20)
#define GiB		((uint64_t)1 << 30)
#define PAGE		KL_PAGE_SIZE
#define BLOCK		KL_HPAGE_SIZE
#define BLOCK_PAGES	(BLOCK / PAGE)
#define GPA		KL_DATA_GPA

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB	(21U << 26)	/* <linux/memfd.h> */
#endif
#ifndef KVM_CAP_ARM_VM_IPA_SIZE
#define KVM_CAP_ARM_VM_IPA_SIZE 165
#endif
#ifndef KVM_VM_TYPE_ARM_IPA_SIZE
#define KVM_VM_TYPE_ARM_IPA_SIZE(x)	((x) & 0xffULL)
#endif

static enum kl_prefault_support g_mode;
static bool g_write_known;
static bool g_protected;

static void need_prefault(void)
{
	if (g_mode != KL_PF_TDP)
		tap_skip("KVM_PRE_FAULT_MEMORY is EOPNOTSUPP here%s",
			 g_protected ? " (protected mode)" : "");
}

static void need_write_intent(void)
{
	need_prefault();
	if (!g_write_known)
		tap_skip("KVM_PRE_FAULT_MEMORY_WRITE not supported by this "
			 "KVM");
}

/* A VM (code slot, one vCPU) that can count the faults of guest passes. */
static struct kl_vm *counting_vm(struct kl_vcpu **vcpu)
{
	struct kl_vm *vm = kl_vm_create_with_vcpu(vcpu);

	if (!kl_faults_available(vm))
		tap_skip("no statistics to count faults with (%s)",
			 kl_faults_what());
	return vm;
}

static void *add_slot(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		      uint64_t gpa, uint64_t size, enum kl_backing b)
{
	void *hva = kl_mem_alloc(size, b);

	TEST_ASSERT(hva, "allocating %#" PRIx64 " bytes of backing %d", size,
		    b);
	kl_add_slot(vm, slot, flags, gpa, size, hva);
	return hva;
}

/*
 * THP-backed memory, populated (with kl_fill_pattern(seed)) unless
 * untouched; NULL (why says why) unless the host backs it entirely with
 * huge pages.
 */
static void *thp_alloc(uint64_t size, bool untouched, uint8_t seed,
		       char *why, size_t len)
{
	const char *m = kl_thp_mode();
	void *hva;
	long kb;

	if (!m || !strcmp(m, "never")) {
		snprintf(why, len, "transparent hugepages are %s",
			 m ? m : "not built in");
		return NULL;
	}
	hva = kl_mem_alloc(size, KL_MEM_THP);
	TEST_ASSERT(hva, "THP memory");
	if (untouched)
		return hva;
	kl_fill_pattern(hva, size / PAGE, seed);
	kb = kl_anon_huge_kb(hva);
	if (kb < (long)(size >> 10)) {
		snprintf(why, len, "the host backed only %ld of %" PRIu64
			 " KiB with THPs", kb, size >> 10);
		kl_mem_free(hva, size);
		return NULL;
	}
	return hva;
}

/* A populated THP memslot, or skip. */
static void *thp_slot(struct kl_vm *vm, uint32_t slot, uint64_t gpa,
		      uint64_t size, uint8_t seed)
{
	char why[128];
	void *hva = thp_alloc(size, false, seed, why, sizeof(why));

	if (!hva)
		tap_skip("%s", why);
	kl_add_slot(vm, slot, 0, gpa, size, hva);
	return hva;
}

/*
 * Anonymous 4 KiB-page memory in a VMA of its own (PROT_NONE guard pages
 * on both sides, so that it merges with no other), for smaps counts.
 */
static uint8_t *alloc_own_vma(uint64_t size)
{
	uint8_t *p = mmap(NULL, size + 2 * PAGE, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	TEST_ASSERT(p != MAP_FAILED, "mmap");
	p += PAGE;
	TEST_ASSERT(!mprotect(p, size, PROT_READ | PROT_WRITE), "mprotect");
	TEST_ASSERT(!madvise(p, size, MADV_NOHUGEPAGE), "madvise");
	return p;
}

static uint32_t expected_sum(uint64_t first_page, uint64_t npages,
			     uint8_t seed)
{
	uint32_t sum = 0;
	uint64_t i;

	for (i = first_page; i < first_page + npages; i++)
		sum = kl_checksum_step(sum, kl_pattern(i, seed));
	return sum;
}

/*
 * Run a guest program and count its stage-2 faults.  The code is loaded
 * and its slot pre-faulted first, so that only the data accesses count
 * (the code slot is pre-faulted with the ioctl where it works, else by a
 * guest pass).
 */
static struct kl_fault_range counted_run(struct kl_vm *vm,
					 struct kl_vcpu *vcpu,
					 const unsigned char *start,
					 const unsigned char *end,
					 const struct kl_args *a,
					 uint32_t *report)
{
	struct kl_faults f;
	uint32_t r;

	kl_guest_load(vcpu, start, end, a);
	kl_pre_fault_range(vcpu, 0, KL_CODE_SLOT_SIZE);
	kl_faults_begin(vm, &f);
	r = kl_run_to_done(vcpu);
	if (report)
		*report = r;
	return kl_faults_end(vm, &f);
}

/* Read one byte per page of [gpa, gpa + npages pages): its faults. */
static struct kl_fault_range read_pass(struct kl_vm *vm, struct kl_vcpu *vcpu,
				       uint64_t gpa, uint64_t npages,
				       uint32_t *sum)
{
	return counted_run(vm, vcpu, KL_BLOB(guest_read_pass),
			   &(struct kl_args){ .addr = gpa, .count = npages,
					      .stride = PAGE }, sum);
}

static struct kl_fault_range write_pass(struct kl_vm *vm,
					struct kl_vcpu *vcpu, uint64_t gpa,
					uint64_t npages, uint8_t val)
{
	return counted_run(vm, vcpu, KL_BLOB(guest_write_pass),
			   &(struct kl_args){ .addr = gpa, .count = npages,
					      .stride = PAGE, .val = val },
			   NULL);
}

/* A read pass over data of kl_fill_pattern(seed) that must not fault. */
static void read_no_faults(struct kl_vm *vm, struct kl_vcpu *vcpu,
			   uint64_t gpa, uint64_t first_page, uint64_t npages,
			   uint8_t seed, const char *what)
{
	uint32_t sum;
	struct kl_fault_range fr = read_pass(vm, vcpu, gpa, npages, &sum);

	tap_diag("%s: read pass over %" PRIu64 " pages: %" PRIu64
		 " faults (up to %" PRIu64 ")", what, npages, fr.lo, fr.hi);
	TEST_ASSERT(sum == expected_sum(first_page, npages, seed),
		    "%s: guest read the wrong data", what);
	KL_ASSERT_NO_FAULTS(fr, "%s: read pass over %" PRIu64 " pages", what,
			    npages);
}

/* A pass that must fault at least min times (the control experiments). */
static void expect_faults(struct kl_fault_range fr, uint64_t min,
			  const char *what)
{
	tap_diag("%s: %" PRIu64 " faults (up to %" PRIu64 ")", what, fr.lo,
		 fr.hi);
	TEST_ASSERT(fr.hi >= min, "%s: %" PRIu64 " faults, want >= %" PRIu64
		    " (%s)", what, fr.hi, min, kl_faults_what());
}

/* One call that must succeed and end exactly at gpa + size. */
static void pre_fault_one_call(struct kl_vcpu *vcpu, uint64_t gpa,
			       uint64_t size, uint64_t flags)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = size,
					  .flags = flags };
	int ret = kl_pre_fault(vcpu, &r);

	errno = ret < 0 ? -ret : 0;
	TEST_ASSERT(!ret && !r.size && r.gpa == gpa + size,
		    "pre-fault %#" PRIx64 "+%#" PRIx64 " flags %#" PRIx64
		    " in one call: ret %d, left %#llx+%#llx", gpa, size, flags,
		    ret, r.gpa, r.size);
}

/* One request that must fail with err and leave the struct alone. */
static void expect_err(struct kl_vcpu *vcpu, uint64_t gpa, uint64_t size,
		       uint64_t flags, int err)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = size,
					  .flags = flags };
	struct kvm_pre_fault_memory before = r;
	int ret = kl_pre_fault(vcpu, &r);

	errno = ret < 0 ? -ret : 0;
	TEST_ASSERT(ret == -err, "gpa %#" PRIx64 " size %#" PRIx64 " flags %#"
		    PRIx64 ": got %d (%s), want %s", gpa, size, flags, ret,
		    ret ? strerror(-ret) : "success", strerror(err));
	TEST_ASSERT(!memcmp(&r, &before, sizeof(r)),
		    "struct changed on error: %#llx+%#llx", r.gpa, r.size);
}

/* ---- capabilities ---- */

static void test_caps(void)
{
	struct kl_vm *vm = kl_vm_create();
	static const struct {
		long cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_PRE_FAULT_MEMORY, "KVM_CAP_PRE_FAULT_MEMORY" },
		{ KVM_CAP_MEMORY_FAULT_INFO, "KVM_CAP_MEMORY_FAULT_INFO" },
		{ KVM_CAP_USER_MEMORY2, "KVM_CAP_USER_MEMORY2" },
	};
	unsigned int i;

	tap_diag("protected mode: %s; KVM_CAP_ARM_VM_IPA_SIZE %d",
		 g_protected ? "yes" : "no",
		 kl_check_cap(vm->kvm_fd, KVM_CAP_ARM_VM_IPA_SIZE));
	for (i = 0; i < TAP_ARRAY_SIZE(caps); i++) {
		int sys = kl_check_cap(vm->kvm_fd, caps[i].cap);
		int vmc = kl_check_cap(vm->fd, caps[i].cap);
		int want = caps[i].cap == KVM_CAP_PRE_FAULT_MEMORY ?
			   !g_protected : 1;

		tap_diag("%s (%ld): /dev/kvm %d, VM %d", caps[i].name,
			 caps[i].cap, sys, vmc);
		TEST_ASSERT(sys == want && vmc == want,
			    "%s: /dev/kvm %d, VM %d, want %d", caps[i].name,
			    sys, vmc, want);
	}
	/* The capability and the ioctl agree. */
	TEST_ASSERT(g_mode == (g_protected ? KL_PF_NO_TDP : KL_PF_TDP),
		    "a valid request %s", g_mode == KL_PF_TDP ? "succeeds" :
		    "fails with EOPNOTSUPP");
	kl_vm_free(vm);
}

/* ---- protected mode ---- */

static void test_protected_eopnotsupp(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint32_t sum;
	void *hva;

	if (!g_protected)
		tap_skip("not in protected mode (kvm-arm.mode=protected)");
	vm = kl_vm_create_with_vcpu(&vcpu);
	hva = add_slot(vm, 1, 0, GPA, 4 * MiB, KL_MEM_4K);
	kl_fill_pattern(hva, 4 * MiB / PAGE, 1);

	/* Every valid request, wherever it points: EOPNOTSUPP. */
	expect_err(vcpu, KL_CODE_GPA, PAGE, 0, EOPNOTSUPP);
	expect_err(vcpu, GPA, 4 * MiB, 0, EOPNOTSUPP);
	expect_err(vcpu, 3 * GiB, PAGE, 0, EOPNOTSUPP);
	expect_err(vcpu, KL_GUEST_ADDR_LIMIT, PAGE, 0, EOPNOTSUPP);
	if (g_write_known)
		expect_err(vcpu, GPA, PAGE, KL_PF_WRITE, EOPNOTSUPP);
	/* Invalid arguments are still EINVAL. */
	expect_err(vcpu, GPA, PAGE, 1, EINVAL);
	expect_err(vcpu, GPA + 1, PAGE, 0, EINVAL);
	expect_err(vcpu, GPA, PAGE + 1, 0, EINVAL);
	expect_err(vcpu, GPA, 0, 0, EINVAL);
	expect_err(vcpu, ~0ULL & ~(PAGE - 1), PAGE, 0, EINVAL);

	/* The guest itself runs normally, and afterwards it is the same. */
	kl_guest_load(vcpu, KL_BLOB(guest_read_pass),
		      &(struct kl_args){ .addr = GPA, .count = 64,
					 .stride = PAGE });
	sum = kl_run_to_done(vcpu);
	TEST_ASSERT_EQ(sum, expected_sum(0, 64, 1));
	expect_err(vcpu, GPA, 4 * MiB, 0, EOPNOTSUPP);
	kl_vm_free(vm);
}

/* ---- the end of guest memory is the VM's IPA size ---- */

static void test_ipa_limit_enoent(void)
{
	const uint64_t top = KL_GUEST_ADDR_LIMIT;	/* type 0: 40 bits */
	struct kvm_pre_fault_memory r;
	const unsigned int bits = 36;
	uint64_t end = (uint64_t)1 << bits;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint32_t sum;
	int max_ipa;
	void *hva;
	int ret;

	need_prefault();
	vm = counting_vm(&vcpu);
	max_ipa = kl_check_cap(vm->kvm_fd, KVM_CAP_ARM_VM_IPA_SIZE);
	/* A memslot right below the end of the default 40-bit IPA space. */
	hva = add_slot(vm, 1, 0, top - BLOCK, BLOCK, KL_MEM_4K);
	kl_fill_pattern(hva, BLOCK_PAGES, 2);
	pre_fault_one_call(vcpu, top - PAGE, PAGE, 0);
	expect_err(vcpu, top, PAGE, 0, ENOENT);
	expect_err(vcpu, top, BLOCK, 0, ENOENT);
	expect_err(vcpu, (uint64_t)1 << 47, PAGE, 0, ENOENT);
	expect_err(vcpu, (uint64_t)1 << 52, PAGE, 0, ENOENT);
	expect_err(vcpu, ~0ULL & ~(BLOCK - 1), BLOCK - PAGE, 0, ENOENT);
	/* Across the end: progress up to it, then ENOENT. */
	r = (struct kvm_pre_fault_memory){ .gpa = top - 2 * PAGE,
					   .size = 4 * PAGE };
	ret = kl_pre_fault(vcpu, &r);
	errno = ret < 0 ? -ret : 0;
	TEST_ASSERT(!ret && r.gpa == top && r.size == 2 * PAGE,
		    "across the IPA end: ret %d, left %#llx+%#llx", ret, r.gpa,
		    r.size);
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(ret == -ENOENT && r.gpa == top,
		    "re-issue at the IPA end: %d, gpa %#llx", ret, r.gpa);
	/* The whole memslot up there, then the guest: no faults. */
	pre_fault_one_call(vcpu, top - BLOCK, BLOCK, 0);
	read_no_faults(vm, vcpu, top - BLOCK, 0, BLOCK_PAGES, 2,
		       "top of the IPA space");
	kl_vm_free(vm);

	/* A VM with a smaller IPA space ends earlier. */
	if (max_ipa < (int)bits) {
		tap_diag("KVM_CAP_ARM_VM_IPA_SIZE %d: no %u-bit VM", max_ipa,
			 bits);
		return;
	}
	vm = kl_vm_create_type(KVM_VM_TYPE_ARM_IPA_SIZE(bits));
	kl_add_slot(vm, KL_CODE_SLOT, 0, 0, KL_CODE_SLOT_SIZE,
		    kl_mem_alloc(KL_CODE_SLOT_SIZE, KL_MEM_4K));
	vcpu = kl_vcpu_add(vm, 0);
	hva = add_slot(vm, 1, 0, end - BLOCK, BLOCK, KL_MEM_4K);
	kl_fill_pattern(hva, BLOCK_PAGES, 3);
	expect_err(vcpu, end, PAGE, 0, ENOENT);
	expect_err(vcpu, top - PAGE, PAGE, 0, ENOENT);
	r = (struct kvm_pre_fault_memory){ .gpa = end - BLOCK,
					   .size = BLOCK + PAGE };
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(!ret && r.gpa == end && r.size == PAGE,
		    "%u-bit VM, across the end: ret %d, left %#llx+%#llx",
		    bits, ret, r.gpa, r.size);
	kl_guest_load(vcpu, KL_BLOB(guest_read_pass),
		      &(struct kl_args){ .addr = end - BLOCK,
					 .count = BLOCK_PAGES, .stride = PAGE });
	sum = kl_run_to_done(vcpu);
	TEST_ASSERT_EQ(sum, expected_sum(0, BLOCK_PAGES, 3));
	kl_vm_free(vm);
}

/* ---- block mappings ---- */

/*
 * Pre-fault one 4 KiB page of each 2 MiB block of [gpa, gpa + size), then
 * the guest reads every page: block mappings leave nothing to fault.
 */
static void block_case(struct kl_vm *vm, struct kl_vcpu *vcpu, uint64_t gpa,
		       uint64_t size, uint8_t seed, const char *what)
{
	static const uint64_t offs[] = { 0, BLOCK / 2, BLOCK - PAGE };
	uint64_t b;

	/* The first, a middle or the last page of successive blocks. */
	for (b = 0; b < size / BLOCK; b++)
		pre_fault_one_call(vcpu, gpa + b * BLOCK + offs[b % 3], PAGE,
				   0);
	read_no_faults(vm, vcpu, gpa, 0, size / PAGE, seed, what);
}

static void test_block_thp(void)
{
	const uint64_t size = 3 * BLOCK;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;

	need_prefault();
	vm = counting_vm(&vcpu);
	thp_slot(vm, 1, GPA, size, 4);
	block_case(vm, vcpu, GPA, size, 4, "THP, one page per block "
		   "pre-faulted");
	kl_vm_free(vm);
}

/* Anonymous MAP_HUGETLB, then a shared hugetlbfs file (memfd). */
static void test_block_hugetlb(void)
{
	const uint64_t size = 3 * BLOCK;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	void *anon, *file;
	int fd;

	need_prefault();
	if (!kl_hugetlb_reserve(2 * size / BLOCK))
		tap_skip("cannot reserve %" PRIu64 " 2 MiB hugetlb pages "
			 "(vm.nr_hugepages)", 2 * size / BLOCK);
	vm = kl_vm_create_with_vcpu(&vcpu);
	if (!kl_faults_available(vm)) {
		kl_hugetlb_restore();
		tap_skip("no statistics to count faults with");
	}
	anon = kl_mem_alloc(size, KL_MEM_HUGETLB);
	if (!anon) {
		kl_hugetlb_restore();
		tap_skip("MAP_HUGETLB: %s", strerror(errno));
	}
	kl_fill_pattern(anon, size / PAGE, 5);
	kl_add_slot(vm, 1, 0, GPA, size, anon);
	block_case(vm, vcpu, GPA, size, 5, "anonymous hugetlb, one page per "
		   "block pre-faulted");

	fd = memfd_create("kvm_prefault_hugetlb", MFD_CLOEXEC | MFD_HUGETLB |
			  MFD_HUGE_2MB);
	TEST_ASSERT(fd >= 0, "memfd_create(MFD_HUGETLB)");
	TEST_ASSERT(!ftruncate(fd, size), "ftruncate");
	file = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(file != MAP_FAILED, "mmap hugetlbfs file");
	kl_fill_pattern(file, size / PAGE, 6);
	kl_add_slot(vm, 2, 0, GPA + 64 * MiB, size, file);
	block_case(vm, vcpu, GPA + 64 * MiB, size, 6, "hugetlbfs file, one "
		   "page per block pre-faulted");
	kl_vm_free(vm);
	munmap(file, size);
	close(fd);
	kl_mem_free(anon, size);
	kl_hugetlb_restore();
}

/* The controls: what a block_case pass takes without block mappings. */
static void test_block_control_4k(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	void *hva;

	need_prefault();
	vm = counting_vm(&vcpu);
	hva = add_slot(vm, 1, 0, GPA, BLOCK, KL_MEM_4K);
	kl_fill_pattern(hva, BLOCK_PAGES, 6);
	pre_fault_one_call(vcpu, GPA, PAGE, 0);
	expect_faults(read_pass(vm, vcpu, GPA, BLOCK_PAGES, &(uint32_t){ 0 }),
		      BLOCK_PAGES - 1, "4 KiB backing, one page pre-faulted");
	kl_vm_free(vm);
}

/* Dirty logging maps pages, never blocks: so does a pre-fault. */
static void test_block_dirty_log_pages(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	void *hva;

	need_prefault();
	vm = counting_vm(&vcpu);
	hva = thp_slot(vm, 1, GPA, BLOCK, 7);
	kl_add_slot(vm, 1, KVM_MEM_LOG_DIRTY_PAGES, GPA, BLOCK, hva);
	pre_fault_one_call(vcpu, GPA, PAGE, 0);
	expect_faults(read_pass(vm, vcpu, GPA, BLOCK_PAGES, &(uint32_t){ 0 }),
		      BLOCK_PAGES - 1, "THP with dirty logging, one page "
		      "pre-faulted");
	/* Now every page is mapped. */
	read_no_faults(vm, vcpu, GPA, 0, BLOCK_PAGES, 7, "dirty-logged THP");
	kl_vm_free(vm);
}

/* Ranges that start and end inside blocks: progress is exact. */
static void test_block_partial_range(void)
{
	const uint64_t size = 4 * BLOCK;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;

	need_prefault();
	vm = counting_vm(&vcpu);
	thp_slot(vm, 1, GPA, size, 8);

	/* Three pages in the middle of block 0: the whole block is mapped. */
	pre_fault_one_call(vcpu, GPA + 5 * PAGE, 3 * PAGE, 0);
	read_no_faults(vm, vcpu, GPA, 0, BLOCK_PAGES, 8,
		       "block 0 after 3 pages of it");

	/* Across blocks 1 and 2: one call, both mapped. */
	pre_fault_one_call(vcpu, GPA + 2 * BLOCK - 2 * PAGE, 4 * PAGE, 0);
	read_no_faults(vm, vcpu, GPA + BLOCK, BLOCK_PAGES, 2 * BLOCK_PAGES, 8,
		       "blocks 1-2 after 4 pages across them");

	/* Inside the mapped block 1: done at once, still exact. */
	pre_fault_one_call(vcpu, GPA + BLOCK + 17 * PAGE, 2 * PAGE, 0);
	pre_fault_one_call(vcpu, GPA + BLOCK + PAGE, BLOCK - 2 * PAGE, 0);

	/* Block 3 was never pre-faulted: the control, one fault at least. */
	expect_faults(read_pass(vm, vcpu, GPA + 3 * BLOCK, BLOCK_PAGES,
				&(uint32_t){ 0 }), 1, "block 3, not pre-faulted");
	kl_vm_free(vm);
}

/* ---- the synthetic abort: pre-fault, then no faults ---- */

static void test_prefault_then_no_faults(void)
{
	const uint64_t npages = 1024, size = npages * PAGE;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	void *h1, *h2, *h3;

	need_prefault();
	vm = counting_vm(&vcpu);
	h1 = add_slot(vm, 1, 0, GPA, size, KL_MEM_4K);
	h2 = add_slot(vm, 2, 0, GPA + 64 * MiB, size, KL_MEM_4K);
	h3 = add_slot(vm, 3, 0, GPA + 128 * MiB, size, KL_MEM_4K);
	kl_fill_pattern(h1, npages, 9);
	kl_fill_pattern(h2, npages, 9);
	(void)h3;	/* never touched by the host */

	/* Control: the same pass without pre-fault faults on every page. */
	expect_faults(read_pass(vm, vcpu, GPA + 64 * MiB, npages,
				&(uint32_t){ 0 }), npages,
		      "read pass without pre-fault");

	/* Host-populated memory, pre-faulted: reads and writes, no fault. */
	kl_pre_fault_range(vcpu, GPA, size);
	read_no_faults(vm, vcpu, GPA, 0, npages, 9, "populated, pre-faulted");
	KL_ASSERT_NO_FAULTS(write_pass(vm, vcpu, GPA, npages, 0x3c),
			    "write pass over populated, pre-faulted memory "
			    "(mapped writable)");
	TEST_ASSERT(((uint8_t *)h1)[(npages - 1) * PAGE] == 0x3c,
		    "guest write lost");

	/* Untouched memory (the zero page), pre-faulted: reads, no fault. */
	kl_pre_fault_range(vcpu, GPA + 128 * MiB, size);
	KL_ASSERT_NO_FAULTS(read_pass(vm, vcpu, GPA + 128 * MiB, npages,
				      &(uint32_t){ 0 }),
			    "read pass over untouched, pre-faulted memory");
	kl_vm_free(vm);
}

/*
 * A pre-fault runs its abort on the vCPU's fault state: one that sits in
 * an MMIO exit must still complete that access as the guest made it (the
 * destination register, size and direction come from the syndrome).
 */
static void test_prefault_during_mmio_exit(void)
{
	const uint64_t mmio = 3 * GiB + 0x18;
	struct kl_vcpu *vcpu;
	struct kvm_run *run;
	struct kl_vm *vm;
	uint32_t v = 0xfeedf00d;
	void *hva;
	int ret;

	need_prefault();
	vm = kl_vm_create_with_vcpu(&vcpu);
	run = vcpu->run;
	hva = add_slot(vm, 1, 0, GPA, BLOCK, KL_MEM_4K);
	kl_fill_pattern(hva, BLOCK_PAGES, 16);

	/* A 32-bit MMIO read into w4, pending while we pre-fault. */
	kl_guest_load(vcpu, KL_BLOB(guest_peek),
		      &(struct kl_args){ .addr = mmio });
	ret = kl_vcpu_run(vcpu);
	errno = -ret;
	TEST_ASSERT(!ret && run->exit_reason == KVM_EXIT_MMIO &&
		    !run->mmio.is_write && run->mmio.len == 4 &&
		    run->mmio.phys_addr == mmio,
		    "MMIO read: KVM_RUN %d, exit %u (%s) gpa %#llx len %u "
		    "write %u", ret, run->exit_reason,
		    kl_exit_name(run->exit_reason), run->mmio.phys_addr,
		    run->mmio.len, run->mmio.is_write);
	kl_pre_fault_range(vcpu, GPA, BLOCK / 2);
	if (g_write_known)
		pre_fault_one_call(vcpu, GPA + BLOCK / 2, BLOCK / 2,
				   KL_PF_WRITE);
	memcpy(run->mmio.data, &v, sizeof(v));
	TEST_ASSERT_EQ(kl_run_to_done(vcpu), v);

	/* A 32-bit MMIO write, pending while we pre-fault (again). */
	kl_guest_load(vcpu, KL_BLOB(guest_poke),
		      &(struct kl_args){ .addr = mmio, .val = 0x1234 });
	ret = kl_vcpu_run(vcpu);
	TEST_ASSERT(!ret && run->exit_reason == KVM_EXIT_MMIO &&
		    run->mmio.is_write && run->mmio.phys_addr == mmio,
		    "MMIO write: KVM_RUN %d, exit %u (%s)", ret,
		    run->exit_reason, kl_exit_name(run->exit_reason));
	pre_fault_one_call(vcpu, GPA, BLOCK, 0);
	/* Completed, not replayed: the next exit is the program's "done". */
	kl_run_to_done(vcpu);
	TEST_ASSERT_EQ(vcpu->nr_reports, 0);
	kl_vm_free(vm);
}

/* ---- mappings that exist already ---- */

static void test_already_mapped(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	unsigned int calls;
	struct kvm_pre_fault_memory r;
	void *hva, *thp;
	char why[128];
	int ret;

	need_prefault();
	vm = counting_vm(&vcpu);
	hva = add_slot(vm, 1, 0, GPA, BLOCK, KL_MEM_4K);
	kl_fill_pattern(hva, BLOCK_PAGES, 10);

	/* Pre-faulted twice: the second call is done at once. */
	pre_fault_one_call(vcpu, GPA + 3 * PAGE, PAGE, 0);
	pre_fault_one_call(vcpu, GPA + 3 * PAGE, PAGE, 0);

	/* Mapped by guest accesses, then pre-faulted: done in one call. */
	expect_faults(read_pass(vm, vcpu, GPA + 64 * PAGE, 64,
				&(uint32_t){ 0 }), 64, "first guest pass");
	pre_fault_one_call(vcpu, GPA + 64 * PAGE, 64 * PAGE, 0);
	read_no_faults(vm, vcpu, GPA + 64 * PAGE, 64, 64, 10,
		       "guest-mapped pages");

	/* Half mapped, half not: everything ends mapped. */
	r = (struct kvm_pre_fault_memory){ .gpa = GPA + 96 * PAGE,
					   .size = 64 * PAGE };
	ret = kl_pre_fault_loop(vcpu, &r, &calls);
	errno = -ret;
	TEST_ASSERT(!ret, "half-mapped range");
	read_no_faults(vm, vcpu, GPA + 96 * PAGE, 96, 64, 10,
		       "half guest-mapped, half pre-faulted");

	/* A block that a guest access mapped counts as done too. */
	thp = thp_alloc(BLOCK, false, 11, why, sizeof(why));
	if (!thp) {
		tap_diag("no THP block case: %s", why);
	} else {
		kl_add_slot(vm, 2, 0, GPA + 64 * MiB, BLOCK, thp);
		kl_guest_load(vcpu, KL_BLOB(guest_peek),
			      &(struct kl_args){ .addr = GPA + 64 * MiB });
		kl_run_to_done(vcpu);
		pre_fault_one_call(vcpu, GPA + 64 * MiB + 7 * PAGE, PAGE, 0);
		read_no_faults(vm, vcpu, GPA + 64 * MiB, 0, BLOCK_PAGES, 11,
			       "THP block mapped by one guest access");
	}
	kl_vm_free(vm);
}

/* ---- write intent ---- */

static void test_write_intent_arm64(void)
{
	const uint64_t npages = 512, size = npages * PAGE;
	const uint64_t g1 = GPA, g2 = GPA + 64 * MiB, g3 = GPA + 128 * MiB;
	const uint64_t g4 = GPA + 192 * MiB;
	struct kvm_run *run;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint8_t *h1, *h2, *h4;
	int ret;

	need_write_intent();
	vm = counting_vm(&vcpu);
	run = vcpu->run;
	h1 = alloc_own_vma(size);
	h2 = alloc_own_vma(size);
	kl_add_slot(vm, 1, 0, g1, size, h1);
	kl_add_slot(vm, 2, 0, g2, size, h2);

	/* Untouched memory, write intent: populated writable, no fault. */
	pre_fault_one_call(vcpu, g1, size, KL_PF_WRITE);
	TEST_ASSERT(kl_smaps_kb(h1, "Anonymous") == (long)(size >> 10),
		    "host memory not populated: %ld KiB anonymous",
		    kl_smaps_kb(h1, "Anonymous"));
	KL_ASSERT_NO_FAULTS(write_pass(vm, vcpu, g1, npages, 0x5a),
			    "write pass after write-intent pre-fault");
	TEST_ASSERT(h1[(npages - 1) * PAGE] == 0x5a, "guest write lost");

	/*
	 * Untouched memory, read pre-fault: the zero page, read-only, so
	 * the first write to every page faults.
	 */
	pre_fault_one_call(vcpu, g2, size, 0);
	TEST_ASSERT(kl_smaps_kb(h2, "Anonymous") == 0,
		    "a read pre-fault populated %ld KiB",
		    kl_smaps_kb(h2, "Anonymous"));
	expect_faults(write_pass(vm, vcpu, g2, npages, 0x6b), npages,
		      "write pass after read pre-fault of untouched memory");
	TEST_ASSERT(h2[(npages - 1) * PAGE] == 0x6b, "guest write lost");

	/* Read pre-fault first, then write intent: upgraded, no fault. */
	add_slot(vm, 3, 0, g3, size, KL_MEM_4K);
	pre_fault_one_call(vcpu, g3, size, 0);
	pre_fault_one_call(vcpu, g3, size, KL_PF_WRITE);
	KL_ASSERT_NO_FAULTS(write_pass(vm, vcpu, g3, npages, 0x7c),
			    "write pass after read, then write pre-fault");

	/* Read-only memslot: mapped for reads, no error; writes are MMIO. */
	h4 = add_slot(vm, 4, KVM_MEM_READONLY, g4, size, KL_MEM_4K);
	kl_fill_pattern(h4, npages, 12);
	pre_fault_one_call(vcpu, g4, size, KL_PF_WRITE);
	read_no_faults(vm, vcpu, g4, 0, npages, 12,
		       "read-only memslot after write-intent pre-fault");
	kl_guest_load(vcpu, KL_BLOB(guest_poke),
		      &(struct kl_args){ .addr = g4 + 8, .val = 0xdead });
	ret = kl_vcpu_run(vcpu);
	errno = -ret;
	TEST_ASSERT(!ret && run->exit_reason == KVM_EXIT_MMIO &&
		    run->mmio.is_write && run->mmio.phys_addr == g4 + 8,
		    "write to a read-only memslot: KVM_RUN %d, exit %u (%s)",
		    ret, run->exit_reason, kl_exit_name(run->exit_reason));
	kl_run_to_done(vcpu);
	TEST_ASSERT(h4[8] == 0, "read-only memory written");
	kl_vm_free(vm);
}

static void test_write_intent_block(void)
{
	const uint64_t size = 2 * BLOCK;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	char why[128];
	uint8_t *hva;
	long kb;

	need_write_intent();
	vm = counting_vm(&vcpu);
	/* Untouched: the pre-fault itself allocates the huge pages. */
	hva = thp_alloc(size, true, 0, why, sizeof(why));
	if (!hva)
		tap_skip("%s", why);
	kl_add_slot(vm, 1, 0, GPA, size, hva);
	/* One page of each block, write intent: whole blocks, writable. */
	pre_fault_one_call(vcpu, GPA + PAGE, PAGE, KL_PF_WRITE);
	pre_fault_one_call(vcpu, GPA + 2 * BLOCK - PAGE, PAGE, KL_PF_WRITE);
	kb = kl_anon_huge_kb(hva);
	tap_diag("host: %ld KiB in THPs after the pre-faults", kb);
	if (kb < (long)(size >> 10))
		tap_skip("the host backed only %ld of %" PRIu64 " KiB with "
			 "THPs", kb, size >> 10);
	KL_ASSERT_NO_FAULTS(write_pass(vm, vcpu, GPA, size / PAGE, 0x8d),
			    "write pass over THP blocks after write-intent "
			    "pre-fault of one page each");
	TEST_ASSERT(hva[size - PAGE] == 0x8d, "guest write lost");
	kl_vm_free(vm);
}

/* ---- unresolvable and poisoned host memory ---- */

static void test_efault_unresolvable(void)
{
	const uint64_t npages = 16, unmapped = 5, prot_none = 9;
	struct kvm_pre_fault_memory r = { .gpa = GPA, .size = npages * PAGE };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint8_t *hva;
	int ret;

	need_prefault();
	vm = kl_vm_create_with_vcpu(&vcpu);
	hva = add_slot(vm, 1, 0, GPA, npages * PAGE, KL_MEM_4K);
	kl_fill_pattern(hva, npages, 14);
	TEST_ASSERT(!munmap(hva + unmapped * PAGE, PAGE), "munmap");
	TEST_ASSERT(!mprotect(hva + prot_none * PAGE, PAGE, PROT_NONE),
		    "mprotect");

	/* Progress up to the munmap'ed page, then EFAULT, nothing moved. */
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(!ret && r.gpa == GPA + unmapped * PAGE,
		    "first call: %d, gpa %#llx; want progress up to %#" PRIx64,
		    ret, r.gpa, GPA + unmapped * PAGE);
	expect_err(vcpu, r.gpa, r.size, 0, EFAULT);
	expect_err(vcpu, GPA + unmapped * PAGE, PAGE, 0, EFAULT);
	if (g_write_known)
		expect_err(vcpu, GPA + unmapped * PAGE, PAGE, KL_PF_WRITE,
			   EFAULT);

	/* The same at the PROT_NONE page. */
	r = (struct kvm_pre_fault_memory){ .gpa = GPA + (unmapped + 1) * PAGE,
					   .size = (npages - unmapped - 1) *
						   PAGE };
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(!ret && r.gpa == GPA + prot_none * PAGE,
		    "after the hole: %d, gpa %#llx; want progress up to %#"
		    PRIx64, ret, r.gpa, GPA + prot_none * PAGE);
	expect_err(vcpu, r.gpa, r.size, 0, EFAULT);

	/* Past both, fine; and fine again once the pages are back. */
	pre_fault_one_call(vcpu, GPA + (prot_none + 1) * PAGE,
			   (npages - prot_none - 1) * PAGE, 0);
	TEST_ASSERT(!mprotect(hva + prot_none * PAGE, PAGE, PROT_READ),
		    "mprotect");
	TEST_ASSERT(mmap(hva + unmapped * PAGE, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    hva + unmapped * PAGE, "mmap MAP_FIXED");
	kl_pre_fault_range(vcpu, GPA, npages * PAGE);
	kl_vm_free(vm);
}

static volatile sig_atomic_t g_sigbus;
static void *volatile g_sigbus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	g_sigbus++;
	g_sigbus_addr = si->si_addr;
}

static void test_hwpoison_ehwpoison(void)
{
	const uint64_t npages = 16, bad = 3;
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO };
	struct kvm_pre_fault_memory r = { .gpa = GPA, .size = npages * PAGE };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	uint8_t *hva;
	int ret;

	need_prefault();
	vm = kl_vm_create_with_vcpu(&vcpu);
	hva = add_slot(vm, 1, 0, GPA, npages * PAGE, KL_MEM_4K);
	kl_fill_pattern(hva, npages, 15);
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGBUS, &sa, NULL), "sigaction");
	if (madvise(hva + bad * PAGE, PAGE, MADV_HWPOISON))
		tap_skip("MADV_HWPOISON: %s (needs CONFIG_MEMORY_FAILURE "
			 "and CAP_SYS_ADMIN)", strerror(errno));
	g_sigbus = 0;

	/* Progress up to the poisoned page; there EHWPOISON, no signal. */
	ret = kl_pre_fault(vcpu, &r);
	TEST_ASSERT(!ret && r.gpa == GPA + bad * PAGE,
		    "first call: %d, gpa %#llx; want progress up to %#" PRIx64,
		    ret, r.gpa, GPA + bad * PAGE);
	expect_err(vcpu, r.gpa, r.size, 0, EHWPOISON);
	expect_err(vcpu, GPA + bad * PAGE, PAGE, 0, EHWPOISON);
	if (g_write_known)
		expect_err(vcpu, GPA + bad * PAGE, PAGE, KL_PF_WRITE,
			   EHWPOISON);
	TEST_ASSERT(!g_sigbus, "pre-fault of a poisoned page sent SIGBUS "
		    "(%d, address %p)", (int)g_sigbus, g_sigbus_addr);
	/* The pages after it are fine. */
	pre_fault_one_call(vcpu, GPA + (bad + 1) * PAGE,
			   (npages - bad - 1) * PAGE, 0);

	/* A guest access still gets upstream's SIGBUS and EINTR. */
	kl_guest_load(vcpu, KL_BLOB(guest_read_pass),
		      &(struct kl_args){ .addr = GPA, .count = npages,
					 .stride = PAGE });
	ret = kl_vcpu_run(vcpu);
	TEST_ASSERT(ret == -EINTR && g_sigbus &&
		    g_sigbus_addr == hva + bad * PAGE,
		    "guest access to a poisoned page: KVM_RUN %d (%s), exit %u,"
		    " SIGBUS %d at %p (want %p)", ret, strerror(-ret),
		    vcpu->run->exit_reason, (int)g_sigbus, g_sigbus_addr,
		    (void *)(hva + bad * PAGE));
	kl_vm_free(vm);
}

static const struct tap_test tests[] = {
	{ "caps", test_caps, 0 },
	{ "protected_eopnotsupp", test_protected_eopnotsupp, 0 },
	{ "ipa_limit_enoent", test_ipa_limit_enoent, 0 },
	{ "block_thp", test_block_thp, 0 },
	{ "block_hugetlb", test_block_hugetlb, 0 },
	{ "block_control_4k", test_block_control_4k, 0 },
	{ "block_dirty_log_pages", test_block_dirty_log_pages, 0 },
	{ "block_partial_range", test_block_partial_range, 0 },
	{ "prefault_then_no_faults", test_prefault_then_no_faults, 0 },
	{ "prefault_during_mmio_exit", test_prefault_during_mmio_exit, 0 },
	{ "already_mapped", test_already_mapped, 0 },
	{ "write_intent_arm64", test_write_intent_arm64, 0 },
	{ "write_intent_block", test_write_intent_block, 0 },
	{ "efault_unresolvable", test_efault_unresolvable, 0 },
	{ "hwpoison_ehwpoison", test_hwpoison_ehwpoison, 0 },
};

int main(void)
{
	g_protected = kl_kvm_protected();
	g_mode = kl_prefault_setup(tests, TAP_ARRAY_SIZE(tests),
				   &g_write_known);
	return kl_run_tests(tests, TAP_ARRAY_SIZE(tests));
}
