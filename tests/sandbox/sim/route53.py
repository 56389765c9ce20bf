"""Route 53 record changes as hookline's own controller meets them (issue 22), in front of moto.

moto 5.2.5 stores hosted zones and record sets, and the router keeps it as the store, but its
ChangeResourceRecordSets answers INSYNC at once with one fixed change id, GetChange answers
INSYNC for any id, and it skips the validation AWS does (pinned by
tests/sandbox/tests/test_route53_moto.py; docs/route53-controller.md "moto"). The router sends
ChangeResourceRecordSets and GetChange here:

- every accepted change batch gets a fresh change id, answered PENDING; GetChange answers
  PENDING until the change has propagated (``r53_propagation``, assumed), then INSYNC; an id
  the sandbox never issued answers NoSuchChange;
- the batch is validated as AWS does before anything is stored: Weight 0..255 and an alias
  record without TTL (InvalidInput); CREATE of a record that exists, DELETE of one that does
  not exist or with other values (InvalidChangeBatch), each change against the result of the
  changes before it in the batch; a failing batch changes nothing;
- an accepted batch is written to moto as the record list it results in: moto's own DELETE
  removes every record of the zone with that SetIdentifier, whatever its name, so records it
  removed that the batch did not name are written back.

moto 5.2.5 with its authorization on (up.sh turns it on) checks a request's signature over
``data=body or params``, and a Route 53 GET or DELETE has no body and no form params, so moto
signs the request's *headers* as its payload and answers SignatureDoesNotMatch to every one.
Route 53 requests to moto therefore carry a small XML body (``MOTO_AUTH_BODY``: moto reads
the body as XML and ignores it for these operations): the router's forwarded ones
(router.py) and this simulator's own client (``add_moto_auth_body``).

Switch (``/_sandbox/config``, env ``SANDBOX_R53_PROPAGATION`` at start):
- ``r53_propagation``: "2s" (default) or "0s": how long a change stays PENDING (seconds).
"""
import datetime as dt
import json
import os
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from botocore.exceptions import ClientError

import awsproto

SIMULATOR = "route53"
API_REF = "Amazon Route 53 API reference"
CRRS_PAGE = f"{API_REF}, ChangeResourceRecordSets " \
            "(https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html)"
GET_CHANGE_PAGE = f"{API_REF}, GetChange (https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html)"
RRSET_PAGE = f"{API_REF}, ResourceRecordSet " \
             "(https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html)"

SOURCES = [
    {"id": "R53-PENDING", "behaviour": "ChangeResourceRecordSets answers a fresh change Id (/change/C...) with Status "
                                       "PENDING for every accepted batch (moto: INSYNC, one fixed Id)",
     "source": "\"PENDING indicates that the changes in this request have not propagated to all Amazon Route 53 DNS "
               "servers managing the hosted zone. This is the initial status of all change batch requests.\" — "
               f"{GET_CHANGE_PAGE}", "switch": None},
    {"id": "R53-INSYNC", "behaviour": "GetChange answers PENDING until the change has propagated, then INSYNC, with "
                                      "the batch's SubmittedAt and Comment",
     "source": "\"INSYNC indicates that the changes have propagated to all Route 53 DNS servers managing the hosted "
               f"zone.\" — {GET_CHANGE_PAGE}", "switch": None},
    {"id": "R53-PROPAGATION", "behaviour": "How long a change stays PENDING: 2 s or 0 s (AWS: \"generally within 60 "
                                           "seconds\", Route 53 developer guide, Editing records)",
     "source": "assumed", "switch": "r53_propagation"},
    {"id": "R53-NOSUCHCHANGE", "behaviour": "GetChange of an Id the sandbox did not issue answers NoSuchChange (404) "
                                            "(moto: INSYNC)",
     "source": f"\"NoSuchChange: A change with the specified change ID does not exist.\" — {GET_CHANGE_PAGE} (Errors)",
     "switch": None},
    {"id": "R53-WEIGHT", "behaviour": "A Weight outside 0..255 (shape ResourceRecordSetWeight) answers InvalidInput "
                                      "naming the change; nothing is changed (moto stores 256)",
     "source": "sample: boto/botocore/botocore/data/route53/2013-04-01/service-2.json", "switch": None},
    {"id": "R53-ALIAS-TTL", "behaviour": "An alias record (AliasTarget) carrying a TTL or ResourceRecords answers "
                                         "InvalidInput (\"Expected exactly one of [AliasTarget, all of [TTL, and "
                                         "ResourceRecords], ...] but found more than one\"); nothing is changed",
     "source": "\"If you're creating or updating an alias resource record set, omit TTL. Amazon Route 53 uses the "
               f"value of TTL for the alias target.\" — {RRSET_PAGE} (TTL)", "switch": None},
    {"id": "R53-CREATE-EXISTS", "behaviour": "CREATE of a record whose name, type and SetIdentifier exist answers "
                                             "InvalidChangeBatch (moto adds a duplicate)",
     "source": "\"InvalidChangeBatch: [Tried to create resource record set [name='geo.mydomain.com.', type='A', "
               "set-identifier='Default'] but it already exists]\" — Route 53's answer quoted in "
               "https://github.com/barnybug/cli53/issues/317", "switch": None},
    {"id": "R53-DELETE-EXACT", "behaviour": "DELETE must repeat the record's values exactly (name, type, "
                                            "SetIdentifier, Weight, TTL, values, AliasTarget, ...): another value "
                                            "answers InvalidChangeBatch \"... but the values provided do not match "
                                            "the current values\", no such record \"... but it was not found\"; "
                                            "records of other names are kept (moto deletes by SetIdentifier "
                                            "zone-wide)",
     "source": "\"To delete a resource record set, you must specify all the same values that you specified when you "
               f"created it.\" — {CRRS_PAGE}; the error text: \"InvalidChangeBatch: Tried to delete resource record "
               "set [name='jira.stage.internal.gasbuddy.engineering.', type='A'] but the values provided do not "
               "match the current values\" — https://github.com/hashicorp/terraform/issues/18509", "switch": None},
    {"id": "R53-ATOMIC", "behaviour": "A batch is validated change by change against the result of the changes "
                                      "before it, and applied whole or not at all",
     "source": "\"Change batches are considered transactional changes. Route 53 validates the changes in the request "
               "and then either makes all or none of the changes in the change batch request.\" — " + CRRS_PAGE,
     "switch": None},
]

PROPAGATIONS = ("2s", "0s")
MOTO_AUTH_BODY = b"<Sandbox/>"


def add_moto_auth_body(request, **_):
    """botocore ``before-sign`` handler: a body for a body-less Route 53 request to moto (see above)."""
    if not request.body:
        request.data = MOTO_AUTH_BODY
WEIGHT_MIN, WEIGHT_MAX = 0, 255   # botocore's route53 model, shape ResourceRecordSetWeight


class Route53Config:
    CHOICES = {"r53_propagation": PROPAGATIONS}

    def __init__(self, **kw):
        self.r53_propagation = kw.get("r53_propagation", os.environ.get("SANDBOX_R53_PROPAGATION") or PROPAGATIONS[0])
        self.check("r53_propagation", self.r53_propagation)

    def check(self, key, value):
        if key in self.CHOICES and value not in self.CHOICES[key]:
            raise ValueError(f"{key}={value!r}: must be one of {', '.join(self.CHOICES[key])}")

    def update(self, doc):
        """Applies the r53_* keys of a /_sandbox/config body (all checked first, then set)."""
        keys = {k: v for k, v in doc.items() if k.startswith("r53_")}
        for k, v in keys.items():
            if k not in self.CHOICES:
                raise ValueError(f"{k}: unknown Route 53 setting (known: {', '.join(self.CHOICES)})")
            self.check(k, v)
        for k, v in keys.items():
            setattr(self, k, v)

    def propagation_s(self):
        return float(self.r53_propagation.rstrip("s"))


class Route53Error(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------- XML <-> botocore shapes
def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _from_xml(node, shape):
    """An XML element read as botocore's ``shape`` (rest-xml, lists not flattened): the same
    dict boto3 takes as parameters."""
    t = shape.type_name
    if t == "structure":
        out = {}
        children = {}
        for child in node:
            children.setdefault(_local(child.tag), child)
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            child = children.get(member.serialization.get("name", name))
            if child is not None:
                out[name] = _from_xml(child, member)
        return out
    if t == "list":
        return [_from_xml(c, shape.member) for c in node]
    text = (node.text or "").strip()
    if t in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise Route53Error(400, "InvalidInput", f"Invalid XML ; {_local(node.tag)}: '{text}' is not an integer")
    if t == "boolean":
        return text == "true"
    return node.text or ""


def parse_change_batch(body):
    """The ChangeBatch of a ChangeResourceRecordSets body, as boto3's parameter dict."""
    op = awsproto._service_model("route53").operation_model("ChangeResourceRecordSets")
    try:
        root = ET.fromstring(body or b"")
    except ET.ParseError as e:
        raise Route53Error(400, "InvalidInput", f"Invalid XML ; {e}")
    params = _from_xml(root, op.input_shape)
    batch = params.get("ChangeBatch")
    if not batch or not batch.get("Changes"):
        raise Route53Error(400, "InvalidInput", "Invalid request: ChangeBatch with at least one Change is required")
    return batch


def _xml_response(root, change):
    comment = f"<Comment>{escape(change['comment'])}</Comment>" if change.get("comment") is not None else ""
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{awsproto.ROUTE53_XMLNS}"><ChangeInfo>'
            f"<Id>/change/{change['id']}</Id><Status>{change['status']}</Status>"
            f"<SubmittedAt>{change['submitted_at']}</SubmittedAt>{comment}</ChangeInfo></{root}>")
    return 200, {"Content-Type": "text/xml", "x-amzn-RequestId": str(uuid.uuid4())}, body.encode()


# ---------------------------------------------------------------- records
def fqdn(name):
    """A DNS name as Route 53 compares it: lower case, with the final dot."""
    n = (name or "").lower()
    return n if n.endswith(".") else n + "."


def key_of(rr):
    return fqdn(rr.get("Name")), rr.get("Type"), rr.get("SetIdentifier")


def describe(rr):
    """A record the way Route 53's InvalidChangeBatch messages name it."""
    name, typ, sid = key_of(rr)
    return f"[name='{name}', type='{typ}'" + (f", set-identifier='{sid}'" if sid is not None else "") + "]"


def canonical(rr):
    """Every value of a record, in a form two equal records share (names case-folded with the final
    dot, record values as a set): what a DELETE must repeat."""
    out = {}
    for k, v in rr.items():
        if k == "Name":
            v = fqdn(v)
        elif k == "AliasTarget":
            v = {"HostedZoneId": v.get("HostedZoneId"), "DNSName": fqdn(v.get("DNSName")),
                 "EvaluateTargetHealth": bool(v.get("EvaluateTargetHealth"))}
        elif k == "ResourceRecords":
            v = sorted(r.get("Value") for r in v)
        out[k] = v
    return json.dumps(out, sort_keys=True)


def for_moto(rr):
    """A record as the sandbox writes it to moto: the name without its final dot (moto's DELETE
    compares names with the dot stripped)."""
    out = json.loads(json.dumps(rr))
    out["Name"] = out["Name"].rstrip(".")
    return out


class Route53Sim:
    """ChangeResourceRecordSets and GetChange in front of moto (``r53``: a boto3 Route 53 client of moto)."""

    OPERATIONS = ("ChangeResourceRecordSets", "GetChange")

    def __init__(self, r53, cfg=None, clock=time.time):
        self.r53 = r53
        r53.meta.events.register("before-sign.route53", add_moto_auth_body)
        self.cfg = cfg or Route53Config()
        self.clock = clock
        self.lock = threading.Lock()   # one batch at a time: validated and written as one transaction
        self.changes = {}              # change id (without /change/) -> {id, submitted, insync_at, submitted_at, comment}

    def wants(self, req):
        return req.service == "route53" and req.operation in self.OPERATIONS

    def handle(self, req, body):
        """(status, headers, body) in Route 53's REST-XML."""
        try:
            if req.operation == "GetChange":
                return self.get_change(req.params.get("Id", ""))
            return self.change_resource_record_sets(req.params.get("Id", ""), body)
        except Route53Error as e:
            return awsproto.error_response(req, e.status, e.code, e.message)

    # ------------------------------------------------------------ GetChange
    def get_change(self, change_id):
        cid = str(change_id).rsplit("/", 1)[-1]
        with self.lock:
            change = self.changes.get(cid)
        if change is None:
            raise Route53Error(404, "NoSuchChange", f"A change with the specified change ID does not exist: {cid}")
        return _xml_response("GetChangeResponse", dict(change, status=self._status(change)))

    def answered_records(self, name, pending="previous"):
        """The records of ``name`` (any type) the name servers answer now: moto's, or with ``pending``
        "previous" while a change of the zone is PENDING, the zone's records as they were before the
        oldest pending change (DNS-PENDING-ANSWERS, sim/dns.py). [] when no hosted zone holds the name."""
        want = fqdn(name)
        zones = [z for page in self.r53.get_paginator("list_hosted_zones").paginate() for z in page["HostedZones"]]
        zones = [z for z in zones if want == z["Name"] or want.endswith("." + z["Name"])]
        if not zones:
            return []
        zone = max(zones, key=lambda z: len(z["Name"]))["Id"].rsplit("/", 1)[-1]
        now = self.clock()
        with self.lock:
            records = None
            if pending == "previous":
                waiting = sorted((c for c in self.changes.values() if c.get("zone") == zone and now < c["insync_at"]),
                                 key=lambda c: c["insync_at"])
                if waiting:
                    records = waiting[0]["before"]
            if records is None:
                records = self._records(zone)
        return [r for r in records if fqdn(r.get("Name")) == want]

    def _status(self, change):
        return "INSYNC" if self.clock() >= change["insync_at"] else "PENDING"

    # ------------------------------------------------------------ ChangeResourceRecordSets
    def change_resource_record_sets(self, zone_id, body):
        zone = str(zone_id).rsplit("/", 1)[-1]
        batch = parse_change_batch(body)
        changes = batch["Changes"]
        for i, ch in enumerate(changes, 1):
            self._check_input(i, ch)
        with self.lock:
            before = self._records(zone)
            after = self._apply(before, changes)
            try:
                self._write(zone, before, after)
            except Route53Error:
                # moto refused something the checks above let through (e.g. a name outside the
                # zone): the batch is all or nothing, so what moto took of it is put back
                self._write(zone, self._records(zone), before)
                raise
            now = self.clock()
            cid = "C" + uuid.uuid4().hex[:20].upper()
            change = {"id": cid, "insync_at": now + self.cfg.propagation_s(), "comment": batch.get("Comment"),
                      "zone": zone, "before": before,   # what name servers answer until INSYNC (sim/dns.py)
                      "submitted_at": dt.datetime.fromtimestamp(now, dt.timezone.utc)
                      .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
            self.changes[cid] = change
        return _xml_response("ChangeResourceRecordSetsResponse", dict(change, status="PENDING"))

    @staticmethod
    def _check_input(i, ch):
        """What Route 53 refuses as InvalidInput before looking at the zone (R53-WEIGHT, R53-ALIAS-TTL)."""
        rr = ch.get("ResourceRecordSet") or {}
        action = ch.get("Action")
        if action not in ("CREATE", "DELETE", "UPSERT"):
            raise Route53Error(400, "InvalidInput", f"1 validation error detected: Value '{action}' at "
                                                    f"'changeBatch.changes.{i}.member.action' failed to satisfy "
                                                    "constraint: Member must satisfy enum value set: "
                                                    "[CREATE, DELETE, UPSERT]")
        w = rr.get("Weight")
        if w is not None and not WEIGHT_MIN <= w <= WEIGHT_MAX:
            bound = ("greater than or equal to %d" % WEIGHT_MIN) if w < WEIGHT_MIN else \
                ("less than or equal to %d" % WEIGHT_MAX)
            raise Route53Error(400, "InvalidInput", f"1 validation error detected: Value '{w}' at "
                                                    f"'changeBatch.changes.{i}.member.resourceRecordSet.weight' failed "
                                                    f"to satisfy constraint: Member must have value {bound}")
        if "AliasTarget" in rr and ("TTL" in rr or rr.get("ResourceRecords")):
            raise Route53Error(400, "InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of "
                                                    "[TTL, and ResourceRecords], or TrafficPolicyInstanceId], but "
                                                    f"found more than one in Change with [Action={action}, "
                                                    f"Name={rr.get('Name')}, Type={rr.get('Type')}, "
                                                    f"SetIdentifier={rr.get('SetIdentifier') or 'null'}]")

    @staticmethod
    def _apply(before, changes):
        """The zone's records after the batch, each change checked against the result of the ones
        before it (R53-CREATE-EXISTS, R53-DELETE-EXACT, R53-ATOMIC); every problem of the batch is
        reported, and none of it is applied when there is one."""
        records = {key_of(r): r for r in before}
        problems = []
        for ch in changes:
            rr, action = ch["ResourceRecordSet"], ch["Action"]
            k = key_of(rr)
            if action == "CREATE":
                if k in records:
                    problems.append(f"Tried to create resource record set {describe(rr)} but it already exists")
                    continue
                records[k] = rr
            elif action == "UPSERT":
                records[k] = rr
            else:   # DELETE
                if k not in records:
                    problems.append(f"Tried to delete resource record set {describe(rr)} but it was not found")
                elif canonical(records[k]) != canonical(rr):
                    problems.append(f"Tried to delete resource record set {describe(rr)} but the values provided "
                                    "do not match the current values")
                else:
                    del records[k]
        if problems:
            raise Route53Error(400, "InvalidChangeBatch", "[" + ", ".join(problems) + "]")
        return list(records.values())

    # ------------------------------------------------------------ moto, the store
    def _records(self, zone):
        try:
            pages = self.r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone)
            return [r for page in pages for r in page["ResourceRecordSets"]]
        except ClientError as e:
            err = e.response.get("Error", {})
            raise Route53Error(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400),
                               err.get("Code") or "InvalidInput", err.get("Message") or str(e))

    def _write(self, zone, before, after):
        """Make moto hold ``after``: one batch deleting what went and upserting what is new or
        changed, then the records moto's zone-wide DELETE by SetIdentifier took with it written back."""
        want = {key_of(r): r for r in after}
        have = {key_of(r): r for r in before}
        batch = [{"Action": "DELETE", "ResourceRecordSet": for_moto(r)} for k, r in have.items() if k not in want]
        batch += [{"Action": "UPSERT", "ResourceRecordSet": for_moto(r)} for k, r in want.items()
                  if k not in have or canonical(have[k]) != canonical(r)]
        if batch:
            self._moto_change(zone, batch)
        now = {key_of(r): r for r in self._records(zone)}
        restore = [{"Action": "UPSERT", "ResourceRecordSet": for_moto(r)} for k, r in want.items()
                   if k not in now or canonical(now[k]) != canonical(r)]
        if restore:
            self._moto_change(zone, restore)

    def _moto_change(self, zone, changes):
        try:
            self.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
        except ClientError as e:
            err = e.response.get("Error", {})
            raise Route53Error(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400),
                               err.get("Code") or "InvalidChangeBatch", err.get("Message") or str(e))
