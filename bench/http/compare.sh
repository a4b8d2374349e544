#!/usr/bin/env bash
# bench/http/compare.sh: two allocation-server binaries back to back on this machine, alternating, so that a change's
# effect is not confused with the machine's drift between runs. Each round starts each server on a fresh SQLite file,
# seeds it (seed.py, 100 SKUs), warms it up, then runs POST /allocate (allocate.lua, a new order each) and
# GET /allocations/<id>, and prints their 2xx answers per second, their p50 and p99 latency, and the answers that
# were not 2xx (a refusal, a 503).
#
#   bash bench/http/compare.sh OLD_SERVER NEW_SERVER
#
# Environment: ROUNDS (3), DURATION (seconds per run, 5), CONNECTIONS (16), SYNCHRONOUS (normal), SKUS (how many of
# the 100 SKUs POST goes round: 1 makes one hot product), SERVER_ARGS (extra flags for both servers).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# == 2 ]] || { echo "usage: compare.sh OLD_SERVER NEW_SERVER" >&2; exit 2; }
command -v wrk >/dev/null || { echo "compare.sh: needs wrk (Debian: apt-get install wrk)" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-16}
SYNCHRONOUS=${SYNCHRONOUS:-normal}
SKUS=${SKUS:-100}
THREADS=$(( CONNECTIONS < 2 ? 1 : 2 ))  # wrk needs a connection per thread

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rate() { grep '^RESULT ' | tail -n 1 | tr ' ' '\n' | awk -F= '
  $1 == "requests" { n = $2 } $1 == "non2xx" { bad = $2 } $1 == "duration_us" { d = $2 / 1e6 }
  $1 == "p50_us" { p50 = $2 / 1000 } $1 == "p99_us" { p99 = $2 / 1000 }
  END { printf "%.0f/s (p50 %.2f ms, p99 %.2f ms, %d not 2xx)\n", (d > 0 ? (n - bad) / d : 0), p50, p99, bad }'; }

measure() {  # measure SERVER LABEL ROUND: one line, POST and GET 2xx/s
  local work port pid post get
  work=$(mktemp -d "${TMPDIR:-/tmp}/allocation-compare.XXXXXX")
  port=$(free_port)
  # shellcheck disable=SC2086
  "$1" --db "$work/server.db" --port "$port" --synchronous "$SYNCHRONOUS" ${SERVER_ARGS:-} >"$work/server.out" \
    2>"$work/server.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
  python3 "$HERE/seed.py" 127.0.0.1 "$port" "$work/seed" --skus 100 >/dev/null
  local url="http://127.0.0.1:$port"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$HERE/allocate.lua" "$url" -- "warm-$3" "$SKUS" >/dev/null 2>&1 || true
  post=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$HERE/allocate.lua" "$url" -- "run-$3" "$SKUS" 2>&1 | rate)
  get=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$HERE/get.lua" "$url/allocations/seed-order-0152" 2>&1 | rate)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$work"
  echo "round $3 $2: POST $post GET $get"
}

echo "== POST /allocate (synchronous=$SYNCHRONOUS, $SKUS SKUs) and GET, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  measure "$1" old "$round"
  measure "$2" new "$round"
done
