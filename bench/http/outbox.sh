#!/usr/bin/env bash
# bench/http/outbox.sh: what the outbox costs POST /allocate, in one run. Two allocation-servers on fresh SQLite
# files, one with the outbox (the default: rows stored with each commit, delivered by the relay) and one with
# --outbox off (the bus delivers right after the commit, nothing stored), take turns under the same wrk settings:
# ROUNDS rounds, each one wrk run against each server, the order alternating from round to round. Prints each run
# and the medians, and the ratio with/without.
#
#   bash bench/http/outbox.sh                 # 5 rounds of 10 s at 16 connections, synchronous=full
#   ROUNDS=3 DURATION=5 CONNECTIONS=4 SYNCHRONOUS=normal BUILD=0 bash bench/http/outbox.sh
#
# Environment: ROUNDS (5), DURATION (seconds per run, 10), CONNECTIONS (16), SYNCHRONOUS (full), BUILD_DIR
# (build/bench-release), BUILD=0 to skip the build, PYTHON. wrk runs -t2 (-t1 at one connection).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
SYNCHRONOUS=${SYNCHRONOUS:-full}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/bench-release}
PYTHON=${PYTHON:-python3}
SERVER=$BUILD_DIR/examples/server/allocation-server
SKUS=100
THREADS=2
(( CONNECTIONS < 2 )) && THREADS=1

if [[ ${BUILD:-1} == 1 ]]; then
  (cd "$ROOT" && cmake --preset release -B "$BUILD_DIR" >/dev/null && cmake --build "$BUILD_DIR" -j2 --target allocation_server >/dev/null)
fi
[[ -x $SERVER ]] || { echo "outbox.sh: build $SERVER first" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-bench-outbox.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A PORT
start() {  # start NAME OUTBOX
  local port
  port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$SERVER" --db "$WORK/$1.db" --port "$port" --synchronous "$SYNCHRONOUS" --outbox "$2" >"$WORK/$1.out" 2>"$WORK/$1.log" &
  PIDS+=("$!")
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break; sleep 0.1; done
  "$PYTHON" "$HERE/seed.py" 127.0.0.1 "$port" "$WORK/seed-$1" --skus "$SKUS" >/dev/null
  PORT[$1]=$port
}

run() {  # run NAME ROUND: one wrk run, its 2xx per second on stdout
  local out=$WORK/wrk-$1-$2.txt
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$HERE/allocate.lua" "http://127.0.0.1:${PORT[$1]}" -- \
    "$1-$2" "$SKUS" >"$out" 2>&1 || true
  grep '^RESULT ' "$out" | tail -n 1 | tr ' ' '\n' | awk -F= '
    $1 == "requests" { n = $2 } $1 == "non2xx" { bad = $2 } $1 == "duration_us" { d = $2 / 1e6 }
    END { printf "%.0f\n", (d > 0 ? (n - bad) / d : 0) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== $(uptime)"
echo "== POST /allocate, synchronous=$SYNCHRONOUS, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds"
start with on
start without off
for name in with without; do run "$name" warm >/dev/null; done  # warm-up, not counted
WITH=() WITHOUT=()
for round in $(seq "$ROUNDS"); do
  if (( round % 2 )); then order=(with without); else order=(without with); fi
  for name in "${order[@]}"; do
    rps=$(run "$name" "$round")
    if [[ $name == with ]]; then WITH+=("$rps"); else WITHOUT+=("$rps"); fi
    echo "  round $round  outbox $( [[ $name == with ]] && echo on || echo off )  $rps 2xx/s"
  done
done
w=$(printf '%s\n' "${WITH[@]}" | median)
wo=$(printf '%s\n' "${WITHOUT[@]}" | median)
echo "== medians: outbox on $w 2xx/s, off $wo 2xx/s, on/off $(awk -v a="$w" -v b="$wo" 'BEGIN { printf "%.1f%%", 100 * a / b }')"
echo "== $(uptime)"
