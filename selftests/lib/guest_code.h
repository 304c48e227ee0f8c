/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest code shared by several selftests (defined in guest_code.c); code
 * only one test needs stays in that test's file.
 */
#ifndef SELFTESTS_GUEST_CODE_H
#define SELFTESTS_GUEST_CODE_H

#include "kvm_lite.h"

/*
 * Guest: read the byte at ESI, then ESI += EDI, ECX times; fold the bytes
 * into EBX (ebx = ebx * 31 + byte), report EBX, then done.
 */
KL_GUEST_BLOB(guest_read_pass);

/* Guest: write DL to the byte at ESI, then ESI += EDI, ECX times; done. */
KL_GUEST_BLOB(guest_write_pass);

/* Guest: EAX = 32-bit load from ESI; report it; done. */
KL_GUEST_BLOB(guest_peek);

/* Guest: 32-bit store of EDX to ESI; done. */
KL_GUEST_BLOB(guest_poke);

#endif
