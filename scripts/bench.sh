#!/usr/bin/env bash
# Side-by-side benchmark: Heimsight, Prometheus 2.42 and VictoriaMetrics 1.79 (Debian packages)
# fed the same remote-write load by heimsight-loadgen on this machine, in one run.
#
#   scripts/bench.sh                   # everything (≈15–20 min on 2 cores)
#   TARGETS="heimsight" scripts/bench.sh
#   BUILD=0 scripts/bench.sh           # reuse target/release binaries
#   PHASES=query scripts/bench.sh      # only phase B (persist + query)
#
# Two phases per target, each on a fresh data directory and a fresh process, loopback only:
#   A. ingest: `loadgen write` at saturation for INGEST_DURATION over INGEST_SERIES series,
#      once per connection count in INGEST_CONCURRENCY (fresh process each), best rate kept;
#      samples/s acknowledged (2xx only), peak RSS (VmHWM), CPU seconds the target used.
#   B. persist + query: `loadgen backfill` of QUERY_SERIES series × 6h at 15s ending 3h05m
#      ago, then one marker sample at now, so each store cuts/compacts every backfilled sample
#      into blocks (Prometheus head compaction, Heimsight's cutter, VictoriaMetrics
#      /internal/force_flush); bytes per sample on disk; then a range query over all
#      backfilled series × 6h, QUERY_REPEAT times, p50/p99.
# Results: $OUT/*.json and $OUT/summary.md (the table BENCHMARKS.md quotes).
# Needs: cargo, curl, jq, python3, GNU time; root for apt-get when a package is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGETS="${TARGETS:-heimsight prometheus victoriametrics}"
BUILD="${BUILD:-1}"
PHASES="${PHASES:-ingest query}"
INGEST_SERIES="${INGEST_SERIES:-50000}"
INGEST_DURATION="${INGEST_DURATION:-40s}"
INGEST_CONCURRENCY="${INGEST_CONCURRENCY:-8 32}"
INGEST_BATCH="${INGEST_BATCH:-2000}"
QUERY_SERIES="${QUERY_SERIES:-10000}"
BACKFILL_CONCURRENCY="${BACKFILL_CONCURRENCY:-8}"
QUERY_REPEAT="${QUERY_REPEAT:-15}"
# Reads every backfilled series. last_over_time keeps __name__ in Prometheus; rate() would
# drop it before the sum and Prometheus 2.42 then refuses the query ("vector cannot contain
# metrics with the same labelset") since the 10 metrics of an instance share their labels.
DEFAULT_QUERY='sum by (__name__, label_00) (last_over_time({job="bench"}[5m]))'
QUERY="${QUERY:-$DEFAULT_QUERY}"
QUERY_STEP="${QUERY_STEP:-60}"
LABELS="${LABELS:-8}"
SEED="${SEED:-1}"
PERSIST_WAIT_S="${PERSIST_WAIT_S:-200}"
OUT="${OUT:-/tmp/heimsight-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
HEIMSIGHT="$ROOT/target/release/heimsight"
LOADGEN="$ROOT/target/release/heimsight-loadgen"
WORK="$(mktemp -d /tmp/heimsight-bench-data.XXXXXX)"
mkdir -p "$OUT"

log() { echo "bench: $(date -u +%H:%M:%S) $*" >&2; }

# --- processes: only the ones this script started, by pid -------------------------------
STARTED_PIDS=()
stop_pid() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  log "pid $pid ignored SIGTERM for 30s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
OWN_POLICY=0
cleanup() {
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
  if ((OWN_POLICY)); then rm -f /usr/sbin/policy-rc.d; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- packages -------------------------------------------------------------------------
install_packages() {
  local missing=()
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
  if ((${#missing[@]})); then
    log "installing ${missing[*]} (services prevented from starting)"
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && OWN_POLICY=1
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
      apt-get update >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
  fi
  # A packaged service on the default ports would share the CPU: make sure none runs.
  for unit in prometheus victoria-metrics; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then
      log "stopping the packaged $unit service"
      systemctl stop "$unit" || true
    fi
  done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() {
  local url="$1" deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    ((SECONDS < deadline)) || { log "no answer from $url"; return 1; }
    sleep 0.5
  done
}

# --- targets --------------------------------------------------------------------------
# start_target NAME DIR PORT; sets PID.
start_target() {
  local name="$1" dir="$2" port="$3"
  mkdir -p "$dir"
  case "$name" in
    heimsight)
      "$HEIMSIGHT" --web.listen-address="127.0.0.1:$port" --storage.path="$dir" --log.level=info \
        >"$dir.log" 2>&1 &
      PID=$!; STARTED_PIDS+=("$PID"); wait_http "http://127.0.0.1:$port/-/ready" ;;
    prometheus)
      printf 'global:\n  scrape_interval: 15s\n' >"$dir.yml"
      prometheus --config.file="$dir.yml" --storage.tsdb.path="$dir" --storage.tsdb.retention.time=30d \
        --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver >"$dir.log" 2>&1 &
      PID=$!; STARTED_PIDS+=("$PID"); wait_http "http://127.0.0.1:$port/-/ready" ;;
    victoriametrics)
      victoria-metrics -storageDataPath="$dir" -httpListenAddr="127.0.0.1:$port" -retentionPeriod=1y \
        >"$dir.log" 2>&1 &
      PID=$!; STARTED_PIDS+=("$PID"); wait_http "http://127.0.0.1:$port/health" ;;
  esac
}

write_url() { echo "http://127.0.0.1:$1/api/v1/write"; }
peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

# --- phase A: ingest at saturation ----------------------------------------------------
# One fresh process per concurrency level: a store that acknowledges only after fsync is
# latency-bound at few connections, so "saturation" is the best rate over the levels tried.
ingest_once() {
  local name="$1" conc="$2" port dir cpu0 cpu1 tag="$1-ingest-c$2"
  port="$(free_port)"; dir="$WORK/$tag"
  start_target "$name" "$dir" "$port"
  cpu0="$(cpu_seconds "$PID")"
  log "$name: ingest at saturation, $INGEST_SERIES series, $conc connections, $INGEST_DURATION"
  /usr/bin/time -f '{"loadgen_cpu_s": %U, "loadgen_sys_s": %S}' -o "$OUT/$tag-loadgen.json" \
    timeout 600 "$LOADGEN" write --url "$(write_url "$port")" --series "$INGEST_SERIES" --labels "$LABELS" \
    --seed "$SEED" --duration "$INGEST_DURATION" --concurrency "$conc" --batch "$INGEST_BATCH" >"$OUT/$tag.json"
  cpu1="$(cpu_seconds "$PID")"
  jq -n --argjson rss "$(peak_rss_kib "$PID")" --argjson cpu "$(awk -v a="$cpu1" -v b="$cpu0" 'BEGIN {print a - b}')" \
    '{peak_rss_kib: $rss, target_cpu_s: $cpu}' >"$OUT/$tag-proc.json"
  stop_pid "$PID"
  cp "$dir.log" "$OUT/$tag.log" 2>/dev/null || true
  rm -rf "$dir"
}

phase_ingest() {
  local name="$1" conc best="" best_rate=-1 rate
  for conc in $INGEST_CONCURRENCY; do
    ingest_once "$name" "$conc"
    rate="$(jq '.samples_per_s' "$OUT/$name-ingest-c$conc.json")"
    if awk -v a="$rate" -v b="$best_rate" 'BEGIN {exit !(a > b)}'; then best="$conc"; best_rate="$rate"; fi
  done
  for part in "" -proc -loadgen; do cp "$OUT/$name-ingest-c$best$part.json" "$OUT/$name-ingest$part.json"; done
}

# --- phase B: backfill, persist, bytes per sample, range query ------------------------
prometheus_block_samples() {
  local metas=("$1"/*/meta.json)
  if [[ -e "${metas[0]}" ]]; then jq -s 'map(.stats.numSamples) | add // 0' "${metas[@]}"; else echo 0; fi
}

# Waits until every backfilled sample is in blocks/parts; writes $OUT/NAME-disk.json.
persist_and_measure() {
  local name="$1" dir="$2" port="$3" samples="$4" deadline=$((SECONDS + PERSIST_WAIT_S)) bytes=0 stored=0 note=""
  case "$name" in
    heimsight)
      # The background cutter (every 60s) writes every aligned 2h range below head max − 1h.
      while :; do
        local head_min
        head_min="$({ curl -fsS "http://127.0.0.1:$port/metrics" || true; } | awk '/^heimsight_head_min_time_ms /{print $2}')"
        if [[ -n "$head_min" ]] && (( ${head_min%.*} > END_S * 1000 )); then break; fi
        if grep -q "cutting the head into blocks failed" "$dir.log"; then
          note="$(grep -m1 'cutting the head into blocks failed' "$dir.log" | cut -c1-300)"; break
        fi
        ((SECONDS < deadline)) || { note="head not cut within ${PERSIST_WAIT_S}s"; break; }
        sleep 2
      done
      sleep 2
      if [[ -d "$dir/blocks" ]]; then
        bytes="$(du -sb "$dir/blocks" | cut -f1)"
        stored="$(find "$dir/blocks" -name meta.json -exec cat {} + | jq -s 'map(.samples // 0) | add // 0')"
      fi ;;
    prometheus)
      # Head compaction runs once head max − head min > 3h (the marker sample makes it so).
      while :; do
        stored="$(prometheus_block_samples "$dir")"
        ((stored >= samples)) && break
        ((SECONDS < deadline)) || { note="only $stored samples in blocks after ${PERSIST_WAIT_S}s"; break; }
        sleep 2
      done
      sleep 5 # let a running compaction finish writing
      stored="$(prometheus_block_samples "$dir")"
      bytes="$(find "$dir" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9A-Z]{26}' \
        -exec du -sb {} + | awk '{s += $1} END {print s + 0}')" ;;
    victoriametrics)
      curl -fsS "http://127.0.0.1:$port/internal/force_flush" >/dev/null
      while :; do
        stored="$({ curl -fsS "http://127.0.0.1:$port/metrics" || true; } |
          awk '/^vm_rows\{type="storage\/(small|big)"\}/ {s += $2} END {printf "%d", s}')"
        ((stored >= samples)) && break
        ((SECONDS < deadline)) || { note="only $stored rows in parts after ${PERSIST_WAIT_S}s"; break; }
        sleep 2
      done
      sleep 10 # background merges of the fresh small parts
      bytes="$(du -sb "$dir/data" "$dir/indexdb" | awk '{s += $1} END {print s + 0}')" ;;
  esac
  jq -n --argjson bytes "$bytes" --argjson stored "$stored" --argjson sent "$samples" --arg note "$note" \
    '{disk_bytes: $bytes, samples_stored: $stored, samples_sent: $sent,
      bytes_per_sample: (if $stored > 0 and $note == "" then $bytes / $stored else null end), note: $note}' \
    >"$OUT/$name-disk.json"
}

phase_query() {
  local name="$1" port dir samples extra=()
  port="$(free_port)"; dir="$WORK/$name-query"
  start_target "$name" "$dir" "$port"
  log "$name: backfill $QUERY_SERIES series × 6h at 15s"
  timeout 900 "$LOADGEN" backfill --url "$(write_url "$port")" --series "$QUERY_SERIES" --labels "$LABELS" \
    --seed "$SEED" --start "$START_S" --end "$END_S" --interval 15s --concurrency "$BACKFILL_CONCURRENCY" --batch 0 \
    >"$OUT/$name-backfill.json"
  # One sample of another job at now moves every head's max time 3h05m past the data.
  "$LOADGEN" backfill --url "$(write_url "$port")" --series 1 --job bench-marker --seed "$SEED" \
    --start "$(date +%s)" --end "$(date +%s)" --concurrency 1 --progress 0s >"$OUT/$name-marker.json"
  samples="$(jq .samples_ok "$OUT/$name-backfill.json")"
  log "$name: waiting for $samples samples to reach blocks"
  persist_and_measure "$name" "$dir" "$port" "$samples"
  [[ "$name" == victoriametrics ]] && extra=(--param nocache=1) # its rollup cache would answer repeats
  log "$name: range query × $QUERY_REPEAT"
  timeout 900 "$LOADGEN" query --url "http://127.0.0.1:$port" --query "$QUERY" --start "$START_S" --end "$END_S" \
    --step "$QUERY_STEP" --warmup 2 --repeat "$QUERY_REPEAT" "${extra[@]}" >"$OUT/$name-query.json" || true
  jq -n --argjson rss "$(peak_rss_kib "$PID")" '{peak_rss_kib: $rss}' >"$OUT/$name-query-proc.json"
  stop_pid "$PID"
  cp "$dir.log" "$OUT/$name-query.log" 2>/dev/null || true
  rm -rf "$dir"
}

# --- summary: absolute figures and Heimsight's ratios to each peer ----------------------
summarize() {
  python3 - "$1" <<'PY'
import json, os, sys
out = sys.argv[1]
names = [("heimsight", "Heimsight"), ("prometheus", "Prometheus 2.42"), ("victoriametrics", "VictoriaMetrics 1.79")]
def load(name, part):
    try:
        with open(os.path.join(out, f"{name}-{part}.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
def get(d, *path):
    for key in path:
        if not isinstance(d, dict) or d.get(key) is None:
            return None
        d = d[key]
    return d
rows = []  # (label, unit, values by name, better: "higher"/"lower"/None)
def row(label, better, fn):
    rows.append((label, better, {n: fn(n) for n, _ in names}))
def ingest_rate(n):
    r = load(n, "ingest")
    return r.get("samples_per_s") if r and not r.get("caught_up_with_now") else None
row("ingest at saturation, samples/s", "higher", ingest_rate)
row("ingest request latency p50, ms", "lower", lambda n: get(load(n, "ingest"), "latency", "p50_ms"))
row("ingest request latency p99, ms", "lower", lambda n: get(load(n, "ingest"), "latency", "p99_ms"))
row("ingest errors (requests)", "lower", lambda n: sum(load(n, "ingest").get("errors", {}).values()) if load(n, "ingest") else None)
row("target CPU during ingest, s", "lower", lambda n: get(load(n, "ingest-proc"), "target_cpu_s"))
def per_cpu(n):
    cpu, ok = get(load(n, "ingest-proc"), "target_cpu_s"), get(load(n, "ingest"), "samples_ok")
    return ok / cpu if cpu and ok else None
row("samples ingested per target CPU-second", "higher", per_cpu)
def loadgen_cpu(n):
    r = load(n, "ingest-loadgen")
    return r["loadgen_cpu_s"] + r["loadgen_sys_s"] if r else None
row("load generator CPU during ingest, s", None, loadgen_cpu)
row("peak RSS during ingest, MiB", "lower", lambda n: (get(load(n, "ingest-proc"), "peak_rss_kib") or 0) / 1024 or None)
row("backfill rate (one timestamp of a connection's series per request), samples/s", "higher", lambda n: get(load(n, "backfill"), "samples_per_s"))
row("bytes per sample on disk (blocks/parts)", "lower", lambda n: get(load(n, "disk"), "bytes_per_sample"))
row("range query p50, ms", "lower", lambda n: get(load(n, "query"), "latency", "p50_ms") if get(load(n, "query"), "ok") else None)
row("range query p99, ms", "lower", lambda n: get(load(n, "query"), "latency", "p99_ms") if get(load(n, "query"), "ok") else None)
row("peak RSS during backfill + query, MiB", "lower", lambda n: (get(load(n, "query-proc"), "peak_rss_kib") or 0) / 1024 or None)
def fmt(v):
    if v is None:
        return "not measured"
    if isinstance(v, (int, float)) and abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}" if isinstance(v, float) else str(v)
def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b not in (None, 0) else "–"
print("| measure | " + " | ".join(t for _, t in names) + " | Heimsight ÷ Prometheus | Heimsight ÷ VictoriaMetrics |")
print("|---|" + "---:|" * (len(names) + 2))
for label, better, values in rows:
    h, p, v = (values[n] for n, _ in names)
    print(f"| {label} | {fmt(h)} | {fmt(p)} | {fmt(v)} | {ratio(h, p)} | {ratio(h, v)} |")
print()
for n, title in names:
    levels = []
    for f in sorted(os.listdir(out)):
        if f.startswith(f"{n}-ingest-c") and f.endswith(".json") and f.count("-") == 2:
            r = load(n, f[len(n) + 1:-5])
            levels.append((int(f[len(n) + 9:-5]), r.get("samples_per_s")))
    if levels:
        text = ", ".join(f"{c} connections → {fmt(v)}/s" for c, v in sorted(levels))
        print(f"- {title} ingest by connections: {text}")
    for part in ("ingest", "backfill", "query"):
        r = load(n, part)
        if r.get("errors"):
            print(f"- {title} {part}: errors {r['errors']}; first: {r.get('first_error')}")
    d = load(n, "disk")
    if d.get("note"):
        print(f"- {title} disk: {d['note']}")
    q = load(n, "query")
    if q:
        print(f"- {title} query answer: {q.get('result_series')} series, {q.get('result_points')} points")
PY
}

# --- main -----------------------------------------------------------------------------
install_packages
if [[ "$BUILD" == 1 ]]; then
  log "cargo build --release (heimsight, heimsight-loadgen)"
  (cd "$ROOT" && cargo build --release --bin heimsight --bin heimsight-loadgen >&2)
fi
NOW_S="$(date +%s)"
END_S=$(( (NOW_S - 3 * 3600 - 300) / 15 * 15 ))
START_S=$(( END_S - 6 * 3600 ))
{
  echo "date_utc=$(date -u +%FT%TZ)"
  echo "heimsight_commit=$(git -C "$ROOT" rev-parse --short HEAD)"
  echo "prometheus=$(prometheus --version 2>&1 | head -1)"
  echo "victoria_metrics=$(dpkg-query -W -f='${Version}' victoria-metrics)"
  echo "cpu=$(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "query_range=$START_S..$END_S step=$QUERY_STEP query=$QUERY"
} >"$OUT/environment.txt"
cat "$OUT/environment.txt" >&2
if [[ " $PHASES " == *" ingest "* ]]; then
  for name in $TARGETS; do phase_ingest "$name"; done
fi
if [[ " $PHASES " == *" query "* ]]; then
  for name in $TARGETS; do phase_query "$name"; done
fi
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/environment.txt"
summarize "$OUT" >"$OUT/summary.md"
cat "$OUT/summary.md"
log "results in $OUT"
