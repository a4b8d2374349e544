#!/usr/bin/env bash
# bench/http: HTTP throughput of allocation-server against floors measured in the same run.
#
#   bash bench/http/run.sh              # full run (DURATION=10s per measurement, 5 to 10 minutes)
#   QUICK=1 bash bench/http/run.sh      # 2 s per measurement, to try it out
#
# In one run: builds the Release server and bench_sqlite (cmake preset "release" in BUILD_DIR); measures the raw
# SQLite floor (bench_sqlite); starts allocation-server on a fresh SQLite file and nginx (static file of the same
# size and Content-Type as the GET answer), each on a free loopback port; then, with wrk:
#   - GET /allocations/<orderid>, server and nginx taking turns, at each of CONNECTIONS;
#   - POST /allocate (a new order of quantity 1 per request, round the 100 SKUs) at each of CONNECTIONS, for
#     each synchronous setting the server takes (full, then normal on a fresh database);
#   - GET at 16 connections without, with 64 slow clients (a header line every 2 s, never ending the head) and
#     without again, and the latency of GET /health over fresh connections, idle and under that load;
# writes OUT_DIR/results.csv, a summary (OUT_DIR/summary.txt, summary.md) and the plot (PLOT).
#
# Environment: DURATION (10s; QUICK=1 makes it 2s), CONNECTIONS ("1 4 16 64 256"), BUILD_DIR
# (build/bench-release), BUILD=0 to skip the build, OUT_DIR (BUILD_DIR/bench-http), PLOT
# (docs/http-throughput.svg; OUT_DIR/http-throughput.svg with QUICK=1), SERVER_ARGS (extra server flags),
# SYNCHRONOUS (the settings to run POST with, default "full normal" when the server takes --synchronous),
# OLD_SERVER_SYNC (what to call a server without --synchronous: normal, the SQLite adapter's default), PYTHON.
# wrk runs -t2 (-t1 at one connection, since wrk needs a connection per thread), with its default 2 s timeout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then DURATION=${DURATION:-2s}; else DURATION=${DURATION:-10s}; fi
case $DURATION in
  *m) SECONDS_PER_RUN=$(( ${DURATION%m} * 60 )) ;;
  *s) SECONDS_PER_RUN=${DURATION%s} ;;
  *) SECONDS_PER_RUN=$DURATION ;;
esac
[[ $SECONDS_PER_RUN =~ ^[0-9]+$ && $SECONDS_PER_RUN -ge 1 ]] || { echo "DURATION must be whole seconds, e.g. 10s" >&2; exit 2; }
CONNECTIONS=${CONNECTIONS:-"1 4 16 64 256"}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/bench-release}
OUT_DIR=${OUT_DIR:-$BUILD_DIR/bench-http}
if [[ $QUICK == 1 ]]; then PLOT=${PLOT:-$OUT_DIR/http-throughput.svg}; else PLOT=${PLOT:-$ROOT/docs/http-throughput.svg}; fi
PYTHON=${PYTHON:-python3}
SERVER_ARGS=${SERVER_ARGS:-}
SKUS=100
SLOW_CONNECTIONS=64
SLOW_INTERVAL=2
HEALTH_COUNT=50
SERVER=$BUILD_DIR/examples/server/allocation-server
BENCH_SQLITE=$BUILD_DIR/bench/bench_sqlite
CLK_TCK=$(getconf CLK_TCK)

for tool in wrk nginx curl "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (apt-get install wrk nginx-light curl python3)" >&2; exit 2; }
done

if [[ ${BUILD:-1} == 1 ]]; then
  echo "== building (Release, $BUILD_DIR)"
  mkdir -p "$BUILD_DIR"
  if ! (cd "$ROOT" && cmake --preset release -B "$BUILD_DIR" &&
          cmake --build "$BUILD_DIR" -j2 --target allocation_server bench_sqlite) >"$BUILD_DIR/bench-http-build.log" 2>&1; then
    tail -n 30 "$BUILD_DIR/bench-http-build.log" >&2
    echo "run.sh: the build failed (log: $BUILD_DIR/bench-http-build.log); BUILD=0 runs the binaries already built" >&2
    exit 1
  fi
fi
[[ -x $SERVER && -x $BENCH_SQLITE ]] || { echo "run.sh: build $SERVER and $BENCH_SQLITE first" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-bench-http.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {  # drops a stopped process from the cleanup list
  local keep=() pid
  for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Idle CPU ticks of the whole machine so far (all cores, idle + iowait): the kernel measures idle periods exactly,
# while it samples busy time at each tick.
machine_idle_ticks() {
  awk '$1 == "cpu" { print $5 + $6; exit }' /proc/stat
}

# CPU ticks (user + system) used so far by the given processes and their threads.
cpu_ticks() {
  local total=0 pid t
  for pid in "$@"; do
    if [[ -r /proc/$pid/stat ]]; then
      t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
      total=$(( total + t ))
    fi
  done
  echo "$total"
}

mkdir -p "$OUT_DIR/wrk"
rm -f "$OUT_DIR"/wrk/*.txt "$OUT_DIR"/health-*.json "$OUT_DIR"/slow-*.json "$OUT_DIR"/bench_sqlite*.txt "$OUT_DIR"/server-*
CSV=$OUT_DIR/results.csv
echo "server,method,sync,connections,threads,duration_s,requests,rps,ok_rps,p50_ms,p90_ms,p99_ms,max_ms,non2xx,connect_errors,read_errors,write_errors,timeouts,cpu_pct,phase,load1,wrk_cpu_pct,machine_cpu_pct,other_cpu_pct" >"$CSV"

HELP=$("$SERVER" --help 2>&1 || true)
if grep -q -- '--queue-limit' <<<"$HELP"; then SERVER_KIND=new; else SERVER_KIND=old; fi
if grep -q -- '--synchronous' <<<"$HELP"; then
  SYNC_FLAG=1
  SYNCHRONOUS=${SYNCHRONOUS:-"full normal"}
else
  SYNC_FLAG=0
  SYNCHRONOUS=${OLD_SERVER_SYNC:-normal}
fi
read -r -a SYNC_SETTINGS <<<"$SYNCHRONOUS"
GET_SYNC=${SYNC_SETTINGS[0]}

{
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "server_kind=$SERVER_KIND"
  echo "sync_flag=$SYNC_FLAG"
  echo "sync_settings=$SYNCHRONOUS"
  echo "duration_s=$SECONDS_PER_RUN"
  echo "connections=$CONNECTIONS"
  echo "cores=$(nproc)"
  echo "nginx=$(nginx -v 2>&1 | sed 's/^nginx version: //')"
  echo "wrk=$(wrk -v 2>&1 | head -n 1 | awk '{print $1, $2}')"
  echo "server_args=$SERVER_ARGS"
  echo "uptime_start=$(uptime)"
} >"$OUT_DIR/meta.txt"
echo "== $(uptime)"
echo "== server: $SERVER_KIND ($SERVER); synchronous settings: $SYNCHRONOUS$([[ $SYNC_FLAG == 1 ]] || echo ' (no --synchronous flag: the SQLite adapter default)')"

# ---------------------------------------------------------------------------------------------------------------
# Floor 2: raw SQLite doing the allocation transaction (and the adapter through the bus), on the same file system:
# one transaction an allocation, and 16 allocations a transaction each in its own savepoint (as the server's group
# commit writes them).
# Run twice, just before the first POST runs and after the last, while the servers sit idle; the report takes the
# mean of the two.
# Long enough runs (about 2 s each on a quiet machine) that a burst of someone else's disk traffic does not decide a
# run's figure alone.
if [[ $QUICK == 1 ]]; then SQLITE_ARGS=(5000 1000); else SQLITE_ARGS=(40000 10000); fi
FLOOR_RUN=0
run_floor() {
  FLOOR_RUN=$(( FLOOR_RUN + 1 ))
  echo "== bench_sqlite ${SQLITE_ARGS[*]} (raw SQLite floor, run $FLOOR_RUN)"
  TMPDIR=$WORK "$BENCH_SQLITE" "${SQLITE_ARGS[@]}" >"$OUT_DIR/bench_sqlite-$FLOOR_RUN.txt"
  sed -n '4,5p' "$OUT_DIR/bench_sqlite-$FLOOR_RUN.txt"
  # The grouped floor (16 allocations a transaction, each in its own savepoint), against which report.py also sets POST.
  grep -E '^ +WAL\+(NORMAL|FULL) +[0-9]+/txn ' "$OUT_DIR/bench_sqlite-$FLOOR_RUN.txt" || true
}

# ---------------------------------------------------------------------------------------------------------------
SERVER_PID=
SERVER_PORT=
start_server() {  # start_server SYNC
  local sync=$1 args
  SERVER_PORT=$(free_port)
  args=(--db "$WORK/server-$sync.db" --host 127.0.0.1 --port "$SERVER_PORT")
  [[ $SYNC_FLAG == 1 ]] && args+=(--synchronous "$sync")
  # shellcheck disable=SC2206
  args+=($SERVER_ARGS)
  echo "== allocation-server ${args[*]}"
  "$SERVER" "${args[@]}" >"$WORK/server-$sync.out" 2>"$WORK/server-$sync.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$SERVER_PORT/health" 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: allocation-server did not come up; its log:" >&2
  cat "$WORK/server-$sync.out" "$WORK/server-$sync.log" >&2
  exit 1
}

stop_server() {  # keeps the log's status counts, then stops the server
  local sync=$1
  stop_pid "$SERVER_PID"
  # Lines such as "GET /allocations/x 200 0.1ms": count the answers by method and status, if the log has them.
  awk '{ for (i = 2; i + 2 <= NF; i++) if ($i ~ /^(GET|POST|HEAD|-)$/ && $(i + 2) ~ /^[1-5][0-9][0-9]$/) { n[$i " " $(i + 2)]++; break } }
       END { for (k in n) print k, n[k] }' "$WORK/server-$sync.log" | sort >"$OUT_DIR/server-$sync-statuses.txt" || true
  grep -v -E ' (GET|POST) [^ ]+ [23][0-9][0-9] ' "$WORK/server-$sync.log" | grep -v -E 'notify|stopped|shutting down' |
    head -n 20 >"$OUT_DIR/server-$sync-log-other.txt" || true
  cp "$WORK/server-$sync.out" "$OUT_DIR/server-$sync.out" 2>/dev/null || true
}

NGINX_PID=
NGINX_PORT=
start_nginx() {  # serves $WORK/www: the GET body at the same path, with the same Content-Type
  local content_type
  content_type=$(cat "$WORK/seed/content-type")
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx" "$WORK/www/allocations"
  cp "$WORK/seed/body" "$WORK/www/allocations/$ORDERID"
  chmod -R a+rX "$WORK"  # the workers run as nobody
  cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    types { }
    default_type "$content_type";
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
    }
}
EOF
  nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  for _ in $(seq 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/allocations/$ORDERID" 2>/dev/null; then break; fi
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/error.log" >&2; exit 1; }
    sleep 0.1
  done
  local a b
  a=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$SERVER_PORT/allocations/$ORDERID" | tr -d '\r' | grep -i '^content-\(type\|length\)' | tr '[:upper:]' '[:lower:]' | sort)
  b=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$NGINX_PORT/allocations/$ORDERID" | tr -d '\r' | grep -i '^content-\(type\|length\)' | tr '[:upper:]' '[:lower:]' | sort)
  echo "== nginx on port $NGINX_PORT: worker_processes auto ($(nproc) workers), access_log off"
  if [[ $a != "$b" ]]; then echo "run.sh: server and nginx answers differ: [$a] vs [$b]" >&2; fi
}

nginx_pids() {
  echo "$NGINX_PID"
  cat "/proc/$NGINX_PID/task/"*/children 2>/dev/null | tr ' ' '\n' | grep . || true
}

RUN_NUMBER=0
# run_wrk SERVER METHOD SYNC CONNECTIONS PHASE [SECONDS]: one wrk run, one CSV row.
run_wrk() {
  local name=$1 method=$2 sync=$3 conns=$4 phase=$5 seconds=${6:-$SECONDS_PER_RUN}
  local threads=2 url pids label out before after line load1
  (( conns < 2 )) && threads=1
  RUN_NUMBER=$(( RUN_NUMBER + 1 ))
  if [[ $name == nginx ]]; then
    url="http://127.0.0.1:$NGINX_PORT/allocations/$ORDERID"
    mapfile -t pids < <(nginx_pids)
  else
    url="http://127.0.0.1:$SERVER_PORT"
    pids=("$SERVER_PID")
  fi
  label=$(printf '%02d-%s-%s-%s-c%s-%s' "$RUN_NUMBER" "$name" "$method" "$sync" "$conns" "$phase")
  out=$OUT_DIR/wrk/$label.txt
  load1=$(cut -d' ' -f1 /proc/loadavg)
  local script wrk_cpu machine_before machine_after wall_before wall_after
  if [[ $method == GET ]]; then
    [[ $name == nginx ]] || url="$url/allocations/$ORDERID"
    script=("$HERE/get.lua" "$url")
  else
    script=("$HERE/allocate.lua" "$url" -- "r$RUN_NUMBER" "$SKUS")
  fi
  before=$(cpu_ticks "${pids[@]}")
  machine_before=$(machine_idle_ticks)
  wall_before=$(date +%s%N)
  # wrk's own CPU time (user + system seconds) comes from the shell's time keyword.
  wrk_cpu=$( { TIMEFORMAT='%U %S'; time wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -s "${script[@]}" \
                 >"$out" 2>&1 || true; } 2>&1 | awk '{print $1 + $2}' )
  machine_after=$(machine_idle_ticks)
  wall_after=$(date +%s%N)
  after=$(cpu_ticks "${pids[@]}")
  line=$(grep '^RESULT ' "$out" | tail -n 1 || true)
  [[ -n $line ]] || line="RESULT requests=0 duration_us=${seconds}000000 bytes=0 p50_us=0 p90_us=0 p99_us=0 max_us=0 non2xx=0 connect=0 read=0 write=0 timeout=0"
  awk -v line="$line" -v name="$name" -v method="$method" -v sync="$sync" -v conns="$conns" -v threads="$threads" \
      -v phase="$phase" -v ticks=$(( after - before )) -v hz="$CLK_TCK" -v load1="$load1" -v wrk_cpu="$wrk_cpu" \
      -v idle=$(( machine_after - machine_before )) -v wall=$(( wall_after - wall_before )) -v cores="$(nproc)" 'BEGIN {
        n = split(line, kv, " ")
        for (i = 2; i <= n; i++) { split(kv[i], p, "="); r[p[1]] = p[2] }
        d = r["duration_us"] / 1e6
        printf "%s,%s,%s,%d,%d,%.2f,%d,%.1f,%.1f,%.3f,%.3f,%.3f,%.3f,%d,%d,%d,%d,%d,%.0f,%s\n", name, method, sync, conns,
          threads, d, r["requests"], r["requests"] / d, (r["requests"] - r["non2xx"]) / d, r["p50_us"] / 1000,
          r["p90_us"] / 1000, r["p99_us"] / 1000,
          r["max_us"] / 1000, r["non2xx"], r["connect"], r["read"], r["write"], r["timeout"],
          100 * ticks / hz / d, phase "," load1 "," sprintf("%.0f,%.0f,%.0f", 100 * wrk_cpu / d,
          100 * (cores - idle / hz / (wall / 1e9)), 100 * (cores - idle / hz / (wall / 1e9)) - 100 * (ticks / hz + wrk_cpu) / (wall / 1e9))
      }' | tee -a "$CSV" | awk -F, '{
        printf "  %-6s %-4s %-6s c=%-3s %8.0f 2xx/s  p50 %6.2f ms  p99 %7.2f ms  max %7.1f ms  non-2xx %d  socket errors %d  CPU %s%% (wrk %s%%, other %s%%)\n",
          $1, $2, $3, $4, $9, $10, $12, $13, $14, $15 + $16 + $17 + $18, $19, $22, $24 }'
}

# ---------------------------------------------------------------------------------------------------------------
start_server "$GET_SYNC"
mkdir -p "$WORK/seed"
"$PYTHON" "$HERE/seed.py" 127.0.0.1 "$SERVER_PORT" "$WORK/seed" --skus "$SKUS"
ORDERID=$(cat "$WORK/seed/orderid")
cp "$WORK/seed/body" "$OUT_DIR/get-body.json"
start_nginx

echo "== warm-up (2 s each, not recorded)"
wrk -t2 -c16 -d2s "http://127.0.0.1:$SERVER_PORT/allocations/$ORDERID" >/dev/null 2>&1 || true
wrk -t2 -c16 -d2s "http://127.0.0.1:$NGINX_PORT/allocations/$ORDERID" >/dev/null 2>&1 || true
wrk -t2 -c16 -d2s -s "$HERE/allocate.lua" "http://127.0.0.1:$SERVER_PORT" -- warm "$SKUS" >/dev/null 2>&1 || true

echo "== GET /allocations/$ORDERID, server and nginx in turn (wrk -d$SECONDS_PER_RUN s)"
for c in $CONNECTIONS; do
  run_wrk server GET "$GET_SYNC" "$c" sweep
  run_wrk nginx GET - "$c" sweep
done

run_floor
echo "== POST /allocate, synchronous=$GET_SYNC"
for c in $CONNECTIONS; do run_wrk server POST "$GET_SYNC" "$c" sweep; done

# ---------------------------------------------------------------------------------------------------------------
echo "== slow clients: GET at 16 connections without, with $SLOW_CONNECTIONS slow-header connections open, and without again"
HEALTH_SPREAD=$(( SECONDS_PER_RUN > 1 ? SECONDS_PER_RUN - 1 : 1 ))
"$PYTHON" "$HERE/health.py" 127.0.0.1 "$SERVER_PORT" "$OUT_DIR/health-idle.json" --count "$HEALTH_COUNT" --deadline 10
"$PYTHON" "$HERE/health.py" 127.0.0.1 "$SERVER_PORT" "$OUT_DIR/health-load.json" --count "$HEALTH_COUNT" \
  --spread "$HEALTH_SPREAD" --deadline "$SECONDS_PER_RUN" &
HEALTH_PID=$!
PIDS+=("$HEALTH_PID")
run_wrk server GET "$GET_SYNC" 16 reference
wait "$HEALTH_PID" || true
forget_pid "$HEALTH_PID"

"$PYTHON" "$HERE/slow_clients.py" 127.0.0.1 "$SERVER_PORT" "$WORK/slow.json" --connections "$SLOW_CONNECTIONS" \
  --interval "$SLOW_INTERVAL" &
SLOW_PID=$!
PIDS+=("$SLOW_PID")
for _ in $(seq 100); do [[ -s $WORK/slow.json ]] && break; sleep 0.1; done
sleep $(( SLOW_INTERVAL + 1 ))  # every connection has sent a header line or two
"$PYTHON" "$HERE/health.py" 127.0.0.1 "$SERVER_PORT" "$OUT_DIR/health-idle-slow.json" --count "$HEALTH_COUNT" --deadline 10
cp "$WORK/slow.json" "$OUT_DIR/slow-start.json" 2>/dev/null || echo '{}' >"$OUT_DIR/slow-start.json"
"$PYTHON" "$HERE/health.py" 127.0.0.1 "$SERVER_PORT" "$OUT_DIR/health-load-slow.json" --count "$HEALTH_COUNT" \
  --spread "$HEALTH_SPREAD" --deadline "$SECONDS_PER_RUN" &
HEALTH_PID=$!
PIDS+=("$HEALTH_PID")
run_wrk server GET "$GET_SYNC" 16 slow
cp "$WORK/slow.json" "$OUT_DIR/slow-end.json" 2>/dev/null || echo '{}' >"$OUT_DIR/slow-end.json"
wait "$HEALTH_PID" || true
forget_pid "$HEALTH_PID"
stop_pid "$SLOW_PID"
sleep 1
run_wrk server GET "$GET_SYNC" 16 reference-after  # the drop is taken against the mean of the runs either side
stop_server "$GET_SYNC"

# ---------------------------------------------------------------------------------------------------------------
for sync in "${SYNC_SETTINGS[@]:1}"; do
  start_server "$sync"
  "$PYTHON" "$HERE/seed.py" 127.0.0.1 "$SERVER_PORT" "$WORK/seed-$sync" --skus "$SKUS" >/dev/null
  wrk -t2 -c16 -d2s -s "$HERE/allocate.lua" "http://127.0.0.1:$SERVER_PORT" -- warm "$SKUS" >/dev/null 2>&1 || true
  echo "== POST /allocate, synchronous=$sync"
  for c in $CONNECTIONS; do run_wrk server POST "$sync" "$c" sweep; done
  stop_server "$sync"
done

stop_pid "$NGINX_PID"
run_floor
echo "uptime_end=$(uptime)" >>"$OUT_DIR/meta.txt"

# ---------------------------------------------------------------------------------------------------------------
"$PYTHON" "$HERE/report.py" "$OUT_DIR" | tee "$OUT_DIR/summary.txt"
"$PYTHON" "$HERE/plot.py" "$CSV" "$PLOT" --meta "$OUT_DIR/meta.txt" --floors "$OUT_DIR/floors.json"
echo "== results: $OUT_DIR (results.csv, summary.md, wrk/); plot: $PLOT"
