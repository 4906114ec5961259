#!/bin/sh
# scripts/fuzz.sh: build and briefly run every libFuzzer target (`make fuzz`).
#
# Each tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput and may list
# service files it needs on lines "// uses: services/<svc>/<file>.c" (as unit
# tests do). It is linked with libslipway (services/lib/*.c plus the generated
# protobuf-c code), built here with clang -fsanitize=fuzzer,address,undefined
# into build-fuzz/, and run for FUZZ_SECONDS seconds with its corpus in
# build-fuzz/corpus/<name> (seeds, if any, from tests/fuzz/corpus/<name>, and a
# dictionary from tests/fuzz/<name>.dict). Exits non-zero when any target
# fails to build or finds a crash; crashing inputs are kept in
# build-fuzz/artifacts/<name>/.
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 20)
#   FUZZ_TARGETS  space-separated names to run (default: all), e.g. "imageref envelope"
#   FUZZ_CC       compiler (default clang)
#   FUZZ_OUT      build and corpus directory (default build-fuzz)
#
# clang 14 on Debian needs the package libclang-rt-14-dev for the libFuzzer and
# sanitizer runtimes (libclang_rt.fuzzer-x86_64.a etc.); clang alone does not
# ship them.
set -u

cd "$(dirname "$0")/.." || exit 1

OUT=${FUZZ_OUT:-build-fuzz}
CC=${FUZZ_CC:-clang}
SECONDS_PER=${FUZZ_SECONDS:-20}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS_BASE="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra"
INC="-I$OUT/gen -Iservices/lib -Iservices"

log() { printf 'fuzz: %s\n' "$*" >&2; }

# The pkg-config packages the Makefile links against. A name pkg-config does
# not know is retried without its "lib" prefix (librdkafka ships rdkafka.pc).
pkgs() {
	for p in $(sed -n 's/^PKGS[[:space:]]*:\{0,1\}=[[:space:]]*//p' Makefile); do
		if pkg-config --exists "$p"; then
			printf '%s ' "$p"
		elif pkg-config --exists "${p#lib}"; then
			printf '%s ' "${p#lib}"
		else
			log "warning: pkg-config does not know $p"
		fi
	done
}

# Fails early, with the package to install, when the fuzzer runtime is missing.
check_toolchain() {
	if ! command -v "$CC" >/dev/null 2>&1; then
		log "$CC not found: apt-get install clang"
		exit 1
	fi
	mkdir -p "$OUT/probe"
	printf '%s\n' '#include <stdint.h>' '#include <stddef.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	    > "$OUT/probe/probe.c"
	if ! $CC -fsanitize=fuzzer,address,undefined -o "$OUT/probe/probe" \
	    "$OUT/probe/probe.c" >"$OUT/probe/log" 2>&1; then
		log "clang cannot link a libFuzzer target (no libclang_rt.fuzzer):"
		sed 's/^/    /' "$OUT/probe/log" | head -5 >&2
		log "install it: apt-get install -y libclang-rt-14-dev"
		exit 1
	fi
}

# Compiles $1 (a .c file) to $2 unless $2 is newer than $1 and every header.
compile() {
	# POSIX sh has no locals: c_* names keep callers' variables intact.
	c_src=$1 c_obj=$2
	if [ -f "$c_obj" ] && [ "$c_obj" -nt "$c_src" ] && [ "$c_obj" -nt "$OUT/.headers" ]; then
		return 0
	fi
	mkdir -p "$(dirname "$c_obj")"
	# shellcheck disable=SC2086
	$CC $CFLAGS_BASE $SAN -fsanitize=fuzzer-no-link $INC $PKG_CFLAGS -c -o "$c_obj" "$c_src"
}

# Generated protobuf-c sources, as the Makefile makes them (never committed).
gen_protos() {
	mkdir -p "$OUT/gen"
	for proto in proto/slipway/v1/*.proto; do
		[ -f "$proto" ] || continue
		rel=${proto#proto/}
		c="$OUT/gen/${rel%.proto}.pb-c.c"
		if [ ! -f "$c" ] || [ "$proto" -nt "$c" ]; then
			protoc-c -Iproto --c_out="$OUT/gen" "$proto" || return 1
		fi
	done
}

# The newest header: any change rebuilds every object.
stamp_headers() {
	newest=$(ls -t services/lib/*.h services/*/*.h "$OUT"/gen/slipway/v1/*.h 2>/dev/null | head -1)
	if [ -n "$newest" ] && { [ ! -f "$OUT/.headers" ] || [ "$newest" -nt "$OUT/.headers" ]; }; then
		touch "$OUT/.headers"
	fi
	[ -f "$OUT/.headers" ] || touch "$OUT/.headers"
}

# libslipway for fuzzing. A library file that does not compile yet is left
# out with a warning; targets that need it then fail to link, and say so.
build_lib() {
	objs=""
	for src in services/lib/*.c "$OUT"/gen/slipway/v1/*.pb-c.c; do
		[ -f "$src" ] || continue
		l_obj="$OUT/obj/$(printf '%s' "${src%.c}" | sed "s|^$OUT/||; s|/|_|g").o"
		if compile "$src" "$l_obj"; then
			objs="$objs $l_obj"
		else
			log "warning: $src does not compile; left out of libslipway"
		fi
	done
	rm -f "$OUT/libslipway.a"
	# shellcheck disable=SC2086
	ar rcs "$OUT/libslipway.a" $objs
}

# Builds one target; prints nothing, returns non-zero on failure.
build_target() {
	t_src=$1 t_name=$2
	t_objs=""
	for use in $(sed -n 's|^// uses: ||p' "$t_src"); do
		t_obj="$OUT/obj/$(printf '%s' "${use%.c}" | sed 's|/|_|g').o"
		compile "$use" "$t_obj" || return 1
		t_objs="$t_objs $t_obj"
	done
	compile "$t_src" "$OUT/obj/fuzz_$t_name.o" || return 1
	# shellcheck disable=SC2086
	$CC $SAN -fsanitize=fuzzer -o "$OUT/fuzz_$t_name" "$OUT/obj/fuzz_$t_name.o" \
	    $t_objs "$OUT/libslipway.a" $PKG_LIBS -lpthread
}

# Runs one target for SECONDS_PER seconds; returns libFuzzer's status.
run_target() {
	name=$1
	corpus="$OUT/corpus/$name"
	mkdir -p "$corpus" "$OUT/artifacts/$name"
	seeds=""
	[ -d "tests/fuzz/corpus/$name" ] && seeds="tests/fuzz/corpus/$name"
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	# shellcheck disable=SC2086
	"$OUT/fuzz_$name" -max_total_time="$SECONDS_PER" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$OUT/artifacts/$name/" $dict "$corpus" $seeds \
	    >"$OUT/fuzz_$name.log" 2>&1
}

# 1 when name was asked for (or nothing was).
wanted() {
	[ -z "${FUZZ_TARGETS:-}" ] && return 0
	for t in $FUZZ_TARGETS; do
		[ "$t" = "$1" ] && return 0
	done
	return 1
}

main() {
	check_toolchain
	PKGS=$(pkgs)
	# shellcheck disable=SC2086
	PKG_CFLAGS=$(pkg-config --cflags $PKGS 2>/dev/null)
	# shellcheck disable=SC2086
	PKG_LIBS=$(pkg-config --libs $PKGS 2>/dev/null)
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
	gen_protos || { log "protoc-c failed"; exit 1; }
	stamp_headers
	build_lib
	failed=""
	ran=0
	for src in tests/fuzz/fuzz_*.c; do
		[ -f "$src" ] || continue
		name=$(basename "$src" .c)
		name=${name#fuzz_}
		wanted "$name" || continue
		if ! build_target "$src" "$name"; then
			log "$name: BUILD FAILED"
			failed="$failed $name(build)"
			continue
		fi
		ran=$((ran + 1))
		log "$name: running ${SECONDS_PER}s"
		if run_target "$name"; then
			log "$name: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' \
			    "$OUT/fuzz_$name.log" | grep -o '[0-9]*$') runs)"
		else
			log "$name: FAILED, see $OUT/fuzz_$name.log and $OUT/artifacts/$name/"
			grep -m 3 'ERROR:\|SUMMARY:\|runtime error' "$OUT/fuzz_$name.log" | sed 's/^/    /' >&2
			failed="$failed $name"
		fi
	done
	if [ -n "$failed" ]; then
		log "failed:$failed"
		exit 1
	fi
	log "all $ran target(s) passed"
}

main "$@"
