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
 * faults = the VM's pf_taken during the guest pass (stage-2 faults the
 * guest took, including the one on its code page, which is never
 * pre-faulted); pages_4k / pages_2m = the VM's pages_4k / pages_2m gauges
 * after the last step, minus before anything was mapped; samples = fresh
 * VMs measured for the row (up to 5, fewer once they add up to 4 s: short
 * times are noisy under emulation), of which the row shows the one with the
 * median total time, and total_min_s / total_max_s the fastest and slowest
 * sample's total; status = ok, n/a (the kernel rejects the flag: EINVAL),
 * skip (does not fit in free memory) or error:<errno>.  Fields that do not
 * apply are "-".
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
 *
 * The VMs are selftests/lib's (kvm_lite): its code slot, vCPUs, memslots,
 * host memory, statistics (kl_stat(): the VM's own counters) and guest
 * programs (lib/x86_64/guest_code.c: guest_read_pass, guest_write_pass with
 * a 4 KiB stride; the read pass also sums the bytes and reports the sum
 * before it is done, one more exit to the bench and no fault).  It is
 * built with the library's sources, the .c files of selftests/lib and
 * selftests/lib/x86_64, and its flags (-D_GNU_SOURCE, -Iselftests/lib
 * -Iselftests/lib/x86_64): see bench/run.sh.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "guest_code.h"
#include "kvm_lite.h"

/* What bench/run.sh passes is in the harness's run list, not built in. */
#define BENCH_SIZES	"256,1024,2048"
#define BENCH_SLOW_MAX_MIB	256
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define BENCH_STR_(x)	#x
#define BENCH_STR(x)	BENCH_STR_(x)

/* Guest RAM: memslot 1 at KL_DATA_GPA (1 GiB, aligned for any page size). */
#define RAM_SLOT	1
#define MAX_VCPUS	2
#define MAX_SIZES	16
#define MIB		((uint64_t)1 << 20)
#define GIB		((uint64_t)1 << 30)
/* The guest programs address the first 4 GiB only. */
#define MAX_SIZE_MIB	((KL_GUEST_ADDR_LIMIT - KL_DATA_GPA) / MIB)
/* Free memory a measurement leaves to the guest kernel and the harness. */
#define MEM_MARGIN	(160 * MIB)

enum mode { M_NONE, M_READ, M_WRITE, M_POPULATE };
enum pass { P_NONE, P_READ, P_WRITE };

/* The backings measured, in this order: kvm_lite's, without hugetlb. */
#define NR_BACKINGS	2
static const char *const backing_name[NR_BACKINGS] = {
	[KL_MEM_4K] = "4k", [KL_MEM_THP] = "thp",
};
static const char *const mode_name[] = { "none", "read", "write",
					 "populate+read" };
static const char *const pass_name[] = { "none", "read", "write" };

struct vm {
	struct kl_vm *kl;
	struct kl_vcpu *vcpu[MAX_VCPUS];
	int nvcpus;
	void *ram;
	uint64_t size;
};

static char kernel_label[160];
static int write_supported = -1;	/* -1 unknown, 0 EINVAL, 1 yes */
static int full;
/* Set on the bench's own ways out; see lib_exit_note(). */
static int exit_expected;

static void die(const char *what)
{
	fprintf(stderr, "kvm-prefault-bench: %s: %s\n", what, strerror(errno));
	exit_expected = 1;
	exit(1);
}

/*
 * selftests/lib ends the process with exit(1) when one of its checks fails
 * (TEST_ASSERT, its stuck-ioctl watchdog), and outside a TAP run it keeps
 * the message for a TAP header that never comes: say at least that much.
 */
static void lib_exit_note(void)
{
	if (!exit_expected)
		fprintf(stderr, "kvm-prefault-bench: stopped by a failed check in selftests/lib (VM setup; last error: %s)\n",
			strerror(errno));
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

/* A field of /proc/meminfo in bytes (0 when missing). */
static uint64_t meminfo(const char *field)
{
	long kib = kl_meminfo(field);

	return kib > 0 ? (uint64_t)kib << 10 : 0;
}

/*
 * A fresh VM: kvm_lite's code slot and vCPUs (32-bit flat mode), guest RAM
 * of @size bytes with @b at KL_DATA_GPA, and vCPU 0 set to run the
 * library's read or write pass over it: one byte of every 4 KiB page, once.
 */
static void vm_create(struct vm *vm, uint64_t size, enum kl_backing b,
		      enum pass pass, int nvcpus)
{
	const struct kl_args args = {
		.addr = KL_DATA_GPA, .count = size / KL_PAGE_SIZE,
		.stride = KL_PAGE_SIZE, .val = 1,
	};
	int i;

	memset(vm, 0, sizeof(*vm));
	vm->size = size;
	vm->nvcpus = nvcpus;
	vm->kl = kl_vm_create_with_vcpu(&vm->vcpu[0]);
	for (i = 1; i < nvcpus; i++)
		vm->vcpu[i] = kl_vcpu_add(vm->kl, i);

	/* 2 MiB-aligned host range, as the 2 MiB-aligned guest range. */
	vm->ram = kl_mem_alloc(size, b);
	if (!vm->ram)
		die("mmap");
	kl_add_slot(vm->kl, RAM_SLOT, 0, KL_DATA_GPA, size, vm->ram);

	if (pass == P_WRITE)
		kl_guest_load(vm->vcpu[0], KL_BLOB(guest_write_pass), &args);
	else
		kl_guest_load(vm->vcpu[0], KL_BLOB(guest_read_pass), &args);
}

static void vm_destroy(struct vm *vm)
{
	/* kl_vm_free() leaves the slots' memory to their owner. */
	void *code = kl_gpa2hva(vm->kl, 0);

	kl_vm_free(vm->kl);
	kl_mem_free(code, KL_CODE_SLOT_SIZE);
	kl_mem_free(vm->ram, vm->size);
}

/*
 * The timed ioctls (KVM_PRE_FAULT_MEMORY, KVM_RUN) are issued here, on
 * kvm_lite's vCPU fds, not through kl_pre_fault() and kl_run_to_done():
 * those are the tests' and fail any single ioctl that takes over 25 s,
 * where a pass over 2 GiB takes 30 s and more under emulation.
 *
 * The loop a VMM should use: re-issue the same struct until it is done.
 * EINTR and EAGAIN leave progress in gpa/size; anything else is final.
 */
static int prefault(struct kl_vcpu *vcpu, uint64_t gpa, uint64_t size,
		    uint64_t flags)
{
	struct kvm_pre_fault_memory range = {
		.gpa = gpa, .size = size, .flags = flags,
	};

	while (range.size) {
		if (ioctl(vcpu->fd, KVM_PRE_FAULT_MEMORY, &range) == 0)
			continue;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		return -errno;
	}
	return 0;
}

struct prefault_job {
	struct kl_vcpu *vcpu;
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
	part &= ~(KL_HPAGE_SIZE - 1);
	pthread_barrier_init(&start, NULL, vm->nvcpus + 1);
	for (i = 0; i < vm->nvcpus; i++) {
		job[i] = (struct prefault_job) {
			.vcpu = vm->vcpu[i], .gpa = KL_DATA_GPA + i * part,
			.size = i == vm->nvcpus - 1 ?
				vm->size - i * part : part,
			.flags = flags, .start = &start,
		};
		if (pthread_create(&tid[i], NULL, prefault_thread, &job[i])) {
			errno = EAGAIN;
			die("pthread_create");
		}
	}
	t0 = tap_now();
	pthread_barrier_wait(&start);
	for (i = 0; i < vm->nvcpus; i++) {
		pthread_join(tid[i], NULL);
		if (!r)
			r = job[i].ret;
	}
	*secs = tap_now() - t0;
	pthread_barrier_destroy(&start);
	return r;
}

/*
 * Run vCPU 0 until the guest program is done (its exits decoded by
 * kvm_lite); -errno on a KVM_RUN error.
 */
static int run_guest(struct vm *vm)
{
	struct kl_vcpu *vcpu = vm->vcpu[0];
	bool done = false;

	while (!done) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0)
			return -errno;
		if (!kl_arch_handle_exit(vcpu, &done)) {
			fprintf(stderr, "kvm-prefault-bench: unexpected exit %u (%s)\n",
				vcpu->run->exit_reason,
				kl_exit_name(vcpu->run->exit_reason));
			return -EIO;
		}
	}
	return 0;
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

static void report(const char *tag, enum kl_backing b, uint64_t size,
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
static void sample(enum kl_backing b, uint64_t size, enum mode m, enum pass p,
		   int nvcpus, struct result *r)
{
	uint64_t flags = m == M_WRITE ? KVM_PRE_FAULT_MEMORY_WRITE : 0;
	uint64_t base_4k, base_2m, f0;
	struct vm vm;
	double t0;
	int ret;

	memset(r, 0, sizeof(*r));
	snprintf(r->status, sizeof(r->status), "ok");
	vm_create(&vm, size, b, p, nvcpus);
	/* Nothing is mapped yet: 0 unless kl_stat() reads global counts. */
	base_4k = kl_stat(vm.kl, "pages_4k");
	base_2m = kl_stat(vm.kl, "pages_2m");

	if (m == M_POPULATE) {
		t0 = tap_now();
		if (madvise(vm.ram, size, MADV_POPULATE_WRITE))
			die("madvise(MADV_POPULATE_WRITE)");
		r->populate_s = tap_now() - t0;
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
		f0 = kl_stat(vm.kl, "pf_taken");
		t0 = tap_now();
		ret = run_guest(&vm);
		r->pass_s = tap_now() - t0;
		r->faults = kl_stat(vm.kl, "pf_taken") - f0;
		r->has_pass = 1;
		if (ret) {
			snprintf(r->status, sizeof(r->status), "error:%s",
				 strerror(-ret));
			goto out;
		}
	}
	r->pages_4k = (int64_t)(kl_stat(vm.kl, "pages_4k") - base_4k);
	r->pages_2m = (int64_t)(kl_stat(vm.kl, "pages_2m") - base_2m);
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

static void measure(const char *tag, enum kl_backing b, uint64_t size,
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
	double t0 = tap_now();
	void *p;

	if (free_b <= 2 * MEM_MARGIN)
		return;
	len = (free_b - MEM_MARGIN) & ~(KL_HPAGE_SIZE - 1);
	p = kl_mem_alloc(len, KL_MEM_THP);
	if (!p)
		die("mmap warm-up");
	if (madvise(p, len, MADV_POPULATE_WRITE))
		fprintf(stderr, "kvm-prefault-bench: warm-up populate: %s\n",
			strerror(errno));
	kl_mem_free(p, len);
	printf("# warm-up: touched %" PRIu64 " MiB of free memory in %.2f s\n",
	       len / MIB, tap_now() - t0);
}

static int parse_sizes(const char *s, uint64_t *sizes)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok && n < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long long mib = strtoull(tok, NULL, 10);

		/* 2 MiB granules, and a guest loop below 4 GiB. */
		if (!mib || mib % 2 || mib > MAX_SIZE_MIB) {
			fprintf(stderr, "kvm-prefault-bench: bad size '%s' (MiB: even, at most %" PRIu64 ")\n",
				tok, MAX_SIZE_MIB);
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
	int nsizes, do_warmup = 1, opt, bi, si, i, kvm;
	double t_start = tap_now();
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
	/* kvm_lite mounts debugfs for its statistics. */
	kvm = kl_open_dev();
	if (kvm < 0) {
		fprintf(stderr, "kvm-prefault-bench: /dev/kvm: %s\n",
			strerror(errno));
		return 4;
	}
	close(kvm);
	atexit(lib_exit_note);
	vm_create(&probe, KL_HPAGE_SIZE, KL_MEM_4K, P_READ, 1);
	if (!kl_stat_available(probe.kl, "pf_taken") ||
	    !kl_stat_available(probe.kl, "pages_4k") ||
	    !kl_stat_available(probe.kl, "pages_2m")) {
		fprintf(stderr, "kvm-prefault-bench: no KVM statistics (pf_taken, pages_4k, pages_2m)\n");
		exit_expected = 1;
		return 4;
	}
	cap = kl_check_cap(probe.kl->fd, KVM_CAP_PRE_FAULT_MEMORY);
	vm_destroy(&probe);
	/* We ask for huge pages (or none) per range, explicitly. */
	write_str("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp,
		  sizeof(thp));

	uname(&u);
	read_line("/sys/module/kvm/version", kvm_version, sizeof(kvm_version));
	snprintf(kernel_label, sizeof(kernel_label), "%s%s%s", u.release,
		 *kvm_version ? "+kvm-prefault-" : "", kvm_version);

	printf("BENCHINFO,%s,cap_pre_fault=%ld,cpus=%ld,mem_mib=%" PRIu64 ",thp=%s,slow_max_mib=%s\n",
	       kernel_label, cap, sysconf(_SC_NPROCESSORS_ONLN),
	       meminfo("MemTotal") / MIB, thp,
	       full ? "all" : BENCH_STR(BENCH_SLOW_MAX_MIB));
	if (cap <= 0) {
		printf("# this KVM has no KVM_PRE_FAULT_MEMORY\n");
		exit_expected = 1;
		return 4;
	}
	printf("# columns: BENCH,kernel,backing,size_mib,mode,pass,vcpus,populate_s,prefault_s,prefault_gibs,pass_s,total_s,faults,pages_4k,pages_2m,samples,total_min_s,total_max_s,status\n");

	if (do_warmup)
		warm_up_memory();

	for (bi = 0; bi < NR_BACKINGS; bi++) {
		enum kl_backing b = bi;

		if (!strstr(backings_arg, backing_name[b]))
			continue;
		for (si = 0; si < nsizes; si++) {
			uint64_t size = sizes[si];

			printf("# %s, %" PRIu64 " MiB (%.0f s into the run)\n",
			       backing_name[b], size / MIB, tap_now() - t_start);
			/* THP's first guest pass varies: one to throw away. */
			if (do_warmup && b == KL_MEM_THP)
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
	printf("BENCHDONE,%s,%.1f\n", kernel_label, tap_now() - t_start);
	exit_expected = 1;
	return 0;
}
