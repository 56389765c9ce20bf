"""infra/ecs-gate-service-example.yaml: the service side of hookline's ECS gate mode (issue 23).

Checks what cfn-lint and checkov cannot: the service runs ECS's own LINEAR steps with the hookline hook
at PRE_PRODUCTION_TRAFFIC_SHIFT only (gate mode's stage), the optional PAUSE hook is a PAUSE hook at a
stage ECS allows it, the rest of the wiring is the blue/green example's, and the plan in SSM is a
`mode: gate` plan that `hookline plan validate --service-config` accepts against the service this
template describes (its approval at a weight ECS reaches under every allowed StepPercent)."""

import json
import os
import re
import subprocess

import pytest

from conftest import ROOT, load_template

NAME = "ecs-gate-service-example.yaml"
BIN = ROOT / "target" / "debug" / "hookline"
HOOK_ARN = "arn:aws:lambda:us-east-1:123456789012:function:hookline-hook"


@pytest.fixture(scope="module")
def t():
    return load_template(NAME)


def test_the_service_takes_ecs_s_linear_steps_with_hookline_before_each(t):
    svc = t["Resources"]["Service"]["Properties"]
    assert svc["DeploymentController"] == {"Type": "ECS"}
    dc = svc["DeploymentConfiguration"]
    assert dc["Strategy"] == "LINEAR"
    assert dc["LinearConfiguration"] == {"StepPercent": {"Ref": "StepPercent"},
                                         "StepBakeTimeInMinutes": {"Ref": "StepBakeTimeInMinutes"}}
    hook, pause = dc["LifecycleHooks"]
    # gate mode: the hook at PRE_PRODUCTION_TRAFFIC_SHIFT only (POST_ stages are refused under LINEAR)
    assert hook["LifecycleStages"] == ["PRE_PRODUCTION_TRAFFIC_SHIFT"]
    assert hook["HookTargetArn"]["Fn::Sub"].endswith(":function:${HookFunctionName}")
    assert hook["RoleArn"] == {"Fn::GetAtt": ["HookInvokeRole", "Arn"]}
    assert hook["TimeoutConfiguration"] == {"TimeoutInMinutes": {"Ref": "HookTimeoutInMinutes"}, "Action": "ROLLBACK"}
    # the optional PAUSE hook: only with PauseAfterTestTraffic=true, never at a *_TRAFFIC_SHIFT stage
    # ("PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages")
    condition, with_pause, without = pause["Fn::If"]
    assert condition == "WithPause" and without == {"Ref": "AWS::NoValue"}
    assert t["Conditions"]["WithPause"] == {"Fn::Equals": [{"Ref": "PauseAfterTestTraffic"}, "true"]}
    assert t["Parameters"]["PauseAfterTestTraffic"]["Default"] == "false"
    assert with_pause["TargetType"] == "PAUSE" and "HookTargetArn" not in with_pause
    assert with_pause["LifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"]


def test_the_load_balancer_wiring_is_the_blue_green_example_s(t):
    native = load_template("ecs-native-service-example.yaml")
    for name in ("ProductionListenerRule", "TestListenerRule", "HookInvokeRole", "LoadBalancerInfrastructureRole",
                 "BlueTargetGroup", "GreenTargetGroup", "ServerErrorsAlarm"):
        assert t["Resources"][name] == native["Resources"][name], name
    assert t["Resources"]["Service"]["Properties"]["LoadBalancers"] == \
        native["Resources"]["Service"]["Properties"]["LoadBalancers"]


def plan_text(t, step_percent):
    """The plan parameter's value as CloudFormation writes it for ``step_percent``."""
    value = t["Resources"]["Plan"]["Properties"]["Value"]["Fn::Sub"]
    assert set(re.findall(r"\$\{(\w+)\}", value)) == {"ServerErrorsAlarm", "StepPercent"}
    return value.replace("${ServerErrorsAlarm}", "api-5xx").replace("${StepPercent}", str(step_percent))


def service_config(step_percent, hook_timeout=1440):
    """`aws ecs describe-services` of the service the template creates (defaults, pause on)."""
    return {"services": [{"serviceName": "api", "deploymentConfiguration": {
        "strategy": "LINEAR",
        "linearConfiguration": {"stepPercent": float(step_percent), "stepBakeTimeInMinutes": 5},
        "bakeTimeInMinutes": 15,
        "lifecycleHooks": [
            {"hookTargetArn": HOOK_ARN, "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
             "timeoutConfiguration": {"timeoutInMinutes": hook_timeout, "action": "ROLLBACK"}},
            {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
             "timeoutConfiguration": {"timeoutInMinutes": 120, "action": "ROLLBACK"}}]}}]}


def test_the_plan_is_a_gate_plan_where_the_hook_reads_it(t):
    plan = t["Resources"]["Plan"]["Properties"]
    assert plan["Name"] == {"Fn::Sub": "${PlanParameterPrefix}/ecs/${Cluster}/${AppName}"}
    doc = json.loads(plan_text(t, 25))
    assert doc["mode"] == "gate"
    assert all(set(s) == {"approval"} for s in doc["steps"]), "gate steps are approvals only"


def validate(tmp_path, plan, config):
    (tmp_path / "plan.json").write_text(plan)
    (tmp_path / "service.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([BIN, "plan", "validate", "--controller", "ecs", "--service-config",
                           str(tmp_path / "service.json"), str(tmp_path / "plan.json")],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(not BIN.exists(), reason="target/debug/hookline not built (cargo build -p hookline-cli)")
def test_the_plan_validates_against_the_service_for_every_allowed_step(t, tmp_path):
    for step in t["Parameters"]["StepPercent"]["AllowedValues"]:
        r = validate(tmp_path, plan_text(t, step), service_config(step))
        assert r.returncode == 0 and "valid for ECS" in r.stdout, (step, r.stdout + r.stderr)
    # the check can fail: an approval at a weight ECS never reaches, a budget over the hook's timeout
    wrong = validate(tmp_path, plan_text(t, 25), service_config(20))
    assert wrong.returncode == 1 and "steps[0].approval.after_weight: one of 0, 20, 40, 60, 80" in wrong.stdout, \
        wrong.stdout
    short = validate(tmp_path, plan_text(t, 25), service_config(25, hook_timeout=60))
    assert short.returncode == 1 and "hook_budget" in short.stdout, short.stdout
