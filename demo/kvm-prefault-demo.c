// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-prefault-demo: a tiny VMM that shows what KVM_PRE_FAULT_MEMORY and
 * KVM_EXIT_MEMORY_FAULT change for a VMM, in words.
 *
 * The guest is 32-bit flat protected mode code that reads (or writes) one
 * byte of every 4 KiB page of its RAM and then reports through an OUT
 * instruction.  The demo runs it without pre-fault, with upstream's read
 * pre-fault and with our write-intent pre-fault, and counts the stage-2
 * faults the guest took (KVM's pf_taken statistic).
 * Then it unmaps a page of guest RAM behind KVM's back, runs the guest,
 * and shows the memory-fault exit that names the page, repairs the mapping
 * and lets the guest finish.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_prefault.h>

#define CODE_GPA	0x1000ULL
#define RAM_GPA		0x100000ULL		/* 1 MiB */
#define RAM_SIZE	(64ULL << 20)		/* 64 MiB */
#define PORT_DONE	0x10

/*
 * Guests: ESI = first byte, ECX = number of 4 KiB pages.  Read (or write)
 * one byte per page, then OUT to PORT_DONE and HLT.
 */
extern const unsigned char guest_reader[], guest_reader_end[];
extern const unsigned char guest_writer[], guest_writer_end[];
asm(".pushsection .rodata\n"
    ".code32\n"
    "guest_reader:\n"
    "1:	movb (%esi), %al\n"
    "	addl $4096, %esi\n"
    "	loop 1b\n"
    "	outb %al, $0x10\n"
    "	hlt\n"
    "guest_reader_end:\n"
    "guest_writer:\n"
    "1:	movb %cl, (%esi)\n"
    "	addl $4096, %esi\n"
    "	loop 1b\n"
    "	outb %al, $0x10\n"
    "	hlt\n"
    "guest_writer_end:\n"
    ".code64\n"
    ".popsection\n");

struct vm {
	int kvm, fd, vcpu;
	struct kvm_run *run;
	unsigned char *code, *ram;
};

static void die(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static const char *kvm_version(void)
{
	static char v[64] = "(none: the distribution's)";
	FILE *f = fopen("/sys/module/kvm/version", "r");

	if (f) {
		if (fgets(v, sizeof(v), f))
			v[strcspn(v, "\n")] = 0;
		fclose(f);
	}
	return v;
}

static long cap(int fd, long c)
{
	long r = ioctl(fd, KVM_CHECK_EXTENSION, c);

	return r < 0 ? 0 : r;
}

static void set_slot(struct vm *vm, int slot, uint64_t gpa, void *hva,
		     uint64_t size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r))
		die("KVM_SET_USER_MEMORY_REGION2");
}

static void vm_create(struct vm *vm, int writer)
{
	struct kvm_sregs sregs;
	struct kvm_segment seg = {
		.base = 0, .limit = 0xffffffff, .present = 1, .s = 1,
		.db = 1, .g = 1, .type = 3,	/* read/write data */
	};
	int size;

	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		die("/dev/kvm");
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die("KVM_CREATE_VM");

	vm->code = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vm->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->code == MAP_FAILED || vm->ram == MAP_FAILED)
		die("mmap");
	/* 4 KiB pages make the fault counts easy to read. */
	madvise(vm->ram, RAM_SIZE, MADV_NOHUGEPAGE);
	if (writer)
		memcpy(vm->code, guest_writer, guest_writer_end - guest_writer);
	else
		memcpy(vm->code, guest_reader, guest_reader_end - guest_reader);
	set_slot(vm, 0, CODE_GPA, vm->code, 4096);
	set_slot(vm, 1, RAM_GPA, vm->ram, RAM_SIZE);

	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		die("KVM_CREATE_VCPU");
	size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu, 0);
	if (vm->run == MAP_FAILED)
		die("mmap kvm_run");

	/* Flat 32-bit protected mode, no paging: GVA == GPA. */
	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS");
	sregs.cr0 |= 1;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
	seg.type = 11;			/* execute/read code */
	seg.selector = 8;
	sregs.cs = seg;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs))
		die("KVM_SET_SREGS");
}

static void vm_destroy(struct vm *vm)
{
	close(vm->vcpu);
	close(vm->fd);
	close(vm->kvm);
	munmap(vm->ram, RAM_SIZE);
	munmap(vm->code, 4096);
}

static void guest_start(struct vm *vm)
{
	struct kvm_regs regs = {
		.rip = CODE_GPA, .rflags = 2,
		.rsi = RAM_GPA, .rcx = RAM_SIZE / 4096,
	};

	if (ioctl(vm->vcpu, KVM_SET_REGS, &regs))
		die("KVM_SET_REGS");
}

static uint64_t pf_taken(void)
{
	FILE *f = fopen("/sys/kernel/debug/kvm/pf_taken", "r");
	uint64_t v = 0;

	if (f) {
		if (fscanf(f, "%" SCNu64, &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The loop a VMM should use: re-issue the same struct until it is done.
 * EINTR and EAGAIN leave progress in gpa/size; anything else is final.
 */
static int prefault(struct vm *vm, uint64_t gpa, uint64_t size,
		    uint64_t flags)
{
	struct kvm_pre_fault_memory range = {
		.gpa = gpa, .size = size, .flags = flags,
	};

	while (range.size) {
		if (ioctl(vm->vcpu, KVM_PRE_FAULT_MEMORY, &range) == 0)
			continue;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		return -errno;
	}
	return 0;
}

/* Run until the guest reports done; returns -errno on a KVM_RUN error. */
static int run_guest(struct vm *vm)
{
	for (;;) {
		if (ioctl(vm->vcpu, KVM_RUN, 0) < 0)
			return -errno;
		if (vm->run->exit_reason == KVM_EXIT_IO &&
		    vm->run->io.port == PORT_DONE)
			return 0;
		if (vm->run->exit_reason != KVM_EXIT_HLT) {
			fprintf(stderr, "demo: unexpected exit %u\n",
				vm->run->exit_reason);
			exit(1);
		}
	}
}

enum mode { NONE, READ, WRITE };

static void pass(const char *title, int writer, enum mode mode)
{
	uint64_t flags = mode == WRITE ? KVM_PRE_FAULT_MEMORY_WRITE : 0;
	struct vm vm;
	double t0, t1;
	uint64_t f0;
	int r;

	vm_create(&vm, writer);
	guest_start(&vm);
	t0 = now();
	if (mode != NONE) {
		r = prefault(&vm, CODE_GPA, 4096, 0);
		if (!r)
			r = prefault(&vm, RAM_GPA, RAM_SIZE, flags);
		if (r) {
			errno = -r;
			die("KVM_PRE_FAULT_MEMORY");
		}
	}
	t1 = now();
	f0 = pf_taken();
	if (run_guest(&vm))
		die("KVM_RUN");
	printf("  %-40s pre-fault %6.3f s, guest pass %6.3f s, stage-2 faults: %6" PRIu64 "\n",
	       title, t1 - t0, now() - t1, pf_taken() - f0);
	vm_destroy(&vm);
}

static void memory_fault_demo(void)
{
	uint64_t bad_gpa = RAM_GPA + 5 * 4096;
	unsigned char *bad_hva;
	struct kvm_memory_fault_info *mf;
	struct vm vm;
	int r;

	vm_create(&vm, 0);
	guest_start(&vm);
	bad_hva = vm.ram + (bad_gpa - RAM_GPA);
	/* Take a page away behind KVM's back, as a post-copy VMM would. */
	munmap(bad_hva, 4096);
	printf("  unmapped the host page behind guest page 0x%" PRIx64 "\n",
	       bad_gpa);

	r = run_guest(&vm);
	mf = kvm_run_memory_fault(vm.run);
	if (r == -EFAULT && vm.run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
		printf("  KVM_RUN failed with EFAULT and exit reason KVM_EXIT_MEMORY_FAULT:\n"
		       "    gpa 0x%llx, size %llu, flags 0x%llx\n",
		       (unsigned long long)mf->gpa,
		       (unsigned long long)mf->size,
		       (unsigned long long)mf->flags);
	} else {
		printf("  KVM_RUN returned %d (%s), exit reason %u: no memory-fault information\n",
		       r, strerror(-r), vm.run->exit_reason);
		exit(1);
	}

	/* Repair what KVM named, then resume where the guest stopped. */
	bad_hva = vm.ram + (mf->gpa - RAM_GPA);
	if (mmap(bad_hva, mf->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		die("mmap repair");
	if (run_guest(&vm))
		die("KVM_RUN after repair");
	printf("  mapped it back and re-entered KVM_RUN: the guest finished its pass\n");
	vm_destroy(&vm);
}

int main(void)
{
	struct vm probe;
	long pre, mfi;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mount("none", "/sys/kernel/debug", "debugfs", 0, NULL);

	vm_create(&probe, 0);
	pre = cap(probe.fd, KVM_CAP_PRE_FAULT_MEMORY);
	mfi = cap(probe.fd, KVM_CAP_MEMORY_FAULT_INFO);
	printf("KVM module version %s: KVM_CAP_PRE_FAULT_MEMORY=%ld KVM_CAP_MEMORY_FAULT_INFO=%ld KVM_CAP_USER_MEMORY2=%ld\n",
	       kvm_version(), pre, mfi,
	       cap(probe.fd, KVM_CAP_USER_MEMORY2));
	vm_destroy(&probe);
	if (!pre || !mfi) {
		printf("this KVM does not have the features: load kvm-prefault's modules\n");
		return 4;
	}

	printf("\nA guest reads every 4 KiB page of its %llu MiB of RAM once:\n",
	       RAM_SIZE >> 20);
	pass("no pre-fault:", 0, NONE);
	pass("KVM_PRE_FAULT_MEMORY:", 0, READ);
	printf("\nA guest writes every 4 KiB page of its %llu MiB of RAM once:\n",
	       RAM_SIZE >> 20);
	pass("no pre-fault:", 1, NONE);
	pass("KVM_PRE_FAULT_MEMORY (upstream, read):", 1, READ);
	pass("... with KVM_PRE_FAULT_MEMORY_WRITE:", 1, WRITE);
	printf("  (times are emulated: QEMU TCG runs this kernel; the fault counts are exact)\n");

	printf("\nA VMM that lost a page of guest memory:\n");
	memory_fault_demo();
	return 0;
}
