// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_SET_USER_MEMORY_REGION2 (KVM_CAP_USER_MEMORY2): creates, moves,
 * changes and deletes memslots exactly like KVM_SET_USER_MEMORY_REGION,
 * guests can use the slots, and the guest_memfd flag and unknown flags are
 * refused with EINVAL.  Skips when the capability is not reported.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_code.h"
#include "kvm_lite.h"

#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif

#define SLOT		1
#define SIZE		(2 * KL_HPAGE_SIZE)
#define GPA_A		KL_DATA_GPA
#define GPA_B		(KL_DATA_GPA + 64 * KL_HPAGE_SIZE)
#define MMIO_VALUE	0xa5a5a5a5u

static struct kvm_userspace_memory_region2 region2(uint32_t slot,
						   uint32_t flags,
						   uint64_t gpa,
						   uint64_t size, void *hva)
{
	return (struct kvm_userspace_memory_region2){
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};
}

static void set2(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		 uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region2 r = region2(slot, flags, gpa,
							 size, hva);
	int ret = kl_ioctl_region2(vm, &r);

	errno = -ret;
	TEST_ASSERT(!ret, "REGION2 slot %u flags %#x gpa %#" PRIx64
		    " size %#" PRIx64, slot, flags, gpa, size);
	kl_slot_track(vm, slot, flags, gpa, size, hva);
}

static void set1(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		 uint64_t gpa, uint64_t size, void *hva)
{
	int ret = kl_ioctl_region1(vm, slot, flags, gpa, size,
				   (uintptr_t)hva);

	errno = -ret;
	TEST_ASSERT(!ret, "REGION slot %u flags %#x gpa %#" PRIx64
		    " size %#" PRIx64, slot, flags, gpa, size);
	kl_slot_track(vm, slot, flags, gpa, size, hva);
}

static uint32_t peek(struct kl_vcpu *vcpu, uint64_t gpa)
{
	kl_guest_load(vcpu, KL_BLOB(guest_peek),
		      &(struct kl_args){ .addr = gpa });
	return kl_run_to_done(vcpu);
}

static void poke(struct kl_vcpu *vcpu, uint64_t gpa, uint32_t val)
{
	kl_guest_load(vcpu, KL_BLOB(guest_poke),
		      &(struct kl_args){ .addr = gpa, .val = val });
	kl_run_to_done(vcpu);
}

/* The guest's access to gpa must exit to userspace as MMIO. */
static void expect_mmio(struct kl_vcpu *vcpu, uint64_t gpa, bool write)
{
	struct kvm_run *run = vcpu->run;
	int ret;

	if (write)
		kl_guest_load(vcpu, KL_BLOB(guest_poke),
			      &(struct kl_args){ .addr = gpa,
						 .val = 0x1234 });
	else
		kl_guest_load(vcpu, KL_BLOB(guest_peek),
			      &(struct kl_args){ .addr = gpa });
	ret = kl_vcpu_run(vcpu);
	errno = -ret;
	TEST_ASSERT(!ret && run->exit_reason == KVM_EXIT_MMIO,
		    "access to %#" PRIx64 ": KVM_RUN %d, exit %u (%s)", gpa,
		    ret, run->exit_reason, kl_exit_name(run->exit_reason));
	TEST_ASSERT(run->mmio.phys_addr == gpa && run->mmio.len == 4 &&
		    run->mmio.is_write == write,
		    "mmio gpa %#llx len %u write %u, want %#" PRIx64 " 4 %d",
		    run->mmio.phys_addr, run->mmio.len, run->mmio.is_write,
		    gpa, write);
	if (!write) {
		uint32_t v = MMIO_VALUE;

		memcpy(run->mmio.data, &v, 4);
	}
	/* Completing the access lets the guest finish. */
	if (!write)
		TEST_ASSERT_EQ(kl_run_to_done(vcpu), MMIO_VALUE);
	else
		kl_run_to_done(vcpu);
}

static void *alloc_filled(uint32_t seed)
{
	uint32_t *p = kl_mem_alloc(SIZE, KL_MEM_4K);
	uint64_t i;

	TEST_ASSERT(p, "alloc");
	for (i = 0; i < SIZE / 4; i++)
		p[i] = seed ^ (uint32_t)(i * 4);
	return p;
}

/* ------------------------------------------------------------------ */

static void test_abi_layout(void)
{
	_Static_assert(sizeof(struct kvm_userspace_memory_region2) == 160,
		       "size");
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2, slot), 0);
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2, flags),
		       4);
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2,
				guest_phys_addr), 8);
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2,
				memory_size), 16);
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2,
				userspace_addr), 24);
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2,
				guest_memfd_offset), 32);
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2,
				guest_memfd), 40);
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2, pad1),
		       44);
	TEST_ASSERT_EQ(offsetof(struct kvm_userspace_memory_region2, pad2),
		       48);
	TEST_ASSERT_EQ(KVM_SET_USER_MEMORY_REGION2, 0x40a0ae49UL);
	TEST_ASSERT_EQ(KVM_CAP_USER_MEMORY2, 231);
	TEST_ASSERT_EQ(KVM_MEM_GUEST_MEMFD, 4);
}

static void test_cap_value(void)
{
	struct kl_vm *vm = kl_vm_create();
	int sys = kl_check_cap(vm->kvm_fd, KVM_CAP_USER_MEMORY2);
	int vmc = kl_check_cap(vm->fd, KVM_CAP_USER_MEMORY2);

	tap_diag("KVM_CAP_USER_MEMORY2: /dev/kvm %d, VM %d", sys, vmc);
	TEST_ASSERT(sys > 0 && vmc > 0, "capability not reported");
	kl_vm_free(vm);
}

static void test_create_and_run(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	uint32_t *p = alloc_filled(0x11110000);

	set2(vm, SLOT, 0, GPA_A, SIZE, p);
	TEST_ASSERT_EQ(peek(vcpu, GPA_A), p[0]);
	TEST_ASSERT_EQ(peek(vcpu, GPA_A + SIZE - 4), p[SIZE / 4 - 1]);
	TEST_ASSERT_EQ(peek(vcpu, GPA_A + 0x12344), p[0x12344 / 4]);
	poke(vcpu, GPA_A + 0x5000, 0xdeadbeef);
	TEST_ASSERT_EQ(p[0x5000 / 4], 0xdeadbeef);
	/* A second slot next to it, through the new ioctl too. */
	set2(vm, SLOT + 1, 0, GPA_A + SIZE, SIZE, alloc_filled(0x22220000));
	TEST_ASSERT_EQ(peek(vcpu, GPA_A + SIZE + 8), 0x22220000u ^ 8);
	kl_vm_free(vm);
}

static void test_move(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	uint32_t *p = alloc_filled(0x33330000);

	set2(vm, SLOT, 0, GPA_A, SIZE, p);
	TEST_ASSERT_EQ(peek(vcpu, GPA_A + 0x100), p[0x40]);
	set2(vm, SLOT, 0, GPA_B, SIZE, p);		/* move */
	TEST_ASSERT_EQ(peek(vcpu, GPA_B + 0x100), p[0x40]);
	expect_mmio(vcpu, GPA_A + 0x100, false);
	set2(vm, SLOT, 0, GPA_A, SIZE, p);		/* and back */
	TEST_ASSERT_EQ(peek(vcpu, GPA_A + 0x104), p[0x41]);
	expect_mmio(vcpu, GPA_B + 0x100, false);
	kl_vm_free(vm);
}

static void test_delete_and_recreate(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	uint32_t *p = alloc_filled(0x44440000);
	uint32_t *q = alloc_filled(0x55550000);

	set2(vm, SLOT, 0, GPA_A, SIZE, p);
	TEST_ASSERT_EQ(peek(vcpu, GPA_A), p[0]);
	set2(vm, SLOT, 0, GPA_A, 0, NULL);		/* delete */
	expect_mmio(vcpu, GPA_A, false);
	expect_mmio(vcpu, GPA_A + 0x2000, true);
	/* Same slot id, other memory, half the size. */
	set2(vm, SLOT, 0, GPA_A, SIZE / 2, q);
	TEST_ASSERT_EQ(peek(vcpu, GPA_A + 0x2000), q[0x800]);
	expect_mmio(vcpu, GPA_A + SIZE / 2, false);
	kl_vm_free(vm);
}

static void test_flags_dirty_log(void)
{
	const uint64_t npages = SIZE / KL_PAGE_SIZE;
	unsigned long *bm = calloc(npages / 64, 8);
	struct kvm_dirty_log log = { .slot = SLOT, .dirty_bitmap = bm };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	uint32_t *p = alloc_filled(0);
	uint64_t i;

	TEST_ASSERT(bm, "calloc");
	set2(vm, SLOT, 0, GPA_A, SIZE, p);
	poke(vcpu, GPA_A, 1);
	/* Dirty logging off: no log. */
	TEST_ASSERT(ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) == -1 &&
		    errno == ENOENT, "GET_DIRTY_LOG without logging");
	set2(vm, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA_A, SIZE, p);
	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log), "GET_DIRTY_LOG");
	poke(vcpu, GPA_A + 3 * KL_PAGE_SIZE + 8, 2);
	poke(vcpu, GPA_A + 100 * KL_PAGE_SIZE, 3);
	TEST_ASSERT(!ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log), "GET_DIRTY_LOG");
	for (i = 0; i < npages; i++) {
		bool want = i == 3 || i == 100;
		bool got = bm[i / 64] >> (i % 64) & 1;

		TEST_ASSERT(want == got, "page %" PRIu64 ": dirty %d, want %d",
			    i, got, want);
	}
	set2(vm, SLOT, 0, GPA_A, SIZE, p);		/* logging off again */
	TEST_ASSERT(ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) == -1 &&
		    errno == ENOENT, "GET_DIRTY_LOG after logging off");
	TEST_ASSERT_EQ(peek(vcpu, GPA_A + 100 * KL_PAGE_SIZE), 3);
	free(bm);
	kl_vm_free(vm);
}

static void test_readonly(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	uint32_t *p = alloc_filled(0x66660000);

	set2(vm, SLOT, KVM_MEM_READONLY, GPA_A, SIZE, p);
	TEST_ASSERT_EQ(peek(vcpu, GPA_A + 0x40), p[0x10]);
	expect_mmio(vcpu, GPA_A + 0x40, true);
	TEST_ASSERT_EQ(p[0x10], 0x66660000u ^ 0x40);
	kl_vm_free(vm);
}

static void test_mixed_old_and_new(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	uint32_t *p = alloc_filled(0x77770000);

	/* Old creates, new moves, old deletes. */
	set1(vm, SLOT, 0, GPA_A, SIZE, p);
	set2(vm, SLOT, 0, GPA_B, SIZE, p);
	TEST_ASSERT_EQ(peek(vcpu, GPA_B + 4), p[1]);
	set1(vm, SLOT, 0, GPA_B, 0, NULL);
	expect_mmio(vcpu, GPA_B + 4, false);
	/* New creates, old moves, new deletes. */
	set2(vm, SLOT, 0, GPA_A, SIZE, p);
	set1(vm, SLOT, 0, GPA_B, SIZE, p);
	TEST_ASSERT_EQ(peek(vcpu, GPA_B + 8), p[2]);
	set2(vm, SLOT, 0, GPA_B, 0, NULL);
	expect_mmio(vcpu, GPA_B + 8, false);
	kl_vm_free(vm);
}

static int try2(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		uint64_t gpa, uint64_t size, void *hva, uint32_t gmem_fd)
{
	struct kvm_userspace_memory_region2 r = region2(slot, flags, gpa,
							 size, hva);

	r.guest_memfd = gmem_fd;
	return kl_ioctl_region2(vm, &r);
}

static void test_guest_memfd_flag_einval(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	uint32_t *p = alloc_filled(0x88880000);
	bool has_gmem = kl_check_cap(vm->kvm_fd, KVM_CAP_GUEST_MEMFD) > 0;
	int ret;

	tap_diag("KVM_CAP_GUEST_MEMFD %sreported", has_gmem ? "" : "not ");
	/* A descriptor that is not a guest_memfd: EINVAL either way. */
	ret = try2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA_A, SIZE, p, vm->kvm_fd);
	TEST_ASSERT(ret == -EINVAL, "GUEST_MEMFD with /dev/kvm's fd: %d (%s)",
		    ret, strerror(-ret));
	ret = try2(vm, SLOT, KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES,
		   GPA_A, SIZE, p, vm->kvm_fd);
	TEST_ASSERT(ret == -EINVAL, "GUEST_MEMFD|LOG_DIRTY: %d", ret);
	ret = try2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA_A, SIZE, p, 0);
	TEST_ASSERT(ret == -EINVAL || (has_gmem && ret == -EBADF),
		    "GUEST_MEMFD with fd 0: %d (%s)", ret, strerror(-ret));
	ret = try2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA_A, SIZE, p, ~0u);
	TEST_ASSERT(ret == -EINVAL || (has_gmem && ret == -EBADF),
		    "GUEST_MEMFD with fd -1: %d (%s)", ret, strerror(-ret));
	/* The old ioctl never takes the flag. */
	ret = kl_ioctl_region1(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA_A, SIZE,
			       (uintptr_t)p);
	TEST_ASSERT(ret == -EINVAL, "old ioctl with GUEST_MEMFD: %d", ret);
	/* Nothing was created: the gpa is still MMIO, the slot id free. */
	expect_mmio(vcpu, GPA_A, false);
	set2(vm, SLOT, 0, GPA_A, SIZE, p);
	TEST_ASSERT_EQ(peek(vcpu, GPA_A), p[0]);
	kl_vm_free(vm);
}

static void test_unknown_flags_einval(void)
{
	struct kl_vm *vm = kl_vm_create();
	void *p = alloc_filled(0);
	unsigned int b;

	for (b = 3; b < 32; b++) {
		int r2 = try2(vm, SLOT, 1u << b, GPA_A, SIZE, p, 0);
		int r1 = kl_ioctl_region1(vm, SLOT, 1u << b, GPA_A, SIZE,
					  (uintptr_t)p);

		TEST_ASSERT(r2 == -EINVAL && r1 == -EINVAL,
			    "flag bit %u: REGION2 %d, REGION %d", b, r2, r1);
	}
	TEST_ASSERT_EQ(try2(vm, SLOT, ~0u, GPA_A, SIZE, p, 0), -EINVAL);
	/* Known flags still work. */
	TEST_ASSERT_EQ(try2(vm, SLOT, KVM_MEM_LOG_DIRTY_PAGES |
			    KVM_MEM_READONLY, GPA_A, SIZE, p, 0), 0);
	kl_vm_free(vm);
}

/* Bad arguments fail the same way through both ioctls. */
static void test_invalid_args_parity(void)
{
	struct kl_vm *vm = kl_vm_create();
	int nslots = kl_check_cap(vm->fd, KVM_CAP_NR_MEMSLOTS);
	char *p = alloc_filled(0);
	struct {
		const char *what;
		uint32_t slot;
		uint64_t gpa, size;
		uint64_t hva;
		int err;
	} c[] = {
		{ "unaligned gpa", 2, GPA_B + 0x800, SIZE, (uintptr_t)p,
		  EINVAL },
		{ "unaligned size", 2, GPA_B, SIZE - 0x800, (uintptr_t)p,
		  EINVAL },
		{ "unaligned hva", 2, GPA_B, SIZE - KL_PAGE_SIZE,
		  (uintptr_t)p + 0x800, EINVAL },
		{ "kernel hva", 2, GPA_B, SIZE, 0xffffffff81000000ULL,
		  EINVAL },
		{ "gpa wraps", 2, ~0ULL & ~(KL_PAGE_SIZE - 1), SIZE,
		  (uintptr_t)p, EINVAL },
		{ "slot id too big", nslots > 0 ? nslots + 7 : 0x7fff, GPA_B,
		  SIZE, (uintptr_t)p, EINVAL },
		{ "overlaps slot 1", 2, GPA_A + SIZE / 2, SIZE,
		  (uintptr_t)p, EEXIST },
	};
	unsigned int i;

	set2(vm, SLOT, 0, GPA_A, SIZE, p);
	for (i = 0; i < TAP_ARRAY_SIZE(c); i++) {
		struct kvm_userspace_memory_region2 r = {
			.slot = c[i].slot, .guest_phys_addr = c[i].gpa,
			.memory_size = c[i].size, .userspace_addr = c[i].hva,
		};
		int r2 = kl_ioctl_region2(vm, &r);
		int r1 = kl_ioctl_region1(vm, c[i].slot, 0, c[i].gpa,
					  c[i].size, c[i].hva);

		TEST_ASSERT(r2 == -c[i].err && r1 == -c[i].err,
			    "%s: REGION2 %d (%s), REGION %d (%s), want -%d",
			    c[i].what, r2, strerror(-r2), r1, strerror(-r1),
			    c[i].err);
	}
	/* Changing the size of an existing slot is refused by both. */
	TEST_ASSERT_EQ(try2(vm, SLOT, 0, GPA_A, SIZE / 2, p, 0), -EINVAL);
	TEST_ASSERT_EQ(kl_ioctl_region1(vm, SLOT, 0, GPA_A, SIZE / 2,
					(uintptr_t)p), -EINVAL);
	kl_vm_free(vm);
}

static const struct tap_test tests[] = {
	{ "abi_layout", test_abi_layout, 0 },
	{ "cap_value", test_cap_value, 0 },
	{ "create_and_run", test_create_and_run, 0 },
	{ "move", test_move, 0 },
	{ "delete_and_recreate", test_delete_and_recreate, 0 },
	{ "flags_dirty_log", test_flags_dirty_log, 0 },
	{ "readonly", test_readonly, 0 },
	{ "mixed_old_and_new", test_mixed_old_and_new, 0 },
	{ "guest_memfd_flag_einval", test_guest_memfd_flag_einval, 0 },
	{ "unknown_flags_einval", test_unknown_flags_einval, 0 },
	{ "invalid_args_parity", test_invalid_args_parity, 0 },
};

int main(void)
{
	kl_require_cap(tests, TAP_ARRAY_SIZE(tests), KVM_CAP_USER_MEMORY2,
		       "KVM_CAP_USER_MEMORY2");
	return kl_run_tests(tests, TAP_ARRAY_SIZE(tests));
}
