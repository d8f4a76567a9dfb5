#!/bin/bash
# tests/vm/lane.sh - skiff's cgroup tests on a pure cgroup v2 kernel and
# under systemd, each in a throwaway qemu VM (`make test-cgroupv2`).
#
# The host can be cgroup v1 or hybrid and need not run systemd: nothing
# on it changes. Two lanes, each one boot of a fresh VM:
#
#   minimal  Debian's kernel with cgroup_no_v1=all and a busybox
#            initramfs as PID 1 (tests/vm/guest/init); the cgroupfs
#            driver on a bare cgroup2 mount with every controller enabled.
#   systemd  the same kernel booting a debootstrapped Debian bookworm
#            (minbase + systemd-sysv, dbus, procps) with systemd as PID 1,
#            so that --systemd-cgroup makes real transient scopes.
#
# A payload disk (a plain tar) brings skiff, the integration tests built
# statically (go test -c ./tests), the probe and the busybox bundle;
# tests/vm/guest/run.sh runs the cgroup tests from it, counts the cgroup
# directories before and after, and prints its verdict on the VM's second
# serial port. A lane passes only on "SKIFF-LANE-RESULT: PASS" there.
#
# Usage: tests/vm/lane.sh [minimal|systemd|all]      (default: all)
#
# Environment (all optional):
#   SKIFF_BINARY     the skiff to test (static; default ./skiff)
#   SKIFF_BUILD_DIR  holds bundle/rootfs and probe (default ./_build)
#   SKIFF_VM_OUT     logs: <lane>.console.log (kernel, systemd),
#                    <lane>.result.log (tests) (default $SKIFF_BUILD_DIR/vm)
#   SKIFF_VM_CACHE   kernel, initramfs and root image cache
#                    (default /var/cache/skiff-vmlane)
#   TEST_RUN         go test -run pattern (default: the cgroup tests)
#   ACCEL            auto|tcg|kvm (auto: KVM if a probe VM boots with it)
#   VM_MEM=1024 (MiB)  VM_TIMEOUT=480 (s, per boot)  TEST_TIMEOUT=6m
#   MIRROR           Debian mirror for debootstrap (default: the host's)
#   GO               the go command (default go)
#
# Needs root (debootstrap, and the tests need it in the VM anyway), and
# installs what is missing with apt-get: qemu-system-x86, cpio, kmod,
# busybox-static, debootstrap, e2fsprogs. The network is used only for
# apt (packages, the kernel .deb, debootstrap); the VMs have none.
#
# Caching: every artefact that takes long to make lives in
# $SKIFF_VM_CACHE/<name>-<key>, where the key is a hash of the shell
# function that builds it, the guest files it contains and its inputs:
# editing any of them rebuilds exactly what depends on it. Each is built
# in a .tmp.* directory and renamed when complete, so an interrupted
# build leaves nothing that looks finished (and the next run removes the
# leftover). The payload is made afresh in a temporary directory for
# every run and removed at the end.
# shellcheck disable=SC2317 # the builders and the cleanup run indirectly
set -euo pipefail
shopt -s inherit_errexit
# debootstrap, depmod, mkfs.ext4 live in sbin, which a CI's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
GUEST=$HERE/guest

SKIFF=${SKIFF_BINARY:-$REPO/skiff}
BUILD=${SKIFF_BUILD_DIR:-$REPO/_build}
OUT=${SKIFF_VM_OUT:-$BUILD/vm}
CACHE=${SKIFF_VM_CACHE:-/var/cache/skiff-vmlane}
GO=${GO:-go}
ACCEL=${ACCEL:-auto}
VM_MEM=${VM_MEM:-1024}
# A warm run here takes ~1 min (minimal) and ~2 min (systemd) under TCG;
# the bounds leave room for a slower machine, and keep a hung VM from
# holding CI for long.
VM_TIMEOUT=${VM_TIMEOUT:-480}
TEST_TIMEOUT=${TEST_TIMEOUT:-6m}
BUSYBOX=${BUSYBOX:-/bin/busybox}
SUITE=bookworm

# The cgroup tests of ./tests. TestExecSubCgroup is v1-only (its v2
# counterpart is TestCgroupV2ExecSubCgroup).
TEST_RUN=${TEST_RUN:-'^(TestCgroup.*|TestPause.*|TestPausedDeleteForce|TestPs|TestEventsStats|TestUpdate.*|TestExecPaused|TestExecRepeatedNoLeak|TestExecAtPidsLimit|TestDeleteForce.*|TestSystemd.*)$'}
# Tests that must pass (not skip) in each lane: what the lane is for.
V2_TESTS="TestCgroupV2Freeze TestCgroupV2KillAll TestCgroupV2DeleteForceHostPID TestCgroupV2DeviceFilter TestCgroupV2Limits TestCgroupV2ExecSubCgroup TestCgroupV2InitBornInCgroup"
REQUIRE_MINIMAL=${REQUIRE_MINIMAL-"$V2_TESTS TestSystemdNotRunning"}
REQUIRE_SYSTEMD=${REQUIRE_SYSTEMD-"$V2_TESTS TestSystemdScope TestSystemdDefaultScope TestSystemdBadPath TestSystemdUpdate TestSystemdPauseKill"}

# Kernel modules the initramfs loads: the disks and the root filesystem.
MODULES="virtio_pci virtio_blk ext4"
CMDLINE="cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 console=ttyS0 panic=-1 quiet loglevel=4"
# Units of the systemd image that only cost boot time here.
MASK_UNITS="getty@tty1.service serial-getty@ttyS0.service console-getty.service
  e2scrub_reap.service e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer
  fstrim.timer dpkg-db-backup.timer systemd-tmpfiles-clean.timer"

log() { echo "[vmlane $(date +%T)] $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# keyhash: a short cache key from stdin.
keyhash() { sha256sum | cut -c1-16; }

############################################################ cleanup
# Whatever this run makes outside the cache, and the qemu it runs, goes
# away on every exit path: success, failure, ^C, TERM.
RUN=
QEMU_PIDFILE=
TIMEOUT_PID=
BUILDING=
BUILDER_PGID=
cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	if [[ -n $BUILDER_PGID ]]; then
		# The builder's own process group (debootstrap, dpkg, ...).
		log "stopping the build (process group $BUILDER_PGID)"
		kill -TERM -- "-$BUILDER_PGID" 2>/dev/null || true
		wait "$BUILDER_PGID" 2>/dev/null || true
	fi
	if [[ -n $QEMU_PIDFILE && -s $QEMU_PIDFILE ]]; then
		pid=$(cat "$QEMU_PIDFILE")
		# Only the qemu this run started: the pid from its -pidfile, and
		# still a qemu (not a recycled pid).
		if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == qemu-system-* ]]; then
			log "stopping qemu (pid $pid)"
			kill "$pid" 2>/dev/null || true
		fi
	fi
	if [[ -n $TIMEOUT_PID ]]; then
		kill "$TIMEOUT_PID" 2>/dev/null || true
		wait "$TIMEOUT_PID" 2>/dev/null || true
	fi
	[[ -n $BUILDING ]] && remove_tree "$BUILDING"
	[[ -n $RUN ]] && rm -rf --one-file-system "$RUN"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# remove_tree DIR: unmount anything below DIR (debootstrap mounts proc
# and sys in its target and leaves them there if interrupted), then
# delete it without ever crossing into another filesystem.
remove_tree() {
	local dir=$1 mp
	[[ -e $dir ]] || return 0
	for mp in $(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$mp" || true
	done
	rm -rf --one-file-system "$dir"
}

############################################################ host packages
deps() {
	local need=() have_lists
	command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
	command -v cpio >/dev/null || need+=(cpio)
	command -v modprobe >/dev/null && command -v depmod >/dev/null || need+=(kmod)
	command -v debootstrap >/dev/null || need+=(debootstrap)
	command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
	# The initramfs has no libraries: its busybox must be the static one.
	if ! [[ -x $BUSYBOX ]] || ldd "$BUSYBOX" >/dev/null 2>&1; then
		need+=(busybox-static)
	fi
	((${#need[@]})) || return 0
	log "apt-get install ${need[*]}"
	have_lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' | head -1)
	[[ -n $have_lists ]] || apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }
}

# The Debian mirror the host's apt uses, for debootstrap.
default_mirror() {
	local m
	m=$(grep -hoE '(URIs:|^deb)[[:space:]]+[^[:space:]]*/debian/?([[:space:]]|$)' \
		/etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		awk '{print $2}' | grep -v -- '-security' | head -1) || true
	echo "${m:-http://deb.debian.org/debian}"
}

############################################################ cache
# cached NAME KEY BUILDER: sets CACHED to $CACHE/NAME-KEY, made by
# `BUILDER DIR` into a temporary DIR first. Other NAME-* entries (older
# keys) are removed once the new one exists.
cached() {
	local name=$1 key=$2 builder=$3 old t0=$SECONDS
	CACHED=$CACHE/$name-$key
	[[ -d $CACHED ]] && return 0
	log "$name: building $CACHED"
	BUILDING=$(mktemp -d "$CACHE/.tmp.$name.XXXXXX")
	# In the background and in a process group of its own (set -m), so
	# that a signal to this script is handled at once (bash would wait
	# for a foreground child first) and the cleanup can end the whole
	# build by its group id.
	set -m
	"$builder" "$BUILDING" 9>&- &
	BUILDER_PGID=$!
	set +m
	wait "$BUILDER_PGID"
	BUILDER_PGID=
	mv -T "$BUILDING" "$CACHED"
	BUILDING=
	log "$name: built in $((SECONDS - t0)) s ($(du -sh "$CACHED" | cut -f1))"
	for old in "$CACHE/$name"-*; do
		[[ $old == "$CACHED" ]] || remove_tree "$old"
	done
}

# The kernel: the image package linux-image-amd64 points at, unpacked;
# kept are vmlinuz and the modules of $MODULES with their dependencies.
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}
build_kernel() {
	local dir=$1 kv f
	mkdir "$dir/dl" "$dir/modules"
	# As root, apt's download sandbox user could not write to a mktemp
	# directory; there is nothing to protect here.
	if ! (cd "$dir/dl" && apt-get -q -o APT::Sandbox::User=root download "$KERNEL_PKG" >&2); then
		# Stale package lists name a version the mirror no longer has.
		apt-get update -q >&2
		(cd "$dir/dl" && apt-get -q -o APT::Sandbox::User=root download "$KERNEL_PKG" >&2)
	fi
	dpkg-deb -x "$dir"/dl/*.deb "$dir/pkg"
	kv=$(ls "$dir/pkg/lib/modules")
	depmod -b "$dir/pkg" "$kv"
	cp "$dir/pkg/boot/vmlinuz-$kv" "$dir/vmlinuz"
	# In load order, dependencies first; built-in ones print no insmod.
	for f in $MODULES; do
		modprobe -d "$dir/pkg" -S "$kv" --show-depends "$f"
	done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r f; do
		cp "$f" "$dir/modules/"
		basename "$f" >>"$dir/modules/load.list"
	done
	echo "$kv" >"$dir/release"
	rm -rf "$dir/dl" "$dir/pkg"
}

# The initramfs of both lanes: static busybox with all its applets, the
# modules, guest/init as /init and guest/start as /bin/start.
build_initrd() {
	local dir=$1 r=$1/root a
	mkdir -p "$r/bin" "$r/sbin" "$r/dev" "$r/proc" "$r/sys" "$r/lib/modules/skiff"
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[[ $a == busybox ]] || ln -s busybox "$r/bin/$a"
	done
	cp "$KERNEL"/modules/* "$r/lib/modules/skiff/"
	install -m 0755 "$GUEST/init" "$r/init"
	install -m 0755 "$GUEST/start" "$r/bin/start"
	(cd "$r" && find . | cpio -o -H newc --quiet) | gzip -1 >"$dir/initrd.gz"
	rm -rf "$r"
}

# Debian bookworm, minbase plus systemd as init, dbus (the systemd
# driver talks to systemd over it) and procps (ps, for `skiff ps`).
build_debootstrap() {
	local dir=$1
	if ! debootstrap --variant=minbase --include=systemd-sysv,dbus,procps \
		"$SUITE" "$dir/rootfs" "$MIRROR" >"$dir/debootstrap.log" 2>&1; then
		tail -20 "$dir/debootstrap.log" >&2
		return 1
	fi
	rm -rf "$dir"/rootfs/var/cache/apt/archives/*.deb "$dir"/rootfs/var/lib/apt/lists/*
}

# The systemd lane's root disk: the debootstrap tree made to boot
# straight into skiff-lane.service, as an ext4 image (mkfs.ext4 -d: no
# loop device, no mount). qemu opens it with snapshot=on, so it is
# never changed.
build_sysroot() {
	local dir=$1 r=$1/rootfs u
	cp -a "$DEBOOTSTRAP/rootfs" "$r"
	echo skiff-lane >"$r/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 skiff-lane\n' >"$r/etc/hosts"
	echo '# / is mounted by the initramfs' >"$r/etc/fstab"
	for u in $MASK_UNITS; do
		ln -sf /dev/null "$r/etc/systemd/system/$u"
	done
	# The journal in RAM: nothing to keep, and less disk I/O under TCG.
	mkdir -p "$r/etc/systemd/journald.conf.d"
	printf '[Journal]\nStorage=volatile\n' >"$r/etc/systemd/journald.conf.d/skiff-lane.conf"
	install -D -m 0755 "$GUEST/start" "$r/usr/local/sbin/skiff-lane-start"
	install -m 0644 "$GUEST/skiff-lane.service" "$r/etc/systemd/system/skiff-lane.service"
	mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
	ln -sf ../skiff-lane.service "$r/etc/systemd/system/multi-user.target.wants/skiff-lane.service"
	# Sparse; about 250 MB of it is used.
	mkfs.ext4 -q -F -L skiffroot -d "$r" "$dir/root.img" 1536M >/dev/null
	remove_tree "$r"
}

prepare_kernel() {
	KERNEL_PKG=$(kernel_package)
	if [[ -z $KERNEL_PKG ]]; then
		apt-get update -q >&2
		KERNEL_PKG=$(kernel_package)
		[[ -n $KERNEL_PKG ]] || die "apt knows no linux-image-amd64"
	fi
	local ver
	ver=$(apt-cache policy "$KERNEL_PKG" | awk '/Candidate:/{print $2}')
	cached kernel "$({ declare -f build_kernel; echo "$MODULES $KERNEL_PKG $ver"; } | keyhash)" build_kernel
	KERNEL=$CACHED
	cached initrd "$({ declare -f build_initrd; cat "$KERNEL/release" "$GUEST/init" "$GUEST/start" "$BUSYBOX"; echo "$KERNEL"; } | keyhash)" build_initrd
	INITRD=$CACHED/initrd.gz
}

prepare_sysroot() {
	cached debootstrap "$({ declare -f build_debootstrap; echo "$SUITE"; } | keyhash)" build_debootstrap
	DEBOOTSTRAP=$CACHED
	cached sysroot "$({ declare -f build_sysroot; echo "$DEBOOTSTRAP $MASK_UNITS"; cat "$GUEST/start" "$GUEST/skiff-lane.service"; } | keyhash)" build_sysroot
	ROOT_IMG=$CACHED/root.img
}

############################################################ payload
# What the VM tests: made afresh for every run, in $RUN.
make_payload() {
	local p=$RUN/payload size
	[[ -x $SKIFF ]] || die "no skiff binary at $SKIFF (make build)"
	ldd "$SKIFF" >/dev/null 2>&1 && die "$SKIFF is not static: the minimal lane has no libraries"
	[[ -x $BUILD/probe && -x $BUILD/bundle/rootfs/bin/busybox ]] || die "no probe or bundle under $BUILD (make probe bundle)"
	mkdir -p "$p/build/bundle"
	install -m 0755 "$SKIFF" "$p/skiff"
	install -m 0755 "$BUILD/probe" "$p/build/probe"
	cp -a "$BUILD/bundle/rootfs" "$p/build/bundle/rootfs"
	install -m 0755 "$GUEST/run.sh" "$p/run.sh"
	# Static: the minimal lane has no libc. The tests package builds
	# without cgo.
	(cd "$REPO" && CGO_ENABLED=0 "$GO" test -c -o "$p/tests.test" ./tests) || die "building the tests failed"
	{
		echo "TEST_RUN='$TEST_RUN'"
		echo "TEST_TIMEOUT='$TEST_TIMEOUT'"
		echo "REQUIRE_MINIMAL='$REQUIRE_MINIMAL'"
		echo "REQUIRE_SYSTEMD='$REQUIRE_SYSTEMD'"
	} >"$p/lane.env"
	tar -C "$p" --owner=0 --group=0 -cf "$RUN/payload.tar" .
	# A disk is whole sectors; tar ignores the zeros after its end.
	size=$(stat -c %s "$RUN/payload.tar")
	truncate -s $(((size + 1048575) / 1048576 * 1048576)) "$RUN/payload.tar"
	rm -rf "$p"
}

############################################################ boot
# boot_vm LANE ACCEL TIMEOUT [qemu args]: boot the lane's VM and wait for it
# to power off, at most TIMEOUT seconds. Serial 0 (kernel, systemd) goes
# to $OUT/LANE.console.log, serial 1 (the tests) to $OUT/LANE.result.log.
boot_vm() {
	local lane=$1 accel=$2 limit=$3 cpu=max rc=0
	shift 3
	[[ $accel == kvm ]] && cpu=host
	rm -f "$OUT/$lane.console.log" "$OUT/$lane.result.log"
	QEMU_PIDFILE=$RUN/qemu.pid
	rm -f "$QEMU_PIDFILE"
	# 1 vCPU, no network, no display; -no-reboot turns a guest panic
	# (panic=-1) into qemu exiting.
	timeout --kill-after=10 "$limit" qemu-system-x86_64 -M q35 -accel "$accel" -cpu "$cpu" \
		-smp 1 -m "$VM_MEM" -nodefaults -no-user-config -display none -vga none -nic none \
		-no-reboot -pidfile "$QEMU_PIDFILE" \
		-kernel "$KERNEL/vmlinuz" -initrd "$INITRD" -append "$CMDLINE skiff.lane=$lane" \
		-serial "file:$OUT/$lane.console.log" -serial "file:$OUT/$lane.result.log" \
		"$@" </dev/null >"$OUT/$lane.qemu.log" 2>&1 9>&- &
	TIMEOUT_PID=$!
	wait "$TIMEOUT_PID" || rc=$?
	TIMEOUT_PID=
	QEMU_PIDFILE=
	return "$rc"
}

# KVM: /dev/kvm may open and still not run a guest (nested without
# vmx/svm: the kernel hangs in its decompressor). Boot the probe lane
# once, and remember the answer for this host (its kernel and CPU).
# Sets VM_ACCEL.
pick_accel() {
	VM_ACCEL=$ACCEL
	[[ $ACCEL == auto ]] || return 0
	local f
	f=$CACHE/accel-$({ uname -r; grep -m1 'model name' /proc/cpuinfo; } | keyhash)
	if [[ ! -s $f ]]; then
		local acc=tcg
		if [[ -w /dev/kvm ]]; then
			log "probing KVM (up to 30 s)"
			boot_vm probe kvm 30 || true
			grep -q '^SKIFF-LANE-PROBE: booted' "$OUT/probe.result.log" 2>/dev/null && acc=kvm
			rm -f "$OUT"/probe.*.log
		fi
		rm -f "$CACHE"/accel-*
		echo "$acc" >"$f"
	fi
	VM_ACCEL=$(cat "$f")
}

# run_lane LANE: boot it, print the verdict; returns 0 on PASS.
run_lane() {
	local lane=$1 t0=$SECONDS rc=0 res=$OUT/$1.result.log secs
	shift
	log "$lane lane: booting (accel $VM_ACCEL, ${VM_MEM} MiB, timeout ${VM_TIMEOUT} s)"
	boot_vm "$lane" "$VM_ACCEL" "$VM_TIMEOUT" \
		-drive "file=$RUN/payload.tar,format=raw,if=none,id=payload,readonly=on" \
		-device virtio-blk-pci,drive=payload,serial=skiffpayload "$@" || rc=$?
	secs=$((SECONDS - t0))
	grep '^SKIFF-LANE' "$res" 2>/dev/null | sed 's/^/  /' || true
	if ((rc == 124 || rc == 137)); then
		log "$lane lane: qemu killed after $VM_TIMEOUT s"
	fi
	if grep -q '^SKIFF-LANE-RESULT: PASS' "$res" 2>/dev/null; then
		LANE_SUMMARY+=("$lane lane: PASS ($(sed -n 's/^SKIFF-LANE-TESTS: //p' "$res"); ${secs} s)")
		return 0
	fi
	# The failing tests' output, then the end of each log.
	awk '/^=== RUN/{buf=""} {buf=buf $0 "\n"} /^--- FAIL/{printf "%s", buf}' "$res" 2>/dev/null | tail -150 || true
	echo "---- $res (end)"
	tail -15 "$res" 2>/dev/null || true
	echo "---- $OUT/$lane.console.log (end)"
	tail -30 "$OUT/$lane.console.log" 2>/dev/null || true
	LANE_SUMMARY+=("$lane lane: FAIL (qemu exit $rc; ${secs} s; logs in $OUT/$lane.*.log)")
	return 1
}

############################################################ main
lanes=${1:-all}
case $lanes in
minimal | systemd) ;;
all) lanes="minimal systemd" ;;
*)
	echo "usage: $0 [minimal|systemd|all]" >&2
	exit 2
	;;
esac
[[ $(id -u) == 0 ]] || die "needs root"

t_start=$SECONDS
deps
MIRROR=${MIRROR:-$(default_mirror)}
mkdir -p "$CACHE" "$OUT"
# One run at a time per cache: builds and their .tmp leftovers are
# then never someone else's. (qemu and the builders do not inherit the
# lock's fd: should this script be killed outright, the lock goes with
# it.)
exec 9>"$CACHE/lock"
flock -w 3600 9 || die "cannot lock $CACHE/lock"
for stale in "$CACHE"/.tmp.*; do
	if [[ -e $stale ]]; then remove_tree "$stale"; fi
done
RUN=$(mktemp -d /tmp/skiff-vmlane.XXXXXX)

prepare_kernel
if [[ $lanes == *systemd* ]]; then prepare_sysroot; fi
pick_accel
make_payload
log "prepared in $((SECONDS - t_start)) s"

LANE_SUMMARY=()
failed=0
for lane in $lanes; do
	case $lane in
	minimal) run_lane minimal || failed=1 ;;
	systemd)
		run_lane systemd -drive "file=$ROOT_IMG,format=raw,if=none,id=root,snapshot=on" \
			-device virtio-blk-pci,drive=root,serial=skiffroot || failed=1
		;;
	esac
done
echo
for s in "${LANE_SUMMARY[@]}"; do
	echo "test-cgroupv2: $s"
done
echo "test-cgroupv2: $( ((failed)) && echo FAIL || echo PASS) in $((SECONDS - t_start)) s"
exit "$failed"
