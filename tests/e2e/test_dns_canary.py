"""hookline's own Route 53 controller end to end (issue 22, docs/route53-controller.md): the real
``hookline`` binary and state machines in the sandbox, on the world the sandbox provisions for it
(hosted zone ``shop.example.com``, weighted alias records ``blue`` / ``green`` of
``web.shop.example.com``, load balancers ``r53-private-blue|green`` tagged CanaryGroup=private,
cluster ``shop`` with blue's service ``shop-web-blue``, alarm ``shop-web-5xx``).

The deployment file is ``deployfiles/shop.deploy.yml``; each test writes its variant into a
directory of its own and runs ``hookline deploy -e shop -d DIR``. State is read through AWS APIs
only: Route 53 ListResourceRecordSets (the records' weights), ECS DescribeServices (desired and
running counts), Step Functions (the execution's status), and the sandbox's call counter for
"nothing changed".
"""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "debug", "hookline")
BASE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deployfiles", "shop.deploy.yml")
ENV = "shop"
# Operation name prefixes of calls that change something (AWS's verbs), as test_doctor.py counts them.
MUTATING = ("Create", "Put", "Modify", "Delete", "Update", "Register", "Deregister", "Start", "Stop", "Set",
            "Add", "Remove", "Tag", "Untag", "Attach", "Detach", "Send", "Publish", "Invoke", "Continue",
            "Reroute", "Rollback", "Change")


def base_text():
    with open(BASE_FILE) as f:
        return f.read()


def write_file(directory, text, env=ENV):
    path = os.path.join(str(directory), f"{env}.deploy.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def hookline(sb, *args, timeout=600):
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} missing: run `cargo build -p hookline-cli` (make e2e builds it)")
    return subprocess.run([BIN, *args], env=sb.env(), capture_output=True, text=True, timeout=timeout)


def line_of(text, needle):
    """The 1-based line of the first ``needle`` in ``text`` (expected positions come from the text)."""
    at = text.index(needle)
    return text[:at].count("\n") + 1


def mutating_calls(sb):
    calls = sb.calls()["calls"]
    made = sorted(f"{svc}.{op}" for svc, ops in calls.items() for op in ops)
    return [c for c in made if c.split(".", 1)[1].startswith(MUTATING) and not c.startswith("sqs.")], made


# Ten bad files: (what is wrong, text to replace, its replacement, the key the error names, the text
# on the line the error points at). Each is one mistake a team makes in the format.
BAD_FILES = [
    ("a bake shorter than the TTL + grace", "      wait: 70\n", "      wait: 50\n",
     "canary.strategy[0].wait", "wait: 50"),
    ("a misspelt key", "    - weight: 50\n      wait: 70\n", "    - wieght: 50\n      wait: 70\n",
     "canary.strategy[0]", "wieght: 50"),
    ("a required key missing", '  cluster: "{{project}}"\n', "",
     "service.cluster", "  project: shop"),
    ("an unknown template", 'fqdn: "web.{{project}}.example.com"', 'fqdn: "web.{{prject}}.example.com"',
     "service.fqdn", "{{prject}}"),
    ("both releases the same tag", "    green: green\n", "    green: blue\n",
     "canary.releases.green", "green: blue"),
    ("a weight above 100", "    - weight: 50\n", "    - weight: 150\n",
     "canary.strategy[0].weight", "weight: 150"),
    ("no task to run", "    desired: 2\n", "    desired: 0\n",
     "canary.scale.desired", "desired: 0"),
    ("a soft memory limit above the hard one", "      memory: 512\n", "      memory: 512\n      memory_reservation: 1024\n",
     "service.containers[0].memory_reservation", "memory_reservation: 1024"),
    ("an approval after a weight no step has", "    - after_weight: 50\n", "    - after_weight: 30\n",
     "hookline.approvals[0].after_weight", "after_weight: 30"),
    ("a version YAML reads as a number", 'version: "2.0.0"', "version: 2.10",
     "service.version", "version: 2.10"),
]


def test_ten_bad_deployment_files_are_refused_naming_file_line_and_key_and_nothing_changes(sb, tmp_path):
    assert len(BAD_FILES) == 10
    sb.reset_calls()
    for i, (what, old, new, key, needle) in enumerate(BAD_FILES):
        text = base_text()
        assert old in text, f"{what}: {old!r} not in the base file"
        text = text.replace(old, new, 1)
        directory = tmp_path / f"bad{i}"
        directory.mkdir()
        path = write_file(directory, text)
        r = hookline(sb, "deploy", "-e", ENV, "-d", str(directory), timeout=60)
        assert r.returncode == 1, f"{what}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        lines = r.stdout.splitlines()
        line = line_of(text, needle)
        pattern = re.compile(rf"^{re.escape(path)}:{line}:\d+: {re.escape(key)}(\.\w+)?: \S")
        assert any(pattern.match(ln) for ln in lines), \
            f"{what}: no line `{path}:{line}:COL: {key}: ...` in:\n{r.stdout}\n{r.stderr}"
        assert f"{path}: " in r.stderr and "problem" in r.stderr, r.stderr
        assert "dns-" not in r.stdout, f"{what}: a deployment was started: {r.stdout}"
    mutating, made = mutating_calls(sb)
    assert mutating == [], f"bad files changed something: {mutating} (all calls: {made})"
