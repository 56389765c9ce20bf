"""How the hook function copes with Lambda's delivery of CodeDeploy's hook events (issue 10 items 4, 5).

Lambda invokes the hook asynchronously: an event may arrive again after the deployment has moved on
(retries, at-least-once delivery), and an event that fails every attempt goes to the function's
dead-letter queue, which the rollback function consumes through an SQS event source mapping.

(a) A BeforeAllowTraffic invocation delivered again while AfterAllowTraffic is in progress is matched
    to the execution it already started: it starts nothing, and the genuine AfterAllowTraffic invocation
    starts post-traffic with its own hook execution id. Every hook is answered exactly once.
(b) A hook function that crashes on every invocation: after Lambda's retries the event reaches the
    dead-letter queue and the rollback function answers the hook Failed, production on blue, long before
    CodeDeploy's hook timeout (the suite's simulator waits HOOK_TIMEOUT_S).

Hook execution ids are only known to the CodeDeploy simulator (GET /_sandbox/codedeploy); Lambda's side
of the deliveries is read from GET /_sandbox/lambda; everything else through AWS APIs.
"""
import json
import time

from conftest import HOOK_TIMEOUT_S, plan
from test_canary import W, start


def wait_for(pred, timeout, period=0.2, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        value = pred()
        if value:
            return value
        time.sleep(period)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def lambda_state(sb):
    return sb._ctl("GET", "/lambda")


def async_events(sb, function, payload):
    return [ev for ev in lambda_state(sb)["async_events"].get(function, []) if ev["payload"] == payload]


def execution_hook_id(sb, arn):
    doc = json.loads(sb.sfn.describe_execution(executionArn=arn)["input"])
    return doc["context"]["hook"]["execution_id"]


def test_a_stale_before_allow_traffic_redelivery_starts_nothing_and_every_hook_is_answered_once(sb, recorder):
    # A post-traffic bake long enough for the stale invocation to land while AfterAllowTraffic is in progress.
    p = plan([W(100)], interval="1s", post_bake="12s")
    did, blue, green, rec = start(sb, recorder, p, "example/web:e2e-stale-hook")
    canary = sb.wait_execution(did)["executionArn"]
    # The next hook delivery is the genuine AfterAllowTraffic invocation: make it slow, so the stale
    # BeforeAllowTraffic invocation below reaches the function first (the order that used to start
    # <id>-AfterAllowTraffic with BeforeAllowTraffic's hook execution id and leave AfterAllowTraffic
    # unanswered).
    sb.inject(function="hook", kind="latency", latency_ms=4000, count=1)
    sb.wait_for_event(did, "AfterAllowTraffic", "InProgress", timeout=60, poll=0.05)
    before_id = sb.hook_report(did, "BeforeAllowTraffic")["id"]
    stale = {"DeploymentId": did, "LifecycleEventHookExecutionId": before_id}
    r = sb.lambda_.invoke(FunctionName="hook", InvocationType="Event", Payload=json.dumps(stale).encode())
    assert r["StatusCode"] == 202, r

    sb.wait_for_status(did, "Succeeded", timeout=90)

    sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
    sb.assert_hook_once(did, "AfterAllowTraffic", "Succeeded")
    after_id = sb.hook_report(did, "AfterAllowTraffic")["id"]
    assert [e["name"] for e in sb.executions(did)] == [f"{did}-BeforeAllowTraffic"]
    post = sb.executions(did, state_machine="hookline-post-traffic")
    assert [e["name"] for e in post] == [f"{did}-AfterAllowTraffic"], post
    assert execution_hook_id(sb, post[0]["executionArn"]) == after_id, "post-traffic answers its own hook"
    assert execution_hook_id(sb, canary) == before_id
    # The stale invocation succeeded as "already started" (nothing for Lambda to retry or dead-letter).
    ev = wait_for(lambda: [e for e in async_events(sb, "hook", stale) if e["status"] != "queued"], 30,
                  what="the stale invocation to settle")[0]
    assert ev["status"] == "succeeded", ev
    rec.stop()
    assert rec.green_sequence() == [0, 100], rec.seen


def test_b_a_hook_that_crashes_every_time_is_answered_failed_by_the_dead_letter_consumer(sb, recorder):
    lam = lambda_state(sb)
    mappings = [m for m in lam["event_source_mappings"] if m["function"] == "rollback"]
    assert mappings and mappings[0]["report_batch_item_failures"], lam["event_source_mappings"]
    old = {k: lam["config"][k] for k in ("async_retries", "async_retry_delay_s")}
    sb._ctl("POST", "/lambda", {"async_retries": 2, "async_retry_delay_s": 0.5})
    try:
        sb.inject(function="hook", kind="crash")   # permanent: every delivery crashes
        p = plan([W(50, "1s"), W(100)], interval="1s")
        did, blue, green, rec = start(sb, recorder, p, "example/web:e2e-dlq")
        sb.wait_for_event(did, "BeforeAllowTraffic", "InProgress", timeout=60, poll=0.1)
        t0 = time.time()
        info = sb.wait_for_status(did, ("Failed", "Stopped"), timeout=HOOK_TIMEOUT_S - 10, poll=0.2)
        took = time.time() - t0
    finally:
        sb.clear_faults()
        sb._ctl("POST", "/lambda", old)

    assert info["status"] == "Failed", info
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE", info["errorInformation"]
    assert took < HOOK_TIMEOUT_S / 2, f"answered after {took:.1f}s: that is the hook timeout's doing"
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Failed")
    # Nothing was started: the hook function never ran to the end.
    assert sb.execution(did) is None
    assert sb.listener_weights(80) == {blue: 100, green: 0}
    assert sb.rules(80) == []
    rec.stop()
    assert rec.green_sequence() == [0], rec.seen
    # Lambda's side: three crashed deliveries, the dead-letter queue, then the rollback function's batch.
    hook_id = sb.hook_report(did, "BeforeAllowTraffic")["id"]
    hook_event = {"DeploymentId": did, "LifecycleEventHookExecutionId": hook_id}
    ev = async_events(sb, "hook", hook_event)
    assert len(ev) == 1 and ev[0]["status"] == "dead-lettered", ev
    assert [d["outcome"] for d in ev[0]["deliveries"]] == ["crash"] * 3
    consumed = [i for i in lambda_state(sb)["esm_invokes"] if i["function"] == "rollback"
                and any(did in b for b in i.get("bodies", []))]
    assert consumed and consumed[0]["kept"] == [], consumed
    assert json.loads(consumed[0]["response"]) == {"batchItemFailures": []}, consumed[0]



def test_c_a_hook_that_answers_failed_itself_is_neither_retried_nor_answered_again(sb, recorder):
    """A plan the hook refuses: the hook answers Failed and the invocation succeeds, so Lambda's async
    retries do not run it again and nothing is dead-lettered; Lambda's duplicate deliveries of the event
    (at-least-once) find the deployment ended and answer nothing: the hook is reported exactly once."""
    lam = lambda_state(sb)
    keys = ("async_retries", "async_retry_delay_s", "async_duplicates", "async_duplicate_delay_s")
    old = {k: lam["config"][k] for k in keys}
    sb._ctl("POST", "/lambda", {"async_retries": 2, "async_retry_delay_s": 0.5, "async_duplicates": 2,
                                "async_duplicate_delay_s": 1.5})
    try:
        did, blue, green, rec = start(sb, recorder, {"steps": []}, "example/web:e2e-refused-plan")
        info = sb.wait_for_status(did, ("Failed", "Stopped"), timeout=60, poll=0.2)
        hook_id = sb.hook_report(did, "BeforeAllowTraffic")["id"]
        hook_event = {"DeploymentId": did, "LifecycleEventHookExecutionId": hook_id}
        ev = wait_for(lambda: [e for e in async_events(sb, "hook", hook_event) if len(e["deliveries"]) >= 3], 30,
                      what="the hook event's two duplicate deliveries")[0]
        time.sleep(1.0)   # nothing else may follow (no retry of a succeeded delivery)
    finally:
        sb._ctl("POST", "/lambda", old)

    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE", info
    ev = async_events(sb, "hook", hook_event)[0]
    assert ev["status"] == "succeeded", ev
    assert [(d["kind"], d["outcome"]) for d in ev["deliveries"]] == \
        [("first", "ok"), ("duplicate", "ok"), ("duplicate", "ok")], ev["deliveries"]
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Failed")
    assert sb.execution(did) is None
    rec.stop()
    assert rec.green_sequence() == [0], rec.seen
