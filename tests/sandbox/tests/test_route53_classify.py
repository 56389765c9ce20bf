"""The router names Route 53 calls (REST-XML) by their operation in botocore's Route 53 model, and
IAM enforcement (sim/iam.py) checks them on the hosted zone / change they name, so a function
whose role grants route53:ChangeResourceRecordSets on its zone is allowed, and denied elsewhere
(docs/route53-controller.md: before this, every Route 53 call was `route53:POST /2013-04-01/...`)."""
import re

import botocore.loaders
import botocore.session
import pytest

import awsproto
from sim import iam

SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDFUNCTION/20261206/us-east-1/route53/aws4_request, "
                           "SignedHeaders=host;x-amz-date, Signature=0"}
MODEL = botocore.loaders.Loader().load_service_model("route53", "service-2")


def sample_path(uri):
    """A concrete path for a requestUri: every {Label} / {Label+} filled in."""
    return re.sub(r"\{[^}]+\}", "X1", uri.split("?", 1)[0])


@pytest.mark.parametrize("operation", sorted(MODEL["operations"]))
def test_every_route53_operation_is_named_by_its_method_and_request_uri(operation):
    http = MODEL["operations"][operation]["http"]
    req = awsproto.classify(http["method"], sample_path(http["requestUri"]) + "?maxitems=1", SIGNED, b"")
    assert (req.service, req.protocol, req.operation) == ("route53", "rest-xml", operation)


def test_the_requests_boto3_sends_are_named_with_their_ids():
    """botocore's own serializer builds the path (and strips /hostedzone/ from ids, as the SDKs do)."""
    session = botocore.session.get_session()
    client = session.create_client("route53", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                                   aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    seen = {}

    def capture(request, **_):
        seen["req"] = awsproto.classify(request.method, request.url.split("127.0.0.1:9", 1)[1],
                                        {k: v.decode() if isinstance(v, bytes) else v
                                         for k, v in request.headers.items()}, request.body or b"")
        raise RuntimeError("captured")

    client.meta.events.register("before-send.route53", capture)
    calls = [
        (lambda: client.change_resource_record_sets(HostedZoneId="/hostedzone/Z123", ChangeBatch={"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": "a.example.com", "Type": "A", "TTL": 60,
                                                       "ResourceRecords": [{"Value": "192.0.2.1"}]}}]}),
         "ChangeResourceRecordSets", {"Id": "Z123"}),
        (lambda: client.get_change(Id="/change/C0123ABC"), "GetChange", {"Id": "C0123ABC"}),
        (lambda: client.list_resource_record_sets(HostedZoneId="Z123", StartRecordName="a.example.com"),
         "ListResourceRecordSets", {"Id": "Z123"}),
        (lambda: client.list_hosted_zones_by_name(DNSName="example.com"), "ListHostedZonesByName", {}),
    ]
    for call, operation, params in calls:
        with pytest.raises(RuntimeError, match="captured"):
            call()
        req = seen.pop("req")
        assert (req.service, req.protocol, req.operation, req.params) == ("route53", "rest-xml", operation, params)


def test_an_unsigned_route53_path_is_route53_and_other_rest_calls_are_unchanged():
    assert awsproto.classify("GET", "/2013-04-01/change/C1", {}, b"").operation == "GetChange"
    lam = awsproto.classify("GET", "/2015-03-31/functions/hook", {}, b"")
    assert (lam.service, lam.protocol, lam.operation) == ("lambda", "rest", "GET /2015-03-31/functions/hook")


def test_iam_resources_are_the_hosted_zone_and_the_change():
    def res(op, params):
        return iam.resources_for(f"route53:{op}", params)

    assert res("ChangeResourceRecordSets", {"Id": "Z123"}) == [
        ("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z123", None)]
    assert res("ListResourceRecordSets", {"Id": "/hostedzone/Z123"}) == [
        ("route53:ListResourceRecordSets", "arn:aws:route53:::hostedzone/Z123", None)]
    assert res("GetHostedZone", {"Id": "Z123"}) == [("route53:GetHostedZone", "arn:aws:route53:::hostedzone/Z123", None)]
    assert res("GetChange", {"Id": "C0123"}) == [("route53:GetChange", "arn:aws:route53:::change/C0123", None)]
    assert res("ListHostedZones", {}) == [("route53:ListHostedZones", "*", None)]


def test_a_role_scoped_to_its_zone_may_change_it_and_no_other():
    enforcer = iam.Enforcer("")
    enforcer.loaded_at = float("inf")   # no credentials directory: the policy below is all there is
    enforcer.policies = {"shift-weight": {"documents": [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "route53:ChangeResourceRecordSets",
         "Resource": "arn:aws:route53:::hostedzone/ZMINE"},
        {"Effect": "Allow", "Action": "route53:GetChange", "Resource": "arn:aws:route53:::change/*"}]}]}}
    who = {"function": "shift-weight", "role": "ShiftWeightRole"}

    def check(method, path):
        req = awsproto.classify(method, path, SIGNED, b"")
        return enforcer.check(req, who, iam.request_params(req, b""))

    assert check("POST", "/2013-04-01/hostedzone/ZMINE/rrset/") is None
    assert check("GET", "/2013-04-01/change/C0123") is None
    assert check("POST", "/2013-04-01/hostedzone/ZOTHER/rrset/") == (
        "route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/ZOTHER")
    assert check("GET", "/2013-04-01/hostedzone/ZMINE/rrset") == (
        "route53:ListResourceRecordSets", "arn:aws:route53:::hostedzone/ZMINE")


def test_a_denial_and_a_throttle_are_route53_errors_botocore_reads():
    from botocore import parsers

    req = awsproto.classify("POST", "/2013-04-01/hostedzone/Z1/rrset/", SIGNED, b"")
    status, headers, body = iam.Enforcer("").denial(req, {"function": "f", "role": "R"},
                                                    "route53:ChangeResourceRecordSets",
                                                    "arn:aws:route53:::hostedzone/Z1", awsproto.error_response)
    model = botocore.session.get_session().get_service_model("route53")
    op = model.operation_model("ChangeResourceRecordSets")
    parsed = parsers.RestXMLParser().parse({"body": body, "headers": headers, "status_code": status}, op.output_shape)
    assert status == 403 and parsed["Error"]["Code"] == "AccessDenied"
    assert "route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/Z1" in parsed["Error"]["Message"]
    status, code = awsproto.default_throttle_code(req)
    status, headers, body = awsproto.error_response(req, status, code, "Rate exceeded")
    parsed = parsers.RestXMLParser().parse({"body": body, "headers": headers, "status_code": status}, op.output_shape)
    assert (status, parsed["Error"]["Code"]) == (400, "Throttling")
