"""The sandbox's Lambda behaves as AWS Lambda does for an asynchronous invocation that fails every
time: CodeDeploy invokes the hook function asynchronously; a function that crashes on every attempt
is tried three times in all (AWS: two retries, one and two minutes apart), then the event goes to the
function's dead-letter queue (infra/template.yaml: HookFunction -> HookFailureQueue) with Lambda's
attributes, and the queue's SQS event source mapping hands it to the rollback function.

Deliveries are counted with the sandbox's control API (GET /_sandbox/lambda), the queue is read
through the SQS API."""
import json
import time
import uuid

import requests

DLQ = "hookline-hook-failures"


def wait_for(pred, timeout, period=0.2, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(period)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_a_hook_that_crashes_every_time_is_retried_dead_lettered_and_handed_to_rollback(sb):
    before = sb._ctl("GET", "/lambda")
    old = {k: before["config"][k] for k in ("async_retries", "async_retry_delay_s", "async_duplicates")}
    assert before["functions"]["hook"]["dead_letter_queue"] == DLQ
    sqs = sb.client("sqs")
    url = sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]   # provisioned from the template
    # rollback's process runs before the test (as up.sh's warm-up does): a `cargo run` still waiting
    # for another build's target/ lock would otherwise count against the function's timeout.
    requests.post(f"{sb.endpoint}/2015-03-31/functions/rollback/invocations", data=b"{}",
                  headers={"X-Sandbox-Internal": "warmup"}, timeout=900)
    sb._ctl("POST", "/lambda", {"async_retries": 2, "async_retry_delay_s": 0.5, "async_duplicates": 0})
    fault = sb.crash("hook")   # permanent: every delivery of every event crashes
    payload = {"DeploymentId": "d-LAMBDAEMUL", "LifecycleEventHookExecutionId": uuid.uuid4().hex}
    try:
        out = sb.lambda_.invoke(FunctionName="hook", InvocationType="Event", Payload=json.dumps(payload).encode())
        assert out["StatusCode"] == 202 and "FunctionError" not in out

        def settled():
            for ev in sb._ctl("GET", "/lambda")["async_events"].get("hook", []):
                if ev["payload"] == payload and ev["status"] not in ("queued",):
                    return ev
            return None

        ev = wait_for(settled, 30, what="the hook event to settle")
        assert [d["kind"] for d in ev["deliveries"]] == ["first", "retry", "retry"]
        assert [d["outcome"] for d in ev["deliveries"]] == ["crash"] * 3
        assert ev["deliveries"][2]["at"] - ev["deliveries"][1]["at"] >= 0.9   # 2 x delay before the 3rd
        assert ev["status"] == "dead-lettered"
        hits = next(f["hits"] for f in sb.faults() if f["id"] == fault["id"])
        assert hits == 3
        send = next(s for s in sb._ctl("GET", "/lambda")["dlq_sends"] if s["event_id"] == ev["id"])
        assert send["queue"] == DLQ and send["result"] == "sent"
        assert send["attributes"]["RequestID"] == ev["request_id"] and send["attributes"]["ErrorCode"] == "200"
        assert "Runtime exited with error" in send["attributes"]["ErrorMessage"]

        mappings = [m for m in sb._ctl("GET", "/lambda")["event_source_mappings"] if m["queue"] == DLQ]
        assert [m["function"] for m in mappings] == ["rollback"]

        def handed():
            for inv in sb._ctl("GET", "/lambda")["esm_invokes"]:
                if inv["function"] == "rollback" and any(json.loads(b) == payload for b in inv.get("bodies", ())):
                    return inv
            return None

        inv = wait_for(handed, 90, what="the event source mapping to invoke rollback")
        # whatever rollback answers: ok -> deleted; a function error -> kept for the visibility timeout
        assert inv["outcome"] in ("ok", "function_error"), inv
        if inv["outcome"] == "function_error":
            assert inv["deleted"] == [] and inv["kept"] == inv["message_ids"]
    finally:
        sb.clear_faults(fault["id"])
        # No stale event for the next tests' rollback: stop the mapping, delete this test's message
        # with the receipt handle the mapping got (it may be in flight), drain anything still visible.
        sb._ctl("POST", "/lambda", dict(old, esm_enabled=False))
        time.sleep(2)   # a poll under way (1 s long poll + invoke) ends first
        for inv in sb._ctl("GET", "/lambda")["esm_invokes"]:
            for mid, body in zip(inv.get("message_ids", ()), inv.get("bodies", ())):
                if json.loads(body) == payload and mid not in inv["deleted"]:
                    try:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=inv["receipt_handles"][mid])
                    except sqs.exceptions.ClientError:
                        pass   # already deleted or re-received meanwhile: drained below
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []):
            if json.loads(m["Body"]) == payload:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        sb._ctl("POST", "/lambda", {"esm_enabled": before["config"]["esm_enabled"]})
