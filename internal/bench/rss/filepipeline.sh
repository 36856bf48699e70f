#!/usr/bin/env bash
# Peak RSS and throughput of one ferry standalone worker running a JSON Lines
# file source → filter + template → drop connector over N 1 KB events, with
# the envelope's defaults (docs/benchmarks.md, "Memory per connector").
#
#   internal/bench/rss/filepipeline.sh [events] [extra envelope JSON]
#   e.g. internal/bench/rss/filepipeline.sh 300000 '"buffer.max.records": "16384"'
#   FERRY_BIN=/path/to/ferry runs that binary instead of building this tree's.
#
# Prints: events, seconds from the connector's start to its task's end,
# events/s, the process's CPU time (user + system, start-up included) and its
# peak RSS (/usr/bin/time -v). GOGC and GOMEMLIMIT in the environment reach
# the worker (internal/gctune then leaves that setting alone).
set -euo pipefail
n=${1:-300000}
extra=${2:-}
root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
if [ -n "${FERRY_BIN:-}" ]; then cp "$FERRY_BIN" "$work/ferry"; else go build -o "$work/ferry" "$root/cmd/ferry"; fi
# 1 KB structured CloudEvents, shaped like the generator's (BenchmarkChain).
awk -v n="$n" 'BEGIN {
  pad = sprintf("%0840d", 0); gsub(/0/, "x", pad)
  for (i = 0; i < n; i++)
    printf "{\"specversion\":\"1.0\",\"id\":\"orders-to-warehouse-0000-0-%07d\",\"source\":\"/ferry/generator\",\"type\":\"ferry.generator.v1\",\"datacontenttype\":\"application/json\",\"data\":{\"seq\":%d,\"task\":0,\"pad\":\"%s\"}}\n", i, i, pad
}' > "$work/in.jsonl"
[ -n "$extra" ] && extra=", $extra"
cat > "$work/conn.json" <<JSON
{"name": "rss", "source": "file", "source.path": "$work/in.jsonl",
 "transforms": "keep,shape",
 "transforms.keep.type": "filter",
 "transforms.keep.pattern": "{\"source\": [{\"prefix\": \"/ferry/\"}], \"data\": {\"seq\": [{\"numeric\": [\">=\", 0]}], \"task\": [0]}}",
 "transforms.shape.type": "template", "transforms.shape.form": "TEMPLATE",
 "transforms.shape.value": "{\"seq\": \"\$.data.seq\", \"task\": \"\$.data.task\", \"id\": \"\$.id\", \"type\": \"\$.type\"}",
 "transforms.shape.template": "{\"n\": \${seq}, \"t\": \${task}, \"event\": \"\${id}\", \"kind\": \"\${type}\"}",
 "sink": "drop"$extra}
JSON
port=$((20000 + RANDOM % 20000))
/usr/bin/time -v -o "$work/time" "$work/ferry" standalone --data-dir "$work/data" --listen "127.0.0.1:$port" --log-level info "$work/conn.json" > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  grep -q 'task finished' "$work/log" && break
  if grep -q 'level=ERROR' "$work/log"; then cat "$work/log" >&2; exit 1; fi
  sleep 0.05
done
grep -q 'task finished' "$work/log" || { tail -20 "$work/log" >&2; exit 1; }
# Stop the worker (time's child) so that time reports.
kill -TERM "$(pgrep -P "$pid")"; wait "$pid" || true
# Log timestamps: from the connector's start to its task's end.
stamp() { grep -m1 "$1" "$work/log" | sed -E 's/^time=[^T]*T([0-9:.]+)Z.*/\1/' | awk -F: '{ print $1 * 3600 + $2 * 60 + $3 }'; }
start=$(stamp 'connector started'); end=$(stamp 'task finished')
rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time")
cpu=$(awk -F: '/(User|System) time \(seconds\)/ {c += $2} END {print c}' "$work/time")
awk -v n="$n" -v s="$start" -v e="$end" -v rss="$rss" -v cpu="$cpu" 'BEGIN {
  printf "events %d  seconds %.2f  events/s %.0f  cpu %.2f s  peak RSS %.1f MiB\n", n, e - s, n / (e - s), cpu, rss / 1024 }'
