#!/usr/bin/env bash
# A loopback Spark standalone cluster (one Master JVM + N Worker JVMs on 127.0.0.1), run from the
# Maven-built Spark "distribution" in jobs/spark-runtime/target/spark-home (no Spark tarball).
#
# Usage: scripts/local-cluster.sh start|stop|status|url [options]
#
#   start    start the Master, then N Workers; wait until every Worker has registered with the
#            Master; print the master URL (spark://127.0.0.1:PORT) as the only line on stdout
#            (progress goes to stderr). On failure: print the log tails, stop what it started,
#            exit 1. Refuses to start while this cluster directory's pid files name live JVMs.
#   stop     stop the Workers (and any executor/driver JVMs they left), then the Master; wait for
#            them to exit; remove the pid files. Running it when nothing runs is fine.
#   status   say which of the Master/Workers are alive (and what the Master reports, via curl).
#            Exit 0: all alive; 3: nothing running; 1: partly running.
#   url      print the master URL. Exit 0 when the Master is alive, else 3 (the URL is still printed).
#
# Options (start uses all of them; stop/status/url only use --port to find the cluster directory):
#   --workers N       worker JVMs                              (default 2)
#   --cores C         cores each worker offers                 (default 1)
#   --memory M        memory each worker offers, e.g. 4g, 512m (default 4g)
#   --port P          master RPC port                          (default 7077)
#   --webui-port W    master web UI port (default P+1003, so 7077 -> 8080; when that port is taken
#                     and W was not given, a free port is chosen; `status` prints the real one).
#                     Worker RPC and web UI ports are always chosen free by the OS.
#   --timeout S       seconds to wait for the Master and for the Workers to register (default 60)
#
# Environment:
#   CHAINRULE_CLUSTER_DIR  logs/, pid files, cluster.env and work/worker-K/ (the worker work dirs,
#                          where each application's executors leave app-*/K/{stdout,stderr}).
#                          Default: <repo>/runs/cluster for port 7077, <repo>/runs/cluster-P for
#                          another --port P, so clusters on different ports never share a directory.
#   SPARK_HOME             the Spark home whose jars/ are used (default:
#                          <repo>/jobs/spark-runtime/target/spark-home). When jars/ is missing the
#                          script does NOT build it; it stops and prints the Maven command to run.
#   JAVA_HOME              java to use (else java on PATH); Java 17.
#
# Every JVM gets -Xmx512m and the Java 17 --add-opens list from scripts/lib/common.sh, and runs with
# SPARK_SCALA_VERSION=2.12 and SPARK_LOCAL_IP=127.0.0.1. Work dirs are kept between runs.
# Applications submitted with scripts/submit.sh keep their Spark UI on: the master's web UI lists them and links to it.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# ------------------------------------------------------------------------- arguments
CMD=""
WORKERS=2
CORES=1
MEMORY=4g
PORT=7077
PORT_GIVEN=0
WEBUI_PORT=""
TIMEOUT=60

need_value() { [[ $# -ge 2 && -n "$2" ]] || chainrule_die "option $1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    start|stop|status|url)
      [[ -z "$CMD" ]] || chainrule_die "only one command please (got '$CMD' and '$1')"
      CMD=$1; shift ;;
    --workers)    need_value "$@"; WORKERS=$2; shift 2 ;;
    --workers=*)  WORKERS=${1#*=}; shift ;;
    --cores)      need_value "$@"; CORES=$2; shift 2 ;;
    --cores=*)    CORES=${1#*=}; shift ;;
    --memory)     need_value "$@"; MEMORY=$2; shift 2 ;;
    --memory=*)   MEMORY=${1#*=}; shift ;;
    --port)       need_value "$@"; PORT=$2; PORT_GIVEN=1; shift 2 ;;
    --port=*)     PORT=${1#*=}; PORT_GIVEN=1; shift ;;
    --webui-port) need_value "$@"; WEBUI_PORT=$2; shift 2 ;;
    --webui-port=*) WEBUI_PORT=${1#*=}; shift ;;
    --timeout)    need_value "$@"; TIMEOUT=$2; shift 2 ;;
    --timeout=*)  TIMEOUT=${1#*=}; shift ;;
    -h|--help)    usage; exit 0 ;;
    *) chainrule_log "error: unknown argument '$1'"; usage >&2; exit 2 ;;
  esac
done
[[ -n "$CMD" ]] || { usage >&2; exit 2; }

# in_range VALUE MIN MAX: VALUE is an integer in [MIN, MAX]
in_range() { [[ "$1" =~ ^[0-9]{1,9}$ ]] && ((10#$1 >= $2 && 10#$1 <= $3)); }
in_range "$WORKERS" 1 64 || chainrule_die "--workers must be 1..64 (got '$WORKERS')"
in_range "$CORES" 1 4096 || chainrule_die "--cores must be a positive integer (got '$CORES')"
[[ "$MEMORY" =~ ^0*[1-9][0-9]*[mMgGtT]$ ]] || chainrule_die "--memory must look like 4g or 512m (got '$MEMORY')"
in_range "$PORT" 1 65535 || chainrule_die "--port must be 1..65535 (got '$PORT')"
if [[ -n "$WEBUI_PORT" ]]; then
  in_range "$WEBUI_PORT" 0 65535 || chainrule_die "--webui-port must be 0..65535 (got '$WEBUI_PORT')"
fi
in_range "$TIMEOUT" 1 86400 || chainrule_die "--timeout must be a positive number of seconds (got '$TIMEOUT')"
WORKERS=$((10#$WORKERS)) CORES=$((10#$CORES)) PORT=$((10#$PORT)) TIMEOUT=$((10#$TIMEOUT))
[[ -z "$WEBUI_PORT" ]] || WEBUI_PORT=$((10#$WEBUI_PORT))

if [[ -n "${CHAINRULE_CLUSTER_DIR:-}" ]]; then
  DIR=$CHAINRULE_CLUSTER_DIR
elif ((PORT == 7077)); then
  DIR=$CHAINRULE_ROOT/runs/cluster
else
  DIR=$CHAINRULE_ROOT/runs/cluster-$PORT
fi
[[ "$DIR" == /* ]] || DIR=$PWD/$DIR
[[ "$CMD" != start ]] || mkdir -p "$DIR"
if [[ -d "$DIR" ]]; then DIR=$(cd "$DIR" && pwd -P); fi
LOGS=$DIR/logs
WORK=$DIR/work
STATE=$DIR/cluster.env
MARKER="-Dchainrule.cluster.dir=$DIR"

# ------------------------------------------------------------------------- process helpers
# cmdline PID: the process's command line, words separated by spaces ("" when it is gone).
cmdline() {
  if [[ -r /proc/$1/cmdline ]]; then
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
  else
    ps -o args= -p "$1" 2>/dev/null || true
  fi
}

STARTED_PIDS=" "  # pids this run of the script launched (trusted even before their exec)

# ours PID CLASS: PID is alive and is this cluster's JVM running CLASS (guards against reused pids).
ours() {
  local pid=$1 class=$2 cl
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$STARTED_PIDS" == *" $pid "* ]] && return 0
  cl=$(cmdline "$pid")
  [[ "$cl" == *"$MARKER "* && "$cl" == *"$class"* ]]
}

alive() { [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null; }

read_pid() {
  if [[ -f "$1" ]]; then tr -dc '0-9' <"$1"; fi
}

# descendants PID...: every descendant of the given pids, one a line.
descendants() {
  local -a queue=("$@")
  local table p c
  table=$(ps -e -o pid=,ppid= 2>/dev/null || true)
  while ((${#queue[@]} > 0)); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    while read -r c; do
      printf '%s\n' "$c"
      queue+=("$c")
    done < <(awk -v p="$p" '$2 == p { print $1 }' <<<"$table")
  done
}

# in_work_dir: pids of processes (of this user) whose working directory is under $WORK:
# executor and cluster-mode driver JVMs that the workers started.
in_work_dir() {
  local d cwd
  for d in /proc/[0-9]*; do
    cwd=$(readlink "$d/cwd" 2>/dev/null) || continue
    [[ "$cwd" == "$WORK"/* ]] && printf '%s\n' "${d#/proc/}"
  done
  return 0
}

# wait_gone SECONDS PID...: wait until none of the pids is alive; return 1 on timeout.
wait_gone() {
  local limit=$1 p any
  shift
  local end=$((SECONDS + limit))
  while :; do
    any=0
    for p in "$@"; do alive "$p" && any=1 && break; done
    ((any == 0)) && return 0
    ((SECONDS >= end)) && return 1
    sleep 0.2
  done
}

# terminate LABEL SECONDS PID...: SIGTERM, wait, then SIGKILL what is left.
terminate() {
  local label=$1 limit=$2 p
  shift 2
  local -a live=()
  for p in "$@"; do alive "$p" && live+=("$p"); done
  ((${#live[@]} > 0)) || return 0
  kill -TERM "${live[@]}" 2>/dev/null || true
  if ! wait_gone "$limit" "${live[@]}"; then
    chainrule_log "$label still alive after ${limit}s, sending SIGKILL"
    for p in "${live[@]}"; do
      if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    wait_gone 10 "${live[@]}" || chainrule_log "warning: $label did not exit even after SIGKILL"
  fi
}

worker_pid_files() { compgen -G "$DIR/worker-*.pid" | sort -V || true; }

# stop_cluster [quiet]: stop everything this cluster directory's pid files (and work dir) name.
stop_cluster() {
  local quiet=${1:-} f pid name t0=$SECONDS n=0
  local -a workers=() kids=() stray=()
  local mpid
  for f in $(worker_pid_files); do
    pid=$(read_pid "$f")
    name=$(basename "$f" .pid)
    if ours "$pid" org.apache.spark.deploy.worker.Worker; then
      workers+=("$pid")
      [[ -n "$quiet" ]] || chainrule_log "stopping $name (pid $pid)"
    fi
  done
  if ((${#workers[@]} > 0)); then
    mapfile -t kids < <(descendants "${workers[@]}")
    # A worker's shutdown hook kills its executors (waiting up to 10 s for each), so be patient.
    terminate "workers" 30 "${workers[@]}"
    n=$((n + ${#workers[@]}))
  fi
  mpid=$(read_pid "$DIR/master.pid")
  if ours "$mpid" org.apache.spark.deploy.master.Master; then
    [[ -n "$quiet" ]] || chainrule_log "stopping master (pid $mpid)"
    terminate "master" 20 "$mpid"
    n=$((n + 1))
  fi
  # Executor / driver JVMs the workers started and did not take down with them: children of the
  # workers that still run an executor/driver class, and anything running inside the work dirs.
  for pid in "${kids[@]}"; do
    [[ "$(cmdline "$pid")" =~ CoarseGrainedExecutorBackend|DriverWrapper ]] && stray+=("$pid")
  done
  for pid in $(in_work_dir); do
    [[ "$pid" != "$$" ]] && alive "$pid" && stray+=("$pid")
  done
  if ((${#stray[@]} > 0)); then
    mapfile -t stray < <(printf '%s\n' "${stray[@]}" | sort -un)
    chainrule_log "stopping ${#stray[@]} leftover executor/driver process(es): ${stray[*]}"
    terminate "leftover executors" 15 "${stray[@]}"
  fi
  rm -f "$DIR/master.pid" "$DIR"/worker-*.pid
  if [[ -z "$quiet" ]]; then
    if ((n == 0 && ${#stray[@]} == 0)); then
      chainrule_log "no cluster running in $DIR"
    else
      chainrule_log "stopped in $((SECONDS - t0))s"
    fi
  fi
}

# ------------------------------------------------------------------------- state
state_get() {  # state_get KEY: a value from cluster.env ("" when absent)
  [[ -f "$STATE" ]] || return 0
  sed -n "s/^$1=//p" "$STATE" | tail -n 1
}

port_in_use() {  # port_in_use PORT: something accepts connections on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

master_url() {
  local p
  p=$(state_get PORT)
  printf 'spark://127.0.0.1:%s\n' "${p:-$PORT}"
}

webui_port_from_log() {
  sed -n 's|.*Bound MasterWebUI to .*started at http://[^:]*:\([0-9][0-9]*\).*|\1|p' "$LOGS/master.log" 2>/dev/null |
    tail -n 1
}

show_tails() {
  local f
  for f in "$LOGS"/master.log "$LOGS"/worker-*.log; do
    [[ -f "$f" ]] || continue
    printf '\n----- last 30 lines of %s -----\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
}

lock() {  # one local-cluster.sh at a time per cluster directory
  if [[ -d "$DIR" ]] && command -v flock >/dev/null 2>&1; then
    exec 9>"$DIR/.lock"
    flock -n 9 || chainrule_die "another local-cluster.sh is working on $DIR right now"
  fi
}

# ------------------------------------------------------------------------- commands
START_DONE=1
on_start_exit() {
  if ((START_DONE == 0)); then
    chainrule_log "start failed; stopping what was started"
    stop_cluster quiet
  fi
}

cmd_start() {
  local spark_home java t0=$SECONDS mpid pid i end ui n_reg running=()
  spark_home=$(chainrule_spark_home)
  chainrule_require_spark_home "$spark_home"
  spark_home=$(cd "$spark_home" && pwd)
  java=$(chainrule_java)
  lock

  mpid=$(read_pid "$DIR/master.pid")
  ours "$mpid" org.apache.spark.deploy.master.Master && running+=("master (pid $mpid)")
  for f in $(worker_pid_files); do
    pid=$(read_pid "$f")
    ours "$pid" org.apache.spark.deploy.worker.Worker && running+=("$(basename "$f" .pid) (pid $pid)")
  done
  if ((${#running[@]} > 0)); then
    chainrule_die "a cluster is already running from $DIR: ${running[*]}; url: $(master_url); run '$0 stop$( ((PORT_GIVEN)) && printf ' --port %s' "$PORT")' first"
  fi
  # Stale pid files (a crashed cluster): sweep what it may have left, then start afresh.
  if [[ -f "$DIR/master.pid" ]] || [[ -n "$(worker_pid_files)" ]]; then
    chainrule_log "removing stale pid files in $DIR"
    stop_cluster quiet
  fi

  if port_in_use "$PORT"; then
    chainrule_die "port $PORT on 127.0.0.1 is already in use (another cluster? choose another --port)"
  fi
  if [[ -z "$WEBUI_PORT" ]]; then
    ui=$((PORT + 1003))
    if ((ui > 65535)) || port_in_use "$ui"; then ui=0; fi
  else
    ui=$WEBUI_PORT
    if ((ui != 0)) && port_in_use "$ui"; then
      chainrule_die "web UI port $ui on 127.0.0.1 is already in use (choose another --webui-port, or 0)"
    fi
  fi

  mkdir -p "$LOGS" "$WORK"
  rm -f "$LOGS"/master.log "$LOGS"/worker-*.log
  {
    printf 'PORT=%s\n' "$PORT"
    printf 'WORKERS=%s\nCORES=%s\nMEMORY=%s\n' "$WORKERS" "$CORES" "$MEMORY"
    printf 'SPARK_HOME=%s\n' "$spark_home"
  } >"$STATE"

  export SPARK_HOME=$spark_home SPARK_SCALA_VERSION=2.12 SPARK_LOCAL_IP=127.0.0.1
  unset SPARK_MASTER_HOST SPARK_MASTER_PORT SPARK_MASTER_WEBUI_PORT SPARK_WORKER_PORT \
    SPARK_WORKER_WEBUI_PORT SPARK_WORKER_DIR SPARK_WORKER_CORES SPARK_WORKER_MEMORY
  local -a opens
  read -r -a opens <<<"$CHAINRULE_JAVA17_OPENS"

  # From here on, any exit before the end (failure, error, INT/TERM) stops what was started.
  START_DONE=0
  trap on_start_exit EXIT
  trap 'chainrule_log "interrupted"; exit 130' INT
  trap 'chainrule_log "terminated"; exit 143' TERM
  fail() {
    chainrule_log "error: $*"
    show_tails
    exit 1
  }

  chainrule_log "cluster dir: $DIR"
  chainrule_log "SPARK_HOME:  $spark_home"
  # spark.port.maxRetries=0: fail instead of silently moving to port+1 when the port is taken.
  nohup "$java" -Xmx512m "${opens[@]}" "$MARKER" -Dspark.port.maxRetries=0 -cp "$spark_home/jars/*" \
    org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$PORT" --webui-port "$ui" \
    >"$LOGS/master.log" 2>&1 </dev/null 9>&- &
  mpid=$!
  STARTED_PIDS+="$mpid "
  echo "$mpid" >"$DIR/master.pid"
  chainrule_log "master: pid $mpid, log $LOGS/master.log"

  end=$((SECONDS + TIMEOUT))
  until grep -q "New state: ALIVE" "$LOGS/master.log" 2>/dev/null; do
    alive "$mpid" || fail "the master exited during start-up"
    ((SECONDS < end)) || fail "the master was not ALIVE after ${TIMEOUT}s"
    sleep 0.2
  done
  grep -q "Starting Spark master at spark://127.0.0.1:$PORT" "$LOGS/master.log" ||
    fail "the master did not bind spark://127.0.0.1:$PORT"
  ui=$(webui_port_from_log)
  [[ -n "$ui" ]] && printf 'WEBUI_PORT=%s\n' "$ui" >>"$STATE"
  chainrule_log "master ALIVE after $((SECONDS - t0))s${ui:+, web UI http://127.0.0.1:$ui}"

  for ((i = 1; i <= WORKERS; i++)); do
    mkdir -p "$WORK/worker-$i"
    nohup "$java" -Xmx512m "${opens[@]}" "$MARKER" -cp "$spark_home/jars/*" \
      org.apache.spark.deploy.worker.Worker "spark://127.0.0.1:$PORT" --host 127.0.0.1 --port 0 \
      --webui-port 0 --cores "$CORES" --memory "$MEMORY" --work-dir "$WORK/worker-$i" \
      >"$LOGS/worker-$i.log" 2>&1 </dev/null 9>&- &
    STARTED_PIDS+="$! "
    echo "$!" >"$DIR/worker-$i.pid"
    chainrule_log "worker-$i: pid $!, log $LOGS/worker-$i.log, work dir $WORK/worker-$i"
  done

  end=$((SECONDS + TIMEOUT))
  while :; do
    n_reg=0
    for ((i = 1; i <= WORKERS; i++)); do
      pid=$(read_pid "$DIR/worker-$i.pid")
      alive "$pid" || fail "worker-$i exited during start-up"
      grep -q "Successfully registered with master" "$LOGS/worker-$i.log" 2>/dev/null && n_reg=$((n_reg + 1))
    done
    alive "$mpid" || fail "the master exited while the workers were starting"
    ((n_reg == WORKERS)) && break
    ((SECONDS < end)) || fail "only $n_reg of $WORKERS workers registered within ${TIMEOUT}s"
    sleep 0.2
  done
  START_DONE=1
  trap - INT TERM EXIT
  chainrule_log "$WORKERS worker(s) x $CORES core(s), $MEMORY registered; started in $((SECONDS - t0))s"
  master_url
}

cmd_stop() {
  lock
  stop_cluster
}

cmd_status() {
  local mpid pid f name n_alive=0 n_all=0 ui json
  mpid=$(read_pid "$DIR/master.pid")
  echo "cluster dir: $DIR"
  if [[ -z "$mpid" && -z "$(worker_pid_files)" ]]; then
    echo "not running (no pid files)"
    return 3
  fi
  ui=$(state_get WEBUI_PORT)
  n_all=$((n_all + 1))
  if ours "$mpid" org.apache.spark.deploy.master.Master; then
    n_alive=$((n_alive + 1))
    echo "master    pid ${mpid:-?}  alive  $(master_url)${ui:+  web UI http://127.0.0.1:$ui}"
  else
    echo "master    pid ${mpid:-?}  DEAD"
  fi
  for f in $(worker_pid_files); do
    pid=$(read_pid "$f")
    name=$(basename "$f" .pid)
    n_all=$((n_all + 1))
    if ours "$pid" org.apache.spark.deploy.worker.Worker; then
      n_alive=$((n_alive + 1))
      echo "$name  pid $pid  alive"
    else
      echo "$name  pid ${pid:-?}  DEAD"
    fi
  done
  if [[ -n "$ui" ]] && ours "$mpid" org.apache.spark.deploy.master.Master && command -v curl >/dev/null 2>&1; then
    if json=$(curl -fsS --max-time 5 "http://127.0.0.1:$ui/json/" 2>/dev/null); then
      json=$(tr -d ' \n\t' <<<"$json")
      local workers apps state
      workers=$(sed -n 's/.*"aliveworkers":\([0-9]*\).*/\1/p' <<<"$json")
      apps=$(sed -n 's/.*"activeapps":\[\(.*\)\],"completedapps".*/\1/p' <<<"$json" | grep -o '"id":"app-' | wc -l || true)
      state=$(sed -n 's/.*"status":"\([A-Z_]*\)".*/\1/p' <<<"$json")
      echo "master reports: status ${state:-?}, ${workers:-?} alive worker(s), ${apps:-?} running application(s)"
    fi
  fi
  ((n_alive == n_all)) && return 0
  ((n_alive == 0)) && return 3
  return 1
}

cmd_url() {
  local mpid
  master_url
  mpid=$(read_pid "$DIR/master.pid")
  if ! ours "$mpid" org.apache.spark.deploy.master.Master; then
    chainrule_log "warning: no master running from $DIR"
    return 3
  fi
}

case "$CMD" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
esac
