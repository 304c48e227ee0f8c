/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_lite, x86_64: guests run in 32-bit flat protected mode without
 * paging and talk to the host with port I/O (an OUT to KL_PORT_DONE: the
 * program is done; to KL_PORT_REPORT: report the value written).
 */
#ifndef KL_KVM_LITE_ARCH_H
#define KL_KVM_LITE_ARCH_H

#include <errno.h>
#include <stdint.h>

#include <linux/kvm.h>

#define KL_ARCH_NAME		"x86_64"

#define KL_PORT_DONE		0x10
#define KL_PORT_REPORT		0x11
/* exit_reason of the exit that ends a guest program. */
#define KL_EXIT_DONE		KVM_EXIT_IO

/* Guest programs address the first 4 GiB only (32-bit, no paging). */
#define KL_GUEST_ADDR_LIMIT	((uint64_t)1 << 32)

/* pf_taken counts stage-2 faults exactly: no slack. */
#define KL_FAULT_SLACK		0

#endif
