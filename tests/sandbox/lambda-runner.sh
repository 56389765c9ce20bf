#!/usr/bin/env bash
# Cargo runner for the sandbox's function processes (up.sh sets
# CARGO_TARGET_<triple>_RUNNER to this file, so `cargo run --bin <name>`, which
# cargo-lambda watch uses to start each function, runs `lambda-runner.sh
# target/debug/<name> ...`). Like Lambda, which hands each function its
# execution role's credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
# AWS_SESSION_TOKEN, it exports the credentials provisioning wrote for this
# binary's role (tests/sandbox/sim/iam.py) and execs the binary. A binary without a
# credentials file (not a function, or provisioning did not run) keeps the
# environment it was given.
set -euo pipefail
bin="$(basename "$1")"
creds="${SANDBOX_CREDENTIALS_DIR:-}/$bin.env"
if [ -n "${SANDBOX_CREDENTIALS_DIR:-}" ] && [ -f "$creds" ]; then
  while IFS='=' read -r key value; do
    case "$key" in
      AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN) export "$key=$value" ;;
    esac
  done < "$creds"
elif [ -n "${SANDBOX_CREDENTIALS_DIR:-}" ] && [ "${SANDBOX_IAM:-1}" = 1 ]; then
  echo "lambda-runner: no credentials for $bin in $SANDBOX_CREDENTIALS_DIR (provisioning not done?)" >&2
fi
# The runtime API through the router's RuntimeApiProxy (sim/lambda_emul.py: the invocation's deadline),
# same path (/.rt/<function>), when up.sh set one.
if [ -n "${SANDBOX_RUNTIME_PROXY_PORT:-}" ] && [ -n "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  rest="${AWS_LAMBDA_RUNTIME_API#*://}"
  case "$rest" in */*) path="/${rest#*/}" ;; *) path="" ;; esac
  export AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:${SANDBOX_RUNTIME_PROXY_PORT}${path}"
fi
exec "$@"
