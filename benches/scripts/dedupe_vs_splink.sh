#!/usr/bin/env bash
# Duplicate detection: `ringfence dedupe` against Splink (DuckDB backend) on the same generated
# accounts, in one run. Both start from the same `ringfence ingest` output (Splink reads the
# normalised values; data preparation is not timed for either), both train without labels,
# both call a pair a duplicate at match probability >= 0.9, and both are scored pairwise
# against truth.csv's person_id. Splink runs twice: its default-style model, and with the
# ID-number `else` level's m fixed as Ringfence's default does (see splink_dedupe.py).
# Ringfence's time is the whole `ringfence dedupe` command (reading Parquet, training,
# scoring, grouping, writing the outputs); Splink's is model set-up, training and prediction.
#
#   benches/scripts/dedupe_vs_splink.sh                   # N=100000 RUNS=3
#   N=1000000 SPLINK=0 benches/scripts/dedupe_vs_splink.sh # Ringfence alone at 1M
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${N:-100000}"
RUNS="${RUNS:-3}"
SPLINK="${SPLINK:-1}"
WORK="${WORK:-/tmp/ringfence-dedupe-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ringfence/target}"
export RINGFENCE__GRAPH__KEY_SECRET="${RINGFENCE__GRAPH__KEY_SECRET:-benchmark secret, not for production}"
mkdir -p "$WORK"

VENV="$WORK/venv"
if [ "$SPLINK" = 1 ] && [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'splink>=4.0,<5' duckdb pyarrow
fi
if [ -z "${BIN:-}" ]; then  # BIN=path: measure that binary instead of building one
  cargo build --release --locked -p ringfence
  BIN="$CARGO_TARGET_DIR/release/ringfence"
fi

d="$WORK/n$N"
if [ ! -f "$d/data/accounts.csv" ]; then
  "$BIN" generate --accounts "$N" --seed 5 --out "$d/data" 2>/dev/null
fi
if [ ! -f "$d/canonical/entities.parquet" ]; then
  "$BIN" ingest --accounts "$d/data/accounts.csv" --out "$d/canonical" 2>/dev/null >/dev/null
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: > "$WORK/ringfence.times"
for _ in $(seq "$RUNS"); do
  s=$(date +%s%N)
  "$BIN" dedupe "$d/canonical" --out "$d/ringfence" --top 0 >/dev/null 2>"$WORK/ringfence.log" \
    || { cat "$WORK/ringfence.log"; exit 1; }
  e=$(date +%s%N)
  awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", (e - s) / 1e9 }' >> "$WORK/ringfence.times"
done
rf_s=$(median < "$WORK/ringfence.times")
rf=$("$BIN" eval --truth "$d/data/truth.csv" --results "$d/ringfence" --json)
rf_json=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1])["duplicate_pairs"]; print(json.dumps({k: r[k] for k in ("precision","recall","f1","predicted","actual")}))' "$rf")

printf '\n%-10s %-28s %10s %6s %9s %9s %9s %9s\n' accounts tool median_s runs precision recall f1 pairs
row() { # name seconds runs json
  python3 -c 'import json,sys
n,t,s,r,j=sys.argv[1:6]; j=json.loads(j)
print("%-10s %-28s %10.2f %6s %9.4f %9.4f %9.4f %9d" % (n,t,float(s),r,j["precision"],j["recall"],j["f1"],j.get("predicted",j.get("pairs",0))))' "$N" "$1" "$2" "$3" "$4"
}
row ringfence "$rf_s" "$RUNS" "$rf_json"

if [ "$SPLINK" = 1 ]; then
  for variant in default fixed_gov_id_m; do
    : > "$WORK/splink.times"
    last=""
    for _ in $(seq "$RUNS"); do
      last=$("$VENV/bin/python" benches/scripts/splink_dedupe.py "$d/canonical" "$d/data/truth.csv" "$variant" 2>"$WORK/splink.log" | tail -1) \
        || { cat "$WORK/splink.log"; exit 1; }
      python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$last" >> "$WORK/splink.times"
    done
    sp_s=$(median < "$WORK/splink.times")
    row "splink_$variant" "$sp_s" "$RUNS" "$last"
    awk -v s="$sp_s" -v r="$rf_s" -v v="$variant" 'BEGIN { printf "%-10s %-28s %9.1fx\n", "", "speed-up vs splink_" v, s / r }'
  done
fi
