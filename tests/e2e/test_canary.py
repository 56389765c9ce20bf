"""Scenarios a-d of issue 3: canary, alarm during a bake, approvals, stop from the console."""
import json
import time

import pytest

from conftest import exec_arn, plan, sm_arn

W = lambda w, bake=None: {"weight": w, **({"bake": bake} if bake else {})}  # noqa: E731


def start(sb, recorder, p, image):
    """Put the plan, note which side is blue, start the recorder and the deployment."""
    sb.put_plan(p)
    blue, green = sb.prod_groups()
    assert sb.listener_weights(80)[blue] == 100, f"production not on {blue}: {sb.listener_weights(80)}"
    rec = recorder(green)
    did = sb.deploy(image)
    return did, blue, green, rec


def assert_back_to_blue(sb, did, blue, green, rec):
    """Rolled back: blue 100, no rule on :80, green task set gone, blue PRIMARY, rollbackInfo set."""
    info = sb.deployment(did)
    assert info["status"] in ("Failed", "Stopped"), info["status"]
    assert sb.listener_weights(80) == {blue: 100, green: 0}
    assert sb.rules(80) == []
    ts = sb.task_sets()
    assert [(t["status"], t["target_group"]) for t in ts] == [("PRIMARY", blue)], ts
    assert info.get("rollbackInfo", {}).get("rollbackDeploymentId"), info.get("rollbackInfo")
    rb = sb.deployment(info["rollbackInfo"]["rollbackDeploymentId"])
    assert rb["status"] == "Succeeded", rb
    rec.stop()
    assert all(g + b == 100 for g, b in rec.seen), rec.seen
    assert rec.seen[-1] == (0, 100), rec.seen
    return info


# ---------------------------------------------------------------------------- a
def test_a_canary_10_50_100(sb, recorder):
    """Weights follow the plan exactly (blue only, 10, 50, 100), each hook reported once,
    blue removed after the termination wait, green PRIMARY."""
    sb.config(termination_wait_s=3)
    p = plan([W(10, "2s"), W(50, "2s"), W(100, "1s")])
    did, blue, green, rec = start(sb, recorder, p, "example/web:e2e-a")
    # termination wait: AfterAllowTraffic done, status still InProgress, blue still there
    end = time.time() + 90
    saw_wait = False
    while time.time() < end:
        info = sb.deployment(did)
        if info["status"] in ("Succeeded", "Failed", "Stopped"):
            break
        if info.get("blueGreenDeploymentInfo", info).get("instanceTerminationWaitTimeStarted") or \
                info.get("instanceTerminationWaitTimeStarted"):
            if not saw_wait:
                saw_wait = True
                groups = {t["target_group"] for t in sb.task_sets()}
                assert groups == {blue, green}, f"blue removed before the termination wait ended: {sb.task_sets()}"
        time.sleep(0.2)
    info = sb.wait_for_status(did, "Succeeded", timeout=5)
    rec.stop()
    assert not rec.errors, rec.errors[:3]
    assert rec.green_sequence() == [0, 10, 50, 100], rec.seen
    assert all(g + b == 100 for g, b in rec.seen), rec.seen
    assert saw_wait, "never saw the termination wait (instanceTerminationWaitTimeStarted)"
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
    sb.assert_hook_once(did, "AfterAllowTraffic", "Succeeded")
    for ev in ("BeforeAllowTraffic", "AfterAllowTraffic"):
        e = sb.execution(did, ev)
        assert e and e["status"] == "SUCCEEDED", e
    ts = sb.task_sets()
    assert [(t["status"], t["target_group"], t["image"]) for t in ts] == [("PRIMARY", green, "example/web:e2e-a")], ts
    assert sb.listener_weights(80) == {blue: 0, green: 100}
    assert sb.rules(80) == []


# ---------------------------------------------------------------------------- b
def test_b_alarm_during_bake_rolls_back(sb, recorder):
    interval = 2
    p = plan([W(10, "60s"), W(100)], interval=f"{interval}s")
    did, blue, green, rec = start(sb, recorder, p, "example/web:e2e-b")
    arn = sb.wait_execution(did)["executionArn"]
    sb.wait_state(arn, "Bake", timeout=60)
    assert sb.green_share(green) == 10
    time.sleep(0.5)
    t0 = time.time()
    sb.set_alarm("web-5xx", "ALARM", reason="e2e: 5xx during the 10% bake")
    sb.wait_for_status(did, "Failed", timeout=60)
    rec.stop()
    t_blue = rec.first_read(lambda g, b: g == 0, after=t0)
    assert t_blue is not None, rec.seen
    assert t_blue - t0 <= interval + 5, f"back to blue after {t_blue - t0:.1f}s (> {interval} + 5)"
    assert rec.green_sequence() == [0, 10, 0], rec.seen
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Failed")
    info = assert_back_to_blue(sb, did, blue, green, rec)
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE", info["errorInformation"]
    e = sb.wait_execution_done(arn)
    assert e["status"] == "FAILED", e["status"]
    assert any(err == "HealthCheckFailed" for err, _ in sb.task_failures(arn)), sb.task_failures(arn)
    sb.set_alarm("web-5xx", "OK", reason="e2e reset")
    assert sb.alarm_state("web-5xx") == "OK"


# ---------------------------------------------------------------------------- c
@pytest.mark.parametrize("case", ["approved", "rejected", "timeout-rollback", "timeout-continue"])
def test_c_approval(sb, recorder, case):
    if case.startswith("timeout"):
        approval = {"timeout": "3s", "on_timeout": case.split("-")[1]}
    else:
        approval = {"timeout": "2m", "on_timeout": "rollback"}
    p = plan([W(10, "1s"), {"approval": approval}, W(100, "1s")])
    did, blue, green, rec = start(sb, recorder, p, f"example/web:e2e-c-{case}")
    arn = sb.wait_execution(did)["executionArn"]
    token, msg = sb.approval_token(arn, timeout=60)
    assert msg["deployment_id"] == did and msg["step_index"] == 1, msg
    assert msg["approve"] == f"hookline approve {did}" and msg["reject"] == f"hookline reject {did}", msg
    assert sb.green_share(green) == 10, "approval requested before the 10% step"
    if case == "approved":
        sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "e2e"}))
    elif case == "rejected":
        sb.sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause="e2e says no")
    # timeouts: just wait
    if case in ("approved", "timeout-continue"):
        sb.wait_for_status(did, "Succeeded", timeout=90)
        rec.stop()
        assert rec.green_sequence() == [0, 10, 100], rec.seen
        sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
        sb.assert_hook_once(did, "AfterAllowTraffic", "Succeeded")
        assert sb.primary_image() == f"example/web:e2e-c-{case}"
    else:
        t = time.time()
        sb.wait_for_status(did, "Failed", timeout=60)
        if case == "timeout-rollback":
            hist = sb.history(arn)
            assert any(e["type"] == "TaskTimedOut" or "Timeout" in json.dumps(e, default=str) for e in hist)
        rec.stop()
        assert rec.green_sequence() == [0, 10, 0], rec.seen
        sb.assert_hook_once(did, "BeforeAllowTraffic", "Failed")
        assert_back_to_blue(sb, did, blue, green, rec)
        assert sb.wait_execution_done(arn)["status"] == "FAILED"


# ---------------------------------------------------------------------------- d
def test_d_stop_deployment_with_rollback_while_baking(sb, recorder):
    interval = 1
    p = plan([W(10, "60s"), W(100)], interval=f"{interval}s")
    did, blue, green, rec = start(sb, recorder, p, "example/web:e2e-d1")
    arn = sb.wait_execution(did)["executionArn"]
    sb.wait_state(arn, "Bake", timeout=60)
    assert sb.green_share(green) == 10
    t0 = time.time()
    sb.codedeploy.stop_deployment(deploymentId=did, autoRollbackEnabled=True)
    info = sb.wait_for_status(did, "Stopped", timeout=30)
    e = sb.wait_execution_done(arn, timeout=interval + 10)
    took = time.time() - t0
    assert took <= interval + 10, took
    assert e["status"] in ("FAILED", "SUCCEEDED", "ABORTED"), e["status"]
    time.sleep(interval + 1)  # nothing moves traffic after the end
    rec.stop()
    assert rec.green_sequence() == [0, 10, 0], rec.seen
    assert_back_to_blue(sb, did, blue, green, rec)
    assert info["errorInformation"]["code"] == "MANUAL_STOP", info["errorInformation"]
    h = sb.hook_report(did, "BeforeAllowTraffic")
    # the stop closed the hook; hookline may try once more and be told it is already complete
    assert h["status"] in (None, "Failed") and len(h["reports"]) <= 1 and set(h["reports"]) <= {"Failed"}, h
    assert [x for x in sb.hook_records(did) if x["event"] == "AfterAllowTraffic"] == []
    assert sb.execution(did, "AfterAllowTraffic") is None


def test_d_rollback_state_machine_mid_bake(sb, recorder):
    p = plan([W(10, "60s"), W(100)], interval="1s")
    did, blue, green, rec = start(sb, recorder, p, "example/web:e2e-d2")
    arn = sb.wait_execution(did)["executionArn"]
    sb.wait_state(arn, "Bake", timeout=60)
    assert sb.green_share(green) == 10
    rb = sb.sfn.start_execution(stateMachineArn=sm_arn("hookline-rollback"), name=f"e2e-{did}",
                                input=json.dumps({"deployment_id": did}))["executionArn"]
    r = sb.wait_execution_done(rb, timeout=60)
    assert r["status"] == "SUCCEEDED", (r["status"], sb.history(rb)[-1])
    out = json.loads(r["output"])
    info = sb.wait_for_status(did, {"Stopped", "Failed"}, timeout=30)
    e = sb.wait_execution_done(arn, timeout=15)
    assert e["status"] in ("ABORTED", "FAILED"), e["status"]
    time.sleep(1.5)  # nothing moves traffic after the end
    rec.stop()
    assert rec.green_sequence() == [0, 10, 0], rec.seen
    assert_back_to_blue(sb, did, blue, green, rec)
    assert sb.execution(did, "AfterAllowTraffic") is None
    h = sb.hook_report(did, "BeforeAllowTraffic")
    # one answer: accepted (Failed), or refused because the stop had already closed the hook
    assert h["reports"] == ["Failed"] and h["status"] in (None, "Failed"), h
    res = out.get("result", out)
    assert res.get("restored") is True, out
    assert res.get("stopped_executions") == [arn], out
    # the operator's stop wins: StopDeployment before the hook report (a Failed report first would
    # end the deployment Failed/HOOK_EXECUTION_FAILURE; fixed in ecfa9a1)
    assert info["status"] == "Stopped", (info["status"], info["errorInformation"], res)
    assert info["errorInformation"]["code"] == "MANUAL_STOP", info["errorInformation"]
    assert res.get("deployment_status") == "Stopped", out
