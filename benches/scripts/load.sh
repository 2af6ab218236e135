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
# EXTRA_CONNECTIONS="8 64" repeats both measurements at other connection counts.
# Installs wrk with apt-get when it is missing; builds the release binary; generates the
# population once into $WORK (default /tmp/ringfence-load) and imports it once.
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
measure risk.lua "GET /v1/accounts/{id}/risk"
measure inquiry.lua "POST /v1/inquiries"
if [ -n "${EXTRA_CONNECTIONS:-}" ]; then
  for c in $EXTRA_CONNECTIONS; do
    CONNECTIONS=$c measure risk.lua "GET …/risk (-c$c)"
    CONNECTIONS=$c measure inquiry.lua "POST /v1/inquiries (-c$c)"
  done
fi
printf '%-28s %12s\n' "startup_s (median)" "$(printf '%s\n' "${startup[@]}" | median)"
printf '%-28s %12s\n' "rss_mb after start (median)" "$(printf '%s\n' "${rss[@]}" | median)"
printf '%-28s %12s\n' "peak_rss_mb (median)" "$(printf '%s\n' "${peak[@]}" | median)"
printf '%-28s %12s\n' "rss_mb after the load" "$(rss_mb "$server_pid" VmRSS)"
