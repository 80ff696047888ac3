#!/usr/bin/env bash
# LocalStack on the host, no Docker: its own venv, started in the background, stopped by its PID.
#
#   infra/localstack/launch.sh install   # create/refresh .cache/localstack-venv (idempotent)
#   infra/localstack/launch.sh up        # install, start, wait for /_localstack/health
#   infra/localstack/launch.sh down      # SIGTERM, then SIGKILL, by the PID in .cache/localstack.pid
#   infra/localstack/launch.sh status    # exit 0 when running and healthy
#
# Lambdas run as host Python subprocesses through the project's runtime executor plugin
# (infra/localstack_executor, selected with LAMBDA_RUNTIME_EXECUTOR=local). The Lambda runtime's
# own packages (boto3 and its closure, which AWS provides and the artifacts leave out) are
# installed into .cache/lambda-runtime, at the versions of the project's constraints.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/infra/localstack"
CACHE="$ROOT/.cache"
VENV="$CACHE/localstack-venv"
RUNTIME="$CACHE/lambda-runtime"
PIDFILE="$CACHE/localstack.pid"
LOGFILE="$CACHE/localstack.log"
INSTALL_LOG="$CACHE/localstack-install.log"
STATE="$CACHE/localstack"          # LocalStack's filesystem root and temp folder (Lambda code, /tmp)
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
PIP_VERSION=26.3
HOST=127.0.0.1
PORT=${LOCALSTACK_PORT:-4566}
HEALTH="http://$HOST:$PORT/_localstack/health"
START_TIMEOUT=${LOCALSTACK_START_TIMEOUT:-90}
STOP_TIMEOUT=${LOCALSTACK_STOP_TIMEOUT:-20}

log() { printf 'localstack: %s\n' "$*" >&2; }

healthy() { curl -sf --max-time 2 "$HEALTH" >/dev/null 2>&1; }

running_pid() {  # the PID from the pid file when that process is alive
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Three parts, each rebuilt when what it is made from changes (a stamp holds that hash):
# LocalStack's venv, the executor package installed into it (editable: only its entry points
# need a reinstall), and the Lambda runtime's packages.
digest() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }
venv_stamp() { echo "$(digest "$HERE/requirements.txt" "$HERE/constraints.txt") pip $PIP_VERSION $("$PYTHON" -c 'import sys; print(sys.version)')"; }
executor_stamp() { digest "$ROOT/infra/localstack_executor/pyproject.toml"; }
runtime_stamp() { digest "$ROOT/constraints.txt"; }
fresh() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }  # stamp file, wanted value

install() {
    local v e r
    v=$(venv_stamp) e=$(executor_stamp) r=$(runtime_stamp)
    if [ -x "$VENV/bin/python" ] && fresh "$VENV/.stamp-venv" "$v" \
        && fresh "$VENV/.stamp-executor" "$e" && fresh "$RUNTIME/.stamp-runtime" "$r"; then
        return 0
    fi
    log "installing LocalStack into $VENV (a few minutes on a fresh machine; log: $INSTALL_LOG)"
    local t0=$SECONDS
    mkdir -p "$CACHE"
    # A process of its own, so that errexit holds inside it (it would not in an `if`).
    if ! bash "${BASH_SOURCE[0]}" _install >"$INSTALL_LOG" 2>&1; then
        log "install failed; last lines of $INSTALL_LOG:"
        tail -n 30 "$INSTALL_LOG" >&2
        return 1
    fi
    log "installed in $((SECONDS - t0)) s"
}

_install() {
    set -x
    local pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input)
    local constraints=()
    [ -f "$HERE/constraints.txt" ] && constraints=(-c "$HERE/constraints.txt")
    if ! { [ -x "$VENV/bin/python" ] && fresh "$VENV/.stamp-venv" "$(venv_stamp)"; }; then
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
        "${pip[@]}" "pip==$PIP_VERSION"
        "${pip[@]}" "${constraints[@]}" -r "$HERE/requirements.txt"
        venv_stamp >"$VENV/.stamp-venv"
    fi
    if ! fresh "$VENV/.stamp-executor" "$(executor_stamp)"; then
        "${pip[@]}" "${constraints[@]}" -e "$ROOT/infra/localstack_executor"
        executor_stamp >"$VENV/.stamp-executor"
    fi
    # What the Lambda python runtime provides beside the function's code: boto3 and its closure,
    # at the project's locked versions.
    if ! fresh "$RUNTIME/.stamp-runtime" "$(runtime_stamp)"; then
        rm -rf "$RUNTIME"
        "${pip[@]}" --no-warn-conflicts -c "$ROOT/constraints.txt" --target "$RUNTIME" boto3
        rm -rf "$RUNTIME/bin"
        runtime_stamp >"$RUNTIME/.stamp-runtime"
    fi
    "$VENV/bin/python" -c 'import localstack.runtime.main, cytotile_localstack_executor.executor'
}

up() {
    local pid
    if pid=$(running_pid); then
        if healthy; then
            log "already running (pid $pid), healthy at $HEALTH"
            return 0
        fi
        log "pid $pid is alive but not healthy yet: waiting"
    else
        rm -f "$PIDFILE"
        if healthy; then
            log "something else already answers $HEALTH (not started by this launcher): stop it first" 
            return 1
        fi
        install
        # LocalStack keeps no state across restarts (no PERSISTENCE): what it unzipped and the
        # Lambdas' temporary folders from a previous run are garbage.
        rm -rf "$STATE/tmp"
        mkdir -p "$STATE/tmp"
        log "starting (log: $LOGFILE)"
        # setsid: LocalStack and the Lambda subprocesses it starts share one process group,
        # whose id is LocalStack's PID (down kills that group after LocalStack itself).
        (
            cd "$STATE"
            exec env -u AWS_ENDPOINT_URL -u AWS_PROFILE XDG_CACHE_HOME="$STATE/xdg-cache" \
                GATEWAY_LISTEN="$HOST:$PORT" LOCALSTACK_HOST="$HOST:$PORT" \
                DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
                SERVICES=s3,sqs,lambda,apigateway,cloudformation,iam,sts,logs \
                LAMBDA_RUNTIME_EXECUTOR=local \
                LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT="${LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT:-60}" \
                CYTOTILE_LAMBDA_RUNTIME_PATH="$RUNTIME" \
                FILESYSTEM_ROOT="$STATE/fs" TMPDIR="$STATE/tmp" \
                setsid "$VENV/bin/python" -m localstack.runtime.main
        ) >"$LOGFILE" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PIDFILE"
    fi
    local t0=$SECONDS
    until healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "exited before it was healthy; last lines of $LOGFILE:"
            tail -n 40 "$LOGFILE" >&2 || true
            rm -f "$PIDFILE"
            return 1
        fi
        if [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ]; then
            log "not healthy after ${START_TIMEOUT} s; last lines of $LOGFILE:"
            tail -n 40 "$LOGFILE" >&2 || true
            down
            return 1
        fi
        sleep 0.5
    done
    log "healthy at $HEALTH (pid $pid, $((SECONDS - t0)) s)"
}

down() {
    local pid
    if ! pid=$(running_pid); then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((STOP_TIMEOUT * 2)) ]; do
        sleep 0.5
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still alive after ${STOP_TIMEOUT} s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # Lambda subprocesses left in LocalStack's process group (setsid made its id the PID).
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    log "stopped"
}

status() {
    local pid
    if pid=$(running_pid) && healthy; then
        log "running (pid $pid)"
        curl -s "$HEALTH"
        echo
        return 0
    fi
    log "not running"
    return 1
}

case "${1:-}" in
install) install ;;
_install) _install ;;
up) up ;;
down) down ;;
status) status ;;
*)
    echo "usage: $0 install|up|down|status" >&2
    exit 2
    ;;
esac
