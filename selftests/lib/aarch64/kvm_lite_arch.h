/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_lite, aarch64: guests run at EL1 with the MMU off (VA == IPA) and
 * DAIF masked, and talk to the host through MMIO: a 32-bit store to
 * KL_MMIO_DONE ends the program, one to KL_MMIO_REPORT reports the value.
 * No memslot may cover [KL_MMIO_GPA, KL_MMIO_GPA + 4 KiB).
 */
#ifndef KL_KVM_LITE_ARCH_H
#define KL_KVM_LITE_ARCH_H

#include <errno.h>
#include <stdint.h>

#include <linux/kvm.h>

#define KL_ARCH_NAME		"aarch64"

#define KL_MMIO_GPA		((uint64_t)0x20000000)
#define KL_MMIO_DONE		KL_MMIO_GPA
#define KL_MMIO_REPORT		(KL_MMIO_GPA + 8)
/* exit_reason of the exit that ends a guest program. */
#define KL_EXIT_DONE		KVM_EXIT_MMIO

/* The IPA size of a VM of type 0 (KVM's default, 40 bits). */
#define KL_GUEST_ADDR_LIMIT	((uint64_t)1 << 40)

/*
 * Stage-2 faults are estimated from vCPU exits (kl_faults_end()): allow a
 * few that are not explained otherwise, e.g. the first instruction fetch
 * from a code page that a (data) pre-fault mapped without execute
 * permission.
 */
#define KL_FAULT_SLACK		8

#endif
