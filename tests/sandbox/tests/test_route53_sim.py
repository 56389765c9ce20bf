"""The Route 53 simulator (sim/route53.py) behind the router, driven with boto3 as hookline's
controller will drive AWS: change status (R53-PENDING, R53-INSYNC, R53-PROPAGATION,
R53-NOSUCHCHANGE) and the batch validation moto skips (R53-WEIGHT, R53-ALIAS-TTL,
R53-CREATE-EXISTS, R53-DELETE-EXACT, R53-ATOMIC). Each test of a gap fails against moto alone
(tests/sandbox/tests/test_route53_moto.py pins moto's side)."""
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from router import Sandbox
from sim.route53 import Route53Config

LB_ZONE = "Z32O12XQLNTSW2"   # an ALB's CanonicalHostedZoneId (eu-west-1); Route 53 keeps it as given
BLUE_DNS = "web-blue-1.eu-west-1.elb.amazonaws.com"
GREEN_DNS = "web-green-1.eu-west-1.elb.amazonaws.com"


@pytest.fixture(scope="module")
def router(moto_url):
    sb = Sandbox(port=0, moto_url=moto_url, lambda_url="http://127.0.0.1:9", app_traffic=False,
                 r53_config=Route53Config(r53_propagation="2s")).start()
    yield sb
    sb.stop()


@pytest.fixture
def r53(router, request):
    router.r53.cfg.r53_propagation = "2s"
    client = boto3.client("route53", endpoint_url=router.url, region_name="us-east-1", aws_access_key_id="sandbox",
                          aws_secret_access_key="sandbox", config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    name = f"{request.node.name.replace('_', '-')[:40]}-{time.time_ns() % 10**9}.example.com"
    zone = client.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"].rsplit("/", 1)[-1]
    client.zone, client.fqdn, client.other = zone, f"api.{name}", f"other.{name}"
    return client


def alias(client, release, weight, name=None, dns=None, **extra):
    return dict({"Name": name or client.fqdn, "Type": "A", "SetIdentifier": release, "Weight": weight,
                 "AliasTarget": {"HostedZoneId": LB_ZONE, "DNSName": dns or (BLUE_DNS if release == "blue" else GREEN_DNS),
                                 "EvaluateTargetHealth": True}}, **extra)


def change(client, *changes, comment=None):
    batch = {"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]}
    if comment is not None:
        batch["Comment"] = comment
    return client.change_resource_record_sets(HostedZoneId=client.zone, ChangeBatch=batch)["ChangeInfo"]


def records(client, name=None):
    out = client.list_resource_record_sets(HostedZoneId=client.zone)["ResourceRecordSets"]
    return [r for r in out if r["Type"] == "A" and r["Name"] == (name or client.fqdn) + "."]


def weights(client, name=None):
    return {r["SetIdentifier"]: r["Weight"] for r in records(client, name)}


def blue_green(client, blue, green):
    return [("UPSERT", alias(client, "blue", blue)), ("UPSERT", alias(client, "green", green))]


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"], \
        e.value.response["ResponseMetadata"]["HTTPStatusCode"]


# --- change status ------------------------------------------------------------------------------

def test_each_change_gets_a_fresh_id_pending_then_insync_after_the_propagation_time(r53):
    first = change(r53, *blue_green(r53, 100, 0), comment="hookline: 0%")
    second = change(r53, *blue_green(r53, 90, 10))
    assert first["Status"] == "PENDING" and second["Status"] == "PENDING"
    assert first["Id"] != second["Id"] and first["Id"].startswith("/change/C")
    got = r53.get_change(Id=first["Id"])["ChangeInfo"]
    assert got["Status"] == "PENDING"
    assert got["Comment"] == "hookline: 0%" and got["SubmittedAt"] == first["SubmittedAt"]
    # the records themselves are changed at once (ListResourceRecordSets is the control plane)
    assert weights(r53) == {"blue": 90, "green": 10}
    deadline = time.time() + 10
    while r53.get_change(Id=second["Id"])["ChangeInfo"]["Status"] == "PENDING":
        assert time.time() < deadline, "never INSYNC"
        time.sleep(0.2)
    waited = time.time() - second["SubmittedAt"].timestamp()
    assert waited >= 1.9, waited
    assert r53.get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    # the bare id (as the Rust SDK may send it) names the same change
    assert r53.get_change(Id=second["Id"].rsplit("/", 1)[-1])["ChangeInfo"]["Status"] == "INSYNC"


def test_propagation_0s_is_insync_at_the_first_get_change_but_answered_pending(r53, router):
    router.r53.cfg.r53_propagation = "0s"
    info = change(r53, *blue_green(r53, 100, 0))
    assert info["Status"] == "PENDING"
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"


def test_boto3_waiter_resource_record_sets_changed_waits_for_insync(r53):
    info = change(r53, *blue_green(r53, 50, 50))
    t0 = time.time()
    r53.get_waiter("resource_record_sets_changed").wait(Id=info["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    assert time.time() - t0 >= 1.0
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"


def test_get_change_of_an_unknown_id_is_no_such_change(r53):
    code, message, status = error_of(lambda: r53.get_change(Id="/change/CNOSUCHCHANGE"))
    assert (code, status) == ("NoSuchChange", 404)
    assert "CNOSUCHCHANGE" in message


# --- validation -----------------------------------------------------------------------------------

def test_weight_above_255_is_invalid_input_and_nothing_changes(r53):
    change(r53, *blue_green(r53, 100, 0))
    code, message, status = error_of(lambda: change(r53, ("UPSERT", alias(r53, "blue", 0)),
                                                    ("UPSERT", alias(r53, "green", 256))))
    assert (code, status) == ("InvalidInput", 400)
    assert "'256'" in message and "changes.2" in message and "255" in message
    assert weights(r53) == {"blue": 100, "green": 0}


def test_weight_255_and_0_are_accepted(r53):
    change(r53, *blue_green(r53, 255, 0))
    assert weights(r53) == {"blue": 255, "green": 0}


def test_alias_record_with_a_ttl_is_invalid_input(r53):
    code, message, status = error_of(lambda: change(r53, ("CREATE", alias(r53, "green", 10, TTL=60))))
    assert (code, status) == ("InvalidInput", 400)
    assert "AliasTarget" in message and "more than one" in message and "SetIdentifier=green" in message
    assert records(r53) == []


def test_create_of_an_existing_record_is_invalid_change_batch(r53):
    change(r53, ("CREATE", alias(r53, "blue", 100)))
    code, message, status = error_of(lambda: change(r53, ("CREATE", alias(r53, "blue", 7))))
    assert (code, status) == ("InvalidChangeBatch", 400)
    assert f"[name='{r53.fqdn}.', type='A', set-identifier='blue'] but it already exists" in message
    assert weights(r53) == {"blue": 100}
    assert len(records(r53)) == 1


def test_create_with_the_name_in_other_case_or_with_the_dot_is_the_same_record(r53):
    change(r53, ("CREATE", alias(r53, "blue", 100)))
    code, _, _ = error_of(lambda: change(r53, ("CREATE", alias(r53, "blue", 100, name=r53.fqdn.upper() + "."))))
    assert code == "InvalidChangeBatch"


def test_delete_with_another_weight_is_refused_and_keeps_the_record(r53):
    change(r53, *blue_green(r53, 90, 10))
    code, message, status = error_of(lambda: change(r53, ("DELETE", alias(r53, "green", 55))))
    assert (code, status) == ("InvalidChangeBatch", 400)
    assert "set-identifier='green'] but the values provided do not match the current values" in message
    assert weights(r53) == {"blue": 90, "green": 10}


def test_delete_with_another_alias_target_is_refused(r53):
    change(r53, *blue_green(r53, 90, 10))
    code, _, _ = error_of(lambda: change(r53, ("DELETE", alias(r53, "green", 10, dns=BLUE_DNS))))
    assert code == "InvalidChangeBatch"
    assert weights(r53) == {"blue": 90, "green": 10}


def test_delete_of_a_missing_record_is_not_found(r53):
    change(r53, ("CREATE", alias(r53, "blue", 100)))
    code, message, _ = error_of(lambda: change(r53, ("DELETE", alias(r53, "green", 0))))
    assert code == "InvalidChangeBatch" and "set-identifier='green'] but it was not found" in message


def test_exact_delete_removes_only_that_record_not_the_same_set_identifier_under_another_name(r53):
    change(r53, *blue_green(r53, 100, 0))
    change(r53, ("CREATE", alias(r53, "green", 0, name=r53.other)))
    # the record exactly as listed (name with the dot, DNS name as Route 53 stores it) deletes it
    listed = next(r for r in records(r53) if r["SetIdentifier"] == "green")
    info = change(r53, ("DELETE", listed))
    assert info["Status"] == "PENDING"
    assert weights(r53) == {"blue": 100}
    assert weights(r53, r53.other) == {"green": 0}   # moto alone deletes this one too


def test_a_batch_with_one_bad_change_applies_nothing_and_names_every_problem(r53):
    change(r53, *blue_green(r53, 100, 0))
    code, message, _ = error_of(lambda: change(r53, ("UPSERT", alias(r53, "blue", 50)),
                                               ("CREATE", alias(r53, "green", 50)),
                                               ("DELETE", alias(r53, "canary", 1))))
    assert code == "InvalidChangeBatch"
    assert "already exists" in message and "set-identifier='canary'] but it was not found" in message
    assert weights(r53) == {"blue": 100, "green": 0}


def test_changes_are_checked_in_order_against_the_batch_so_far(r53):
    change(r53, *blue_green(r53, 100, 0))
    # delete then create the same record in one batch: valid, as in AWS's own example (CNAME -> alias)
    change(r53, ("DELETE", alias(r53, "green", 0)), ("CREATE", alias(r53, "green", 30)),
           ("UPSERT", alias(r53, "blue", 70)))
    assert weights(r53) == {"blue": 70, "green": 30}
    # deleting the same record twice in one batch is refused, and the first delete is not applied
    code, message, _ = error_of(lambda: change(r53, ("DELETE", alias(r53, "green", 30)),
                                               ("DELETE", alias(r53, "green", 30))))
    assert code == "InvalidChangeBatch" and "was not found" in message
    assert weights(r53) == {"blue": 70, "green": 30}


def test_a_batch_moto_refuses_after_validation_leaves_the_zone_as_it_was(r53):
    change(r53, *blue_green(r53, 100, 0))
    code, _, _ = error_of(lambda: change(r53, ("UPSERT", alias(r53, "blue", 1)),
                                         ("UPSERT", alias(r53, "green", 1, name="api.not-this-zone.org"))))
    assert code != "InternalFailure"
    assert weights(r53) == {"blue": 100, "green": 0}


def test_an_unknown_hosted_zone_is_no_such_hosted_zone(r53):
    r53.zone = "ZNOSUCHZONE"
    code, _, status = error_of(lambda: change(r53, *blue_green(r53, 100, 0)))
    assert (code, status) == ("NoSuchHostedZone", 404)


# --- the router: operation names, faults, config --------------------------------------------------

def test_calls_are_counted_and_faulted_by_operation_name(r53, router):
    router.reset_calls()
    info = change(r53, *blue_green(r53, 100, 0))
    r53.get_change(Id=info["Id"])
    r53.list_resource_record_sets(HostedZoneId=r53.zone)
    calls = router.calls_doc()["calls"]["route53"]
    assert calls == {"ChangeResourceRecordSets": 1, "GetChange": 1, "ListResourceRecordSets": 1}
    router.faults.add({"service": "route53", "operation": "GetChange", "kind": "throttle", "count": 1})
    code, _, status = error_of(lambda: r53.get_change(Id=info["Id"]))
    assert (code, status) == ("Throttling", 400)
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Id"] == info["Id"]


def test_config_endpoint_takes_r53_propagation(router):
    url = router.url + "/_sandbox/config"
    try:
        assert requests.post(url, json={"r53_propagation": "0s"}, timeout=10).json()["r53_propagation"] == "0s"
        r = requests.post(url, json={"r53_propagation": "5s"}, timeout=10)
        assert r.status_code == 400 and "r53_propagation" in r.text
        r = requests.post(url, json={"r53_typo": "0s"}, timeout=10)
        assert r.status_code == 400 and "r53_typo" in r.text
        assert requests.get(url, timeout=10).json()["r53_propagation"] == "0s"
    finally:
        requests.post(url, json={"r53_propagation": "2s"}, timeout=10)


# --- the Route 53 demo (provision.provision_route53_demo; not part of the default provisioning) ---

def test_route53_demo_has_two_tagged_load_balancers_and_their_weighted_records(router):
    import provision

    router.r53.cfg.r53_propagation = "0s"
    zone_name = f"demo-{time.time_ns() % 10**9}.example.com"
    demo = provision.provision_route53_demo(router.url, zone_name=zone_name, fqdn=f"web.{zone_name}")
    again = provision.provision_route53_demo(router.url, zone_name=zone_name, fqdn=f"web.{zone_name}",
                                             weights=(90, 10))
    assert again["hosted_zone_id"] == demo["hosted_zone_id"] and again["load_balancers"] == demo["load_balancers"]
    c = provision.clients(router.url)
    tags = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]} for d in c["elbv2"].describe_tags(
        ResourceArns=[lb["arn"] for lb in demo["load_balancers"].values()])["TagDescriptions"]}
    assert {tags[lb["arn"]]["CanaryRelease"]: tags[lb["arn"]]["CanaryGroup"]
            for lb in demo["load_balancers"].values()} == {"blue": "private", "green": "private"}
    client = boto3.client("route53", endpoint_url=router.url, region_name="us-east-1", aws_access_key_id="sandbox",
                          aws_secret_access_key="sandbox")
    listed = [r for r in client.list_resource_record_sets(HostedZoneId=demo["hosted_zone_id"])["ResourceRecordSets"]
              if r["Type"] == "A"]
    assert {r["SetIdentifier"]: (r["Weight"], r["AliasTarget"]["DNSName"].rstrip(".")) for r in listed} == {
        "blue": (90, demo["load_balancers"]["blue"]["dns_name"]),
        "green": (10, demo["load_balancers"]["green"]["dns_name"])}
    assert client.get_change(Id=again["change_id"])["ChangeInfo"]["Status"] == "INSYNC"


# --- with moto's authorization on (as up.sh leaves it) ---------------------------------------------

@pytest.fixture(scope="module")
def authorized(tmp_path_factory):
    """Its own moto with authorization on behind an in-process router that re-signs as the operator
    (tests/sandbox/tests/test_iam.py does the same for the other services)."""
    import os

    import provision
    from conftest import start_moto
    from sim import iam

    logdir = tmp_path_factory.mktemp("r53auth")
    proc, moto_url = start_moto(logdir)
    cred_dir = str(logdir / "credentials")
    os.environ["SANDBOX_CREDENTIALS_DIR"] = cred_dir
    try:
        sb = Sandbox(port=0, moto_url=moto_url, lambda_url="http://127.0.0.1:9", app_traffic=False,
                     r53_config=Route53Config(r53_propagation="0s")).start()
    finally:
        del os.environ["SANDBOX_CREDENTIALS_DIR"]
    iam.provision_roles(provision.clients(sb.url)["iam"], cred_dir)
    time.sleep(1.1)   # the enforcer rereads its files at most once a second (as tests/sandbox/tests/test_iam.py waits)
    requests.post(moto_url + "/moto-api/reset-auth", data=b"0", timeout=5)
    yield sb
    requests.post(moto_url + "/moto-api/reset-auth", data=b"inf", timeout=5)
    iam.uninstall_operator_signing(sb.iam)
    sb.stop()
    proc.terminate()
    proc.wait(10)


def test_route53_reads_and_changes_work_with_moto_authorization_on(authorized):
    """moto checks a body-less GET's signature over its headers: without the router's body every
    ListResourceRecordSets / GetHostedZone (and the simulator's own listing before a change) failed
    with SignatureDoesNotMatch."""
    # A session of its own, as a test process has: the default session of this process re-signs
    # as the operator (sim/iam.py install_operator_signing), which the router cannot re-sign.
    client = boto3.session.Session().client("route53", endpoint_url=authorized.url, region_name="us-east-1",
                                            aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
                                            config=Config(retries={"total_max_attempts": 1}))
    name = "auth.example.com"
    zone = client.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"].rsplit("/", 1)[-1]
    client.zone, client.fqdn = zone, f"api.{name}"
    info = change(client, *blue_green(client, 90, 10))
    assert client.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    assert weights(client) == {"blue": 90, "green": 10}
    assert client.get_hosted_zone(Id=zone)["HostedZone"]["Name"] == name + "."
    assert client.list_resource_record_sets(HostedZoneId=zone, StartRecordName=client.fqdn, StartRecordType="A",
                                            MaxItems="1")["ResourceRecordSets"][0]["SetIdentifier"] == "blue"
    code, _, _ = error_of(lambda: change(client, ("DELETE", alias(client, "green", 11))))
    assert code == "InvalidChangeBatch"
