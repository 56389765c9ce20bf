"""Execution tests: the real definitions run in moto's Step Functions interpreter, the
functions are Python stubs behind a local Lambda Invoke endpoint (see harness.py).

They prove the ASL paths (order of calls, the exact function inputs, Retry/Catch, the
approval round trip through the task token, timeouts) independent of the Rust functions.
"""
from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

import pytest

from harness import FunctionError, Sandbox

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"

CONTEXT = {
    "deployment_id": "d-TEST0001",
    "application": "web",
    "deployment_group": "web-prod",
    "hook": {"kind": "codedeploy", "event": "BeforeAllowTraffic", "execution_id": "hook-exec-1"},
    "cluster": "demo",
    "service": "web",
    "production": {
        "kind": "alb-listener",
        "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo/1/80",
    },
    "test_listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo/1/8080",
    "blue": {"target_group_arn": "arn:tg/web-blue", "target_group_name": "web-blue", "task_set_arn": None},
    "green": {"target_group_arn": "arn:tg/web-green", "target_group_name": "web-green", "task_set_arn": None},
}
# A finished bake hands on the state's judgements (validate-health; the canary keeps them in $.state.judgements).
HEALTH_OK = {"healthy": True, "done": True, "wait_seconds": 1, "checked_at": 1763776000, "checks": [], "judgements": []}
HEALTH_WAIT = {"healthy": True, "done": False, "wait_seconds": 1, "checked_at": 1763776000, "checks": []}
NOT_READY = {"healthy": False, "done": False, "wait_seconds": 1, "checked_at": 1763776000, "checks": []}


def cohort():
    return {"kind": "cohort", "header": "X-Canary", "values": ["internal"]}


def weight(w, bake=0):
    return {"kind": "weight", "weight": w, "bake_seconds": bake}


def approval(timeout=30, on_timeout="rollback"):
    return {"kind": "approval", "timeout_seconds": timeout, "on_timeout": on_timeout}


def document(*steps, event="BeforeAllowTraffic", state=None):
    ctx = copy.deepcopy(CONTEXT)
    ctx["hook"]["event"] = event
    return {
        "context": ctx,
        "plan": {
            "steps": list(steps),
            "step_count": len(steps),
            "health": {"interval_seconds": 1, "alarms": ["web-5xx"], "min_healthy_percent": 100,
                       "http": [], "ready_timeout_seconds": 60},
            "post_traffic": {"bake_seconds": 1},
            "hook_budget_seconds": 3300,
            "traffic": {"production_rule_arn": None},
        },
        "state": state or {"index": 0, "weight": 0, "started_at": 1763776000, "bake_until": None, "judgements": []},
    }


def shift(payload, n=None):
    """shift-weight per docs/contracts.md: same index/started_at, new weight, bake_until."""
    st, step = payload["state"], payload["step"]
    if step["kind"] == "weight":
        return {**st, "weight": step["weight"], "bake_until": 1763776000 + step["bake_seconds"]}
    return {**st, "bake_until": None}


@pytest.fixture(scope="module")
def sandbox():
    if not (VENV_BIN / "moto_server").exists():
        pytest.skip("moto_server missing: run `make venv`")
    sb = Sandbox(VENV_BIN)
    yield sb
    sb.close()


@pytest.fixture
def sb(sandbox):
    s = sandbox.stubs
    s.reset()
    s.set("validate-health", lambda p, n: {"status": "Succeeded", "done": True} if p["gate"] == "deployment" else HEALTH_OK)
    s.set("shift-weight", shift)
    s.set("finalize", lambda p, n: {"reported": "Succeeded", "already_reported": False})
    s.set("rollback", lambda p, n: {"restored": True, "reported": "Failed", "already_reported": False})
    s.set("register-taskdef", lambda p, n: {"task_definition_arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2",
                                            "deployment_id": "d-RELEASE1", "appspec": "{}"})
    started = []
    orig_start = sandbox.start

    def start(*a, **kw):
        arn = orig_start(*a, **kw)
        started.append(arn)
        return arn
    sandbox.start = start
    yield sandbox
    sandbox.start = orig_start
    for arn in started:  # leave nothing waiting on a token for the next test
        if sandbox.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            sandbox.sfn.stop_execution(executionArn=arn)


def gate(name):
    """Stub for validate-health answering per gate: name(payload, n_of_that_gate)."""
    counts, lock = {}, threading.Lock()

    def handler(payload, _n):
        with lock:
            counts[payload["gate"]] = counts.get(payload["gate"], 0) + 1
            n = counts[payload["gate"]]
        return name(payload, n)
    return handler


def by_gate(**answers):
    """validate-health: answers[gate] is a list; the n-th call of a gate gets item n (last repeats)."""
    def pick(payload, n):
        seq = answers.get(payload["gate"], [HEALTH_OK])
        a = seq[min(n, len(seq)) - 1]
        if isinstance(a, Exception):
            raise a
        return a
    return gate(pick)


def calls(sb):
    """[(function, gate-or-step-kind)] in call order."""
    out = []
    for n, p in sb.stubs.calls:
        tag = p.get("gate") or (p.get("step") or {}).get("kind")
        out.append((n, tag) if tag else (n,))
    return out


def failed_with(d: dict) -> str:
    """The Fail states' Cause is the caught error as JSON ({"Error", "Cause"})."""
    return json.loads(d["cause"])["Error"]


# --- canary -------------------------------------------------------------------------------------
def test_canary_happy_path(sb):
    sb.stubs.set("validate-health", by_gate(ready=[NOT_READY, HEALTH_OK], bake=[HEALTH_WAIT, HEALTH_OK]))
    doc = document(cohort(), weight(10, 1), approval(), weight(100))
    arn = sb.start("canary", doc)
    token, seen = sb.wait_for_token(arn)
    msg = seen["message"]
    assert msg == {"deployment_id": "d-TEST0001", "step_index": 2, "step": approval(), "task_token": token,
                   "approve": "hookline approve d-TEST0001", "reject": "hookline reject d-TEST0001"}
    assert seen["parameters"]["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:hookline-approvals"
    sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "alice"}))
    d = sb.wait(arn)
    assert d["status"] == "SUCCEEDED", d
    assert calls(sb) == [
        ("validate-health", "ready"), ("validate-health", "ready"),
        ("shift-weight", "cohort"),
        ("shift-weight", "weight"), ("validate-health", "bake"), ("validate-health", "bake"),
        ("shift-weight", "weight"), ("validate-health", "bake"),
        ("finalize",),
    ]
    # exact inputs, as the Rust functions will see them
    vh = sb.stubs.payloads("validate-health")
    assert vh[0] == {"gate": "ready", "context": doc["context"], "plan": doc["plan"], "state": doc["state"]}
    sw = sb.stubs.payloads("shift-weight")
    assert sw[0] == {"context": doc["context"], "state": doc["state"], "step": cohort()}
    assert sw[1]["state"] == {"index": 1, "weight": 0, "started_at": 1763776000, "bake_until": None, "judgements": []}
    assert vh[2]["state"] == {"index": 1, "weight": 10, "started_at": 1763776000, "bake_until": 1763776001, "judgements": []}
    assert sw[2] == {"context": doc["context"], "step": weight(100),
                     "state": {"index": 3, "weight": 10, "started_at": 1763776000, "bake_until": None, "judgements": []}}
    (fin,) = sb.stubs.payloads("finalize")
    assert fin == {"context": doc["context"], "plan": doc["plan"],
                   "state": {"index": 4, "weight": 100, "started_at": 1763776000, "bake_until": None, "judgements": []}}
    out = json.loads(d["output"])
    assert out["result"] == {"reported": "Succeeded", "already_reported": False}
    assert out["state"]["index"] == 4


def test_weight_step_with_zero_bake_costs_eight_transitions(sb):
    one = sb.run("canary", document(weight(100)))
    three = sb.run("canary", document(weight(10), weight(50), weight(100)))
    assert one["status"] == three["status"] == "SUCCEEDED"
    n1 = len(sb.entered_states(one["executionArn"]))
    n3 = len(sb.entered_states(three["executionArn"]))
    per_step = (n3 - n1) / 2
    assert per_step == 8 <= 8, (n1, n3)  # KeepJudgements included


@pytest.mark.parametrize("function,gate_,error", [
    ("shift-weight", None, "DeploymentStopped"),
    ("shift-weight", None, "AwsPermanent"),
    ("validate-health", "bake", "HealthCheckFailed"),
    ("validate-health", "ready", "HealthCheckFailed"),
    ("validate-health", "ready", "InvalidInput"),
    ("validate-health", "bake", "DeploymentStopped"),
    ("shift-weight", None, "Runtime.ExitError"),   # crashing function
    ("finalize", None, "AwsPermanent"),
])
def test_function_error_rolls_back_once_without_retry(sb, function, gate_, error):
    err = FunctionError(error, f"{function} says {error}")
    if function == "validate-health":
        sb.stubs.set(function, by_gate(**{gate_: [err]}))
    else:
        sb.stubs.sequence(function, err)
    d = sb.run("canary", document(cohort(), weight(10)))
    assert d["status"] == "FAILED"
    assert d["error"] == "RolledBack" and failed_with(d) == error
    failing = [c for c in calls(sb) if c[0] == function and (gate_ is None or c[1] == gate_)]
    assert len(failing) == 1, calls(sb)  # not retried
    (rb,) = sb.stubs.payloads("rollback")
    assert set(rb) == {"context", "plan", "state", "error", "attempt"}
    assert rb["attempt"] == 0
    assert rb["error"]["Error"] == error and f"{function} says {error}" in rb["error"]["Cause"]
    assert calls(sb)[-1] == ("rollback",)
    if function != "finalize":
        assert "finalize" not in sb.stubs.names()


def test_rollback_retries_carry_their_attempt_number(sb):
    """rollback holds its Failed report while a retry follows (a restore that failed); it knows the
    last attempt from `$$.State.RetryCount` (AWS Step Functions developer guide, "Context object")."""
    sb.stubs.set("validate-health", by_gate(ready=[FunctionError("HealthCheckFailed", "green unhealthy")]))
    sb.stubs.sequence("rollback", FunctionError("AwsPermanent"), FunctionError("AwsTransient"), {"restored": True})
    d = sb.run("canary", document(weight(10)))
    assert d["status"] == "FAILED" and d["error"] == "RolledBack", d
    assert [p["attempt"] for p in sb.stubs.payloads("rollback")] == [0, 1, 2]


def test_transient_errors_are_retried(sb):
    sb.stubs.sequence("shift-weight", FunctionError("Throttled"), shift)
    sb.stubs.set("validate-health", by_gate(bake=[FunctionError("AwsTransient"), HEALTH_OK]))
    d = sb.run("canary", document(weight(10)))
    assert d["status"] == "SUCCEEDED", d
    assert calls(sb) == [("validate-health", "ready"), ("shift-weight", "weight"), ("shift-weight", "weight"),
                         ("validate-health", "bake"), ("validate-health", "bake"), ("finalize",)]


# A function that runs past its Timeout answers errorType Sandbox.Timedout; Step Functions reports
# unhandled errors, function timeouts and out-of-memory included, as Lambda.Unknown
# (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
TIMEOUT_ERRORS = ["Sandbox.Timedout", "Lambda.Unknown"]
TIMED_OUT = "Task timed out after 60.00 seconds"
FINALIZED = {"reported": "Succeeded", "already_reported": False}


@pytest.mark.parametrize("error", TIMEOUT_ERRORS)
@pytest.mark.parametrize("function,gate_", [
    ("validate-health", "ready"), ("shift-weight", "cohort"), ("shift-weight", "weight"),
    ("validate-health", "bake"), ("finalize", None),
])
def test_canary_task_timing_out_once_is_retried_not_rolled_back(sb, function, gate_, error):
    err = FunctionError(error, TIMED_OUT)
    if function == "validate-health":
        sb.stubs.set(function, by_gate(**{gate_: [err, HEALTH_OK]}))
    elif function == "shift-weight":
        seen = []

        def once(p, n):
            if p["step"]["kind"] == gate_ and gate_ not in seen:
                seen.append(gate_)
                raise err
            return shift(p)
        sb.stubs.set(function, once)
    else:
        sb.stubs.sequence(function, err, FINALIZED)
    d = sb.run("canary", document(cohort(), weight(10)))
    assert d["status"] == "SUCCEEDED", d
    assert "rollback" not in sb.stubs.names()
    tried = [c for c in calls(sb) if c[0] == function and (gate_ is None or c[1] == gate_)]
    assert len(tried) == 2, calls(sb)


@pytest.mark.parametrize("error", TIMEOUT_ERRORS)
@pytest.mark.parametrize("function", ["validate-health", "finalize"])
def test_post_traffic_task_timing_out_once_is_retried_not_rolled_back(sb, function, error):
    err = FunctionError(error, TIMED_OUT)
    sb.stubs.sequence(function, err, HEALTH_OK if function == "validate-health" else FINALIZED)
    d = sb.run("post-traffic", document(weight(10), event="AfterAllowTraffic"))
    assert d["status"] == "SUCCEEDED", d
    assert "rollback" not in sb.stubs.names()
    assert sb.stubs.names().count(function) == 2


@pytest.mark.parametrize("error", TIMEOUT_ERRORS)
@pytest.mark.parametrize("function", ["register-taskdef", "validate-health"])
def test_release_task_timing_out_once_is_retried(sb, function, error):
    err = FunctionError(error, TIMED_OUT)
    answer = ({"status": "Succeeded", "done": True} if function == "validate-health" else
              {"task_definition_arn": "arn:td/web:2", "deployment_id": "d-RELEASE1", "appspec": "{}"})
    sb.stubs.sequence(function, err, answer)
    d = sb.run("release", {"application": "web", "deployment_group": "web-prod", "image": "ok"}, timeout=40)
    assert d["status"] == "SUCCEEDED", d
    assert sb.stubs.names().count(function) == 2


@pytest.mark.parametrize("error", TIMEOUT_ERRORS)
def test_rollback_task_timing_out_once_is_retried(sb, error):
    sb.stubs.sequence("rollback", FunctionError(error, TIMED_OUT),
                      {"restored": True, "reported": "Failed", "already_reported": False})
    d = sb.run("rollback", {"deployment_id": "d-TEST0001", "reason": "bad latency"})
    assert d["status"] == "SUCCEEDED", d
    sb.stubs.sequence("shift-weight", FunctionError("DeploymentStopped"))
    d = sb.run("canary", document(weight(10)))
    assert d["error"] == "RolledBack" and failed_with(d) == "DeploymentStopped"
    assert sb.stubs.names().count("rollback") == 3


@pytest.mark.parametrize("error", TIMEOUT_ERRORS)
def test_timeouts_are_retried_once_then_roll_back(sb, error):
    """A function that keeps running past its Timeout costs a whole Timeout per attempt: one
    retry, then rollback, so the gate's worst case stays inside the rollback reserve."""
    sb.stubs.set("validate-health", by_gate(bake=[FunctionError(error, TIMED_OUT)]))
    d = sb.run("canary", document(weight(10)))
    assert d["error"] == "RolledBack" and failed_with(d) == error
    assert calls(sb).count(("validate-health", "bake")) == 2
    assert sb.stubs.names()[-1] == "rollback" and sb.stubs.names().count("rollback") == 1


def test_retries_are_bounded_then_roll_back(sb):
    sb.stubs.sequence("shift-weight", FunctionError("Throttled", "Rate exceeded"))
    d = sb.run("canary", document(weight(10)), timeout=40)
    assert d["error"] == "RolledBack" and failed_with(d) == "Throttled"
    assert sb.stubs.names().count("shift-weight") == 5  # 1 + MaxAttempts 4
    assert sb.stubs.names()[-1] == "rollback" and sb.stubs.names().count("rollback") == 1


def test_approval_rejected_rolls_back(sb):
    arn = sb.start("canary", document(weight(10), approval(), weight(100)))
    token, _ = sb.wait_for_token(arn)
    sb.sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause="rejected by bob")
    d = sb.wait(arn)
    assert d["error"] == "RolledBack" and failed_with(d) == "ApprovalRejected"
    (rb,) = sb.stubs.payloads("rollback")
    # moto 5.2.5 drops SendTaskFailure's cause (responses.py passes only error); AWS keeps it
    assert rb["error"]["Error"] == "ApprovalRejected" and rb["error"]["Cause"] in ("rejected by bob", None)
    assert rb["state"]["weight"] == 10 and rb["state"]["index"] == 1
    assert [c for c in calls(sb) if c[0] == "shift-weight"] == [("shift-weight", "weight")]


@pytest.mark.parametrize("on_timeout", ["continue", "rollback"])
def test_approval_timeout(sb, on_timeout):
    d = sb.run("canary", document(weight(10), approval(timeout=1, on_timeout=on_timeout), weight(100)))
    if on_timeout == "continue":
        assert d["status"] == "SUCCEEDED", d
        assert "rollback" not in sb.stubs.names()
        assert sb.stubs.payloads("shift-weight")[-1]["step"] == weight(100)
    else:
        assert d["error"] == "RolledBack" and failed_with(d) == "States.Timeout"
        (rb,) = sb.stubs.payloads("rollback")
        assert rb["error"]["Error"] == "States.Timeout"
        assert "finalize" not in sb.stubs.names()


def test_rollback_is_retried_until_it_gets_through(sb):
    sb.stubs.sequence("shift-weight", FunctionError("DeploymentStopped"))
    sb.stubs.sequence("rollback", FunctionError("Lambda.Unknown", "timed out"),
                      {"restored": True, "reported": "Failed", "already_reported": False})
    d = sb.run("canary", document(weight(10)))
    assert d["error"] == "RolledBack" and failed_with(d) == "DeploymentStopped"
    assert sb.stubs.names().count("rollback") == 2


def test_rollback_failing_for_good_ends_in_rollback_failed(sb):
    sb.stubs.sequence("shift-weight", FunctionError("AwsPermanent"))
    sb.stubs.sequence("rollback", FunctionError("InvalidInput", "context.green missing"))
    d = sb.run("canary", document(weight(10)))
    assert d["status"] == "FAILED" and d["error"] == "RollbackFailed"
    assert failed_with(d) == "InvalidInput"  # the rollback's error; the original is in $.error
    assert sb.stubs.names().count("rollback") == 1  # InvalidInput is not retried


@pytest.mark.parametrize("answer", [{}, {"healthy": True, "done": False}, {"done": False, "wait_seconds": "soon"}])
def test_function_output_outside_the_contract_rolls_back(sb, answer):
    sb.stubs.set("validate-health", by_gate(bake=[answer]))
    d = sb.run("canary", document(weight(10)))
    assert d["error"] == "RolledBack" and failed_with(d) == "InvalidFunctionOutput"
    assert sb.stubs.names().count("rollback") == 1


def test_unknown_step_kind_rolls_back(sb):
    d = sb.run("canary", document(weight(10), {"kind": "mirror"}))
    assert d["error"] == "RolledBack"
    (rb,) = sb.stubs.payloads("rollback")
    assert rb["error"] == {"Error": "InvalidInput", "Cause": "plan step 1 has no known kind"}


# --- post-traffic -------------------------------------------------------------------------------
def test_post_traffic_bakes_then_finalizes(sb):
    sb.stubs.set("validate-health", by_gate(bake=[HEALTH_WAIT, HEALTH_WAIT, HEALTH_OK]))
    state = {"index": 0, "weight": 100, "started_at": 1763776000, "bake_until": 1763776001, "judgements": []}
    doc = document(weight(10), event="AfterAllowTraffic", state=state)
    d = sb.run("post-traffic", doc)
    assert d["status"] == "SUCCEEDED", d
    assert calls(sb) == [("validate-health", "bake")] * 3 + [("finalize",)]
    assert sb.stubs.payloads("validate-health")[0] == {"gate": "bake", **{k: doc[k] for k in ("context", "plan", "state")}}
    assert sb.stubs.payloads("finalize")[0] == {k: doc[k] for k in ("context", "plan", "state")}


@pytest.mark.parametrize("function", ["validate-health", "finalize"])
def test_post_traffic_failure_rolls_back(sb, function):
    sb.stubs.sequence(function, FunctionError("HealthCheckFailed" if function == "validate-health" else "AwsPermanent"))
    d = sb.run("post-traffic", document(weight(10), event="AfterAllowTraffic"))
    assert d["status"] == "FAILED" and d["error"] == "RolledBack"
    assert sb.stubs.names()[-1] == "rollback" and sb.stubs.names().count("rollback") == 1


# --- release ------------------------------------------------------------------------------------
def test_release(sb):
    def register(p, n):
        if p["image"] == "broken":
            raise FunctionError("InvalidInput", "image: not a valid reference")
        return {"task_definition_arn": "arn:td/web:2", "deployment_id": f"d-{p['image'].upper()}", "appspec": "{}"}
    statuses = {"d-OK": ["InProgress", "Succeeded"], "d-STOP": ["Stopped"]}
    polls = {}

    def deployment(p, n):
        seq = statuses[p["deployment_id"]]
        i = polls[p["deployment_id"]] = polls.get(p["deployment_id"], 0) + 1
        status = seq[min(i, len(seq)) - 1]
        return {"status": status, "done": status != "InProgress"}
    sb.stubs.set("register-taskdef", register)
    sb.stubs.set("validate-health", deployment)
    base = {"application": "web", "deployment_group": "web-prod"}
    ok = sb.start("release", {**base, "image": "ok", "description": "v2"})
    stop = sb.start("release", {**base, "image": "stop", "container": "app"})
    bad = sb.start("release", {**base, "image": "broken"})
    d_bad = sb.wait(bad)
    assert d_bad["status"] == "FAILED" and d_bad["error"] == "ReleaseFailed"
    assert failed_with(d_bad) == "InvalidInput"
    d_ok, d_stop = sb.wait(ok, 40), sb.wait(stop, 40)
    assert d_ok["status"] == "SUCCEEDED", d_ok
    out = json.loads(d_ok["output"])
    assert out["release"]["deployment_id"] == "d-OK" and out["outcome"] == {"status": "Succeeded", "done": True}
    assert d_stop["status"] == "FAILED" and d_stop["error"] == "DeploymentFailed"
    assert d_stop["cause"] == "deployment d-STOP ended with status Stopped"
    reg = {p["image"]: p for p in sb.stubs.payloads("register-taskdef")}
    assert reg["ok"] == {**base, "image": "ok", "description": "v2", "container": None, "cluster": None, "service": None}
    assert reg["stop"] == {**base, "image": "stop", "container": "app", "description": None, "cluster": None, "service": None}
    assert sorted(p["deployment_id"] for p in sb.stubs.payloads("validate-health")) == ["d-OK", "d-OK", "d-STOP"]
    assert all(p == {"gate": "deployment", "deployment_id": p["deployment_id"]} for p in sb.stubs.payloads("validate-health"))


# --- console rollback ---------------------------------------------------------------------------
def test_rollback_machine(sb):
    d = sb.run("rollback", {"deployment_id": "d-TEST0001", "reason": "bad latency"})
    assert d["status"] == "SUCCEEDED", d
    arn = sb.start("rollback", {"deployment_id": "d-TEST0002"}, name="oncall-1")
    assert sb.wait(arn)["status"] == "SUCCEEDED"
    assert sb.stubs.payloads("rollback") == [
        {"deployment_id": "d-TEST0001", "reason": "bad latency"},
        {"deployment_id": "d-TEST0002", "reason": "requested by Step Functions execution oncall-1"},
    ]
    sb.stubs.sequence("rollback", FunctionError("InvalidInput", "deployment_id: missing"))
    d = sb.run("rollback", {"reason": "no id"})
    assert d["status"] == "FAILED" and d["error"] == "RollbackFailed"
    assert sb.stubs.payloads("rollback")[-1] == {"deployment_id": None, "reason": "no id"}


# --- the canary judge asking an operator ($.health.approval) ------------------------------------

def judged(action, approval_step=None):
    """A finished bake whose canary judgement (docs/judge.md) left the decision to an operator."""
    judgement = {"step": 0, "weight": 10, "outcome": "Marginal", "action": action}
    out = {**HEALTH_OK, "judgement": judgement, "judgements": [judgement]}
    if approval_step is not None:
        out["approval"] = approval_step
    return out


def test_a_judgement_asking_for_approval_waits_for_the_operator_then_advances(sb):
    sb.stubs.set("validate-health", by_gate(bake=[judged("approval", approval(timeout=600)), HEALTH_OK]))
    arn = sb.start("canary", document(weight(10, bake=1), weight(100)))
    token, message = sb.wait_for_token(arn)
    assert message["message"]["step"] == approval(timeout=600)
    sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "bob"}))
    d = sb.wait(arn)
    assert d["status"] == "SUCCEEDED", d
    assert [c for c in calls(sb) if c[0] == "shift-weight"] == [("shift-weight", "weight")] * 2
    assert sb.stubs.payloads("shift-weight")[-1]["step"] == weight(100)
    assert "rollback" not in sb.stubs.names()


def test_a_judgement_approval_unanswered_rolls_back(sb):
    sb.stubs.set("validate-health", by_gate(bake=[judged("approval", approval(timeout=1))]))
    d = sb.run("canary", document(weight(10, bake=1), weight(100)))
    assert d["error"] == "RolledBack" and failed_with(d) == "States.Timeout"
    (rb,) = sb.stubs.payloads("rollback")
    assert rb["state"]["weight"] == 10
    assert "finalize" not in sb.stubs.names()


def test_a_judgement_without_approval_advances_as_before(sb):
    sb.stubs.set("validate-health", by_gate(bake=[judged("continue")]))
    d = sb.run("canary", document(weight(10, bake=1), weight(100)))
    assert d["status"] == "SUCCEEDED", d
    assert sb.stubs.names().count("shift-weight") == 2


def test_every_judgement_ends_in_the_execution_output(sb):
    """The judgements of judged steps (validate-health appends each to the state's) are kept in
    $.state.judgements through Advance and the judgement's approval, so the output holds them all."""
    first = {"step": 0, "weight": 10, "outcome": "Pass", "action": "continue"}
    second = {"step": 1, "weight": 50, "outcome": "Marginal", "action": "approval"}

    def bake(payload, n):
        held = payload["state"]["judgements"]
        if payload["state"]["index"] == 0:
            return {**HEALTH_OK, "judgement": first, "judgements": held + [first]}
        if payload["state"]["index"] == 1:
            return {**HEALTH_OK, "judgement": second, "judgements": held + [second], "approval": approval(timeout=600)}
        return {**HEALTH_OK, "judgements": held}

    sb.stubs.set("validate-health", gate(lambda p, n: bake(p, n) if p["gate"] == "bake" else HEALTH_OK))
    arn = sb.start("canary", document(weight(10, bake=1), weight(50, bake=1), weight(100)))
    token, _ = sb.wait_for_token(arn)
    sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "bob"}))
    d = sb.wait(arn)
    assert d["status"] == "SUCCEEDED", d
    assert json.loads(d["output"])["state"]["judgements"] == [first, second]
