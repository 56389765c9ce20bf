"""Plain ECS services behind a load balancer (sim/ecs/rolling.py), driven with boto3 through the
router as hookline's own controller drives them: tasks run and register (ECS-R1, ECS-R2), the
services_stable waiter holds only after a rollout (ECS-R3, ECS-R4), scaling to 0 deregisters
(ECS-R5), DeleteService (ECS-R6), names (ECS-R7), inactive services (ECS-R8), ListServices (ECS-R9). Each test of a gap
fails against moto alone (moto: runningCount 0 for ever, no targets, INACTIVE at once)."""
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

import provision
from router import Sandbox
from sim.ecs.common import EcsConfig

ACCOUNT = "123456789012"


@pytest.fixture
def env(moto_url):
    requests.post(moto_url + "/moto-api/reset", timeout=10)
    sb = Sandbox(port=0, moto_url=moto_url, lambda_url="http://127.0.0.1:9", app_traffic=False,
                 ecs_config=EcsConfig(ecs_task_start_s=0.3, ecs_health_check_s=0.3)).start()
    kw = dict(endpoint_url=sb.url, region_name="us-east-1", aws_access_key_id="sandbox",
              aws_secret_access_key="sandbox", config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    ecs, elb, ec2 = boto3.client("ecs", **kw), boto3.client("elbv2", **kw), boto3.client("ec2", **kw)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    tg = elb.create_target_group(Name="roll-tg", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
                                 HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    ecs.create_cluster(clusterName="shop")

    class Env:
        pass
    e = Env()
    e.sb, e.ecs, e.elb, e.tg = sb, ecs, elb, tg
    e.td = lambda tag: ecs.register_task_definition(
        family="shop-web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop-web:{tag}",
                               "portMappings": [{"containerPort": 8080}]}])["taskDefinition"]["taskDefinitionArn"]
    e.create = lambda name="shop-web-green", tag="1.0.0", desired=2, **kw: ecs.create_service(
        cluster="shop", serviceName=name, taskDefinition=e.td(tag), desiredCount=desired, launchType="FARGATE",
        loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}], **kw)["service"]
    e.describe = lambda name="shop-web-green": ecs.describe_services(cluster="shop", services=[name])["services"][0]
    e.health = lambda: sorted((t["Target"]["Id"], t["TargetHealth"]["State"]) for t in elb.describe_target_health(
        TargetGroupArn=tg)["TargetHealthDescriptions"])
    e.stable = lambda name="shop-web-green", attempts=40: ecs.get_waiter("services_stable").wait(
        cluster="shop", services=[name], WaiterConfig={"Delay": 0.25, "MaxAttempts": attempts})
    yield e
    sb.stop()
    # the services this router ran are unknown to the next test's router: leave moto empty
    requests.post(moto_url + "/moto-api/reset", timeout=10)


def wait_for(fn, timeout=10.0, step=0.1):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise AssertionError(f"not reached in {timeout}s: {fn}")
        time.sleep(step)


def test_a_new_service_is_stable_only_once_its_tasks_run_and_then_its_targets_turn_healthy(env):
    s = env.create()
    assert s["runningCount"] == 0 and s["pendingCount"] == 2 and s["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert env.health() == []                       # nothing registered while the tasks are PENDING
    env.stable()                                    # ECS-R4: moto alone never gets there (runningCount 0)
    s = env.describe()
    assert (s["runningCount"], s["desiredCount"], len(s["deployments"])) == (2, 2, 1)
    states = {st for _, st in env.health()}
    assert len(env.health()) == 2 and states <= {"initial", "healthy"}    # ECS-R2: registered, checks running
    wait_for(lambda: {st for _, st in env.health()} == {"healthy"})
    assert all(p == 8080 for p in [t["Target"]["Port"] for t in env.elb.describe_target_health(
        TargetGroupArn=env.tg)["TargetHealthDescriptions"]])
    assert wait_for(lambda: env.describe()["deployments"][0]["rolloutState"] == "COMPLETED")


def test_a_new_task_definition_rolls_the_tasks_keeping_minimum_healthy(env):
    env.create()
    env.stable()
    wait_for(lambda: [st for _, st in env.health()] == ["healthy", "healthy"])
    old_ips = {i for i, _ in env.health()}
    env.ecs.update_service(cluster="shop", service="shop-web-green", taskDefinition=env.td("2.0.0"))
    s = env.describe()
    assert len(s["deployments"]) == 2 and s["deployments"][0]["status"] == "PRIMARY"   # ECS-R3
    assert s["deployments"][0]["taskDefinition"].endswith("shop-web:2")
    seen_healthy = []

    def done():
        h = env.health()
        seen_healthy.append(sum(1 for _, st in h if st == "healthy"))
        return len(env.describe()["deployments"]) == 1 and {i for i, _ in h}.isdisjoint(old_ips) and h
    wait_for(done)
    assert min(seen_healthy) >= 2, seen_healthy     # minimumHealthyPercent 100: never below 2 healthy
    env.stable(attempts=4)
    images = {t["image"] for d in env.sb.rolling.snapshot()["shop/shop-web-green"]["deployments"] for t in [d]}
    assert images == {f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop-web:2.0.0"}


def test_an_image_that_fails_health_checks_never_replaces_the_old_tasks(env):
    env.create()
    env.stable()
    wait_for(lambda: [st for _, st in env.health()] == ["healthy", "healthy"])
    env.ecs.update_service(cluster="shop", service="shop-web-green", taskDefinition=env.td("2.0.0-unhealthy"))
    time.sleep(1.5)
    h = env.health()
    assert sorted(st for _, st in h) == ["healthy", "healthy", "unhealthy", "unhealthy"], h
    reasons = {t["TargetHealth"].get("Reason") for t in env.elb.describe_target_health(
        TargetGroupArn=env.tg)["TargetHealthDescriptions"] if t["TargetHealth"]["State"] == "unhealthy"}
    assert reasons == {"Target.ResponseCodeMismatch"}
    assert len(env.describe()["deployments"]) == 2   # not stable: hookline's ready timeout must end it
    with pytest.raises(Exception):
        env.stable(attempts=3)


def test_scaling_to_zero_stops_the_tasks_and_deregisters_them(env):
    env.create()
    env.stable()
    env.ecs.update_service(cluster="shop", service="shop-web-green", desiredCount=0)
    s = env.describe()
    assert (s["desiredCount"], s["runningCount"]) == (0, 0)   # ECS-R5
    assert env.health() == []
    env.stable(attempts=2)
    env.ecs.update_service(cluster="shop", service="shop-web-green", desiredCount=3)
    env.stable()
    assert len(env.health()) == 3


def test_delete_service_needs_zero_or_force_then_drains_to_inactive_and_the_name_is_free_again(env):
    env.create()
    env.stable()
    with pytest.raises(ClientError) as e:
        env.ecs.delete_service(cluster="shop", service="shop-web-green")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"   # ECS-R6
    assert env.describe()["status"] == "ACTIVE" and len(env.health()) == 2
    with pytest.raises(ClientError) as e:
        env.create()                                                          # ECS-R7
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "not idempotent" in e.value.response["Error"]["Message"]
    listed = env.ecs.list_services(cluster="shop")["serviceArns"]
    assert [a.rsplit("/", 1)[1] for a in listed] == ["shop-web-green"]
    out = env.ecs.delete_service(cluster="shop", service="shop-web-green", force=True)["service"]
    assert out["status"] in ("DRAINING", "INACTIVE")
    assert env.ecs.list_services(cluster="shop")["serviceArns"] == []          # ECS-R9
    wait_for(lambda: env.describe()["status"] == "INACTIVE")
    assert env.health() == []
    with pytest.raises(ClientError) as e:
        env.ecs.update_service(cluster="shop", service="shop-web-green", desiredCount=2)
    assert e.value.response["Error"]["Code"] == "ServiceNotActiveException"   # ECS-R8
    again = env.create()                                                      # an INACTIVE name is free
    assert again["status"] == "ACTIVE"
    env.stable()
    assert len(env.health()) == 2


def test_delete_of_a_service_scaled_to_zero_goes_inactive_at_once(env):
    env.create(desired=1)
    env.stable()
    env.ecs.update_service(cluster="shop", service="shop-web-green", desiredCount=0)
    assert env.ecs.delete_service(cluster="shop", service="shop-web-green")["service"]["status"] == "INACTIVE"


def test_the_route53_world_has_blue_stable_and_healthy_and_no_green_service(moto_url):
    """provision.provision_route53_demo, what every sandbox has (provision.py): names and ARNs."""
    requests.post(moto_url + "/moto-api/reset", timeout=10)
    sb = Sandbox(port=0, moto_url=moto_url, lambda_url="http://127.0.0.1:9", app_traffic=False).start()
    try:
        sb.r53.cfg.r53_propagation = "0s"
        out = provision.provision_route53_demo(sb.url)
        c = provision.clients(sb.url)
        blue = c["ecs"].describe_services(cluster="shop", services=["shop-web-blue"])["services"][0]
        assert (blue["runningCount"], blue["desiredCount"], len(blue["deployments"])) == (2, 2, 1)
        assert blue["loadBalancers"][0]["targetGroupArn"] == out["load_balancers"]["blue"]["target_group_arn"]
        td = c["ecs"].describe_task_definition(taskDefinition=blue["taskDefinition"])["taskDefinition"]
        assert td["family"] == "shop-web" and td["containerDefinitions"][0]["image"] == \
            f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop-web:1.0.0"
        assert c["ecs"].describe_services(cluster="shop", services=["shop-web-green"])["services"] == []
        for release in ("blue", "green"):
            lb = out["load_balancers"][release]
            assert lb["name"] == f"r53-private-{release}" and lb["dimension"].startswith(f"app/r53-private-{release}/")
            l = c["elbv2"].describe_listeners(LoadBalancerArn=lb["arn"])["Listeners"]
            assert [(x["Port"], x["DefaultActions"][0]["TargetGroupArn"]) for x in l] == [(80, lb["target_group_arn"])]
        states = [t["TargetHealth"]["State"] for t in c["elbv2"].describe_target_health(
            TargetGroupArn=out["load_balancers"]["blue"]["target_group_arn"])["TargetHealthDescriptions"]]
        assert states == ["healthy", "healthy"]
        assert c["cloudwatch"].describe_alarms(AlarmNames=["shop-web-5xx"])["MetricAlarms"][0]["StateValue"] == "OK"
        again = provision.provision_route53_demo(sb.url)   # idempotent
        assert again["service"]["blue_arn"] == out["service"]["blue_arn"]
    finally:
        sb.stop()
        requests.post(moto_url + "/moto-api/reset", timeout=10)
