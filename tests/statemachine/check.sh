#!/usr/bin/env bash
# Static and execution checks of the state machines in statemachine/.
# Called by `make check-statemachines` (after `make venv`). Installs its own pinned
# npm tools (asl-validator) into tests/statemachine/node_modules with `npm ci`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
cd "$HERE"

if [[ ! -x "$PY" ]]; then
  echo "check.sh: $PY missing; run 'make venv' first" >&2
  exit 2
fi

# 1. Pinned asl-validator (package-lock.json), installed once per lock change.
if [[ ! -f node_modules/.hookline-installed ]] || [[ package-lock.json -nt node_modules/.hookline-installed ]]; then
  echo "== npm ci (asl-validator)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.hookline-installed
fi

# 2. Substitute the documented placeholders with plausible ARNs, then validate each definition.
RENDERED="$(mktemp -d)"
trap 'rm -rf "$RENDERED"' EXIT
echo "== placeholders + asl-validator"
"$PY" - "$RENDERED" <<'PYEOF'
import re, sys
sys.path.insert(0, ".")
from harness import MACHINES, STATEMACHINE_DIR, load_placeholders, render
out = sys.argv[1]
documented = set(load_placeholders())
used, bad = set(), []
for path in sorted(STATEMACHINE_DIR.glob("*.asl.json")):
    found = set(re.findall(r"\$\{([^}]*)\}", path.read_text()))
    used |= found
    bad += [f"{path.name}: undocumented placeholder ${{{p}}}" for p in sorted(found - documented)]
names = sorted(p.name for p in STATEMACHINE_DIR.glob("*.asl.json"))
expected = sorted(f"{m}.asl.json" for m in MACHINES)
if names != expected:
    bad.append(f"statemachine/ holds {names}, expected {expected}")
bad += [f"documented placeholder ${{{p}}} used by no definition" for p in sorted(documented - used)]
if bad:
    sys.exit("\n".join(bad))
for m in MACHINES:
    open(f"{out}/{m}.asl.json", "w").write(render(m))
print(f"placeholders ok: {', '.join(sorted(documented))}")
PYEOF
for m in canary post-traffic release rollback; do
  ./node_modules/.bin/asl-validator --json-path "$RENDERED/$m.asl.json"
done

# 3. Structural checks and execution tests (moto + stub functions).
echo "== pytest tests/statemachine"
"$PY" -m pytest -q -p no:cacheprovider "$HERE" "$@"
