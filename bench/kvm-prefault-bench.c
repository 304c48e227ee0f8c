// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-prefault-bench: what KVM_PRE_FAULT_MEMORY (read intent, as upstream)
 * and KVM_PRE_FAULT_MEMORY_WRITE (write intent, kvm-prefault's opt-in flag)
 * cost, and what they save the guest's first pass over its RAM.
 *
 * Runs inside the QEMU harness guest (a static binary, no arguments needed).
 * For each backing (private anonymous memory with 4 KiB pages or with THP)
 * and each size it creates a fresh VM per measurement, whose guest is 32-bit
 * flat-mode code that reads or writes one byte of every 4 KiB page of its
 * RAM once, and measures:
 *
 *   mode  none           no pre-fault
 *         read           KVM_PRE_FAULT_MEMORY, flags 0
 *         write          KVM_PRE_FAULT_MEMORY, KVM_PRE_FAULT_MEMORY_WRITE
 *         populate+read  madvise(MADV_POPULATE_WRITE), then flags 0: what a
 *                        VMM has to do today to get write-ready mappings
 *   pass  read / write   the guest's first pass after it; "none" = no guest
 *                        run (pre-fault only, from 1 or 2 vCPUs in parallel)
 *
 * and prints one machine-readable line per measurement:
 *
 *   BENCH,kernel,backing,size_mib,mode,pass,vcpus,populate_s,prefault_s,
 *         prefault_gibs,pass_s,total_s,faults,pages_4k,pages_2m,samples,
 *         total_min_s,total_max_s,status
 *
 * faults = KVM's pf_taken during the guest pass (stage-2 faults the guest
 * took, including the one on its code page, which is never pre-faulted);
 * pages_4k / pages_2m = KVM's pages_4k / pages_2m gauges after the last step,
 * minus before the VM existed; samples = fresh VMs measured for the row (up
 * to 5, fewer once they add up to 4 s: short times are noisy under
 * emulation), of which the row shows the one with the median total time,
 * and total_min_s / total_max_s the fastest and slowest sample's total;
 * status = ok, n/a (the kernel rejects the
 * flag: EINVAL), skip (does not fit in free memory) or error:<errno>.
 * Fields that do not apply are "-".
 *
 * usage: kvm-prefault-bench [-s MIB,MIB,...] [-b 4k,thp] [-f] [-w]
 *   -s  sizes in MiB (default 256,1024,2048)
 *   -b  backings (default: 4k,thp)
 *   -f  full: also measure read pre-fault + write pass above
 *       BENCH_SLOW_MAX_MIB (default 256; such rows say "skip-slow")
 *   -w  no warm-up (the warm-up touches all free memory once, then each
 *       THP size runs one discarded guest pass)
 *
 * Read pre-fault then a write pass is the slowest measurement by far (two
 * stage-2 faults per 4 KiB page, emulated), and scales linearly; its fault
 * count is exact at any size.  It is skipped above BENCH_SLOW_MAX_MIB unless
 * asked for, to keep a run of both kernels near 20 minutes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_prefault.h>

/* What bench/run.sh passes is in the harness's run list, not built in. */
#define BENCH_SIZES	"256,1024,2048"
#define BENCH_SLOW_MAX_MIB	256
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define BENCH_STR_(x)	#x
#define BENCH_STR(x)	BENCH_STR_(x)

#define CODE_GPA	0x1000ULL
#define RAM_GPA		(1ULL << 30)	/* 1 GiB: aligned for any page size */
#define HPAGE		((uint64_t)2 << 20)
#define PORT_DONE	0x10
#define MAX_VCPUS	2
#define MAX_SIZES	16
#define MIB		((uint64_t)1 << 20)
#define GIB		((uint64_t)1 << 30)
/* Free memory a measurement leaves to the guest kernel and the harness. */
#define MEM_MARGIN	(160 * MIB)

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

enum backing { B_4K, B_THP };
enum mode { M_NONE, M_READ, M_WRITE, M_POPULATE };
enum pass { P_NONE, P_READ, P_WRITE };

static const char *const backing_name[] = { "4k", "thp" };
static const char *const mode_name[] = { "none", "read", "write",
					 "populate+read" };
static const char *const pass_name[] = { "none", "read", "write" };

struct vm {
	int kvm, fd;
	int nvcpus;
	int vcpu[MAX_VCPUS];
	struct kvm_run *run[MAX_VCPUS];
	size_t run_size;
	unsigned char *code, *map, *ram;
	size_t map_len;
	uint64_t size;
};

static char kernel_label[160];
static int write_supported = -1;	/* -1 unknown, 0 EINVAL, 1 yes */
static int full;

static void die(const char *what)
{
	fprintf(stderr, "kvm-prefault-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok = 0;

	if (f) {
		if (fgets(buf, len, f)) {
			buf[strcspn(buf, "\n")] = 0;
			ok = 1;
		}
		fclose(f);
	}
	return ok;
}

static void write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static uint64_t stat_u64(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%s", name);
	if (!read_line(path, buf, sizeof(buf)))
		return 0;
	return strtoull(buf, NULL, 10);
}

/* A field of /proc/meminfo in bytes. */
static uint64_t meminfo(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	size_t n = strlen(field);
	uint64_t kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, n) && line[n] == ':') {
			kib = strtoull(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib << 10;
}

static void set_slot(struct vm *vm, int slot, uint64_t gpa, void *hva,
		     uint64_t size)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r))
		die("KVM_SET_USER_MEMORY_REGION");
}

static void vm_create(struct vm *vm, uint64_t size, enum backing b,
		      enum pass pass, int nvcpus)
{
	struct kvm_sregs sregs;
	struct kvm_segment seg = {
		.base = 0, .limit = 0xffffffff, .present = 1, .s = 1,
		.db = 1, .g = 1, .type = 3,	/* read/write data */
	};
	int i;

	memset(vm, 0, sizeof(*vm));
	vm->size = size;
	vm->nvcpus = nvcpus;
	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		die("/dev/kvm");
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die("KVM_CREATE_VM");

	vm->code = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* 2 MiB-aligned host range, as the 2 MiB-aligned guest range. */
	vm->map_len = size + HPAGE;
	vm->map = mmap(NULL, vm->map_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->code == MAP_FAILED || vm->map == MAP_FAILED)
		die("mmap");
	vm->ram = (unsigned char *)(((uintptr_t)vm->map + HPAGE - 1) &
				    ~(uintptr_t)(HPAGE - 1));
	if (madvise(vm->ram, size,
		    b == B_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise(MADV_[NO]HUGEPAGE)");
	if (pass == P_WRITE)
		memcpy(vm->code, guest_writer, guest_writer_end - guest_writer);
	else
		memcpy(vm->code, guest_reader, guest_reader_end - guest_reader);
	set_slot(vm, 0, CODE_GPA, vm->code, 4096);
	set_slot(vm, 1, RAM_GPA, vm->ram, size);

	vm->run_size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	for (i = 0; i < nvcpus; i++) {
		vm->vcpu[i] = ioctl(vm->fd, KVM_CREATE_VCPU, i);
		if (vm->vcpu[i] < 0)
			die("KVM_CREATE_VCPU");
		vm->run[i] = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
				  MAP_SHARED, vm->vcpu[i], 0);
		if (vm->run[i] == MAP_FAILED)
			die("mmap kvm_run");

		/* Flat 32-bit protected mode, no paging: GVA == GPA. */
		if (ioctl(vm->vcpu[i], KVM_GET_SREGS, &sregs))
			die("KVM_GET_SREGS");
		sregs.cr0 |= 1;
		seg.type = 3;
		seg.selector = 0;
		sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
		seg.type = 11;		/* execute/read code */
		seg.selector = 8;
		sregs.cs = seg;
		if (ioctl(vm->vcpu[i], KVM_SET_SREGS, &sregs))
			die("KVM_SET_SREGS");
	}

	{
		struct kvm_regs regs = {
			.rip = CODE_GPA, .rflags = 2,
			.rsi = RAM_GPA, .rcx = size / 4096,
		};

		if (ioctl(vm->vcpu[0], KVM_SET_REGS, &regs))
			die("KVM_SET_REGS");
	}
}

static void vm_destroy(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->nvcpus; i++) {
		munmap(vm->run[i], vm->run_size);
		close(vm->vcpu[i]);
	}
	close(vm->fd);
	close(vm->kvm);
	munmap(vm->map, vm->map_len);
	munmap(vm->code, 4096);
}

/*
 * The loop a VMM should use: re-issue the same struct until it is done.
 * EINTR and EAGAIN leave progress in gpa/size; anything else is final.
 */
static int prefault(int vcpu, uint64_t gpa, uint64_t size, uint64_t flags)
{
	struct kvm_pre_fault_memory range = {
		.gpa = gpa, .size = size, .flags = flags,
	};

	while (range.size) {
		if (ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range) == 0)
			continue;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		return -errno;
	}
	return 0;
}

struct prefault_job {
	int vcpu;
	uint64_t gpa, size, flags;
	pthread_barrier_t *start;
	int ret;
};

static void *prefault_thread(void *arg)
{
	struct prefault_job *j = arg;

	pthread_barrier_wait(j->start);
	j->ret = prefault(j->vcpu, j->gpa, j->size, j->flags);
	return NULL;
}

/*
 * Pre-fault the whole RAM slot, split in equal parts over the VM's vCPUs,
 * one thread each.  Returns 0 or the first -errno.
 */
static int prefault_ram(struct vm *vm, uint64_t flags, double *secs)
{
	struct prefault_job job[MAX_VCPUS];
	pthread_t tid[MAX_VCPUS];
	pthread_barrier_t start;
	uint64_t part = vm->size / vm->nvcpus;
	double t0;
	int i, r = 0;

	/* Parts on huge page boundaries, so that no 2 MiB page is split. */
	part &= ~(HPAGE - 1);
	pthread_barrier_init(&start, NULL, vm->nvcpus + 1);
	for (i = 0; i < vm->nvcpus; i++) {
		job[i] = (struct prefault_job) {
			.vcpu = vm->vcpu[i], .gpa = RAM_GPA + i * part,
			.size = i == vm->nvcpus - 1 ?
				vm->size - i * part : part,
			.flags = flags, .start = &start,
		};
		if (pthread_create(&tid[i], NULL, prefault_thread, &job[i])) {
			errno = EAGAIN;
			die("pthread_create");
		}
	}
	t0 = now();
	pthread_barrier_wait(&start);
	for (i = 0; i < vm->nvcpus; i++) {
		pthread_join(tid[i], NULL);
		if (!r)
			r = job[i].ret;
	}
	*secs = now() - t0;
	pthread_barrier_destroy(&start);
	return r;
}

/* Run vCPU 0 until the guest reports done; -errno on a KVM_RUN error. */
static int run_guest(struct vm *vm)
{
	struct kvm_run *run = vm->run[0];

	for (;;) {
		if (ioctl(vm->vcpu[0], KVM_RUN, 0) < 0)
			return -errno;
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == PORT_DONE)
			return 0;
		if (run->exit_reason != KVM_EXIT_HLT) {
			fprintf(stderr, "kvm-prefault-bench: unexpected exit %u\n",
				run->exit_reason);
			return -EIO;
		}
	}
}

struct result {
	double populate_s, prefault_s, pass_s;
	uint64_t faults;
	int64_t pages_4k, pages_2m;
	char status[32];
	int has_populate, has_prefault, has_pass;
};

static void fmt_secs(char *buf, size_t len, int has, double v)
{
	/* Microseconds: the deterministic (-icount) runs resolve them. */
	if (has)
		snprintf(buf, len, "%.6f", v);
	else
		snprintf(buf, len, "-");
}

static void report(const char *tag, enum backing b, uint64_t size,
		   enum mode m, enum pass p, int nvcpus, int samples,
		   double min_s, double max_s, const struct result *r)
{
	char pop[32], pf[32], gibs[32], ps[32], tot[32], fl[32], p4[32],
	     p2[32], mn[32], mx[32];
	int ok = !strcmp(r->status, "ok");
	double total = r->populate_s + r->prefault_s + r->pass_s;

	fmt_secs(pop, sizeof(pop), ok && r->has_populate, r->populate_s);
	fmt_secs(pf, sizeof(pf), ok && r->has_prefault, r->prefault_s);
	if (ok && r->has_prefault && r->prefault_s > 0)
		snprintf(gibs, sizeof(gibs), "%.3f",
			 (double)size / GIB / r->prefault_s);
	else
		snprintf(gibs, sizeof(gibs), "-");
	fmt_secs(ps, sizeof(ps), ok && r->has_pass, r->pass_s);
	fmt_secs(tot, sizeof(tot), ok, total);
	if (ok && r->has_pass)
		snprintf(fl, sizeof(fl), "%" PRIu64, r->faults);
	else
		snprintf(fl, sizeof(fl), "-");
	if (ok) {
		snprintf(p4, sizeof(p4), "%" PRId64, r->pages_4k);
		snprintf(p2, sizeof(p2), "%" PRId64, r->pages_2m);
	} else {
		snprintf(p4, sizeof(p4), "-");
		snprintf(p2, sizeof(p2), "-");
	}

	fmt_secs(mn, sizeof(mn), ok, min_s);
	fmt_secs(mx, sizeof(mx), ok, max_s);
	printf("%s,%s,%s,%" PRIu64 ",%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,%s,%d,%s,%s,%s\n",
	       tag, kernel_label, backing_name[b], size / MIB, mode_name[m],
	       pass_name[p], nvcpus, pop, pf, gibs, ps, tot, fl, p4, p2,
	       samples, mn, mx, r->status);
	/* And for people reading the console. */
	printf("#  %-3s %5" PRIu64 " MiB  pre-fault %-13s x%d  pass %-5s  %s",
	       backing_name[b], size / MIB, mode_name[m], nvcpus, pass_name[p],
	       ok ? "" : r->status);
	if (ok) {
		if (r->has_populate)
			printf("populate %s s, ", pop);
		if (r->has_prefault)
			printf("pre-fault %s s (%s GiB/s), ", pf, gibs);
		if (r->has_pass)
			printf("pass %s s, %s faults, ", ps, fl);
		printf("mapped 4k %s 2m %s", p4, p2);
		if (samples > 1)
			printf(" (median of %d)", samples);
	}
	printf("\n");
}

/* One sample on a fresh VM; the caller checked that it may run. */
static void sample(enum backing b, uint64_t size, enum mode m, enum pass p,
		   int nvcpus, struct result *r)
{
	uint64_t flags = m == M_WRITE ? KVM_PRE_FAULT_MEMORY_WRITE : 0;
	uint64_t base_4k, base_2m, f0;
	struct vm vm;
	double t0;
	int ret;

	memset(r, 0, sizeof(*r));
	snprintf(r->status, sizeof(r->status), "ok");
	base_4k = stat_u64("pages_4k");
	base_2m = stat_u64("pages_2m");
	vm_create(&vm, size, b, p, nvcpus);

	if (m == M_POPULATE) {
		t0 = now();
		if (madvise(vm.ram, size, MADV_POPULATE_WRITE))
			die("madvise(MADV_POPULATE_WRITE)");
		r->populate_s = now() - t0;
		r->has_populate = 1;
	}
	if (m != M_NONE) {
		ret = prefault_ram(&vm, flags, &r->prefault_s);
		r->has_prefault = 1;
		if (ret == -EINVAL && m == M_WRITE) {
			write_supported = 0;
			snprintf(r->status, sizeof(r->status), "n/a");
			goto out;
		}
		if (ret) {
			snprintf(r->status, sizeof(r->status), "error:%s",
				 strerror(-ret));
			goto out;
		}
		if (m == M_WRITE)
			write_supported = 1;
	}
	if (p != P_NONE) {
		f0 = stat_u64("pf_taken");
		t0 = now();
		ret = run_guest(&vm);
		r->pass_s = now() - t0;
		r->faults = stat_u64("pf_taken") - f0;
		r->has_pass = 1;
		if (ret) {
			snprintf(r->status, sizeof(r->status), "error:%s",
				 strerror(-ret));
			goto out;
		}
	}
	r->pages_4k = (int64_t)(stat_u64("pages_4k") - base_4k);
	r->pages_2m = (int64_t)(stat_u64("pages_2m") - base_2m);
out:
	vm_destroy(&vm);
}

static double total_s(const struct result *r)
{
	return r->populate_s + r->prefault_s + r->pass_s;
}

static int cmp_total(const void *a, const void *b)
{
	double x = total_s(a), y = total_s(b);

	return x < y ? -1 : x > y;
}

/*
 * One row: fresh VMs, @max_samples of them at most (fewer once they add up
 * to SAMPLE_BUDGET seconds); the row is the sample with the median time.
 */
#define MAX_SAMPLES	5
#define SAMPLE_BUDGET	4.0

static void measure(const char *tag, enum backing b, uint64_t size,
		    enum mode m, enum pass p, int nvcpus, int max_samples)
{
	struct result rs[MAX_SAMPLES], r = { .status = "ok" };
	double spent = 0;
	int n = 0;

	if (m == M_WRITE && write_supported == 0) {
		snprintf(r.status, sizeof(r.status), "n/a");
		report(tag, b, size, m, p, nvcpus, 0, 0, 0, &r);
		return;
	}
	if (m == M_READ && p == P_WRITE && !full &&
	    size > (uint64_t)BENCH_SLOW_MAX_MIB * MIB) {
		snprintf(r.status, sizeof(r.status), "skip-slow");
		report(tag, b, size, m, p, nvcpus, 0, 0, 0, &r);
		return;
	}
	/* What the measurement allocates, with the guest kernel's margin. */
	if ((m != M_NONE || p == P_WRITE) &&
	    size + MEM_MARGIN > meminfo("MemFree")) {
		snprintf(r.status, sizeof(r.status), "skip");
		report(tag, b, size, m, p, nvcpus, 0, 0, 0, &r);
		return;
	}

	if (max_samples > MAX_SAMPLES)
		max_samples = MAX_SAMPLES;
	do {
		sample(b, size, m, p, nvcpus, &rs[n]);
		if (strcmp(rs[n].status, "ok")) {
			report(tag, b, size, m, p, nvcpus, 1, 0, 0, &rs[n]);
			return;
		}
		spent += total_s(&rs[n]);
		n++;
	} while (n < max_samples && spent < SAMPLE_BUDGET);

	qsort(rs, n, sizeof(rs[0]), cmp_total);
	report(tag, b, size, m, p, nvcpus, n, total_s(&rs[0]),
	       total_s(&rs[n - 1]), &rs[n / 2]);
	if (n > 1) {
		int i;

		printf("#      samples (s):");
		for (i = 0; i < n; i++)
			printf(" %.6f", total_s(&rs[i]));
		printf("\n");
	}
}

/*
 * The host's first touch of guest RAM is slow under QEMU (and varies a lot
 * with THP): touch all free memory once, so that every measurement runs on
 * RAM the host has already backed.
 */
static void warm_up_memory(void)
{
	uint64_t free_b = meminfo("MemFree"), len;
	unsigned char *p;
	double t0 = now();

	if (free_b <= 2 * MEM_MARGIN)
		return;
	len = (free_b - MEM_MARGIN) & ~(HPAGE - 1);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap warm-up");
	madvise(p, len, MADV_HUGEPAGE);
	if (madvise(p, len, MADV_POPULATE_WRITE))
		fprintf(stderr, "kvm-prefault-bench: warm-up populate: %s\n",
			strerror(errno));
	munmap(p, len);
	printf("# warm-up: touched %" PRIu64 " MiB of free memory in %.2f s\n",
	       len / MIB, now() - t0);
}

static int parse_sizes(const char *s, uint64_t *sizes)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok && n < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long long mib = strtoull(tok, NULL, 10);

		/* 2 MiB granules, and a guest loop below 4 GiB. */
		if (!mib || mib % 2 || mib > 3072) {
			fprintf(stderr, "kvm-prefault-bench: bad size '%s' (MiB: even, at most 3072)\n",
				tok);
			exit(2);
		}
		sizes[n++] = mib * MIB;
	}
	free(copy);
	return n;
}

static void usage(void)
{
	fprintf(stderr, "usage: kvm-prefault-bench [-s MIB,MIB,...] [-b 4k,thp] [-f] [-w]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct { enum mode m; enum pass p; } runs[] = {
		{ M_NONE, P_READ }, { M_READ, P_READ },
		{ M_WRITE, P_READ }, { M_POPULATE, P_READ },
		{ M_NONE, P_WRITE }, { M_READ, P_WRITE },
		{ M_WRITE, P_WRITE }, { M_POPULATE, P_WRITE },
	};
	const char *sizes_arg = BENCH_SIZES, *backings_arg = "4k,thp";
	uint64_t sizes[MAX_SIZES];
	char kvm_version[64] = "", thp[128] = "?";
	int nsizes, do_warmup = 1, opt, bi, si, i;
	double t_start = now();
	struct utsname u;
	struct vm probe;
	long cap;

	while ((opt = getopt(argc, argv, "s:b:fwh")) != -1) {
		switch (opt) {
		case 'f': full = 1; break;
		case 's': sizes_arg = optarg; break;
		case 'b': backings_arg = optarg; break;
		case 'w': do_warmup = 0; break;
		default: usage();
		}
	}
	nsizes = parse_sizes(sizes_arg, sizes);

	setvbuf(stdout, NULL, _IOLBF, 0);
	mount("none", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access("/sys/kernel/debug/kvm/pf_taken", R_OK)) {
		fprintf(stderr, "kvm-prefault-bench: no KVM statistics in debugfs\n");
		return 4;
	}
	/* We ask for huge pages (or none) per range, explicitly. */
	write_str("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp,
		  sizeof(thp));

	uname(&u);
	read_line("/sys/module/kvm/version", kvm_version, sizeof(kvm_version));
	snprintf(kernel_label, sizeof(kernel_label), "%s%s%s", u.release,
		 *kvm_version ? "+kvm-prefault-" : "", kvm_version);

	vm_create(&probe, HPAGE, B_4K, P_READ, 1);
	cap = ioctl(probe.fd, KVM_CHECK_EXTENSION, KVM_CAP_PRE_FAULT_MEMORY);
	vm_destroy(&probe);
	printf("BENCHINFO,%s,cap_pre_fault=%ld,cpus=%ld,mem_mib=%" PRIu64 ",thp=%s,slow_max_mib=%s\n",
	       kernel_label, cap, sysconf(_SC_NPROCESSORS_ONLN),
	       meminfo("MemTotal") / MIB, thp,
	       full ? "all" : BENCH_STR(BENCH_SLOW_MAX_MIB));
	if (cap <= 0) {
		printf("# this KVM has no KVM_PRE_FAULT_MEMORY\n");
		return 4;
	}
	printf("# columns: BENCH,kernel,backing,size_mib,mode,pass,vcpus,populate_s,prefault_s,prefault_gibs,pass_s,total_s,faults,pages_4k,pages_2m,samples,total_min_s,total_max_s,status\n");

	if (do_warmup)
		warm_up_memory();

	for (bi = 0; bi < 2; bi++) {
		enum backing b = bi;

		if (!strstr(backings_arg, backing_name[b]))
			continue;
		for (si = 0; si < nsizes; si++) {
			uint64_t size = sizes[si];

			printf("# %s, %" PRIu64 " MiB (%.0f s into the run)\n",
			       backing_name[b], size / MIB, now() - t_start);
			/* THP's first guest pass varies: one to throw away. */
			if (do_warmup && b == B_THP)
				measure("WARMUP", b, size, M_NONE, P_WRITE, 1, 1);
			for (i = 0; i < (int)(sizeof(runs) / sizeof(runs[0])); i++)
				measure("BENCH", b, size, runs[i].m, runs[i].p, 1,
					MAX_SAMPLES);
			/*
			 * Pre-fault alone: populate+read for comparison, then
			 * read and write intent from one vCPU and from two at
			 * once.
			 */
			measure("BENCH", b, size, M_POPULATE, P_NONE, 1, MAX_SAMPLES);
			for (i = M_READ; i <= M_WRITE; i++) {
				measure("BENCH", b, size, i, P_NONE, 1, MAX_SAMPLES);
				measure("BENCH", b, size, i, P_NONE, 2, MAX_SAMPLES);
			}
		}
	}
	printf("BENCHDONE,%s,%.1f\n", kernel_label, now() - t_start);
	return 0;
}
