// SPDX-License-Identifier: GPL-2.0
/*
 * Guest programs shared by the selftests (see guest_code.h), x86_64: 32-bit
 * flat protected mode blobs, copied into guest memory by kl_guest_load().
 * struct kl_args: addr in ESI, count in ECX, stride in EDI, val in EDX.
 */
#include "guest_code.h"

/* Read pass; the sum in EBX. */
asm(".pushsection .rodata, \"a\"\n"
    ".code32\n"
    ".globl guest_read_pass_start, guest_read_pass_end\n"
    "guest_read_pass_start:\n"
    "	xorl %ebx, %ebx\n"
    "1:	movzbl (%esi), %eax\n"
    "	imull $31, %ebx, %ebx\n"
    "	addl %eax, %ebx\n"
    "	addl %edi, %esi\n"
    "	decl %ecx\n"
    "	jnz 1b\n"
    "	movl %ebx, %eax\n"
    "	outl %eax, $0x11\n"
    "	outb %al, $0x10\n"
    "	hlt\n"
    "guest_read_pass_end:\n"
    ".code64\n"
    ".popsection\n");

/* Guest: write DL to the byte at ESI, then ESI += EDI, ECX times; done. */
asm(".pushsection .rodata, \"a\"\n"
    ".code32\n"
    ".globl guest_write_pass_start, guest_write_pass_end\n"
    "guest_write_pass_start:\n"
    "1:	movb %dl, (%esi)\n"
    "	addl %edi, %esi\n"
    "	decl %ecx\n"
    "	jnz 1b\n"
    "	outb %al, $0x10\n"
    "	hlt\n"
    "guest_write_pass_end:\n"
    ".code64\n"
    ".popsection\n");

/* Guest: EAX = 32-bit load from ESI; report it; done. */
asm(".pushsection .rodata, \"a\"\n"
    ".code32\n"
    ".globl guest_peek_start, guest_peek_end\n"
    "guest_peek_start:\n"
    "	movl (%esi), %eax\n"
    "	outl %eax, $0x11\n"
    "	outb %al, $0x10\n"
    "	hlt\n"
    "guest_peek_end:\n"
    ".code64\n"
    ".popsection\n");

/* Guest: 32-bit store of EDX to ESI; done. */
asm(".pushsection .rodata, \"a\"\n"
    ".code32\n"
    ".globl guest_poke_start, guest_poke_end\n"
    "guest_poke_start:\n"
    "	movl %edx, (%esi)\n"
    "	outb %al, $0x10\n"
    "	hlt\n"
    "guest_poke_end:\n"
    ".code64\n"
    ".popsection\n");
