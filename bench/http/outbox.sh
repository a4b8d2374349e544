#!/usr/bin/env bash
# bench/http/outbox.sh: what the outbox costs POST /allocate, in one run. One allocation-server on a fresh SQLite
# file (every commit stores its outbox row, delivered at once with no Redis to send to, the mark written by the next
# commit), seeded by seed.py, runs ROUNDS wrk runs of POST /allocate; before the first and after the last,
# `bench_sqlite floor` measures raw SQLite doing the same transaction with the outbox row and mark (the floor the
# HTTP bench uses) and without them. Prints each run, the median, and the ratios to both floors.
#
#   bash bench/http/outbox.sh                 # 5 rounds of 10 s at 16 connections, synchronous=full
#   ROUNDS=3 DURATION=5 CONNECTIONS=4 SYNCHRONOUS=normal BUILD=0 bash bench/http/outbox.sh
#
# Environment: ROUNDS (5), DURATION (seconds per run, 10), CONNECTIONS (16), SYNCHRONOUS (full), FLOOR_ALLOCATIONS
# (allocations per floor run: 3000 with full, 20000 with normal), BUILD_DIR (build/bench-release), BUILD=0 to skip
# the build, PYTHON. wrk runs -t2 (-t1 at one connection).
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
BENCH_SQLITE=$BUILD_DIR/bench/bench_sqlite
if [[ $SYNCHRONOUS == full ]]; then FLOOR_ALLOCATIONS=${FLOOR_ALLOCATIONS:-3000}; else FLOOR_ALLOCATIONS=${FLOOR_ALLOCATIONS:-20000}; fi
SKUS=100
THREADS=2
(( CONNECTIONS < 2 )) && THREADS=1

if [[ ${BUILD:-1} == 1 ]]; then
  (cd "$ROOT" && cmake --preset release -B "$BUILD_DIR" >/dev/null &&
     cmake --build "$BUILD_DIR" -j2 --target allocation_server bench_sqlite >/dev/null)
fi
[[ -x $SERVER && -x $BENCH_SQLITE ]] || { echo "outbox.sh: build $SERVER and $BENCH_SQLITE first" >&2; exit 2; }
command -v wrk >/dev/null || { echo "outbox.sh: needs wrk (Debian: apt-get install wrk)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-bench-outbox.XXXXXX")
PID=""
cleanup() {
  if [[ -n $PID ]]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SERVER" --db "$WORK/server.db" --port "$PORT" --synchronous "$SYNCHRONOUS" >"$WORK/server.out" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null && break; sleep 0.1; done
"$PYTHON" "$HERE/seed.py" 127.0.0.1 "$PORT" "$WORK/seed" --skus "$SKUS" >/dev/null

post() {  # post ROUND: one wrk run, its 2xx per second on stdout
  local out=$WORK/wrk-$1.txt
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$HERE/allocate.lua" "http://127.0.0.1:$PORT" -- \
    "run-$1" "$SKUS" >"$out" 2>&1 || true
  grep '^RESULT ' "$out" | tail -n 1 | tr ' ' '\n' | awk -F= '
    $1 == "requests" { n = $2 } $1 == "non2xx" { bad = $2 } $1 == "duration_us" { d = $2 / 1e6 }
    END { printf "%.0f\n", (d > 0 ? (n - bad) / d : 0) }'
}

floor() {  # floor: "WITH WITHOUT", raw SQLite's allocations per second
  "$BENCH_SQLITE" floor "$SYNCHRONOUS" "$FLOOR_ALLOCATIONS" | awk -F'[ =]' '/^FLOOR / { print $3, $5 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== $(uptime)"
echo "== POST /allocate, synchronous=$SYNCHRONOUS, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds"
read -r with1 without1 < <(floor)
echo "  floor before: with the outbox $with1/s, without $without1/s"
post warm >/dev/null  # warm-up, not counted
RATES=()
for round in $(seq "$ROUNDS"); do
  rps=$(post "$round")
  RATES+=("$rps")
  echo "  round $round  $rps 2xx/s"
done
read -r with2 without2 < <(floor)
echo "  floor after: with the outbox $with2/s, without $without2/s"
m=$(printf '%s\n' "${RATES[@]}" | median)
awk -v m="$m" -v w1="$with1" -v w2="$with2" -v o1="$without1" -v o2="$without2" 'BEGIN {
  w = (w1 + w2) / 2; o = (o1 + o2) / 2
  printf "== median %s 2xx/s: %.0f%% of the floor with the outbox (%.0f/s), %.0f%% of the floor without it (%.0f/s); the floor with it is %.0f%% of the floor without\n",
         m, 100 * m / w, w, 100 * m / o, o, 100 * w / o }'
echo "== $(uptime)"
