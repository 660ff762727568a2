/* SPDX-License-Identifier: MIT */
/* Fibers: the machine-level half of coroutines — a stack with a guard page and
 * a context switch (own assembly, glibc ucontext, or sigsetjmp/siglongjmp),
 * with the ASan/TSan fiber hooks. coro.c builds await on top. */
#ifndef MQB_FIBER_H
#define MQB_FIBER_H

#include <setjmp.h>
#include <stddef.h>
#include <stdbool.h>

#include "config.h"

/* The three ways to switch; configure picks one (MQB_CORO_SWITCH) after
 * checking that it links and runs, and --with-coro chooses by hand.
 *   asm       a few instructions of our own (fiber.c) on the machines below
 *   ucontext  swapcontext: glibc elsewhere (a system call a switch)
 *   portable  POSIX only: a signal on an alternate stack starts a fiber,
 *             sigsetjmp/siglongjmp switch (musl, or anything else) */
#define MQB_SWITCH_ASM 1
#define MQB_SWITCH_UCONTEXT 2
#define MQB_SWITCH_PORTABLE 3

/* o32 is the only MIPS ABI with a switch of ours; ARM needs VFP (armhf),
 * RISC-V the 64-bit base. */
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
	(defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7 && defined(__ARM_FP)) || \
	(defined(__mips__) && defined(_ABIO32) && _MIPS_SIM == _ABIO32) || \
	(defined(__riscv) && __riscv_xlen == 64)
#define MQB_FIBER_HAVE_ASM 1
#else
#define MQB_FIBER_HAVE_ASM 0
#endif

/* Without configure's choice (a cross-check build, say), the best there is. */
#if defined(MQB_CORO_SWITCH) && MQB_CORO_SWITCH
#define MQB_FIBER_SWITCH MQB_CORO_SWITCH
#elif MQB_FIBER_HAVE_ASM
#define MQB_FIBER_SWITCH MQB_SWITCH_ASM
#elif defined(__GLIBC__)
#define MQB_FIBER_SWITCH MQB_SWITCH_UCONTEXT
#else
#define MQB_FIBER_SWITCH MQB_SWITCH_PORTABLE
#endif

#if MQB_FIBER_SWITCH == MQB_SWITCH_ASM && !MQB_FIBER_HAVE_ASM
#error "no assembly context switch for this machine: configure --with-coro=ucontext or portable"
#endif
#if MQB_FIBER_SWITCH == MQB_SWITCH_UCONTEXT
#include <ucontext.h>
#endif
#define MQB_FIBER_ASM (MQB_FIBER_SWITCH == MQB_SWITCH_ASM)

/* Sanitizer builds announce every switch to ASan and TSan (fiber.c); the
 * others switch inline, with nothing around the few instructions of the
 * swap. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MQB_FIBER_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MQB_FIBER_HOOKS 1
#endif
#endif
#ifndef MQB_FIBER_HOOKS
#define MQB_FIBER_HOOKS 0
#endif

/* One execution context. The loop thread's own stack is a fiber too
 * (fiber__init_thread), so every switch is fiber to fiber. */
struct mqb_fiber {
#if MQB_FIBER_SWITCH == MQB_SWITCH_UCONTEXT
	ucontext_t uc;
#elif MQB_FIBER_SWITCH == MQB_SWITCH_PORTABLE
	sigjmp_buf ctx;        /* where a switch out of it saved it */
	sigjmp_buf boot;       /* the start, saved once per mapping (fiber.c) */
	bool fresh;            /* not yet run since fiber__get: resume boot */
	int round;             /* rounding mode while switched out */
#else
	void *sp;              /* saved stack pointer while switched out */
#endif
	void *stack_map;       /* mmap'd region: guard page + stack + this struct
	                        * (fiber.c); NULL for a thread */
	size_t stack_map_size;
	void *stack_lo;        /* lowest usable byte (just above the guard page) */
	size_t stack_size;     /* usable bytes */
	void (*entry)(void *arg);
	void *entry_arg;
	void *asan_fake_stack; /* ASan's per-fiber fake-stack save slot */
	const void *asan_from_bottom; /* where a switch came from, for finish_switch */
	size_t asan_from_size;
	void *tsan_fiber;      /* __tsan_create_fiber handle (or the thread's own) */
	unsigned valgrind_stack_id; /* VALGRIND_STACK_REGISTER id, when built with it */
	struct mqb_fiber *from; /* set by fiber__switch for the entry trampoline */
	int msg;               /* ucontext, portable: what the switch to this
	                        * fiber hands it */
	struct mqb_fiber *next_free; /* free list link in a fiber_pool */
};

/* Stacks are recycled so that spawning a coroutine makes no system call in the
 * steady state. A pool belongs to one thread (the loop thread). */
struct fiber_pool {
	struct mqb_fiber *free;
	size_t stack_size;     /* usable size of every stack in this pool */
	unsigned nfree, max_free;
	unsigned long long mmaps; /* stacks created by mmap, for tests/bench */
};

/* stack_size is rounded up to whole pages; max_free bounds the free list. */
void fiber__pool_init(struct fiber_pool *p, size_t stack_size, unsigned max_free);
/* Unmaps every cached stack. Fibers still in use must be released first. */
void fiber__pool_destroy(struct fiber_pool *p);

/* Describe the calling thread's own stack as a fiber (no allocation). */
void fiber__init_thread(struct mqb_fiber *self);
void fiber__fini_thread(struct mqb_fiber *self);

/* A fiber ready to run entry(arg) on its first switch-in, from the pool's free
 * list or a new mmap (stack + one PROT_NONE guard page below it). NULL on
 * ENOMEM. entry must never return: it ends with fiber__switch_final. */
struct mqb_fiber *fiber__get(struct fiber_pool *p, void (*entry)(void *), void *arg);
/* Return a fiber that has finished (switched out with fiber__switch_final)
 * to the pool, or unmap it when the free list is full. */
void fiber__put(struct fiber_pool *p, struct mqb_fiber *f);
/* The same, never unmapping: the free list may grow past max_free, for
 * the owner to trim when it has time (a burst of coroutines ending pays
 * no munmap each). */
void fiber__put_later(struct fiber_pool *p, struct mqb_fiber *f);
/* Unmap cached stacks beyond max_free, at most budget of them; returns
 * how many are still beyond it. */
unsigned fiber__trim(struct fiber_pool *p, unsigned budget);

/* Save the current context into from, resume to. Returns when something
 * switches back to from. Calls the sanitizer fiber hooks in sanitizer builds. */
void fiber__switch(struct mqb_fiber *from, struct mqb_fiber *to);

/* fiber__switch that hands to a message: the fiber__transfer that last
 * switched away from to returns msg there (a fiber's first run ignores it,
 * and fiber__switch drops it). Returns the msg of whatever switches back to
 * from. Without sanitizer hooks it is the bare swap, inline, so a caller
 * whose last act it is switches by a tail call and leaves no frame of its
 * own to return through: after a switch the return-stack predictor holds
 * the other fiber's return addresses, so every return through a frame left
 * on the way is mispredicted. */
#if MQB_FIBER_ASM
int fiber__asm_swap(void **save_sp, void *to_sp, int msg)
	__attribute__((visibility("hidden")));
#endif
#if MQB_FIBER_ASM && !MQB_FIBER_HOOKS
static inline int fiber__transfer(struct mqb_fiber *from, struct mqb_fiber *to, int msg)
{
	return fiber__asm_swap(&from->sp, to->sp, msg);
}
#else
int fiber__transfer(struct mqb_fiber *from, struct mqb_fiber *to, int msg);
#endif
/* Last switch out of a fiber whose entry is done: its stack may be reused
 * after this (tells ASan the fiber is gone). Does not return. */
_Noreturn void fiber__switch_final(struct mqb_fiber *from, struct mqb_fiber *to);

#endif
