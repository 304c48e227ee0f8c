// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_lite: VM, memslot, vCPU and statistics helpers for the kvm-prefault
 * selftests.  See kvm_lite.h.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kvm_lite.h"

/*
 * Stuck-ioctl watch: every KVM ioctl that could spin or block in the kernel
 * is timed per thread; a watchdog thread fails the (sub-)test with the
 * ioctl's description when one takes longer than KL_IOCTL_LIMIT_S.
 */
#define KL_IOCTL_LIMIT_S	25.0
#define KL_MAX_WATCHED		16

struct kl_watched {
	volatile double since;	/* 0: idle */
	char what[120];
};

static struct kl_watched kl_watched[KL_MAX_WATCHED];
static int kl_nwatched;
static __thread int kl_my_watch = -1;
static pthread_mutex_t kl_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t kl_watch_pid;

static void *kl_watchdog(void *arg)
{
	int i;

	(void)arg;
	for (;;) {
		double now = tap_now();

		for (i = 0; i < kl_nwatched; i++) {
			double since = kl_watched[i].since;

			if (since && now - since > KL_IOCTL_LIMIT_S)
				tap_fail("stuck for %.0f s in %s",
					 KL_IOCTL_LIMIT_S, kl_watched[i].what);
		}
		usleep(100000);
	}
	return NULL;
}

static void kl_watch_begin(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void kl_watch_begin(const char *fmt, ...)
{
	struct kl_watched *w;
	va_list ap;

	if (kl_my_watch < 0 || kl_watch_pid != getpid()) {
		pthread_t t;

		pthread_mutex_lock(&kl_watch_lock);
		if (kl_watch_pid != getpid()) {
			/* First use in this process (sub-tests fork). */
			kl_watch_pid = getpid();
			kl_nwatched = 0;
			pthread_create(&t, NULL, kl_watchdog, NULL);
			pthread_detach(t);
		}
		kl_my_watch = kl_nwatched < KL_MAX_WATCHED ? kl_nwatched++ :
			      KL_MAX_WATCHED - 1;
		pthread_mutex_unlock(&kl_watch_lock);
	}
	w = &kl_watched[kl_my_watch];
	va_start(ap, fmt);
	vsnprintf(w->what, sizeof(w->what), fmt, ap);
	va_end(ap);
	w->since = tap_now();
}

static int kl_watch_end(int ret)
{
	int err = errno;

	kl_watched[kl_my_watch].since = 0;
	errno = err;
	return ret;
}

#define DEBUGFS		"/sys/kernel/debug"
#define DEBUGFS_KVM	DEBUGFS "/kvm"

static void kl_try_mount_debugfs(void)
{
	static bool tried;
	struct stat st;

	if (tried)
		return;
	tried = true;
	if (!stat(DEBUGFS_KVM, &st))
		return;
	/* Best effort: tests that need the counters skip without them. */
	mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
}

int kl_open_dev(void)
{
	kl_try_mount_debugfs();
	return open("/dev/kvm", O_RDWR | O_CLOEXEC);
}

int kl_check_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? -errno : r;
}

struct kl_vm *kl_vm_create(void)
{
	return kl_vm_create_type(0);
}

struct kl_vm *kl_vm_create_type(unsigned long type)
{
	struct kl_vm *vm = calloc(1, sizeof(*vm));
	int r;

	TEST_ASSERT(vm, "calloc");
	vm->kvm_fd = kl_open_dev();
	TEST_ASSERT(vm->kvm_fd >= 0, "open /dev/kvm");
	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	TEST_ASSERT(r == KVM_API_VERSION, "KVM_GET_API_VERSION = %d", r);
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, type);
	TEST_ASSERT(vm->fd >= 0, "KVM_CREATE_VM type %#lx", type);
	vm->has_region2 = kl_check_cap(vm->fd, KVM_CAP_USER_MEMORY2) > 0;
	vm->stats_fd = -1;
	return vm;
}

void kl_keep_static_keys(void)
{
	int kvm = kl_open_dev();
	int vm = kvm >= 0 ? ioctl(kvm, KVM_CREATE_VM, 0) : -1;

	/* Best effort, and deliberately never closed. */
	if (vm >= 0)
		ioctl(vm, KVM_CREATE_VCPU, 0);
}

void kl_vm_free(struct kl_vm *vm)
{
	int i;

	if (!vm)
		return;
	for (i = 0; i < KL_MAX_VCPUS; i++) {
		struct kl_vcpu *v = vm->vcpus[i];

		if (!v)
			continue;
		munmap(v->run, v->run_size);
		if (v->ring)
			munmap(v->ring, vm->dirty_ring_bytes);
		if (v->stats_fd >= 0)
			close(v->stats_fd);
		close(v->fd);
		free(v);
	}
	if (vm->stats_fd >= 0)
		close(vm->stats_fd);
	close(vm->fd);
	close(vm->kvm_fd);
	free(vm);
}

int kl_ioctl_region1(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		     uint64_t gpa, uint64_t size, uint64_t hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	kl_watch_begin("KVM_SET_USER_MEMORY_REGION slot %u gpa %#" PRIx64
		       " size %#" PRIx64, slot, gpa, size);
	return kl_watch_end(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) ?
			    -errno : 0);
}

int kl_ioctl_region2(struct kl_vm *vm,
		     const struct kvm_userspace_memory_region2 *r)
{
	kl_watch_begin("KVM_SET_USER_MEMORY_REGION2 slot %u gpa %#llx size "
		       "%#llx", r->slot, r->guest_phys_addr, r->memory_size);
	return kl_watch_end(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, r) ?
			    -errno : 0);
}

void kl_slot_track(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		   uint64_t gpa, uint64_t size, void *hva)
{
	struct kl_slot *s, *free_slot = NULL;
	int i;

	for (i = 0; i < KL_MAX_SLOTS; i++) {
		s = &vm->slots[i];
		if (s->used && s->slot == slot)
			break;
		if (!s->used && !free_slot)
			free_slot = s;
	}
	if (i == KL_MAX_SLOTS)
		s = free_slot;
	if (!size) {
		if (i < KL_MAX_SLOTS)
			s->used = false;
		return;
	}
	TEST_ASSERT(s, "too many memslots for kvm_lite");
	s->used = true;
	s->slot = slot;
	s->flags = flags;
	s->gpa = gpa;
	s->size = size;
	s->hva = hva;
}

int kl_set_region(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		  uint64_t gpa, uint64_t size, void *hva)
{
	int r;

	if (vm->has_region2) {
		struct kvm_userspace_memory_region2 r2 = {
			.slot = slot,
			.flags = flags,
			.guest_phys_addr = gpa,
			.memory_size = size,
			.userspace_addr = (uintptr_t)hva,
		};

		r = kl_ioctl_region2(vm, &r2);
	} else {
		r = kl_ioctl_region1(vm, slot, flags, gpa, size,
				     (uintptr_t)hva);
	}
	if (!r)
		kl_slot_track(vm, slot, flags, gpa, size, hva);
	return r;
}

void kl_add_slot(struct kl_vm *vm, uint32_t slot, uint32_t flags,
		 uint64_t gpa, uint64_t size, void *hva)
{
	int r = kl_set_region(vm, slot, flags, gpa, size, hva);

	errno = -r;
	TEST_ASSERT(!r, "%s slot %u flags %#x gpa %#" PRIx64 " size %#"
		    PRIx64 " hva %p",
		    vm->has_region2 ? "KVM_SET_USER_MEMORY_REGION2" :
		    "KVM_SET_USER_MEMORY_REGION", slot, flags, gpa, size, hva);
}

void *kl_gpa2hva(struct kl_vm *vm, uint64_t gpa)
{
	int i;

	for (i = 0; i < KL_MAX_SLOTS; i++) {
		struct kl_slot *s = &vm->slots[i];

		if (s->used && gpa >= s->gpa && gpa - s->gpa < s->size)
			return (char *)s->hva + (gpa - s->gpa);
	}
	TEST_ASSERT(0, "gpa %#" PRIx64 " is in no memslot", gpa);
	return NULL;
}

void *kl_mem_alloc(uint64_t size, enum kl_backing b)
{
	uint64_t len = size + KL_HPAGE_SIZE;
	char *p, *aligned;

	if (b == KL_MEM_HUGETLB) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			 (21 << MAP_HUGE_SHIFT), -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	aligned = (char *)(((uintptr_t)p + KL_HPAGE_SIZE - 1) &
			   ~(KL_HPAGE_SIZE - 1));
	if (aligned > p)
		munmap(p, aligned - p);
	if (p + len > aligned + size)
		munmap(aligned + size, p + len - (aligned + size));
	if (madvise(aligned, size, b == KL_MEM_THP ? MADV_HUGEPAGE :
		    MADV_NOHUGEPAGE) && b == KL_MEM_THP) {
		munmap(aligned, size);
		return NULL;
	}
	return aligned;
}

void kl_mem_free(void *hva, uint64_t size)
{
	munmap(hva, size);
}

const char *kl_thp_mode(void)
{
	static char buf[128];
	char *l, *r;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return NULL;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r)
		return NULL;
	*r = 0;
	return l + 1;
}

long kl_smaps_kb(void *hva, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	size_t n = strlen(field);
	char line[256];
	bool in = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)hva >= lo && (uintptr_t)hva < hi;
			continue;
		}
		if (in && !strncmp(line, field, n) && line[n] == ':') {
			kb = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

long kl_anon_huge_kb(void *hva)
{
	return kl_smaps_kb(hva, "AnonHugePages");
}

struct kl_vcpu *kl_vcpu_add(struct kl_vm *vm, int id)
{
	struct kl_vcpu *v = calloc(1, sizeof(*v));
	int size;

	TEST_ASSERT(v && id < KL_MAX_VCPUS && !vm->vcpus[id], "vcpu %d", id);
	v->vm = vm;
	v->id = id;
	v->stats_fd = -1;
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, id);
	TEST_ASSERT(v->fd >= 0, "KVM_CREATE_VCPU %d", id);
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	TEST_ASSERT(size >= (int)sizeof(struct kvm_run),
		    "KVM_GET_VCPU_MMAP_SIZE = %d", size);
	v->run_size = size;
	v->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd,
		      0);
	TEST_ASSERT(v->run != MAP_FAILED, "mmap kvm_run");
	if (vm->dirty_ring_bytes) {
		long page = sysconf(_SC_PAGESIZE);

		v->ring = mmap(NULL, vm->dirty_ring_bytes,
			       PROT_READ | PROT_WRITE, MAP_SHARED, v->fd,
			       page * KVM_DIRTY_LOG_PAGE_OFFSET);
		TEST_ASSERT(v->ring != MAP_FAILED, "mmap dirty ring");
		v->ring_entries = vm->dirty_ring_bytes /
				  sizeof(struct kvm_dirty_gfn);
	}
	vm->vcpus[id] = v;
	kl_arch_vcpu_init(v);
	return v;
}

int kl_vm_enable_dirty_ring(struct kl_vm *vm, uint32_t bytes)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DIRTY_LOG_RING,
		.args = { bytes },
	};
	int i;

	for (i = 0; i < KL_MAX_VCPUS; i++)
		TEST_ASSERT(!vm->vcpus[i], "dirty ring after vCPU %d", i);
	if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap))
		return -errno;
	vm->dirty_ring_bytes = bytes;
	return 0;
}

void kl_vm_enable_small_dirty_ring(struct kl_vm *vm)
{
	uint32_t bytes;
	int r = -EINVAL;

	if (kl_check_cap(kl_open_dev(), KVM_CAP_DIRTY_LOG_RING) <= 0)
		tap_skip("no KVM_CAP_DIRTY_LOG_RING (6.1 has it on x86 only)");
	for (bytes = 4096; bytes <= 65536 && r == -EINVAL; bytes *= 2)
		r = kl_vm_enable_dirty_ring(vm, bytes);
	errno = -r;
	TEST_ASSERT(!r, "KVM_CAP_DIRTY_LOG_RING up to 64 KiB");
}

static struct kvm_dirty_gfn *kl_ring_entry(struct kl_vcpu *v, uint32_t i)
{
	return &v->ring[i & (v->ring_entries - 1)];
}

uint32_t kl_dirty_ring_pending(struct kl_vcpu *vcpu)
{
	uint32_t i = vcpu->ring_fetch;

	TEST_ASSERT(vcpu->ring, "vCPU %d has no dirty ring", vcpu->id);
	/* At most a whole ring: KVM never publishes more without a reset. */
	while (i - vcpu->ring_fetch < vcpu->ring_entries &&
	       (__atomic_load_n(&kl_ring_entry(vcpu, i)->flags,
				__ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
		i++;
	return i - vcpu->ring_fetch;
}

uint32_t kl_dirty_ring_harvest(struct kl_vcpu *vcpu,
			       void (*fn)(void *opaque, uint32_t slot,
					  uint64_t offset),
			       void *opaque)
{
	uint32_t n = kl_dirty_ring_pending(vcpu), i;

	for (i = 0; i < n; i++) {
		struct kvm_dirty_gfn *e = kl_ring_entry(vcpu,
							vcpu->ring_fetch + i);

		if (fn)
			fn(opaque, e->slot, e->offset);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
	}
	vcpu->ring_fetch += n;
	return n;
}

int kl_dirty_ring_reset(struct kl_vm *vm)
{
	int r = ioctl(vm->fd, KVM_RESET_DIRTY_RINGS, 0);

	return r < 0 ? -errno : r;
}

struct kl_vm *kl_vm_create_with_vcpu(struct kl_vcpu **vcpu)
{
	struct kl_vm *vm = kl_vm_create();
	void *code = kl_mem_alloc(KL_CODE_SLOT_SIZE, KL_MEM_4K);

	TEST_ASSERT(code, "code slot memory");
	kl_add_slot(vm, KL_CODE_SLOT, 0, 0, KL_CODE_SLOT_SIZE, code);
	*vcpu = kl_vcpu_add(vm, 0);
	return vm;
}

void kl_guest_load(struct kl_vcpu *vcpu, const unsigned char *start,
		   const unsigned char *end, const struct kl_args *args)
{
	static const struct kl_args none;
	size_t len = end - start;
	void *dst = kl_gpa2hva(vcpu->vm, KL_CODE_GPA);

	TEST_ASSERT(len && KL_CODE_GPA + len <= KL_CODE_SLOT_SIZE,
		    "guest blob of %zu bytes", len);
	/* Avoid needless host writes: a write may re-map a shared page. */
	if (memcmp(dst, start, len)) {
		memcpy(dst, start, len);
		/* Instruction fetches must see it (no-op on x86). */
		__builtin___clear_cache((char *)dst, (char *)dst + len);
	}
	kl_arch_guest_start(vcpu, KL_CODE_GPA, args ? args : &none);
	vcpu->nr_reports = 0;
}

int kl_vcpu_run(struct kl_vcpu *vcpu)
{
	kl_watch_begin("KVM_RUN on vCPU %d", vcpu->id);
	return kl_watch_end(ioctl(vcpu->fd, KVM_RUN, 0) ? -errno : 0);
}

const char *kl_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
		[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
		[KVM_EXIT_MEMORY_FAULT] = "MEMORY_FAULT",
	};

	if (reason < TAP_ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "?";
}

struct kvm_memory_fault_info kl_memory_fault(const struct kvm_run *run)
{
	struct kvm_memory_fault_info mf;

	/*
	 * Copy instead of dereferencing kvm_run_memory_fault() directly: gcc
	 * -O2 -Wall flags that cast (-Wstrict-aliasing).
	 */
	memcpy(&mf, kvm_run_memory_fault(run), sizeof(mf));
	return mf;
}

static void kl_dump_exit(struct kl_vcpu *vcpu, int r)
{
	struct kvm_run *run = vcpu->run;

	tap_diag("KVM_RUN = %d (%s), exit_reason %u (%s)", r,
		 r ? strerror(-r) : "ok", run->exit_reason,
		 kl_exit_name(run->exit_reason));
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		tap_diag("  io: dir %u size %u port %#x count %u",
			 run->io.direction, run->io.size, run->io.port,
			 run->io.count);
		break;
	case KVM_EXIT_MMIO:
		tap_diag("  mmio: gpa %#llx len %u write %u",
			 (unsigned long long)run->mmio.phys_addr,
			 run->mmio.len, run->mmio.is_write);
		break;
	case KVM_EXIT_MEMORY_FAULT: {
		struct kvm_memory_fault_info mf = kl_memory_fault(run);

		tap_diag("  memory_fault: flags %#llx gpa %#llx size %#llx",
			 mf.flags, mf.gpa, mf.size);
		break;
	}
	case KVM_EXIT_INTERNAL_ERROR:
		tap_diag("  internal error: suberror %u",
			 run->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		tap_diag("  fail_entry: reason %#llx",
			 (unsigned long long)
			 run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		tap_diag("  system_event: type %u", run->system_event.type);
		break;
	}
	kl_arch_dump_vcpu(vcpu);
}

uint32_t kl_run_to_done(struct kl_vcpu *vcpu)
{
	for (;;) {
		bool done = false;
		int r = kl_vcpu_run(vcpu);

		if (r == -EINTR)
			continue;
		if (!r && kl_arch_handle_exit(vcpu, &done)) {
			if (done)
				return vcpu->last_report;
			continue;
		}
		kl_dump_exit(vcpu, r);
		errno = -r;
		TEST_ASSERT(0, "unexpected exit from the guest");
	}
}

int kl_pre_fault(struct kl_vcpu *vcpu, struct kvm_pre_fault_memory *r)
{
	kl_watch_begin("KVM_PRE_FAULT_MEMORY on vCPU %d, gpa %#llx size %#llx",
		       vcpu->id, r->gpa, r->size);
	return kl_watch_end(ioctl(vcpu->fd, KVM_PRE_FAULT_MEMORY, r) ?
			    -errno : 0);
}

int kl_pre_fault_loop(struct kl_vcpu *vcpu, struct kvm_pre_fault_memory *r,
		      unsigned int *calls)
{
	unsigned int n = 0;
	int ret = 0;

	while (r->size) {
		struct kvm_pre_fault_memory before = *r;

		ret = kl_pre_fault(vcpu, r);
		n++;
		TEST_ASSERT(r->flags == before.flags &&
			    !memcmp(r->padding, before.padding,
				    sizeof(r->padding)),
			    "flags or padding changed by the kernel");
		if (ret) {
			TEST_ASSERT(r->gpa == before.gpa &&
				    r->size == before.size,
				    "error %d (%s) but the range moved: "
				    "%#llx+%#llx -> %#llx+%#llx", ret,
				    strerror(-ret), before.gpa, before.size,
				    r->gpa, r->size);
			break;
		}
		TEST_ASSERT(r->size < before.size &&
			    r->gpa + r->size == before.gpa + before.size &&
			    !(r->gpa % KL_PAGE_SIZE),
			    "bad progress: %#llx+%#llx -> %#llx+%#llx",
			    before.gpa, before.size, r->gpa, r->size);
	}
	if (calls)
		*calls = n;
	return ret;
}

void kl_pre_fault_range(struct kl_vcpu *vcpu, uint64_t gpa, uint64_t size)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = size };
	int ret = kl_pre_fault_loop(vcpu, &r, NULL);

	errno = -ret;
	TEST_ASSERT(!ret, "KVM_PRE_FAULT_MEMORY [%#" PRIx64 ", +%#" PRIx64
		    ") stopped at %#llx", gpa, size, r.gpa);
}

enum kl_prefault_support kl_probe_prefault(int *errno_out)
{
	struct kvm_pre_fault_memory r = { .gpa = KL_CODE_GPA,
					  .size = KL_PAGE_SIZE };
	enum kl_prefault_support s;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = kl_vm_create_with_vcpu(&vcpu);
	int ret = kl_pre_fault(vcpu, &r);

	if (!ret)
		s = KL_PF_TDP;
	else if (ret == -EOPNOTSUPP)
		s = KL_PF_NO_TDP;
	else
		s = KL_PF_ABSENT;
	if (errno_out)
		*errno_out = -ret;
	kl_vm_free(vm);
	return s;
}

enum kl_prefault_support kl_prefault_mode(char *why, size_t len)
{
	int kvm = kl_open_dev();
	int err = 0, cap;
	enum kl_prefault_support mode;

	if (kvm < 0) {
		snprintf(why, len, "/dev/kvm not available");
		return KL_PF_ABSENT;
	}
	cap = kl_check_cap(kvm, KVM_CAP_PRE_FAULT_MEMORY);
	close(kvm);
	/*
	 * A KVM without the ioctl reports the capability as 0, like ours
	 * without TDP (x86) or in protected mode (arm64); the probe's errno
	 * tells them apart (EOPNOTSUPP: known but unusable; EINVAL/ENOTTY:
	 * unknown ioctl).
	 */
	mode = kl_probe_prefault(&err);
	if (mode != KL_PF_ABSENT)
		return mode;
	if (cap > 0) {
		tap_diag("capability %d but a valid one-page request fails "
			 "with %s", cap, strerror(err));
		return KL_PF_TDP;	/* let the sub-tests show it */
	}
	if (kl_kvm_protected() && kl_kvm_has_series()) {
		tap_diag("kvm-prefault's KVM in protected mode: a valid request "
			 "must fail with EOPNOTSUPP, not %s", strerror(err));
		return KL_PF_NO_TDP;	/* the EOPNOTSUPP checks fail */
	}
	snprintf(why, len, "KVM_CAP_PRE_FAULT_MEMORY not reported and the "
		 "ioctl fails with %s", strerror(err));
	return KL_PF_ABSENT;
}

bool kl_prefault_write_known(void)
{
	struct kvm_pre_fault_memory r = { .gpa = KL_CODE_GPA,
					  .size = KL_PAGE_SIZE,
					  .flags = KL_PF_WRITE };
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	int ret;

	if (!KL_PF_WRITE)
		return false;
	vm = kl_vm_create_with_vcpu(&vcpu);
	ret = kl_pre_fault(vcpu, &r);
	kl_vm_free(vm);
	/*
	 * Success, or EOPNOTSUPP after the flags were accepted (no TDP,
	 * protected mode).
	 */
	return ret != -EINVAL && ret != -ENOTTY;
}

/* ---- statistics ---- */

static bool kl_read_u64_file(const char *path, uint64_t *val)
{
	FILE *f = fopen(path, "r");
	unsigned long long v;
	int n;

	if (!f)
		return false;
	n = fscanf(f, "%llu", &v);
	fclose(f);
	if (n != 1)
		return false;
	*val = v;
	return true;
}

/* Find a u64 statistic in a KVM_GET_STATS_FD file. */
static bool kl_stats_fd_read(int fd, const char *name, uint64_t *val)
{
	struct kvm_stats_header h;
	size_t dsize;
	char *descs;
	uint32_t i;
	bool found = false;

	if (fd < 0 || pread(fd, &h, sizeof(h), 0) != sizeof(h))
		return false;
	dsize = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = malloc(dsize * h.num_desc);
	if (!descs)
		return false;
	if (pread(fd, descs, dsize * h.num_desc, h.desc_offset) !=
	    (ssize_t)(dsize * h.num_desc))
		goto out;
	for (i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * dsize);

		if (strncmp(d->name, name, h.name_size) || d->size != 1)
			continue;
		found = pread(fd, val, sizeof(*val),
			      h.data_offset + d->offset) == sizeof(*val);
		break;
	}
out:
	free(descs);
	return found;
}

static int kl_stats_fd(int fd)
{
	int r = ioctl(fd, KVM_GET_STATS_FD, NULL);

	return r < 0 ? -1 : r;
}

enum kl_stat_src { KL_SRC_NONE, KL_SRC_VMDIR, KL_SRC_FD, KL_SRC_GLOBAL };

static enum kl_stat_src kl_stat_get(struct kl_vm *vm, const char *name,
				    uint64_t *out)
{
	char path[256];
	uint64_t v, sum = 0;
	bool any = false;
	int i;

	snprintf(path, sizeof(path), DEBUGFS_KVM "/%d-%d/%s", getpid(),
		 vm->fd, name);
	if (kl_read_u64_file(path, out))
		return KL_SRC_VMDIR;

	if (vm->stats_fd < 0)
		vm->stats_fd = kl_stats_fd(vm->fd);
	if (kl_stats_fd_read(vm->stats_fd, name, out))
		return KL_SRC_FD;
	for (i = 0; i < KL_MAX_VCPUS; i++) {
		struct kl_vcpu *c = vm->vcpus[i];

		if (!c)
			continue;
		if (c->stats_fd < 0)
			c->stats_fd = kl_stats_fd(c->fd);
		if (kl_stats_fd_read(c->stats_fd, name, &v)) {
			sum += v;
			any = true;
		}
	}
	if (any) {
		*out = sum;
		return KL_SRC_FD;
	}

	snprintf(path, sizeof(path), DEBUGFS_KVM "/%s", name);
	if (kl_read_u64_file(path, out))
		return KL_SRC_GLOBAL;
	return KL_SRC_NONE;
}

uint64_t kl_stat(struct kl_vm *vm, const char *name)
{
	uint64_t v;

	if (kl_stat_get(vm, name, &v) == KL_SRC_NONE)
		return UINT64_MAX;
	return v;
}

bool kl_stat_available(struct kl_vm *vm, const char *name)
{
	uint64_t v;

	return kl_stat_get(vm, name, &v) != KL_SRC_NONE;
}

const char *kl_stat_source(struct kl_vm *vm, const char *name)
{
	uint64_t v;

	switch (kl_stat_get(vm, name, &v)) {
	case KL_SRC_VMDIR:
		return "debugfs per-VM";
	case KL_SRC_FD:
		return "KVM_GET_STATS_FD";
	case KL_SRC_GLOBAL:
		return "debugfs global";
	default:
		return "none";
	}
}

/* ---- misc ---- */

const char *kl_module_param(const char *module, const char *param,
			    char *buf, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module,
		 param);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	if (!fgets(buf, len, f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

void kl_fill_pattern(void *hva, uint64_t npages, uint8_t seed)
{
	uint64_t i;

	for (i = 0; i < npages; i++)
		((uint8_t *)hva)[i * KL_PAGE_SIZE] = kl_pattern(i, seed);
}

uint32_t kl_checksum_step(uint32_t sum, uint8_t byte)
{
	return sum * 31 + byte;
}

void kl_require_cap(const struct tap_test *tests, int n, long cap,
		    const char *name)
{
	int kvm = kl_open_dev();
	int r = kvm < 0 ? -1 : kl_check_cap(kvm, cap);
	char why[96];

	if (kvm >= 0)
		close(kvm);
	if (r > 0)
		return;
	snprintf(why, sizeof(why), kvm < 0 ? "/dev/kvm not available" :
		 "%s not reported", name);
	exit(tap_skip_all(tests, n, why));
}

enum kl_prefault_support kl_prefault_setup(const struct tap_test *tests,
					   int n, bool *write_known)
{
	enum kl_prefault_support mode;
	char why[160];

	mode = kl_prefault_mode(why, sizeof(why));
	if (mode == KL_PF_ABSENT)
		exit(tap_skip_all(tests, n, why));
	*write_known = kl_prefault_write_known();
	tap_diag("KVM_PRE_FAULT_MEMORY: %s; KVM_PRE_FAULT_MEMORY_WRITE "
		 "(kvm-prefault extension): %s", mode == KL_PF_TDP ?
		 "works (TDP)" : "EOPNOTSUPP (no TDP or protected mode)",
		 !KL_PF_WRITE ? "not in the header" :
		 *write_known ? "accepted" : "refused (EINVAL)");
	return mode;
}

int kl_run_tests(const struct tap_test *tests, int n)
{
	kl_keep_static_keys();
	return tap_run(tests, n);
}

uint64_t kl_seed(const char *arg, const char *env)
{
	const char *s = arg ? arg : getenv(env);

	if (s)
		return strtoull(s, NULL, 0);
	return (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
}

uint32_t kl_pattern_sum(uint64_t npages, uint8_t seed)
{
	uint32_t sum = 0;
	uint64_t i;

	for (i = 0; i < npages; i++)
		sum = kl_checksum_step(sum, kl_pattern(i, seed));
	return sum;
}

uint64_t kl_rnd(struct kl_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

uint64_t kl_rnd_below(struct kl_rng *r, uint64_t n)
{
	return n ? kl_rnd(r) % n : 0;
}

void kl_rng_init(struct kl_rng *r, uint64_t seed, uint64_t salt)
{
	r->s = (seed ^ (salt * 0x9e3779b97f4a7c15ULL)) | 1;
	kl_rnd(r);
}

bool kl_kvm_has_series(void)
{
	int kvm = kl_open_dev();
	bool r;

	if (kvm < 0)
		return false;
	r = kl_check_cap(kvm, KVM_CAP_MEMORY_FAULT_INFO) > 0 ||
	    kl_check_cap(kvm, KVM_CAP_USER_MEMORY2) > 0;
	close(kvm);
	return r;
}

bool kl_kvm_protected(void)
{
	const char *key = "kvm-arm.mode=", *val = "protected";
	size_t klen = strlen(key), vlen = strlen(val), n;
	bool prot = false;
	char buf[4096];
	const char *p;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The last kvm-arm.mode= wins, as in the kernel's parser. */
	for (p = buf; (p = strstr(p, key)); p++) {
		const char *v = p + klen;

		if (p != buf && p[-1] != ' ')
			continue;
		prot = !strncmp(v, val, vlen) &&
		       (!v[vlen] || v[vlen] == ' ' || v[vlen] == '\n');
	}
	return prot;
}

/* ---- hugetlb pages ---- */

static int kl_hugetlb_old = -1;

static int kl_read_int(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool kl_write_int(const char *path, int v)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%d\n", v) > 0;
	return !fclose(f) && ok;
}

long kl_meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	size_t n = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

bool kl_hugetlb_reserve(long pages)
{
	const char *nr = "/proc/sys/vm/nr_hugepages";
	long free_pages = kl_meminfo("HugePages_Free");

	if (kl_meminfo("Hugepagesize") != 2048)
		return false;
	if (free_pages >= pages)
		return true;
	kl_hugetlb_old = kl_read_int(nr);
	if (kl_hugetlb_old < 0 ||
	    !kl_write_int(nr, kl_hugetlb_old + pages -
			  (free_pages > 0 ? free_pages : 0)) ||
	    kl_meminfo("HugePages_Free") < pages) {
		kl_hugetlb_restore();
		return false;
	}
	return true;
}

void kl_hugetlb_restore(void)
{
	if (kl_hugetlb_old >= 0)
		kl_write_int("/proc/sys/vm/nr_hugepages", kl_hugetlb_old);
	kl_hugetlb_old = -1;
}
