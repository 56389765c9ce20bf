"""The Python 3.11 + boto3 baseline of hookline's `hook` function, for `make bench`.

What a team would write instead of the Rust hook: the same clients built at import
(cold start pays for them, as in the Rust binary's `main`), the same event validation
(`InvalidInput` naming the field), the same first AWS calls (resolve the deployment, load
the plan, start the state machine execution) and the same failure path (report the hook
`Failed` to CodeDeploy, then fail). Run under `awslambdaric` against the bench's Runtime
API harness: `python -m awslambdaric handler.handler`.

It is a baseline for cold start and memory, not a second implementation: the plan is
passed through unparsed and the blue/green resolution is simplified.
"""

import json
import os
import time

import boto3

# Built once per container, at import: what the Rust hook does in `main` (aws-config load +
# clients). The Rust binary builds six SDK clients (+ codedeploy/ecs/elbv2/sfn/cloudwatch/ssm);
# the hook itself calls codedeploy, stepfunctions, ssm and elbv2, so those four are built here.
codedeploy = boto3.client("codedeploy")
stepfunctions = boto3.client("stepfunctions")
ssm = boto3.client("ssm")
elbv2 = boto3.client("elbv2")

CANARY_STATE_MACHINE_ARN = os.environ.get("CANARY_STATE_MACHINE_ARN", "")
POST_TRAFFIC_STATE_MACHINE_ARN = os.environ.get("POST_TRAFFIC_STATE_MACHINE_ARN", "")
PLAN_PARAMETER_PREFIX = os.environ.get("PLAN_PARAMETER_PREFIX", "/hookline")


class InvalidInput(Exception):
    """errorType `InvalidInput`, as the Rust functions answer (awslambdaric uses the class name)."""


def _kind(value):
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _field(event, name):
    value = event.get(name, "")
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: invalid type: {_kind(value)}, expected a string")
    return value


def handler(event, context):
    if not isinstance(event, dict):
        raise InvalidInput(f"event: a JSON object, got {_kind(event)}")
    deployment_id = _field(event, "DeploymentId")
    execution_id = _field(event, "LifecycleEventHookExecutionId")
    if not deployment_id or not execution_id:
        field = "DeploymentId" if not deployment_id else "LifecycleEventHookExecutionId"
        raise InvalidInput(f"{field}: a non-empty string")
    try:
        return _start(deployment_id, execution_id)
    except InvalidInput:
        raise
    except Exception:
        # A hook nobody answers stalls the deployment for an hour: report Failed at once.
        try:
            codedeploy.put_lifecycle_event_hook_execution_status(
                deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status="Failed")
        except Exception:
            pass
        raise


def _start(deployment_id, execution_id):
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    application, group_name = info["applicationName"], info["deploymentGroupName"]
    group = codedeploy.get_deployment_group(applicationName=application,
                                            deploymentGroupName=group_name)["deploymentGroupInfo"]
    pair = group["loadBalancerInfo"]["targetGroupPairInfoList"][0]
    service = group["ecsServices"][0]
    target = codedeploy.get_deployment_target(
        deploymentId=deployment_id,
        targetId=f"{service['clusterName']}:{service['serviceName']}")["deploymentTarget"]["ecsTarget"]
    event = next((e["lifecycleEventName"] for e in target.get("lifecycleEvents", [])
                  if e.get("status") == "InProgress"), None)
    if event not in ("BeforeAllowTraffic", "AfterAllowTraffic"):
        raise InvalidInput(f"lifecycle event: hookline answers BeforeAllowTraffic and AfterAllowTraffic; "
                           f"the event in progress is {event or 'none'}")
    names = [t["name"] for t in pair["targetGroups"]]
    groups = elbv2.describe_target_groups(Names=names)["TargetGroups"]
    context = {
        "deployment_id": deployment_id, "application": application, "deployment_group": group_name,
        "cluster": service["clusterName"], "service": service["serviceName"],
        "prod_listener_arn": pair["prodTrafficRoute"]["listenerArns"][0],
        "target_groups": {g["TargetGroupName"]: g["TargetGroupArn"] for g in groups},
        "hook": {"kind": "codedeploy", "event": event, "execution_id": execution_id},
    }
    name = f"{PLAN_PARAMETER_PREFIX.rstrip('/')}/{application}/{group_name}"
    plan = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    arn = CANARY_STATE_MACHINE_ARN if event == "BeforeAllowTraffic" else POST_TRAFFIC_STATE_MACHINE_ARN
    started = stepfunctions.start_execution(
        stateMachineArn=arn, name=f"{deployment_id}-{event}"[:80],
        input=json.dumps({"context": context, "plan": plan,
                          "state": {"index": 0, "weight": 0 if event == "BeforeAllowTraffic" else 100,
                                    "started_at": int(time.time())}}))
    return {"execution_arn": started["executionArn"], "state_machine_arn": arn, "event": event,
            "already_started": False}
