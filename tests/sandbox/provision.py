"""Provision the hookline sandbox (idempotent): state machines, approval topic, demo app.

    .venv/bin/python tests/sandbox/provision.py [--endpoint http://127.0.0.1:4566]

Creates (or updates in place):
- Step Functions ``hookline-<name>`` from ``statemachine/<name>.asl.json``
  (canary, post-traffic, release, rollback) with the ``${...}`` placeholders of
  docs/contracts.md substituted; a missing file is skipped with a warning.
- SNS topic ``hookline-approvals``; IAM role ``hookline-sandbox`` (dummy).
- SQS queues the template gives Lambda (``HookFailureQueue`` -> ``hookline-hook-failures``,
  the hook function's dead-letter queue and the event source mapping's source).
- Demo app: cluster ``demo``, task definition ``web`` (example/web:v1, bridge
  networking, container ``web`` port 80), ALB ``demo`` with production
  listener :80 and test listener :8080, target groups ``web-blue`` /
  ``web-green`` (ip targets), service ``web`` (CODE_DEPLOY controller) with a
  PRIMARY task set on web-blue and registered targets, CodeDeploy application
  ``web`` / group ``web-prod``, alarm ``web-5xx`` (OK), plan in SSM
  ``/hookline/web/web-prod``.
- A second service ``admin`` (cluster ``demo``) sharing the production listener :80 through the path
  rule ``/admin*`` (priority 10), with target groups ``admin-blue`` / ``admin-green``, its own test
  listener :8081, CodeDeploy ``admin`` / ``admin-prod``, alarm ``admin-5xx`` and a rule-mode plan
  ``/hookline/admin/admin-prod`` (see ``provision_admin``).
- The ECS-native demo app ``api`` (cluster ``demo``, controller ECS, strategy BLUE_GREEN, hooks at
  POST_TEST_TRAFFIC_SHIFT and POST_PRODUCTION_TRAFFIC_SHIFT on ``hook``) behind ALB ``demo-api``
  (production :80 and test :8080, one ECS-managed rule each), target groups ``api-blue`` /
  ``api-green``, alarm ``api-5xx``, plan ``/hookline/ecs/demo/api`` (see ``provision_api``).
- ``SANDBOX_SERVICES=N`` (default 1): also the services ``web-2`` .. ``web-N``, each a copy of ``web``
  with its own ALB, target groups, CodeDeploy application/group, alarm and plan (``service_names``).
Prints a JSON summary (ARNs) and writes it to ``.sandbox/provision.json``.
"""
import argparse
import json
import os
import re
import sys
import time
import warnings

import boto3
from botocore.config import Config as BotoConfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/hookline-sandbox"
STATE_MACHINES = ["canary", "post-traffic", "release", "rollback"]
FUNCTIONS = ["hook", "register-taskdef", "shift-weight", "validate-health", "finalize", "rollback"]
DEMO_PLAN = {
    "steps": [
        {"weight": 10, "bake": "3s"},
        {"approval": {"timeout": "2m"}},
        {"weight": 50, "bake": "3s"},
        {"weight": 100, "bake": "2s"},
    ],
    "health": {
        "interval": "2s",
        "alarms": ["web-5xx"],
        "http": [{"url": "http://127.0.0.1:4566/_sandbox/alb/8080/health", "expect_status": 200, "timeout": "2s"}],
    },
    "post_traffic": {"bake": "2s"},
    "hook_budget": "10m",
}


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def clients(endpoint):
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="sandbox",
              aws_secret_access_key="sandbox", config=BotoConfig(retries={"max_attempts": 5, "mode": "standard"}))
    return {n: boto3.client(n, **kw) for n in
            ("ec2", "ecs", "elbv2", "cloudwatch", "ssm", "sns", "iam", "stepfunctions", "codedeploy", "sqs")}


def substitutions(topic_arn):
    subs = {
        "ShiftWeightFunctionArn": function_arn("shift-weight"),
        "ValidateHealthFunctionArn": function_arn("validate-health"),
        "FinalizeFunctionArn": function_arn("finalize"),
        "RollbackFunctionArn": function_arn("rollback"),
        "RegisterTaskdefFunctionArn": function_arn("register-taskdef"),
        "ApprovalTopicArn": topic_arn,
    }
    return subs


def render(text, subs, path):
    def rep(m):
        k = m.group(1)
        if k not in subs:
            raise SystemExit(f"{path}: unknown placeholder ${{{k}}} (docs/contracts.md lists the allowed ones)")
        return subs[k]
    return re.sub(r"\$\{([A-Za-z0-9]+)\}", rep, text)


def provision_state_machines(c, topic_arn, sm_dir):
    sfn = c["stepfunctions"]
    existing = {}
    for page in sfn.get_paginator("list_state_machines").paginate():
        for sm in page["stateMachines"]:
            existing[sm["name"]] = sm["stateMachineArn"]
    out = {}
    subs = substitutions(topic_arn)
    for name in STATE_MACHINES:
        path = os.path.join(sm_dir, f"{name}.asl.json")
        if not os.path.exists(path):
            warnings.warn(f"{path} does not exist yet: state machine hookline-{name} skipped")
            print(f"WARNING: {path} missing, hookline-{name} skipped", file=sys.stderr)
            continue
        definition = render(open(path).read(), subs, path)
        json.loads(definition)  # fail early on a broken file
        sm_name = f"hookline-{name}"
        if sm_name in existing:
            sfn.update_state_machine(stateMachineArn=existing[sm_name], definition=definition, roleArn=ROLE_ARN)
            out[name] = existing[sm_name]
        else:
            out[name] = sfn.create_state_machine(name=sm_name, definition=definition, roleArn=ROLE_ARN,
                                                 type="STANDARD")["stateMachineArn"]
    return out


def ensure_role(iam):
    try:
        iam.get_role(RoleName="hookline-sandbox")
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName="hookline-sandbox", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
                "Service": ["states.amazonaws.com", "lambda.amazonaws.com", "codedeploy.amazonaws.com"]}}]}))


def service_names(index=1):
    """The names of the demo service number ``index`` (1-based) of a fleet (``SANDBOX_SERVICES``).
    Service 1 is today's ``web`` exactly (every test depends on these names); service k >= 2 is
    ``web-k`` with its own ALB ``demo-web-k``, target groups ``web-k-blue`` / ``web-k-green``, task
    definition family ``web-k`` (container ``web``), CodeDeploy application ``web-k`` / group
    ``web-k-prod``, alarm ``web-k-5xx`` and plan ``/hookline/web-k/web-k-prod``."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 1:
        raise ValueError(f"service index: expected an integer >= 1, got {index!r}")
    svc = "web" if index == 1 else f"web-{index}"
    return {"service": svc, "family": svc, "container": "web",
            "load_balancer": "demo" if index == 1 else f"demo-{svc}", "blue": f"{svc}-blue",
            "green": f"{svc}-green", "application": svc, "deployment_group": f"{svc}-prod",
            "alarm": f"{svc}-5xx", "plan_parameter": f"/hookline/{svc}/{svc}-prod"}


def fleet_size(env=None):
    """How many demo services to provision: ``SANDBOX_SERVICES`` (default 1 = ``web`` only)."""
    raw = (os.environ if env is None else env).get("SANDBOX_SERVICES", "1").strip() or "1"
    try:
        n = int(raw)
    except ValueError:
        raise SystemExit(f"SANDBOX_SERVICES: expected an integer >= 1, got {raw!r}") from None
    if n < 1:
        raise SystemExit(f"SANDBOX_SERVICES: expected an integer >= 1, got {raw!r}")
    return n


def fleet_plan(plan, names):
    """``plan`` (the demo's, written for ``web``) retargeted at service ``names``: its alarm list names
    the service's own alarm. The HTTP gate probes the sandbox ALB by port, which every fleet ALB shares,
    so it is dropped for k >= 2 (a 404 from another ALB's listener would fail the gate)."""
    if names["service"] == "web":
        return plan
    out = json.loads(json.dumps(plan))
    health = out.get("health") or {}
    if "alarms" in health:
        health["alarms"] = [names["alarm"] if a == "web-5xx" else a for a in health["alarms"]]
    health.pop("http", None)
    return out


def provision_demo(c, plan, termination_wait_minutes=1, index=1):
    ec2, ecs, elb, cw, ssm, cd = c["ec2"], c["ecs"], c["elbv2"], c["cloudwatch"], c["ssm"], c["codedeploy"]
    n = service_names(index)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"])[:2]
    sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                               {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
    # ALB + target groups + listeners
    try:
        lb = elb.describe_load_balancers(Names=[n["load_balancer"]])["LoadBalancers"][0]
    except elb.exceptions.LoadBalancerNotFoundException:
        lb = elb.create_load_balancer(Name=n["load_balancer"], Subnets=subnets, SecurityGroups=[sg], Scheme="internal",
                                      Type="application")["LoadBalancers"][0]
    tgs = {}
    for name in (n["blue"], n["green"]):
        try:
            tgs[name] = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
        except elb.exceptions.TargetGroupNotFoundException:
            tgs[name] = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
                                                HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    listeners = {int(l["Port"]): l["ListenerArn"] for l in
                 elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    for port in (80, 8080):
        if port not in listeners:
            listeners[port] = elb.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[n["blue"]]}])["Listeners"][0]["ListenerArn"]
    # ECS
    ecs.create_cluster(clusterName="demo")
    svc = ecs.describe_services(cluster="demo", services=[n["service"]])["services"]
    svc = svc[0] if svc and svc[0]["status"] == "ACTIVE" else None
    net = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg], "assignPublicIp": "DISABLED"}}
    if svc is None:
        td = ecs.register_task_definition(
            family=n["family"], networkMode="bridge", requiresCompatibilities=["EC2"],
            containerDefinitions=[{"name": n["container"], "image": "example/web:v1", "memory": 256, "cpu": 128,
                                   "essential": True, "portMappings": [{"containerPort": 80, "hostPort": 0,
                                                                        "protocol": "tcp"}]}]
        )["taskDefinition"]["taskDefinitionArn"]
        lbs = [{"targetGroupArn": tgs[n["blue"]], "containerName": n["container"], "containerPort": 80}]
        svc = ecs.create_service(cluster="demo", serviceName=n["service"], taskDefinition=td, desiredCount=2,
                                 deploymentController={"type": "CODE_DEPLOY"}, loadBalancers=lbs,
                                 launchType="FARGATE", networkConfiguration=net)["service"]
        ts = ecs.create_task_set(cluster="demo", service=n["service"], taskDefinition=td, loadBalancers=lbs,
                                 launchType="FARGATE", networkConfiguration=net, externalId="sandbox-initial",
                                 scale={"unit": "PERCENT", "value": 100.0})["taskSet"]
        ecs.update_service_primary_task_set(cluster="demo", service=n["service"], primaryTaskSet=ts["taskSetArn"])
        elb.register_targets(TargetGroupArn=tgs[n["blue"]], Targets=[{"Id": "10.0.0.10", "Port": 80},
                                                                       {"Id": "10.0.0.11", "Port": 80}])
    # CloudWatch alarm
    cw.put_metric_alarm(AlarmName=n["alarm"], MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                        Dimensions=[{"Name": "LoadBalancer", "Value": lb["LoadBalancerArn"].split(":loadbalancer/")[1]}])
    cw.set_alarm_state(AlarmName=n["alarm"], StateValue="OK", StateReason="sandbox provisioning")
    # plan
    ssm.put_parameter(Name=n["plan_parameter"], Type="String", Overwrite=True, Value=json.dumps(plan, indent=2))
    # CodeDeploy
    try:
        cd.create_application(applicationName=n["application"], computePlatform="ECS")
    except cd.exceptions.ApplicationAlreadyExistsException:
        pass
    group = dict(
        applicationName=n["application"], deploymentGroupName=n["deployment_group"], serviceRoleArn=ROLE_ARN,
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                          "terminationWaitTimeInMinutes": termination_wait_minutes},
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0}},
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]},
        alarmConfiguration={"enabled": False, "ignorePollAlarmFailure": False, "alarms": []},
        ecsServices=[{"serviceName": n["service"], "clusterName": "demo"}],
        loadBalancerInfo={"targetGroupPairInfoList": [{
            "targetGroups": [{"name": n["blue"]}, {"name": n["green"]}],
            "prodTrafficRoute": {"listenerArns": [listeners[80]]},
            "testTrafficRoute": {"listenerArns": [listeners[8080]]}}]},
    )
    try:
        cd.create_deployment_group(**group)
    except cd.exceptions.DeploymentGroupAlreadyExistsException:
        pass
    svc = ecs.describe_services(cluster="demo", services=[n["service"]])["services"][0]
    return {"load_balancer_arn": lb["LoadBalancerArn"], "prod_listener_arn": listeners[80],
            "test_listener_arn": listeners[8080], "target_groups": tgs, "service_arn": svc["serviceArn"],
            "task_definition": svc["taskDefinition"], "subnets": subnets, "security_group": sg}


ADMIN_PATH = "/admin*"
ADMIN_RULE_PRIORITY = 10
ADMIN_TEST_PORT = 8081
ADMIN_PLAN = {
    "steps": [{"weight": 10, "bake": "2s"}, {"weight": 100, "bake": "1s"}],
    "health": {
        "interval": "2s",
        "alarms": ["admin-5xx"],
        "http": [{"url": f"http://127.0.0.1:4566/_sandbox/alb/{ADMIN_TEST_PORT}/health", "expect_status": 200,
                  "timeout": "2s"}],
    },
    "post_traffic": {"bake": "2s"},
    "hook_budget": "10m",
}


def is_admin_production_rule(rule):
    """A DescribeRules rule is the ``admin`` service's production rule: the path rule ``/admin*``
    with no other condition (its cohort rule adds a header condition)."""
    conds = rule.get("Conditions") or []
    if rule.get("IsDefault") or len(conds) != 1 or conds[0].get("Field") != "path-pattern":
        return False
    return ((conds[0].get("PathPatternConfig") or {}).get("Values") or conds[0].get("Values") or []) == [ADMIN_PATH]


def admin_production_rule(elb, listener_arn):
    """The ``admin`` service's production rule on the shared :80 listener, or None."""
    return next((r for r in elb.describe_rules(ListenerArn=listener_arn)["Rules"] if is_admin_production_rule(r)),
                None)


def provision_admin(c, demo, plan, termination_wait_minutes=1):
    """A second service, ``admin`` in cluster ``demo``, sharing the demo ALB's production listener :80
    through the path rule ``/admin*`` (priority 10, forward ``admin-blue``) while ``web`` keeps the
    default action: target groups ``admin-blue`` / ``admin-green``, its own test listener :8081,
    task definition ``admin`` (container ``admin``), service ``admin`` (CODE_DEPLOY) with a PRIMARY
    task set on admin-blue, CodeDeploy application ``admin`` / group ``admin-prod`` (production route
    = the :80 listener), alarm ``admin-5xx`` (OK), and a rule-mode plan at ``/hookline/admin/admin-prod``
    (``traffic.production_rule_arn`` = the path rule, ending at weight 100). Idempotent."""
    ec2, ecs, elb, cw, ssm, cd = c["ec2"], c["ecs"], c["elbv2"], c["cloudwatch"], c["ssm"], c["codedeploy"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets, sg, lb_arn = demo["subnets"], demo["security_group"], demo["load_balancer_arn"]
    tgs = {}
    for name in ("admin-blue", "admin-green"):
        try:
            tgs[name] = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
        except elb.exceptions.TargetGroupNotFoundException:
            tgs[name] = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
                                                HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    listeners = {int(l["Port"]): l["ListenerArn"] for l in elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]}
    if ADMIN_TEST_PORT not in listeners:
        listeners[ADMIN_TEST_PORT] = elb.create_listener(
            LoadBalancerArn=lb_arn, Protocol="HTTP", Port=ADMIN_TEST_PORT,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs["admin-blue"]}])["Listeners"][0]["ListenerArn"]
    rule = admin_production_rule(elb, listeners[80])
    if rule is None:
        rule = elb.create_rule(
            ListenerArn=listeners[80], Priority=ADMIN_RULE_PRIORITY,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [ADMIN_PATH]}}],
            Actions=[{"Type": "forward", "TargetGroupArn": tgs["admin-blue"]}])["Rules"][0]
    # ECS
    svc = ecs.describe_services(cluster="demo", services=["admin"])["services"]
    svc = svc[0] if svc and svc[0]["status"] == "ACTIVE" else None
    net = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg], "assignPublicIp": "DISABLED"}}
    if svc is None:
        td = ecs.register_task_definition(
            family="admin", networkMode="bridge", requiresCompatibilities=["EC2"],
            containerDefinitions=[{"name": "admin", "image": "example/admin:v1", "memory": 256, "cpu": 128,
                                   "essential": True, "portMappings": [{"containerPort": 80, "hostPort": 0,
                                                                        "protocol": "tcp"}]}]
        )["taskDefinition"]["taskDefinitionArn"]
        lbs = [{"targetGroupArn": tgs["admin-blue"], "containerName": "admin", "containerPort": 80}]
        ecs.create_service(cluster="demo", serviceName="admin", taskDefinition=td, desiredCount=1,
                           deploymentController={"type": "CODE_DEPLOY"}, loadBalancers=lbs,
                           launchType="FARGATE", networkConfiguration=net)
        ts = ecs.create_task_set(cluster="demo", service="admin", taskDefinition=td, loadBalancers=lbs,
                                 launchType="FARGATE", networkConfiguration=net, externalId="sandbox-initial",
                                 scale={"unit": "PERCENT", "value": 100.0})["taskSet"]
        ecs.update_service_primary_task_set(cluster="demo", service="admin", primaryTaskSet=ts["taskSetArn"])
        elb.register_targets(TargetGroupArn=tgs["admin-blue"], Targets=[{"Id": "10.0.1.10", "Port": 80}])
    cw.put_metric_alarm(AlarmName="admin-5xx", MetricName="HTTPCode_Target_5XX_Count",
                        Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                        Dimensions=[{"Name": "TargetGroup", "Value": tgs["admin-blue"].split(":")[-1]}])
    cw.set_alarm_state(AlarmName="admin-5xx", StateValue="OK", StateReason="sandbox provisioning")
    plan = dict(plan, traffic={"production_rule_arn": rule["RuleArn"]})
    ssm.put_parameter(Name="/hookline/admin/admin-prod", Type="String", Overwrite=True,
                      Value=json.dumps(plan, indent=2))
    try:
        cd.create_application(applicationName="admin", computePlatform="ECS")
    except cd.exceptions.ApplicationAlreadyExistsException:
        pass
    group = dict(
        applicationName="admin", deploymentGroupName="admin-prod", serviceRoleArn=ROLE_ARN,
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                          "terminationWaitTimeInMinutes": termination_wait_minutes},
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0}},
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]},
        alarmConfiguration={"enabled": False, "ignorePollAlarmFailure": False, "alarms": []},
        ecsServices=[{"serviceName": "admin", "clusterName": "demo"}],
        loadBalancerInfo={"targetGroupPairInfoList": [{
            "targetGroups": [{"name": "admin-blue"}, {"name": "admin-green"}],
            "prodTrafficRoute": {"listenerArns": [listeners[80]]},
            "testTrafficRoute": {"listenerArns": [listeners[ADMIN_TEST_PORT]]}}]},
    )
    try:
        cd.create_deployment_group(**group)
    except cd.exceptions.DeploymentGroupAlreadyExistsException:
        pass
    return {"production_rule_arn": rule["RuleArn"], "test_listener_arn": listeners[ADMIN_TEST_PORT],
            "target_groups": tgs}


API_PLAN = {
    "steps": [
        {"weight": 10, "bake": "3s"},
        {"approval": {"timeout": "2m"}},
        {"weight": 50, "bake": "3s"},
        {"weight": 100, "bake": "2s"},
    ],
    "health": {
        "interval": "2s",
        "alarms": ["api-5xx"],
        "http": [{"url": "http://127.0.0.1:4566/_sandbox/alb/demo-api/8080/health", "expect_status": 200,
                  "timeout": "2s"}],
    },
    "post_traffic": {"bake": "2s"},
    "hook_budget": "10m",
}
API_HOOK_STAGES = ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]
API_RULE_PRIORITY = 1


def provision_api(c, demo, plan, bake_minutes=1):
    """The ECS-native demo app (issue 11): service ``api`` in cluster ``demo`` with deployment
    controller ECS and strategy BLUE_GREEN (the router's ECS simulator, sim/ecs/api.py, runs its
    deployments), ALB ``demo-api`` with production listener :80 and test listener :8080, each with one
    ECS-managed rule (path ``/*``, priority 1, forward ``api-blue``; the default action answers 404),
    target groups ``api-blue`` / ``api-green``, ``advancedConfiguration`` naming both rules, Lambda
    hooks on ``hook`` at POST_TEST_TRAFFIC_SHIFT and POST_PRODUCTION_TRAFFIC_SHIFT, alarm ``api-5xx``
    (OK), plan ``/hookline/ecs/demo/api``. Idempotent. A deployment starts as users start one:
    ``aws ecs update-service --cluster demo --service api --task-definition api:<n>``."""
    ec2, ecs, elb, cw, ssm = c["ec2"], c["ecs"], c["elbv2"], c["cloudwatch"], c["ssm"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets, sg = demo["subnets"], demo["security_group"]
    try:
        lb = elb.describe_load_balancers(Names=["demo-api"])["LoadBalancers"][0]
    except elb.exceptions.LoadBalancerNotFoundException:
        lb = elb.create_load_balancer(Name="demo-api", Subnets=subnets, SecurityGroups=[sg], Scheme="internal",
                                      Type="application")["LoadBalancers"][0]
    tgs = {}
    for name in ("api-blue", "api-green"):
        try:
            tgs[name] = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
        except elb.exceptions.TargetGroupNotFoundException:
            tgs[name] = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip",
                                                HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    listeners = {int(l["Port"]): l["ListenerArn"] for l in
                 elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    rules = {}
    for port in (80, 8080):
        if port not in listeners:
            listeners[port] = elb.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                    "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no rule matched"}}]
            )["Listeners"][0]["ListenerArn"]
        found = [r for r in elb.describe_rules(ListenerArn=listeners[port])["Rules"] if not r.get("IsDefault")]
        if found:
            rules[port] = found[0]["RuleArn"]
        else:
            rules[port] = elb.create_rule(
                ListenerArn=listeners[port], Priority=API_RULE_PRIORITY,
                Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
                Actions=[{"Type": "forward", "TargetGroupArn": tgs["api-blue"]}])["Rules"][0]["RuleArn"]
    svc = ecs.describe_services(cluster="demo", services=["api"])["services"]
    svc = svc[0] if svc and svc[0]["status"] == "ACTIVE" else None
    if svc is None:
        td = ecs.register_task_definition(
            family="api", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "api", "image": "example/api:v1", "essential": True,
                                   "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}]
        )["taskDefinition"]["taskDefinitionArn"]
        svc = ecs.create_service(
            cluster="demo", serviceName="api", taskDefinition=td, desiredCount=2, launchType="FARGATE",
            deploymentController={"type": "ECS"},
            deploymentConfiguration={
                "strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake_minutes,
                "lifecycleHooks": [{"hookTargetArn": function_arn("hook"), "roleArn": ROLE_ARN,
                                    "lifecycleStages": list(API_HOOK_STAGES)}]},
            loadBalancers=[{"targetGroupArn": tgs["api-blue"], "containerName": "api", "containerPort": 80,
                            "advancedConfiguration": {"alternateTargetGroupArn": tgs["api-green"],
                                                      "productionListenerRule": rules[80],
                                                      "testListenerRule": rules[8080], "roleArn": ROLE_ARN}}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg],
                                                          "assignPublicIp": "DISABLED"}})["service"]
    cw.put_metric_alarm(AlarmName="api-5xx", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                        Dimensions=[{"Name": "LoadBalancer", "Value": lb["LoadBalancerArn"].split(":loadbalancer/")[1]}])
    cw.set_alarm_state(AlarmName="api-5xx", StateValue="OK", StateReason="sandbox provisioning")
    ssm.put_parameter(Name="/hookline/ecs/demo/api", Type="String", Overwrite=True, Value=json.dumps(plan, indent=2))
    return {"load_balancer_arn": lb["LoadBalancerArn"], "prod_listener_arn": listeners[80],
            "test_listener_arn": listeners[8080], "production_rule_arn": rules[80], "test_rule_arn": rules[8080],
            "target_groups": tgs, "service_arn": svc["serviceArn"], "task_definition": svc["taskDefinition"]}


def warm_up(endpoint, functions, timeout_s=None):
    """Start each function's process now (``{}`` is answered InvalidInput by every function, without
    side effects), through the router's Invoke path with the warm-up header, which does not enforce
    the function's timeout: a cold ``cargo run`` compiles the binary first. Raises when a function
    does not answer in ``timeout_s`` (SANDBOX_WARM_TIMEOUT_S, default 600)."""
    import requests
    timeout_s = float(timeout_s or os.environ.get("SANDBOX_WARM_TIMEOUT_S") or 600)
    for fn in functions:
        started = time.time()
        try:
            r = requests.post(f"{endpoint.rstrip('/')}/2015-03-31/functions/{fn}/invocations", data=b"{}",
                              headers={"X-Sandbox-Internal": "warmup"}, timeout=timeout_s)
        except requests.RequestException as e:
            raise SystemExit(f"provision: warm-up of {fn} failed after {time.time() - started:.0f}s: {e}") from e
        print(f"warm-up: {fn} answered {r.status_code} in {time.time() - started:.1f}s", file=sys.stderr)


def wait_creation_deployment(ecs, cluster, service, timeout_s=None):
    """Wait for the service's CreateService deployment (its hooks run, ECS-14) to end; anything but
    SUCCESSFUL fails provisioning loudly, with the deployment's statusReason."""
    timeout_s = float(timeout_s or os.environ.get("SANDBOX_WARM_TIMEOUT_S") or 600)
    end = time.time() + timeout_s
    while True:
        listed = ecs.list_service_deployments(cluster=cluster, service=service)["serviceDeployments"]
        first = min(listed, key=lambda d: d["createdAt"]) if listed else None
        if first and first["status"] in ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
            if first["status"] != "SUCCESSFUL":
                raise SystemExit(f"provision: {service}'s creation deployment {first['serviceDeploymentArn']} "
                                 f"ended {first['status']}: {first.get('statusReason')}")
            return first
        if time.time() > end:
            raise SystemExit(f"provision: {service}'s creation deployment not ended after {timeout_s:.0f}s: {first}")
        time.sleep(0.5)


def provision_lambda_queues(c):
    """The SQS queues infra/template.yaml gives Lambda (dead-letter queues, event source mapping
    sources), with the sandbox's names (${NamePrefix} = hookline): {name: {"url", "arn"}}. The router's
    Lambda emulation (sim/lambda_emul.py) sends to and polls them; it creates them too if missing."""
    from sim import lambda_emul
    spec = lambda_emul.load_template()
    used = {f.dead_letter_queue for f in spec.functions.values() if f.dead_letter_queue}
    used |= {m.queue for m in spec.mappings}
    out = {}
    for name in sorted(used):
        q = spec.queues.get(name) or lambda_emul.QueueConfig(name, name)
        out[name] = {"url": lambda_emul.ensure_queue(c["sqs"], q), "arn": lambda_emul.queue_arn(name)}
    return out


# ---------------------------------------------------------------- Route 53 demo (issue 22)
ROUTE53_DEMO = {"group": "private", "releases": ("blue", "green"), "zone": "shop.example.com",
                "fqdn": "web.shop.example.com", "cluster": "shop", "service": "shop-web", "family": "shop-web",
                "container": "web", "port": 8080, "version": "1.0.0", "desired": 2, "alarm": "shop-web-5xx"}


def route53_demo_image(version=ROUTE53_DEMO["version"], name=ROUTE53_DEMO["service"]):
    """The deployment file's default image (docs/route53-controller.md): <account>.dkr.ecr.<region>.amazonaws.com/<name>:<version>."""
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}:{version}"


def provision_route53_demo(endpoint="http://127.0.0.1:4566", group=ROUTE53_DEMO["group"],
                           releases=ROUTE53_DEMO["releases"], zone_name=ROUTE53_DEMO["zone"],
                           fqdn=ROUTE53_DEMO["fqdn"], weights=(100, 0), wait=True):
    """The world of hookline's own controller (docs/route53-controller.md), provisioned by default:

    - per release (blue, green): an ALB `r53-<group>-<release>` tagged `CanaryGroup` = group and
      `CanaryRelease` = release, a target group of the same name (ip targets, port 8080, health check
      /health, the default VPC) and an HTTP :80 listener forwarding to it;
    - hosted zone `shop.example.com` with one weighted alias record per release for `fqdn`
      (SetIdentifier = the release, Weight blue 100 / green 0, EvaluateTargetHealth true, no TTL),
      written in one batch (UPSERT) and waited to INSYNC (sim/route53.py);
    - ECS cluster `shop`, task definition family `shop-web` (container `web`, image
      `<account>.dkr.ecr.us-east-1.amazonaws.com/shop-web:1.0.0`, port 8080, awsvpc / Fargate) and
      blue's service `shop-web-blue` (controller ECS, rolling, desired 2) registered in blue's target
      group, waited until stable with healthy targets (sim/ecs/rolling.py). Green's service
      `shop-web-green` is not created: `hookline deploy` creates it (`<service.name>-<release>`);
    - alarm `shop-web-5xx` (OK): HTTPCode_Target_5XX_Count of both load balancers summed (metric
      math); the router's DNS traffic loop sets it ALARM while a release whose image tag contains
      `bad` serves, OK after.

    Idempotent (records are UPSERTed to `weights`; an ACTIVE service is left as it is). Returns
    every id and ARN (provision.json `demo.route53`)."""
    c = clients(endpoint)
    ec2, elb, ecs, cw = c["ec2"], c["elbv2"], c["ecs"], c["cloudwatch"]
    r53 = boto3.client("route53", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="sandbox",
                       aws_secret_access_key="sandbox",
                       config=BotoConfig(retries={"max_attempts": 5, "mode": "standard"}))
    d = ROUTE53_DEMO
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"])[:2]
    sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                               {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
    lbs = {}
    for release in releases:
        name = f"r53-{group}-{release}"
        tags = [{"Key": "CanaryGroup", "Value": group}, {"Key": "CanaryRelease", "Value": release}]
        try:
            lb = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]
            elb.add_tags(ResourceArns=[lb["LoadBalancerArn"]], Tags=tags)
        except elb.exceptions.LoadBalancerNotFoundException:
            lb = elb.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[sg], Scheme="internet-facing",
                                          Type="application", Tags=tags)["LoadBalancers"][0]
        try:
            tg = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
        except elb.exceptions.TargetGroupNotFoundException:
            tg = elb.create_target_group(Name=name, Protocol="HTTP", Port=d["port"], VpcId=vpc, TargetType="ip",
                                         HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
        listeners = {int(l["Port"]): l["ListenerArn"] for l in
                     elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
        if 80 not in listeners:
            listeners[80] = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}]
                                                )["Listeners"][0]["ListenerArn"]
        lbs[release] = {"name": name, "arn": lb["LoadBalancerArn"], "dns_name": lb["DNSName"],
                        "hosted_zone_id": lb["CanonicalHostedZoneId"],
                        "dimension": lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1],
                        "target_group_arn": tg, "listener_arn": listeners[80], "service": f"{d['service']}-{release}"}
    zones = [z for z in r53.list_hosted_zones_by_name(DNSName=zone_name)["HostedZones"]
             if z["Name"] == zone_name.rstrip(".") + "."]
    zone = zones[0] if zones else r53.create_hosted_zone(Name=zone_name, CallerReference=f"hookline-{zone_name}")[
        "HostedZone"]
    zone_id = zone["Id"].rsplit("/", 1)[-1]
    changes = [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": fqdn, "Type": "A", "SetIdentifier": release, "Weight": weight,
        "AliasTarget": {"HostedZoneId": lbs[release]["hosted_zone_id"], "DNSName": lbs[release]["dns_name"],
                        "EvaluateTargetHealth": True}}} for release, weight in zip(releases, weights)]
    info = r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Comment": "hookline sandbox: Route 53 demo", "Changes": changes})["ChangeInfo"]
    # ECS: blue's service (the first release) on its target group; green's is hookline's to create
    ecs.create_cluster(clusterName=d["cluster"])
    blue = lbs[releases[0]]
    svc = ecs.describe_services(cluster=d["cluster"], services=[blue["service"]])["services"]
    svc = svc[0] if svc and svc[0]["status"] == "ACTIVE" else None
    if svc is None:
        td = ecs.register_task_definition(
            family=d["family"], networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": d["container"], "image": route53_demo_image(), "essential": True,
                                   "portMappings": [{"containerPort": d["port"], "protocol": "tcp"}]}]
        )["taskDefinition"]["taskDefinitionArn"]
        svc = ecs.create_service(
            cluster=d["cluster"], serviceName=blue["service"], taskDefinition=td, desiredCount=d["desired"],
            launchType="FARGATE", deploymentController={"type": "ECS"},
            deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
            loadBalancers=[{"targetGroupArn": blue["target_group_arn"], "containerName": d["container"],
                            "containerPort": d["port"]}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg],
                                                          "assignPublicIp": "DISABLED"}})["service"]
    # the alarm: both load balancers' target 5xx, summed (each release serves in turn)
    cw.put_metric_alarm(
        AlarmName=d["alarm"], EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching", AlarmDescription="hookline sandbox: target 5xx of either release "
                                                          "(set by the router's DNS traffic loop)",
        Metrics=[{"Id": "total", "Expression": " + ".join(f"FILL(m{i}, 0)" for i in range(len(releases))),
                  "Label": "HTTPCode_Target_5XX_Count of the releases", "ReturnData": True}] + [
            {"Id": f"m{i}", "ReturnData": False, "MetricStat": {"Metric": {
                "Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
                "Dimensions": [{"Name": "LoadBalancer", "Value": lbs[r]["dimension"]}]}, "Period": 60, "Stat": "Sum"}}
            for i, r in enumerate(releases)])
    cw.set_alarm_state(AlarmName=d["alarm"], StateValue="OK", StateReason="sandbox provisioning")
    alarm_arn = cw.describe_alarms(AlarmNames=[d["alarm"]])["MetricAlarms"][0]["AlarmArn"]
    if wait:
        r53.get_waiter("resource_record_sets_changed").wait(Id=info["Id"], WaiterConfig={"Delay": 0.5,
                                                                                           "MaxAttempts": 240})
        wait_service_healthy(c, d["cluster"], blue["service"], blue["target_group_arn"], d["desired"])
    svc = ecs.describe_services(cluster=d["cluster"], services=[blue["service"]])["services"][0]
    return {"hosted_zone_id": zone_id, "zone": zone_name, "fqdn": fqdn, "group": group, "load_balancers": lbs,
            "change_id": info["Id"], "cluster": d["cluster"], "cluster_arn": svc["clusterArn"],
            "service": {"name": d["service"], "blue_arn": svc["serviceArn"], "task_definition": svc["taskDefinition"],
                        "family": d["family"], "container": d["container"], "port": d["port"],
                        "image": route53_demo_image(), "desired": d["desired"]},
            "alarm": {"name": d["alarm"], "arn": alarm_arn}}


def wait_service_healthy(c, cluster, service, target_group_arn, desired, timeout_s=60):
    """Until ``service`` is stable (botocore's services_stable rule) with ``desired`` healthy targets."""
    end = time.time() + timeout_s
    while True:
        s = c["ecs"].describe_services(cluster=cluster, services=[service])["services"][0]
        healthy = [t for t in c["elbv2"].describe_target_health(TargetGroupArn=target_group_arn)[
            "TargetHealthDescriptions"] if t["TargetHealth"]["State"] == "healthy"]
        if len(s["deployments"]) == 1 and s["runningCount"] == s["desiredCount"] == desired \
                and len(healthy) >= desired:
            return s
        if time.time() > end:
            raise SystemExit(f"provision: {service} not stable with {desired} healthy targets after {timeout_s}s: "
                             f"running {s['runningCount']}/{s['desiredCount']}, {len(s['deployments'])} deployments, "
                             f"{len(healthy)} healthy")
        time.sleep(0.25)


def provision(endpoint="http://127.0.0.1:4566", plan=None, sm_dir=None, termination_wait_minutes=1, services=1):
    c = clients(endpoint)
    ensure_role(c["iam"])
    # The template's roles and each function's credentials (tests/sandbox/sim/iam.py), while moto's
    # IAM authorization is still off; up.sh turns it on after provisioning.
    if os.environ.get("SANDBOX_CREDENTIALS_DIR"):
        from sim import iam
        iam.provision_roles(c["iam"], os.environ["SANDBOX_CREDENTIALS_DIR"])
    topic = c["sns"].create_topic(Name="hookline-approvals")["TopicArn"]
    sms = provision_state_machines(c, topic, sm_dir or os.path.join(ROOT, "statemachine"))
    if plan is None:
        # The HTTP gate probes this sandbox's own ALB emulation, whatever its port.
        plan = json.loads(json.dumps(DEMO_PLAN).replace("http://127.0.0.1:4566", endpoint.rstrip("/")))
    demo = provision_demo(c, plan, termination_wait_minutes)
    # The second service sharing :80 through a path rule (issue 10 items 11 and 12).
    admin_plan = json.loads(json.dumps(ADMIN_PLAN).replace("http://127.0.0.1:4566", endpoint.rstrip("/")))
    demo["admin"] = provision_admin(c, demo, admin_plan, termination_wait_minutes)
    # The ECS-native demo app (issue 11 part C): deployments run in the router's ECS simulator.
    api_plan = json.loads(json.dumps(API_PLAN).replace("http://127.0.0.1:4566", endpoint.rstrip("/")))
    # `api`'s CreateService deployment invokes `hook` at once (ECS-14): start the function first (a
    # cold `cargo run` compiles it, longer than its Lambda timeout), then let that deployment end.
    if os.environ.get("SANDBOX_WARM", "1") == "1":
        warm_up(endpoint, ["hook"])
    demo["api"] = provision_api(c, demo, api_plan)
    wait_creation_deployment(c["ecs"], "demo", "api")
    # A fleet (SANDBOX_SERVICES=N, benches/fleet.py): services web-2 .. web-N, each with its own ALB.
    demo["fleet"] = {}
    for index in range(2, services + 1):
        names = service_names(index)
        demo["fleet"][names["service"]] = provision_demo(c, fleet_plan(plan, names), termination_wait_minutes, index)
    # hookline's own controller (issue 22): two ALB releases, Route 53 weights, blue's ECS service
    demo["route53"] = provision_route53_demo(endpoint)
    queues = provision_lambda_queues(c)
    return {"endpoint": endpoint, "approval_topic_arn": topic, "state_machines": sms,
            "functions": {f: function_arn(f) for f in FUNCTIONS}, "role_arn": ROLE_ARN, "demo": demo,
            "queues": queues}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", default=os.environ.get("SANDBOX_ENDPOINT", "http://127.0.0.1:4566"))
    ap.add_argument("--out", default=os.path.join(ROOT, ".sandbox", "provision.json"))
    a = ap.parse_args()
    out = provision(a.endpoint, services=fleet_size())
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
