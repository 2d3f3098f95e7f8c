#!/usr/bin/env bash
# Local single-node Kafka (KRaft, broker+controller) for regstream.
#
#   infra/kafka/kafka.sh fetch    copy Kafka jars from Maven Central into lib/ (cached)
#   infra/kafka/kafka.sh start    format storage if needed, start broker, wait until ready
#   infra/kafka/kafka.sh stop     stop the broker recorded in <data dir>/kafka.pid
#   infra/kafka/kafka.sh status   exit 0 if that broker is running
#   infra/kafka/kafka.sh topics ARGS   run TopicCommand against 127.0.0.1:$KAFKA_PORT
#                                      (e.g. `topics --list`, `topics --create --topic t`)
#
# Environment (all optional):
#   KAFKA_PORT              PLAINTEXT port            (default 9092)
#   KAFKA_CONTROLLER_PORT   KRaft controller port     (default 9093)
#   KAFKA_DATA_DIR          pid/log/config/storage    (default <repo>/.run/kafka)
#   KAFKA_START_TIMEOUT     seconds to wait for ready (default 90)
#   KAFKA_STOP_TIMEOUT      seconds before SIGKILL    (default 30)
#   KAFKA_HEAP_OPTS         default "-Xmx512m -Xms256m"
#   KAFKA_JVM_OPTS          extra JVM options for the broker
#   JAVA                    java binary               (default: java on PATH)
#
# A second broker for fault tests just needs other ports and another data dir:
#   KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 KAFKA_DATA_DIR=/tmp/k2 infra/kafka/kafka.sh start
set -euo pipefail

KAFKA_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$KAFKA_HOME/../.." && pwd -P)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$REPO_ROOT/.run/kafka}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
JAVA="${JAVA:-java}"

# Make the data dir absolute (relative paths are relative to the caller's cwd).
case "$KAFKA_DATA_DIR" in /*) ;; *) KAFKA_DATA_DIR="$PWD/$KAFKA_DATA_DIR" ;; esac

LIB_DIR="$KAFKA_HOME/lib"
STAMP_FILE="$LIB_DIR/.pom.sha256"
LOG4J_CONFIG="$KAFKA_HOME/log4j.properties"
PROPS_TEMPLATE="$KAFKA_HOME/server.properties"

PROPS_FILE="$KAFKA_DATA_DIR/server.properties"   # rendered from the template
STORAGE_DIR="$KAFKA_DATA_DIR/data"                # log.dirs (KRaft metadata + topics)
CLUSTER_ID_FILE="$KAFKA_DATA_DIR/cluster.id"
PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
LOG_FILE="$KAFKA_DATA_DIR/kafka.log"
READY_MARKER="Kafka Server started"

say() { printf 'kafka[%s]: %s\n' "$KAFKA_PORT" "$*"; }
die() { printf 'kafka[%s]: ERROR: %s\n' "$KAFKA_PORT" "$*" >&2; exit 1; }

is_port() { [[ "$1" =~ ^[0-9]+$ ]] && (( $1 > 0 && $1 < 65536 )); }
is_port "$KAFKA_PORT" || die "KAFKA_PORT must be a port number, got '$KAFKA_PORT'"
is_port "$KAFKA_CONTROLLER_PORT" || die "KAFKA_CONTROLLER_PORT must be a port number, got '$KAFKA_CONTROLLER_PORT'"
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

# ---------------------------------------------------------------- helpers

# TCP connect check on 127.0.0.1:<port>.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

pom_hash() { sha256sum "$KAFKA_HOME/pom.xml" | cut -d' ' -f1; }

lib_ready() {
  [[ -f "$STAMP_FILE" ]] && [[ "$(cat "$STAMP_FILE")" == "$(pom_hash)" ]] \
    && compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null
}

# java with the Kafka jars on the classpath and our log4j config.
kjava() {
  "$JAVA" -cp "$LIB_DIR/*" -Dlog4j.configuration="file:$LOG4J_CONFIG" "$@"
}

# Process $1 exists and is not a zombie (kill -0 succeeds on zombies).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local st; st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ "$st" != Z ]]
}

# PID from the pid file, only if that process is alive AND is the kafka.Kafka
# JVM using this data dir's config (guards against stale files / reused PIDs).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid cmdline
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] || return 1
  alive "$pid" || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *" kafka.Kafka $PROPS_FILE"* ]] || return 1
  echo "$pid"
}

render_props() {
  local text
  text="$(<"$PROPS_TEMPLATE")"
  # Quoted replacements: no '&' / pattern surprises (bash 5.2 patsub_replacement).
  text="${text//@KAFKA_PORT@/"$KAFKA_PORT"}"
  text="${text//@KAFKA_CONTROLLER_PORT@/"$KAFKA_CONTROLLER_PORT"}"
  text="${text//@KAFKA_LOG_DIRS@/"$STORAGE_DIR"}"
  printf '%s\n' "$text" >"$PROPS_FILE.tmp"
  mv -f "$PROPS_FILE.tmp" "$PROPS_FILE"
}

# ---------------------------------------------------------------- commands

cmd_fetch() {
  mkdir -p "$LIB_DIR"
  exec 8>"$KAFKA_HOME/.fetch.lock"
  flock 8
  if lib_ready; then
    say "jars up to date in ${LIB_DIR#"$REPO_ROOT"/} ($(compgen -G "$LIB_DIR/*.jar" | wc -l) jars)"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found on PATH"
  say "fetching Kafka jars with Maven (first run downloads ~45 MB) ..."
  local start=$SECONDS new="$KAFKA_HOME/lib.new" old="$KAFKA_HOME/lib.old"
  rm -rf "$new" "$old"
  # (Debian's Maven 3.8 prints bare ESC[0m resets even with -B; strip them.)
  mvn -q -B -Dstyle.color=never -f "$KAFKA_HOME/pom.xml" -Dlib.dir="$new" package 2>&1 \
    | sed -u 's/\x1b\[0m//g' \
    || { rm -rf "$new"; die "maven failed (see output above)"; }
  compgen -G "$new/kafka_2.13-*.jar" >/dev/null || die "maven ran but no kafka_2.13 jar in $new"
  pom_hash >"$new/.pom.sha256"
  # Swap atomically-ish so a running broker keeps its (already open) jars.
  [[ -d "$LIB_DIR" ]] && mv "$LIB_DIR" "$old"
  mv "$new" "$LIB_DIR"
  rm -rf "$old" "$KAFKA_HOME/target"
  say "fetched $(compgen -G "$LIB_DIR/*.jar" | wc -l) jars in $((SECONDS - start))s"
}

# Wait until the broker (pid $1) logged its start-up marker and accepts TCP.
wait_ready() {
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while (( SECONDS < deadline )); do
    if ! alive "$pid"; then
      echo "---- last lines of $LOG_FILE ----" >&2
      tail -n 40 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      die "broker process $pid exited during start-up"
    fi
    if grep -qF "$READY_MARKER" "$LOG_FILE" 2>/dev/null && port_open "$KAFKA_PORT"; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

cmd_start() {
  mkdir -p "$KAFKA_DATA_DIR"
  exec 9>"$KAFKA_DATA_DIR/.lock"
  flock 9

  local pid
  if pid="$(running_pid)"; then
    wait_ready "$pid" || die "broker pid $pid is running but not ready after ${KAFKA_START_TIMEOUT}s (log: $LOG_FILE)"
    say "already running (pid $pid)"
    return 0
  fi
  rm -f "$PID_FILE"

  if port_open "$KAFKA_PORT"; then
    die "127.0.0.1:$KAFKA_PORT is already in use (not by the broker of $KAFKA_DATA_DIR); not starting"
  fi
  if port_open "$KAFKA_CONTROLLER_PORT"; then
    die "127.0.0.1:$KAFKA_CONTROLLER_PORT is already in use (not by the broker of $KAFKA_DATA_DIR); not starting"
  fi

  lib_ready || cmd_fetch
  render_props

  if [[ ! -f "$STORAGE_DIR/meta.properties" ]]; then
    if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
      kjava kafka.tools.StorageTool random-uuid | tr -d '[:space:]' >"$CLUSTER_ID_FILE.tmp"
      [[ -s "$CLUSTER_ID_FILE.tmp" ]] || die "StorageTool random-uuid produced no id"
      mv -f "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
    fi
    say "formatting KRaft storage in $STORAGE_DIR (cluster id $(<"$CLUSTER_ID_FILE"))"
    kjava kafka.tools.StorageTool format -t "$(<"$CLUSTER_ID_FILE")" -c "$PROPS_FILE" >/dev/null \
      || die "StorageTool format failed"
  fi

  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  say "starting broker (127.0.0.1:$KAFKA_PORT, controller :$KAFKA_CONTROLLER_PORT, data $KAFKA_DATA_DIR)"
  local start=$SECONDS
  # New session (setsid) + nohup: the broker survives the calling shell and its
  # process group. The inner bash closes every inherited fd > 2 (callers' lock
  # files must not be held by the broker), writes its own PID, then execs java,
  # so the pid file holds the JVM's PID.
  # shellcheck disable=SC2016,SC2086  # single quotes intended; opts word-split
  setsid nohup bash -c '
      for fd in /proc/$$/fd/*; do fd=${fd##*/}; (( fd > 2 )) && eval "exec $fd>&-"; done
      echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    "$JAVA" $KAFKA_HEAP_OPTS -XX:+UseG1GC -Djava.awt.headless=true $KAFKA_JVM_OPTS \
    -Dlog4j.configuration="file:$LOG4J_CONFIG" \
    -cp "$LIB_DIR/*" kafka.Kafka "$PROPS_FILE" \
    >>"$LOG_FILE" 2>&1 </dev/null &

  # Wait for the pid file written by the launcher.
  for _ in $(seq 1 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || die "broker launcher did not write $PID_FILE"

  if ! wait_ready "$pid"; then
    say "not ready after ${KAFKA_START_TIMEOUT}s; stopping it" >&2
    tail -n 40 "$LOG_FILE" >&2 || true
    cmd_stop >&2 || true
    die "start timed out"
  fi
  say "ready (pid $pid) in $((SECONDS - start))s"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    [[ -f "$PID_FILE" ]] && { say "removing stale pid file"; rm -f "$PID_FILE"; }
    say "not running"
    return 0
  fi
  say "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while alive "$pid" && (( SECONDS < deadline )); do sleep 0.5; done
  if alive "$pid"; then
    say "still alive after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do alive "$pid" || break; sleep 0.25; done
  fi
  rm -f "$PID_FILE"
  say "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$KAFKA_PORT"; then
      say "running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
    else
      say "running (pid $pid) but 127.0.0.1:$KAFKA_PORT not accepting connections yet"
    fi
    return 0
  fi
  say "not running"
  return 1
}

# Convenience: TopicCommand against this broker, e.g. `kafka.sh topics --list`.
cmd_topics() {
  lib_ready || cmd_fetch >&2
  kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" "$@"
}

case "${1:-}" in
  fetch)  cmd_fetch ;;
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  topics) shift; cmd_topics "$@" ;;
  *) echo "usage: $0 fetch|start|stop|status|topics <TopicCommand args>" >&2; exit 2 ;;
esac
