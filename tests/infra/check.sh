#!/usr/bin/env bash
# `make check-infra`: lint and check everything under infra/ and appspec/.
#   1. cfn-lint on the six templates: no error, no warning (exit code 0).
#   2. checkov on each template: no failed check, and the template was
#      really scanned (a file checkov cannot parse yields no results).
#   3. the pytest checks in tests/infra (AppSpec/taskdef structure, template
#      functions vs workspace binaries, state machine placeholders vs
#      DefinitionSubstitutions and roles, IAM scoping, suppression reasons).
# Needs .venv-lint (make lint-venv) and .venv (make venv); no network, no AWS
# credentials.
set -euo pipefail
cd "$(dirname "$0")/../.."

LINT=.venv-lint/bin
PY=.venv/bin/python
for tool in "$LINT/cfn-lint" "$LINT/checkov" "$LINT/python" "$PY"; do
  [[ -x "$tool" ]] || { echo "check-infra: $tool missing (run: make lint-venv venv)" >&2; exit 1; }
done

templates=(infra/template.yaml infra/pipeline.yaml infra/ecs-service-example.yaml infra/ecs-native-service-example.yaml infra/ecs-gate-service-example.yaml
           infra/route53-canary-example.yaml)
for t in "${templates[@]}"; do
  [[ -f "$t" ]] || { echo "check-infra: $t missing" >&2; exit 1; }
done

# Keep the linters offline and quiet about updates.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false PYTHONWARNINGS=ignore

echo "== cfn-lint $("$LINT/cfn-lint" --version | awk '{print $2}')"
# Exit code is a bit mask: 2 error, 4 warning, 8 informational. Any is a failure.
if ! "$LINT/cfn-lint" --format parseable -- "${templates[@]}"; then
  echo "check-infra: cfn-lint reported problems (above)" >&2
  exit 1
fi
echo "cfn-lint: ${#templates[@]} templates, no errors, no warnings"

echo "== checkov $("$LINT/checkov" --version)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
for t in "${templates[@]}"; do
  out="$tmp/$(basename "$t").json"
  set +e
  "$LINT/checkov" --file "$t" --framework cloudformation --skip-download \
    --output json --compact > "$out" 2> "$tmp/checkov.err"
  rc=$?
  set -e
  if ! "$LINT/python" - "$t" "$out" "$rc" <<'PY'
import json, sys
name, path, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    data = json.load(open(path))
except ValueError:
    print(f"{name}: checkov produced no JSON (exit {rc})")
    sys.exit(1)
reports = data if isinstance(data, list) else [data]
passed = failed = skipped = 0
for r in reports:
    s = r.get("summary", {})
    passed += s.get("passed", 0); failed += s.get("failed", 0); skipped += s.get("skipped", 0)
    for c in r.get("results", {}).get("failed_checks", []):
        print(f"{name}: FAILED {c['check_id']} {c['check_name']} ({c['resource']})")
    for c in r.get("results", {}).get("skipped_checks", []):
        reason = (c.get("check_result", {}) or {}).get("suppress_comment", "")
        print(f"{name}: skipped {c['check_id']} on {c['resource']}: {reason}")
if passed == 0:
    print(f"{name}: checkov ran no checks - the template was not parsed")
    sys.exit(1)
print(f"{name}: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or rc not in (0,) else 0)
PY
  then
    failed=1
    sed 's/^/  checkov stderr: /' "$tmp/checkov.err" | tail -20 >&2
  fi
done
if [[ $failed -ne 0 ]]; then
  echo "check-infra: checkov failed" >&2
  exit 1
fi

echo "== pytest tests/infra"
"$PY" -m pytest -q -p no:cacheprovider tests/infra
