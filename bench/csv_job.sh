#!/usr/bin/env bash
# The CSV batch job, timed from the shell: a million-line orders.csv in memory (first run and re-run) and a
# smaller one with --db, for this build's allocation-cli and, when given, another one (say, the build of an
# earlier commit), run alternately so that both see the same machine. Prints each run and the median ratios.
#   bench/csv_job.sh CLI [BASELINE_CLI] [ORDERS] [ROUNDS] [DB_ORDERS]
# Needs bench_csv_data beside CLI's build (build/<preset>/bench/bench_csv_data) or on PATH.
set -euo pipefail
cli="$1"
baseline="${2:-}"
orders="${3:-1000000}"
rounds="${4:-3}"
db_orders="${5:-100000}"
data_tool="$(dirname "$cli")/../../bench/bench_csv_data"
[[ -x "$data_tool" ]] || data_tool=bench_csv_data
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# seconds of one run: `timed LABEL DIR CLI ARGS...` prints "LABEL <s>" and appends <s> to $work/LABEL
timed() {
  local label="$1" dir="$2" program="$3"
  shift 3
  local start end
  start=$(date +%s.%N)
  "$program" allocate-csv "$dir" "$@" > "$work/$label.out"
  end=$(date +%s.%N)
  local seconds
  seconds=$(echo "$end - $start" | bc)
  echo "$seconds" >> "$work/$label"
  printf '%-22s %6.2f s  %s\n' "$label" "$seconds" "$(cut -d';' -f1 < "$work/$label.out")"
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

"$data_tool" "$work/new" "$orders" > /dev/null
"$data_tool" "$work/db-new" "$db_orders" > /dev/null
if [[ -n "$baseline" ]]; then
  "$data_tool" "$work/old" "$orders" > /dev/null
  "$data_tool" "$work/db-old" "$db_orders" > /dev/null
fi

for ((round = 1; round <= rounds; round++)); do
  for side in old new; do
    [[ "$side" == old && -z "$baseline" ]] && continue
    program="$cli"
    [[ "$side" == old ]] && program="$baseline"
    rm -f "$work/$side/allocations.csv"
    timed "$side-first" "$work/$side" "$program"
    timed "$side-rerun" "$work/$side" "$program"
    rm -f "$work/db-$side/allocations.csv" "$work/db-$side/job.db"*
    timed "$side-db" "$work/db-$side" "$program" --db "$work/db-$side/job.db"
  done
done

echo
for kind in first rerun db; do
  new=$(median "$work/new-$kind")
  if [[ -n "$baseline" ]]; then
    old=$(median "$work/old-$kind")
    printf 'median %-6s new %6.2f s, baseline %6.2f s, new/baseline %.2f\n' "$kind" "$new" "$old" "$(echo "$new / $old" | bc -l)"
  else
    printf 'median %-6s %6.2f s\n' "$kind" "$new"
  fi
done
printf -- '--db: %.0f lines/s (median of %d runs of %d lines)\n' "$(echo "$db_orders / $(median "$work/new-db")" | bc -l)" \
  "$rounds" "$db_orders"
