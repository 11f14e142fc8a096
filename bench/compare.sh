#!/usr/bin/env bash
# Runs Rivulet, Redis 7 Streams (appendfsync always) and NATS JetStream (file storage) side by side on
# loopback and prints medians, min and max and the Rivulet-to-peer ratios. See BENCHMARKS.md.
#
#   bench/compare.sh                      quick mode (a few minutes)
#   bench/compare.sh --full               the complete sizes (1,000,000 messages, 10,000 sockets, 1 GiB log)
#   bench/compare.sh --workloads w1,w2    only some workloads (w1 ... w7)
#   bench/compare.sh --systems rivulet,redis
#
# Each server runs on CPU 1 and every load generator on CPU 0 (taskset). Each workload gets one discarded
# warm-up run and then five measured runs, interleaved across the systems. Every server the script starts
# is stopped by its pid and its temporary directory removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=quick
WORKLOADS=w1,w2,w3,w4,w5,w6,w7
SYSTEMS=rivulet,redis,nats
RUNS=5
while [[ $# -gt 0 ]]; do
    case "$1" in
        --full) MODE=full ;;
        --workloads) WORKLOADS=$2; shift ;;
        --systems) SYSTEMS=$2; shift ;;
        --runs) RUNS=$2; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# --- Setup: Debian packages, the peers' Python clients, the release build -----------------------------------
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v nats-server >/dev/null || missing+=(nats-server)
command -v taskset >/dev/null || missing+=(util-linux)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if [[ ${#missing[@]} -gt 0 ]]; then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
VENV="$ROOT/bench/.venv"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import redis, nats' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'redis==5.0.8' 'nats-py==2.9.0'
fi
PY="$VENV/bin/python"
(cd "$ROOT" && swift build -c release >/dev/null)
RIVULET="$ROOT/.build/release/rivulet"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/rivulet-compare.XXXXXX)
RESULTS="$WORK/results.jsonl"
PASSWORD=bench-password-1
declare -A PID PORT DIR
cleanup() {
    for system in "${!PID[@]}"; do stop_server "$system"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Servers ------------------------------------------------------------------------------------------------
# Below Linux's default ephemeral range (32768-60999): a client connecting to a port in that range that
# nothing listens on yet can connect to itself and read back its own request.
next_port=$((20000 + RANDOM % 10000))

start_server() {  # system [reuse-dir]
    local system=$1 dir=${2:-}
    if [[ -z $dir ]]; then dir="$WORK/$system-$next_port"; mkdir -p "$dir"; fi
    local port=$next_port
    next_port=$((next_port + 1))
    case $system in
        rivulet)
            # Every benchmark client connects from 127.0.0.1, and W5 and W6 go past the per-address and
            # per-fabric defaults (1,000 connections, 10,000 streams) on purpose.
            taskset -c 1 "$RIVULET" serve --port "$port" --data-dir "$dir/data" --admin-password "$PASSWORD" \
                --max-connections-per-address 100000 --max-streams-per-fabric 1000000 \
                --log-level warning >>"$dir/server.log" 2>&1 &
            ;;
        redis)
            taskset -c 1 redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes \
                --appendfsync always --save '' --maxclients 20000 --logfile "$dir/server.log" &
            ;;
        nats)
            taskset -c 1 nats-server -a 127.0.0.1 -p "$port" -js -sd "$dir" >>"$dir/server.log" 2>&1 &
            ;;
    esac
    PID[$system]=$!
    disown "$!"  # stop_server waits by polling the pid; this keeps bash from reporting the kill -9 runs
    PORT[$system]=$port
    DIR[$system]=$dir
    "$PY" "$ROOT/bench/wait_ready.py" "$system" "$port" --password "$PASSWORD" --timeout 60 >/dev/null
}

stop_server() {  # system [signal]
    local system=$1 signal=${2:-TERM} pid=${PID[$1]:-}
    [[ -z $pid ]] && return 0
    kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    unset "PID[$system]"
}

# Failed runs, listed again after the summary; any failure makes the script exit 1.
FAILURES=()
record_failure() {  # system workload-id run-label
    echo "  $1 $2 $3 FAILED (its output is above)" >&2
    FAILURES+=("$1 $2 $3")
}

# Runs one load-generator invocation pinned to CPU 0 and appends its JSON line, tagged, to the results.
run_client() {  # system workload-id run-label args...
    local system=$1 id=$2 label=$3; shift 3
    local load output
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [[ $system == rivulet ]]; then
        output=$(timeout 600 taskset -c 0 "$RIVULET" bench "$@" --port "${PORT[$system]}" --password "$PASSWORD" \
            --server-pid "${PID[$system]}") || { record_failure "$system" "$id" "$label"; return 0; }
    else
        output=$(timeout 600 taskset -c 0 "$PY" "$ROOT/bench/peer_bench.py" "$system" "$@" \
            --port "${PORT[$system]}" --server-pid "${PID[$system]}") || { record_failure "$system" "$id" "$label"; return 0; }
    fi
    echo "$output" | "$PY" -c 'import json,sys; r=json.loads(sys.stdin.read()); r.update(system=sys.argv[1], id=sys.argv[2], run=sys.argv[3], loadavg=float(sys.argv[4])); print(json.dumps(r))' \
        "$system" "$id" "$label" "$load" >>"$RESULTS"
    echo "  $system $id $label: $(echo "$output" | cut -c1-160)"
}

IFS=, read -r -a systems <<<"$SYSTEMS"

# One server per system for the whole workload; warm-up, then RUNS measured runs interleaved.
measure() {  # id args...
    local id=$1; shift
    local list=("${systems[@]}")
    if [[ $id == w6 ]]; then list=(); for s in "${systems[@]}"; do [[ $s != nats ]] && list+=("$s"); done; fi
    echo "== $id: $* =="
    if [[ $id == w5 || $id == w6 ]]; then
        # Memory per connection or stream: a fresh server per run, or memory freed by the previous run
        # would be reused and hide the cost.
        for run in warmup $(seq 1 "$RUNS"); do
            for system in "${list[@]}"; do
                start_server "$system"
                run_client "$system" "$id" "$run" "$@"
                stop_server "$system"
            done
        done
        return
    fi
    for system in "${list[@]}"; do start_server "$system"; done
    for system in "${list[@]}"; do run_client "$system" "$id" warmup "$@"; done
    for run in $(seq 1 "$RUNS"); do
        for system in "${list[@]}"; do run_client "$system" "$id" "$run" "$@"; done
    done
    for system in "${list[@]}"; do stop_server "$system"; done
}

# W1 publish-only: Rivulet with no subscription against redis-benchmark's pipelined XADD, Redis's best client.
measure_publish() {  # messages
    echo "== w1-publish: publish only, 100 B, Rivulet generator vs redis-benchmark =="
    local list=()
    for s in "${systems[@]}"; do [[ $s != nats ]] && list+=("$s"); done
    for system in "${list[@]}"; do start_server "$system"; done
    for run in warmup $(seq 1 "$RUNS"); do
        for system in "${list[@]}"; do
            if [[ $system == rivulet ]]; then
                run_client rivulet w1-publish "$run" throughput --messages "$1" --size 100 --subscriptions 0 --timeout 300
            else
                run_client redis w1-publish "$run" publish-only --messages "$1" --size 100 --timeout 300
            fi
        done
    done
    for system in "${list[@]}"; do stop_server "$system"; done
}

# W7: fill a log, then time kill -9 and restart until the server answers (Rivulet: a login succeeds,
# Redis: PING returns PONG after the AOF loaded, NATS: JetStream account info answers).
measure_restart() {  # bytes
    local bytes=$1
    echo "== w7: restart after kill -9 with $bytes bytes of log =="
    for system in "${systems[@]}"; do
        start_server "$system"
        run_client "$system" w7-fill fill fill --bytes "$bytes" --size 16384 --timeout 500
        local dir=${DIR[$system]}
        for run in warmup $(seq 1 "$RUNS"); do
            stop_server "$system" KILL
            local load started
            load=$(cut -d' ' -f1 /proc/loadavg)
            started=$(date +%s%N)
            start_server "$system" "$dir"
            local seconds
            seconds=$("$PY" -c "import sys,time; print((time.time_ns()-int(sys.argv[1]))/1e9)" "$started")
            echo "{\"workload\":\"restart\",\"system\":\"$system\",\"id\":\"w7\",\"run\":\"$run\",\"seconds_to_serving\":$seconds,\"log_bytes\":$(du -sb "$dir" | cut -f1),\"loadavg\":$load}" >>"$RESULTS"
            echo "  $system w7 $run: ${seconds}s to serving"
        done
        stop_server "$system"
    done
}

if [[ $MODE == full ]]; then
    W1N=1000000; W1KN=300000; W2N=60000; W3N=1000000; W4N=200000; W5N=10000; W6N=100000; W7B=1073741824
else
    W1N=50000; W1KN=20000; W2N=3000; W3N=30000; W4N=5000; W5N=2000; W6N=5000; W7B=134217728
fi

IFS=, read -r -a selected <<<"$WORKLOADS"
for workload in "${selected[@]}"; do
    case $workload in
        w1) measure w1-100B throughput --messages "$W1N" --size 100 --timeout 300
            measure w1-1KiB throughput --messages "$W1KN" --size 1024 --timeout 300
            measure_publish "$W1N" ;;
        w2) measure w2 throughput --messages "$W2N" --size 100 --rate 1000 --timeout 300 ;;
        w3) measure w3 backlog --messages "$W3N" --size 100 --timeout 500 ;;
        w4) measure w4 throughput --messages "$W4N" --size 100 --subscriptions 10 --timeout 300 ;;
        w5) measure w5 idle --connections "$W5N" --timeout 300 ;;
        w6) measure w6 streams --streams "$W6N" --timeout 500 ;;
        w7) measure_restart "$W7B" ;;
        *) echo "compare.sh: unknown workload '$workload' (use w1 ... w7)" >&2; exit 2 ;;
    esac
done

mkdir -p "$ROOT/bench/results"
cp "$RESULTS" "$ROOT/bench/results/last-$MODE.jsonl"
echo
echo "mode=$MODE commit=$(cd "$ROOT" && git rev-parse --short HEAD) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\" cores=$(nproc)"
"$PY" "$ROOT/bench/summarize.py" "$RESULTS"
echo "Cells are median (min-max) over the measured runs."
if [[ ,$SYSTEMS, == *,nats,* ]]; then
    echo "NATS JetStream acknowledges before fsync, a weaker durability than Rivulet's and Redis's fsync before"
    echo "the acknowledgement."
fi
if ((${#FAILURES[@]})); then
    echo
    echo "compare.sh: ${#FAILURES[@]} run(s) failed, so their cells are missing or rest on fewer runs:" >&2
    printf '  %s\n' "${FAILURES[@]}" >&2
    exit 1
fi
