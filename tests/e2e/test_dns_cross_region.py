"""hookline's own Route 53 controller across Regions (issue 22, "Across Regions";
docs/route53-controller.md): blue's release is the sandbox's world in us-east-1 (load balancer
``r53-private-blue``, cluster ``shop``, service ``shop-web-blue``); green's release is built here in
eu-west-1 through AWS APIs (load balancer ``r53-private-green-eu`` tagged CanaryGroup=private /
CanaryRelease=green, its target group and listener, cluster ``shop-eu`` with service
``shop-web-green`` at 0 tasks on the Region's own subnets, as a team's stack in that Region makes it).
The deployment file places each release (``canary.releases.<name>.region`` / ``.cluster`` /
``.role_arn``) and both are reached by assuming the role ``hookline-release-xregion`` (created here
in IAM), as the functions' role in infra/template.yaml allows (``AssumeReleaseRoles``).

``hookline deploy`` moves the traffic to green; checked through AWS APIs only: Route 53's records end
blue 0 / green 100 with green's record an alias of the eu-west-1 load balancer, green's service in
eu-west-1 stable at the desired count, blue's service in us-east-1 scaled to 0, the execution
SUCCEEDED, and the functions assumed the role (the sandbox's IAM usage record). The functions'
own role cannot act there: its statements are scoped to the stack's Region, which the sandbox's
IAM enforces on the Region each call is signed for. A second test
deploys an image whose targets never get healthy there: the ready gate fails and the canary's
rollback scales green's service in eu-west-1 to 0 as the role, DNS never having moved.
"""
import json
import os
import sys
import time

import boto3
import pytest
from botocore.config import Config

from test_dns_canary import (  # noqa: F401 (world: the fixture)
    DESIRED, ENV, SERVICE, STEP_TIMEOUT_S, WeightWalk, canary_execution, deploy_file, hookline,
    stable, start, summary, world, write_file)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sandbox"))
import provision  # noqa: E402
from conftest import sandbox_state_dirs  # noqa: E402

REGION = "eu-west-1"
CLUSTER = "shop-eu"
LOAD_BALANCER = "r53-private-green-eu"
ROLE = "hookline-release-xregion"
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE}"
# What the role may do on a release: its load balancers and target health, its service and task
# definitions, its metrics (Resource "*": the sandbox's moto evaluates assumed roles by action).
ROLE_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "elasticloadbalancing:Describe*", "ecs:DescribeServices", "ecs:UpdateService", "ecs:CreateService",
    "ecs:DeleteService", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "iam:PassRole",
    "cloudwatch:GetMetricData"]}]}
# Who may assume it: the operator running `hookline deploy`, and the sessions of the functions'
# roles that act on releases (role session principals, "AWS JSON policy elements: Principal", IAM
# user guide; moto matches a trust policy's principal to the caller's ARN exactly, so the sessions
# are named rather than the account).
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
    "AWS": ["arn:aws:iam::123456789012:user/sandbox-operator"] + [
        f"arn:aws:sts::123456789012:assumed-role/{role}/{function}" for role, function in (
            ("ValidateHealthRole", "validate-health"), ("FinalizeRole", "finalize"), ("RollbackRole", "rollback"))]}}]}


def regional(sb, name, region=REGION):
    return boto3.client(name, endpoint_url=sb.endpoint, region_name=region, aws_access_key_id="sandbox",
                        aws_secret_access_key="sandbox",
                        config=Config(retries={"total_max_attempts": 3, "mode": "standard"}))


class EuRelease:
    """Green's release in eu-west-1, made and removed through AWS APIs."""

    def __init__(self, sb):
        self.sb = sb
        self.ec2, self.elb, self.ecs = (regional(sb, n) for n in ("ec2", "elbv2", "ecs"))

    def create(self):
        vpc = self.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in self.ec2.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
        sg = self.ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                        {"Name": "group-name", "Values": ["default"]}])
        sg = sg["SecurityGroups"][0]["GroupId"]
        self.lb = self.elb.create_load_balancer(Name=LOAD_BALANCER, Subnets=subnets, Type="application", Tags=[
            {"Key": "CanaryGroup", "Value": "private"}, {"Key": "CanaryRelease", "Value": "green"}])["LoadBalancers"][0]
        assert f".{REGION}." in self.lb["DNSName"], self.lb
        self.tg = self.elb.create_target_group(Name=LOAD_BALANCER, Protocol="HTTP", Port=8080, VpcId=vpc,
                                               TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        self.elb.create_listener(LoadBalancerArn=self.lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                 DefaultActions=[{"Type": "forward", "TargetGroupArn": self.tg}])
        self.ecs.create_cluster(clusterName=CLUSTER)
        td = self.ecs.register_task_definition(
            family="shop-web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "web", "image": provision.route53_demo_image("1.0.0"),
                                   "portMappings": [{"containerPort": 8080}]}])["taskDefinition"]
        # Subnets and security groups are the Region's: the team's stack there makes green's
        # service (0 tasks), and hookline updates it (decision "Across Regions").
        self.ecs.create_service(
            cluster=CLUSTER, serviceName=SERVICE["green"], taskDefinition=td["taskDefinitionArn"], desiredCount=0,
            launchType="FARGATE", loadBalancers=[{"targetGroupArn": self.tg, "containerName": "web",
                                                  "containerPort": 8080}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg],
                                                          "assignPublicIp": "DISABLED"}})
        return self

    def service(self):
        found = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE["green"]])["services"]
        return next((s for s in found if s["status"] != "INACTIVE"), None)

    def wait_service(self, predicate, what, timeout=90):
        end = time.time() + timeout
        while True:
            s = self.service()
            if predicate(s):
                return s
            if time.time() > end:
                raise AssertionError(f"{SERVICE['green']} in {REGION}: not {what} after {timeout}s: {summary(s)}")
            time.sleep(0.5)

    def remove(self):
        if self.service() is not None:
            self.ecs.update_service(cluster=CLUSTER, service=SERVICE["green"], desiredCount=0)
            self.ecs.delete_service(cluster=CLUSTER, service=SERVICE["green"], force=True)
        self.elb.delete_load_balancer(LoadBalancerArn=self.lb["LoadBalancerArn"])
        self.elb.delete_target_group(TargetGroupArn=self.tg)


@pytest.fixture
def release_role(sb):
    iam = sb.client("iam")
    try:
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="release", PolicyDocument=json.dumps(ROLE_POLICY))
    return ROLE_ARN


@pytest.fixture
def eu_release(sb, world, release_role):
    release = EuRelease(sb).create()
    yield release
    # The world fixture then puts us-east-1 back (records blue 100 / green 0 on its own balancers).
    release.remove()


def placed_file(tmp_path, version="2.0.0"):
    """The base file with one 50 % step and no approval, each release placed and reached as the role."""
    directory = deploy_file(tmp_path, [(50, 70)], version=version)
    placed = ("  releases:\n"
              "    blue:\n"
              "      region: us-east-1\n"
              f"      role_arn: \"arn:aws:iam::{{{{account_id}}}}:role/{ROLE}\"\n"
              "    green:\n"
              f"      region: {REGION}\n"
              f"      cluster: {CLUSTER}\n"
              f"      role_arn: \"arn:aws:iam::{{{{account_id}}}}:role/{ROLE}\"\n")
    path = os.path.join(directory, f"{ENV}.deploy.yml")
    with open(path) as f:
        text = f.read()
    assert "  releases:\n    blue: blue\n    green: green\n" in text
    write_file(directory, text.replace("  releases:\n    blue: blue\n    green: green\n", placed, 1))
    return directory


def assumed_roles():
    """{function: [role ARNs]} of the sts:AssumeRole calls the sandbox's IAM recorded in this
    sandbox's life (credentials/usage.jsonl, one line per distinct call: a warm function keeps the
    role's credentials, so its AssumeRole may predate the test)."""
    out = {}
    for state in sandbox_state_dirs():
        path = os.path.join(state, "credentials", "usage.jsonl")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                if e.get("service") == "sts" and e.get("operation") == "AssumeRole":
                    out.setdefault(e["principal"], []).extend(r for _, r, _ in e["iam"])
    return out


@pytest.mark.slow
def test_a_move_to_a_release_in_another_region_ends_on_green_there(sb, world, eu_release, tmp_path):
    directory = placed_file(tmp_path)
    r = hookline(sb, "plan", "preview", os.path.join(directory, f"{ENV}.deploy.yml"), timeout=60)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert f"release green: Region {REGION}, cluster {CLUSTER}, as role {ROLE_ARN}" in r.stdout, r.stdout
    with WeightWalk(world) as walk:
        deployment_id = start(sb, directory)
        arn = canary_execution(sb, deployment_id)
        done = sb.wait_execution_done(arn, timeout=3 * STEP_TIMEOUT_S)
        assert done["status"] == "SUCCEEDED", done
        world.wait_service("blue", lambda s: s is not None and s["desiredCount"] == 0, "scaled to 0")
    assert walk.seen == [(100, 0), (50, 50), (0, 100)], f"records walked {walk.seen}"
    # Green's record is the eu-west-1 load balancer's alias (Route 53 is global).
    green_record = world.records()["green"]
    assert green_record["AliasTarget"]["DNSName"].rstrip(".").lower() == eu_release.lb["DNSName"].lower(), \
        green_record
    assert green_record["AliasTarget"]["HostedZoneId"] == eu_release.lb["CanonicalHostedZoneId"], green_record
    # Green runs in eu-west-1 with the file's desired count, on hookline's task definition there.
    green = eu_release.service()
    assert stable(DESIRED)(green), summary(green)
    assert green["taskDefinition"].startswith(f"arn:aws:ecs:{REGION}:"), green["taskDefinition"]
    image = eu_release.ecs.describe_task_definition(taskDefinition=green["taskDefinition"])["taskDefinition"][
        "containerDefinitions"][0]["image"]
    assert image.endswith("/shop-web:2.0.0"), image
    healthy = [t for t in eu_release.elb.describe_target_health(TargetGroupArn=eu_release.tg)[
        "TargetHealthDescriptions"] if t["TargetHealth"]["State"] == "healthy"]
    assert len(healthy) == DESIRED, healthy
    # Blue in us-east-1 scaled to 0; no service of that name was made in us-east-1 for green.
    assert world.service("blue")["desiredCount"] == 0, summary(world.service("blue"))
    assert world.service("green") is None, summary(world.service("green"))
    # The functions reached both releases as the role: validate-health (green's service and targets)
    # and finalize (blue's scale-down) assumed it.
    assumed = assumed_roles()
    for function in ("validate-health", "finalize"):
        assert ROLE_ARN in assumed.get(function, []), f"{function} did not assume {ROLE_ARN}: {assumed}"
    r = hookline(sb, "status", deployment_id, timeout=60)
    assert r.returncode == 0 and "Succeeded" in r.stdout, f"{r.stdout}\n{r.stderr}"


@pytest.mark.slow
def test_a_new_release_in_another_region_that_never_gets_healthy_is_scaled_to_zero_there(
        sb, world, eu_release, tmp_path):
    # An image tag with `unhealthy`: green's targets in eu-west-1 fail the load balancer's health
    # checks, so the ready gate fails after scale.wait (20 s here) and the canary's rollback runs.
    directory = placed_file(tmp_path, version="2.0.0-unhealthy")
    path = os.path.join(directory, f"{ENV}.deploy.yml")
    with open(path) as f:
        text = f.read()
    assert "  scale:\n    wait: 60\n" in text
    write_file(directory, text.replace("  scale:\n    wait: 60\n", "  scale:\n    wait: 20\n", 1))
    with WeightWalk(world) as walk:
        deployment_id = start(sb, directory)
        arn = canary_execution(sb, deployment_id)
        done = sb.wait_execution_done(arn, timeout=STEP_TIMEOUT_S)
        assert done["status"] == "FAILED", done
        # The rollback function scaled green to 0 in eu-west-1, as the role.
        eu_release.wait_service(lambda s: s is not None and s["desiredCount"] == 0, "scaled to 0", timeout=60)
    failures = [e for e, _ in sb.task_failures(arn)]
    assert "HealthCheckFailed" in failures, f"the ready gate must fail: {failures}"
    assert walk.seen == [(100, 0)], f"DNS must never have moved: {walk.seen}"
    blue = world.service("blue")
    assert stable(DESIRED)(blue), f"blue keeps serving in us-east-1: {summary(blue)}"
    assumed = assumed_roles()
    assert ROLE_ARN in assumed.get("rollback", []), f"rollback did not assume {ROLE_ARN}: {assumed}"
    r = hookline(sb, "status", deployment_id, timeout=60)
    assert r.returncode == 0 and "Failed" in r.stdout, f"{r.stdout}\n{r.stderr}"
