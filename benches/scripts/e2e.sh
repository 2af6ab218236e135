#!/usr/bin/env bash
# End-to-end benchmark: generate N accounts, time `ringfence ingest` and `ringfence link`, and
# in the same run time the Python peer (benches/scripts/peer_link.py) on the same files.
# Prints medians of RUNS runs, peak memory and the ratio peer / Ringfence. `link` is the default
# command (duplicate detection included); `link_only` is the linker with `[dedupe] enabled =
# false`, the like-for-like comparison with the peer.
#
#   benches/scripts/e2e.sh                 # SIZES="1000000 10000000" RUNS=3
#   SIZES=1000000 RUNS=5 benches/scripts/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES="${SIZES:-1000000 10000000}"
RUNS="${RUNS:-3}"
WORK="${WORK:-/tmp/ringfence-e2e}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ringfence/target}"
export RINGFENCE__GRAPH__KEY_SECRET="${RINGFENCE__GRAPH__KEY_SECRET:-benchmark secret, not for production}"
mkdir -p "$WORK"

command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
VENV="$WORK/venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q polars numpy scipy
fi
if [ -z "${BIN:-}" ]; then  # BIN=path: measure that binary instead of building one
  cargo build --release --locked -p ringfence
  BIN="$CARGO_TARGET_DIR/release/ringfence"
fi

# measure NAME CMD...: appends "seconds peak_kib" to $WORK/NAME.times; a failed Ringfence step
# stops the script, a failed peer run (at 10M it ran out of memory) is reported and the step shows "failed".
measure() {
  local name="$1"; shift
  if /usr/bin/time -f "%e %M" -o "$WORK/.t" "$@" >/dev/null 2>"$WORK/$name.log"; then
    cat "$WORK/.t" >> "$WORK/$name.times"
  elif [ "$name" = peer ]; then
    echo "peer run failed: $(grep -h -m1 -i 'killed\|error' "$WORK/.t" "$WORK/$name.log" || tail -1 "$WORK/$name.log")" >&2
  else
    cat "$WORK/$name.log"; exit 1
  fi
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf '\n%-10s %-22s %10s %10s %12s\n' accounts step median_s runs peak_MiB
for n in $SIZES; do
  d="$WORK/n$n"
  if [ ! -f "$d/data/accounts.csv" ]; then "$BIN" generate --accounts "$n" --seed 1 --out "$d/data" 2>/dev/null; fi
  rows=$(( $(wc -l < "$d/data/accounts.csv") + $(wc -l < "$d/data/inquiries.csv") - 2 ))
  rm -f "$WORK"/*.times
  for _ in $(seq "$RUNS"); do
    measure ingest "$BIN" ingest --accounts "$d/data/accounts.csv" --inquiries "$d/data/inquiries.csv" --out "$d/canonical"
    measure link "$BIN" link "$d/canonical" --out "$d/results"
    # The linker alone, as the peer does no duplicate detection.
    printf '[dedupe]\nenabled = false\n' > "$WORK/no-dedupe.toml"
    measure link_only "$BIN" link "$d/canonical" --out "$d/results-link-only" --config "$WORK/no-dedupe.toml"
    mkdir -p "$d/peer"
    measure peer "$VENV/bin/python" benches/scripts/peer_link.py "$d/data/accounts.csv" "$d/data/inquiries.csv" "$d/peer"
  done
  for s in ingest link link_only peer; do
    if [ ! -s "$WORK/$s.times" ]; then
      printf '%-10s %-22s %10s %10s %12s\n' "$n" "$s" "failed" "$RUNS" "-"
      eval "med_$s=0"
      continue
    fi
    med=$(awk '{print $1}' "$WORK/$s.times" | median)
    peak=$(awk '{print $2}' "$WORK/$s.times" | sort -n | tail -1)
    printf '%-10s %-22s %10s %10s %12d\n' "$n" "$s" "$med" "$RUNS" $((peak / 1024))
    eval "med_$s=$med"
  done
  # shellcheck disable=SC2154
  awk -v i="$med_ingest" -v l="$med_link" -v p="$med_peer" -v r="$rows" -v n="$n" 'BEGIN {
    printf "%-10s %-22s %10.2f\n", n, "ringfence_total", i + l;
    printf "%-10s %-22s %10.0f rows/s\n", n, "ingest_throughput", r / i;
    if (p > 0) printf "%-10s %-22s %10.2fx\n", n, "peer/ringfence", p / (i + l);
    else printf "%-10s %-22s %10s\n", n, "peer/ringfence", "peer failed" }'
done
