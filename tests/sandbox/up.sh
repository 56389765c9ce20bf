#!/usr/bin/env bash
# Start the hookline sandbox in the background: moto (internal port), cargo-lambda
# (real function binaries), the front router with the CodeDeploy simulator; then
# provision. Logs and pids in <repo>/.sandbox/. A second run while up is a no-op.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# SANDBOX_STATE: where pids and logs go (a second sandbox on other ports needs its own).
STATE="${SANDBOX_STATE:-$ROOT/.sandbox}"
case "$STATE" in /*) ;; *) STATE="$ROOT/$STATE" ;; esac
VENV="$ROOT/.venv"
PORT="${SANDBOX_PORT:-4566}"
MOTO_INTERNAL_PORT="${SANDBOX_MOTO_PORT:-4567}"
LAMBDA_PORT="${SANDBOX_LAMBDA_PORT:-9000}"
ENDPOINT="http://127.0.0.1:$PORT"
# The function processes' runtime API goes through lambda_emul's RuntimeApiProxy (in the router),
# which gives each invocation the deadline Lambda would (cargo-lambda hands one in 1970).
# SANDBOX_RUNTIME_PROXY=0 leaves the processes on cargo-lambda's runtime API.
RUNTIME_PROXY_PORT="${SANDBOX_RUNTIME_PROXY_PORT:-$((LAMBDA_PORT + 1))}"
if [ "${SANDBOX_RUNTIME_PROXY:-1}" = 1 ]; then
  export SANDBOX_RUNTIME_PROXY_PORT="$RUNTIME_PROXY_PORT" SANDBOX_RUNTIME_UPSTREAM="http://127.0.0.1:$LAMBDA_PORT"
else
  unset SANDBOX_RUNTIME_PROXY_PORT SANDBOX_RUNTIME_UPSTREAM
fi
mkdir -p "$STATE"

[ -x "$VENV/bin/moto_server" ] || { echo "up.sh: $VENV missing; run 'make venv' first" >&2; exit 1; }

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # name seconds command...
  local name="$1" secs="$2"; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then echo "up.sh: $name exited; see $STATE/$name.log" >&2; tail -20 "$STATE/$name.log" >&2; exit 1; fi
    if [ $SECONDS -ge $end ]; then echo "up.sh: $name not ready after ${secs}s; see $STATE/$name.log" >&2; exit 1; fi
    sleep 0.3
  done
}

if alive moto && alive lambda && alive router && curl -sf "$ENDPOINT/_sandbox/health" >/dev/null 2>&1; then
  echo "sandbox already up: $ENDPOINT"
  exit 0
fi
# Partially up (a crashed part): stop what we started before, then start clean.
bash "$ROOT/tests/sandbox/down.sh" >/dev/null 2>&1 || true
for p in "$PORT" "$MOTO_INTERNAL_PORT" "$LAMBDA_PORT" ${SANDBOX_RUNTIME_PROXY_PORT:+"$SANDBOX_RUNTIME_PROXY_PORT"}; do
  if port_open "$p"; then echo "up.sh: port $p is in use by another process; not starting" >&2; exit 1; fi
done

export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN || true
# IAM (tests/sandbox/sim/iam.py; SANDBOX_IAM=0 turns it off): provisioning writes each function's role
# credentials here, lambda-runner.sh hands them to the function process, the router reads them.
unset SANDBOX_CREDENTIALS_DIR
if [ "${SANDBOX_IAM:-1}" = 1 ]; then
  export SANDBOX_CREDENTIALS_DIR="$STATE/credentials"
  rm -rf "$SANDBOX_CREDENTIALS_DIR"
fi

# Every part runs in its own session/process group so down.sh can stop it and
# its children (cargo run -> function binaries) without touching anything else.
start() {  # name command...
  local name="$1"; shift
  : >"$STATE/$name.log"
  setsid "$@" >>"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! >"$STATE/$name.pid"
}

# 1. moto: MOTO_PORT = the router's port, so Step Functions' service calls come back through the router.
MOTO_PORT="$PORT" start moto "$VENV/bin/python" "$ROOT/tests/sandbox/moto_server.py" -H 127.0.0.1 -p "$MOTO_INTERNAL_PORT"
wait_for moto 30 curl -sf "http://127.0.0.1:$MOTO_INTERNAL_PORT/moto-api/"
curl -sf -X POST "http://127.0.0.1:$MOTO_INTERNAL_PORT/moto-api/config" \
  -H 'Content-Type: application/json' -d '{"stepfunctions": {"execute_state_machine": true}}' >/dev/null

# 2. cargo-lambda: real function binaries (debug profile, target/debug = what `make build` builds).
(
  # cargo-lambda gives every function process a recursive inotify watch of its working directory,
  # even with --ignore-changes: in the repository root (venvs, node_modules, target) that is ~9,000
  # watches per function, 6 per sandbox, and a few sandboxes at once (make e2e's workers) exhaust
  # fs.inotify.max_user_watches ("MaxFilesWatch", the function never starts). functions/ holds the
  # functions' code (what SANDBOX_LAMBDA_RELOAD=1 reloads on) in a few dozen directories.
  cd "$ROOT/functions"
  export PATH="$VENV/bin:$PATH"
  export AWS_ENDPOINT_URL="$ENDPOINT" RUST_LOG="${RUST_LOG:-info}" \
    CANARY_STATE_MACHINE_ARN="arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary" \
    POST_TRAFFIC_STATE_MACHINE_ARN="arn:aws:states:us-east-1:123456789012:stateMachine:hookline-post-traffic" \
    PLAN_PARAMETER_PREFIX=/hookline HOOK_FUNCTION_NAME=hook
  # cargo-lambda's watcher reacts to any file in the repo (.git included) and restarts
  # the functions mid-deployment; reload only on request (SANDBOX_LAMBDA_RELOAD=1).
  # Every function process starts through lambda-runner.sh (cargo's runner for `cargo run`),
  # which exports that function's role credentials.
  host_triple="$(rustc -vV | sed -n 's/^host: //p')"
  export "CARGO_TARGET_$(echo "$host_triple" | tr 'a-z-' 'A-Z_')_RUNNER=$ROOT/tests/sandbox/lambda-runner.sh"
  extra=(--ignore-changes)
  [ "${SANDBOX_LAMBDA_RELOAD:-0}" = 1 ] && extra=()
  start lambda "$VENV/bin/cargo-lambda" lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --manifest-path "$ROOT/Cargo.toml" "${extra[@]}"
)
wait_for lambda 60 port_open "$LAMBDA_PORT"

# 3. router + CodeDeploy simulator.
export SANDBOX_TERMINATION_WAIT_S="${SANDBOX_TERMINATION_WAIT_S:-5}"
export SANDBOX_HOOK_TIMEOUT_S="${SANDBOX_HOOK_TIMEOUT_S:-3600}"
# Where AWS documents nothing the simulator takes the pessimistic choice by default (README, U5).
export SANDBOX_ALLOW_TRAFFIC_SCOPE="${SANDBOX_ALLOW_TRAFFIC_SCOPE:-default_action}"   # | listener_rules
export SANDBOX_ROLLBACK_RESTORE="${SANDBOX_ROLLBACK_RESTORE:-own_changes}"             # | snapshot
# Lambda's own behaviour (sim/lambda_emul.py; README "Lambda"): async retries after a function error,
# extra deliveries of async events (2 = pessimistic: up to 3 in all), function timeouts x scale.
export SANDBOX_ASYNC_RETRIES="${SANDBOX_ASYNC_RETRIES:-2}" SANDBOX_ASYNC_RETRY_DELAY_S="${SANDBOX_ASYNC_RETRY_DELAY_S:-1}"
export SANDBOX_ASYNC_DUPLICATES="${SANDBOX_ASYNC_DUPLICATES:-0}" SANDBOX_ASYNC_DUPLICATE_DELAY_S="${SANDBOX_ASYNC_DUPLICATE_DELAY_S:-5}"
export SANDBOX_FUNCTION_TIMEOUT_SCALE="${SANDBOX_FUNCTION_TIMEOUT_SCALE:-1.0}"
start router "$VENV/bin/python" "$ROOT/tests/sandbox/router.py" --port "$PORT" \
  --moto-url "http://127.0.0.1:$MOTO_INTERNAL_PORT" --lambda-url "http://127.0.0.1:$LAMBDA_PORT"
wait_for router 30 curl -sf "$ENDPOINT/_sandbox/health"

# 4. provision (idempotent), then zero the call counters.
# 4a. SANDBOX_SERVICES=N (default 1) also provisions the demo services web-2 .. web-N (provision.py).
"$VENV/bin/python" "$ROOT/tests/sandbox/provision.py" --endpoint "$ENDPOINT" --out "$STATE/provision.json" >"$STATE/provision.log" 2>&1 \
  || { echo "up.sh: provisioning failed; see $STATE/provision.log" >&2; tail -30 "$STATE/provision.log" >&2; exit 1; }
grep -i warning "$STATE/provision.log" >&2 || true
# IAM on: from now on moto checks every request's signature, key and action (the router re-signs
# requests that carry the public key "sandbox" with the operator's key).
if [ "${SANDBOX_IAM:-1}" = 1 ]; then
  curl -sf -X POST "http://127.0.0.1:$MOTO_INTERNAL_PORT/moto-api/reset-auth" -H "Content-Type: text/plain" --data-binary 0 >/dev/null
fi
# 5. warm-up (SANDBOX_WARM=0 to skip): start every function process now, so no test
# pays the first `cargo run` (or waits for another cargo build's target/ lock).
# `{}` is answered with errorType InvalidInput by every function, without side effects.
if [ "${SANDBOX_WARM:-1}" = 1 ]; then
  : >"$STATE/warmup.log"
  warm_pids=()
  for fn in hook register-taskdef shift-weight validate-health finalize rollback; do
    curl -s -m "${SANDBOX_WARM_TIMEOUT_S:-120}" -X POST -H 'X-Sandbox-Internal: warmup' \
      "$ENDPOINT/2015-03-31/functions/$fn/invocations" -d '{}' -o /dev/null \
      -w "$fn %{http_code} %{time_total}s\n" >>"$STATE/warmup.log" 2>&1 &
    warm_pids+=($!)
  done
  wait "${warm_pids[@]}"   # not a bare `wait`: that would wait for the sandbox processes too
fi
curl -sf -X POST "$ENDPOINT/_sandbox/calls/reset" >/dev/null

cat <<MSG
sandbox up: $ENDPOINT
  export AWS_ENDPOINT_URL=$ENDPOINT AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox
  logs: $STATE/{moto,lambda,router,provision}.log   summary: $STATE/provision.json
  stop: make sandbox-down
MSG
