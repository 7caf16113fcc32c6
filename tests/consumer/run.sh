#!/usr/bin/env bash
# The pkg-config consumer check: install the build to a staging prefix, then
# build and run a small program against the installed libmoxdns with only
#   1. pkg-config --cflags --libs libmoxdns             (shared)
#   2. pkg-config --static --cflags --libs libmoxdns    (static archives,
#      which checks Requires.private/Libs.private are complete)
#   3. find_package(mox COMPONENTS dns) from CMake      (mox::dns, mox::dns_static)
# Usage: run.sh BUILD_DIR SOURCE_DIR WORK_DIR CC [extra cflags...]
set -euo pipefail
build=$1 src=$2 work=$3 cc=$4
shift 4
extra=("$@")
stage="$work/stage"
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$stage" >"$work/install.log"

pcdir=$(dirname "$(find "$stage" -name libmoxdns.pc | head -1)")
libdir=$(dirname "$pcdir")
export PKG_CONFIG_PATH="$pcdir"
test -f "$stage/include/mox/dns.h" || { echo "no installed header"; exit 1; }
test -L "$libdir/libmoxdns.so.0" || { echo "no SONAME link libmoxdns.so.0"; exit 1; }
objdump -p "$libdir/libmoxdns.so" | grep -q 'SONAME *libmoxdns.so.0' ||
	{ echo "wrong SONAME"; exit 1; }
# Only mox_ symbols are exported.
if nm -D --defined-only "$libdir/libmoxdns.so" | awk '{print $3}' |
	grep -v '^mox_' | grep -v '^_' | grep -q .; then
	echo "libmoxdns.so exports non-mox_ symbols:"
	nm -D --defined-only "$libdir/libmoxdns.so" | awk '{print $3}' | grep -v '^mox_'
	exit 1
fi

echo "== shared, pkg-config --cflags --libs libmoxdns: $(pkg-config --cflags --libs libmoxdns)"
# shellcheck disable=SC2046
"$cc" "${extra[@]}" -o "$work/consumer_shared" "$src/tests/consumer/consumer.c" \
	$(pkg-config --cflags --libs libmoxdns)
LD_LIBRARY_PATH="$libdir" "$work/consumer_shared"

static_libs=$(pkg-config --static --libs libmoxdns |
	sed -e 's/-lmoxdns\b/-l:libmoxdns.a/' -e 's/-lmoxcore\b/-l:libmoxcore.a/')
echo "== static, pkg-config --static --libs libmoxdns: $static_libs"
# shellcheck disable=SC2046,SC2086
"$cc" "${extra[@]}" -o "$work/consumer_static" "$src/tests/consumer/consumer.c" \
	$(pkg-config --cflags libmoxdns) $static_libs
if ldd "$work/consumer_static" | grep -q libmox; then
	echo "static consumer still links a shared libmox"
	exit 1
fi
"$work/consumer_static"

echo "== CMake find_package(mox COMPONENTS dns)"
mkdir -p "$work/cmake-src"
cp "$src/tests/consumer/CMakeLists.txt.in" "$work/cmake-src/CMakeLists.txt"
cp "$src/tests/consumer/consumer.c" "$work/cmake-src/"
cmake -S "$work/cmake-src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$stage" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="${extra[*]}" \
	-DCMAKE_EXE_LINKER_FLAGS="${extra[*]}" >"$work/cmake.log"
cmake --build "$work/cmake-build" >>"$work/cmake.log"
"$work/cmake-build/consumer_shared"
"$work/cmake-build/consumer_static"
echo "consumer check: 4 passed, 0 failed"
