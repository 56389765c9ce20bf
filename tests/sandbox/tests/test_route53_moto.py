"""What moto (tests/requirements.txt) does for the Route 53 controller of issue 22, pinned before
anything is built on it (docs/route53-controller.md "moto"). moto runs in-process
(`moto.mock_aws`); no sandbox is needed.

Each test states what AWS documents and asserts what moto does. Where they differ the test
name says `gap`: the sandbox emulates the AWS side itself (tests/sandbox/sim/route53.py, rows
R53-* of the source table; tests/sandbox/tests/test_route53_sim.py drives it through the router). A test that starts
failing after a moto upgrade means moto changed: re-read the doc's table before changing it.
"""
import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

REGION = "eu-west-1"
ZONE = "example.com"


@pytest.fixture(scope="module")
def world():
    """The load balancers, made once (moto's EC2 set-up is slow); each test gets its own zone."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
                "SubnetId"
            ]
            for i, az in ((1, "a"), (2, "b"))
        ]
        elb = boto3.client("elbv2", region_name=REGION)

        def load_balancer(name, group, release):
            return elb.create_load_balancer(
                Name=name,
                Subnets=subnets,
                Tags=[{"Key": "CanaryGroup", "Value": group}, {"Key": "CanaryRelease", "Value": release}],
            )["LoadBalancers"][0]

        yield {
            "elb": elb,
            "r53": boto3.client("route53", region_name="us-east-1"),
            "tagging": boto3.client("resourcegroupstaggingapi", region_name=REGION),
            "lbs": {
                "blue": load_balancer("web-blue", "private", "blue"),
                "green": load_balancer("web-green", "private", "green"),
                "public-blue": load_balancer("pub-blue", "public", "blue"),
            },
        }


@pytest.fixture
def aws(world, request):
    zone = f"{request.node.name.replace('_', '-')[:50]}.{ZONE}"
    zone_id = world["r53"].create_hosted_zone(Name=zone, CallerReference=zone)["HostedZone"]["Id"]
    return dict(world, zone=zone_id, fqdn=f"api.{zone}", other=f"other.{zone}")


def weighted_alias(aws, lb, release, weight, name=None):
    """One weighted alias record per release, SetIdentifier = the release (issue 22)."""
    return {
        "Name": name or aws["fqdn"],
        "Type": "A",
        "SetIdentifier": release,
        "Weight": weight,
        "AliasTarget": {
            "HostedZoneId": lb["CanonicalHostedZoneId"],
            "DNSName": lb["DNSName"],
            "EvaluateTargetHealth": True,
        },
    }


def change(aws, *changes):
    return aws["r53"].change_resource_record_sets(
        HostedZoneId=aws["zone"], ChangeBatch={"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]}
    )["ChangeInfo"]


def records(aws, name=None):
    name = name or aws["fqdn"]
    out = aws["r53"].list_resource_record_sets(HostedZoneId=aws["zone"])["ResourceRecordSets"]
    return [r for r in out if r["Type"] == "A" and r["Name"] == name + "."]


def weights(aws, name=None):
    return {r["SetIdentifier"]: r["Weight"] for r in records(aws, name)}


def blue_green(aws, blue, green):
    lbs = aws["lbs"]
    return [
        ("UPSERT", weighted_alias(aws, lbs["blue"], "blue", blue)),
        ("UPSERT", weighted_alias(aws, lbs["green"], "green", green)),
    ]


# --- ELBv2: finding a group's releases by tags ---------------------------------------------

def test_tagging_api_finds_a_groups_load_balancers_by_canary_group_and_release(aws):
    found = aws["tagging"].get_resources(
        ResourceTypeFilters=["elasticloadbalancing:loadbalancer"],
        TagFilters=[{"Key": "CanaryGroup", "Values": ["private"]}],
    )["ResourceTagMappingList"]
    arns = sorted(m["ResourceARN"] for m in found)
    assert arns == sorted([aws["lbs"]["blue"]["LoadBalancerArn"], aws["lbs"]["green"]["LoadBalancerArn"]])
    green = aws["tagging"].get_resources(
        TagFilters=[{"Key": "CanaryGroup", "Values": ["private"]}, {"Key": "CanaryRelease", "Values": ["green"]}]
    )["ResourceTagMappingList"]
    assert [m["ResourceARN"] for m in green] == [aws["lbs"]["green"]["LoadBalancerArn"]]


def test_describe_tags_returns_both_tags_per_load_balancer(aws):
    arns = [aws["lbs"]["blue"]["LoadBalancerArn"], aws["lbs"]["public-blue"]["LoadBalancerArn"]]
    described = aws["elb"].describe_tags(ResourceArns=arns)["TagDescriptions"]
    tags = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]} for d in described}
    assert tags[arns[0]] == {"CanaryGroup": "private", "CanaryRelease": "blue"}
    assert tags[arns[1]] == {"CanaryGroup": "public", "CanaryRelease": "blue"}


# --- Route 53: weighted alias records --------------------------------------------------------

def test_weighted_alias_records_round_trip_with_set_identifier_and_weight(aws):
    lbs = aws["lbs"]
    change(
        aws,
        ("CREATE", weighted_alias(aws, lbs["blue"], "blue", 100)),
        ("CREATE", weighted_alias(aws, lbs["green"], "green", 0)),
    )
    listed = {r["SetIdentifier"]: r for r in records(aws)}
    assert {k: r["Weight"] for k, r in listed.items()} == {"blue": 100, "green": 0}
    assert listed["green"]["AliasTarget"] == {
        "HostedZoneId": lbs["green"]["CanonicalHostedZoneId"],
        "DNSName": lbs["green"]["DNSName"],
        "EvaluateTargetHealth": True,
    }
    # an alias record has no TTL of its own ("omit TTL"): none is listed
    assert "TTL" not in listed["green"]


def test_upsert_by_set_identifier_moves_the_weights(aws):
    change(aws, *blue_green(aws, 100, 0))
    change(aws, *blue_green(aws, 90, 10))
    assert weights(aws) == {"blue": 90, "green": 10}
    change(aws, *blue_green(aws, 0, 100))
    assert weights(aws) == {"blue": 0, "green": 100}
    assert len(records(aws)) == 2


def test_load_balancers_have_an_alias_zone_and_dns_name(aws):
    for lb in aws["lbs"].values():
        assert lb["CanonicalHostedZoneId"]
        assert lb["DNSName"].endswith(f".{REGION}.elb.amazonaws.com")


# --- Route 53: gaps the sandbox must fill -----------------------------------------------------

def test_gap_change_is_insync_at_once_with_one_fixed_id(aws):
    # AWS: "PENDING indicates that the changes in this request have not propagated to all Amazon
    # Route 53 DNS servers managing the hosted zone. This is the initial status of all change
    # batch requests." (API reference, GetChange). moto: INSYNC from the start, the same Id for
    # every change, so a controller that never waits for INSYNC passes against it.
    first = change(aws, *blue_green(aws, 100, 0))
    second = change(aws, *blue_green(aws, 90, 10))
    assert first["Status"] == "INSYNC"
    assert first["Id"] == second["Id"]
    assert aws["r53"].get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "INSYNC"


def test_gap_get_change_of_an_unknown_id_is_insync_not_no_such_change(aws):
    # AWS documents NoSuchChange: "A change with the specified change ID does not exist."
    assert aws["r53"].get_change(Id="/change/CNOSUCHCHANGE")["ChangeInfo"]["Status"] == "INSYNC"


def test_gap_weight_above_255_is_accepted(aws):
    # AWS: ResourceRecordSetWeight is 0 to 255 (the service model's range; botocore checks the
    # minimum only, so the request reaches the server). moto stores 256.
    lbs = aws["lbs"]
    change(aws, ("UPSERT", weighted_alias(aws, lbs["green"], "green", 256)))
    assert weights(aws) == {"green": 256}


def test_gap_alias_record_with_a_ttl_is_accepted(aws):
    # AWS: "If you're creating or updating an alias resource record set, omit TTL." moto keeps it.
    record = dict(weighted_alias(aws, aws["lbs"]["green"], "green", 10), TTL=30)
    change(aws, ("UPSERT", record))
    assert records(aws)[0]["TTL"] == 30


def test_gap_create_of_an_existing_set_identifier_adds_a_duplicate(aws):
    # AWS rejects a CREATE of a record that exists (name, type, set identifier); moto rejects
    # only the very same change repeated, and keeps two "blue" records of different weights.
    lbs = aws["lbs"]
    change(aws, ("CREATE", weighted_alias(aws, lbs["blue"], "blue", 100)))
    change(aws, ("CREATE", weighted_alias(aws, lbs["blue"], "blue", 7)))
    assert sorted(r["Weight"] for r in records(aws)) == [7, 100]
    with pytest.raises(ClientError) as e:
        change(aws, ("CREATE", weighted_alias(aws, lbs["blue"], "blue", 7)))
    assert e.value.response["Error"]["Code"] == "InvalidChangeBatch"


def test_gap_delete_by_set_identifier_removes_it_under_every_name(aws):
    # AWS: "To delete a resource record set, you must specify all the same values that you
    # specified when you created it." moto deletes every record with that SetIdentifier in the
    # zone, whatever its name: undeploy of one service's release would remove another's record.
    lbs = aws["lbs"]
    change(aws, *blue_green(aws, 100, 0))
    change(aws, ("CREATE", weighted_alias(aws, lbs["green"], "green", 0, name=aws["other"])))
    change(aws, ("DELETE", weighted_alias(aws, lbs["green"], "green", 0)))
    assert weights(aws) == {"blue": 100}
    assert weights(aws, aws["other"]) == {}


def test_gap_delete_with_other_values_than_created_is_accepted(aws):
    # The same AWS sentence: a DELETE must repeat the record's values. moto deletes a weighted
    # alias record named by its SetIdentifier even with another weight.
    change(aws, *blue_green(aws, 90, 10))
    change(aws, ("DELETE", weighted_alias(aws, aws["lbs"]["green"], "green", 55)))
    assert weights(aws) == {"blue": 90}
