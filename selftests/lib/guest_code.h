/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest programs shared by the selftests, one set per architecture
 * (lib/<arch>/guest_code.*).  Each starts with the struct kl_args that
 * kl_guest_load() was given, ends with "done" (kl_run_to_done() returns)
 * and never touches memory other than described.  Every access is one
 * plain load or store (no writeback), so that KVM can emulate it as MMIO.
 */
#ifndef SELFTESTS_GUEST_CODE_H
#define SELFTESTS_GUEST_CODE_H

#include "kvm_lite.h"

/*
 * Read the byte at addr, then addr += stride, count times (count > 0);
 * fold the bytes into a 32-bit sum (sum = sum * 31 + byte, from 0),
 * report the sum, then done.
 */
KL_GUEST_BLOB(guest_read_pass);

/* Write the low byte of val to addr, then addr += stride, count times. */
KL_GUEST_BLOB(guest_write_pass);

/* 32-bit load from addr; report it; done. */
KL_GUEST_BLOB(guest_peek);

/* 32-bit store of val to addr; done. */
KL_GUEST_BLOB(guest_poke);

#endif
