"""The DNS data plane in the router's traffic loop (sim/dns.py, router.py ``_dns_tick``) over the
Route 53 world every sandbox has (provision.provision_route53_demo): clients resolve
web.shop.example.com from moto's weighted records through caching resolvers; each load balancer's
RequestCount and HTTPCode_Target_5XX_Count land in CloudWatch with AWS's dimension; alarm
shop-web-5xx follows a bad release; the control endpoints. The slow test runs Route 53's real
60 s TTL (AWS has no shorter TTL for an alias to a load balancer, so the sandbox has no knob)."""
import datetime as dt
import time

import boto3
import pytest
import requests
from botocore.config import Config

import provision
from router import Sandbox
from sim.dns import ELB_ALIAS_TTL_S, DnsConfig
from sim.ecs.common import EcsConfig
from sim.route53 import Route53Config

ACCOUNT = "123456789012"


@pytest.fixture
def world(moto_url):
    requests.post(moto_url + "/moto-api/reset", timeout=10)
    sb = Sandbox(port=0, moto_url=moto_url, lambda_url="http://127.0.0.1:9", app_traffic=False,
                 ecs_config=EcsConfig(ecs_task_start_s=0.2, ecs_health_check_s=0.2),
                 r53_config=Route53Config(r53_propagation="0s"), dns_config=DnsConfig()).start()
    out = provision.provision_route53_demo(sb.url)
    kw = dict(endpoint_url=sb.url, region_name="us-east-1", aws_access_key_id="sandbox",
              aws_secret_access_key="sandbox", config=Config(retries={"total_max_attempts": 2, "mode": "standard"}))

    class W:
        pass
    w = W()
    w.sb, w.out = sb, out
    w.ecs, w.r53, w.cw = boto3.client("ecs", **kw), boto3.client("route53", **kw), boto3.client("cloudwatch", **kw)
    w.elb = boto3.client("elbv2", **kw)
    w.ctl = lambda path, body=None: (requests.post(sb.url + "/_sandbox" + path, json=body, timeout=10)
                                     if body is not None else requests.get(sb.url + "/_sandbox" + path, timeout=10))
    w.weights = lambda blue, green: set_weights(w, blue, green)
    w.green = lambda tag: create_green(w, tag)
    yield w
    sb.stop()
    # the services this router ran are unknown to the next test's router: leave moto empty
    requests.post(moto_url + "/moto-api/reset", timeout=10)


def set_weights(w, blue, green):
    lbs = w.out["load_balancers"]
    info = w.r53.change_resource_record_sets(HostedZoneId=w.out["hosted_zone_id"], ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": w.out["fqdn"], "Type": "A", "SetIdentifier": rel, "Weight": weight,
            "AliasTarget": {"HostedZoneId": lbs[rel]["hosted_zone_id"], "DNSName": lbs[rel]["dns_name"],
                            "EvaluateTargetHealth": True}}} for rel, weight in (("blue", blue), ("green", green))]})
    return info["ChangeInfo"]


def create_green(w, tag):
    """Green's service as `hookline deploy` creates it (naming rule <service.name>-<release>)."""
    s = w.out["service"]
    td = w.ecs.register_task_definition(
        family=s["family"], networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": s["container"], "image": provision.route53_demo_image(tag),
                               "portMappings": [{"containerPort": s["port"]}]}])["taskDefinition"]["taskDefinitionArn"]
    w.ecs.create_service(cluster=w.out["cluster"], serviceName="shop-web-green", taskDefinition=td, desiredCount=2,
                         launchType="FARGATE", loadBalancers=[{
                             "targetGroupArn": w.out["load_balancers"]["green"]["target_group_arn"],
                             "containerName": s["container"], "containerPort": s["port"]}])
    w.ecs.get_waiter("services_stable").wait(cluster="shop", services=["shop-web-green"],
                                             WaiterConfig={"Delay": 0.25, "MaxAttempts": 40})
    elb = w.elb
    wait_for(lambda: [t["TargetHealth"]["State"] for t in elb.describe_target_health(
        TargetGroupArn=w.out["load_balancers"]["green"]["target_group_arn"])["TargetHealthDescriptions"]] == [
        "healthy", "healthy"])


def wait_for(fn, timeout=15.0, step=0.1):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise AssertionError(f"not reached in {timeout}s")
        time.sleep(step)


def metric_sum(w, release, name, since):
    dim = w.out["load_balancers"][release]["dimension"]
    out = w.cw.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
        "Namespace": "AWS/ApplicationELB", "MetricName": name,
        "Dimensions": [{"Name": "LoadBalancer", "Value": dim}]}, "Period": 60, "Stat": "Sum"}}],
        StartTime=since - dt.timedelta(minutes=1), EndTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1))
    return sum(out["MetricDataResults"][0]["Values"])


def totals(w):
    t = w.ctl("/dns").json()["totals"]
    return {k: v["requests"] for k, v in t.items()}


def test_clients_send_every_request_to_blue_and_request_count_is_published_per_load_balancer(world):
    w = world
    since = dt.datetime.now(dt.timezone.utc)
    r = w.ctl("/traffic", {"enabled": True, "interval_ms": 100, "dns": {"clients": 10, "requests_per_client": 3}})
    assert r.status_code == 200 and r.json()["dns"]["clients"] == 10
    wait_for(lambda: w.ctl("/dns").json()["ticks"] >= 5)
    d = w.ctl("/dns").json()
    assert set(d["totals"]) == {"r53-private-blue"} and d["last"]["sent"]["r53-private-blue"]["requests"] == 30
    recs = {x["set_identifier"]: x for x in d["last"]["records"]}
    assert recs["blue"]["weight"] == 100 and recs["green"]["weight"] == 0 and recs["blue"]["ttl"] == 60
    assert recs["green"]["healthy"] is False      # DNS-EVALUATE-HEALTH: a group without targets is unhealthy
    w.ctl("/traffic", {"enabled": False})
    sent = w.ctl("/dns").json()["totals"]["r53-private-blue"]["requests"]
    assert metric_sum(w, "blue", "RequestCount", since) == sent
    assert metric_sum(w, "green", "RequestCount", since) == 0
    # the control endpoint refuses what it cannot use, naming it
    bad = w.ctl("/traffic", {"dns": {"clients": 0}})
    assert bad.status_code == 400 and "dns.clients" in bad.text
    assert w.ctl("/traffic", {"dns": {"clinets": 3}}).status_code == 400


def test_restart_gives_a_population_without_the_previous_answers(world):
    """Clients that cached green keep it for the TTL after DNS went back to blue; `restart` starts them
    over: the next tick every client asks, and gets blue."""
    w = world
    cached = lambda: (w.ctl("/dns").json()["last"] or {}).get("cached")  # noqa: E731
    w.green("2.0.0")
    w.ctl("/traffic", {"enabled": True, "interval_ms": 100, "dns": {"clients": 20}})
    w.weights(0, 100)
    wait_for(lambda: cached() == {"r53-private-green": 20}, timeout=ELB_ALIAS_TTL_S + 10)
    w.weights(100, 0)
    time.sleep(0.5)
    assert cached().get("r53-private-green", 0) > 10   # cached for up to the TTL
    assert w.ctl("/traffic", {"dns": {"restart": "yes"}}).status_code == 400
    assert w.ctl("/traffic", {"dns": {"restart": True, "reset": True}}).status_code == 200
    wait_for(lambda: w.ctl("/dns").json()["ticks"] >= 2)
    assert cached() == {"r53-private-blue": 20}
    assert set(totals(w)) == {"r53-private-blue"}
    w.ctl("/traffic", {"enabled": False})


def test_a_bad_release_taking_traffic_sets_the_alarm_and_counts_target_5xx_then_ok_again(world):
    w = world
    w.ctl("/config", {"dns_resolver_cache": "none"})   # resolvers follow the records at once
    w.ctl("/traffic", {"enabled": True, "interval_ms": 100, "dns": {"clients": 20}})
    w.green("2.0.0-bad")
    since = dt.datetime.now(dt.timezone.utc)
    w.weights(50, 50)
    wait_for(lambda: w.cw.describe_alarms(AlarmNames=["shop-web-5xx"])["MetricAlarms"][0]["StateValue"] == "ALARM")
    wait_for(lambda: metric_sum(w, "green", "HTTPCode_Target_5XX_Count", since) > 0)
    assert metric_sum(w, "blue", "HTTPCode_Target_5XX_Count", since) == 0
    assert metric_sum(w, "green", "RequestCount", since) > 0
    w.weights(100, 0)
    wait_for(lambda: w.cw.describe_alarms(AlarmNames=["shop-web-5xx"])["MetricAlarms"][0]["StateValue"] == "OK")
    w.ctl("/traffic", {"enabled": False})


def test_an_unhealthy_release_is_skipped_even_at_weight_100_and_weight_0_takes_over(world):
    """DNS-EVALUATE-HEALTH + DNS-WEIGHT-ZERO: green 100 without a service (no targets) -> blue answers;
    blue's targets faulted unhealthy too -> no record healthy -> the weights decide (green)."""
    w = world
    w.ctl("/config", {"dns_resolver_cache": "none"})
    w.ctl("/traffic", {"enabled": True, "interval_ms": 100, "dns": {"clients": 20, "reset": True}})
    w.weights(0, 100)
    time.sleep(0.5)
    w.ctl("/traffic", {"dns": {"reset": True}})
    wait_for(lambda: w.ctl("/dns").json()["ticks"] >= 3)
    assert set(totals(w)) == {"r53-private-blue"}
    w.ctl("/faults", {"kind": "unhealthy", "target_group": "r53-private-blue"})
    time.sleep(0.3)
    w.ctl("/traffic", {"dns": {"reset": True}})
    wait_for(lambda: w.ctl("/dns").json()["ticks"] >= 3)
    t = w.ctl("/dns").json()["totals"]
    assert set(t) == {"r53-private-green"} and t["r53-private-green"]["elb_5xx"] > 0   # no target: ELB's 503
    requests.delete(w.sb.url + "/_sandbox/faults", timeout=10)
    w.ctl("/traffic", {"enabled": False})


def test_while_a_change_is_pending_resolvers_get_the_previous_records(world):
    w = world
    w.ctl("/config", {"dns_resolver_cache": "none", "r53_propagation": "2s"})
    w.ctl("/traffic", {"enabled": True, "interval_ms": 100, "dns": {"clients": 20}})
    w.green("2.0.0")
    info = w.weights(0, 100)
    w.ctl("/traffic", {"dns": {"reset": True}})
    time.sleep(0.8)
    assert w.r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    assert set(totals(w)) == {"r53-private-blue"}          # DNS-PENDING-ANSWERS previous
    wait_for(lambda: w.r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC")
    time.sleep(0.3)
    w.ctl("/traffic", {"dns": {"reset": True}})
    wait_for(lambda: w.ctl("/dns").json()["ticks"] >= 3)
    assert set(totals(w)) == {"r53-private-green"}
    # dns_pending_answers new: the records at once
    w.ctl("/config", {"dns_pending_answers": "new"})
    w.weights(100, 0)
    w.ctl("/traffic", {"dns": {"reset": True}})
    wait_for(lambda: w.ctl("/dns").json()["ticks"] >= 3)
    assert set(totals(w)) == {"r53-private-blue"}
    w.ctl("/traffic", {"enabled": False})


@pytest.mark.slow
def test_after_a_weight_change_the_observed_share_lags_the_ttl_then_converges(world):
    """Route 53's real 60 s TTL: right after INSYNC of blue 100 -> 50/50, green's RequestCount share
    is well below 50 %, it grows as resolvers' answers expire, and within TTL + a few ticks it is
    ~50 %. 200 clients so the share is not sampling noise."""
    w = world
    w.green("2.0.0")
    w.ctl("/traffic", {"enabled": True, "interval_ms": 500, "dns": {"clients": 200}})
    time.sleep(2)      # every client holds an answer (blue)
    info = w.weights(50, 50)
    wait_for(lambda: w.r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC")
    insync = time.time()
    w.ctl("/traffic", {"dns": {"reset": True}})

    def window(seconds):
        w.ctl("/traffic", {"dns": {"reset": True}})
        time.sleep(seconds)
        t = totals(w)
        return t.get("r53-private-green", 0) / max(1, sum(t.values()))
    early = window(5)                    # t in [0, 5] s after INSYNC: ~ 5/60 x 50 % = 4 %
    assert early < 0.15, early
    time.sleep(max(0.0, insync + 25 - time.time()))
    middle = window(5)                   # [25, 30] s: ~ 23 %
    assert early < middle < 0.4, (early, middle)
    time.sleep(max(0.0, insync + 62 - time.time()))
    late = window(5)                     # TTL + a few ticks: every resolver asked again
    assert 0.4 < late < 0.6, (early, middle, late)
    w.ctl("/traffic", {"enabled": False})


def test_a_release_in_another_region_runs_its_tasks_there_and_gets_its_share(world):
    """Cross-Region (issue 22): green's load balancer, target group and service in us-west-2, its
    record in the same zone; the service's targets register in us-west-2, the clients reach it by
    its weight, and its RequestCount is in us-west-2's CloudWatch (ALB metrics are regional)."""
    w = world
    kw = dict(endpoint_url=w.sb.url, region_name="us-west-2", aws_access_key_id="sandbox",
              aws_secret_access_key="sandbox", config=Config(retries={"total_max_attempts": 2, "mode": "standard"}))
    ec2, elb, ecs, cw = (boto3.client(n, **kw) for n in ("ec2", "elbv2", "ecs", "cloudwatch"))
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    lb = elb.create_load_balancer(Name="r53-private-west", Subnets=subnets, Type="application", Tags=[
        {"Key": "CanaryGroup", "Value": "private"}, {"Key": "CanaryRelease", "Value": "green"}])["LoadBalancers"][0]
    assert ".us-west-2." in lb["DNSName"]
    tg = elb.create_target_group(Name="r53-private-west", Protocol="HTTP", Port=8080, VpcId=vpc,
                                 TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    ecs.create_cluster(clusterName="shop-west")
    td = ecs.register_task_definition(family="shop-web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                      cpu="256", memory="512", containerDefinitions=[{
                                          "name": "web", "image": provision.route53_demo_image("2.0.0"),
                                          "portMappings": [{"containerPort": 8080}]}])["taskDefinition"]
    svc = ecs.create_service(cluster="shop-west", serviceName="shop-web-green", taskDefinition=td["taskDefinitionArn"],
                             desiredCount=2, launchType="FARGATE", loadBalancers=[
                                 {"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}])["service"]
    assert svc["serviceArn"].startswith("arn:aws:ecs:us-west-2:")
    ecs.get_waiter("services_stable").wait(cluster="shop-west", services=["shop-web-green"],
                                           WaiterConfig={"Delay": 0.25, "MaxAttempts": 40})
    wait_for(lambda: [t["TargetHealth"]["State"] for t in elb.describe_target_health(TargetGroupArn=tg)[
        "TargetHealthDescriptions"]] == ["healthy", "healthy"])
    assert w.elb.describe_target_groups(Names=["r53-private-green"])["TargetGroups"]   # us-east-1's untouched
    assert w.elb.describe_target_health(TargetGroupArn=w.out["load_balancers"]["green"]["target_group_arn"])[
        "TargetHealthDescriptions"] == []
    w.r53.change_resource_record_sets(HostedZoneId=w.out["hosted_zone_id"], ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": w.out["fqdn"], "Type": "A", "SetIdentifier": "green", "Weight": 50,
            "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"],
                            "EvaluateTargetHealth": True}}},
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": w.out["fqdn"], "Type": "A", "SetIdentifier": "blue", "Weight": 50,
            "AliasTarget": {"HostedZoneId": w.out["load_balancers"]["blue"]["hosted_zone_id"],
                            "DNSName": w.out["load_balancers"]["blue"]["dns_name"], "EvaluateTargetHealth": True}}}]})
    w.ctl("/config", {"dns_resolver_cache": "none"})
    since = dt.datetime.now(dt.timezone.utc)
    w.ctl("/traffic", {"enabled": True, "interval_ms": 100, "dns": {"clients": 40, "reset": True}})
    wait_for(lambda: w.ctl("/dns").json()["ticks"] >= 5)
    w.ctl("/traffic", {"enabled": False})
    t = totals(w)
    assert t.get("r53-private-west", 0) > 0 and t.get("r53-private-blue", 0) > 0, t
    west = cw.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
        "Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount",
        "Dimensions": [{"Name": "LoadBalancer", "Value": lb["LoadBalancerArn"].split(":loadbalancer/")[1]}]},
        "Period": 60, "Stat": "Sum"}}], StartTime=since - dt.timedelta(minutes=1),
        EndTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1))["MetricDataResults"][0]["Values"]
    assert sum(west) == w.ctl("/dns").json()["totals"]["r53-private-west"]["requests"]
    ecs.update_service(cluster="shop-west", service="shop-web-green", desiredCount=0)
    assert elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"] == []


def test_restore_route53_world_puts_back_what_provisioning_left(world):
    """client.restore_route53_world(): what e2e tests of hookline's own controller call to leave the
    sandbox as they found it (green's service gone, blue's back, weights 100/0, alarm OK)."""
    from client import Sandbox as Client
    w = world
    w.green("2.0.0")
    w.weights(0, 100)
    blue_td = w.ecs.register_task_definition(
        family="shop-web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": provision.route53_demo_image("3.0.0"),
                               "portMappings": [{"containerPort": 8080}]}])["taskDefinition"]["taskDefinitionArn"]
    w.ecs.update_service(cluster="shop", service="shop-web-blue", taskDefinition=blue_td, desiredCount=1)
    w.cw.set_alarm_state(AlarmName="shop-web-5xx", StateValue="ALARM", StateReason="test")
    out = Client(w.sb.url, max_attempts=2).restore_route53_world()
    assert out["hosted_zone_id"] == w.out["hosted_zone_id"]
    services = {s["serviceName"]: s for s in w.ecs.describe_services(
        cluster="shop", services=["shop-web-blue", "shop-web-green"])["services"]}
    assert services["shop-web-green"]["status"] in ("DRAINING", "INACTIVE")
    blue = services["shop-web-blue"]
    assert blue["taskDefinition"].endswith("shop-web:1") and (blue["runningCount"], blue["desiredCount"]) == (2, 2)
    assert len(blue["deployments"]) == 1
    recs = w.r53.list_resource_record_sets(HostedZoneId=w.out["hosted_zone_id"])["ResourceRecordSets"]
    assert {r["SetIdentifier"]: r["Weight"] for r in recs if r["Type"] == "A"} == {"blue": 100, "green": 0}
    assert w.cw.describe_alarms(AlarmNames=["shop-web-5xx"])["MetricAlarms"][0]["StateValue"] == "OK"
    # after the restore green's name is free for the next deploy
    w.green("2.0.1")
