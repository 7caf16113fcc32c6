#!/usr/bin/env bash
# The pkg-config consumer check: install the build to a staging prefix, then
# for each tests/consumer/consumer_<name>.c build and run it against the
# installed libmox<name> with only
#   1. pkg-config --cflags --libs libmox<name>           (shared)
#   2. pkg-config --static --cflags --libs libmox<name>  (static archives,
#      which checks Requires.private/Libs.private are complete)
#   3. find_package(mox COMPONENTS <name>) from CMake    (mox::<name>, mox::<name>_static)
# Usage: run.sh BUILD_DIR SOURCE_DIR WORK_DIR CC [extra cflags...]
set -euo pipefail
build=$1 src=$2 work=$3 cc=$4
shift 4
extra=("$@")
stage="$work/stage"
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$stage" >"$work/install.log"

pcdir=$(dirname "$(find "$stage" -name libmoxcore.pc | head -1)")
libdir=$(dirname "$pcdir")
export PKG_CONFIG_PATH="$pcdir"
# The staged libdir is not in the linker's default path: let ld find the
# libraries that ours need themselves (Requires.private), as it would in
# /usr/lib, and the programs find them at run time.
export LD_LIBRARY_PATH="$libdir"
passed=0

# One consumer_<name>.c per library: each is built and run against the
# installed libmox<name> alone.
for c in "$src"/tests/consumer/consumer_*.c; do
	name=$(basename "$c" .c)
	name=${name#consumer_}
	lib=libmox$name
	echo "==== $lib"
	test -f "$stage/include/mox/$name.h" || { echo "no installed header mox/$name.h"; exit 1; }
	test -L "$libdir/$lib.so.0" || { echo "no SONAME link $lib.so.0"; exit 1; }
	objdump -p "$libdir/$lib.so" | grep -q "SONAME *$lib.so.0" ||
		{ echo "wrong SONAME"; exit 1; }
	# Only mox_ symbols are exported.
	bad=$(nm -D --defined-only "$libdir/$lib.so" | awk '{print $3}' | grep -v '^mox_' | grep -v '^_' || true)
	if [ -n "$bad" ]; then
		echo "$lib.so exports non-mox_ symbols: $bad"
		exit 1
	fi

	echo "== shared: pkg-config --cflags --libs $lib: $(pkg-config --cflags --libs "$lib")"
	# shellcheck disable=SC2046
	"$cc" "${extra[@]}" -o "$work/${name}_shared" "$c" $(pkg-config --cflags --libs "$lib")
	"$work/${name}_shared"
	passed=$((passed + 1))

	static_libs=$(pkg-config --static --libs "$lib" | sed -E 's/-lmox([a-z]+)\b/-l:libmox\1.a/g')
	echo "== static: pkg-config --static --libs $lib: $static_libs"
	# shellcheck disable=SC2046,SC2086
	"$cc" "${extra[@]}" -o "$work/${name}_static" "$c" $(pkg-config --cflags "$lib") $static_libs
	if ldd "$work/${name}_static" | grep -q libmox; then
		echo "static consumer still links a shared libmox"
		exit 1
	fi
	"$work/${name}_static"
	passed=$((passed + 1))

	echo "== CMake find_package(mox COMPONENTS $name)"
	mkdir -p "$work/cmake-$name"
	sed "s/@NAME@/$name/g" "$src/tests/consumer/CMakeLists.txt.in" >"$work/cmake-$name/CMakeLists.txt"
	cp "$c" "$work/cmake-$name/consumer.c"
	cmake -S "$work/cmake-$name" -B "$work/cmake-$name/build" -DCMAKE_PREFIX_PATH="$stage" \
		-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="${extra[*]}" \
		-DCMAKE_EXE_LINKER_FLAGS="${extra[*]}" >"$work/cmake-$name.log"
	cmake --build "$work/cmake-$name/build" >>"$work/cmake-$name.log"
	"$work/cmake-$name/build/consumer_shared"
	"$work/cmake-$name/build/consumer_static"
	passed=$((passed + 2))
done
echo "consumer check: $passed passed, 0 failed"
