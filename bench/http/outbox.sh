#!/usr/bin/env bash
# bench/http/outbox.sh: what delivering the outbox costs POST /allocate, in one run. Two allocation-servers, each on a
# fresh SQLite file and seeded by seed.py: one with no Redis (every commit still stores its outbox row, handed at once
# to handlers with nothing to send to, the mark written by the next commit), and one with `--redis` to a real
# redis-server, so that the relay publishes each row to the channel and the stream before marking it. Their wrk runs
# of POST /allocate alternate, ROUNDS each; before the first and after the last, `bench_sqlite floor` measures raw
# SQLite doing the same transaction with the outbox row and mark (the floor the HTTP bench uses) and without them.
# Prints each run, the medians, the ratio of the two servers and their ratios to both floors.
#
#   bash bench/http/outbox.sh                 # 5 rounds of 10 s at 16 connections, synchronous=full
#   ROUNDS=3 DURATION=5 CONNECTIONS=4 SYNCHRONOUS=normal BUILD=0 bash bench/http/outbox.sh
#
# Environment: ROUNDS (5), DURATION (seconds per run, 10), CONNECTIONS (16), SYNCHRONOUS (full), FLOOR_ALLOCATIONS
# (allocations per floor run: 3000 with full, 20000 with normal), BUILD_DIR (build/bench-release), BUILD=0 to skip
# the build, PYTHON. wrk runs -t2 (-t1 at one connection). Needs wrk and redis-server.
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

command -v redis-server >/dev/null || { echo "outbox.sh: needs redis-server (Debian: apt-get install redis-server)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-bench-outbox.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)

start_server() {  # start_server NAME [FLAGS...]: a seeded server on a fresh file, its port in the variable NAME
  local name=$1 port
  shift
  port=$(free_port)
  "$SERVER" --db "$WORK/$name.db" --port "$port" --synchronous "$SYNCHRONOUS" "$@" >"$WORK/$name.out" \
    2>"$WORK/$name.log" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/ready" 2>/dev/null && break; sleep 0.1; done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/ready" || { echo "outbox.sh: $name is not ready" >&2; exit 1; }
  "$PYTHON" "$HERE/seed.py" 127.0.0.1 "$port" "$WORK/seed-$name" --skus "$SKUS" >/dev/null
  printf -v "$name" '%s' "$port"
}

post() {  # post PORT ROUND: one wrk run, its 2xx per second on stdout
  local out=$WORK/wrk-$1-$2.txt
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$HERE/allocate.lua" "http://127.0.0.1:$1" -- \
    "run-$2" "$SKUS" >"$out" 2>&1 || true
  grep '^RESULT ' "$out" | tail -n 1 | tr ' ' '\n' | awk -F= '
    $1 == "requests" { n = $2 } $1 == "non2xx" { bad = $2 } $1 == "duration_us" { d = $2 / 1e6 }
    END { printf "%.0f\n", (d > 0 ? (n - bad) / d : 0) }'
}

floor() {  # floor: "WITH WITHOUT", raw SQLite's allocations per second
  "$BENCH_SQLITE" floor "$SYNCHRONOUS" "$FLOOR_ALLOCATIONS" | awk -F'[ =]' '/^FLOOR / { print $3, $5 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== $(uptime)"
echo "== POST /allocate, synchronous=$SYNCHRONOUS, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds each"
read -r with1 without1 < <(floor)
echo "  floor before: with the outbox $with1/s, without $without1/s"
start_server ALONE
start_server REDIS --redis "127.0.0.1:$REDIS_PORT"
post "$ALONE" warm >/dev/null  # warm-ups, not counted
post "$REDIS" warm >/dev/null
RATES_ALONE=()
RATES_REDIS=()
for round in $(seq "$ROUNDS"); do
  a=$(post "$ALONE" "$round")
  r=$(post "$REDIS" "$round")
  RATES_ALONE+=("$a")
  RATES_REDIS+=("$r")
  echo "  round $round  no Redis $a 2xx/s, with Redis $r 2xx/s"
done
read -r with2 without2 < <(floor)
echo "  floor after: with the outbox $with2/s, without $without2/s"
undelivered=$(curl -fsS "http://127.0.0.1:$REDIS/ready" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["outbox"]["undelivered"])')
streamed=$(redis-cli -p "$REDIS_PORT" xlen allocation:line_allocated)
echo "  with Redis: $streamed entries on allocation:line_allocated, $undelivered rows undelivered at the end"
a=$(printf '%s\n' "${RATES_ALONE[@]}" | median)
r=$(printf '%s\n' "${RATES_REDIS[@]}" | median)
awk -v a="$a" -v r="$r" -v w1="$with1" -v w2="$with2" -v o1="$without1" -v o2="$without2" 'BEGIN {
  w = (w1 + w2) / 2; o = (o1 + o2) / 2
  printf "== medians: no Redis %s 2xx/s, with Redis %s 2xx/s: with Redis is %.1f%% of no Redis\n", a, r, 100 * r / a
  printf "== floor with the outbox %.0f/s (no Redis %.0f%%, with Redis %.0f%%), without it %.0f/s (%.0f%%, %.0f%%)\n",
         w, 100 * a / w, 100 * r / w, o, 100 * a / o, 100 * r / o }'
echo "== $(uptime)"
