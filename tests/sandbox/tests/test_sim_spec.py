"""Every response of the CodeDeploy simulator checked against botocore's CodeDeploy service model.

One scenario drives every ``op_*`` of the simulator (directly and through the router, hooks
included) while a recorder wraps ``CodeDeploySim.handle``; then each recorded answer is checked:
a success against the operation's output shape (known members only, required members present,
types, enum values, string lengths / number ranges, timestamps as epoch numbers, lists and maps),
an error's ``__type`` against the operation's modeled error shapes. Adding an ``op_*`` without
exercising it here fails ``test_every_operation_is_covered``.
"""
import json
import time

import botocore.session
import pytest

from sim.codedeploy.api import CodeDeploySim

MODEL = botocore.session.get_session().get_service_model("codedeploy")
SIM_OPS = sorted(n[3:] for n in dir(CodeDeploySim) if n.startswith("op_"))


# ---------------------------------------------------------------- shape checker
def shape_errors(shape, value, path="$"):
    """Where ``value`` (as it goes on the wire: JSON-decoded) breaks botocore ``shape``."""
    t = shape.type_name
    out = []
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, want object ({shape.name})"]
        for k in value:
            if k not in shape.members:
                out.append(f"{path}.{k}: not a member of {shape.name}")
        for k in shape.required_members:
            if k not in value:
                out.append(f"{path}.{k}: required member of {shape.name} missing")
        for k, v in value.items():
            if k in shape.members and v is not None:
                out += shape_errors(shape.members[k], v, f"{path}.{k}")
            elif k in shape.members:
                out.append(f"{path}.{k}: null (omit absent members)")
        return out
    if t == "list":
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, want list ({shape.name})"]
        out += _range(shape, len(value), path, "length")
        for i, v in enumerate(value):
            out += shape_errors(shape.member, v, f"{path}[{i}]")
        return out
    if t == "map":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, want map ({shape.name})"]
        for k, v in value.items():
            out += shape_errors(shape.key, k, f"{path}<key {k}>")
            out += shape_errors(shape.value, v, f"{path}[{k}]")
        return out
    if t == "string":
        if not isinstance(value, str):
            return [f"{path}: {value!r} is {type(value).__name__}, want string ({shape.name})"]
        if shape.enum and value not in shape.enum:
            out.append(f"{path}: {value!r} not in enum {shape.name} {shape.enum}")
        return out + _range(shape, len(value), path, "length")
    if t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: {value!r} is {type(value).__name__}, want {t} ({shape.name})"]
        return _range(shape, value, path, "value")
    if t in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return [f"{path}: {value!r} is {type(value).__name__}, want {t} ({shape.name})"]
        return []
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: {value!r}, want boolean ({shape.name})"]
    if t == "timestamp":
        # JSON 1.1 / rpc-v2-cbor timestamps are epoch seconds (a number), never strings
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return [f"{path}: {value!r} is {type(value).__name__}, want epoch-seconds timestamp ({shape.name})"]
        return []
    if t == "blob":
        return [] if isinstance(value, str) else [f"{path}: {value!r}, want base64 blob ({shape.name})"]
    return [f"{path}: unhandled shape type {t}"]


def _range(shape, n, path, what):
    m = shape.metadata
    out = []
    if "min" in m and n < m["min"]:
        out.append(f"{path}: {what} {n} < min {m['min']} ({shape.name})")
    if "max" in m and n > m["max"]:
        out.append(f"{path}: {what} {n} > max {m['max']} ({shape.name})")
    return out


def response_errors(op, status, out):
    om = MODEL.operation_model(op)
    wire = json.loads(json.dumps(out, default=str))   # what the router puts on the wire
    if status == 200:
        if om.output_shape is None:
            return [] if wire == {} else [f"{op}: no output shape, got {wire}"]
        return [f"{op}: {e}" for e in shape_errors(om.output_shape, wire)]
    modeled = {s.name for s in om.error_shapes}
    errs = []
    if status != 400:
        errs.append(f"{op}: error HTTP {status} (CodeDeploy's modeled errors are 400)")
    if wire.get("__type") not in modeled:
        errs.append(f"{op}: error {wire.get('__type')!r} is not one of the operation's modeled errors {sorted(modeled)}")
    if not isinstance(wire.get("message"), str):
        errs.append(f"{op}: error without a message: {wire}")
    return errs


def test_checker_catches_what_it_should():
    """The checker itself: each kind of break is reported (so a green run means something)."""
    bad = {"deploymentInfo": {"deploymentId": "d-1", "status": "Sleeping", "createTime": "2026-01-01",
                              "bogus": 1, "deploymentOverview": {"Pending": True},
                              "instanceTerminationWaitTimeStarted": "yes",
                              "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": None}}}}
    errs = "\n".join(response_errors("GetDeployment", 200, bad))
    for needle in ("'Sleeping' not in enum", "createTime: '2026-01-01' is str", ".bogus: not a member",
                   "Pending: True is bool", "instanceTerminationWaitTimeStarted: 'yes'", "sha256: null"):
        assert needle in errs, errs
    # no CodeDeploy output shape has required members; an input shape shows the check works
    assert "required member" in "\n".join(shape_errors(MODEL.operation_model("CreateDeployment").input_shape, {}))
    assert "not one of the operation's modeled errors" in \
        "\n".join(response_errors("GetDeployment", 400, {"__type": "ResourceNotFoundException", "message": "x"}))
    assert response_errors("GetDeployment", 400, {"__type": "DeploymentDoesNotExistException", "message": "x"}) == []


# ---------------------------------------------------------------- the scenario
@pytest.fixture
def recorded(sandbox):
    """The sandbox with every simulator answer recorded as (op, body, status, out)."""
    sb, c, stub = sandbox
    records = []
    real = sb.sim.handle

    def handle(op, body):
        status, out = real(op, body)
        records.append((op, json.loads(json.dumps(body or {})), status, json.loads(json.dumps(out, default=str))))
        return status, out

    sb.sim.handle = handle
    yield sb, c, stub, records, handle


def _group_body(app, name, service="spec-svc", **over):
    b = {"applicationName": app, "deploymentGroupName": name,
         "serviceRoleArn": "arn:aws:iam::123456789012:role/cd",
         "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
         "ecsServices": [{"serviceName": service, "clusterName": "demo"}],
         "loadBalancerInfo": {"targetGroupPairInfoList": [{
             "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
             "prodTrafficRoute": {"listenerArns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/x/1/2"]}}]},
         "blueGreenDeploymentConfiguration": {
             "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 5}},
         "tags": [{"Key": "k", "Value": "v"}]}
    b.update(over)
    return b


def _run_scenario(sb, c, stub, call):
    """Exercise every operation, successes and errors. ``call(op, body)`` -> (status, out)."""
    def ok(op, body):
        status, out = call(op, body)
        assert status == 200, (op, body, out)
        return out

    def err(op, body, code):
        status, out = call(op, body)
        assert (status, out.get("__type")) == (400, code), (op, body, status, out)

    # applications
    ok("CreateApplication", {"applicationName": "spec", "computePlatform": "ECS"})
    err("CreateApplication", {"applicationName": "spec", "computePlatform": "ECS"}, "ApplicationAlreadyExistsException")
    err("CreateApplication", {}, "ApplicationNameRequiredException")
    err("CreateApplication", {"applicationName": "x", "computePlatform": "Mainframe"}, "InvalidComputePlatformException")
    ok("GetApplication", {"applicationName": "spec"})
    err("GetApplication", {"applicationName": "nope"}, "ApplicationDoesNotExistException")
    ok("BatchGetApplications", {"applicationNames": ["spec", "web"]})
    ok("ListApplications", {})
    # deployment configs
    ok("CreateDeploymentConfig", {"deploymentConfigName": "SpecCanary", "computePlatform": "ECS",
                                  "trafficRoutingConfig": {"type": "TimeBasedCanary",
                                                           "timeBasedCanary": {"canaryPercentage": 20, "canaryInterval": 1}}})
    err("CreateDeploymentConfig", {"deploymentConfigName": "SpecCanary"}, "DeploymentConfigAlreadyExistsException")
    err("CreateDeploymentConfig", {}, "DeploymentConfigNameRequiredException")
    err("CreateDeploymentConfig", {"deploymentConfigName": "Bad", "trafficRoutingConfig": {"type": "Sometimes"}},
        "InvalidTrafficRoutingConfigurationException")
    ok("GetDeploymentConfig", {"deploymentConfigName": "SpecCanary"})
    ok("GetDeploymentConfig", {"deploymentConfigName": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"})
    err("GetDeploymentConfig", {"deploymentConfigName": "Nope"}, "DeploymentConfigDoesNotExistException")
    # deployment groups
    ok("CreateDeploymentGroup", _group_body("spec", "spec-prod"))
    err("CreateDeploymentGroup", _group_body("spec", "spec-prod"), "DeploymentGroupAlreadyExistsException")
    err("CreateDeploymentGroup", _group_body("spec", "other", service="web"), "InvalidECSServiceException")
    err("CreateDeploymentGroup", _group_body("spec", "other", service="svc2", serviceRoleArn=None), "RoleRequiredException")
    err("CreateDeploymentGroup", _group_body("spec", "other", service="svc2", deploymentStyle={"deploymentType": "IN_PLACE"}),
        "InvalidDeploymentStyleException")
    err("CreateDeploymentGroup", _group_body("spec", "other", service="svc2", loadBalancerInfo={}), "InvalidLoadBalancerInfoException")
    err("CreateDeploymentGroup", _group_body("spec", "other", service="svc2", blueGreenDeploymentConfiguration={
        "terminateBlueInstancesOnDeploymentSuccess": {"terminationWaitTimeInMinutes": 5000}}),
        "InvalidBlueGreenDeploymentConfigurationException")
    err("CreateDeploymentGroup", _group_body("nope", "other"), "ApplicationDoesNotExistException")
    ok("GetDeploymentGroup", {"applicationName": "spec", "deploymentGroupName": "spec-prod"})
    err("GetDeploymentGroup", {"applicationName": "spec", "deploymentGroupName": "nope"}, "DeploymentGroupDoesNotExistException")
    ok("ListDeploymentGroups", {"applicationName": "spec"})
    ok("UpdateDeploymentGroup", {"applicationName": "spec", "currentDeploymentGroupName": "spec-prod",
                                 "newDeploymentGroupName": "spec-prod2", "deploymentConfigName": "SpecCanary"})
    ok("GetDeploymentGroup", {"applicationName": "spec", "deploymentGroupName": "spec-prod2"})
    err("UpdateDeploymentGroup", {"applicationName": "spec", "currentDeploymentGroupName": "nope"},
        "DeploymentGroupDoesNotExistException")
    ok("DeleteDeploymentGroup", {"applicationName": "spec", "deploymentGroupName": "spec-prod2"})
    ok("DeleteApplication", {"applicationName": "spec"})

    # deployments: a full one with every hook (reports through the router), then inspect it
    hooks = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
    c.config(termination_wait_s=60)
    did = c.start_deployment("example/web:spec1", hooks=hooks, description="spec run")
    for _ in range(200):
        if c.deployment(did).get("instanceTerminationWaitTimeStarted"):
            break
        time.sleep(0.1)
    ok("GetDeploymentTarget", {"deploymentId": did, "targetId": "demo:web"})
    ok("ContinueDeployment", {"deploymentId": did, "deploymentWaitType": "TERMINATION_WAIT"})
    c.wait_for_status(did, "Succeeded", timeout=30)
    c.config(termination_wait_s=0.5)
    ok("GetDeployment", {"deploymentId": did})
    ok("BatchGetDeployments", {"deploymentIds": [did, "d-NOTTHERE0"]})
    err("BatchGetDeployments", {"deploymentIds": [did] * 26}, "BatchLimitExceededException")
    ok("ListDeployments", {"applicationName": "web", "deploymentGroupName": "web-prod", "includeOnlyStatuses": ["Succeeded"]})
    ok("ListDeployments", {})
    err("ListDeployments", {"deploymentGroupName": "web-prod"}, "ApplicationNameRequiredException")
    ok("ListDeploymentTargets", {"deploymentId": did})
    ok("GetDeploymentTarget", {"deploymentId": did, "targetId": "demo:web"})
    err("GetDeploymentTarget", {"deploymentId": did, "targetId": "demo:nope"}, "DeploymentTargetDoesNotExistException")
    err("GetDeploymentTarget", {"deploymentId": did}, "DeploymentTargetIdRequiredException")
    ok("BatchGetDeploymentTargets", {"deploymentId": did, "targetIds": ["demo:web"]})
    info = ok("GetDeployment", {"deploymentId": did})["deploymentInfo"]
    ok("GetApplicationRevision", {"applicationName": "web", "revision": info["revision"]})
    err("GetApplicationRevision", {"applicationName": "web",
                                   "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "0" * 64}}},
        "RevisionDoesNotExistException")
    err("GetApplicationRevision", {"applicationName": "web"}, "RevisionRequiredException")
    ok("GetDeploymentGroup", {"applicationName": "web", "deploymentGroupName": "web-prod"})
    err("GetDeployment", {"deploymentId": "d-NOTTHERE0"}, "DeploymentDoesNotExistException")
    err("GetDeployment", {"deploymentId": "not-an-id"}, "InvalidDeploymentIdException")
    err("GetDeployment", {}, "DeploymentIdRequiredException")
    err("StopDeployment", {"deploymentId": did}, "DeploymentAlreadyCompletedException")
    err("ContinueDeployment", {"deploymentId": did, "deploymentWaitType": "LATER"}, "InvalidDeploymentWaitTypeException")
    err("CreateDeployment", {"applicationName": "web", "deploymentGroupName": "web-prod"}, "RevisionRequiredException")
    err("CreateDeployment", {"applicationName": "web", "deploymentGroupName": "web-prod", "revision": {
        "revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0\nResources: []\n"}}},
        "InvalidRevisionException")
    err("CreateDeployment", {"applicationName": "web", "deploymentGroupName": "nope", "revision": {
        "revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}}}, "DeploymentGroupDoesNotExistException")

    # a hook that fails: Failed deployment with diagnostics, a rollback deployment, hook-report errors
    stub.modes["BeforeAllowTraffic"] = "fail"
    d2 = c.start_deployment("example/web:spec2")
    failed = c.wait_for_status(d2, "Failed", timeout=30)
    rb = failed["rollbackInfo"]["rollbackDeploymentId"]
    c.wait_for_status(rb, "Succeeded", timeout=30)
    ok("GetDeployment", {"deploymentId": d2})
    ok("GetDeployment", {"deploymentId": rb})
    ok("GetDeploymentTarget", {"deploymentId": d2, "targetId": "demo:web"})
    eid = stub.calls[-1]["execution_id"]
    err("PutLifecycleEventHookExecutionStatus", {"deploymentId": d2, "lifecycleEventHookExecutionId": eid,
                                                 "status": "Succeeded"}, "LifecycleEventAlreadyCompletedException")
    err("PutLifecycleEventHookExecutionStatus", {"deploymentId": d2, "lifecycleEventHookExecutionId": eid,
                                                 "status": "Pending"}, "InvalidLifecycleEventHookExecutionStatusException")
    err("PutLifecycleEventHookExecutionStatus", {"deploymentId": d2, "lifecycleEventHookExecutionId": "bm9wZQ==",
                                                 "status": "Failed"}, "InvalidLifecycleEventHookExecutionIdException")
    err("PutLifecycleEventHookExecutionStatus", {"lifecycleEventHookExecutionId": eid, "status": "Failed"},
        "DeploymentIdRequiredException")
    err("StopDeployment", {"deploymentId": rb}, "DeploymentAlreadyCompletedException")

    # a hook nobody answers: TIMEOUT, the event's diagnostics
    stub.modes["BeforeAllowTraffic"] = "ignore"
    c.config(hook_timeout_s=0.5)
    d_to = c.start_deployment("example/web:spec-timeout")
    c.wait_for_status(d_to, "Failed", timeout=30)
    c.config(hook_timeout_s=30)
    ok("GetDeploymentTarget", {"deploymentId": d_to, "targetId": "demo:web"})
    ok("GetDeployment", {"deploymentId": d_to})

    # the ready wait (status Ready), ContinueDeployment(READY_WAIT), then a stop with rollback
    stub.modes.clear()
    ok("UpdateDeploymentGroup", {"applicationName": "web", "currentDeploymentGroupName": "web-prod",
                                 "blueGreenDeploymentConfiguration": {
                                     "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                                                  "terminationWaitTimeInMinutes": 0},
                                     "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT",
                                                               "waitTimeInMinutes": 5}}})
    d3 = c.start_deployment("example/web:spec3", hooks=())
    c.wait_for_status(d3, "Ready", timeout=30)
    ok("GetDeployment", {"deploymentId": d3})
    err("ContinueDeployment", {"deploymentId": d3, "deploymentWaitType": "TERMINATION_WAIT"}, "InvalidDeploymentStatusException")
    ok("ContinueDeployment", {"deploymentId": d3, "deploymentWaitType": "READY_WAIT"})
    c.wait_for_status(d3, "Succeeded", timeout=30)
    err("ContinueDeployment", {"deploymentId": d3, "deploymentWaitType": "READY_WAIT"}, "DeploymentAlreadyCompletedException")
    d4 = c.start_deployment("example/web:spec4", hooks=())
    c.wait_for_status(d4, "Ready", timeout=30)
    err("CreateDeployment", {"applicationName": "web", "deploymentGroupName": "web-prod", "revision": {
        "revisionType": "AppSpecContent", "appSpecContent": {"content": c.appspec(
            c.register_task_definition("example/web:spec5"), hooks=())}}}, "DeploymentLimitExceededException")
    ok("StopDeployment", {"deploymentId": d4, "autoRollbackEnabled": True})
    c.wait_for_status(d4, "Stopped", timeout=30)
    stopped = ok("GetDeployment", {"deploymentId": d4})["deploymentInfo"]
    # The stop's rollback is a deployment of its own: the group takes no new one until it ends.
    rollback_of_d4 = (stopped.get("rollbackInfo") or {}).get("rollbackDeploymentId")
    if rollback_of_d4:
        c.wait_for_status(rollback_of_d4, "Succeeded", timeout=30)
    d5 = c.start_deployment("example/web:spec6", hooks=())
    c.wait_for_status(d5, "Ready", timeout=30)
    ok("StopDeployment", {"deploymentId": d5, "autoRollbackEnabled": False})
    c.wait_for_status(d5, "Stopped", timeout=30)
    ok("GetDeploymentTarget", {"deploymentId": d5, "targetId": "demo:web"})
    ok("ListDeploymentTargets", {"deploymentId": d5})


def test_every_operation_is_covered_and_every_response_matches_the_botocore_model(recorded):
    sb, c, stub, records, handle = recorded
    _run_scenario(sb, c, stub, handle)
    ok_ops = {op for op, _, status, _ in records if status == 200}
    assert [op for op in SIM_OPS if op not in ok_ops] == [], "simulator operations never answered successfully here"
    assert [op for op in SIM_OPS if op not in MODEL.operation_names] == [], "op_* that botocore does not model"
    assert any(status != 200 for _, _, status, _ in records), "no error exercised"
    problems = []
    for op, body, status, out in records:
        problems += [f"{p}\n    request {json.dumps(body)[:200]}" for p in response_errors(op, status, out)]
    assert problems == [], "\n".join(problems)
