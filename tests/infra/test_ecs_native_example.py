"""infra/ecs-native-service-example.yaml: the service side of hookline's ECS-native mode (issue 11 D).

Checks what cfn-lint and checkov cannot: the service is wired the way hookline's hook expects it
(controller ECS, BLUE_GREEN, hooks at the two POST_ stages calling the hookline hook through a role
ECS assumes that can invoke only that function, advancedConfiguration with both rules and ECS's
load-balancer infrastructure role), the plan sits where the hook reads it, and that plan is valid for
ECS (and would not be for CodeDeploy: it needs ECS's longer hook budget)."""

import json
import os
import re
import subprocess

import pytest

from conftest import ROOT, load_template

NAME = "ecs-native-service-example.yaml"
BIN = ROOT / "target" / "debug" / "hookline"


@pytest.fixture(scope="module")
def t():
    return load_template(NAME)


def resources(t, kind):
    return {k: v for k, v in t["Resources"].items() if v["Type"] == kind}


def test_the_service_is_ecs_native_blue_green_with_hookline_at_both_post_stages(t):
    svc = t["Resources"]["Service"]["Properties"]
    assert svc["DeploymentController"] == {"Type": "ECS"}
    dc = svc["DeploymentConfiguration"]
    assert dc["Strategy"] == "BLUE_GREEN"
    [hook] = dc["LifecycleHooks"]
    assert hook["LifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]
    assert hook["HookTargetArn"]["Fn::Sub"].endswith(":function:${HookFunctionName}")
    assert hook["RoleArn"] == {"Fn::GetAtt": ["HookInvokeRole", "Arn"]}
    assert hook["TimeoutConfiguration"] == {"TimeoutInMinutes": {"Ref": "HookTimeoutInMinutes"}, "Action": "ROLLBACK"}
    # hookline validates ECS budgets up to 24h: a longer hook timeout would promise what no plan uses
    assert t["Parameters"]["HookTimeoutInMinutes"]["MaxValue"] == 24 * 60

    [lb] = svc["LoadBalancers"]
    adv = lb["AdvancedConfiguration"]
    assert lb["TargetGroupArn"] == {"Ref": "BlueTargetGroup"}
    assert adv["AlternateTargetGroupArn"] == {"Ref": "GreenTargetGroup"}
    assert adv["ProductionListenerRule"] == {"Ref": "ProductionListenerRule"}
    assert adv["TestListenerRule"] == {"Ref": "TestListenerRule"}
    assert adv["RoleArn"] == {"Fn::GetAtt": ["LoadBalancerInfrastructureRole", "Arn"]}
    assert not resources(t, "AWS::CodeDeploy::DeploymentGroup") and not resources(t, "AWS::CodeDeploy::Application")


def test_each_listener_has_one_rule_forwarding_to_both_groups_blue_at_100(t):
    rules = resources(t, "AWS::ElasticLoadBalancingV2::ListenerRule")
    assert {r["Properties"]["ListenerArn"]["Ref"] for r in rules.values()} == {"ProductionListener", "TestListener"}
    for name, rule in rules.items():
        [action] = rule["Properties"]["Actions"]
        groups = {g["TargetGroupArn"]["Ref"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}
        assert groups == {"BlueTargetGroup": 100, "GreenTargetGroup": 0}, name
    # ECS blue/green does not support listeners mixing forward and non-forward actions
    for name, listener in resources(t, "AWS::ElasticLoadBalancingV2::Listener").items():
        assert {a["Type"] for a in listener["Properties"]["DefaultActions"]} == {"forward"}, name


def test_ecs_assumes_the_hook_role_which_invokes_only_the_hook(t):
    role = t["Resources"]["HookInvokeRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert "ManagedPolicyArns" not in role
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statements == [{
        "Effect": "Allow", "Action": "lambda:InvokeFunction",
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${HookFunctionName}"},
    }]
    infra = t["Resources"]["LoadBalancerInfrastructureRole"]["Properties"]
    assert infra["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert infra["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}]


def plan_text(t):
    """The plan parameter's value with the alarm's name in place of ${ServerErrorsAlarm}."""
    value = t["Resources"]["Plan"]["Properties"]["Value"]["Fn::Sub"]
    assert set(re.findall(r"\$\{(\w+)\}", value)) == {"ServerErrorsAlarm"}
    return value.replace("${ServerErrorsAlarm}", "api-5xx")


def test_the_plan_is_where_the_hook_reads_it_and_ends_at_100(t):
    plan = t["Resources"]["Plan"]["Properties"]
    # contract::ecs_plan_parameter: <prefix>/ecs/<cluster>/<service>; !Ref Cluster is the cluster's name
    assert plan["Name"] == {"Fn::Sub": "${PlanParameterPrefix}/ecs/${Cluster}/${AppName}"}
    assert t["Resources"]["Service"]["Properties"]["ServiceName"] == {"Ref": "AppName"}
    doc = json.loads(plan_text(t))
    assert [s["weight"] for s in doc["steps"] if "weight" in s][-1] == 100
    assert "traffic" not in doc


@pytest.mark.skipif(not BIN.exists(), reason="target/debug/hookline not built (cargo build -p hookline-cli)")
def test_the_plan_validates_for_ecs_and_needs_ecs_s_budget(t, tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(plan_text(t))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    ecs = subprocess.run([BIN, "plan", "validate", "--controller", "ecs", str(path)], capture_output=True, text=True,
                         env=env, timeout=60)
    assert ecs.returncode == 0, ecs.stdout + ecs.stderr
    assert "valid for ECS (4 steps; worst case 2h 22m of the 3h hook budget)" in ecs.stdout, ecs.stdout
    code_deploy = subprocess.run([BIN, "plan", "validate", str(path)], capture_output=True, text=True, env=env,
                                 timeout=60)
    assert code_deploy.returncode == 1 and code_deploy.stdout.startswith("hook_budget: at most 60m"), code_deploy.stdout
