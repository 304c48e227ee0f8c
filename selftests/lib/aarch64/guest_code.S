/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest programs shared by the selftests (see guest_code.h), aarch64: run
 * at EL1 with the MMU off, copied into guest memory by kl_guest_load().
 * struct kl_args: addr in x0, count in x1, stride in x2, val in x3; x9 is
 * KL_MMIO_GPA: a 32-bit store to [x9] says done, to [x9, #8] reports.
 * Every memory access is a plain load or store without writeback, so that
 * its syndrome is valid (ISV) and KVM can emulate it as MMIO.
 */

	.section .rodata, "a"
	.balign	4

/* Read pass; the sum in w5. */
	.globl	guest_read_pass_start, guest_read_pass_end
guest_read_pass_start:
	mov	w5, #0
	mov	w6, #31
1:	ldrb	w4, [x0]
	madd	w5, w5, w6, w4
	add	x0, x0, x2
	subs	x1, x1, #1
	b.ne	1b
	str	w5, [x9, #8]
2:	str	wzr, [x9]
	b	2b
guest_read_pass_end:

/* Write pass. */
	.balign	4
	.globl	guest_write_pass_start, guest_write_pass_end
guest_write_pass_start:
1:	strb	w3, [x0]
	add	x0, x0, x2
	subs	x1, x1, #1
	b.ne	1b
2:	str	wzr, [x9]
	b	2b
guest_write_pass_end:

/* 32-bit load, reported. */
	.balign	4
	.globl	guest_peek_start, guest_peek_end
guest_peek_start:
	ldr	w4, [x0]
	str	w4, [x9, #8]
2:	str	wzr, [x9]
	b	2b
guest_peek_end:

/* 32-bit store. */
	.balign	4
	.globl	guest_poke_start, guest_poke_end
guest_poke_start:
	str	w3, [x0]
2:	str	wzr, [x9]
	b	2b
guest_poke_end:

	.section .note.GNU-stack, "", %progbits
