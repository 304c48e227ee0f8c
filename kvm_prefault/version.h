/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __KVM_PREFAULT_VERSION_H
#define __KVM_PREFAULT_VERSION_H

/*
 * Carried by every module as MODULE_VERSION(): DKMS only replaces a
 * distribution module by one that has a version.
 */
#define KVM_PREFAULT_VERSION "0.1.0"

#endif
