#!/usr/bin/env bash
# bench/http/compare.sh: two allocation-server binaries back to back on this machine, alternating, so that a change's
# effect is not confused with the machine's drift between runs. Each round starts each server on a fresh SQLite file,
# seeds it (seed.py, 100 SKUs), warms it up, then runs POST /allocate (allocate.lua, a new order each) and
# GET /allocations/<id>, and prints their 2xx answers per second.
#
#   bash bench/http/compare.sh OLD_SERVER NEW_SERVER
#
# Environment: ROUNDS (3), DURATION (seconds per run, 5), CONNECTIONS (16), SYNCHRONOUS (normal).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# == 2 ]] || { echo "usage: compare.sh OLD_SERVER NEW_SERVER" >&2; exit 2; }
command -v wrk >/dev/null || { echo "compare.sh: needs wrk (Debian: apt-get install wrk)" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-16}
SYNCHRONOUS=${SYNCHRONOUS:-normal}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rate() { grep '^RESULT ' | tail -n 1 | tr ' ' '\n' | awk -F= '
  $1 == "requests" { n = $2 } $1 == "non2xx" { bad = $2 } $1 == "duration_us" { d = $2 / 1e6 }
  END { printf "%.0f\n", (d > 0 ? (n - bad) / d : 0) }'; }

measure() {  # measure SERVER LABEL ROUND: one line, POST and GET 2xx/s
  local work port pid post get
  work=$(mktemp -d "${TMPDIR:-/tmp}/allocation-compare.XXXXXX")
  port=$(free_port)
  "$1" --db "$work/server.db" --port "$port" --synchronous "$SYNCHRONOUS" >"$work/server.out" 2>"$work/server.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
  python3 "$HERE/seed.py" 127.0.0.1 "$port" "$work/seed" --skus 100 >/dev/null
  local url="http://127.0.0.1:$port"
  wrk -t2 -c"$CONNECTIONS" -d2s -s "$HERE/allocate.lua" "$url" -- "warm-$3" 100 >/dev/null 2>&1 || true
  post=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$HERE/allocate.lua" "$url" -- "run-$3" 100 2>&1 | rate)
  get=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$HERE/get.lua" "$url/allocations/seed-order-0152" 2>&1 | rate)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$work"
  echo "round $3 $2: POST $post/s GET $get/s"
}

echo "== POST /allocate (synchronous=$SYNCHRONOUS) and GET, wrk -t2 -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  measure "$1" old "$round"
  measure "$2" new "$round"
done
