#!/usr/bin/env bash
# bench/relay: how long an acknowledged allocation takes to reach the Redis stream through the outbox and relay.
#
#   bash bench/relay/run.sh    # builds allocation-server (release preset, BUILD_DIR), then about 10 s
#
# Starts redis-server and allocation-server --redis on a fresh SQLite file (ports chosen free), seeds one batch,
# and runs latency.py: COUNT allocations (500), one every INTERVAL_MS (10).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/bench-release}
SERVER=$BUILD_DIR/examples/server/allocation-server
if [[ ${BUILD:-1} == 1 ]]; then
  (cd "$ROOT" && cmake --preset release -B "$BUILD_DIR" >/dev/null && cmake --build "$BUILD_DIR" -j2 --target allocation_server >/dev/null)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-bench-relay.XXXXXX")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
SERVER_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
"$SERVER" --db "$WORK/allocation.db" --port "$SERVER_PORT" --redis "127.0.0.1:$REDIS_PORT" ${SERVER_ARGS:-} \
  >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
trap 'kill $SERVER_PID $REDIS_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SERVER_PORT/ready" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "http://127.0.0.1:$SERVER_PORT/add_batch" -H 'Content-Type: application/json' \
  -d '{"ref": "latency-batch", "sku": "LATENCY", "qty": 1000000000, "eta": null}' >/dev/null
python3 "$HERE/latency.py" "$SERVER_PORT" "$REDIS_PORT" "${COUNT:-500}" "${INTERVAL_MS:-10}"
