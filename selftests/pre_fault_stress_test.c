// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY under stress: several vCPUs pre-fault random
 * sub-ranges, with read and write intent, while the main thread keeps
 * changing what a pre-fault depends on -- memslots deleted and re-added,
 * moved away and back, dirty logging switched on and off, the dirty bitmap
 * fetched and cleared (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG), host pages
 * dropped (MADV_DONTNEED) and write-protected (mprotect) -- for a bounded
 * time.
 *
 *  stress_dirty_bitmap  dirty logging with the bitmap, with manual
 *                       protection (KVM_CLEAR_DIRTY_LOG) where KVM has it
 *  stress_dirty_ring    dirty logging with a dirty ring: the pre-faulting
 *                       threads harvest it on EAGAIN, and no call leaves
 *                       their ring above its soft limit (skips without
 *                       KVM_CAP_DIRTY_LOG_RING, e.g. arm64 on 6.1)
 *
 * Every call must return a documented result for what the memory map can
 * be at that moment (see check_result()); nothing may hang (watchdogs) or
 * splat (the harness watches the kernel log).  At the end the memslots are
 * back where they started, the host writes a fresh pattern into all guest
 * memory, and a guest pass over every slot must read exactly that: a
 * stage-2 mapping left pointing at a page the host dropped or replaced
 * shows up as a wrong checksum.
 *
 * Usage: pre_fault_stress_test [SECONDS [SEED]]
 *        (also $PRE_FAULT_STRESS_SECONDS and $PRE_FAULT_STRESS_SEED)
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
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

#define PAGE		KL_PAGE_SIZE
#define MiB		((uint64_t)1 << 20)
#define GiB		((uint64_t)1 << 30)

#define NR_WORKERS	3
/*
 * KVM_DIRTY_RING_RSVD_ENTRIES: the soft limit is at least this far below
 * the ring's size (more with Intel PML).
 */
#define RING_RSVD	64
/* Watchdogs: no pre-fault call and no memory map change may take longer. */
#define STUCK_S		20.0
/* A range that keeps failing with EAGAIN this long is a livelock. */
#define EAGAIN_LIMIT_S	10.0

static unsigned int g_seconds = 8;
static uint64_t g_seed;
static enum kl_prefault_support g_mode;
static bool g_write_known;


/* ---- the memory map ------------------------------------------------- */

enum churn {
	CHURN_NONE,	/* never deleted or moved: ENOENT there is a bug */
	CHURN_READD,	/* deleted and re-added at the same gpa */
	CHURN_MOVE,	/* moved to .away and back */
};

struct sslot {
	uint32_t slot;
	uint64_t gpa;		/* where it starts and ends up */
	uint64_t size;
	enum kl_backing b;
	enum churn churn;
	uint64_t away;		/* CHURN_MOVE: the other gpa */
};

/* Small, so that a run nested under TCG stays quick; below 4 GiB (x86). */
static const struct sslot sslots[] = {
	{ 1, 1 * GiB, 8 * MiB, KL_MEM_4K, CHURN_NONE, 0 },
	{ 2, 1 * GiB + 16 * MiB, 8 * MiB, KL_MEM_THP, CHURN_READD, 0 },
	{ 3, 1 * GiB + 32 * MiB, 4 * MiB, KL_MEM_4K, CHURN_MOVE,
	  1 * GiB + 48 * MiB },
	{ 4, 1 * GiB + 64 * MiB, 4 * MiB, KL_MEM_4K, CHURN_READD, 0 },
};

#define NR_SLOTS	TAP_ARRAY_SIZE(sslots)

static bool in_range(uint64_t gpa, uint64_t base, uint64_t size)
{
	return gpa >= base && gpa - base < size;
}

/* gpa is in the slot that always stays put. */
static bool in_stable_slot(uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < NR_SLOTS; i++)
		if (sslots[i].churn == CHURN_NONE &&
		    in_range(gpa, sslots[i].gpa, sslots[i].size))
			return true;
	return false;
}

/* gpa is where a slot that is deleted or moved can be. */
static bool in_churned_slot(uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < NR_SLOTS; i++) {
		const struct sslot *f = &sslots[i];

		if (f->churn == CHURN_NONE)
			continue;
		if (in_range(gpa, f->gpa, f->size) ||
		    (f->churn == CHURN_MOVE && in_range(gpa, f->away, f->size)))
			return true;
	}
	return false;
}

enum op {
	OP_READD, OP_MOVE, OP_TOGGLE_LOG, OP_DIRTY_LOG, OP_DONTNEED,
	OP_MPROTECT, OP_SIGNAL, NR_OPS,
};

static const char *const op_names[NR_OPS] = {
	[OP_READD] = "delete+re-add",
	[OP_MOVE] = "move",
	[OP_TOGGLE_LOG] = "dirty-log toggle",
	[OP_DIRTY_LOG] = "GET/CLEAR_DIRTY_LOG",
	[OP_DONTNEED] = "MADV_DONTNEED",
	[OP_MPROTECT] = "mprotect",
	[OP_SIGNAL] = "signal",
};

enum res { RES_OK, RES_EINTR, RES_EAGAIN, RES_ENOENT, RES_EFAULT, NR_RES };

struct stress;

struct worker {
	struct stress *s;
	struct kl_vcpu *vcpu;
	pthread_t thread;
	struct tap_watchdog wd;
	struct kl_rng r;
	unsigned long calls, pages, harvests, guest_runs;
	unsigned long res[NR_RES];
};

struct stress {
	struct kl_vm *vm;
	bool ring;		/* dirty ring instead of the bitmap */
	bool manual;		/* KVM_CLEAR_DIRTY_LOG usable */
	void *hva[NR_SLOTS];
	uint32_t flags[NR_SLOTS];	/* of each slot, as the main thread set */
	bool stop;		/* __atomic: read by the workers */
	/* KVM_RESET_DIRTY_RINGS acts on every ring: one caller at a time. */
	pthread_mutex_t reset_lock;
	struct worker w[NR_WORKERS];
	struct kl_rng r;
	unsigned long ops[NR_OPS];
};

static void nop_handler(int sig)
{
	(void)sig;
}

/* ---- dirty ring ------------------------------------------------------- */

/*
 * Hand back what this vCPU's ring holds.  Only the vCPU's own thread
 * touches its ring (the harvest index is not shared); the reset is
 * VM-wide, so it is serialised.
 */
static void ring_harvest(struct worker *w)
{
	int r;

	if (!kl_dirty_ring_harvest(w->vcpu, NULL, NULL))
		return;
	pthread_mutex_lock(&w->s->reset_lock);
	r = kl_dirty_ring_reset(w->s->vm);
	pthread_mutex_unlock(&w->s->reset_lock);
	errno = r < 0 ? -r : 0;
	TEST_ASSERT(r >= 0, "vCPU %d: KVM_RESET_DIRTY_RINGS", w->vcpu->id);
	w->harvests++;
}

/* ---- the pre-faulting threads ----------------------------------------- */

/*
 * The results a call may have for a request at @q->gpa, given what the
 * main thread may be doing meanwhile.  Returns the result's class.
 */
static enum res check_result(struct worker *w,
			     const struct kvm_pre_fault_memory *before,
			     const struct kvm_pre_fault_memory *q, int ret)
{
	uint64_t gpa = before->gpa;
	bool write = before->flags & KL_PF_WRITE;

	if (!ret) {
		TEST_ASSERT(q->size < before->size &&
			    q->gpa + q->size == before->gpa + before->size &&
			    q->gpa > before->gpa && !(q->gpa % PAGE) &&
			    q->flags == before->flags &&
			    !memcmp(q->padding, before->padding,
				    sizeof(q->padding)),
			    "vCPU %d: inconsistent progress %#llx+%#llx -> "
			    "%#llx+%#llx", w->vcpu->id, before->gpa,
			    before->size, q->gpa, q->size);
		return RES_OK;
	}
	TEST_ASSERT(!memcmp(q, before, sizeof(*q)),
		    "vCPU %d: error %d (%s) changed the struct: %#llx+%#llx "
		    "-> %#llx+%#llx", w->vcpu->id, ret, strerror(-ret),
		    before->gpa, before->size, q->gpa, q->size);
	switch (ret) {
	case -EINTR:
		/* The main thread sends SIGUSR1 now and then. */
		return RES_EINTR;
	case -EAGAIN:
		/*
		 * A memslot being deleted or moved, or a full dirty ring.
		 * The slot that stays put is never invalid.
		 */
		TEST_ASSERT((w->s->ring && kl_dirty_ring_pending(w->vcpu)) ||
			    in_churned_slot(gpa),
			    "vCPU %d: EAGAIN at %#" PRIx64 ", which no memslot "
			    "update touches, with %s", w->vcpu->id, gpa,
			    w->s->ring ? "an empty dirty ring" :
			    "no dirty ring");
		return RES_EAGAIN;
	case -ENOENT:
		/* A gap, or a slot that is away at the moment. */
		TEST_ASSERT(!in_stable_slot(gpa),
			    "vCPU %d: ENOENT at %#" PRIx64 " in the memslot "
			    "that is never deleted", w->vcpu->id, gpa);
		return RES_ENOENT;
	case -EFAULT:
		/*
		 * The host memory is never PROT_NONE, but a write needs a
		 * writable host page: write intent on a page the main thread
		 * made read-only cannot be resolved.
		 */
		TEST_ASSERT(write, "vCPU %d: EFAULT for a read pre-fault at %#"
			    PRIx64 " (host memory is at least readable)",
			    w->vcpu->id, gpa);
		return RES_EFAULT;
	default:
		errno = -ret;
		TEST_ASSERT(0, "vCPU %d: undocumented result %d for gpa %#"
			    PRIx64 " size %#llx flags %#llx", w->vcpu->id,
			    ret, gpa, before->size, before->flags);
		return NR_RES;
	}
}

/*
 * A random range around a random slot (its home or, for the slot that
 * moves, its other place), often running into the gap before or after
 * it, with random intent; re-issued as a VMM would until done or failed.
 */
static void prefault_random(struct worker *w)
{
	const struct sslot *f = &sslots[kl_rnd_below(&w->r, NR_SLOTS)];
	uint64_t base = f->churn == CHURN_MOVE && kl_rnd_below(&w->r, 2) ?
			f->away : f->gpa;
	uint64_t npages = kl_rnd_below(&w->r, 8) ? 1 + kl_rnd_below(&w->r, 64) :
			  1 + kl_rnd_below(&w->r, f->size / PAGE);
	struct kvm_pre_fault_memory q = {
		.gpa = base - 8 * PAGE +
		       kl_rnd_below(&w->r, f->size / PAGE + 8) * PAGE,
		.size = npages * PAGE,
		.flags = g_write_known && kl_rnd_below(&w->r, 2) ? KL_PF_WRITE : 0,
	};
	double since = tap_now();

	while (q.size && !__atomic_load_n(&w->s->stop, __ATOMIC_RELAXED)) {
		struct kvm_pre_fault_memory before = q;
		int ret = kl_pre_fault(w->vcpu, &q);
		enum res res;

		w->calls++;
		tap_watchdog_kick(&w->wd);
		res = check_result(w, &before, &q, ret);
		w->res[res]++;
		if (w->s->ring)
			TEST_ASSERT(kl_dirty_ring_pending(w->vcpu) <=
				    w->vcpu->ring_entries - RING_RSVD,
				    "vCPU %d: %u dirty entries pending after a "
				    "pre-fault; the soft limit is at most %u",
				    w->vcpu->id,
				    kl_dirty_ring_pending(w->vcpu),
				    w->vcpu->ring_entries - RING_RSVD);
		switch (res) {
		case RES_OK:
			w->pages += (q.gpa - before.gpa) / PAGE;
			since = tap_now();
			break;
		case RES_EAGAIN:
			if (w->s->ring)
				ring_harvest(w);
			TEST_ASSERT(tap_now() - since < EAGAIN_LIMIT_S,
				    "vCPU %d: EAGAIN at %#llx for %.0f s",
				    w->vcpu->id, q.gpa, EAGAIN_LIMIT_S);
			sched_yield();
			break;
		case RES_EINTR:
			break;
		default:
			return;
		}
	}
}

/*
 * vCPU 0 also runs the guest over the stable slot now and then, so that
 * real stage-2 faults mix with the pre-faults.  What it reads cannot be
 * checked while the main thread drops and rewrites pages.
 */
static void guest_touch(struct worker *w)
{
	const struct sslot *f = &sslots[0];
	uint64_t npages = 1 + kl_rnd_below(&w->r, 64);
	struct kl_args a = {
		.addr = f->gpa + kl_rnd_below(&w->r, f->size / PAGE - npages) *
			PAGE,
		.count = npages,
		.stride = PAGE,
	};
	struct kl_vcpu *vcpu = w->vcpu;
	bool done = false;

	kl_guest_load(vcpu, KL_BLOB(guest_read_pass), &a);
	while (!done) {
		int r = kl_vcpu_run(vcpu);

		tap_watchdog_kick(&w->wd);
		if (r == -EINTR)
			continue;
		/* KVM stops the guest at the ring's soft limit. */
		if (!r && w->s->ring &&
		    vcpu->run->exit_reason == KVM_EXIT_DIRTY_RING_FULL) {
			ring_harvest(w);
			continue;
		}
		errno = r < 0 ? -r : 0;
		TEST_ASSERT(!r && kl_arch_handle_exit(vcpu, &done),
			    "guest read of the stable slot: KVM_RUN %d, exit "
			    "%u (%s)", r, vcpu->run->exit_reason,
			    kl_exit_name(vcpu->run->exit_reason));
	}
	/* Leave no entry for the next pre-fault's soft-limit check. */
	if (w->s->ring)
		ring_harvest(w);
	w->guest_runs++;
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;

	while (!__atomic_load_n(&w->s->stop, __ATOMIC_RELAXED)) {
		if (w->vcpu->id == 0 && !kl_rnd_below(&w->r, 16))
			guest_touch(w);
		else
			prefault_random(w);
	}
	return NULL;
}

/* ---- the main thread: change everything ------------------------------- */

/* A memslot change without kvm_lite's bookkeeping (other threads read it). */
static int set_slot(struct stress *s, unsigned int i, uint64_t gpa,
		    uint64_t size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = sslots[i].slot,
		.flags = s->flags[i],
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)s->hva[i],
	};

	if (s->vm->has_region2)
		return kl_ioctl_region2(s->vm, &r);
	return kl_ioctl_region1(s->vm, r.slot, r.flags, gpa, size,
				r.userspace_addr);
}

static void must_set_slot(struct stress *s, unsigned int i, uint64_t gpa,
			  uint64_t size, const char *what)
{
	int r = set_slot(s, i, gpa, size);

	errno = -r;
	TEST_ASSERT(!r, "%s: slot %u flags %#x gpa %#" PRIx64 " size %#"
		    PRIx64, what, sslots[i].slot, s->flags[i], gpa, size);
}

/* Let the pre-faulting threads see the intermediate state for a while. */
static void pause_a_bit(struct stress *s)
{
	usleep(kl_rnd_below(&s->r, 2000));
}

static unsigned int pick_slot(struct stress *s, enum churn churn)
{
	unsigned int i;

	do {
		i = kl_rnd_below(&s->r, NR_SLOTS);
	} while (sslots[i].churn != churn);
	return i;
}

/* Page-aligned [*off, *off + *len) inside slot i. */
static void pick_chunk(struct stress *s, unsigned int i, uint64_t *off,
		       uint64_t *len)
{
	uint64_t npages = sslots[i].size / PAGE;
	uint64_t n = kl_rnd_below(&s->r, 4) ? 1 + kl_rnd_below(&s->r, 256) :
		     KL_HPAGE_SIZE / PAGE;

	*off = kl_rnd_below(&s->r, npages - n + 1);
	/* Huge-page sized chunks on a huge page boundary, sometimes. */
	if (n == KL_HPAGE_SIZE / PAGE)
		*off &= ~(KL_HPAGE_SIZE / PAGE - 1);
	*off *= PAGE;
	*len = n * PAGE;
}

static void op_readd(struct stress *s)
{
	unsigned int i = pick_slot(s, CHURN_READD);

	must_set_slot(s, i, sslots[i].gpa, 0, "delete");
	pause_a_bit(s);
	must_set_slot(s, i, sslots[i].gpa, sslots[i].size, "re-add");
}

static void op_move(struct stress *s)
{
	unsigned int i = pick_slot(s, CHURN_MOVE);
	const struct sslot *f = &sslots[i];

	if (kl_rnd_below(&s->r, 2)) {
		/* KVM_MR_MOVE: the same slot at another gpa. */
		must_set_slot(s, i, f->away, f->size, "move away");
		pause_a_bit(s);
		must_set_slot(s, i, f->gpa, f->size, "move back");
		return;
	}
	/* What a VMM without KVM_MR_MOVE does. */
	must_set_slot(s, i, f->gpa, 0, "delete before moving");
	must_set_slot(s, i, f->away, f->size, "re-add away");
	pause_a_bit(s);
	must_set_slot(s, i, f->away, 0, "delete away");
	must_set_slot(s, i, f->gpa, f->size, "re-add home");
}

static void op_toggle_log(struct stress *s)
{
	unsigned int i = kl_rnd_below(&s->r, NR_SLOTS);

	s->flags[i] ^= KVM_MEM_LOG_DIRTY_PAGES;
	must_set_slot(s, i, sslots[i].gpa, sslots[i].size,
		      "toggle dirty logging");
}

/*
 * KVM_GET_DIRTY_LOG, then KVM_CLEAR_DIRTY_LOG of a random part: 0 on a
 * slot with dirty logging, ENOENT without.  (Not with a dirty ring.)
 */
static void op_dirty_log(struct stress *s)
{
	static uint64_t bitmap[8 * MiB / PAGE / 64];
	unsigned int i = kl_rnd_below(&s->r, NR_SLOTS);
	uint64_t npages = sslots[i].size / PAGE;
	bool logging = s->flags[i] & KVM_MEM_LOG_DIRTY_PAGES;
	struct kvm_dirty_log log = {
		.slot = sslots[i].slot, .dirty_bitmap = bitmap,
	};
	struct kvm_clear_dirty_log clear = {
		.slot = sslots[i].slot, .dirty_bitmap = bitmap,
	};
	int r;

	TEST_ASSERT(npages <= sizeof(bitmap) * 8, "bitmap too small");
	r = ioctl(s->vm->fd, KVM_GET_DIRTY_LOG, &log) ? -errno : 0;
	TEST_ASSERT(r == (logging ? 0 : -ENOENT),
		    "KVM_GET_DIRTY_LOG slot %u (dirty logging %s): %d",
		    sslots[i].slot, logging ? "on" : "off", r);
	if (!s->manual || !logging)
		return;
	/* Multiples of 64 pages; set bits clear, i.e. write-protect. */
	clear.first_page = kl_rnd_below(&s->r, npages / 64) * 64;
	clear.num_pages = (1 + kl_rnd_below(&s->r, (npages - clear.first_page) /
					 64)) * 64;
	memset(bitmap, 0xff, sizeof(bitmap));
	r = ioctl(s->vm->fd, KVM_CLEAR_DIRTY_LOG, &clear) ? -errno : 0;
	TEST_ASSERT(!r, "KVM_CLEAR_DIRTY_LOG slot %u pages %#llx+%#x: %d",
		    sslots[i].slot, clear.first_page, clear.num_pages, r);
}

/*
 * Drop host pages under the stage-2 mappings.  Until the host writes them
 * again they read zero; sometimes write a new pattern at once, sometimes
 * leave them for the pre-faults to map the zero page.
 */
static void op_dontneed(struct stress *s)
{
	unsigned int i = kl_rnd_below(&s->r, NR_SLOTS);
	uint64_t off, len;
	uint8_t *p;

	pick_chunk(s, i, &off, &len);
	p = (uint8_t *)s->hva[i] + off;
	TEST_ASSERT(!madvise(p, len, MADV_DONTNEED),
		    "MADV_DONTNEED slot %u +%#" PRIx64 " len %#" PRIx64,
		    sslots[i].slot, off, len);
	if (kl_rnd_below(&s->r, 2)) {
		pause_a_bit(s);
		kl_fill_pattern(p, len / PAGE, (uint8_t)kl_rnd(&s->r));
	}
}

/*
 * Make host pages read-only for a while: read pre-faults still map them,
 * write pre-faults there fail with EFAULT.  Only this thread writes guest
 * memory from the host, so nothing else trips over the protection.
 */
static void op_mprotect(struct stress *s)
{
	unsigned int i = kl_rnd_below(&s->r, NR_SLOTS);
	uint64_t off, len;
	uint8_t *p;

	pick_chunk(s, i, &off, &len);
	p = (uint8_t *)s->hva[i] + off;
	TEST_ASSERT(!mprotect(p, len, PROT_READ), "mprotect PROT_READ");
	pause_a_bit(s);
	TEST_ASSERT(!mprotect(p, len, PROT_READ | PROT_WRITE),
		    "mprotect PROT_READ | PROT_WRITE");
}

static void op_signal(struct stress *s)
{
	pthread_kill(s->w[kl_rnd_below(&s->r, NR_WORKERS)].thread, SIGUSR1);
}

static void mutate(struct stress *s, enum op op)
{
	switch (op) {
	case OP_READD:
		op_readd(s);
		break;
	case OP_MOVE:
		op_move(s);
		break;
	case OP_TOGGLE_LOG:
		op_toggle_log(s);
		break;
	case OP_DIRTY_LOG:
		/* The dirty ring and the bitmap exclude each other. */
		if (s->ring)
			return;
		op_dirty_log(s);
		break;
	case OP_DONTNEED:
		op_dontneed(s);
		break;
	case OP_MPROTECT:
		op_mprotect(s);
		break;
	default:
		op_signal(s);
		break;
	}
	s->ops[op]++;
}

/* ---- the check at the end --------------------------------------------- */


/*
 * The host writes a fresh pattern into every slot, then the guest reads
 * every page: any stage-2 mapping that still points at a page the host
 * no longer maps there reads old data.
 */
static void check_guest_reads(struct stress *s, uint8_t seed,
			      const char *when)
{
	struct kl_vcpu *vcpu = s->w[0].vcpu;
	unsigned int i;

	for (i = 0; i < NR_SLOTS; i++)
		kl_fill_pattern(s->hva[i], sslots[i].size / PAGE, seed + i);
	for (i = 0; i < NR_SLOTS; i++) {
		const struct sslot *f = &sslots[i];
		struct kl_args a = {
			.addr = f->gpa, .count = f->size / PAGE, .stride = PAGE,
		};
		uint32_t want = kl_pattern_sum(f->size / PAGE, seed + i), got;

		kl_guest_load(vcpu, KL_BLOB(guest_read_pass), &a);
		got = kl_run_to_done(vcpu);
		TEST_ASSERT(got == want, "%s: slot %u: the guest read checksum "
			    "%#x, the host wrote %#x: a stale stage-2 mapping",
			    when, f->slot, got, want);
	}
}

/* Pre-fault every slot completely with the given intent. */
static void prefault_all(struct stress *s, uint64_t flags)
{
	unsigned int i;

	for (i = 0; i < NR_SLOTS; i++) {
		struct kvm_pre_fault_memory q = {
			.gpa = sslots[i].gpa, .size = sslots[i].size,
			.flags = flags,
		};
		int ret = kl_pre_fault_loop(s->w[0].vcpu, &q, NULL);

		errno = -ret;
		TEST_ASSERT(!ret, "pre-fault slot %u (flags %#" PRIx64
			    ") after the stress stopped at %#llx",
			    sslots[i].slot, flags, q.gpa);
	}
}

static void final_checks(struct stress *s)
{
	unsigned int i, w;

	/*
	 * Every slot is at home again (each change puts it back); switch
	 * dirty logging off so that the guest passes push nothing, and
	 * empty the rings so that KVM lets the guest run.
	 */
	for (i = 0; i < NR_SLOTS; i++) {
		s->flags[i] = 0;
		must_set_slot(s, i, sslots[i].gpa, sslots[i].size,
			      "final layout");
	}
	if (s->ring)
		for (w = 0; w < NR_WORKERS; w++)
			ring_harvest(&s->w[w]);

	/* Whatever the stress left mapped. */
	check_guest_reads(s, 0x31, "after the stress");

	/*
	 * Drop everything, pre-fault it again with each intent, then the
	 * host writes on top: a read pre-fault maps the zero page that the
	 * host's write replaces, a write pre-fault the page the host then
	 * writes into.
	 */
	for (i = 0; i < NR_SLOTS; i++)
		TEST_ASSERT(!madvise(s->hva[i], sslots[i].size, MADV_DONTNEED),
			    "MADV_DONTNEED slot %u", sslots[i].slot);
	prefault_all(s, 0);
	check_guest_reads(s, 0x52, "read pre-fault after MADV_DONTNEED");
	if (g_write_known) {
		for (i = 0; i < NR_SLOTS; i++)
			TEST_ASSERT(!madvise(s->hva[i], sslots[i].size,
					     MADV_DONTNEED),
				    "MADV_DONTNEED slot %u", sslots[i].slot);
		prefault_all(s, KL_PF_WRITE);
		check_guest_reads(s, 0x73,
				  "write pre-fault after MADV_DONTNEED");
	}
}

/* ---- the sub-tests ---------------------------------------------------- */

static void stress_vm(struct stress *s)
{
	void *code;
	unsigned int i;

	s->vm = kl_vm_create();
	if (s->ring) {
		kl_vm_enable_small_dirty_ring(s->vm);
	} else {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		};
		int r;

		r = kl_check_cap(s->vm->fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
		if (r > 0) {
			cap.args[0] = r;
			TEST_ASSERT(!ioctl(s->vm->fd, KVM_ENABLE_CAP, &cap),
				    "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 %#x", r);
			s->manual = true;
		}
	}
	code = kl_mem_alloc(KL_CODE_SLOT_SIZE, KL_MEM_4K);
	TEST_ASSERT(code, "code slot memory");
	kl_add_slot(s->vm, KL_CODE_SLOT, 0, 0, KL_CODE_SLOT_SIZE, code);
	for (i = 0; i < NR_WORKERS; i++)
		s->w[i].vcpu = kl_vcpu_add(s->vm, i);
	for (i = 0; i < NR_SLOTS; i++) {
		const struct sslot *f = &sslots[i];

		s->hva[i] = kl_mem_alloc(f->size, f->b);
		if (!s->hva[i] && f->b == KL_MEM_THP)
			s->hva[i] = kl_mem_alloc(f->size, KL_MEM_4K);
		TEST_ASSERT(s->hva[i], "memory for slot %u", f->slot);
		kl_fill_pattern(s->hva[i], f->size / PAGE, 0x10 + i);
		/* With a ring, log from the start: the ring fills sooner. */
		s->flags[i] = s->ring && i % 2 ? KVM_MEM_LOG_DIRTY_PAGES : 0;
		kl_add_slot(s->vm, f->slot, s->flags[i], f->gpa, f->size,
			    s->hva[i]);
	}
	tap_diag("seed %" PRIu64 ", %u s, %d vCPUs, %s%s", g_seed, g_seconds,
		 NR_WORKERS, s->ring ? "dirty ring" : "dirty bitmap",
		 s->ring ? "" : s->manual ? " with KVM_CLEAR_DIRTY_LOG" :
		 " (no manual protection)");
	if (s->ring)
		tap_diag("dirty ring: %u entries per vCPU",
			 s->w[0].vcpu->ring_entries);
}

static void report(struct stress *s)
{
	unsigned int i;
	char buf[512];
	int n = 0;

	for (i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &s->w[i];

		tap_diag("vCPU %u: %lu calls, %lu pages; ok %lu EINTR %lu "
			 "EAGAIN %lu ENOENT %lu EFAULT %lu; %lu harvests, %lu "
			 "guest runs", i, w->calls, w->pages, w->res[RES_OK],
			 w->res[RES_EINTR], w->res[RES_EAGAIN],
			 w->res[RES_ENOENT], w->res[RES_EFAULT], w->harvests,
			 w->guest_runs);
		TEST_ASSERT(w->res[RES_OK],
			    "vCPU %u never made progress: the test proves "
			    "nothing", i);
	}
	for (i = 0; i < NR_OPS; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s %lu",
			      i ? ", " : "", op_names[i], s->ops[i]);
	tap_diag("memory map changes: %s", buf);
	for (i = 0; i < NR_OPS; i++)
		TEST_ASSERT(s->ops[i] || (i == OP_DIRTY_LOG && s->ring),
			    "no %s in %u s: the test proves nothing",
			    op_names[i], g_seconds);
}

static void stress(bool ring)
{
	struct sigaction sa = { .sa_handler = nop_handler };
	struct tap_watchdog wd;
	struct stress *s;
	double end;
	unsigned int i;
	enum op op = 0;

	if (g_mode != KL_PF_TDP)
		tap_skip("KVM_PRE_FAULT_MEMORY is EOPNOTSUPP here (no TDP or "
			 "protected mode)");
	if (ring && kl_check_cap(kl_open_dev(), KVM_CAP_DIRTY_LOG_RING) <= 0)
		tap_skip("no KVM_CAP_DIRTY_LOG_RING (6.1 has it on x86 only)");
	s = calloc(1, sizeof(*s));
	TEST_ASSERT(s, "calloc");
	s->ring = ring;
	pthread_mutex_init(&s->reset_lock, NULL);
	kl_rng_init(&s->r, g_seed, ring ? 2 : 1);
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction");
	stress_vm(s);

	for (i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &s->w[i];

		w->s = s;
		kl_rng_init(&w->r, g_seed, 10 * (ring + 1) + i);
		tap_watchdog_start(&w->wd, STUCK_S,
				   "a pre-faulting vCPU thread (hang?)");
		TEST_ASSERT(!pthread_create(&w->thread, NULL, worker_thread, w),
			    "pthread_create");
	}
	tap_watchdog_start(&wd, STUCK_S, "memory map changes while "
			   "pre-faulting (deadlock?)");
	/* Every kind of change in turn, each with random parameters. */
	end = tap_now() + g_seconds;
	while (tap_now() < end) {
		mutate(s, op);
		op = (op + 1) % NR_OPS;
		tap_watchdog_kick(&wd);
		usleep(kl_rnd_below(&s->r, 500));
	}
	__atomic_store_n(&s->stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < NR_WORKERS; i++) {
		pthread_join(s->w[i].thread, NULL);
		tap_watchdog_stop(&s->w[i].wd);
	}
	tap_watchdog_stop(&wd);
	report(s);
	final_checks(s);
	kl_vm_free(s->vm);
	free(s);
}

static void test_stress_dirty_bitmap(void)
{
	stress(false);
}

static void test_stress_dirty_ring(void)
{
	stress(true);
}

static struct tap_test tests[] = {
	{ "stress_dirty_bitmap", test_stress_dirty_bitmap, 0 },
	{ "stress_dirty_ring", test_stress_dirty_ring, 0 },
};

int main(int argc, char **argv)
{
	const char *env_s = getenv("PRE_FAULT_STRESS_SECONDS");
	unsigned int i;

	if (argc > 1)
		g_seconds = strtoul(argv[1], NULL, 0);
	else if (env_s)
		g_seconds = strtoul(env_s, NULL, 0);
	if (!g_seconds)
		g_seconds = 1;
	g_seed = kl_seed(argc > 2 ? argv[2] : NULL, "PRE_FAULT_STRESS_SEED");
	tap_diag("seed %" PRIu64 " (rerun: %s %u %" PRIu64 ")", g_seed,
		 argv[0], g_seconds, g_seed);
	/* The stress, the final passes under TCG, and slack. */
	for (i = 0; i < TAP_ARRAY_SIZE(tests); i++)
		tests[i].timeout_s = g_seconds + 90;
	g_mode = kl_prefault_setup(tests, TAP_ARRAY_SIZE(tests),
				   &g_write_known);
	return kl_run_tests(tests, TAP_ARRAY_SIZE(tests));
}
