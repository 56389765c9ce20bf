"""The front router: call counting, fault injection per protocol, Lambda error
normalization, rpc-v2-cbor translation and the ALB data-plane emulation."""
import json
import time
from datetime import datetime, timezone

import boto3
import botocore.session
import cbor2
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import RpcV2CBORParser


def raw_client(sb, name, attempts=1):
    return boto3.client(name, endpoint_url=sb.url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}))


def test_throttle_query_protocol_counts_and_clears(sandbox):
    sb, c, stub = sandbox
    elb = raw_client(sb, "elbv2")
    lst = c.listener_arn(80)
    actions = elb.describe_listeners(ListenerArns=[lst])["Listeners"][0]["DefaultActions"]
    c.throttle("elasticloadbalancing", "ModifyListener", count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            elb.modify_listener(ListenerArn=lst, DefaultActions=actions)
        assert e.value.response["Error"]["Code"] == "Throttling"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    elb.modify_listener(ListenerArn=lst, DefaultActions=actions)  # fault used up
    assert c.faults() == []
    assert c.call_count("elasticloadbalancing", "ModifyListener") == 3
    # the SDK's standard retry mode treats it as throttling and retries through it
    c.throttle("elbv2", "ModifyListener", count=1)
    out = raw_client(sb, "elbv2", attempts=3).modify_listener(ListenerArn=lst, DefaultActions=actions)
    assert out["ResponseMetadata"]["RetryAttempts"] == 1


def test_throttle_json_and_permanent_error(sandbox):
    sb, c, stub = sandbox
    ecs = raw_client(sb, "ecs")
    c.throttle("ecs", "DescribeServices", count=1)
    with pytest.raises(ClientError) as e:
        ecs.describe_services(cluster="demo", services=["web"])
    assert e.value.response["Error"]["Code"] == "ThrottlingException"
    f = c.error("ecs", "DescribeServices", code="AccessDeniedException", status=400)
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            ecs.describe_services(cluster="demo", services=["web"])
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert c.faults()[0]["hits"] == 3
    c.clear_faults(f["id"])
    assert ecs.describe_services(cluster="demo", services=["web"])["services"][0]["serviceName"] == "web"
    # CodeDeploy (simulator) faults too
    c.throttle("codedeploy", "GetDeployment", count=1)
    with pytest.raises(ClientError) as e:
        raw_client(sb, "codedeploy").get_deployment(deploymentId="d-AAAAAAAAA")
    assert e.value.response["Error"]["Code"] == "ThrottlingException"


def test_latency_fault(sandbox):
    sb, c, stub = sandbox
    c.latency("ssm", "GetParameter", latency_ms=400, count=1)
    t0 = time.time()
    c.ssm.get_parameter(Name="/hookline/web/web-prod")
    assert time.time() - t0 >= 0.4
    t0 = time.time()
    c.ssm.get_parameter(Name="/hookline/web/web-prod")
    assert time.time() - t0 < 0.4


def test_lambda_function_error_crash_and_throttle(sandbox):
    sb, c, stub = sandbox
    lam = raw_client(sb, "lambda")
    ok = lam.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:echo", Payload=b'{"a": 1}')
    assert "FunctionError" not in ok and json.loads(ok["Payload"].read())["function"] == "echo"
    err = lam.invoke(FunctionName="boom", Payload=b"{}")
    assert err["StatusCode"] == 200 and err["FunctionError"] == "Unhandled"
    assert json.loads(err["Payload"].read())["errorType"] == "HealthCheckFailed"
    c.crash("echo", count=1)
    crash = lam.invoke(FunctionName="echo", Payload=b"{}")
    assert crash["FunctionError"] == "Unhandled"
    assert json.loads(crash["Payload"].read())["errorType"] == "Runtime.ExitError"
    c.throttle("lambda", "Invoke", count=1)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="echo", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert c.calls()["calls"]["lambda"]["Invoke"] == 4
    ev = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")
    assert ev["StatusCode"] == 202


def test_unhealthy_targets(sandbox):
    sb, c, stub = sandbox
    assert c.target_health("web-blue") == ["healthy", "healthy"]
    c.unhealthy("web-blue")
    assert c.target_health("web-blue") == ["unhealthy", "unhealthy"]
    status, body = c.alb(80, "/health")
    assert status == 503
    c.clear_faults()
    assert c.target_health("web-blue") == ["healthy", "healthy"]


def test_cbor_cloudwatch_like_rust_sdk(sandbox):
    sb, c, stub = sandbox
    c.set_alarm("web-5xx", "ALARM")
    r = requests.post(sb.url + "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
                      data=cbor2.dumps({"AlarmNames": ["web-5xx"]}), headers={
                          "Content-Type": "application/cbor", "Accept": "application/cbor",
                          "smithy-protocol": "rpc-v2-cbor",
                          "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/monitoring/aws4_request, "
                                           "SignedHeaders=host, Signature=0"})
    assert r.status_code == 200 and r.headers["smithy-protocol"] == "rpc-v2-cbor"
    doc = cbor2.loads(r.content)
    alarm = doc["MetricAlarms"][0]
    assert alarm["AlarmName"] == "web-5xx" and alarm["StateValue"] == "ALARM"
    # timestamps travel as CBOR tag 1 (epoch seconds): cbor2 decodes them to aware datetimes
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime) and r.content.find(b"\xc1") >= 0
    assert c.calls()["calls"]["monitoring"]["DescribeAlarms"] == 1
    c.throttle("cloudwatch", "DescribeAlarms", count=1)
    r = requests.post(sb.url + "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
                      data=cbor2.dumps({}), headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
    assert r.status_code == 400 and cbor2.loads(r.content)["__type"] == "ThrottlingException"


def test_cbor_codedeploy_timestamps_both_ways(sandbox):
    """A CBOR request with a timestamp (tag 1) reaches the simulator as epoch seconds, and its
    answer's timestamps go back as tag 1 — read here with botocore's own rpc-v2-cbor parser."""
    sb, c, stub = sandbox
    did = c.start_deployment("example/web:v2", hooks=())
    c.wait_for_status(did, "Succeeded", timeout=30)
    hdrs = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
            "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/codedeploy/aws4_request, "
                             "SignedHeaders=host, Signature=0"}
    base = sb.url + "/service/CodeDeploy_20141006/operation/"
    past = datetime(2020, 1, 1, tzinfo=timezone.utc)
    r = requests.post(base + "ListDeployments", headers=hdrs, data=cbor2.dumps(
        {"applicationName": "web", "createTimeRange": {"start": cbor2.CBORTag(1, past.timestamp())}}))
    assert r.status_code == 200, r.content
    assert cbor2.loads(r.content)["deployments"] == [did]
    r = requests.post(base + "ListDeployments", headers=hdrs, data=cbor2.dumps(
        {"applicationName": "web", "createTimeRange": {"end": cbor2.CBORTag(1, past.timestamp())}}))
    assert cbor2.loads(r.content)["deployments"] == []
    r = requests.post(base + "GetDeployment", headers=hdrs, data=cbor2.dumps({"deploymentId": did}))
    model = botocore.session.get_session().get_service_model("codedeploy")
    parsed = RpcV2CBORParser().parse({"body": r.content, "headers": dict(r.headers), "status_code": r.status_code},
                                     model.operation_model("GetDeployment").output_shape)
    info = parsed["deploymentInfo"]
    assert info["deploymentId"] == did and info["status"] == "Succeeded"
    assert isinstance(info["createTime"], datetime) and info["createTime"] > past
    r = requests.post(base + "GetDeployment", headers=hdrs, data=cbor2.dumps({"deploymentId": "d-NOTTHERE0"}))
    assert r.status_code == 400 and cbor2.loads(r.content)["__type"] == "DeploymentDoesNotExistException"


def test_alb_routing_weights_rules_and_bad_version(sandbox):
    sb, c, stub = sandbox
    tgs = {t["TargetGroupName"]: t["TargetGroupArn"] for t in c.elbv2.describe_target_groups()["TargetGroups"]}
    status, body = c.alb(80, "/")
    assert status == 200 and body["target_group"] == "web-blue" and body["version"] == "v1"
    # green with a bad image on the test listener: /health answers 500
    stub.modes["BeforeAllowTraffic"] = "ignore"
    did = c.start_deployment("example/web:v2-bad")
    c.wait_for_event(did, "BeforeAllowTraffic", "InProgress", timeout=20)
    status, body = c.alb(8080, "/health")
    assert status == 500 and body["version"] == "v2-bad" and body["target_group"] == "web-green"
    # weighted forward 90/10 on production, deterministic picks
    lst = c.listener_arn(80)
    c.elbv2.modify_listener(ListenerArn=lst, DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": tgs["web-blue"], "Weight": 90}, {"TargetGroupArn": tgs["web-green"], "Weight": 10}]}}])
    assert c.alb(80, "/", pick="0.05")[1]["target_group"] == "web-blue"
    assert c.alb(80, "/", pick="0.95")[1]["target_group"] == "web-green"
    assert c.alb(80, "/", pick="web-green")[0] == 500
    # a header rule sends the cohort to green
    c.elbv2.create_rule(ListenerArn=lst, Priority=10, Conditions=[
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Canary", "Values": ["internal"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": tgs["web-green"]}])
    status, body = c.alb(80, "/", headers={"X-Canary": "internal"}, pick="0.01")
    assert body["rule"] == "10" and body["target_group"] == "web-green"
    assert c.alb(80, "/", pick="0.01")[1]["rule"] == "default"
    # app traffic loop: bad version receiving production traffic -> web-5xx ALARM
    c.traffic(True, interval_ms=100)
    for _ in range(50):
        if c.alarm_state("web-5xx") == "ALARM":
            break
        time.sleep(0.1)
    assert c.alarm_state("web-5xx") == "ALARM"
    c.traffic(False)
    c.codedeploy.stop_deployment(deploymentId=did, autoRollbackEnabled=True)
    c.wait_for_status(did, "Stopped", timeout=20)


def test_servers_send_without_nagle_delay():
    """The router's and moto's handlers set TCP_NODELAY: http.server writes headers and body apart, and
    under Nagle the body waited for the client's delayed ACK (40 ms a call, measured: 48 ms median for a
    13 ms GetDeployment). AWS has no such stall; the sandbox must not add one to every call."""
    import runpy

    import router
    import werkzeug.serving

    assert router._Handler.disable_nagle_algorithm is True
    before = werkzeug.serving.WSGIRequestHandler.disable_nagle_algorithm
    try:
        werkzeug.serving.WSGIRequestHandler.disable_nagle_algorithm = False
        runpy.run_path(str(__import__("pathlib").Path(__file__).parent.with_name("moto_server.py")), run_name="not_main")
        assert werkzeug.serving.WSGIRequestHandler.disable_nagle_algorithm is True
    finally:
        werkzeug.serving.WSGIRequestHandler.disable_nagle_algorithm = before


def test_a_fault_with_a_caller_is_taken_only_by_that_callers_requests():
    """``caller``: a fault meant for a function's call (its role's key) is not taken by the same
    operation called by the operator (the CLI, a test harness) or by another function."""
    import awsproto
    from router import Faults

    def req(principal):
        r = awsproto.Req(service="ecs", operation="UpdateService", protocol="json")
        r.principal = principal
        return r

    faults = Faults()
    faults.add({"service": "ecs", "operation": "UpdateService", "kind": "throttle", "count": 1, "caller": "finalize"})
    assert faults.take(req({"operator": True, "name": "operator"})) is None
    assert faults.take(req({"function": "rollback", "role": "RollbackRole"})) is None
    assert faults.take(req(None)) is None
    taken = faults.take(req({"function": "finalize", "role": "FinalizeRole"}))
    assert taken and taken["caller"] == "finalize" and taken["kind"] == "throttle"
    assert faults.list() == []
    # "operator" names the public key's requests; no caller matches everyone
    faults.add({"service": "ecs", "kind": "error", "count": 1, "caller": "operator"})
    assert faults.take(req({"function": "finalize"})) is None
    assert faults.take(req({"operator": True, "name": "operator"}))["code"] is None
    faults.add({"service": "ecs", "kind": "throttle", "count": 1})
    assert faults.take(req(None))["kind"] == "throttle"
