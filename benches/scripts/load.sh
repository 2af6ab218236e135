#!/usr/bin/env bash
# Load benchmark of `ringfence serve` on loopback (issue 4):
#   GET /v1/accounts/{id}/risk   target ≥ 20k requests/s, p99 ≤ 2 ms
#   POST /v1/inquiries           target ≥ 2k requests/s, p99 ≤ 10 ms (linked and scored in the request)
# plus the start-up time and the server's resident memory (after start-up, and its peak) with
# ACCOUNTS accounts in the store. Prints medians over RUNS runs.
#
#   ACCOUNTS=1000000 RUNS=3 DURATION=20 CONNECTIONS=32 SYNC=full benches/scripts/load.sh
#
# BIN=path uses that binary instead of building (run it once with the old binary and once with
# the new one, same WORK, to compare); STARTUP_RUNS (default RUNS) restarts to time;
# DB=postgres://USER:PASSWORD@HOST/DB measures over PostgreSQL instead of a SQLite file (the
# database must exist; it is imported into when it has no accounts), e.g.
#   DB="$(bash .ci/postgres)" ACCOUNTS=20000 benches/scripts/load.sh
# CLOSED_LOOP=0 skips the wrk measurements.
# EXTRA_CONNECTIONS="8 64" repeats both measurements at other connection counts.
#
# Two kinds of measurement:
# * closed loop (wrk, CONNECTIONS connections each sending its next request as soon as the last
#   is answered): the most the service answers per second; at that saturation the two cores are
#   shared with wrk and the p99 is mostly queueing;
# * open loop at a fixed rate (oha -q RATE --latency-correction): requests are sent on a
#   schedule whether or not earlier ones were answered, and each latency counts from the moment
#   its request was due (no coordinated omission), so the p99 is the latency a caller sees at
#   that load. RATE_GET (default 20000) and RATE_POST (default 2000) are the issue's targets;
#   RATE_GET=0 / RATE_POST=0 skip them. Each endpoint first gets a WARMUP-second run (default
#   5) that is printed but not counted.
# Installs wrk with apt-get and oha with cargo when they are missing; builds the release
# binary; generates the population once into $WORK (default /tmp/ringfence-load), imports it
# once, and (SQLite) starts every invocation from a copy of the imported store.
set -euo pipefail
cd "$(dirname "$0")/../.."

ACCOUNTS="${ACCOUNTS:-1000000}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-20}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
SYNC="${SYNC:-full}"
WORK="${WORK:-/tmp/ringfence-load}"
PORT="${PORT:-18080}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ringfence/target}"
export RINGFENCE__GRAPH__KEY_SECRET="${RINGFENCE__GRAPH__KEY_SECRET:-load benchmark secret, not for production}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

RATE_GET="${RATE_GET:-20000}"
RATE_POST="${RATE_POST:-2000}"
OHA_VERSION=1.16.0
OHA="${OHA:-$(command -v oha || echo "$WORK/tools/bin/oha")}"
if [ ! -x "$OHA" ]; then
  echo "installing oha $OHA_VERSION" >&2
  cargo install --locked --quiet oha --version "$OHA_VERSION" --root "$WORK/tools"
  OHA="$WORK/tools/bin/oha"
fi

if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p ringfence
  BIN="$CARGO_TARGET_DIR/release/ringfence"
fi
mkdir -p "$WORK"
DATA="$WORK/data-$ACCOUNTS"
DB="${DB:-$WORK/store-$ACCOUNTS.db}"
case "$DB" in
  postgres://* | postgresql://*)
    accounts_in_db() { psql "$DB" -tAc "SELECT count(*) FROM accounts" 2>/dev/null || echo 0; }
    store_label="PostgreSQL" ;;
  *)
    accounts_in_db() { if [ -f "$DB" ]; then echo present; else echo 0; fi; }
    store_label="SQLite" ;;
esac
if [ ! -f "$DATA/accounts.csv" ]; then
  "$BIN" generate --accounts "$ACCOUNTS" --seed 1 --out "$DATA"
fi

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
trap stop_server EXIT

# Not called in a subshell: it sets server_pid and ready_secs for the caller.
start_server() { # $1: extra args; sets ready_secs (seconds from start until /readyz answers)
  local t0 t1
  if curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
    echo "something already answers on port $PORT; stop it or set PORT" >&2; exit 1
  fi
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$BIN" serve --db "$DB" --bind "127.0.0.1:$PORT" --synchronous "$SYNC" --relink-every 0 $1 \
    >"$WORK/serve.log" 2>&1 &
  server_pid=$!
  until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
    if ! kill -0 "$server_pid" 2>/dev/null; then cat "$WORK/serve.log" >&2; echo "server died" >&2; exit 1; fi
    sleep 0.2
  done
  t1=$(date +%s.%N)
  ready_secs=$(echo "$t1 - $t0" | bc)
}

if [ "$(accounts_in_db)" = 0 ]; then
  echo "importing $ACCOUNTS accounts into the $store_label store" >&2
  start_server "--import $DATA"
  echo "import + first start: ${ready_secs}s" >&2
  stop_server
fi
# Every invocation starts from the store as imported (SQLite): each run adds inquiries, and an
# account that has gathered dozens of them makes every later write of its cluster dearer (one
# session's ad-hoc runs added 2M inquiries to the same 95k accounts: POST p50 went from 2 ms to
# 8-50 ms at 2k/s). The copy is $DB.imported, made once after the import.
copy_db() { # $1 from, $2 to: the file and its write-ahead log
  cp "$1" "$2"
  if [ -f "$1-wal" ]; then cp "$1-wal" "$2-wal"; else rm -f "$2-wal"; fi
  rm -f "$2-shm"
  # Write the copy out now, so the kernel's writeback of it (~1.6 GB at 1M accounts) does not
  # overlap the measurements.
  sync "$2"
}
if [ "$store_label" = SQLite ]; then
  if [ -f "$DB.imported" ]; then copy_db "$DB.imported" "$DB"; else copy_db "$DB" "$DB.imported"; fi
fi
TOKEN="$("$BIN" keys create --scopes admin --name load --db "$DB")"

# Resident memory of the server in MB: current (VmRSS) and peak (VmHWM).
rss_mb() { awk -v f="$2" '$1==f":"{printf "%.0f\n", $2/1024}' "/proc/$1/status"; }

startup=()
rss=()
peak=()
for _ in $(seq "${STARTUP_RUNS:-$RUNS}"); do
  start_server ""
  startup+=("$ready_secs")
  sleep 2 # let the rebuild's freed memory settle
  rss+=("$(rss_mb "$server_pid" VmRSS)")
  peak+=("$(rss_mb "$server_pid" VmHWM)")
  stop_server
done
start_server ""
entities=$(curl -fs "http://127.0.0.1:$PORT/metrics" | awk '/^ringfence_graph_entities /{print $2}')

cat >"$WORK/risk.lua" <<EOF
math.randomseed(os.time())
wrk.headers["Authorization"] = "Bearer $TOKEN"
request = function()
  return wrk.format("GET", string.format("/v1/accounts/acct_%010d/risk", math.random(1, $ACCOUNTS)))
end
EOF
cat >"$WORK/inquiry.lua" <<EOF
local counter = 0
-- Unique per run: ids of earlier runs must not collide (409s would be measured instead).
math.randomseed(os.time())
local tag = os.time() .. "_" .. math.random(1, 1e9)
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
-- An inquiry of an existing account, from that account's own device and address block, as
-- real traffic mostly is. (Random devices or IPs shared across random accounts would weld the
-- population into one giant cluster within a few runs and measure that instead.)
request = function()
  counter = counter + 1
  local acct = math.random(1, $ACCOUNTS)
  local body = string.format(
    '{"id":"inq_load_%s_%d","account_id":"acct_%010d","device_id":"load-dev-%d","ip_address":"10.%d.%d.%d","status":"created"}',
    tag, counter, acct, acct, acct % 256, math.floor(acct / 256) % 256, math.floor(acct / 65536) % 250 + 1)
  return wrk.format("POST", "/v1/inquiries", nil, body)
end
EOF

# wrk's latency lines: "99%  1.23ms"; normalise to milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; printf "%.3f\n", v}'; }
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

measure() { # $1 script, $2 name
  local rps=() p50=() p99=() out
  for _ in $(seq "$RUNS"); do
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/$1" "http://127.0.0.1:$PORT")
    echo "$out" >>"$WORK/wrk.log"
    if echo "$out" | grep -q "Non-2xx"; then echo "$2: non-2xx responses:" >&2; echo "$out" >&2; fi
    rps+=("$(echo "$out" | awk '/^Requests\/sec/{print $2}')")
    p50+=("$(echo "$out" | awk '$1=="50%"{print $2}' | to_ms)")
    p99+=("$(echo "$out" | awk '$1=="99%"{print $2}' | to_ms)")
  done
  printf '%-28s %12s %10s %10s %6s\n' "$2" \
    "$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${p50[@]}" | median)" \
    "$(printf '%s\n' "${p99[@]}" | median)" "$RUNS"
}

echo
echo "ringfence serve load benchmark: $ACCOUNTS accounts ($entities entities in the graph), $store_label store, synchronous=$SYNC,"
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s on loopback, $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '%-28s %12s %10s %10s %6s\n' "endpoint" "median_rps" "p50_ms" "p99_ms" "runs"
if [ "${CLOSED_LOOP:-1}" != 0 ]; then
  measure risk.lua "GET /v1/accounts/{id}/risk"
  measure inquiry.lua "POST /v1/inquiries"
fi
if [ -n "${EXTRA_CONNECTIONS:-}" ]; then
  for c in $EXTRA_CONNECTIONS; do
    CONNECTIONS=$c measure risk.lua "GET …/risk (-c$c)"
    CONNECTIONS=$c measure inquiry.lua "POST /v1/inquiries (-c$c)"
  done
fi

# Open loop: oha sends RATE requests/s on a schedule; latencies count from each request's due
# time; oha picks each URL or body at random from a file.
measure_rate() { # $1 rate, $2 get|post, $3 name
  local rps=() p50=() p99=() out
  for run in $(seq 0 "$RUNS"); do
    # Run 0 is a warm-up of WARMUP seconds, not counted: the first seconds of writes after
    # start-up are far slower than the rest (p50 ~2 s, p99 ~3.6 s at 2k/s; BENCHMARKS.md).
    local secs="$DURATION"
    if [ "$run" = 0 ]; then secs="$WARMUP"; [ "$secs" = 0 ] && continue; fi
    local args=(--no-tui --output-format json -z "${secs}s" -c "$RATE_CONNECTIONS" -q "$1"
      --latency-correction -H "Authorization: Bearer $TOKEN")
    if [ "$2" = get ]; then
      awk -v n=200000 -v accounts="$ACCOUNTS" -v port="$PORT" 'BEGIN { srand();
        for (i = 1; i <= n; i++)
          printf "http://127.0.0.1:%d/v1/accounts/acct_%010d/risk\n", port, int(rand() * accounts) + 1 }' \
        >"$WORK/urls.txt"
      args+=(--urls-from-file "$WORK/urls.txt")
    else
      # No "id": the server assigns one, so a body oha picks twice is still a new inquiry.
      awk -v n=100000 -v accounts="$ACCOUNTS" 'BEGIN { srand();
        for (i = 1; i <= n; i++) { a = int(rand() * accounts) + 1;
          printf "{\"account_id\":\"acct_%010d\",\"device_id\":\"load-dev-%d\",\"ip_address\":\"10.%d.%d.%d\",\"status\":\"created\"}\n",
            a, a, a % 256, int(a / 256) % 256, int(a / 65536) % 250 + 1 } }' >"$WORK/bodies.ndjson"
      args+=(-m POST -T application/json -Z "$WORK/bodies.ndjson" "http://127.0.0.1:$PORT/v1/inquiries")
    fi
    out=$("$OHA" "${args[@]}")
    echo "$out" >>"$WORK/oha.log"
    read -r r a b e < <(echo "$out" | python3 -c 'import json,sys
d=json.load(sys.stdin); s=d["summary"]; p=d["latencyPercentiles"]
codes=d.get("statusCodeDistribution",{}); bad=sum(v for k,v in codes.items() if not k.startswith("2"))
# Requests still in flight when the duration ends are reported "aborted due to deadline".
failed=sum(v for k,v in d.get("errorDistribution",{}).items() if "deadline" not in k)
print(s["requestsPerSec"], p["p50"]*1000, p["p99"]*1000, bad+failed)')
    if [ "$e" != 0 ]; then echo "$3: $e non-2xx or failed requests" >&2; fi
    if [ "$run" = 0 ]; then echo "$3 warm-up (${secs}s, not counted): p50 ${a} ms, p99 ${b} ms" >&2; continue; fi
    rps+=("$r"); p50+=("$a"); p99+=("$b")
  done
  printf '%-28s %12.0f %10.3f %10.3f %6s\n' "$3" \
    "$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${p50[@]}" | median)" \
    "$(printf '%s\n' "${p99[@]}" | median)" "$RUNS"
}
RATE_CONNECTIONS="${RATE_CONNECTIONS:-64}"
WARMUP="${WARMUP:-5}"
if [ "$RATE_GET" != 0 ] || [ "$RATE_POST" != 0 ]; then
  echo "open loop: oha -c$RATE_CONNECTIONS -q RATE --latency-correction -z ${DURATION}s"
  [ "$RATE_GET" = 0 ] || measure_rate "$RATE_GET" get "GET …/risk @${RATE_GET}/s"
  [ "$RATE_POST" = 0 ] || measure_rate "$RATE_POST" post "POST …/inquiries @${RATE_POST}/s"
fi
# What one synchronous 4 KiB write costs on the store's disk (dd oflag=dsync), for scale: on
# this VM it read 3.8 ms, SQLite's WAL fsync per commit (an overwrite) 0.5 ms, and the database
# file's fsync at a checkpoint ~9 ms (strace; BENCHMARKS.md).
dd if=/dev/zero of="$WORK/fsync.probe" bs=4k count=200 status=none
sync_s=$(dd if=/dev/zero of="$WORK/fsync.probe" bs=4k count=200 oflag=dsync conv=notrunc 2>&1 |
  awk '/copied/{print $(NF-3)}')
rm -f "$WORK/fsync.probe"
printf '%-28s %12.2f\n' "disk sync write ms (dd)" "$(echo "$sync_s * 1000 / 200" | bc -l)"
printf '%-28s %12s\n' "startup_s (median)" "$(printf '%s\n' "${startup[@]}" | median)"
printf '%-28s %12s\n' "rss_mb after start (median)" "$(printf '%s\n' "${rss[@]}" | median)"
printf '%-28s %12s\n' "peak_rss_mb (median)" "$(printf '%s\n' "${peak[@]}" | median)"
printf '%-28s %12s\n' "rss_mb after the load" "$(rss_mb "$server_pid" VmRSS)"
