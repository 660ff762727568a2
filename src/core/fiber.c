/* SPDX-License-Identifier: MIT */
/* Fibers: guard-paged stacks recycled through a per-thread pool, and the
 * context switch under coroutines (own assembly, glibc ucontext, or POSIX
 * signals and siglongjmp), told to ASan and TSan so they follow the swaps. */
#include "config.h"

/* The portable switch siglongjmps to other stacks, which the fortified
 * siglongjmp (__longjmp_chk) refuses as "uninitialized stack frame". */
#undef _FORTIFY_SOURCE

#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/fiber.h"

/* gcc announces sanitizers with macros, clang 14 only through __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#ifndef FIBER_ASAN
#define FIBER_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FIBER_TSAN 1
#endif
#endif
#ifndef FIBER_TSAN
#define FIBER_TSAN 0
#endif

#if FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Memcheck takes a jump of the stack pointer by less than 2 MB for stack
 * growth and marks the memory in between unusable, so it must be told where
 * each fiber stack is. The client requests are a few no-op instructions when
 * not under valgrind, and run only when a stack is mapped or unmapped. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define FIBER_VALGRIND 1
#endif
#endif
#ifndef FIBER_VALGRIND
#define FIBER_VALGRIND 0
#endif

/*
 * Memory layout of one fiber, low to high addresses:
 *
 *   stack_map: [guard page, PROT_NONE][stack ... grows down][struct mqb_fiber]
 *
 * The struct lives in the top bytes of its own mapping, so a fiber costs one
 * mmap and no malloc, and an overflow runs into the guard page before it can
 * reach anything else. The mapping is sized so that the usable stack below
 * the struct is at least the pool's stack_size; the fiber's stack_size says
 * exactly how much.
 */
#define FIBER_HDR_SIZE ((sizeof(struct mqb_fiber) + 63) & ~(size_t)63)

static size_t page_size(void)
{
	long v = sysconf(_SC_PAGESIZE);

	return v > 0 ? (size_t)v : 4096;
}

static _Noreturn void fiber_main(struct mqb_fiber *self);

/* ------------------------------------------------------------------------ */
#if MQB_FIBER_ASM

/* fiber__asm_swap (declared in fiber.h) pushes the callee-saved registers
 * on the current stack, stores the stack pointer in *save_sp, loads to_sp,
 * pops the other context's registers and returns msg there: the C compiler
 * already treats it as an ordinary call that clobbers every caller-saved
 * register, so nothing else needs saving.
 *
 * A fresh stack is built to look like a switched-out one whose return
 * address is fiber__asm_boot; the saved registers carry the fiber and the C
 * function to run, because boot cannot take arguments.
 *
 * The switch does not maintain a CET shadow stack: the asm build must not run
 * with user shadow stacks enforced (use --with-coro=ucontext there). */
void fiber__asm_boot(void) __attribute__((visibility("hidden")));

#if defined(__x86_64__)

#if defined(__CET__) && (__CET__ & 1)
#define FIBER_ENDBR "endbr64\n\t"
#else
#define FIBER_ENDBR ""
#endif

/* Frame, from the saved rsp up: x87 control word (bytes 0-1, 2-3 unused)
 * and MXCSR (bytes 4-7), r15, r14, r13, r12, rbx, rbp, return address. The
 * x87 and SSE control bits are callee-saved in the System V ABI, so each
 * fiber keeps its own rounding mode like a thread does; loading them costs
 * about 4 ns a round trip, so they are loaded only when the two fibers
 * differ. Each word is read back at its own size: one 8-byte load over the
 * two narrower stores just made cannot be forwarded from the store buffer
 * and cost about 4 ns a switch. */
__asm__(
	".pushsection .text\n"
	".globl fiber__asm_swap\n"
	".hidden fiber__asm_swap\n"
	".type fiber__asm_swap, @function\n"
	".p2align 4\n"
	"fiber__asm_swap:\n\t"
	FIBER_ENDBR
	"pushq %rbp\n\t"
	"pushq %rbx\n\t"
	"pushq %r12\n\t"
	"pushq %r13\n\t"
	"pushq %r14\n\t"
	"pushq %r15\n\t"
	"subq $8, %rsp\n\t"
	"fnstcw (%rsp)\n\t"
	"stmxcsr 4(%rsp)\n\t"
	"movzwl (%rsp), %eax\n\t"
	"movl 4(%rsp), %ecx\n\t"
	"movq %rsp, (%rdi)\n\t"
	"movq %rsi, %rsp\n\t"
	"cmpw (%rsp), %ax\n\t"
	"jne 2f\n\t"
	"cmpl 4(%rsp), %ecx\n\t"
	"jne 2f\n"
	"1:\n\t"
	"addq $8, %rsp\n\t"
	"popq %r15\n\t"
	"popq %r14\n\t"
	"popq %r13\n\t"
	"popq %r12\n\t"
	"popq %rbx\n\t"
	"popq %rbp\n\t"
	"movl %edx, %eax\n\t"
	"ret\n"
	"2:\n\t"
	"fldcw (%rsp)\n\t"
	"ldmxcsr 4(%rsp)\n\t"
	"jmp 1b\n"
	".size fiber__asm_swap, .-fiber__asm_swap\n"
	/* Entered by ret with rsp 16-byte aligned, so the call below gives
	 * fiber_main the ABI's entry alignment. The undefined return address
	 * ends debugger backtraces here. */
	".globl fiber__asm_boot\n"
	".hidden fiber__asm_boot\n"
	".type fiber__asm_boot, @function\n"
	".p2align 4\n"
	"fiber__asm_boot:\n\t"
	".cfi_startproc\n\t"
	".cfi_undefined rip\n\t"
	"movq %r12, %rdi\n\t"
	"call *%r13\n\t"
	"ud2\n\t"
	".cfi_endproc\n"
	".size fiber__asm_boot, .-fiber__asm_boot\n"
	".popsection\n"
	".pushsection .note.GNU-stack,\"\",%progbits\n"
	".popsection\n");

static void fiber_prepare(struct mqb_fiber *f)
{
	uint64_t *sp = (uint64_t *)(void *)f; /* top of stack, 64-byte aligned */
	uint16_t cw;
	uint32_t mxcsr;

	/* A new fiber inherits its creator's floating-point modes, as a new
	 * thread does. */
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	*--sp = (uint64_t)(uintptr_t)fiber__asm_boot; /* at 8 mod 16 */
	*--sp = 0;                                /* rbp: ends the frame chain */
	*--sp = 0;                                /* rbx */
	*--sp = (uint64_t)(uintptr_t)f;           /* r12 */
	*--sp = (uint64_t)(uintptr_t)fiber_main;  /* r13 */
	*--sp = 0;                                /* r14 */
	*--sp = 0;                                /* r15 */
	*--sp = (uint64_t)cw | (uint64_t)mxcsr << 32;
	f->sp = sp;
}

#elif defined(__aarch64__)

/* Frame (176 bytes, sp stays 16-byte aligned): x19..x30 at 0..95, d8..d15
 * at 96..159, FPCR at 160. FPCR holds the rounding mode, which AAPCS64
 * preserves across calls; writing it can be slow on some cores, so it is
 * written only when the two fibers differ. hint #34 is BTI c (a no-op on
 * cores without BTI). */
__asm__(
	".pushsection .text\n"
	".globl fiber__asm_swap\n"
	".hidden fiber__asm_swap\n"
	".type fiber__asm_swap, %function\n"
	".p2align 2\n"
	"fiber__asm_swap:\n\t"
	"hint #34\n\t"
	"sub sp, sp, #176\n\t"
	"stp x19, x20, [sp, #0]\n\t"
	"stp x21, x22, [sp, #16]\n\t"
	"stp x23, x24, [sp, #32]\n\t"
	"stp x25, x26, [sp, #48]\n\t"
	"stp x27, x28, [sp, #64]\n\t"
	"stp x29, x30, [sp, #80]\n\t"
	"stp d8, d9, [sp, #96]\n\t"
	"stp d10, d11, [sp, #112]\n\t"
	"stp d12, d13, [sp, #128]\n\t"
	"stp d14, d15, [sp, #144]\n\t"
	"mrs x9, fpcr\n\t"
	"str x9, [sp, #160]\n\t"
	"mov x10, sp\n\t"
	"str x10, [x0]\n\t"
	"mov sp, x1\n\t"
	"ldp x19, x20, [sp, #0]\n\t"
	"ldp x21, x22, [sp, #16]\n\t"
	"ldp x23, x24, [sp, #32]\n\t"
	"ldp x25, x26, [sp, #48]\n\t"
	"ldp x27, x28, [sp, #64]\n\t"
	"ldp x29, x30, [sp, #80]\n\t"
	"ldp d8, d9, [sp, #96]\n\t"
	"ldp d10, d11, [sp, #112]\n\t"
	"ldp d12, d13, [sp, #128]\n\t"
	"ldp d14, d15, [sp, #144]\n\t"
	"ldr x10, [sp, #160]\n\t"
	"cmp x9, x10\n\t"
	"b.eq 1f\n\t"
	"msr fpcr, x10\n"
	"1:\n\t"
	"add sp, sp, #176\n\t"
	"mov x0, x2\n\t"
	"ret\n"
	".size fiber__asm_swap, .-fiber__asm_swap\n"
	/* Entered by ret with sp at the aligned top of the stack. */
	".globl fiber__asm_boot\n"
	".hidden fiber__asm_boot\n"
	".type fiber__asm_boot, %function\n"
	".p2align 2\n"
	"fiber__asm_boot:\n\t"
	".cfi_startproc\n\t"
	".cfi_undefined x30\n\t"
	"mov x0, x19\n\t"
	"blr x20\n\t"
	"brk #0x3e8\n\t"
	".cfi_endproc\n"
	".size fiber__asm_boot, .-fiber__asm_boot\n"
	".popsection\n"
	".pushsection .note.GNU-stack,\"\",%progbits\n"
	".popsection\n");

static void fiber_prepare(struct mqb_fiber *f)
{
	uint64_t *sp = (uint64_t *)(void *)f - 22; /* 176 bytes below the top */
	uint64_t fpcr;

	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	memset(sp, 0, 176);                       /* x29 = 0 ends the frame chain */
	sp[0] = (uint64_t)(uintptr_t)f;           /* x19 */
	sp[1] = (uint64_t)(uintptr_t)fiber_main;  /* x20 */
	sp[11] = (uint64_t)(uintptr_t)fiber__asm_boot; /* x30 */
	sp[20] = fpcr;
	f->sp = sp;
}

#elif defined(__i386__)

#if defined(__CET__) && (__CET__ & 1)
#define FIBER_ENDBR "endbr32\n\t"
#else
#define FIBER_ENDBR ""
#endif

/* MXCSR exists only where the compiler may use SSE; Debian's i386 baseline
 * (i686) has none, and stmxcsr would fault there. */
#if defined(__SSE__)
#define FIBER_SSE(insn) insn
#else
#define FIBER_SSE(insn) ""
#endif

/* Arguments come on the stack (cdecl). Frame, from the saved esp up: x87
 * control word (bytes 0-1), MXCSR (4-7), edi, esi, ebx, ebp, return
 * address: the x86-64 frame with the i386 callee-saved registers, and the
 * same reasoning for reading the control words back at their own width and
 * loading them only when the fibers differ. eax, ecx and edx are the
 * caller's to lose. */
__asm__(
	".pushsection .text\n"
	".globl fiber__asm_swap\n"
	".hidden fiber__asm_swap\n"
	".type fiber__asm_swap, @function\n"
	".p2align 4\n"
	"fiber__asm_swap:\n\t"
	FIBER_ENDBR
	"movl 4(%esp), %eax\n\t"
	"movl 8(%esp), %ecx\n\t"
	"movl 12(%esp), %edx\n\t"
	"pushl %ebp\n\t"
	"pushl %ebx\n\t"
	"pushl %esi\n\t"
	"pushl %edi\n\t"
	"subl $8, %esp\n\t"
	"fnstcw (%esp)\n\t"
	FIBER_SSE("stmxcsr 4(%esp)\n\t")
	"movl %esp, (%eax)\n\t"
	"movl %esp, %eax\n\t"
	"movl %ecx, %esp\n\t"
	"movzwl (%eax), %ecx\n\t"
	"cmpw (%esp), %cx\n\t"
	"jne 2f\n\t"
	FIBER_SSE("movl 4(%eax), %ecx\n\t")
	FIBER_SSE("cmpl 4(%esp), %ecx\n\t")
	FIBER_SSE("jne 2f\n")
	"1:\n\t"
	"addl $8, %esp\n\t"
	"popl %edi\n\t"
	"popl %esi\n\t"
	"popl %ebx\n\t"
	"popl %ebp\n\t"
	"movl %edx, %eax\n\t"
	"ret\n"
	"2:\n\t"
	"fldcw (%esp)\n\t"
	FIBER_SSE("ldmxcsr 4(%esp)\n\t")
	"jmp 1b\n"
	".size fiber__asm_swap, .-fiber__asm_swap\n"
	/* Entered by ret with esp 16-byte aligned; the argument goes below
	 * 12 bytes of padding, so the call is made at the ABI's alignment. */
	".globl fiber__asm_boot\n"
	".hidden fiber__asm_boot\n"
	".type fiber__asm_boot, @function\n"
	".p2align 4\n"
	"fiber__asm_boot:\n\t"
	".cfi_startproc\n\t"
	".cfi_undefined eip\n\t"
	"subl $12, %esp\n\t"
	"pushl %ebx\n\t"
	"call *%esi\n\t"
	"ud2\n\t"
	".cfi_endproc\n"
	".size fiber__asm_boot, .-fiber__asm_boot\n"
	".popsection\n"
	".pushsection .note.GNU-stack,\"\",%progbits\n"
	".popsection\n");

static void fiber_prepare(struct mqb_fiber *f)
{
	uint32_t *sp = (uint32_t *)(void *)f - 11; /* 44 bytes below the top */
	uint16_t cw;
	uint32_t mxcsr = 0;

	__asm__ volatile("fnstcw %0" : "=m"(cw));
#if defined(__SSE__)
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
#endif
	memset(sp, 0, 44);                        /* ebp = 0 ends the frame chain */
	sp[0] = cw;
	sp[1] = mxcsr;
	sp[3] = (uint32_t)(uintptr_t)fiber_main;  /* esi */
	sp[4] = (uint32_t)(uintptr_t)f;           /* ebx */
	sp[6] = (uint32_t)(uintptr_t)fiber__asm_boot; /* at top - 20: after ret, 16-aligned */
	f->sp = sp;
}

#elif defined(__arm__)

/* ARMv7 with VFP (armhf). Written in unified syntax, so it assembles in
 * whichever instruction set the file is compiled for; it returns with
 * pop {pc} and starts a fiber with blx, which both interwork, so ARM and
 * Thumb callers (and a fiber_main of either kind) mix freely.
 *
 * Frame (112 bytes, sp stays 8-byte aligned as AAPCS wants at calls):
 * FPSCR at 0 (4 unused), d8..d15 at 8..71, r3 (padding) and r4..r11 at
 * 72..107, lr at 108. Of FPSCR only the modes (rounding, flush-to-zero,
 * default NaN, half-precision: bits 22-26) belong to a fiber; the flags
 * change with every compare and are left as they are. Writing FPSCR can
 * stall the pipeline, so it is written only when the modes differ. */
#if defined(__thumb__)
#define FIBER_THUMB_FUNC ".thumb_func\n"
#else
#define FIBER_THUMB_FUNC ""
#endif
__asm__(
	".pushsection .text\n"
	".syntax unified\n"
	".globl fiber__asm_swap\n"
	".hidden fiber__asm_swap\n"
	".type fiber__asm_swap, %function\n"
	".p2align 2\n"
	FIBER_THUMB_FUNC
	"fiber__asm_swap:\n\t"
	"push {r3-r11, lr}\n\t"
	"vpush {d8-d15}\n\t"
	"vmrs r3, fpscr\n\t"
	"sub sp, sp, #8\n\t"
	"str r3, [sp]\n\t"
	"mov r12, sp\n\t"
	"str r12, [r0]\n\t"
	"mov sp, r1\n\t"
	"ldr r12, [sp]\n\t"
	"eor r0, r3, r12\n\t"
	"tst r0, #0x07c00000\n\t"
	"beq 1f\n\t"
	"bic r3, r3, #0x07c00000\n\t"
	"and r12, r12, #0x07c00000\n\t"
	"orr r3, r3, r12\n\t"
	"vmsr fpscr, r3\n"
	"1:\n\t"
	"add sp, sp, #8\n\t"
	"vpop {d8-d15}\n\t"
	"mov r0, r2\n\t"
	"pop {r3-r11, pc}\n"
	".size fiber__asm_swap, .-fiber__asm_swap\n"
	/* Entered by pop {pc} with sp at the aligned top of the stack. */
	".globl fiber__asm_boot\n"
	".hidden fiber__asm_boot\n"
	".type fiber__asm_boot, %function\n"
	".p2align 2\n"
	FIBER_THUMB_FUNC
	"fiber__asm_boot:\n\t"
	".cfi_startproc\n\t"
	".cfi_undefined lr\n\t"
	"mov r0, r4\n\t"
	"blx r5\n\t"
	"udf #0\n\t"
	".cfi_endproc\n"
	".size fiber__asm_boot, .-fiber__asm_boot\n"
	".popsection\n"
	".pushsection .note.GNU-stack,\"\",%progbits\n"
	".popsection\n");

static void fiber_prepare(struct mqb_fiber *f)
{
	uint32_t *sp = (uint32_t *)(void *)f - 28; /* 112 bytes below the top */
	uint32_t fpscr;

	__asm__ volatile("vmrs %0, fpscr" : "=r"(fpscr));
	memset(sp, 0, 112);                       /* r7 and r11 = 0 end the frame chain */
	sp[0] = fpscr;
	sp[19] = (uint32_t)(uintptr_t)f;          /* r4 */
	sp[20] = (uint32_t)(uintptr_t)fiber_main; /* r5 */
	/* The function's address carries the Thumb bit when it is Thumb code,
	 * which pop {pc} honours. */
	sp[27] = (uint32_t)(uintptr_t)fiber__asm_boot; /* lr */
	f->sp = sp;
}

#elif defined(__mips__)

/* o32. Frame (96 bytes, 8-byte aligned for sdc1): $f20..$f30 at 0..47,
 * FCSR at 48, s0..s7 at 52..83, fp at 84, gp at 88, ra at 92. gp is saved
 * although PIC callers reload it from their own frame, because non-PIC
 * ones do not. Of FCSR the rounding mode, exception enables and flush bit
 * (mask 0x01000f83) belong to a fiber; flags and cause bits are left as
 * they are (writing a cause bit whose enable is set would trap). Soft-float
 * builds have no FPU to save. A PIC function finds its gp through t9, so
 * the boot calls fiber_main through t9. */
#if defined(__mips_hard_float)
#define FIBER_MIPS_FP(insn) insn
#else
#define FIBER_MIPS_FP(insn) ""
#endif
__asm__(
	".pushsection .text\n"
	".set push\n"
	".set noreorder\n"
	".set nomacro\n"
	".set nomips16\n"
	".set nomicromips\n"
	".globl fiber__asm_swap\n"
	".hidden fiber__asm_swap\n"
	".type fiber__asm_swap, @function\n"
	".p2align 2\n"
	"fiber__asm_swap:\n\t"
	"addiu $sp, $sp, -96\n\t"
	"sw $16, 52($sp)\n\t"
	"sw $17, 56($sp)\n\t"
	"sw $18, 60($sp)\n\t"
	"sw $19, 64($sp)\n\t"
	"sw $20, 68($sp)\n\t"
	"sw $21, 72($sp)\n\t"
	"sw $22, 76($sp)\n\t"
	"sw $23, 80($sp)\n\t"
	"sw $30, 84($sp)\n\t"
	"sw $28, 88($sp)\n\t"
	"sw $31, 92($sp)\n\t"
	FIBER_MIPS_FP("sdc1 $f20, 0($sp)\n\t")
	FIBER_MIPS_FP("sdc1 $f22, 8($sp)\n\t")
	FIBER_MIPS_FP("sdc1 $f24, 16($sp)\n\t")
	FIBER_MIPS_FP("sdc1 $f26, 24($sp)\n\t")
	FIBER_MIPS_FP("sdc1 $f28, 32($sp)\n\t")
	FIBER_MIPS_FP("sdc1 $f30, 40($sp)\n\t")
	FIBER_MIPS_FP("cfc1 $8, $31\n\t")
	FIBER_MIPS_FP("sw $8, 48($sp)\n\t")
	"sw $sp, 0($4)\n\t"
	"move $sp, $5\n\t"
	FIBER_MIPS_FP("lw $9, 48($sp)\n\t")
	FIBER_MIPS_FP("lui $11, 0x0100\n\t")
	FIBER_MIPS_FP("ori $11, $11, 0x0f83\n\t")
	FIBER_MIPS_FP("xor $10, $8, $9\n\t")
	FIBER_MIPS_FP("and $10, $10, $11\n\t")
	FIBER_MIPS_FP("beq $10, $0, 1f\n\t")
	FIBER_MIPS_FP("nor $11, $11, $0\n\t")   /* delay slot: ~mask */
	FIBER_MIPS_FP("and $8, $8, $11\n\t")
	FIBER_MIPS_FP("nor $11, $11, $0\n\t")
	FIBER_MIPS_FP("and $9, $9, $11\n\t")
	FIBER_MIPS_FP("or $8, $8, $9\n\t")
	FIBER_MIPS_FP("ctc1 $8, $31\n")
	"1:\n\t"
	FIBER_MIPS_FP("ldc1 $f20, 0($sp)\n\t")
	FIBER_MIPS_FP("ldc1 $f22, 8($sp)\n\t")
	FIBER_MIPS_FP("ldc1 $f24, 16($sp)\n\t")
	FIBER_MIPS_FP("ldc1 $f26, 24($sp)\n\t")
	FIBER_MIPS_FP("ldc1 $f28, 32($sp)\n\t")
	FIBER_MIPS_FP("ldc1 $f30, 40($sp)\n\t")
	"lw $16, 52($sp)\n\t"
	"lw $17, 56($sp)\n\t"
	"lw $18, 60($sp)\n\t"
	"lw $19, 64($sp)\n\t"
	"lw $20, 68($sp)\n\t"
	"lw $21, 72($sp)\n\t"
	"lw $22, 76($sp)\n\t"
	"lw $23, 80($sp)\n\t"
	"lw $30, 84($sp)\n\t"
	"lw $28, 88($sp)\n\t"
	"lw $31, 92($sp)\n\t"
	"move $2, $6\n\t"
	"jr $31\n\t"
	"addiu $sp, $sp, 96\n"                  /* delay slot */
	".size fiber__asm_swap, .-fiber__asm_swap\n"
	/* Entered by jr with sp at the top of the stack: the 16 bytes o32 has
	 * every caller reserve for its callee's arguments come off it. */
	".globl fiber__asm_boot\n"
	".hidden fiber__asm_boot\n"
	".type fiber__asm_boot, @function\n"
	".p2align 2\n"
	"fiber__asm_boot:\n\t"
	".cfi_startproc\n\t"
	".cfi_undefined $31\n\t"
	"addiu $sp, $sp, -16\n\t"
	"move $25, $17\n\t"
	"jalr $25\n\t"
	"move $4, $16\n\t"                      /* delay slot */
	"break\n\t"
	".cfi_endproc\n"
	".size fiber__asm_boot, .-fiber__asm_boot\n"
	".set pop\n"
	".popsection\n"
	".pushsection .note.GNU-stack,\"\",%progbits\n"
	".popsection\n");

static void fiber_prepare(struct mqb_fiber *f)
{
	uint32_t *sp = (uint32_t *)(void *)f - 24; /* 96 bytes below the top */
	uint32_t fcsr = 0;

#if defined(__mips_hard_float)
	__asm__ volatile("cfc1 %0, $31" : "=r"(fcsr));
#endif
	memset(sp, 0, 96);                        /* fp = 0 ends the frame chain */
	sp[12] = fcsr;
	sp[13] = (uint32_t)(uintptr_t)f;          /* s0 */
	sp[14] = (uint32_t)(uintptr_t)fiber_main; /* s1 */
	sp[23] = (uint32_t)(uintptr_t)fiber__asm_boot; /* ra */
	f->sp = sp;
}

#elif defined(__riscv)

/* RV64. Frame (208 bytes, sp stays 16-byte aligned): ra and s0..s11 at
 * 0..103, fs0..fs11 at 104..199 (with the D extension), frm at 200. frm,
 * the dynamic rounding mode, is written only when the fibers differ, like
 * the other machines' control registers. */
#if defined(__riscv_flen) && __riscv_flen >= 64
#define FIBER_RV_FP(insn) insn
#else
#define FIBER_RV_FP(insn) ""
#endif
__asm__(
	".pushsection .text\n"
	".globl fiber__asm_swap\n"
	".hidden fiber__asm_swap\n"
	".type fiber__asm_swap, @function\n"
	".p2align 2\n"
	"fiber__asm_swap:\n\t"
	"addi sp, sp, -208\n\t"
	"sd ra, 0(sp)\n\t"
	"sd s0, 8(sp)\n\t"
	"sd s1, 16(sp)\n\t"
	"sd s2, 24(sp)\n\t"
	"sd s3, 32(sp)\n\t"
	"sd s4, 40(sp)\n\t"
	"sd s5, 48(sp)\n\t"
	"sd s6, 56(sp)\n\t"
	"sd s7, 64(sp)\n\t"
	"sd s8, 72(sp)\n\t"
	"sd s9, 80(sp)\n\t"
	"sd s10, 88(sp)\n\t"
	"sd s11, 96(sp)\n\t"
	FIBER_RV_FP("fsd fs0, 104(sp)\n\t")
	FIBER_RV_FP("fsd fs1, 112(sp)\n\t")
	FIBER_RV_FP("fsd fs2, 120(sp)\n\t")
	FIBER_RV_FP("fsd fs3, 128(sp)\n\t")
	FIBER_RV_FP("fsd fs4, 136(sp)\n\t")
	FIBER_RV_FP("fsd fs5, 144(sp)\n\t")
	FIBER_RV_FP("fsd fs6, 152(sp)\n\t")
	FIBER_RV_FP("fsd fs7, 160(sp)\n\t")
	FIBER_RV_FP("fsd fs8, 168(sp)\n\t")
	FIBER_RV_FP("fsd fs9, 176(sp)\n\t")
	FIBER_RV_FP("fsd fs10, 184(sp)\n\t")
	FIBER_RV_FP("fsd fs11, 192(sp)\n\t")
	FIBER_RV_FP("frrm t0\n\t")
	FIBER_RV_FP("sd t0, 200(sp)\n\t")
	"sd sp, 0(a0)\n\t"
	"mv sp, a1\n\t"
	FIBER_RV_FP("ld t1, 200(sp)\n\t")
	FIBER_RV_FP("beq t0, t1, 1f\n\t")
	FIBER_RV_FP("fsrm t1\n")
	"1:\n\t"
	"ld ra, 0(sp)\n\t"
	"ld s0, 8(sp)\n\t"
	"ld s1, 16(sp)\n\t"
	"ld s2, 24(sp)\n\t"
	"ld s3, 32(sp)\n\t"
	"ld s4, 40(sp)\n\t"
	"ld s5, 48(sp)\n\t"
	"ld s6, 56(sp)\n\t"
	"ld s7, 64(sp)\n\t"
	"ld s8, 72(sp)\n\t"
	"ld s9, 80(sp)\n\t"
	"ld s10, 88(sp)\n\t"
	"ld s11, 96(sp)\n\t"
	FIBER_RV_FP("fld fs0, 104(sp)\n\t")
	FIBER_RV_FP("fld fs1, 112(sp)\n\t")
	FIBER_RV_FP("fld fs2, 120(sp)\n\t")
	FIBER_RV_FP("fld fs3, 128(sp)\n\t")
	FIBER_RV_FP("fld fs4, 136(sp)\n\t")
	FIBER_RV_FP("fld fs5, 144(sp)\n\t")
	FIBER_RV_FP("fld fs6, 152(sp)\n\t")
	FIBER_RV_FP("fld fs7, 160(sp)\n\t")
	FIBER_RV_FP("fld fs8, 168(sp)\n\t")
	FIBER_RV_FP("fld fs9, 176(sp)\n\t")
	FIBER_RV_FP("fld fs10, 184(sp)\n\t")
	FIBER_RV_FP("fld fs11, 192(sp)\n\t")
	"addi sp, sp, 208\n\t"
	"mv a0, a2\n\t"
	"ret\n"
	".size fiber__asm_swap, .-fiber__asm_swap\n"
	/* Entered by ret with sp at the aligned top of the stack. */
	".globl fiber__asm_boot\n"
	".hidden fiber__asm_boot\n"
	".type fiber__asm_boot, @function\n"
	".p2align 2\n"
	"fiber__asm_boot:\n\t"
	".cfi_startproc\n\t"
	".cfi_undefined ra\n\t"
	"mv a0, s0\n\t"
	"jalr s1\n\t"
	"unimp\n\t"
	".cfi_endproc\n"
	".size fiber__asm_boot, .-fiber__asm_boot\n"
	".popsection\n"
	".pushsection .note.GNU-stack,\"\",%progbits\n"
	".popsection\n");

static void fiber_prepare(struct mqb_fiber *f)
{
	uint64_t *sp = (uint64_t *)(void *)f - 26; /* 208 bytes below the top */
	uint64_t frm = 0;

#if defined(__riscv_flen) && __riscv_flen >= 64
	__asm__ volatile("frrm %0" : "=r"(frm));
#endif
	memset(sp, 0, 208);
	sp[0] = (uint64_t)(uintptr_t)fiber__asm_boot; /* ra */
	sp[1] = (uint64_t)(uintptr_t)f;           /* s0 */
	sp[2] = (uint64_t)(uintptr_t)fiber_main;  /* s1 */
	sp[25] = frm;
	f->sp = sp;
}

#endif

static inline int arch_switch(struct mqb_fiber *from, struct mqb_fiber *to, int msg)
{
	return fiber__asm_swap(&from->sp, to->sp, msg);
}

/* ------------------------------------------------------------------------ */
#elif MQB_FIBER_SWITCH == MQB_SWITCH_UCONTEXT

/* makecontext passes int arguments only, so the pointer travels in halves. */
static void fiber_main_uc(unsigned hi, unsigned lo)
{
	fiber_main((struct mqb_fiber *)(uintptr_t)((uint64_t)hi << 32 | lo));
}

/* getcontext returns twice as far as the compiler knows; kept out of line so
 * no caller's locals count as clobbered. */
static __attribute__((noinline)) int fiber_getcontext(ucontext_t *uc)
{
	return getcontext(uc);
}

/* getcontext costs a sigprocmask system call, so it runs once per mapping;
 * a recycled fiber's uc was last filled by swapcontext, which makecontext
 * accepts just the same. */
static void fiber_prepare(struct mqb_fiber *f)
{
	uint64_t u = (uint64_t)(uintptr_t)f;

	f->uc.uc_stack.ss_sp = f->stack_lo;
	f->uc.uc_stack.ss_size = f->stack_size;
	f->uc.uc_stack.ss_flags = 0;
	f->uc.uc_link = NULL;
	makecontext(&f->uc, (void (*)(void))fiber_main_uc, 2,
		    (unsigned)(u >> 32), (unsigned)(u & 0xffffffffu));
}

static inline int arch_switch(struct mqb_fiber *from, struct mqb_fiber *to, int msg)
{
	to->msg = msg;
	if (swapcontext(&from->uc, &to->uc) != 0)
		abort();
	return from->msg;
}

/* ------------------------------------------------------------------------ */
#elif MQB_FIBER_SWITCH == MQB_SWITCH_PORTABLE

/* Nothing but POSIX signals and threads. A fiber's first context is made by
 * a signal handler running on the new stack (sigaltstack): it saves its
 * place with sigsetjmp and returns. A siglongjmp there later carries on in
 * that frame, which goes into fiber_main. Switches are sigsetjmp and
 * siglongjmp without the signal mask, so no system call (R. Engelschall,
 * "Portable Multithreading", USENIX 2000, describes the technique).
 *
 * The start point is made once per mapping, like ucontext's getcontext:
 * nothing writes above the handler's frame while the fiber runs, and the
 * handler's code after sigsetjmp writes nothing to its own frame, so a
 * recycled stack starts again from the same point.
 *
 * A signal's disposition belongs to the process: making a start point
 * holds a lock, takes the signal for a moment, and the handler serves only
 * the thread that raised it (the same signal sent to the process in that
 * moment is dropped). The daemon does not otherwise use SIGUSR2.
 *
 * glibc's siglongjmp drops pthread_cleanup_push handlers registered in
 * frames it believes it leaves, so none may be pending across a switch;
 * ThreadSanitizer follows neither the signal nor the jumps (configure
 * refuses the pair). */
#define FIBER_BOOT_SIGNAL SIGUSR2

static pthread_mutex_t boot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mqb_fiber *boot_target;            /* under boot_lock */
static size_t boot_overhead;                     /* bytes the start point takes */
static volatile sig_atomic_t boot_done;
static __thread volatile sig_atomic_t boot_mine; /* this thread raised it */
static __thread struct mqb_fiber *boot_next;     /* the fiber a start resumes */

/* Out of line, so that the handler's frame is not written after sigsetjmp:
 * its locals live in this function's frame, below the start point. */
static __attribute__((noinline, noreturn)) void boot_resume(void)
{
	fiber_main(boot_next);
}

static void boot_handler(int sig)
{
	char here;

	(void)sig;
	if (!boot_mine || boot_done)
		return;
	if (sigsetjmp(boot_target->boot, 0) == 0) {
		boot_overhead = (size_t)((char *)boot_target - &here);
		boot_done = 1;
		return;
	}
	boot_resume();
}

/* Stack the signal frame and the handler take above every fiber's own use:
 * what the first start point measured, or a guess that holds on x86-64
 * with AVX-512 (signal frames of about 3.5 KiB) before then. */
static size_t boot_slack(void)
{
	size_t seen;

	pthread_mutex_lock(&boot_lock);
	seen = boot_overhead;
	pthread_mutex_unlock(&boot_lock);
	return seen ? seen + 256 : 16 * 1024;
}

/* 0 or a negative errno. */
static int fiber_boot_init(struct mqb_fiber *f)
{
	struct sigaction sa, old_sa;
	stack_t ss, old_ss;
	sigset_t block, old_mask, wait_mask;
	int rc = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = boot_handler;
	sa.sa_flags = SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, FIBER_BOOT_SIGNAL);
	sigfillset(&wait_mask);
	sigdelset(&wait_mask, FIBER_BOOT_SIGNAL);
	ss.ss_sp = f->stack_lo;
	ss.ss_size = f->stack_size;
	ss.ss_flags = 0;

	pthread_mutex_lock(&boot_lock);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	if (sigaction(FIBER_BOOT_SIGNAL, &sa, &old_sa) != 0) {
		rc = -errno;
		goto out_mask;
	}
	if (sigaltstack(&ss, &old_ss) != 0) {
		rc = -errno;
		goto out_action;
	}
	boot_target = f;
	boot_done = 0;
	boot_mine = 1;
	rc = -pthread_kill(pthread_self(), FIBER_BOOT_SIGNAL);
	while (rc == 0 && !boot_done)
		sigsuspend(&wait_mask);
	boot_mine = 0;
	boot_target = NULL;
	if (old_ss.ss_flags & SS_DISABLE) {
#if FIBER_VALGRIND
		/* Valgrind keeps a disabled alternate stack's bounds and then
		 * refuses sigaltstack (EPERM) from a fiber running there: it
		 * is given bounds nothing runs on first. */
		if (RUNNING_ON_VALGRIND) {
			static char nowhere[4096];

			ss.ss_sp = nowhere;
			ss.ss_size = sizeof nowhere;
			sigaltstack(&ss, NULL);
		}
#endif
		ss.ss_flags = SS_DISABLE;
		sigaltstack(&ss, NULL);
	} else {
		sigaltstack(&old_ss, NULL);
	}
out_action:
	sigaction(FIBER_BOOT_SIGNAL, &old_sa, NULL);
out_mask:
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	pthread_mutex_unlock(&boot_lock);
	return rc;
}

static void fiber_prepare(struct mqb_fiber *f)
{
	f->fresh = true;
}

/* Kept out of line: whatever calls sigsetjmp is compiled as returning
 * twice, which only this function needs to be. */
static __attribute__((noinline)) int arch_switch(struct mqb_fiber *from, struct mqb_fiber *to,
						 int msg)
{
	to->msg = msg;
	from->round = fegetround();
	if (sigsetjmp(from->ctx, 0) == 0) {
		if (to->fresh) {
			to->fresh = false;
			boot_next = to;
#if FIBER_VALGRIND
			/* Memcheck made the handler's frame inaccessible when
			 * it returned. */
			VALGRIND_MAKE_MEM_UNDEFINED(to->stack_lo, to->stack_size);
#endif
			siglongjmp(to->boot, 1);
		}
		siglongjmp(to->ctx, 1);
	}
	/* sigsetjmp keeps no floating-point modes; the rounding mode, the one
	 * C names, is the fiber's own as with the other switches. */
	if (fegetround() != from->round)
		fesetround(from->round);
	return from->msg;
}

#endif

/* ------------------------------------------------------------------------ */
/* Sanitizer hooks. ASan must learn the new stack's bounds before the switch
 * and keeps a per-fiber fake stack (detect_stack_use_after_return); TSan
 * keeps a per-fiber shadow call stack. */

static inline void before_switch(struct mqb_fiber *from, struct mqb_fiber *to, int final)
{
#if FIBER_ASAN
	__sanitizer_start_switch_fiber(final ? NULL : &from->asan_fake_stack,
				       to->stack_lo, to->stack_size);
#endif
#if FIBER_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	to->from = from;
}

static inline void after_switch(struct mqb_fiber *self, void *fake_stack)
{
#if FIBER_ASAN
	struct mqb_fiber *prev = self->from;

	__sanitizer_finish_switch_fiber(fake_stack, &self->asan_from_bottom,
					&self->asan_from_size);
	/* A thread's stack bounds are known to ASan, not to us: they come back
	 * here the first time the thread switches away, which is always before
	 * anything can switch to it. */
	if (prev && !prev->stack_lo) {
		prev->stack_lo = (void *)(uintptr_t)self->asan_from_bottom;
		prev->stack_size = self->asan_from_size;
	}
#else
	(void)self;
	(void)fake_stack;
#endif
}

static _Noreturn void fiber_main(struct mqb_fiber *self)
{
	after_switch(self, NULL);
	self->entry(self->entry_arg);
	fputs("mqbridge: fiber entry returned instead of calling fiber__switch_final\n", stderr);
	abort();
}

#if !MQB_FIBER_ASM || MQB_FIBER_HOOKS
int fiber__transfer(struct mqb_fiber *from, struct mqb_fiber *to, int msg)
{
	before_switch(from, to, 0);
	int got = arch_switch(from, to, msg);
	after_switch(from, from->asan_fake_stack);
	return got;
}

void fiber__switch(struct mqb_fiber *from, struct mqb_fiber *to)
{
	fiber__transfer(from, to, 0);
}
#else
void fiber__switch(struct mqb_fiber *from, struct mqb_fiber *to)
{
	fiber__asm_swap(&from->sp, to->sp, 0);
}
#endif

_Noreturn void fiber__switch_final(struct mqb_fiber *from, struct mqb_fiber *to)
{
	before_switch(from, to, 1);
	arch_switch(from, to, 0);
	fputs("mqbridge: a finished fiber was resumed\n", stderr);
	abort();
}

void fiber__init_thread(struct mqb_fiber *self)
{
	memset(self, 0, sizeof *self);
#if FIBER_TSAN
	self->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void fiber__fini_thread(struct mqb_fiber *self)
{
	/* The thread's TSan fiber belongs to the thread; nothing was allocated. */
	memset(self, 0, sizeof *self);
}

/* ------------------------------------------------------------------------ */
/* Stacks and the pool. */

static struct mqb_fiber *fiber_map(size_t stack_size)
{
	size_t page = page_size();
	size_t body, map_size, extra = 0;
	char *map;
	struct mqb_fiber *f;
	int e;

	if (stack_size > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
#if MQB_FIBER_SWITCH == MQB_SWITCH_PORTABLE
	extra = boot_slack();
#endif
	body = (stack_size + extra + FIBER_HDR_SIZE + page - 1) / page * page;
	map_size = page + body;
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map, page, PROT_NONE) != 0) {
		e = errno;
		munmap(map, map_size);
		errno = e;
		return NULL;
	}
	f = (struct mqb_fiber *)(void *)(map + map_size - FIBER_HDR_SIZE);
	memset(f, 0, sizeof *f);
	f->stack_map = map;
	f->stack_map_size = map_size;
	f->stack_lo = map + page;
	f->stack_size = body - FIBER_HDR_SIZE;
#if MQB_FIBER_SWITCH == MQB_SWITCH_UCONTEXT
	e = fiber_getcontext(&f->uc) != 0 ? ENOMEM : 0;
#elif MQB_FIBER_SWITCH == MQB_SWITCH_PORTABLE
	e = -fiber_boot_init(f);
#else
	e = 0;
#endif
	if (e) {
		munmap(map, map_size);
		errno = e;
		return NULL;
	}
#if FIBER_VALGRIND
	f->valgrind_stack_id = VALGRIND_STACK_REGISTER(f->stack_lo, (char *)f->stack_lo + f->stack_size);
#endif
	return f;
}

static void fiber_unmap(struct mqb_fiber *f)
{
	void *map = f->stack_map;
	size_t map_size = f->stack_map_size;

#if FIBER_TSAN
	if (f->tsan_fiber)
		__tsan_destroy_fiber(f->tsan_fiber);
#endif
#if FIBER_VALGRIND
	VALGRIND_STACK_DEREGISTER(f->valgrind_stack_id);
#endif
#if FIBER_ASAN
	/* Frames abandoned by switch_final leave poisoned redzones; a later
	 * mapping at this address must not inherit them. */
	__asan_unpoison_memory_region(f->stack_lo, f->stack_size);
#endif
	munmap(map, map_size);
}

void fiber__pool_init(struct fiber_pool *p, size_t stack_size, unsigned max_free)
{
	size_t page = page_size();

	if (stack_size == 0)
		stack_size = 1;
	if (stack_size > SIZE_MAX - page)
		stack_size = SIZE_MAX - page; /* fiber__get then fails with ENOMEM */
	p->free = NULL;
	p->stack_size = (stack_size + page - 1) / page * page;
	p->nfree = 0;
	p->max_free = max_free;
	p->mmaps = 0;
}

void fiber__pool_destroy(struct fiber_pool *p)
{
	while (p->free) {
		struct mqb_fiber *f = p->free;

		p->free = f->next_free;
		fiber_unmap(f);
	}
	p->nfree = 0;
}

struct mqb_fiber *fiber__get(struct fiber_pool *p, void (*entry)(void *), void *arg)
{
	struct mqb_fiber *f = p->free;

	if (f) {
		p->free = f->next_free;
		p->nfree--;
	} else {
		f = fiber_map(p->stack_size);
		if (!f)
			return NULL;
		p->mmaps++;
	}
#if FIBER_ASAN
	__asan_unpoison_memory_region(f->stack_lo, f->stack_size);
#endif
#if FIBER_TSAN
	/* A fresh TSan fiber each time: the old one's shadow call stack still
	 * holds the frames its last run abandoned. */
	f->tsan_fiber = __tsan_create_fiber(0);
#endif
	f->next_free = NULL;
	f->entry = entry;
	f->entry_arg = arg;
	f->asan_fake_stack = NULL;
	f->from = NULL;
	fiber_prepare(f);
	return f;
}

static void put(struct fiber_pool *p, struct mqb_fiber *f, bool keep)
{
#if FIBER_TSAN
	__tsan_destroy_fiber(f->tsan_fiber);
	f->tsan_fiber = NULL;
#endif
	if (keep || p->nfree < p->max_free) {
		f->next_free = p->free;
		p->free = f;
		p->nfree++;
	} else {
		fiber_unmap(f);
	}
}

void fiber__put(struct fiber_pool *p, struct mqb_fiber *f)
{
	put(p, f, false);
}

void fiber__put_later(struct fiber_pool *p, struct mqb_fiber *f)
{
	put(p, f, true);
}

unsigned fiber__trim(struct fiber_pool *p, unsigned budget)
{
	while (p->nfree > p->max_free && budget-- > 0) {
		struct mqb_fiber *f = p->free;

		p->free = f->next_free;
		p->nfree--;
		fiber_unmap(f);
	}
	return p->nfree > p->max_free ? p->nfree - p->max_free : 0;
}
