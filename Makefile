# SPDX-License-Identifier: GPL-2.0
#
# kvm-prefault: out-of-tree KVM for Linux LTS kernels.
#
#   make                 build kvm.ko, kvm-amd.ko, kvm-intel.ko for KVER
#   make install         install them to lib/modules/$KVER/updates and depmod
#   make load / unload   swap the running kernel's KVM modules for ours / back
#   make check           build, then run every test under QEMU and Bochs (CI)
#                        (KLINE=6.1 or 6.12: one kernel line)
#   make demo            build, boot the stock kernel with our KVM, run a VM
#                        (KLINE=6.12: on Debian's 6.12 kernel; default 6.1)
#   make bench           pre-fault benchmark, ours against upstream (bench/)
#   make arm64-kernel    build the arm64 test kernel with our KVM built in
#   make patches         emit our work as one kernel patch set per line
#                        (build/patches/<line>/)
#
# KVER  target kernel release       (default: the running kernel)
# KDIR  its headers                 (default: /lib/modules/$KVER/build)
# KSRC  Debian's linux-source tarball of the same version
#       (default: /usr/src/linux-source-X.Y.tar.xz for the headers' X.Y)

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
TOP := $(CURDIR)
BUILD ?= $(TOP)/build/$(KVER)
VERSION := $(shell sed -n 's/^\#define KVM_PREFAULT_VERSION "\(.*\)"/\1/p' \
		kvm_prefault/version.h)
KLINE = $(shell make -s -C $(KDIR) kernelversion 2>/dev/null | cut -d. -f1-2)
KSRC ?= /usr/src/linux-source-$(KLINE).tar.xz
INSTALL_MOD_PATH ?=
MODDIR = $(INSTALL_MOD_PATH)/lib/modules/$(KVER)/updates


MODULES := kvm.ko kvm-amd.ko kvm-intel.ko

# Our include directories go before the kernel's (kbuild puts NOSTDINC_FLAGS
# ahead of LINUXINCLUDE), so the patched KVM headers win.  The arch include
# directory also makes trace.h's "../../arch/x86/kvm" resolve to our copy.
KBUILD_ARGS = -C $(KDIR) M=$(BUILD) \
	NOSTDINC_FLAGS="-I$(BUILD)/arch/x86/include -I$(BUILD)/include \
			-I$(BUILD)/include/uapi"

# Refuse a wrong or missing source or headers before anything is built, with
# the one line prepare-source.sh prints (naming the package to install).
ifneq ($(filter all modules prepare install,$(or $(MAKECMDGOALS),all)),)
PREPARE_ERROR := $(shell scripts/prepare-source.sh --check "$(KVER)" \
		   "$(KDIR)" "$(KSRC)" 2>&1 >/dev/null)
ifneq ($(PREPARE_ERROR),)
$(error $(PREPARE_ERROR))
endif
endif

.PHONY: all modules prepare install load unload check demo clean \
	selftests patches bench arm64-kernel

all: modules

prepare:
	@scripts/prepare-source.sh "$(KVER)" "$(KDIR)" "$(KSRC)" "$(BUILD)"

modules: prepare
	$(MAKE) $(KBUILD_ARGS) modules
	@for m in $(MODULES); do \
		test -f $(BUILD)/arch/x86/kvm/$$m || \
			{ echo "kvm-prefault: $$m was not built" >&2; exit 1; }; \
	done
	@echo "kvm-prefault $(VERSION): modules for $(KVER) in $(BUILD)/arch/x86/kvm"

install: modules
	install -d $(MODDIR)
	install -m 644 $(addprefix $(BUILD)/arch/x86/kvm/,$(MODULES)) $(MODDIR)/
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)

# (not "load unload:": a line starting with "load" is a make directive)
unload load:
	@scripts/swap-modules.sh $@ "$(BUILD)/arch/x86/kvm"

selftests:
	$(MAKE) -C selftests OUT=$(TOP)/build/selftests

# make check / make demo always target the harness kernels, whatever runs
# here.  KLINE=6.1 or KLINE=6.12 on the command line picks one kernel line
# (make exports a command-line variable to the recipe).
check:
	@scripts/check.sh

demo:
	@scripts/demo.sh

bench:
	@bench/run.sh

# arm64 KVM is built in, so arm64 gets a whole kernel (build/arm64/ours;
# build/arm64-6.12/ours with KLINE=6.12 on the command line).  The line
# defaults to 6.1, not to KLINE's value above (the x86 headers' line).
arm64-kernel:
	@KLINE=$(if $(filter command line,$(origin KLINE)),$(KLINE),6.1) \
		scripts/arm64-kernel.sh

# For people who build their own kernels: git am or patch -p1 it.
patches:
	@for s in patches/*/series; do \
		l=$${s#patches/}; scripts/export-patches.sh $${l%/series} || exit; \
	done

clean:
	rm -rf build
