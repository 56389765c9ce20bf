"""AWS wire-protocol helpers for the sandbox router.

- ``classify(method, path, headers, body)`` -> ``Req`` (service, operation,
  protocol) for counting calls and matching faults.
- ``error_response(req, status, code, message)`` renders an error exactly as
  the service's protocol does (query XML, JSON ``__type``, rpc-v2-cbor,
  rest-json ``X-Amzn-ErrorType``), so SDK retry classifiers see throttling
  as throttling.
- rpc-v2-cbor <-> JSON translation (moto 5.2.5 does not speak CBOR; the Rust
  aws-sdk-cloudwatch 1.140 only speaks CBOR), done by botocore's own protocol
  code against the operation's shapes: a CBOR request is read with botocore's
  ``RpcV2CBORParser`` (input shape) and written with its ``JSONSerializer``; a
  JSON answer is read with its ``JSONParser`` (output shape) and written with
  its ``RpcV2CBORSerializer`` (timestamps become CBOR tag 1). Errors and
  operations botocore does not model use the ``cbor2`` package directly.
- Route 53 (REST-XML, ``/2013-04-01/...``): named by the operation of botocore's Route 53
  model whose method and requestUri match (``route53_operation``), its URI labels in
  ``Req.params`` (the hosted zone or change id IAM checks); errors as ``<ErrorResponse>``.
"""
import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import cbor2
from botocore import parsers as bc_parsers
from botocore import serialize as bc_serialize

# X-Amz-Target prefix -> signing name (fallback when there is no SigV4 header).
TARGET_PREFIX_SERVICE = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonSSM": "ssm",
    "AWSStepFunctions": "states",
    "CodeDeploy_20141006": "codedeploy",
    "GraniteServiceVersion20100801": "monitoring",
    "Logs_20140328": "logs",
    "AWSEvents": "events",
    "AWSKMS": "kms",
    "secretsmanager": "secretsmanager",
    "AmazonSQS": "sqs",
    "DynamoDB_20120810": "dynamodb",
}
# signing name -> (JSON target prefix, JSON version) for CBOR translation.
SERVICE_JSON = {
    "monitoring": ("GraniteServiceVersion20100801", "1.0"),
    "codedeploy": ("CodeDeploy_20141006", "1.1"),
    "ecs": ("AmazonEC2ContainerServiceV20141113", "1.1"),
    "ssm": ("AmazonSSM", "1.1"),
    "states": ("AWSStepFunctions", "1.0"),
}
# Aliases users may type in fault specs -> signing name.
SERVICE_ALIASES = {
    "cloudwatch": "monitoring", "monitoring": "monitoring",
    "elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing",
    "elasticloadbalancingv2": "elasticloadbalancing",
    "elasticloadbalancing": "elasticloadbalancing",
    "stepfunctions": "states", "sfn": "states", "states": "states",
    "lambda": "lambda", "ecs": "ecs", "ssm": "ssm", "sns": "sns", "iam": "iam",
    "sts": "sts", "codedeploy": "codedeploy", "deploy": "codedeploy",
    "route53": "route53", "route-53": "route53",
}
# botocore service model names for the signing names.
BOTOCORE_NAME = {"monitoring": "cloudwatch", "elasticloadbalancing": "elbv2",
                 "states": "stepfunctions"}

LAMBDA_INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")
CBOR_PATH_RE = re.compile(r"^/service/([^/]+)/operation/([^/?]+)")
CRED_RE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")
ROUTE53_PATH_PREFIX = "/2013-04-01/"   # Route 53's API version: every requestUri of its model starts with it
ROUTE53_XMLNS = "https://route53.amazonaws.com/doc/2013-04-01/"


def normalize_service(name):
    if not name:
        return None
    n = name.lower()
    return SERVICE_ALIASES.get(n, n)


@dataclass
class Req:
    service: str = "unknown"
    operation: str = "unknown"
    protocol: str = "rest"       # query | json | cbor | rest | rest-xml (Route 53)
    json_version: str = "1.1"
    target_prefix: str = ""
    function: str = None          # Lambda invoke: bare function name
    params: dict = field(default_factory=dict)  # query-protocol params (first values); rest-xml: URI labels


def function_name_from(raw):
    """URL-decoded name, ARN or partial ARN -> bare function name (qualifier dropped)."""
    name = unquote(raw)
    if name.startswith("arn:"):
        parts = name.split(":")
        # arn:aws:lambda:region:acct:function:name[:qualifier]
        return parts[6] if len(parts) > 6 else parts[-1]
    if ":" in name:
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":   # acct:function:name
            return parts[2]
        return parts[0]                                    # name:qualifier
    return name


def classify(method, path, headers, body) -> Req:
    r = Req()
    auth = headers.get("Authorization") or ""
    m = CRED_RE.search(auth)
    if m:
        r.service = m.group(2)
    target = headers.get("X-Amz-Target")
    ctype = (headers.get("Content-Type") or "").lower()
    split = urlsplit(path)
    if target and "." in target:
        prefix, op = target.rsplit(".", 1)
        r.protocol, r.operation, r.target_prefix = "json", op, prefix
        r.json_version = "1.0" if "1.0" in ctype else "1.1"
        if not m:
            r.service = TARGET_PREFIX_SERVICE.get(prefix, prefix)
        return r
    cm = CBOR_PATH_RE.match(split.path)
    if cm:
        r.protocol, r.operation, r.target_prefix = "cbor", cm.group(2), cm.group(1)
        if not m:
            r.service = TARGET_PREFIX_SERVICE.get(cm.group(1), cm.group(1))
        return r
    lm = LAMBDA_INVOKE_RE.match(split.path)
    if lm:
        r.service, r.protocol, r.operation = "lambda", "rest", "Invoke"
        r.function = function_name_from(lm.group(1))
        return r
    if r.service == "route53" or (not m and split.path.startswith(ROUTE53_PATH_PREFIX)):
        # REST-XML: the operation is the one of botocore's Route 53 model whose requestUri and
        # method match; its URI labels (Id, ...) are the params IAM reads the resource from.
        r.service, r.protocol = "route53", "rest-xml"
        found = route53_operation(method, split.path)
        if found:
            r.operation, r.params = found
        else:
            r.operation = f"{method} {split.path}"
        return r
    params = {}
    if split.query:
        params.update({k: v[0] for k, v in parse_qs(split.query).items()})
    if "x-www-form-urlencoded" in ctype and body:
        try:
            params.update({k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()})
        except Exception:
            pass
    if "Action" in params:
        r.protocol, r.operation, r.params = "query", params["Action"], params
        return r
    r.protocol = "rest"
    r.operation = f"{method} {split.path}"
    if r.service == "unknown" and split.path.startswith("/2015-03-31/"):
        r.service = "lambda"
    return r


# ---------------------------------------------------------------- Route 53 (REST-XML)
_route53_routes = None


def _route53_table():
    """[(method, regex, labels, operation, requestUri)] from botocore's Route 53 service model
    (loaded, not copied): the most literal templates first, so ``hostedzone/{Id}/rrset`` wins
    over a label in that place."""
    global _route53_routes
    if _route53_routes is None:
        import botocore.loaders
        model = botocore.loaders.Loader().load_service_model("route53", "service-2")
        routes = []
        for name, op in model["operations"].items():
            uri = op["http"]["requestUri"].split("?", 1)[0]
            parts, labels, literal = [], [], 0
            for seg in uri.strip("/").split("/"):
                lm = re.fullmatch(r"\{([^}+]+)(\+?)\}", seg)
                if lm:
                    labels.append(lm.group(1))
                    parts.append("(.+)" if lm.group(2) else "([^/]+)")
                else:
                    literal += 1
                    parts.append(re.escape(seg))
            rx = re.compile("^/" + "/".join(parts) + "/?$")
            routes.append((literal, op["http"]["method"], rx, labels, name, op["http"]["requestUri"]))
        routes.sort(key=lambda t: -t[0])
        _route53_routes = [t[1:] for t in routes]
    return _route53_routes


def route53_operation(method, path):
    """(operation, {URI label: value}) of a Route 53 request, or None."""
    for m, rx, labels, name, _ in _route53_table():
        if m != method:
            continue
        hit = rx.match(path)
        if hit:
            return name, {k: unquote(v) for k, v in zip(labels, hit.groups())}
    return None


def route53_request_uri(operation):
    """The operation's requestUri in botocore's Route 53 model (None when it has none)."""
    for _, _, _, name, uri in _route53_table():
        if name == operation:
            return uri
    return None


def default_throttle_code(req):
    if req.protocol in ("query", "rest-xml"):   # Route 53 answers <Code>Throttling</Code>, HTTP 400
        return 400, "Throttling"
    if req.service == "lambda":
        return 429, "TooManyRequestsException"
    return 400, "ThrottlingException"


def error_response(req, status, code, message):
    """(status, headers, body) for an AWS error in ``req``'s protocol."""
    rid = str(uuid.uuid4())
    if req.protocol == "query":
        typ = "Sender" if status < 500 else "Receiver"
        ns = {
            "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
            "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
            "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
            "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
            "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/",
        }.get(req.service, "http://webservices.amazon.com/AWSFault/2005-15-09")
        body = (f'<ErrorResponse xmlns="{ns}"><Error><Type>{typ}</Type><Code>{code}</Code>'
                f"<Message>{_xml_escape(message)}</Message></Error>"
                f"<RequestId>{rid}</RequestId></ErrorResponse>").encode()
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}, body
    if req.protocol == "rest-xml":   # Route 53: <ErrorResponse> in its namespace, the code in <Error>
        typ = "Sender" if status < 500 else "Receiver"
        body = (f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{ROUTE53_XMLNS}"><Error><Type>{typ}</Type>'
                f"<Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error>"
                f"<RequestId>{rid}</RequestId></ErrorResponse>").encode()
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}, body
    if req.protocol == "json":
        headers = {"Content-Type": f"application/x-amz-json-{req.json_version}",
                   "x-amzn-RequestId": rid, "x-amzn-ErrorType": code}
        if req.service == "monitoring":   # awsQueryCompatible
            headers["x-amzn-query-error"] = f"{code};{'Sender' if status < 500 else 'Receiver'}"
        return status, headers, json.dumps({"__type": code, "message": message}).encode()
    if req.protocol == "cbor":
        headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                   "x-amzn-RequestId": rid}
        if req.service == "monitoring":
            headers["x-amzn-query-error"] = f"{code};{'Sender' if status < 500 else 'Receiver'}"
        return status, headers, cbor2.dumps({"__type": code, "message": message})
    # rest-json (Lambda and friends)
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": rid,
               "X-Amzn-ErrorType": code}
    payload = {"Type": "User" if status < 500 else "Service", "message": message}
    if code == "TooManyRequestsException":
        payload["Reason"] = "CallerRateLimitExceeded"
        headers["Retry-After"] = "1"
    return status, headers, json.dumps(payload).encode()


def _xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


# ---------------------------------------------------------------- CBOR <-> JSON
_models = {}


def _service_model(service):
    if service not in _models:
        import botocore.session
        try:
            _models[service] = botocore.session.get_session().get_service_model(
                BOTOCORE_NAME.get(service, service))
        except Exception:
            _models[service] = None
    return _models[service]


def _operation_model(req):
    model = _service_model(req.service)
    if model is None or req.operation not in model.operation_names:
        return None
    return model.operation_model(req.operation)


def _parse_with(parser, body, shape):
    """botocore response parser used as a shape-driven decoder (-> python values)."""
    out = parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)
    out.pop("ResponseMetadata", None)
    return out


def cbor_request_to_json(req, body):
    """rpc-v2-cbor request body -> JSON 1.0/1.1 body (timestamps -> epoch seconds, blobs -> base64)."""
    op = _operation_model(req)
    if op is None or op.input_shape is None:
        return json.dumps(_jsonable(cbor2.loads(body) if body else {})).encode()
    params = _parse_with(bc_parsers.RpcV2CBORParser(), body or b"", op.input_shape) if body else {}
    return bc_serialize.JSONSerializer().serialize_to_request(params, op)["body"]


def _jsonable(o):
    if isinstance(o, bytes):
        return base64.b64encode(o).decode()
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_jsonable(v) for v in o]
    if isinstance(o, cbor2.CBORTag) and o.tag == 1:
        return o.value
    if hasattr(o, "timestamp"):   # cbor2 decodes tag 1 to datetime
        return o.timestamp()
    return o


def json_response_to_cbor(req, status, body):
    """Encode a JSON (1.0/1.1) response body as rpc-v2-cbor using the output shape."""
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    if status >= 300:
        code = data.get("__type") or data.get("code") or "InternalFailure"
        code = code.split("#")[-1]
        return cbor2.dumps({"__type": code, "message": data.get("message") or data.get("Message") or ""})
    op = _operation_model(req)
    if op is None or op.output_shape is None:
        return cbor2.dumps(data)
    parsed = _parse_with(bc_parsers.JSONParser(), body or b"{}", op.output_shape)
    out = bytearray()
    bc_serialize.RpcV2CBORSerializer()._serialize_data_item(out, parsed, op.output_shape)
    return bytes(out)
