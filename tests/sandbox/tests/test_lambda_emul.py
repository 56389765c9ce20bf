"""Lambda's own behaviour in the sandbox (sim/lambda_emul.py): template parsing, function timeouts,
async retries and duplicates, the dead-letter queue, the SQS event source mapping, and the router's
Lambda Invoke path and /_sandbox/lambda control API. Functions are fakes (no cargo-lambda); SQS is
the session's moto server."""
import json
import threading
import time
import uuid

import boto3
import pytest
import requests

from sim import lambda_emul
from sim.lambda_emul import LambdaConfig, LambdaEmulator, batch_failures, load_template


class FakeFunctions:
    """The backend: behaviour per function = "ok" | "error" | seconds to sleep (float) | callable(payload)."""

    def __init__(self, **behaviour):
        self.behaviour = behaviour
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, fn, payload):
        with self.lock:
            self.calls.append((fn, payload, time.time()))
        b = self.behaviour.get(fn, "ok")
        if callable(b):
            return b(payload)
        if isinstance(b, float):
            time.sleep(b)
            b = "ok"
        h = {"Content-Type": "application/json"}
        if b == "error":
            h["X-Amz-Function-Error"] = "Unhandled"
            return 200, h, json.dumps({"errorType": "HookFailed", "errorMessage": "boom " + "x" * 2000}).encode()
        return 200, h, b'{"ok": true}'

    def count(self, fn):
        with self.lock:
            return sum(1 for c in self.calls if c[0] == fn)


def fixture_template(tmp_path, queue, visibility=1):
    text = f"""
Globals:
  Function:
    Timeout: 2
Resources:
  Failures:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub ${{NamePrefix}}-{queue}
      VisibilityTimeout: {visibility}
  HookFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${{NamePrefix}}-hook
      CodeUri: ../target/lambda/hook/bootstrap.zip
      DeadLetterQueue: {{Type: SQS, TargetArn: !GetAtt Failures.Arn}}
      EventInvokeConfig: {{MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 900}}
  NoRetryFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${{NamePrefix}}-noretry
      EventInvokeConfig: {{MaximumRetryAttempts: 0}}
  RollbackFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${{NamePrefix}}-rollback
      CodeUri: ../target/lambda/rollback/bootstrap.zip
      Timeout: 5
      Events:
        HookFailures:
          Type: SQS
          Properties:
            Queue: !GetAtt Failures.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub ${{NamePrefix}}-plain
  PlainMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Failures.Arn
      FunctionName: !Ref Plain
      BatchSize: 3
      Enabled: false
"""
    p = tmp_path / "template.yaml"
    p.write_text(text)
    return load_template(str(p))


def wait_until(pred, timeout=10.0, period=0.02):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(period)
    raise AssertionError("condition not met in time")


def record(emu, eid):
    with emu.lock:
        return emu.events[eid]


def settled(emu, eid):
    return record(emu, eid)["status"] not in ("queued",)


@pytest.fixture
def sqs(moto_url):
    return boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")


# ----------------------------------------------------------------------------- template
def test_real_template_timeouts_dead_letter_queue_and_retries():
    spec = load_template()
    t = {n: f.timeout_s for n, f in spec.functions.items()}
    assert t == {"hook": 30, "register-taskdef": 60, "shift-weight": 30, "validate-health": 60,
                 "finalize": 30, "rollback": 60}
    hook = spec.functions["hook"]
    assert hook.dead_letter_queue == "hookline-hook-failures"
    assert (hook.max_retry_attempts, hook.max_event_age_s) == (2, 900)
    assert spec.queues["hookline-hook-failures"].attributes["MessageRetentionPeriod"] == "1209600"
    for m in spec.mappings:   # once H-hook's mapping is in the template: rollback consumes the DLQ
        assert m.queue == "hookline-hook-failures" and m.function == "rollback"


def test_fixture_template_sam_and_cfn_event_source_mappings(tmp_path):
    spec = fixture_template(tmp_path, "q1")
    assert spec.functions["hook"].timeout_s == 2 and spec.functions["rollback"].timeout_s == 5
    assert spec.functions["plain"].timeout_s == 3   # AWS::Lambda::Function: no SAM Globals, AWS default
    sam, cfn = spec.mappings
    assert (sam.function, sam.queue, sam.batch_size, sam.report_batch_item_failures, sam.enabled) == \
        ("rollback", "hookline-q1", 5, True, True)
    assert (cfn.function, cfn.queue, cfn.batch_size, cfn.report_batch_item_failures, cfn.enabled) == \
        ("plain", "hookline-q1", 3, False, False)
    assert spec.queues["hookline-q1"].visibility_timeout_s == 1


def test_template_errors_name_the_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("""
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: f
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt NotAQueue.Arn}
  NotAQueue:
    Type: AWS::SNS::Topic
""")
    with pytest.raises(ValueError, match=r"F\.DeadLetterQueue: NotAQueue is not an AWS::SQS::Queue"):
        load_template(str(p))


def test_config_knobs_validate_and_name_the_field():
    cfg = LambdaConfig(async_retries=2)
    with pytest.raises(ValueError, match="async_retries must be >= 0"):
        cfg.update({"async_retries": -1})
    with pytest.raises(ValueError, match="async_duplicates must be a whole number"):
        cfg.update({"async_duplicates": 1.5})
    with pytest.raises(ValueError, match=r"unknown knob\(s\) \['retries'\]"):
        cfg.update({"retries": 1})
    with pytest.raises(ValueError, match="function_timeout_scale must be a number"):
        cfg.update({"async_retries": 0, "function_timeout_scale": "fast"})
    assert cfg.async_retries == 2   # nothing changed by a rejected update
    cfg.update({"async_retries": 0, "function_timeout_scale": 0.5})
    assert (cfg.async_retries, cfg.function_timeout_scale) == (0, 0.5)


# ----------------------------------------------------------------------------- timeouts
def test_function_timeout_answers_sandbox_timedout(tmp_path):
    spec = fixture_template(tmp_path, "q2")
    fake = FakeFunctions(hook=1.5)
    emu = LambdaEmulator(fake, spec=spec, config=LambdaConfig(function_timeout_scale=0.1))   # 2 s -> 0.2 s
    t0 = time.time()
    status, headers, body = emu.invoke("hook", b"{}")
    took = time.time() - t0
    assert status == 200 and headers["X-Amz-Function-Error"] == "Unhandled"
    doc = json.loads(body)
    assert doc["errorType"] == "Sandbox.Timedout"
    assert doc["errorMessage"] == f"RequestId: {headers['x-amzn-RequestId']} Error: Task timed out after 0.20 seconds"
    assert 0.2 <= took < 1.0
    # in time: the function's own answer
    emu.cfg.update({"function_timeout_scale": 1.0})
    assert emu.invoke("hook", b"{}")[2] == b'{"ok": true}'
    # the warm-up path is exempt; functions outside the template have no limit
    emu.cfg.update({"function_timeout_scale": 0.1})
    assert emu.invoke("hook", b"{}", enforce_timeout=False)[2] == b'{"ok": true}'
    fake.behaviour["stub"] = 0.3
    assert emu.invoke("stub", b"{}")[2] == b'{"ok": true}'


def test_latency_fault_counts_against_the_timeout(tmp_path):
    spec = fixture_template(tmp_path, "q3")
    faults = [{"kind": "latency", "latency_ms": 800}]
    emu = LambdaEmulator(FakeFunctions(), take_fault=lambda fn: faults.pop() if faults else None, spec=spec,
                         config=LambdaConfig(function_timeout_scale=0.25))   # 0.5 s
    assert json.loads(emu.invoke("hook", b"{}")[2])["errorType"] == "Sandbox.Timedout"
    assert emu.invoke("hook", b"{}")[2] == b'{"ok": true}'


# ----------------------------------------------------------------------------- async
def test_async_answers_202_at_once_and_retries_a_function_error_twice_with_growing_delays(tmp_path):
    spec = fixture_template(tmp_path, "q4")
    fake = FakeFunctions(hook="error")
    emu = LambdaEmulator(fake, spec=spec, config=LambdaConfig(async_retry_delay_s=0.2))
    t0 = time.time()
    status, headers, body = emu.invoke("hook", b'{"DeploymentId": "d-1"}', "Event")
    assert status == 202 and body == b"" and time.time() - t0 < 0.1
    eid = next(iter(emu.events))
    wait_until(lambda: settled(emu, eid))
    ev = record(emu, eid)
    assert [d["kind"] for d in ev["deliveries"]] == ["first", "retry", "retry"]
    assert all(d["outcome"] == "function_error" and d["error_type"] == "HookFailed" for d in ev["deliveries"])
    times = [c[2] for c in fake.calls]
    assert len(times) == 3
    gap1, gap2 = times[1] - times[0], times[2] - times[1]
    assert 0.2 <= gap1 < 0.35 and 0.4 <= gap2 < 0.6   # 1 x delay, then 2 x delay (AWS: 1 min, 2 min)
    assert ev["status"] == "discarded"   # no SQS client here: nowhere to dead-letter it


def test_async_retries_capped_by_maximum_retry_attempts_and_knob(tmp_path):
    spec = fixture_template(tmp_path, "q5")
    fake = FakeFunctions(noretry="error", hook="error")
    emu = LambdaEmulator(fake, spec=spec, config=LambdaConfig(async_retry_delay_s=0.01))
    e1 = emu.submit_async("noretry", b"{}")
    wait_until(lambda: settled(emu, e1))
    assert fake.count("noretry") == 1 and record(emu, e1)["status"] == "discarded"
    emu.cfg.update({"async_retries": 1})
    e2 = emu.submit_async("hook", b"{}")
    wait_until(lambda: record(emu, e2)["status"] != "queued")
    assert fake.count("hook") == 2


def test_async_success_is_not_retried_and_duplicates_deliver_it_again(tmp_path):
    spec = fixture_template(tmp_path, "q6")
    fake = FakeFunctions()
    emu = LambdaEmulator(fake, spec=spec, config=LambdaConfig(async_duplicates=2, async_duplicate_delay_s=0.05))
    eid = emu.submit_async("hook", b'{"a": 1}')
    wait_until(lambda: len(record(emu, eid)["deliveries"]) == 3)
    time.sleep(0.2)
    ev = record(emu, eid)
    assert [d["kind"] for d in ev["deliveries"]] == ["first", "duplicate", "duplicate"]
    assert ev["status"] == "succeeded" and fake.count("hook") == 3
    assert {c[1] for c in fake.calls} == {b'{"a": 1}'}
    emu.cfg.update({"async_duplicates": 0})
    e2 = emu.submit_async("hook", b"{}")
    wait_until(lambda: settled(emu, e2))
    time.sleep(0.2)
    assert len(record(emu, e2)["deliveries"]) == 1


def test_a_permanent_crash_fault_fails_every_delivery_and_the_function_never_runs(tmp_path):
    spec = fixture_template(tmp_path, "q7")
    fake = FakeFunctions()
    taken = []

    def take(fn):
        taken.append(fn)
        return {"kind": "crash", "error_type": None, "message": None} if fn == "hook" else None

    emu = LambdaEmulator(fake, take_fault=take, spec=spec, config=LambdaConfig(async_retry_delay_s=0.01))
    eid = emu.submit_async("hook", b"{}")
    wait_until(lambda: settled(emu, eid))
    ev = record(emu, eid)
    assert [d["outcome"] for d in ev["deliveries"]] == ["crash"] * 3
    assert ev["deliveries"][0]["error_type"] == "Runtime.ExitError"
    assert taken == ["hook"] * 3 and fake.count("hook") == 0
    # redelivery goes through the fault too
    assert emu.redeliver(eid)["outcome"] == "crash" and taken == ["hook"] * 4


def test_redeliver_replays_a_recorded_event_now(tmp_path):
    spec = fixture_template(tmp_path, "q8")
    fake = FakeFunctions()
    emu = LambdaEmulator(fake, spec=spec)
    eid = emu.submit_async("hook", b'{"x": 2}')
    wait_until(lambda: settled(emu, eid))
    d = emu.redeliver(eid)
    assert d["kind"] == "redeliver" and d["n"] == 2 and d["outcome"] == "ok"
    assert [c[1] for c in fake.calls] == [b'{"x": 2}', b'{"x": 2}']
    with pytest.raises(KeyError):
        emu.redeliver("nope")


# ----------------------------------------------------------------------------- dead-letter queue
def test_failed_event_lands_in_the_dead_letter_queue_with_the_documented_attributes(tmp_path, sqs):
    q = "dlq-" + uuid.uuid4().hex[:8]
    spec = fixture_template(tmp_path, q)
    emu = LambdaEmulator(FakeFunctions(hook="error"), sqs=sqs, spec=spec,
                         config=LambdaConfig(async_retry_delay_s=0.01))
    payload = b'{"DeploymentId": "d-ABC", "LifecycleEventHookExecutionId": "eid=="}'
    eid = emu.submit_async("hook", payload)
    wait_until(lambda: record(emu, eid)["status"] == "dead-lettered")
    url = sqs.get_queue_url(QueueName=f"hookline-{q}")["QueueUrl"]
    msgs = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert len(msgs) == 1
    m = msgs[0]
    assert m["Body"] == payload.decode()
    a = m["MessageAttributes"]
    assert a["RequestID"] == {"StringValue": record(emu, eid)["request_id"], "DataType": "String"}
    assert a["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert a["ErrorMessage"]["StringValue"].startswith("boom xxx")
    assert len(a["ErrorMessage"]["StringValue"].encode()) == 1024
    sends = emu.snapshot()["dlq_sends"]
    assert sends[-1]["event_id"] == eid and sends[-1]["result"] == "sent" and sends[-1]["queue"] == f"hookline-{q}"


# ----------------------------------------------------------------------------- event source mapping
def _send(sqs, queue, bodies):
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    for b in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=b, MessageAttributes={
            "RequestID": {"DataType": "String", "StringValue": "r-1"}})
    return url


def _visible(sqs, url):
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_event_source_mapping_sends_the_sqs_event_and_deletes_the_batch(tmp_path, sqs):
    q = "esm-" + uuid.uuid4().hex[:8]
    spec = fixture_template(tmp_path, q)
    seen = []

    def rollback(payload):
        seen.append(json.loads(payload))
        return 200, {}, b'{"batchItemFailures": []}'

    emu = LambdaEmulator(FakeFunctions(rollback=rollback), sqs=sqs, spec=spec)
    emu._queue_url(f"hookline-{q}")
    url = _send(sqs, f"hookline-{q}", ['{"DeploymentId": "d-1"}', '{"DeploymentId": "d-2"}'])
    rec = emu.poll_once(spec.mappings[0], wait_s=1)
    assert rec["outcome"] == "ok" and len(rec["deleted"]) == 2 and rec["kept"] == []
    records = seen[0]["Records"]
    assert [json.loads(r["body"])["DeploymentId"] for r in records] == ["d-1", "d-2"]
    r = records[0]
    assert set(r) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                      "eventSource", "eventSourceARN", "awsRegion"}
    assert r["eventSource"] == "aws:sqs" and r["eventSourceARN"] == f"arn:aws:sqs:us-east-1:123456789012:hookline-{q}"
    assert r["attributes"]["ApproximateReceiveCount"] == "1"
    assert r["messageAttributes"]["RequestID"] == {"stringValue": "r-1", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert _visible(sqs, url) == (0, 0)
    assert emu.poll_once(spec.mappings[0]) is None


def test_event_source_mapping_keeps_batch_item_failures_and_everything_on_a_function_error(tmp_path, sqs):
    q = "esm-" + uuid.uuid4().hex[:8]
    spec = fixture_template(tmp_path, q, visibility=1)
    answer = {}

    def rollback(payload):
        recs = json.loads(payload)["Records"]
        return answer["fn"](recs)

    emu = LambdaEmulator(FakeFunctions(rollback=rollback), sqs=sqs, spec=spec)
    emu._queue_url(f"hookline-{q}")
    url = _send(sqs, f"hookline-{q}", ["one", "two"])
    # partial: only the reported message stays (ReportBatchItemFailures)
    answer["fn"] = lambda recs: (200, {}, json.dumps({"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in recs if r["body"] == "two"]}).encode())
    rec = emu.poll_once(spec.mappings[0], wait_s=1)
    assert len(rec["deleted"]) == 1 and len(rec["kept"]) == 1
    assert _visible(sqs, url) == (0, 1)
    # a function error keeps the whole batch; the message comes back after the visibility timeout
    time.sleep(1.2)
    answer["fn"] = lambda recs: (200, {"X-Amz-Function-Error": "Unhandled"},
                                 b'{"errorType": "InvalidInput", "errorMessage": "no"}')
    rec = emu.poll_once(spec.mappings[0], wait_s=1)
    assert rec["outcome"] == "function_error" and rec["deleted"] == [] and len(rec["kept"]) == 1
    time.sleep(1.2)
    answer["fn"] = lambda recs: (200, {}, b"null")
    rec = emu.poll_once(spec.mappings[0], wait_s=1)
    assert rec["bodies"] == ["two"] and len(rec["deleted"]) == 1
    assert _visible(sqs, url) == (0, 0)


def test_batch_failures_rules():
    ids = ["a", "b"]
    assert batch_failures(b"", ids) == [] and batch_failures(b"null", ids) == [] and batch_failures(b"{}", ids) == []
    assert batch_failures(b'{"batchItemFailures": null}', ids) == []
    assert batch_failures(b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', ids) == ["b"]
    for bad in (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', b'{"batchItemFailures": [{"itemId": "a"}]}',
                b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', b"not json"):
        assert batch_failures(bad, ids) == ids


def test_the_poller_thread_drains_the_queue_into_the_function(tmp_path, sqs):
    q = "esm-" + uuid.uuid4().hex[:8]
    spec = fixture_template(tmp_path, q)
    fake = FakeFunctions()
    emu = LambdaEmulator(fake, sqs=sqs, spec=spec, config=LambdaConfig(esm_poll_wait_s=1)).start()
    try:
        lambda_emul.ensure_queue(sqs, spec.queues[f"hookline-{q}"])   # idempotent: the poller creates it too
        _send(sqs, f"hookline-{q}", ["x"])
        wait_until(lambda: fake.count("rollback") >= 1, timeout=10)
        assert fake.count("plain") == 0      # its mapping is Enabled: false
    finally:
        emu.stop()


# ----------------------------------------------------------------------------- through the router
def test_router_async_invoke_with_a_crash_fault_answers_202_and_fails_every_delivery(sandbox):
    sb, c, stub = sandbox
    r = requests.post(sb.url + "/_sandbox/lambda", json={"async_retry_delay_s": 0.05}, timeout=5)
    assert r.status_code == 200 and r.json()["config"]["async_retry_delay_s"] == 0.05
    c.crash("echo")   # permanent
    lam = boto3.client("lambda", endpoint_url=sb.url, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    out = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"n": 1}')
    assert out["StatusCode"] == 202 and "FunctionError" not in out

    def done():
        evs = requests.get(sb.url + "/_sandbox/lambda", timeout=5).json()["async_events"].get("echo") or []
        return evs and evs[0]["status"] != "queued" and evs[0]

    ev = wait_until(done, timeout=10)
    assert [d["outcome"] for d in ev["deliveries"]] == ["crash"] * 3
    assert c.faults()[0]["hits"] == 3
    assert ev["status"] == "discarded"      # echo has no dead-letter queue in the template
    # the control API: redeliver (through the fault) and knob validation
    r = requests.post(sb.url + "/_sandbox/lambda/redeliver", json={"event_id": ev["id"]}, timeout=10)
    assert r.status_code == 200 and r.json()["delivery"]["outcome"] == "crash"
    assert requests.post(sb.url + "/_sandbox/lambda/redeliver", json={"event_id": "nope"}, timeout=5).status_code == 404
    r = requests.post(sb.url + "/_sandbox/lambda", json={"async_retries": "many"}, timeout=5)
    assert r.status_code == 400 and "async_retries" in r.json()["error"]
    # a synchronous invoke still answers the crash itself
    c.clear_faults()
    c.crash("echo", count=1)
    err = lam.invoke(FunctionName="echo", Payload=b"{}")
    assert err["FunctionError"] == "Unhandled" and json.loads(err["Payload"].read())["errorType"] == "Runtime.ExitError"
    ok = lam.invoke(FunctionName="echo", Payload=b"{}")
    assert "FunctionError" not in ok


def test_router_function_timeout_from_the_template(sandbox):
    sb, c, stub = sandbox
    slow = {"hook": 1.0}
    orig = stub.handle

    def handle(fn, payload):
        if fn in slow:
            time.sleep(slow[fn])
            return 200, {"slow": True}
        return orig(fn, payload)

    stub.handle = handle
    requests.post(sb.url + "/_sandbox/lambda", json={"function_timeout_scale": 0.01}, timeout=5)   # 30 s -> 0.3 s
    lam = boto3.client("lambda", endpoint_url=sb.url, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    out = lam.invoke(FunctionName="hook", Payload=b"{}")
    doc = json.loads(out["Payload"].read())
    assert out["FunctionError"] == "Unhandled" and doc["errorType"] == "Sandbox.Timedout"
    assert doc["errorMessage"].endswith("Task timed out after 0.30 seconds")
    snap = requests.get(sb.url + "/_sandbox/lambda", timeout=5).json()
    assert snap["functions"]["hook"]["effective_timeout_s"] == pytest.approx(0.3)
    assert snap["functions"]["hook"]["dead_letter_queue"] == "hookline-hook-failures"


class RoleClient:
    """An SQS client standing for a function's role: records its calls, may deny them."""

    def __init__(self, sqs, fn, calls, deny=()):
        self.sqs, self.fn, self.calls, self.deny = sqs, fn, calls, deny

    def __getattr__(self, op):
        def call(**kw):
            self.calls.append((self.fn, op))
            if op in self.deny:
                from botocore.exceptions import ClientError
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": f"{self.fn} may not {op}"}}, op)
            return getattr(self.sqs, op)(**kw)
        return call


def test_dead_letter_send_and_event_source_polling_act_as_the_function_role(tmp_path, sqs):
    q = "role-" + uuid.uuid4().hex[:8]
    spec = fixture_template(tmp_path, q)
    calls, deny = [], {"rollback": ()}
    emu = LambdaEmulator(FakeFunctions(hook="error"), sqs=sqs, spec=spec, config=LambdaConfig(async_retries=0),
                         sqs_for=lambda fn: RoleClient(sqs, fn, calls, deny.get(fn, ())))
    eid = emu.submit_async("hook", b'{"a": 1}')
    wait_until(lambda: record(emu, eid)["status"] == "dead-lettered")
    assert calls == [("hook", "send_message")]
    rec = emu.poll_once(spec.mappings[0], wait_s=1)
    assert rec["bodies"] == ['{"a": 1}'] and len(rec["deleted"]) == 1
    assert calls[1:] == [("rollback", "get_queue_attributes"), ("rollback", "receive_message"),
                         ("rollback", "delete_message")]
    # a role without sqs:SendMessage: the event is lost (AWS: DeadLetterErrors), and says so
    deny["hook"] = ("send_message",)
    e2 = emu.submit_async("hook", b"{}")
    wait_until(lambda: record(emu, e2)["status"] == "dead-letter-error")
    assert "AccessDenied" in emu.snapshot()["dlq_sends"][-1]["result"]
    # a role without sqs:ReceiveMessage: the poller records the error and keeps trying
    deny["rollback"] = ("receive_message",)
    emu.cfg.update({"esm_poll_wait_s": 0})
    emu.start()
    try:
        wait_until(lambda: any(r.get("outcome") == "poll_error" for r in emu.snapshot()["esm_invokes"]))
    finally:
        emu.stop()
    err = [r for r in emu.snapshot()["esm_invokes"] if r.get("outcome") == "poll_error"]
    assert len(err) == 1 and "AccessDenied" in err[0]["error"]


def test_provisioning_creates_the_templates_lambda_queues_idempotently(sandbox):
    import provision
    sb, c, stub = sandbox
    first = provision.provision_lambda_queues(provision.clients(sb.url))
    assert set(first) == {"hookline-hook-failures"}
    assert first["hookline-hook-failures"]["arn"] == "arn:aws:sqs:us-east-1:123456789012:hookline-hook-failures"
    assert provision.provision_lambda_queues(provision.clients(sb.url)) == first
    attrs = c.client("sqs").get_queue_attributes(QueueUrl=first["hookline-hook-failures"]["url"],
                                                 AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    assert attrs["MessageRetentionPeriod"] == "1209600"


def test_an_event_older_than_its_maximum_age_is_not_retried(tmp_path):
    spec = fixture_template(tmp_path, "q9")
    spec.functions["hook"].max_event_age_s = 0.1   # the template says 900 s; AWS's minimum is 60 s
    fake = FakeFunctions(hook="error")
    emu = LambdaEmulator(fake, spec=spec, config=LambdaConfig(async_retry_delay_s=0.2))
    eid = emu.submit_async("hook", b"{}")
    wait_until(lambda: settled(emu, eid))
    assert fake.count("hook") == 1 and record(emu, eid)["status"] == "discarded"


def test_runtime_api_proxy_hands_the_function_timeout_as_the_deadline():
    """LAMBDA-DEADLINE: cargo-lambda answers invocation/next with Lambda-Runtime-Deadline-Ms 600000 (1970);
    through RuntimeApiProxy a template function gets now + its timeout, everything else passes as-is."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    seen = []

    class Upstream(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            seen.append((self.command, self.path, self.rfile.read(n) if n else b""))
            body = b'{"event": 1}'
            self.send_response(200 if self.command == "GET" else 202)
            self.send_header("Lambda-Runtime-Deadline-Ms", "600000")
            self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

    up = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    proxy = lambda_emul.RuntimeApiProxy(f"http://127.0.0.1:{up.server_address[1]}",
                                        {"hook": 30.0}.get).start()
    try:
        base = f"http://127.0.0.1:{proxy.port}"
        before = time.time()
        r = requests.get(base + "/.rt/hook/2018-06-01/runtime/invocation/next", timeout=5)
        assert r.json() == {"event": 1} and r.headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
        deadline = int(r.headers["Lambda-Runtime-Deadline-Ms"]) / 1000
        assert before + 30 <= deadline <= time.time() + 30, (before, deadline)
        # a function without a template timeout keeps cargo-lambda's header; responses pass unchanged
        r = requests.get(base + "/.rt/other/2018-06-01/runtime/invocation/next", timeout=5)
        assert r.headers["Lambda-Runtime-Deadline-Ms"] == "600000"
        r = requests.post(base + "/.rt/hook/2018-06-01/runtime/invocation/req-1/response", data=b'{"ok":1}', timeout=5)
        assert r.status_code == 202 and seen[-1] == ("POST", "/.rt/hook/2018-06-01/runtime/invocation/req-1/response",
                                                      b'{"ok":1}')
    finally:
        proxy.stop()
        up.shutdown()
        up.server_close()
