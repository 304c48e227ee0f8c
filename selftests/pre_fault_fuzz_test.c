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

/* xorshift64*: small, seedable, good enough to pick test cases. */
struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static void rng_init(struct rng *r, uint64_t salt)
{
	r->s = (g_seed ^ (salt * 0x9e3779b97f4a7c15ULL)) | 1;
	rnd(r);
}

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

static struct kl_vm *fuzz_vm(struct kl_vcpu **vcpu, void **hvas)
{
	struct kl_vm *vm = kl_vm_create_with_vcpu(vcpu);
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
	return vm;
}

/* ---- argument generators ---- */

static uint64_t gen_gpa(struct rng *r)
{
	const struct fslot *f = &fslots[rnd_below(r, TAP_ARRAY_SIZE(fslots))];
	uint64_t v;

	switch (rnd_below(r, 10)) {
	case 0:
		return rnd(r);				/* anything */
	case 1:
		return rnd(r) & ~(PAGE - 1);		/* aligned, anywhere */
	case 2:
		return (~0ULL & ~(PAGE - 1)) - rnd_below(r, 4) * PAGE +
		       rnd_below(r, 2);
	case 3:
		return rnd_below(r, 8) * PAGE;		/* code slot, low */
	case 4:					/* near a slot's end */
		v = f->gpa + f->size - rnd_below(r, 8) * PAGE;
		return v + rnd_below(r, 8) * PAGE;
	case 5:					/* unaligned in a slot */
		return f->gpa + rnd_below(r, f->size);
	case 6:					/* below 4 GiB */
		return rnd_below(r, 4 * GiB) & ~(PAGE - 1);
	default:				/* aligned in a slot */
		return f->gpa + (rnd_below(r, f->size) & ~(PAGE - 1));
	}
}

static uint64_t gen_size(struct rng *r)
{
	switch (rnd_below(r, 10)) {
	case 0:
		return rnd(r);
	case 1:
		return rnd(r) & ~(PAGE - 1);
	case 2:
		return 0;
	case 3:
		return 1 + rnd_below(r, 3 * PAGE);	/* mostly unaligned */
	case 4:
		return ~0ULL - rnd_below(r, 3) * PAGE;
	case 5:
		return (1 + rnd_below(r, 8)) * 2 * MiB;
	default:
		return (1 + rnd_below(r, 64)) * PAGE;
	}
}

static uint64_t gen_flags(struct rng *r)
{
	switch (rnd_below(r, 10)) {
	case 0:
		return 1ULL << rnd_below(r, 64);
	case 1:
		return rnd(r);
	case 2:
		return KL_PF_WRITE;
	default:
		return 0;
	}
}

static void gen_request(struct rng *r, struct kvm_pre_fault_memory *req)
{
	unsigned int i;

	memset(req, 0, sizeof(*req));
	req->gpa = gen_gpa(r);
	req->size = gen_size(r);
	req->flags = gen_flags(r);
	if (rnd_below(r, 4) == 0)
		for (i = 0; i < 5; i++)
			req->padding[i] = rnd_below(r, 2) ? rnd(r) : 0;
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
	struct rng r;
	unsigned int i;

	rng_init(&r, 1);
	tap_diag("seed %" PRIu64 ", %u iterations", g_seed, g_iters);
	for (i = 0; i < g_iters && tap_now() < end; i++) {
		struct kvm_pre_fault_memory q;
		unsigned int n;

		gen_request(&r, &q);
		/* Sometimes re-issue until it stops, like a VMM does. */
		for (n = 0; n < (rnd_below(&r, 4) ? 1u : 64u); n++)
			if (fuzz_one(vcpu, &q, &t, i) || !q.size)
				break;
		/* Sometimes run the guest in between. */
		if (rnd_below(&r, 32) == 0) {
			const struct fslot *f = &fslots[rnd_below(&r, 2)];

			kl_guest_load(vcpu, KL_BLOB(guest_read_pass),
				      &(struct kl_args){
					.addr = f->gpa,
					.count = 1 + rnd_below(&r, 64),
					.stride = (1 + rnd_below(&r, 16)) * PAGE,
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
	struct rng r;
	unsigned int i;

	TEST_ASSERT(resv != MAP_FAILED && ro != MAP_FAILED, "mmap");
	/* ro: page 0 read-only with a random request, page 1 PROT_NONE. */
	TEST_ASSERT(!mprotect(ro + PAGE, PAGE, PROT_NONE), "mprotect");
	rng_init(&r, 2);
	for (i = 0; i < g_iters && tap_now() < end; i++) {
		struct kvm_pre_fault_memory q;
		uint64_t p;
		int ret;

		switch (rnd_below(&r, 7)) {
		case 0:			/* kernel half */
			p = 0xffff800000000000ULL | rnd(&r);
			break;
		case 1:			/* non-canonical */
			p = (rnd(&r) | (1ULL << 62)) & ~(1ULL << 63);
			break;
		case 2:			/* below mmap_min_addr */
			p = rnd_below(&r, 4096);
			break;
		case 3:			/* inside a PROT_NONE reservation */
			p = (uintptr_t)resv + rnd_below(&r, resv_size - 64);
			break;
		case 4:			/* straddles into PROT_NONE */
			p = (uintptr_t)ro + PAGE - 1 - rnd_below(&r, 63);
			break;
		default:		/* readable, not writable */
			gen_request(&r, &q);
			TEST_ASSERT(!mprotect(ro, PAGE, PROT_READ | PROT_WRITE),
				    "mprotect");
			p = (uintptr_t)ro + (rnd_below(&r, PAGE - 64) & ~7ULL);
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
	struct rng r;
	volatile bool *stop;
	struct tally t;
	unsigned long calls;
};

static void nop_handler(int sig)
{
	(void)sig;
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;

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
		case -EINTR: w->t.eintr++; break;
		case -EAGAIN: w->t.eagain++; break;
		case -ENOENT: w->t.enoent++; break;
		case -EFAULT: w->t.efault++; break;
		case -EINVAL: w->t.einval++; break;
		default: w->t.eopnotsupp++; break;
		}
	}
	return NULL;
}

static void test_fuzz_concurrent(void)
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
	struct rng r;
	pthread_t t[2];
	int i;

	v1 = kl_vcpu_add(vm, 1);
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction");
	rng_init(&r, 3);
	tap_watchdog_start(&wd, 15, "memslot update blocked while "
			   "pre-faulting (deadlock?)");
	for (i = 0; i < 2; i++) {
		w[i] = (struct worker){ .vcpu = i ? v1 : v0, .stop = &stop };
		rng_init(&w[i].r, 10 + i);
		tap_watchdog_start(&w[i].wd, 15, i ?
				   "vCPU 1 stuck in KVM_PRE_FAULT_MEMORY" :
				   "vCPU 0 stuck in KVM_PRE_FAULT_MEMORY");
		TEST_ASSERT(!pthread_create(&t[i], NULL, worker_thread, &w[i]),
			    "pthread_create");
	}
	/* Churn slot 1 (delete, re-add, move) and poke the workers. */
	while (tap_now() < end) {
		const struct fslot *f = &fslots[0];
		uint64_t gpa = f->gpa;
		int ret;

		switch (rnd_below(&r, 4)) {
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
		pthread_kill(t[rnd_below(&r, 2)], SIGUSR1);
		usleep(rnd_below(&r, 500));
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
	kl_vm_free(vm);
}

static const struct tap_test tests[] = {
	{ "fuzz_args", test_fuzz_args, 60 },
	{ "fuzz_bad_pointers", test_fuzz_bad_pointers, 40 },
	{ "fuzz_concurrent", test_fuzz_concurrent, 40 },
};

int main(int argc, char **argv)
{
	const char *env = getenv("PRE_FAULT_FUZZ_SEED");
	char why[160];

	if (argc > 1)
		g_seed = strtoull(argv[1], NULL, 0);
	else if (env)
		g_seed = strtoull(env, NULL, 0);
	else
		g_seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	if (argc > 2)
		g_iters = strtoul(argv[2], NULL, 0);
	tap_diag("seed %" PRIu64 " (rerun: %s %" PRIu64 " %u)", g_seed,
		 argv[0], g_seed, g_iters);

	g_mode = kl_prefault_mode(why, sizeof(why));
	if (g_mode == KL_PF_ABSENT)
		return tap_skip_all(tests, TAP_ARRAY_SIZE(tests), why);
	if (kl_prefault_write_known())
		g_valid_flags = KL_PF_WRITE;
	tap_diag("valid flags: %#" PRIx64, g_valid_flags);
	tap_diag("mode: %s", g_mode == KL_PF_TDP ? "TDP" :
		 "EOPNOTSUPP (no TDP or protected mode)");
	kl_keep_static_keys();
	return tap_run(tests, TAP_ARRAY_SIZE(tests));
}
