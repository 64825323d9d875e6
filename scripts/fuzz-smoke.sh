#!/usr/bin/env bash
# Fuzz every format analyzer for a short while (the smoke run CI does), or one of them longer.
#
#   scripts/fuzz-smoke.sh              # build all targets, run each for FUZZ_SECONDS (default 15)
#   scripts/fuzz-smoke.sh pdf 600      # build, then run only `pdf` for 600 s
#   scripts/fuzz-smoke.sh csv png      # several targets, FUZZ_SECONDS each
#
# Needs only a stable Rust toolchain and a C++ compiler (libfuzzer-sys builds libFuzzer from
# source): cargo-fuzz is installed into ~/.cargo/bin on first use, and its nightly flags are
# allowed with RUSTC_BOOTSTRAP=1. Each target starts from the repository's test files of its format
# (crates/formats/tests/data/<format>/ and files of its extensions elsewhere under tests/data/),
# copied into the gitignored fuzz/corpus/<target>/, which keeps what the fuzzer finds interesting
# between runs.
#
# Exits non-zero if any target crashes (a panic escaping an analyzer), hangs past FUZZ_TIMEOUT
# seconds on one input, or goes over FUZZ_RSS_MB of memory; the reproducer is printed and kept
# under fuzz/artifacts/<target>/. Replay one with `scripts/fuzz-smoke.sh <target> -- <file>`
# (libFuzzer flags may follow, e.g. -runs=100), then make it a test in crates/formats/tests/.
#
# Environment: FUZZ_SECONDS (15), FUZZ_TIMEOUT (10), FUZZ_RSS_MB (2048), FUZZ_ARGS (more libFuzzer
# flags, e.g. "-max_len=4096" for many more runs on small inputs, or "-seed=N" to repeat a run),
# FUZZ_SANITIZER (address; `none` builds about a third faster but misses memory errors in
# dependencies' unsafe code and single huge allocations), CARGO_TARGET_DIR (fuzz/target if unset;
# the fuzz build lives under <dir>/x86_64-unknown-linux-gnu/ and does not disturb other builds).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(csv pdf docx xlsx jpeg png webp)
seconds=${FUZZ_SECONDS:-15}
timeout=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
sanitizer=${FUZZ_SANITIZER:-address}

# Arguments: target names, then optionally a duration in seconds; or `<target> -- <file>...` to
# replay inputs.
targets=()
replay=()
while (($#)); do
    case $1 in
        --) shift; replay=("$@"); break ;;
        *[!0-9]*) targets+=("$1") ;;
        *) seconds=$1 ;;
    esac
    shift
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "unknown target: $t (one of: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (once, about 1.5 min)"
    cargo install cargo-fuzz --version 0.13.2 --locked
fi

# cargo-fuzz passes -Z flags (sanitizer, sancov); a stable rustc takes them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
# Keep cargo-fuzz's own error short (its backtrace says nothing about the finding).
export RUST_LIB_BACKTRACE=0
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Leaks found by LeakSanitizer are findings too, but for the false ones listed there.
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Same flags for build and run, so `cargo fuzz run` finds the build fresh.
build_flags=(--sanitizer "$sanitizer")

if ((${#replay[@]})); then
    ((${#targets[@]} == 1)) || { echo "replay needs exactly one target" >&2; exit 2; }
    # Files are inputs; anything starting with `-` is a libFuzzer flag (e.g. -runs=100).
    files=() flags=()
    for a in "${replay[@]}"; do
        if [[ $a == -* ]]; then flags+=("$a"); else files+=("$a"); fi
    done
    exec cargo fuzz run "${build_flags[@]}" "${targets[0]}" "${files[@]}" -- \
        -rss_limit_mb="$rss_mb" -timeout="$timeout" "${flags[@]}"
fi

echo "== building fuzz targets: ${targets[*]} (sanitizer: $sanitizer)"
start=$SECONDS
if ((${#targets[@]} == ${#ALL_TARGETS[@]})); then
    cargo fuzz build "${build_flags[@]}"
else
    for t in "${targets[@]}"; do cargo fuzz build "${build_flags[@]}" "$t"; done
fi
echo "== built in $((SECONDS - start)) s"

# The test files that seed a target: all of tests/data/<target>/ (but its SOURCES.md), and files
# of the target's extensions anywhere under tests/data/.
seed_files() {
    local data=crates/formats/tests/data exts
    case $1 in
        csv) exts=(csv tsv tab txt) ;;
        jpeg) exts=(jpg jpeg) ;;
        *) exts=("$1") ;;
    esac
    [[ -d $data ]] || return 0
    # PDF seeds over 256 KiB are left out: under AddressSanitizer pdf-extract's parser (nom,
    # deeply recursive) runs about 100 times slower, and one 500 KB seed alone takes ~50 s, past
    # the per-input timeout, without being a hang (0.5 s in a plain build).
    local size=()
    [[ $1 != pdf ]] || size=(-size -256k)
    if [[ -d $data/$1 ]]; then
        find "$data/$1" -maxdepth 1 -type f ! -name '*.md' "${size[@]}"
    fi
    for e in "${exts[@]}"; do find "$data" -type f -iname "*.$e" "${size[@]}"; done
}

failed=()
for t in "${targets[@]}"; do
    corpus=fuzz/corpus/$t
    artifacts=fuzz/artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    seed_files "$t" | while IFS= read -r f; do cp -f "$f" "$corpus/"; done
    log=fuzz/artifacts/$t.log
    stamp=$(mktemp)
    echo "== fuzzing $t for $seconds s ($(find "$corpus" -type f | wc -l) inputs in $corpus; log: $log)"
    status=0
    # Text gains nothing from inputs the size of the 1.3 MB nfl.csv but many times fewer runs; the
    # driver's CSV limits fit in 128 KiB, past the 64 KiB encoding-detection prefix. Other types
    # keep libFuzzer's default (their largest seed, up to 1 MiB): a cut ZIP or PDF loses its end.
    max_len=()
    [[ $t != csv ]] || max_len=(-max_len=131072)
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    cargo fuzz run "${build_flags[@]}" "$t" "$corpus" -- \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_mb" \
        -print_final_stats=1 "${max_len[@]}" ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
    mapfile -t found < <(find "$artifacts" -type f -newer "$stamp" | sort)
    rm -f "$stamp"
    if ((status == 0 && ${#found[@]} == 0)); then
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed 's/^/   /'
    else
        failed+=("$t")
        # Long lines are the input printed as bytes by cargo-fuzz.
        tail -n 100 "$log" | cut -c1-300
        echo "!! $t: exit status $status; reproducer(s):"
        ((${#found[@]})) || found=("(none written; see $log)")
        printf '   %s\n' "${found[@]}"
    fi
done

if ((${#failed[@]})); then
    echo "== FAILED: ${failed[*]}"
    echo "   replay with: scripts/fuzz-smoke.sh <target> -- <reproducer>"
    exit 1
fi
echo "== no findings in ${targets[*]} ($seconds s each)"
