"""The plan validator's history-event counts (functions/hookline/src/plan/history.rs) against
what the real canary and post-traffic definitions record when run in moto.

Step Functions fails an execution at 25,000 history events, outside every Catch (developer
guide, "Service quotas" / "Avoid reaching the history quota"); moto does not. The validator
refuses plans that could get there, from per-sequence counts. Each test here runs a definition
twice, differing by one sequence (one more bake iteration, one more step, one retry ...), and
checks the measured difference is at most the validator's constant, so a change to a definition
that costs more events fails here instead of silently breaking the bound.
"""
from __future__ import annotations

import json

import pytest

from harness import FunctionError, history_constants
from test_definitions import function_tasks, load
from test_execution import (  # noqa: F401  (sandbox, sb: fixtures)
    FINALIZED, HEALTH_OK, HEALTH_WAIT, NOT_READY, approval, by_gate, cohort, document, sandbox, sb, shift, weight)

H = history_constants()
INVALID = {"healthy": True, "done": False}  # neither done nor a numeric wait_seconds


def measure(sb, machine, doc, health=None, timeout=60, **stubs) -> tuple[dict, int]:
    """Run once with fresh stubs; (description, number of history events)."""
    sb.stubs.reset()
    sb.stubs.set("validate-health", by_gate(**(health or {})))
    sb.stubs.set("shift-weight", shift)
    sb.stubs.set("finalize", lambda p, n: FINALIZED)
    sb.stubs.set("rollback", lambda p, n: {"restored": True, "reported": "Failed", "already_reported": False})
    for name, answers in stubs.items():
        sb.stubs.sequence(name.replace("_", "-"), *answers)
    d = sb.run(machine, doc, timeout)
    return d, len(sb.history(d["executionArn"]))


def test_canary_fixed_part(sb):
    d, n = measure(sb, "canary", document(weight(100)))
    assert d["status"] == "SUCCEEDED", d
    assert n <= H["EXECUTION_STARTED"] + H["READY_FIRST"] + H["WEIGHT_STEP"] + H["CANARY_END"], n


def test_bake_iteration(sb):
    _, base = measure(sb, "canary", document(weight(100, 1)), {"bake": [HEALTH_OK]})
    d, more = measure(sb, "canary", document(weight(100, 1)), {"bake": [HEALTH_WAIT] * 3 + [HEALTH_OK]})
    assert d["status"] == "SUCCEEDED", d
    assert 0 < (more - base) / 3 <= H["BAKE_ITERATION"], (base, more)


def test_ready_iteration(sb):
    _, base = measure(sb, "canary", document(weight(100)), {"ready": [HEALTH_OK]})
    d, more = measure(sb, "canary", document(weight(100)), {"ready": [NOT_READY] * 3 + [HEALTH_OK]})
    assert d["status"] == "SUCCEEDED", d
    assert 0 < (more - base) / 3 <= H["READY_ITERATION"], (base, more)


@pytest.mark.parametrize("step,constant", [
    (weight(10), "WEIGHT_STEP"), (cohort(), "COHORT_STEP"), (approval(1, "continue"), "APPROVAL_STEP")])
def test_one_more_step(sb, step, constant):
    _, base = measure(sb, "canary", document(weight(100)))
    d, more = measure(sb, "canary", document(step, weight(100)))
    assert d["status"] == "SUCCEEDED", d
    assert 0 < more - base <= H[constant], (base, more)


def test_approved_step(sb):
    _, base = measure(sb, "canary", document(weight(100)))
    measure_doc = document(approval(30), weight(100))
    sb.stubs.reset()
    sb.stubs.set("validate-health", by_gate())
    sb.stubs.set("shift-weight", shift)
    sb.stubs.set("finalize", lambda p, n: FINALIZED)
    arn = sb.start("canary", measure_doc)
    token, _ = sb.wait_for_token(arn)
    sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "alice"}))
    assert sb.wait(arn)["status"] == "SUCCEEDED"
    assert 0 < len(sb.history(arn)) - base <= H["APPROVAL_STEP"]


@pytest.mark.parametrize("error", ["Throttled", "Sandbox.Timedout"])
def test_one_retry(sb, error):
    _, base = measure(sb, "canary", document(weight(100)))
    d, more = measure(sb, "canary", document(weight(100)), shift_weight=[FunctionError(error), shift])
    assert d["status"] == "SUCCEEDED", d
    assert 0 < more - base <= H["FUNCTION_RETRY"], (base, more)


@pytest.mark.parametrize("failure", ["task", "invalid-output"])
def test_rollback_path_fits_the_validators_bound(sb, failure):
    """A run ending in rollback records at most the validator's count for its plan (complete run
    plus ROLLBACK_PATH), and a retried rollback costs FUNCTION_RETRY more."""
    doc = document(weight(100, 1))
    if failure == "task":
        d, n = measure(sb, "canary", doc, shift_weight=[FunctionError("HealthCheckFailed")])
    else:
        d, n = measure(sb, "canary", doc, {"bake": [INVALID]})
    assert d["error"] == "RolledBack", d
    bound = (H["EXECUTION_STARTED"] + H["READY_FIRST"] + H["WEIGHT_STEP"] + H["BAKE_ITERATION"]
             + H["CANARY_END"] + H["ROLLBACK_PATH"])
    assert n <= bound, (n, bound)
    d, retried = measure(sb, "canary", doc, shift_weight=[FunctionError("HealthCheckFailed")],
                         rollback=[FunctionError("AwsTransient"), {"restored": True}])
    assert d["error"] == "RolledBack", d
    if failure == "task":
        assert 0 < retried - n <= H["FUNCTION_RETRY"], (n, retried)


def test_post_traffic(sb):
    doc = document(weight(100), event="AfterAllowTraffic")
    d, base = measure(sb, "post-traffic", doc, {"bake": [HEALTH_OK]})
    assert d["status"] == "SUCCEEDED", d
    assert base <= H["EXECUTION_STARTED"] + H["POST_TRAFFIC_FIRST"] + H["POST_TRAFFIC_END"], base
    _, more = measure(sb, "post-traffic", doc, {"bake": [HEALTH_WAIT] * 3 + [HEALTH_OK]})
    assert 0 < (more - base) / 3 <= H["BAKE_ITERATION"], (base, more)


@pytest.mark.parametrize("name", ["canary", "post-traffic"])
def test_retry_counts_are_the_validators(name):
    """ROLLBACK_PATH counts the failing task's and Rollback's retries from these constants."""
    for n, s in function_tasks(load(name)["States"]).items():
        retries = sum(r.get("MaxAttempts", 3) for r in s["Retry"])
        if n == "Rollback":
            assert retries <= H["ROLLBACK_TASK_RETRIES"], (n, retries)
        else:
            assert retries <= H["FUNCTION_TASK_RETRIES"], (n, retries)
