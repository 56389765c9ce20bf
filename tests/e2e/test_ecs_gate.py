"""Gate mode end to end (issue 23): the demo service ``api`` switched to ECS's own LINEAR or CANARY
strategy with the ``hook`` function at PRE_PRODUCTION_TRAFFIC_SHIFT, a plan with ``mode: gate``. ECS
(the sandbox's simulator, rows ECS-20, ECS-24..26) shifts production in its steps and asks hookline
before each one; hookline judges the step just baked (one execution of the canary state machine per
step, ``<id>-Gate<weight>``) and never writes the production rule.

State is read through AWS APIs only (ECS DescribeServiceDeployments, ELBv2 DescribeRules, Step
Functions), plus the sandbox's ``GET /_sandbox/ecs`` (the hook's answers, the steps ECS wrote) and
``GET /_sandbox/calls?log=1`` (which calls each function made: no rule write from hookline).
"""
import contextlib
import http.client
import json
import os
import re
import subprocess
import time

import pytest

from conftest import exec_arn, sm_arn
from test_ecs_native import BIN, PLAN_PARAMETER, RulePoller, api  # noqa: F401 (the fixture)

# One ECS minute is 2 s here: a step bakes 2 s; a hook's default 1440-minute timeout is 48 min, so a
# plan may budget 30 min (the hook checks budget + rollback reserve against the hook's expiresAt).
MINUTE_S = 2
RULE_WRITES = {"ModifyRule", "ModifyListener", "CreateRule", "DeleteRule", "SetRulePriorities"}


def gate_plan(sb, approvals=(), budget="30m"):
    url = sb.endpoint.rstrip("/") + "/_sandbox/alb/demo-api/8080/health"
    return {"mode": "gate", "steps": [{"approval": a} for a in approvals], "hook_budget": budget,
            "health": {"interval": "1s", "alarms": ["api-5xx"], "ready_timeout": "30s",
                       "http": [{"url": url, "expect_status": 200, "timeout": "2s"}]}}


def stepped(api, strategy, percent, bake_minutes=1):
    """``api`` under ECS's ``strategy`` with ``hook`` at PRE_PRODUCTION_TRAFFIC_SHIFT only."""
    dc = api.service()["deploymentConfiguration"]
    dc.update(strategy=strategy, bakeTimeInMinutes=0)
    if strategy == "LINEAR":
        dc["linearConfiguration"] = {"stepPercent": percent, "stepBakeTimeInMinutes": bake_minutes}
    else:
        dc["canaryConfiguration"] = {"canaryPercent": percent, "canaryBakeTimeInMinutes": bake_minutes}
    for h in dc["lifecycleHooks"]:
        h["lifecycleStages"] = ["PRE_PRODUCTION_TRAFFIC_SHIFT"]
    api.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)


@pytest.fixture
def gate(sb, api):  # noqa: F811 (api is the imported fixture)
    old = sb._ctl("GET", "/config")
    sb.config(ecs_minute_s=MINUTE_S)
    yield api
    sb.config(**{k: old[k] for k in ("ecs_step_bake", "ecs_step_stage") if k in old})


def put(sb, plan):
    sb.client("ssm").put_parameter(Name=PLAN_PARAMETER, Value=json.dumps(plan), Type="String", Overwrite=True)


def snapshot(api, arn):
    for d in json.loads(json.dumps(api.sb._ctl("GET", "/ecs")))["deployments"]:
        if d["serviceDeploymentArn"] == arn:
            return d
    return {}


def gate_answers(api, arn):
    """(green share of the rule when ECS asked, final answer) of each PRE_PRODUCTION_TRAFFIC_SHIFT hook."""
    out = []
    for i in api.invocations(arn):
        if i["stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT" and i["answer"].get("hookStatus") != "IN_PROGRESS":
            out.append((i["answer"].get("hookStatus"), i["answer"].get("hookDetails") or {}, i.get("production")))
    return out


def rule_writes_by_functions(sb, since):
    log = sb._ctl("GET", "/calls?log=1").get("log") or []
    return [(e["operation"], e.get("principal")) for e in log
            if e["t"] >= since and e["operation"] in RULE_WRITES and e.get("principal") not in (None, "operator")]


def gate_execution(api, arn, weight):
    return exec_arn("hookline-canary", f"{arn.rsplit('/', 1)[1]}-Gate{weight}")


@pytest.mark.parametrize("step_stage", ["bake_time", "production_traffic_shift"])
def test_linear_25_passes_every_gate_and_hookline_never_writes_the_rule(sb, gate, step_stage):
    """Under both readings of lifecycleStage between steps (ECS-26, assumed)."""
    sb.config(ecs_step_stage=step_stage)
    put(sb, gate_plan(sb))
    stepped(gate, "LINEAR", 25.0)
    since = time.time()
    arn = gate.deploy("example/api:gate-ok")
    blue, green = gate.sides(arn)
    d = gate.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=180)
    assert d["status"] == "SUCCESSFUL", (d.get("statusReason"), gate_answers(gate, arn))

    assert [s["green"] for s in snapshot(gate, arn)["productionSteps"]] == [25, 50, 75, 100]
    answers = gate_answers(gate, arn)
    assert [a[0] for a in answers] == ["SUCCEEDED"] * 4, answers
    for weight in (0, 25, 50, 75):
        x = sb.sfn.describe_execution(executionArn=gate_execution(gate, arn, weight))
        assert x["status"] == "SUCCEEDED", (weight, x["status"])
    assert gate.weights() == {blue: 0, green: 100} or gate.weights() == {green: 100}
    assert rule_writes_by_functions(sb, since) == []
    assert not [e for e in gate.running() if arn.rsplit("/", 1)[1] in e["name"]]


@pytest.mark.parametrize("step_bake", ["hook_then_bake", "bake_then_hook"])
def test_an_alarm_in_the_second_steps_bake_fails_the_next_gate_and_ecs_rolls_back(sb, gate, step_bake):
    """Under both places of a step's bake relative to the next hook (ECS-25, assumed): the gate that
    sees the alarm is the one at 50% (hook right after the step) or the next one at the latest."""
    sb.config(ecs_step_bake=step_bake)
    put(sb, gate_plan(sb))
    stepped(gate, "LINEAR", 25.0, bake_minutes=2)
    since = time.time()
    arn = gate.deploy("example/api:gate-alarm")
    blue, green = gate.sides(arn)
    with RulePoller(gate) as poller:
        end = time.time() + 120
        while gate.weights().get(green, 0) < 50 and time.time() < end:
            time.sleep(0.1)
        assert gate.weights().get(green, 0) == 50, gate.weights()
        sb.set_alarm("api-5xx", "ALARM", reason="e2e: 5xx during the second step's bake")
        d = gate.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", (d.get("statusReason"), gate_answers(gate, arn))

    answers = gate_answers(gate, arn)
    failed = [a for a in answers if a[0] == "FAILED"]
    assert len(failed) == 1 and answers[-1][0] == "FAILED", answers
    _, details, production = failed[0]
    assert "alarm api-5xx: state ALARM" in details.get("hooklineError", ""), details
    assert production["weights"].get(green, 0) >= 50, production
    steps = [s["green"] for s in snapshot(gate, arn)["productionSteps"]]
    assert steps[:2] == [25, 50] and max(steps) < 100, steps
    assert 100 not in poller.green_sequence(green), poller.green_sequence(green)
    assert gate.weights().get(green, 0) == 0 and gate.weights().get(blue) == 100, gate.weights()
    assert rule_writes_by_functions(sb, since) == []
    assert not [e for e in gate.running() if arn.rsplit("/", 1)[1] in e["name"]]


def test_a_canary_waits_at_10_for_hookline_approve_then_completes(sb, gate):
    put(sb, gate_plan(sb, approvals=[{"timeout": "20m", "after_weight": 10}]))
    stepped(gate, "CANARY", 10.0)
    since = time.time()
    arn = gate.deploy("example/api:gate-approve")
    blue, green = gate.sides(arn)
    xarn = gate_execution(gate, arn, 10)
    end = time.time() + 120
    while time.time() < end:
        try:
            sb.sfn.describe_execution(executionArn=xarn)
            break
        except sb.sfn.exceptions.ExecutionDoesNotExist:
            time.sleep(0.2)
    sb.approval_token(xarn)
    time.sleep(3)   # ECS keeps asking; the step holds while the approval waits
    assert gate.deployment(arn)["status"] == "IN_PROGRESS"
    assert gate.weights().get(green) == 10, gate.weights()
    assert os.path.exists(BIN), "build the CLI: cargo build -p hookline-cli"
    r = subprocess.run([BIN, "approve", arn], env=sb.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "approved" in r.stdout, (r.stdout, r.stderr)

    d = gate.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    assert d["status"] == "SUCCESSFUL", (d.get("statusReason"), gate_answers(gate, arn))
    assert [s["green"] for s in snapshot(gate, arn)["productionSteps"]] == [10, 100]
    assert [a[0] for a in gate_answers(gate, arn)] == ["SUCCEEDED", "SUCCEEDED"]
    assert gate.weights().get(green) == 100
    assert rule_writes_by_functions(sb, since) == []
    assert sb.sfn.describe_execution(executionArn=xarn)["status"] == "SUCCEEDED"
    assert not [e for e in sb.sfn.list_executions(stateMachineArn=sm_arn("hookline-canary"),
                                                 statusFilter="RUNNING")["executions"]
                if arn.rsplit("/", 1)[1] in e["name"]]


def paused_service(api, minutes=500):
    """``api`` (BLUE_GREEN) with one PAUSE hook after the test traffic shift and no Lambda hook."""
    dc = api.service()["deploymentConfiguration"]
    dc["lifecycleHooks"] = [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                             "timeoutConfiguration": {"timeoutInMinutes": minutes, "action": "ROLLBACK"}}]
    api.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)


def awaiting_pause(api, arn, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        hooks = [h for h in api.deployment(arn).get("lifecycleHookDetails") or []
                 if h.get("targetType") == "PAUSE" and h["status"] == "AWAITING_ACTION"]
        if hooks:
            return hooks[0]
        time.sleep(0.2)
    raise AssertionError(f"no PAUSE hook awaiting action: {api.deployment(arn)}")


@contextlib.contextmanager
def dashboard(sb):
    """``hookline dashboard --port 0`` signed in: yields ``get(path)`` of its JSON API (with the session
    cookie the printed sign-in link sets; same-origin as the rules in cli/src/verbs/dashboard/mod.rs ask)."""
    proc = subprocess.Popen([BIN, "dashboard", "--port", "0"], env=sb.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://(127\.0\.0\.1:\d+)(/login\?secret=[0-9a-f]+)", line)
        assert m, (line, proc.poll())
        host, login = m.groups()
        conn = http.client.HTTPConnection(host, timeout=60)
        conn.request("GET", login)
        signed_in = conn.getresponse()
        signed_in.read()
        cookie = signed_in.getheader("Set-Cookie", "").split(";", 1)[0]
        assert signed_in.status in (302, 303, 307) and cookie, (signed_in.status, signed_in.getheaders())

        def get(path):
            conn.request("GET", path, headers={"Cookie": cookie, "Sec-Fetch-Site": "same-origin",
                                               "Origin": f"http://{host}"})
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (r.status, body)
            return json.loads(body)
        yield get
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_a_pause_hook_shows_waiting_and_is_answered_by_hookline_approve_or_reject(sb, gate, verb):
    paused_service(gate)
    arn = gate.deploy(f"example/api:pause-{verb}")
    blue, green = gate.sides(arn)
    hook = awaiting_pause(gate, arn)

    status = subprocess.run([BIN, "status", arn], env=sb.env(), capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert f"WAITING FOR APPROVAL: ECS pause hook {hook['hookId']} at POST_TEST_TRAFFIC_SHIFT" in status.stdout, \
        status.stdout
    assert "(then ROLLBACK)" in status.stdout
    as_json = json.loads(subprocess.run([BIN, "status", arn, "--json"], env=sb.env(), capture_output=True,
                                        text=True, timeout=60).stdout)
    assert as_json["controller_pause"]["hook_id"] == hook["hookId"]
    # history shows it waiting too, read the way status reads it (its row is the service deployment's id)
    history = subprocess.run([BIN, "history", "--cluster", "demo", "--service", "api"], env=sb.env(),
                             capture_output=True, text=True, timeout=60)
    assert history.returncode == 0, history.stderr
    row = next((line for line in history.stdout.splitlines() if line.startswith(arn.rsplit("/", 1)[1])), None)
    assert row is not None, history.stdout
    assert f"WAITING FOR APPROVAL: ECS pause hook {hook['hookId']} at POST_TEST_TRAFFIC_SHIFT, times out at " \
        in row and row.endswith("(then ROLLBACK)"), history.stdout
    # and so does the dashboard's list (its JSON API), where the service's deployments are listed
    with dashboard(sb) as get:
        [listed] = [d for d in get("/api/deployments") if d["deployment_id"] == arn]
    assert (listed["application"], listed["deployment_group"]) == ("ecs/demo", "api"), listed
    assert listed["waiting_for_approval"] is True and listed["terminal"] is False, listed

    args = [BIN, verb, arn] + (["--reason", "e2e says no"] if verb == "reject" else [])
    r = subprocess.run(args, env=sb.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert hook["hookId"] in r.stdout and "sandbox-operator" in r.stdout, r.stdout
    assert ("ContinueServiceDeployment CONTINUE" if verb == "approve" else "ContinueServiceDeployment ROLLBACK") \
        in r.stdout, r.stdout

    d = gate.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    if verb == "approve":
        assert d["status"] == "SUCCESSFUL", d
        assert gate.weights().get(green) == 100
    else:
        assert d["status"] == "ROLLBACK_SUCCESSFUL" and "ROLLBACK" in d["rollback"]["reason"], d
        assert gate.weights().get(blue) == 100 and gate.weights().get(green, 0) == 0


def test_a_judge_failure_at_a_step_fails_its_gate_and_ecs_rolls_back(sb, gate):
    """The plan's analysis judges each step over its window (from ECS's step, once the window holds
    min_samples periods): green twice as slow as blue fails the gate at 25 %."""
    from test_judge import latencies, put_series
    run = os.urandom(4).hex()
    namespace = f"E2E/Gate/{run}"
    start = int(time.time()) - 5
    for version, scale, seed in (("v1", 1.0, 1), ("v2", 2.0, 2)):
        put_series(sb, namespace, "TargetResponseTime", {"Run": run, "Version": version},
                   latencies(180, scale, seed), start, 1)
    plan = gate_plan(sb)
    plan["analysis"] = {"min_samples": 5, "metrics": [{
        "name": "TargetResponseTime", "namespace": namespace, "metric": "TargetResponseTime",
        "dimensions": {"Run": run}, "version_dimension": "Version", "blue": "v1", "green": "v2",
        "statistic": "Average", "period": "1s", "lag": "0s", "direction": "increase", "tolerance": 0.1,
        "critical": True}]}
    put(sb, plan)
    stepped(gate, "LINEAR", 25.0)
    since = time.time()
    arn = gate.deploy("example/api:gate-judged")
    blue, green = gate.sides(arn)
    d = gate.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", (d.get("statusReason"), gate_answers(gate, arn))

    answers = gate_answers(gate, arn)
    assert [a[0] for a in answers] == ["SUCCEEDED", "FAILED"], answers
    error = answers[-1][1].get("hooklineError", "")
    assert "gate at 25%" in error and "canary judgement at 25% failed" in error and "TargetResponseTime" in error, error
    assert [s["green"] for s in snapshot(gate, arn)["productionSteps"]] == [25]
    assert gate.weights().get(green, 0) == 0 and gate.weights().get(blue) == 100, gate.weights()
    assert rule_writes_by_functions(sb, since) == []


def test_a_stop_during_a_steps_bake_rolls_back_with_no_gate_left_running(sb, gate):
    """StopServiceDeployment (ROLLBACK) while ECS bakes the 25 % step: ECS rolls back its own steps,
    production ends on blue, no gate execution is left running and no function wrote a rule."""
    put(sb, gate_plan(sb))
    stepped(gate, "LINEAR", 25.0, bake_minutes=4)   # 8 s per step
    since = time.time()
    arn = gate.deploy("example/api:gate-stop")
    blue, green = gate.sides(arn)
    end = time.time() + 120
    while gate.weights().get(green, 0) != 25 and time.time() < end:
        time.sleep(0.1)
    assert gate.weights().get(green) == 25, gate.weights()
    time.sleep(2)   # into the step's bake
    gate.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    d = gate.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert [s["green"] for s in snapshot(gate, arn)["productionSteps"]] == [25]
    assert gate.weights().get(green, 0) == 0 and gate.weights().get(blue) == 100, gate.weights()
    assert rule_writes_by_functions(sb, since) == []
    end = time.time() + 30
    while [e for e in gate.running() if arn.rsplit("/", 1)[1] in e["name"]] and time.time() < end:
        time.sleep(0.5)
    assert not [e for e in gate.running() if arn.rsplit("/", 1)[1] in e["name"]]


def rule_writes(sb, since):
    """Every listener rule write since ``since``, whoever made it (functions and operators alike)."""
    log = sb._ctl("GET", "/calls?log=1").get("log") or []
    return [(e["operation"], e.get("principal")) for e in log if e["t"] >= since and e["operation"] in RULE_WRITES]


def test_hookline_rollback_of_a_gate_deployment_leaves_the_rule_to_ecs(sb, gate):
    """`hookline rollback` during a step's bake: the deployment stopped with rollback, ECS puts
    production back on blue, and nobody but ECS writes the rule (the CLI included)."""
    put(sb, gate_plan(sb))
    stepped(gate, "LINEAR", 25.0, bake_minutes=4)
    since = time.time()
    arn = gate.deploy("example/api:gate-cli-rollback")
    blue, green = gate.sides(arn)
    end = time.time() + 120
    while gate.weights().get(green, 0) != 25 and time.time() < end:
        time.sleep(0.1)
    time.sleep(1)
    r = subprocess.run([BIN, "rollback", arn, "--yes", "--reason", "e2e"], env=sb.env(), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "gate mode" in r.stdout, (r.stdout, r.stderr)
    d = gate.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert gate.weights().get(green, 0) == 0 and gate.weights().get(blue) == 100, gate.weights()
    assert rule_writes(sb, since) == []
