"""infra/route53-canary-example.yaml: the service side of hookline's own controller (issue 22,
docs/route53-controller.md).

Checks what cfn-lint and checkov cannot: two load balancer releases found by the tags hookline reads
(CanaryGroup, CanaryRelease), each with its own listener and target group; one weighted alias record
per release for the same name and type (SetIdentifier = the release, blue 100 / green 0,
EvaluateTargetHealth, no TTL: Route 53 refuses a TTL on an alias record); blue's plain rolling
service in blue's group named by the controller's rule <service.name>-<release>; no green service
(hookline creates it); and the defaults are the sandbox's Route 53 world (tests/sandbox/provision.py)."""

import pytest

from conftest import load_template

NAME = "route53-canary-example.yaml"


@pytest.fixture(scope="module")
def t():
    return load_template(NAME)


def resources(t, kind):
    return {k: v["Properties"] for k, v in t["Resources"].items() if v["Type"] == kind}


def tags(props):
    return {x["Key"]: x["Value"] for x in props.get("Tags", [])}


def test_two_releases_tagged_as_hookline_finds_them_each_with_its_own_listener_and_group(t):
    lbs = resources(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert set(lbs) == {"BlueLoadBalancer", "GreenLoadBalancer"}
    assert tags(lbs["BlueLoadBalancer"]) == {"CanaryGroup": {"Ref": "CanaryGroup"}, "CanaryRelease": {"Ref": "BlueRelease"}}
    assert tags(lbs["GreenLoadBalancer"]) == {"CanaryGroup": {"Ref": "CanaryGroup"},
                                              "CanaryRelease": {"Ref": "GreenRelease"}}
    listeners = resources(t, "AWS::ElasticLoadBalancingV2::Listener")
    forwards = {p["LoadBalancerArn"]["Ref"]: p["DefaultActions"][0]["TargetGroupArn"]["Ref"] for p in listeners.values()}
    assert forwards == {"BlueLoadBalancer": "BlueTargetGroup", "GreenLoadBalancer": "GreenTargetGroup"}
    groups = resources(t, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {g["TargetType"] for g in groups.values()} == {"ip"}
    assert {g["Port"]["Ref"] for g in groups.values()} == {"ContainerPort"}


def test_one_weighted_alias_record_per_release_blue_100_green_0_evaluating_health_without_ttl(t):
    recs = resources(t, "AWS::Route53::RecordSet")
    assert set(recs) == {"BlueRecord", "GreenRecord"}
    for name, release, weight, lb in (("BlueRecord", "BlueRelease", 100, "BlueLoadBalancer"),
                                      ("GreenRecord", "GreenRelease", 0, "GreenLoadBalancer")):
        r = recs[name]
        assert r["Name"] == {"Ref": "RecordName"} and r["Type"] == "A"
        assert r["SetIdentifier"] == {"Ref": release} and r["Weight"] == weight
        assert "TTL" not in r and "ResourceRecords" not in r
        assert r["AliasTarget"] == {"DNSName": {"Fn::GetAtt": [lb, "DNSName"]},
                                    "HostedZoneId": {"Fn::GetAtt": [lb, "CanonicalHostedZoneID"]},
                                    "EvaluateTargetHealth": True}
        assert r["HostedZoneId"] == {"Fn::If": ["CreateZone", {"Ref": "HostedZone"}, {"Ref": "HostedZoneId"}]}


def test_blue_has_a_plain_rolling_service_in_its_group_and_green_none(t):
    services = resources(t, "AWS::ECS::Service")
    assert list(services) == ["BlueService"]
    svc = services["BlueService"]
    assert svc["ServiceName"] == {"Fn::Sub": "${ServiceName}-${BlueRelease}"}   # <service.name>-<release>
    assert svc["DeploymentController"] == {"Type": "ECS"}
    assert "Strategy" not in svc["DeploymentConfiguration"]                      # rolling, not blue/green
    [lb] = svc["LoadBalancers"]
    assert lb["TargetGroupArn"] == {"Ref": "BlueTargetGroup"} and lb["ContainerPort"] == {"Ref": "ContainerPort"}
    td = t["Resources"]["TaskDefinition"]["Properties"]
    assert td["Family"] == {"Ref": "ServiceName"} and td["ContainerDefinitions"][0]["Name"] == lb["ContainerName"]


def test_the_alarm_sums_target_5xx_of_both_releases(t):
    alarm = t["Resources"]["ServerErrorsAlarm"]["Properties"]
    dims = [m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
            for m in alarm["Metrics"] if "MetricStat" in m]
    assert sorted(dims) == ["BlueLoadBalancer", "GreenLoadBalancer"]
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m} == {
        "HTTPCode_Target_5XX_Count"}
    assert alarm["AlarmName"] == {"Fn::Sub": "${ServiceName}-5xx"}


def test_the_defaults_are_the_sandbox_world(t):
    import provision   # tests/sandbox is on the path (conftest)
    d, p = provision.ROUTE53_DEMO, t["Parameters"]
    assert p["ServiceName"]["Default"] == d["service"] and p["CanaryGroup"]["Default"] == d["group"]
    assert (p["BlueRelease"]["Default"], p["GreenRelease"]["Default"]) == tuple(d["releases"])
    assert p["ZoneName"]["Default"] == d["zone"] and p["RecordName"]["Default"] == d["fqdn"]
    assert p["ContainerPort"]["Default"] == d["port"] and p["DesiredCount"]["Default"] == d["desired"]
