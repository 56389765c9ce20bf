"""IAM in the sandbox (sim/iam.py): function calls are authorized against their
role in infra/template.yaml, by moto (signature, key, action) and by the
router (resources, conditions, the CodeDeploy simulator), with AWS's errors."""
import json
import os
import sys
import time

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from sim import iam  # noqa: E402
import provision  # noqa: E402
from router import Sandbox  # noqa: E402
from conftest import start_moto  # noqa: E402

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def enforced(tmp_path_factory):
    """Its own moto (authorization on after provisioning) behind an in-process router."""
    logdir = tmp_path_factory.mktemp("iam")
    proc, moto_url = start_moto(logdir)
    cred_dir = str(logdir / "credentials")
    os.environ["SANDBOX_CREDENTIALS_DIR"] = cred_dir
    try:
        sb = Sandbox(port=0, moto_url=moto_url, lambda_url="http://127.0.0.1:9", app_traffic=False).start()
    finally:
        del os.environ["SANDBOX_CREDENTIALS_DIR"]
    c = provision.clients(sb.url)
    iam.provision_roles(c["iam"], cred_dir)
    demo = provision.provision_demo(c, provision.DEMO_PLAN)
    requests.post(moto_url + "/moto-api/reset-auth", data=b"0", timeout=5)
    yield {"sb": sb, "url": sb.url, "moto": moto_url, "creds": cred_dir, "demo": demo}
    requests.post(moto_url + "/moto-api/reset-auth", data=b"inf", timeout=5)
    iam.uninstall_operator_signing(sb.iam)
    sb.stop()
    proc.terminate()
    proc.wait(10)


def as_function(env, name, service, endpoint=None):
    e = iam.read_env(os.path.join(env["creds"], f"{name}.env"))
    return boto3.client(service, endpoint_url=endpoint or env["url"], region_name="us-east-1",
                        aws_access_key_id=e["AWS_ACCESS_KEY_ID"], aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=e["AWS_SESSION_TOKEN"],
                        config=boto3.session.Config(retries={"max_attempts": 1}))


def denied(fn):
    with pytest.raises(ClientError) as e:
        fn()
    return e.value.response


def moto_error(response):
    """moto answers its own authorization errors in query XML even for JSON services (SSM here), so
    botocore cannot parse the code; read it from the body (the router's own denials have AWS's shapes)."""
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    import re

    return re.search(r"<Code>([^<]+)</Code>", response["Error"]["Message"]).group(1)


def test_rendered_roles_use_sandbox_names():
    roles = {r["principal"]: r for r in iam.rendered_roles()}
    assert set(roles) == {"hook", "register-taskdef", "shift-weight", "validate-health", "finalize", "rollback",
                          "hookline-canary", "hookline-post-traffic", "hookline-release", "hookline-rollback"}
    text = json.dumps(roles["hookline-canary"]["policies"])
    assert f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:shift-weight" in text
    assert f"arn:aws:sns:us-east-1:{ACCOUNT}:hookline-approvals" in text
    assert "${" not in json.dumps([r["policies"] for r in roles.values()])


def test_conditions_follow_iam_not_moto():
    """moto passes a condition whose key is absent; IAM does not (StringEquals on a missing key)."""
    docs = [{"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "elasticloadbalancing:AddTags", "Resource": "*",
        "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": "CreateRule"}}}]}]
    assert iam.is_allowed(docs, "elasticloadbalancing:AddTags", "arn:x", {"elasticloadbalancing:CreateAction": "CreateRule"})
    assert not iam.is_allowed(docs, "elasticloadbalancing:AddTags", "arn:x", None)
    assert not iam.is_allowed(docs, "elasticloadbalancing:AddTags", "arn:x",
                              {"elasticloadbalancing:CreateAction": "CreateTargetGroup"})


def test_moto_checks_actions_against_star_only(enforced):
    """Why the router checks resources: moto evaluates ECS/ELBv2/SSM/... actions on "*", so an
    ARN-scoped Allow never matches in moto (its roles get action-level copies of the policies)."""
    iam_c = boto3.client("iam", endpoint_url=enforced["url"], region_name="us-east-1",
                         aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    iam_c.create_role(RoleName="scoped-probe", AssumeRolePolicyDocument=json.dumps(
        # (moto 5.2.5 answers 500 to an AssumeRole, with authorization on, of a role trusting a service)
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                 "Action": "sts:AssumeRole"}]}))
    iam_c.put_role_policy(RoleName="scoped-probe", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter",
                                                 "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/hookline/*"}]}))
    sts = boto3.client("sts", endpoint_url=enforced["url"], region_name="us-east-1",
                       aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/scoped-probe", RoleSessionName="probe")["Credentials"]
    ssm = boto3.client("ssm", endpoint_url=enforced["moto"], region_name="us-east-1",
                       aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                       aws_session_token=c["SessionToken"])
    r = denied(lambda: ssm.get_parameter(Name="/hookline/web/web-prod"))
    assert moto_error(r) == "AccessDenied"


def test_moto_itself_refuses_an_action_outside_the_role(enforced):
    """The second line: straight to moto (no router), the hook's key cannot write parameters."""
    ssm = as_function(enforced, "hook", "ssm", endpoint=enforced["moto"])
    r = denied(lambda: ssm.put_parameter(Name="/hookline/x", Value="1", Type="String"))
    assert moto_error(r) == "AccessDenied"
    # ... and the action-level copy lets its granted action through.
    assert ssm.get_parameter(Name="/hookline/web/web-prod")["Parameter"]["Name"] == "/hookline/web/web-prod"


def test_operator_and_unknown_keys(enforced):
    kw = dict(endpoint_url=enforced["url"], region_name="us-east-1")
    ssm = boto3.client("ssm", aws_access_key_id="sandbox", aws_secret_access_key="sandbox", **kw)
    ssm.put_parameter(Name="/other/operator", Value="1", Type="String", Overwrite=True)
    ident = boto3.client("sts", aws_access_key_id="sandbox", aws_secret_access_key="sandbox", **kw)
    assert ident.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{iam.OPERATOR_USER}"
    bad = boto3.client("ssm", aws_access_key_id="AKIAUNKNOWN0000000", aws_secret_access_key="x", **kw)
    assert moto_error(denied(lambda: bad.get_parameter(Name="/other/operator"))) == "InvalidClientTokenId"


def test_resources_are_checked_with_aws_error_shapes(enforced):
    demo = enforced["demo"]
    listener = demo["prod_listener_arn"]
    rule_arn = listener.replace(":listener/", ":listener-rule/") + "/0123456789abcdef"
    ssm = as_function(enforced, "hook", "ssm")
    r = denied(lambda: ssm.get_parameter(Name="/elsewhere/plan"))
    assert r["Error"]["Code"] == "AccessDeniedException" and r["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "assumed-role/HookRole/hook is not authorized to perform: ssm:GetParameter" in r["Error"]["Message"]
    # ELBv2 (query protocol): AccessDenied, 403. DeleteRule on a listener ARN is a resource-type mismatch.
    elb = as_function(enforced, "finalize", "elbv2")
    r = denied(lambda: elb.delete_rule(RuleArn=listener))
    assert r["Error"]["Code"] == "AccessDenied" and r["ResponseMetadata"]["HTTPStatusCode"] == 403
    r = denied(lambda: as_function(enforced, "validate-health", "elbv2").describe_tags(ResourceArns=[rule_arn]))
    assert "elasticloadbalancing:DescribeTags" in r["Error"]["Message"]
    as_function(enforced, "finalize", "elbv2").describe_tags(ResourceArns=[listener])   # granted (item 1)
    # CodeDeploy simulator (JSON 1.1): AccessDeniedException.
    cd = as_function(enforced, "hook", "codedeploy")
    r = denied(lambda: cd.stop_deployment(deploymentId="d-AAAAAAAAA"))
    assert r["Error"]["Code"] == "AccessDeniedException"
    assert cd.get_deployment_group(applicationName="web", deploymentGroupName="web-prod")["deploymentGroupInfo"]
    # CloudWatch: alarms by ARN (validate-health may, shift-weight may not).
    as_function(enforced, "validate-health", "cloudwatch").describe_alarms(AlarmNames=["web-5xx"])
    denied(lambda: as_function(enforced, "shift-weight", "cloudwatch").describe_alarms(AlarmNames=["web-5xx"]))


def test_create_rule_with_tags_needs_add_tags(enforced, tmp_path):
    """The dependent action: CreateRule with Tags is also authorized as AddTags (ELB user guide)."""
    listener = enforced["demo"]["prod_listener_arn"]
    tg = enforced["demo"]["target_groups"]["web-green"]
    elb = as_function(enforced, "shift-weight", "elbv2")
    rule = dict(ListenerArn=listener, Priority=42, Conditions=[{"Field": "path-pattern", "Values": ["/iam-probe"]}],
                Actions=[{"Type": "forward", "TargetGroupArn": tg}], Tags=[{"Key": "hookline:managed", "Value": "x"}])
    created = elb.create_rule(**rule)["Rules"][0]["RuleArn"]
    elb.delete_rule(RuleArn=created)
    path = os.path.join(enforced["creds"], "policies.json")
    original = open(path).read()
    pol = json.loads(original)
    for doc in pol["shift-weight"]["documents"]:
        doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "TagCohortRulesOnCreate"]
    try:
        with open(path, "w") as f:
            json.dump(pol, f)
        time.sleep(1.1)   # the enforcer rereads its files at most once a second
        r = denied(lambda: elb.create_rule(**rule))
        assert "elasticloadbalancing:AddTags" in r["Error"]["Message"]
        untagged = dict(rule)
        del untagged["Tags"]
        elb.delete_rule(RuleArn=elb.create_rule(**untagged)["Rules"][0]["RuleArn"])
    finally:
        with open(path, "w") as f:
            f.write(original)
        time.sleep(1.1)


def test_call_log_names_the_calling_function(enforced):
    enforced["sb"].reset_calls()
    as_function(enforced, "validate-health", "cloudwatch").describe_alarms(AlarmNames=["web-5xx"])
    denied(lambda: as_function(enforced, "validate-health", "ssm").get_parameter(Name="/hookline/web/web-prod"))
    log = requests.get(enforced["url"] + "/_sandbox/calls?log=1", timeout=5).json()["log"]
    mine = [e for e in log if e.get("principal") == "validate-health"]
    assert [(e["service"], e["operation"]) for e in mine] == [("monitoring", "DescribeAlarms"), ("ssm", "GetParameter")]
    assert mine[0]["iam"] == [["cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:web-5xx", None]]
    assert mine[1]["denied"][0] == "ssm:GetParameter"


def test_a_call_for_another_region_is_served_there_as_the_operator_and_as_a_function(enforced):
    """The router re-signs the operator's (public key) and a function's requests for moto in the
    Region the caller signed for: moto keeps each Region's resources apart and takes the Region
    from the credential scope, so re-signing for us-east-1 moved every call there (issue 22: a
    release in another Region)."""
    kw = dict(endpoint_url=enforced["url"], aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    eu = boto3.client("ecs", region_name="eu-west-1", **kw)
    arn = eu.create_cluster(clusterName="iam-eu")["cluster"]["clusterArn"]
    assert arn.startswith(f"arn:aws:ecs:eu-west-1:{ACCOUNT}:"), arn
    us = boto3.client("ecs", region_name="us-east-1", **kw)
    assert [c["clusterName"] for c in us.describe_clusters(clusters=["iam-eu"])["clusters"]] == []
    assert [c["clusterArn"] for c in eu.describe_clusters(clusters=["iam-eu"])["clusters"]] == [arn]
    # A function's own request (re-signed with its credentials) for eu-west-1 reads eu-west-1.
    import datetime as dt
    boto3.client("cloudwatch", region_name="eu-west-1", **kw).put_metric_data(
        Namespace="IamEu", MetricData=[{"MetricName": "m", "Value": 1.0}])
    e = iam.read_env(os.path.join(enforced["creds"], "validate-health.env"))
    now = dt.datetime.now(dt.timezone.utc)

    def read(region):
        fn = boto3.client("cloudwatch", endpoint_url=enforced["url"], region_name=region,
                          aws_access_key_id=e["AWS_ACCESS_KEY_ID"], aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"],
                          aws_session_token=e["AWS_SESSION_TOKEN"])
        out = fn.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {
            "Metric": {"Namespace": "IamEu", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}],
            StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=5))
        return out["MetricDataResults"][0]["Values"]
    assert read("eu-west-1") == [1.0]
    assert read("us-east-1") == []


def test_a_functions_call_in_another_region_is_checked_on_that_regions_resources(enforced):
    """The template scopes a function's ECS statements to the stack's Region (${AWS::Region}): the
    same DescribeServices in eu-west-1 names an eu-west-1 service ARN, which they do not cover."""
    e = iam.read_env(os.path.join(enforced["creds"], "validate-health.env"))

    def ecs(region):
        return boto3.client("ecs", endpoint_url=enforced["url"], region_name=region,
                            aws_access_key_id=e["AWS_ACCESS_KEY_ID"], aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=e["AWS_SESSION_TOKEN"], config=boto3.session.Config(
                                retries={"max_attempts": 1}))
    try:   # allowed in us-east-1 (the cluster may not exist in this world: any answer but a denial)
        ecs("us-east-1").describe_services(cluster="shop", services=["web"])
    except ClientError as err:
        assert err.response["Error"]["Code"] != "AccessDeniedException", err.response
    r = denied(lambda: ecs("eu-west-1").describe_services(cluster="shop", services=["web"]))
    assert r["Error"]["Code"] == "AccessDeniedException", r
    assert f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/shop/web" in r["Error"]["Message"], r
