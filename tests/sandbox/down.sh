#!/usr/bin/env bash
# Stop every process tests/sandbox/up.sh started (by the pids it recorded, with
# their process groups, i.e. cargo-lambda's children too) and nothing else.
# Idempotent.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# SANDBOX_STATE: where pids and logs go (a second sandbox on other ports needs its own).
STATE="${SANDBOX_STATE:-$ROOT/.sandbox}"
case "$STATE" in /*) ;; *) STATE="$ROOT/$STATE" ;; esac
stopped=0
for name in router lambda moto; do
  f="$STATE/$name.pid"
  [ -f "$f" ] || continue
  pid="$(cat "$f")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # up.sh started it with setsid: pid == pgid. Only signal the group if that holds.
    pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')"
    if [ "$pgid" = "$pid" ]; then kill -TERM -- "-$pid" 2>/dev/null; else kill -TERM "$pid" 2>/dev/null; fi
    for _ in $(seq 1 50); do
      if [ "$pgid" = "$pid" ]; then pgrep -g "$pid" >/dev/null 2>&1 || break; else kill -0 "$pid" 2>/dev/null || break; fi
      sleep 0.1
    done
    if [ "$pgid" = "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null; else kill -KILL "$pid" 2>/dev/null; fi
    stopped=$((stopped + 1))
  fi
  rm -f "$f"
done
if [ "$stopped" -gt 0 ]; then echo "sandbox stopped ($stopped processes groups)"; else echo "sandbox was not running"; fi
exit 0
