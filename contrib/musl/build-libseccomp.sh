#!/usr/bin/env bash
# build-libseccomp.sh OUT - libseccomp as a static musl library, for the
# musl build of skiff (make build LIBC=musl, the default).
#
# Why musl: a static glibc binary probes the CPU's caches with cpuid at
# every start, and in a virtual machine each cpuid traps to the
# hypervisor: about 0.5 ms per exec here, paid by every skiff command
# and again by every container's init (skiff re-executes itself). musl's
# start-up does none of that. Debian ships no musl build of libseccomp,
# so it is built here from Debian's own source tarball (the same 2.5.4 as
# bookworm's libseccomp-dev), checked against a pinned SHA-256.
#
# OUT gets: lib/libseccomp.a, include/, lib/pkgconfig/libseccomp.pc, and
# kinc/ (the kernel's uapi headers, which musl-gcc does not search).
# Built in a scratch dir and renamed, so an interrupted build leaves no
# half library behind; a finished OUT is reused as it is.
set -euo pipefail

out=${1:?usage: $0 OUT}
version=2.5.4
sha256=d82902400405cf0068574ef3dc1fe5f5926207543ba1ae6f8e7a1576351dcbdb
tarball=libseccomp_${version}.orig.tar.gz

if [ -f "$out/lib/libseccomp.a" ] && [ -f "$out/.version" ] && [ "$(cat "$out/.version")" = "$version" ]; then
	exit 0
fi

# The Debian mirror apt already uses (deb822 or one-line sources).
mirror() {
	local uri
	uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
	[ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n1 || true)
	echo "${uri:-http://deb.debian.org/debian}"
}

mkdir -p "$(dirname "$out")"
parent=$(cd "$(dirname "$out")" && pwd)
final=$parent/$(basename "$out")
tmp=$(mktemp -d "$parent/.libseccomp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

url="$(mirror)/pool/main/libs/libseccomp/$tarball"
echo "libseccomp-musl: fetching $url" >&2
curl -fsSL --retry 3 -o "$tmp/$tarball" "$url"
echo "$sha256  $tmp/$tarball" | sha256sum -c --quiet -
tar -C "$tmp" -xzf "$tmp/$tarball"

# musl-gcc searches only musl's headers; seccomp needs the kernel's.
mkdir -p "$tmp/out/kinc"
ln -s /usr/include/linux "$tmp/out/kinc/linux"
ln -s /usr/include/asm-generic "$tmp/out/kinc/asm-generic"
ln -s "/usr/include/$(gcc -dumpmachine)/asm" "$tmp/out/kinc/asm"

src="$tmp/libseccomp-$version"
(
	cd "$src"
	CC=musl-gcc CFLAGS="-O2 -I$tmp/out/kinc" ./configure --quiet --enable-static --disable-shared \
		--prefix="$final" >"$tmp/configure.log" 2>&1 || { tail -20 "$tmp/configure.log" >&2; exit 1; }
	make -s -j"$(nproc)" -C src >"$tmp/make.log" 2>&1 || { tail -20 "$tmp/make.log" >&2; exit 1; }
)
mkdir -p "$tmp/out/lib/pkgconfig" "$tmp/out/include"
cp "$src/src/.libs/libseccomp.a" "$tmp/out/lib/"
cp "$src/include/seccomp.h" "$src/include/seccomp-syscalls.h" "$tmp/out/include/"
cat >"$tmp/out/lib/pkgconfig/libseccomp.pc" <<EOF
prefix=$final
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libseccomp
Description: The enhanced seccomp library (static, musl)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lseccomp
EOF
echo "$version" >"$tmp/out/.version"
rm -rf "$final"
mv "$tmp/out" "$final"
echo "libseccomp-musl: $final" >&2
