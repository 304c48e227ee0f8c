// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY with random arguments: random gpa, size, flags and
 * padding (huge, unaligned, overflowing), random bad struct pointers, and
 * the same from two vCPUs while memslots change and signals arrive.
 *
 * Every result must be success with consistent progress (gpa + size
 * unchanged, size smaller, struct otherwise untouched) or one of the
 * documented errors (EINVAL ENOENT EINTR EAGAIN EOPNOTSUPP EFAULT) with
 * the struct untouched; arguments that are invalid by rule must give
 * EINVAL.  The harness watches the kernel log for splats.
 *
 *  fuzz_args               random requests on one vCPU
 *  fuzz_bad_pointers       the struct at bad addresses: EFAULT
 *  fuzz_concurrent         two vCPUs, memslot churn and SIGUSR1
 *  fuzz_dirty_ring         random requests with a dirty ring and a
 *                          dirty-logged slot: EAGAIN only when the ring
 *                          is full, never above its soft limit (skips
 *                          without KVM_CAP_DIRTY_LOG_RING)
 *  fuzz_high_gpa           gpa near 2^36..2^52, 2^57, 2^63 and the top of
 *                          each, sizes that wrap: ENOENT outside memslots
 *  fuzz_concurrent_sigmask fuzz_concurrent with SIGBUS, SIGINT and more
 *                          blocked in the pre-faulting threads: blocked
 *                          signals never interrupt a pre-fault
 *
 * Usage: pre_fault_fuzz_test [SEED [ITERATIONS]]  (also $PRE_FAULT_FUZZ_SEED)
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

#define PAGE		KL_PAGE_SIZE
#define MiB		((uint64_t)1 << 20)
#define GiB		((uint64_t)1 << 30)

static uint64_t g_seed;
static unsigned int g_iters = 3000;
static enum kl_prefault_support g_mode;
static uint64_t g_valid_flags;	/* KL_PF_WRITE where the kernel takes it */


/* ---- the fuzzed VM ---- */

struct fslot {
	uint32_t slot, flags;
	uint64_t gpa, size;
	enum kl_backing b;
};

static const struct fslot fslots[] = {
	{ 1, 0, 1 * GiB, 16 * MiB, KL_MEM_4K },
	{ 2, 0, 1 * GiB + 64 * MiB, 16 * MiB, KL_MEM_THP },
	{ 3, KVM_MEM_READONLY, 2 * GiB, 4 * MiB, KL_MEM_4K },
	{ 4, KVM_MEM_LOG_DIRTY_PAGES, 2 * GiB + 16 * MiB, 4 * MiB,
	  KL_MEM_4K },
	{ 5, 0, 3 * GiB, 4 * MiB, KL_MEM_4K },	/* holes punched below */
	{ 6, 0, 1ULL << 36, 8 * MiB, KL_MEM_4K },	/* above 4 GiB */
};

static void fuzz_add_slots(struct kl_vm *vm, void **hvas)
{
	unsigned int i;

	for (i = 0; i < TAP_ARRAY_SIZE(fslots); i++) {
		const struct fslot *f = &fslots[i];
		void *hva = kl_mem_alloc(f->size, f->b);

		if (!hva && f->b == KL_MEM_THP)
			hva = kl_mem_alloc(f->size, KL_MEM_4K);
		TEST_ASSERT(hva, "alloc slot %u", f->slot);
		if (f->slot == 5) {
			/* Unresolvable host pages inside a valid memslot. */
			munmap((char *)hva + 17 * PAGE, PAGE);
			mprotect((char *)hva + 100 * PAGE, 3 * PAGE, PROT_NONE);
		}
		kl_add_slot(vm, f->slot, f->flags, f->gpa, f->size, hva);
		if (hvas)
			hvas[i] = hva;
	}
}

static struct kl_vm *fuzz_vm(struct kl_vcpu **vcpu, void **hvas)
{
	struct kl_vm *vm = kl_vm_create_with_vcpu(vcpu);

	fuzz_add_slots(vm, hvas);
	return vm;
}

/* ---- argument generators ---- */

static uint64_t gen_gpa(struct kl_rng *r)
{
	const struct fslot *f = &fslots[kl_rnd_below(r, TAP_ARRAY_SIZE(fslots))];
	uint64_t v;

	switch (kl_rnd_below(r, 10)) {
	case 0:
		return kl_rnd(r);				/* anything */
	case 1:
		return kl_rnd(r) & ~(PAGE - 1);		/* aligned, anywhere */
	case 2:
		return (~0ULL & ~(PAGE - 1)) - kl_rnd_below(r, 4) * PAGE +
		       kl_rnd_below(r, 2);
	case 3:
		return kl_rnd_below(r, 8) * PAGE;		/* code slot, low */
	case 4:					/* near a slot's end */
		v = f->gpa + f->size - kl_rnd_below(r, 8) * PAGE;
		return v + kl_rnd_below(r, 8) * PAGE;
	case 5:					/* unaligned in a slot */
		return f->gpa + kl_rnd_below(r, f->size);
	case 6:					/* below 4 GiB */
		return kl_rnd_below(r, 4 * GiB) & ~(PAGE - 1);
	default:				/* aligned in a slot */
		return f->gpa + (kl_rnd_below(r, f->size) & ~(PAGE - 1));
	}
}

static uint64_t gen_size(struct kl_rng *r)
{
	switch (kl_rnd_below(r, 10)) {
	case 0:
		return kl_rnd(r);
	case 1:
		return kl_rnd(r) & ~(PAGE - 1);
	case 2:
		return 0;
	case 3:
		return 1 + kl_rnd_below(r, 3 * PAGE);	/* mostly unaligned */
	case 4:
		return ~0ULL - kl_rnd_below(r, 3) * PAGE;
	case 5:
		return (1 + kl_rnd_below(r, 8)) * 2 * MiB;
	default:
		return (1 + kl_rnd_below(r, 64)) * PAGE;
	}
}

static uint64_t gen_flags(struct kl_rng *r)
{
	switch (kl_rnd_below(r, 10)) {
	case 0:
		return 1ULL << kl_rnd_below(r, 64);
	case 1:
		return kl_rnd(r);
	case 2:
		return KL_PF_WRITE;
	default:
		return 0;
	}
}

static void gen_request(struct kl_rng *r, struct kvm_pre_fault_memory *req)
{
	unsigned int i;

	memset(req, 0, sizeof(*req));
	req->gpa = gen_gpa(r);
	req->size = gen_size(r);
	req->flags = gen_flags(r);
	if (kl_rnd_below(r, 4) == 0)
		for (i = 0; i < 5; i++)
			req->padding[i] = kl_rnd_below(r, 2) ? kl_rnd(r) : 0;
}

/* Invalid by rule, whatever the memory map: must be EINVAL. */
static bool invalid_by_rule(const struct kvm_pre_fault_memory *q)
{
	return (q->flags & ~g_valid_flags) || q->gpa % PAGE ||
	       q->size % PAGE || !q->size ||
	       q->gpa + q->size <= q->gpa;
}

struct tally {
	unsigned long ok, einval, enoent, eintr, eagain, eopnotsupp, efault;
};

static void tally_print(const char *what, const struct tally *t)
{
	tap_diag("%s: ok %lu EINVAL %lu ENOENT %lu EINTR %lu EAGAIN %lu "
		 "EOPNOTSUPP %lu EFAULT %lu", what, t->ok, t->einval,
		 t->enoent, t->eintr, t->eagain, t->eopnotsupp, t->efault);
}

/*
 * One call; check the rules.  slots_stable: no other thread changes
 * memslots, so validity of an argument predicts the error exactly enough
 * for the EINVAL and EOPNOTSUPP rules.
 */
static int fuzz_one(struct kl_vcpu *vcpu, struct kvm_pre_fault_memory *q,
		     struct tally *t, uint64_t iter)
{
	struct kvm_pre_fault_memory before = *q;
	int ret = kl_pre_fault(vcpu, q);
	bool unchanged = !memcmp(q, &before, sizeof(before));

	switch (ret) {
	case 0:
		t->ok++;
		TEST_ASSERT(!invalid_by_rule(&before),
			    "iter %" PRIu64 ": success for invalid gpa %#llx "
			    "size %#llx flags %#llx", iter, before.gpa,
			    before.size, before.flags);
		TEST_ASSERT(g_mode == KL_PF_TDP,
			    "iter %" PRIu64 ": success without TDP", iter);
		TEST_ASSERT(q->size < before.size &&
			    q->gpa + q->size == before.gpa + before.size &&
			    q->gpa > before.gpa && !(q->gpa % PAGE) &&
			    q->flags == before.flags &&
			    !memcmp(q->padding, before.padding,
				    sizeof(q->padding)),
			    "iter %" PRIu64 ": inconsistent progress %#llx+%#llx"
			    " -> %#llx+%#llx", iter, before.gpa, before.size,
			    q->gpa, q->size);
		return 0;
	case -EINVAL:
		t->einval++;
		break;
	case -ENOENT:
		t->enoent++;
		break;
	case -EINTR:
		t->eintr++;
		break;
	case -EAGAIN:
		t->eagain++;
		break;
	case -EOPNOTSUPP:
		t->eopnotsupp++;
		break;
	case -EFAULT:
		t->efault++;
		break;
	default:
		errno = -ret;
		TEST_ASSERT(0, "iter %" PRIu64 ": undocumented error %d for gpa "
			    "%#llx size %#llx flags %#llx", iter, ret,
			    before.gpa, before.size, before.flags);
	}
	TEST_ASSERT(unchanged, "iter %" PRIu64 ": error %d changed the struct: "
		    "%#llx+%#llx -> %#llx+%#llx", iter, ret, before.gpa,
		    before.size, q->gpa, q->size);
	/* The argument checks come first, before any signal check. */
	if (invalid_by_rule(&before))
		TEST_ASSERT(ret == -EINVAL,
			    "iter %" PRIu64 ": gpa %#llx size %#llx flags %#llx "
			    "is invalid but got %d (%s)", iter, before.gpa,
			    before.size, before.flags, ret, strerror(-ret));
	else if (g_mode == KL_PF_NO_TDP)
		TEST_ASSERT(ret == -EOPNOTSUPP || ret == -EINTR,
			    "iter %" PRIu64 ": without TDP got %d (%s)", iter,
			    ret, strerror(-ret));
	else
		TEST_ASSERT(ret != -EINVAL && ret != -EOPNOTSUPP,
			    "iter %" PRIu64 ": valid gpa %#llx size %#llx: %d "
			    "(%s)", iter, before.gpa, before.size, ret,
			    strerror(-ret));
	return ret;
}

static void test_fuzz_args(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = fuzz_vm(&vcpu, NULL);
	double end = tap_now() + 25;
	struct tally t = { 0 };
	struct kl_rng r;
	unsigned int i;

	kl_rng_init(&r, g_seed, 1);
	tap_diag("seed %" PRIu64 ", %u iterations", g_seed, g_iters);
	for (i = 0; i < g_iters && tap_now() < end; i++) {
		struct kvm_pre_fault_memory q;
		unsigned int n;

		gen_request(&r, &q);
		/* Sometimes re-issue until it stops, like a VMM does. */
		for (n = 0; n < (kl_rnd_below(&r, 4) ? 1u : 64u); n++)
			if (fuzz_one(vcpu, &q, &t, i) || !q.size)
				break;
		/* Sometimes run the guest in between. */
		if (kl_rnd_below(&r, 32) == 0) {
			const struct fslot *f = &fslots[kl_rnd_below(&r, 2)];

			kl_guest_load(vcpu, KL_BLOB(guest_read_pass),
				      &(struct kl_args){
					.addr = f->gpa,
					.count = 1 + kl_rnd_below(&r, 64),
					.stride = (1 + kl_rnd_below(&r, 16)) * PAGE,
				      });
			kl_run_to_done(vcpu);
		}
	}
	tally_print("fuzz_args", &t);
	kl_vm_free(vm);
}

static void test_fuzz_bad_pointers(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = fuzz_vm(&vcpu, NULL);
	const uint64_t resv_size = GiB;
	char *resv = mmap(NULL, resv_size, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *ro = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double end = tap_now() + 15;
	unsigned long n = 0;
	struct kl_rng r;
	unsigned int i;

	TEST_ASSERT(resv != MAP_FAILED && ro != MAP_FAILED, "mmap");
	/* ro: page 0 read-only with a random request, page 1 PROT_NONE. */
	TEST_ASSERT(!mprotect(ro + PAGE, PAGE, PROT_NONE), "mprotect");
	kl_rng_init(&r, g_seed, 2);
	for (i = 0; i < g_iters && tap_now() < end; i++) {
		struct kvm_pre_fault_memory q;
		uint64_t p;
		int ret;

		switch (kl_rnd_below(&r, 7)) {
		case 0:			/* kernel half */
			p = 0xffff800000000000ULL | kl_rnd(&r);
			break;
		case 1:			/* non-canonical */
			p = (kl_rnd(&r) | (1ULL << 62)) & ~(1ULL << 63);
			break;
		case 2:			/* below mmap_min_addr */
			p = kl_rnd_below(&r, 4096);
			break;
		case 3:			/* inside a PROT_NONE reservation */
			p = (uintptr_t)resv + kl_rnd_below(&r, resv_size - 64);
			break;
		case 4:			/* straddles into PROT_NONE */
			p = (uintptr_t)ro + PAGE - 1 - kl_rnd_below(&r, 63);
			break;
		default:		/* readable, not writable */
			gen_request(&r, &q);
			TEST_ASSERT(!mprotect(ro, PAGE, PROT_READ | PROT_WRITE),
				    "mprotect");
			p = (uintptr_t)ro + (kl_rnd_below(&r, PAGE - 64) & ~7ULL);
			memcpy((void *)p, &q, sizeof(q));
			TEST_ASSERT(!mprotect(ro, PAGE, PROT_READ), "mprotect");
			break;
		}
		ret = ioctl(vcpu->fd, KVM_PRE_FAULT_MEMORY, (void *)p);
		TEST_ASSERT(ret == -1 && errno == EFAULT,
			    "iter %u: pointer %#" PRIx64 ": ret %d, want EFAULT",
			    i, p, ret);
		n++;
	}
	tap_diag("seed %" PRIu64 ": %lu bad pointers, all EFAULT", g_seed, n);
	kl_vm_free(vm);
}

/* ---- two vCPUs, memslot churn and signals ---- */

struct worker {
	struct tap_watchdog wd;
	struct kl_vcpu *vcpu;
	struct kl_rng r;
	volatile bool *stop;
	struct tally t;
	unsigned long calls;
	/* fuzz_concurrent_sigmask: what the thread blocks, or NULL */
	const sigset_t *block;
	unsigned long usr1_sent, blocked_sent;	/* by the main thread */
	bool blocked_pending;	/* some blocked signal pending at the end */
};

static void nop_handler(int sig)
{
	(void)sig;
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;

	if (w->block)
		TEST_ASSERT(!pthread_sigmask(SIG_BLOCK, w->block, NULL),
			    "pthread_sigmask");
	while (!*w->stop) {
		struct kvm_pre_fault_memory q, before;
		int ret;

		gen_request(&w->r, &q);
		before = q;
		ret = kl_pre_fault(w->vcpu, &q);
		tap_watchdog_kick(&w->wd);
		w->calls++;
		if (!ret) {
			w->t.ok++;
			TEST_ASSERT(!invalid_by_rule(&before) &&
				    q.size < before.size &&
				    q.gpa + q.size == before.gpa + before.size,
				    "success for %#llx+%#llx flags %#llx -> "
				    "%#llx+%#llx", before.gpa, before.size,
				    before.flags, q.gpa, q.size);
			continue;
		}
		TEST_ASSERT(ret == -EINVAL || ret == -ENOENT ||
			    ret == -EINTR || ret == -EAGAIN ||
			    ret == -EOPNOTSUPP || ret == -EFAULT,
			    "undocumented error %d (%s)", ret, strerror(-ret));
		TEST_ASSERT(!memcmp(&q, &before, sizeof(q)),
			    "error %d changed the struct", ret);
		if (invalid_by_rule(&before))
			TEST_ASSERT(ret == -EINVAL, "invalid request got %d",
				    ret);
		switch (ret) {
		case -EINTR:
			w->t.eintr++;
			break;
		case -EAGAIN:
			w->t.eagain++;
			break;
		case -ENOENT:
			w->t.enoent++;
			break;
		case -EFAULT:
			w->t.efault++;
			break;
		case -EINVAL:
			w->t.einval++;
			break;
		default:
			w->t.eopnotsupp++;
			break;
		}
	}
	if (w->block) {
		sigset_t pending;
		int sig;

		TEST_ASSERT(!sigpending(&pending), "sigpending");
		for (sig = 1; sig < NSIG; sig++)
			if (sigismember(w->block, sig) &&
			    sigismember(&pending, sig))
				w->blocked_pending = true;
	}
	return NULL;
}

/*
 * The signals fuzz_concurrent_sigmask blocks in the pre-faulting threads:
 * SIGBUS (what a poisoned page would send), the usual terminal and timer
 * signals, and a real-time one (those queue).  SIGUSR1 stays unblocked.
 */
static int blocked_signals(int *sigs)
{
	const int fixed[] = { SIGBUS, SIGINT, SIGTERM, SIGHUP, SIGUSR2,
			      SIGALRM };
	unsigned int i;

	for (i = 0; i < TAP_ARRAY_SIZE(fixed); i++)
		sigs[i] = fixed[i];
	sigs[i++] = SIGRTMIN;
	return i;
}

static void fuzz_concurrent(bool sigmask)
{
	struct kl_vcpu *v0, *v1;
	void *hvas[TAP_ARRAY_SIZE(fslots)];
	struct kl_vm *vm = fuzz_vm(&v0, hvas);
	volatile bool stop = false;
	struct worker w[2];
	struct sigaction sa = { .sa_handler = nop_handler };
	unsigned long churn = 0;
	bool present = true;
	struct tap_watchdog wd;
	double end = tap_now() + 8;
	struct kl_rng r;
	pthread_t t[2];
	sigset_t block, old_mask;
	int sigs[8], nsigs = 0;
	int i;

	v1 = kl_vcpu_add(vm, 1);
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction");
	sigemptyset(&block);
	if (sigmask) {
		nsigs = blocked_signals(sigs);
		for (i = 0; i < nsigs; i++) {
			sigaddset(&block, sigs[i]);
			/*
			 * Only ever sent to threads that block them; a
			 * handler all the same, so that one that gets through
			 * is counted as EINTR rather than killing the test.
			 * SIGBUS keeps its default: a real one must kill.
			 */
			if (sigs[i] != SIGBUS)
				TEST_ASSERT(!sigaction(sigs[i], &sa, NULL),
					    "sigaction %d", sigs[i]);
		}
	}
	kl_rng_init(&r, g_seed, sigmask ? 7 : 3);
	tap_watchdog_start(&wd, 15, "memslot update blocked while "
			   "pre-faulting (deadlock?)");
	/*
	 * The workers inherit the blocked set from here: blocking it only in
	 * worker_thread() leaves a window before they run in which the
	 * first signal sent to them (SIGBUS, with its default action)
	 * killed the test.
	 */
	TEST_ASSERT(!pthread_sigmask(SIG_BLOCK, &block, &old_mask),
		    "pthread_sigmask");
	for (i = 0; i < 2; i++) {
		w[i] = (struct worker){ .vcpu = i ? v1 : v0, .stop = &stop,
					.block = sigmask ? &block : NULL };
		kl_rng_init(&w[i].r, g_seed, (sigmask ? 20 : 10) + i);
		tap_watchdog_start(&w[i].wd, 15, i ?
				   "vCPU 1 stuck in KVM_PRE_FAULT_MEMORY" :
				   "vCPU 0 stuck in KVM_PRE_FAULT_MEMORY");
		TEST_ASSERT(!pthread_create(&t[i], NULL, worker_thread, &w[i]),
			    "pthread_create");
	}
	TEST_ASSERT(!pthread_sigmask(SIG_SETMASK, &old_mask, NULL),
		    "pthread_sigmask");
	/* Churn slot 1 (delete, re-add, move) and poke the workers. */
	while (tap_now() < end) {
		const struct fslot *f = &fslots[0];
		uint64_t gpa = f->gpa;
		int ret;

		switch (kl_rnd_below(&r, 4)) {
		case 0:
			if (present) {	/* deleting nothing is EINVAL */
				ret = kl_ioctl_region1(vm, f->slot, 0, 0, 0, 0);
				present = false;
				break;
			}
			/* fall through */
		case 1:
			gpa += 32 * MiB;
			/* fall through */
		default:
			/* Re-adding an existing slot at another gpa moves it. */
			ret = kl_ioctl_region1(vm, f->slot, 0, gpa, f->size,
					       (uintptr_t)hvas[0]);
			present = true;
			break;
		}
		errno = -ret;
		TEST_ASSERT(!ret, "memslot churn #%lu: slot %u gpa %#" PRIx64,
			    churn, f->slot, gpa);
		tap_watchdog_kick(&wd);
		churn++;
		if (!sigmask) {
			pthread_kill(t[kl_rnd_below(&r, 2)], SIGUSR1);
		} else {
			/* Half SIGUSR1, half one of the blocked ones. */
			int k = kl_rnd_below(&r, 2);
			int sig = kl_rnd_below(&r, 2) ? SIGUSR1 :
				  sigs[kl_rnd_below(&r, nsigs)];

			if (sig == SIGUSR1)
				w[k].usr1_sent++;
			else
				w[k].blocked_sent++;
			pthread_kill(t[k], sig);
		}
		usleep(kl_rnd_below(&r, 500));
	}
	stop = true;
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		tap_watchdog_stop(&w[i].wd);
	}
	tap_watchdog_stop(&wd);
	tap_diag("seed %" PRIu64 ": %lu + %lu calls, %lu memslot updates",
		 g_seed, w[0].calls, w[1].calls, churn);
	tally_print("vCPU 0", &w[0].t);
	tally_print("vCPU 1", &w[1].t);
	TEST_ASSERT(w[0].calls && w[1].calls, "a worker never ran");
	for (i = 0; sigmask && i < 2; i++) {
		tap_diag("vCPU %d: %lu SIGUSR1 and %lu blocked signals sent",
			 i, w[i].usr1_sent, w[i].blocked_sent);
		/*
		 * Each SIGUSR1 interrupts at most one call (one that arrives
		 * while the last is pending is lost); a blocked signal is
		 * not "pending" for the pre-fault and interrupts none.
		 */
		TEST_ASSERT(w[i].t.eintr <= w[i].usr1_sent,
			    "vCPU %d: %lu EINTR but only %lu SIGUSR1: a "
			    "blocked signal interrupted the pre-fault", i,
			    w[i].t.eintr, w[i].usr1_sent);
		TEST_ASSERT(!w[i].blocked_sent || w[i].blocked_pending,
			    "vCPU %d: %lu blocked signals sent, none pending "
			    "at the end", i, w[i].blocked_sent);
	}
	kl_vm_free(vm);
}

static void test_fuzz_concurrent(void)
{
	fuzz_concurrent(false);
}

static void test_fuzz_concurrent_sigmask(void)
{
	fuzz_concurrent(true);
}

/* ---- a dirty ring ---- */

/*
 * KVM_DIRTY_RING_RSVD_ENTRIES: the soft limit is at least this far below
 * the ring's size (more with Intel PML).
 */
#define RING_RSVD	64
/* fslots[] index of the slot with KVM_MEM_LOG_DIRTY_PAGES. */
#define LOGGED		3

static void ring_entry(void *opaque, uint32_t slot, uint64_t offset)
{
	const struct fslot *f = &fslots[LOGGED];

	(void)opaque;
	/* Only the dirty-logged slot, within it. */
	TEST_ASSERT(slot == f->slot && offset < f->size / PAGE,
		    "dirty ring entry for slot %u offset %#" PRIx64
		    " (only slot %u, %" PRIu64 " pages, logs dirty pages)",
		    slot, offset, f->slot, f->size / PAGE);
}

static void ring_harvest(struct kl_vcpu *vcpu)
{
	int r;

	kl_dirty_ring_harvest(vcpu, ring_entry, NULL);
	r = kl_dirty_ring_reset(vcpu->vm);
	errno = r < 0 ? -r : 0;
	TEST_ASSERT(r >= 0, "KVM_RESET_DIRTY_RINGS");
}

/* Mostly a random part of the dirty-logged slot, else anything. */
static void gen_ring_request(struct kl_rng *r, struct kvm_pre_fault_memory *q)
{
	const struct fslot *f = &fslots[LOGGED];
	uint64_t npages = f->size / PAGE, first;

	if (kl_rnd_below(r, 2)) {
		gen_request(r, q);
		return;
	}
	memset(q, 0, sizeof(*q));
	first = kl_rnd_below(r, npages);
	q->gpa = f->gpa + first * PAGE;
	q->size = (1 + kl_rnd_below(r, npages - first)) * PAGE;
	q->flags = kl_rnd_below(r, 2) ? g_valid_flags : 0;
}

/*
 * Issue q up to max_calls times, as a VMM with a dirty ring must: on
 * EAGAIN, harvest and re-issue.  No call may leave the ring above its
 * soft limit, and as nothing changes the memory map here, EAGAIN means a
 * full ring and never comes right after a reset.
 */
static void ring_issue(struct kl_vcpu *vcpu, struct kvm_pre_fault_memory *q,
		       unsigned int max_calls, struct tally *t,
		       unsigned int iter, unsigned long *full)
{
	uint32_t limit = vcpu->ring_entries - RING_RSVD;
	bool reset = false;
	unsigned int n;
	int ret;

	for (n = 0; n < max_calls; n++) {
		ret = fuzz_one(vcpu, q, t, iter);
		TEST_ASSERT(kl_dirty_ring_pending(vcpu) <= limit,
			    "iter %u: %u dirty entries pending after a "
			    "pre-fault; the soft limit is at most %u",
			    iter, kl_dirty_ring_pending(vcpu), limit);
		if (ret == -EAGAIN) {
			TEST_ASSERT(kl_dirty_ring_pending(vcpu) && !reset,
				    "iter %u: EAGAIN with %u entries "
				    "pending%s", iter,
				    kl_dirty_ring_pending(vcpu),
				    reset ? ", right after a reset" : "");
			ring_harvest(vcpu);
			reset = true;
			(*full)++;
			continue;
		}
		reset = false;
		if (ret || !q->size)
			break;
	}
}

static void test_fuzz_dirty_ring(void)
{
	struct kvm_pre_fault_memory q;
	struct kl_vcpu *vcpu;
	struct kl_vm *vm;
	void *hvas[TAP_ARRAY_SIZE(fslots)];
	double end = tap_now() + 15;
	unsigned long full = 0;
	struct tally t = { 0 };
	struct kl_rng r;
	unsigned int i;
	void *code;

	vm = kl_vm_create();
	kl_vm_enable_small_dirty_ring(vm);
	code = kl_mem_alloc(KL_CODE_SLOT_SIZE, KL_MEM_4K);
	TEST_ASSERT(code, "code slot");
	kl_add_slot(vm, KL_CODE_SLOT, 0, 0, KL_CODE_SLOT_SIZE, code);
	fuzz_add_slots(vm, hvas);
	vcpu = kl_vcpu_add(vm, 0);
	/* Written by the host: read intent maps it writable, and logs it. */
	kl_fill_pattern(hvas[LOGGED], fslots[LOGGED].size / PAGE, 5);
	tap_diag("seed %" PRIu64 ", %u iterations, %u ring entries", g_seed,
		 g_iters, vcpu->ring_entries);

	/*
	 * First the whole slot, as a VMM would: the host wrote every page,
	 * so read intent alone fills the ring several times over.
	 */
	q = (struct kvm_pre_fault_memory){
		.gpa = fslots[LOGGED].gpa, .size = fslots[LOGGED].size,
	};
	ring_issue(vcpu, &q, ~0u, &t, 0, &full);
	if (g_mode == KL_PF_TDP)
		TEST_ASSERT(!q.size && full,
			    "the logged slot: stopped at %#llx, ring full %lu "
			    "times", q.gpa, full);

	kl_rng_init(&r, g_seed, 4);
	for (i = 0; i < g_iters && tap_now() < end; i++) {
		gen_ring_request(&r, &q);
		ring_issue(vcpu, &q, kl_rnd_below(&r, 4) ? 1 : 64, &t, i, &full);
		/* Sometimes run the guest, with an empty ring. */
		if (kl_rnd_below(&r, 32) == 0) {
			const struct fslot *f = &fslots[kl_rnd_below(&r, 2)];

			ring_harvest(vcpu);
			kl_guest_load(vcpu, KL_BLOB(guest_read_pass),
				      &(struct kl_args){
					.addr = f->gpa,
					.count = 1 + kl_rnd_below(&r, 64),
					.stride = (1 + kl_rnd_below(&r, 16)) * PAGE,
				      });
			kl_run_to_done(vcpu);
		}
	}
	tally_print("fuzz_dirty_ring", &t);
	tap_diag("ring full %lu times", full);
	kl_vm_free(vm);
}

/* ---- high gpa ---- */

/* A memslot (or the code slot) holds gpa: the rules say it must map. */
static bool gpa_in_slot(uint64_t gpa)
{
	unsigned int i;

	if (gpa < KL_CODE_SLOT_SIZE)
		return true;
	for (i = 0; i < TAP_ARRAY_SIZE(fslots); i++)
		if (gpa >= fslots[i].gpa && gpa - fslots[i].gpa < fslots[i].size)
			return true;
	return false;
}

/*
 * gpa near 2^b for b in 36..52, 57 and 63 (bits of guest physical address
 * that page tables of 4 and 5 levels, MAXPHYADDR and arm64's IPA sizes
 * end at), or near the top of [2^b, 2^(b+1)): below, at and above each
 * boundary, sometimes unaligned.
 */
static uint64_t gen_high_gpa(struct kl_rng *r)
{
	unsigned int b = kl_rnd_below(r, 19);
	uint64_t base, gpa;

	b = b < 17 ? 36 + b : b == 17 ? 57 : 63;
	base = (uint64_t)1 << b;
	if (kl_rnd_below(r, 2))
		gpa = base + (kl_rnd_below(r, 17) - 8) * PAGE;
	else	/* 2^64 - k pages for b = 63 */
		gpa = base + (base - (1 + kl_rnd_below(r, 8)) * PAGE);
	if (!kl_rnd_below(r, 8))
		gpa += 1 + kl_rnd_below(r, PAGE - 1);
	return gpa;
}

static uint64_t gen_high_size(struct kl_rng *r, uint64_t gpa)
{
	switch (kl_rnd_below(r, 6)) {
	case 0:			/* up to 2^64 exactly: gpa + size == 0 */
		return -gpa;
	case 1:			/* past 2^64: wraps */
		return -gpa + (1 + kl_rnd_below(r, 4)) * PAGE;
	case 2:			/* past the next power of two */
		return (uint64_t)1 << (36 + kl_rnd_below(r, 28));
	case 3:
		return (1 + kl_rnd_below(r, 4)) * 2 * MiB;
	default:
		return (1 + kl_rnd_below(r, 16)) * PAGE;
	}
}

static void test_fuzz_high_gpa(void)
{
	struct kl_vcpu *vcpu;
	struct kl_vm *vm = fuzz_vm(&vcpu, NULL);
	double end = tap_now() + 10;
	struct tally t = { 0 };
	struct kl_rng r;
	unsigned int i;

	kl_rng_init(&r, g_seed, 5);
	tap_diag("seed %" PRIu64 ", %u iterations", g_seed, g_iters);
	for (i = 0; i < g_iters && tap_now() < end; i++) {
		struct kvm_pre_fault_memory q = { 0 }, before;
		int ret;

		q.gpa = gen_high_gpa(&r);
		q.size = gen_high_size(&r, q.gpa);
		q.flags = kl_rnd_below(&r, 8) ? (kl_rnd_below(&r, 2) ?
					      g_valid_flags : 0) :
			  gen_flags(&r);
		before = q;
		ret = fuzz_one(vcpu, &q, &t, i);
		if (invalid_by_rule(&before) || g_mode != KL_PF_TDP)
			continue;	/* fuzz_one() checked it */
		/*
		 * Nothing changes the memory map and no signal comes: a
		 * valid request maps its first page if a memslot holds it,
		 * and is ENOENT otherwise, however high.
		 */
		if (gpa_in_slot(before.gpa))
			TEST_ASSERT(!ret, "iter %u: gpa %#llx size %#llx in a "
				    "memslot: %d (%s)", i, before.gpa,
				    before.size, ret, strerror(-ret));
		else
			TEST_ASSERT(ret == -ENOENT, "iter %u: gpa %#llx size "
				    "%#llx in no memslot: %d (%s), want ENOENT",
				    i, before.gpa, before.size, ret,
				    ret ? strerror(-ret) : "success");
	}
	tally_print("fuzz_high_gpa", &t);
	kl_vm_free(vm);
}

static const struct tap_test tests[] = {
	{ "fuzz_args", test_fuzz_args, 60 },
	{ "fuzz_bad_pointers", test_fuzz_bad_pointers, 40 },
	{ "fuzz_concurrent", test_fuzz_concurrent, 40 },
	{ "fuzz_dirty_ring", test_fuzz_dirty_ring, 40 },
	{ "fuzz_high_gpa", test_fuzz_high_gpa, 30 },
	{ "fuzz_concurrent_sigmask", test_fuzz_concurrent_sigmask, 40 },
};

int main(int argc, char **argv)
{
	bool write_known;

	g_seed = kl_seed(argc > 1 ? argv[1] : NULL, "PRE_FAULT_FUZZ_SEED");
	if (argc > 2)
		g_iters = strtoul(argv[2], NULL, 0);
	tap_diag("seed %" PRIu64 " (rerun: %s %" PRIu64 " %u)", g_seed,
		 argv[0], g_seed, g_iters);
	g_mode = kl_prefault_setup(tests, TAP_ARRAY_SIZE(tests),
				   &write_known);
	if (write_known)
		g_valid_flags = KL_PF_WRITE;
	return kl_run_tests(tests, TAP_ARRAY_SIZE(tests));
}
