#!/usr/bin/env bash
# bench/http/postgres.sh: POST /allocate on PostgreSQL, one allocation-server against two on the same database.
#
#   bash bench/http/postgres.sh            # DURATION=10s per measurement, about 3 minutes
#   QUICK=1 bash bench/http/postgres.sh    # 3 s per measurement
#
# In one run: builds the Release server and bench_postgres (preset "release" in BUILD_DIR); starts a PostgreSQL
# cluster of its own (bench_postgres cluster: fsync on, a free loopback port); then, with wrk and allocate.lua
# (a new order of quantity 1 per request):
#   - one server (--threads THREADS) round 100 SKUs, at each of CONNECTIONS;
#   - two servers on the same database, wrk on each with half the connections, at each of CONNECTIONS;
#   - one server, every request on one SKU (the hot-SKU case: 409 "try again" answers are counted as non-2xx).
# Prints one line per measurement: requests/s answered 2xx, p50 and p99 latency, non-2xx answers.
#
# Environment: DURATION (10s; QUICK=1 makes it 3s), CONNECTIONS ("4 16 64"), THREADS (4), BUILD_DIR
# (build/bench-release), BUILD=0 to skip the build, PYTHON.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [[ ${QUICK:-0} == 1 ]]; then DURATION=${DURATION:-3s}; else DURATION=${DURATION:-10s}; fi
CONNECTIONS=${CONNECTIONS:-"4 16 64"}
THREADS=${THREADS:-4}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/bench-release}
PYTHON=${PYTHON:-python3}
SERVER=$BUILD_DIR/examples/server/allocation-server
BENCH_POSTGRES=$BUILD_DIR/bench/bench_postgres

for tool in wrk curl "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "postgres.sh: $tool not found (apt-get install wrk curl python3)" >&2; exit 2; }
done
if [[ ${BUILD:-1} == 1 ]]; then
  echo "== building (Release, $BUILD_DIR)"
  (cd "$ROOT" && cmake --preset release -B "$BUILD_DIR" >/dev/null &&
     cmake --build "$BUILD_DIR" -j2 --target allocation_server bench_postgres) >"$BUILD_DIR.postgres-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_DIR.postgres-build.log" >&2; exit 1; }
fi
[[ -x $SERVER && -x $BENCH_POSTGRES ]] || { echo "postgres.sh: build $SERVER and $BENCH_POSTGRES first" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-bench-postgres.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_ready() {  # port
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$1/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "postgres.sh: the server on port $1 did not get ready" >&2
  exit 1
}

start_server() {  # uri; sets PORT
  PORT=$(free_port)
  "$SERVER" --postgres "$1" --threads "$THREADS" --host 127.0.0.1 --port "$PORT" >"$WORK/server-$PORT.log" 2>&1 &
  PIDS+=($!)
  wait_ready "$PORT"
}

"$BENCH_POSTGRES" cluster >"$WORK/cluster" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [[ -s $WORK/cluster ]] && break; sleep 0.1; done
URI=$(head -n 1 "$WORK/cluster")
[[ $URI == postgresql://* ]] || { cat "$WORK/cluster" >&2; exit 1; }

start_server "$URI"
FIRST=$PORT
start_server "$URI"
SECOND=$PORT
"$PYTHON" "$HERE/seed.py" 127.0.0.1 "$FIRST" "$WORK/seed" --skus 100 >/dev/null

# wrk on each port with `conns` connections between them; sums their RESULT lines.
measure() {  # label sku-count conns port...
  local label=$1 skus=$2 conns=$3 tag=$RANDOM
  shift 3
  local each=$(( conns / $# )) port n=0 threads=2 wrks=()
  (( each < 2 )) && threads=1
  for port in "$@"; do
    wrk -t"$threads" -c"$each" -d"$DURATION" -s "$HERE/allocate.lua" "http://127.0.0.1:$port" -- "r$tag-$n" "$skus" \
      >"$WORK/wrk-$n.txt" 2>&1 &
    wrks+=($!)
    n=$(( n + 1 ))
  done
  wait "${wrks[@]}"
  cat "$WORK"/wrk-*.txt | grep '^RESULT ' | awk -v label="$label" -v conns="$conns" '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] += kv[2]; if (kv[1] ~ /_us$/ && kv[2] > m[kv[1]]) m[kv[1]] = kv[2] } n++ }
    END { d = r["duration_us"] / n / 1e6; ok = r["requests"] - r["non2xx"]
          printf "%-28s %5d conns  %8.0f req/s 2xx  p50 %6.1f ms  p99 %7.1f ms (worst wrk)  non-2xx %d\n",
                 label, conns, ok / d, m["p50_us"] / 1000, m["p99_us"] / 1000, r["non2xx"] }'
  rm -f "$WORK"/wrk-*.txt
}

echo "== POST /allocate on PostgreSQL ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg); DURATION=$DURATION, --threads $THREADS)"
for conns in $CONNECTIONS; do
  measure "one server, 100 SKUs" 100 "$conns" "$FIRST"
  measure "two servers, 100 SKUs" 100 "$conns" "$FIRST" "$SECOND"
done
measure "one server, one SKU" 1 16 "$FIRST"
measure "two servers, one SKU" 1 16 "$FIRST" "$SECOND"
