"""Lambda's own behaviour in the sandbox, as AWS Lambda does it where hookline's safety depends on it.

cargo-lambda runs the real function binaries but is only an Invoke endpoint: it has no function
timeout, no asynchronous event queue, no retries, no dead-letter queue and no event source mapping.
This module adds them, driven by ``infra/template.yaml`` (rendered with the sandbox's names):

- Function timeouts: ``Timeout`` (or ``Globals.Function.Timeout``) x ``function_timeout_scale``. An
  invoke running longer answers ``200`` + ``X-Amz-Function-Error: Unhandled`` and
  ``{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out after
  N.00 seconds"}`` ("Troubleshoot invocation issues in Lambda", Sandbox.Timedout:
  https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html ; the payload form is
  the one Lambda's runtime interface emulator and real invocations return). Step Functions names the
  error after ``errorType`` (``Sandbox.Timedout``); runtimes that send no errorType surface as
  ``Lambda.Unknown`` ("Handle Lambda service exceptions",
  https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html: function
  timeouts are unhandled errors). Unlike AWS, the process is not frozen: cargo-lambda keeps running
  it and, with its concurrency of one per function, the next invoke of that function waits for it.
- Asynchronous invocation (``X-Amz-Invocation-Type: Event``): 202 at once, delivery on a background
  thread; after a function error (timeouts and injected crashes included) ``async_retries`` more
  attempts (capped by the function's ``EventInvokeConfig.MaximumRetryAttempts``), the n-th after
  n x ``async_retry_delay_s`` (AWS: one minute, then two); an event older than
  ``MaximumEventAgeInSeconds`` is not retried. After the last failed attempt the event goes to the
  function's dead-letter queue: the payload as-is with attributes RequestID (String), ErrorCode
  (Number), ErrorMessage (String, first 1 KB). Lambda's queue is eventually consistent and may
  deliver an event more than once: ``async_duplicates`` extra deliveries of an event that succeeded,
  ``async_duplicate_delay_s`` apart. ("Asynchronous invocation", error handling and dead-letter
  queues: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html,
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq)
- SQS event source mappings (SAM ``Events: Type: SQS`` or ``AWS::Lambda::EventSourceMapping``): a
  poller receives up to ``BatchSize`` messages, invokes the function synchronously with the SQS event
  (Records: messageId, receiptHandle, body, attributes, messageAttributes, md5OfBody, eventSource,
  eventSourceARN, awsRegion), deletes the batch on success; with ``ReportBatchItemFailures`` it keeps
  the ``batchItemFailures`` (an invalid identifier fails the whole batch); on a function error nothing
  is deleted and the messages come back after the queue's visibility timeout. ("Using Lambda with
  Amazon SQS": https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html ; partial batch responses:
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html)

- The invocation's deadline: cargo-lambda 1.9.2 answers every ``/runtime/invocation/next`` with
  ``Lambda-Runtime-Deadline-Ms: 600000`` (a constant: 1970-01-01T00:10:00Z, crates/cargo-lambda-watch/
  src/runtime/functions_router.rs), so a function's Context deadline has always passed. Lambda's is
  the function's timeout from the invocation's start ("Lambda-Runtime-Deadline-Ms – The date that the
  function times out in Unix time milliseconds.", Lambda runtime API). ``RuntimeApiProxy`` sits
  between the function processes and cargo-lambda's runtime API (up.sh sets
  SANDBOX_RUNTIME_PROXY_PORT / SANDBOX_RUNTIME_UPSTREAM, lambda-runner.sh points the process's
  AWS_LAMBDA_RUNTIME_API at it) and rewrites that header to the time the event is handed over plus
  the function's timeout (x ``function_timeout_scale``; a function not in the template keeps
  cargo-lambda's value). The hand-over is the invocation's start as the function sees it; the
  emulator's own cut counts from the Invoke (the difference is cargo-lambda's queueing, milliseconds
  once the process runs).

Every delivery (first, retry, duplicate, redelivery, event source mapping) passes the router's
function faults (``crash``, ``latency``), so a permanent crash fails every one of them.
"""
import base64
import http.client
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import yaml
from botocore.exceptions import ClientError

import cfn_yaml

log = logging.getLogger("lambda")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")
NAME_PREFIX = "hookline"   # the sandbox renders ${NamePrefix} as provision.py does (hookline-<name>)
ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
# Faults that happen inside the function (each delivery), as opposed to API faults of Invoke itself.
FUNCTION_FAULT_KINDS = ("crash", "latency")
# AWS defaults: function timeout 3 s (configuration-timeout), 2 async retries, 6 h event age
# (invocation-async-error-handling), SQS batch size 10 and visibility timeout 30 s.
AWS_DEFAULT_TIMEOUT_S = 3
AWS_DEFAULT_RETRIES = 2
AWS_DEFAULT_EVENT_AGE_S = 6 * 3600
AWS_DEFAULT_BATCH_SIZE = 10
AWS_DEFAULT_VISIBILITY_S = 30
DLQ_MESSAGE_LIMIT = 1024
RECENT = 200


# ----------------------------------------------------------------------------- template


@dataclass
class FunctionConfig:
    name: str                      # bare binary name, as the sandbox invokes it
    logical_id: str
    timeout_s: float
    dead_letter_queue: str = None  # queue name
    max_retry_attempts: int = None
    max_event_age_s: int = None


@dataclass
class QueueConfig:
    logical_id: str
    name: str
    attributes: dict = field(default_factory=dict)   # CreateQueue attributes the sandbox applies

    @property
    def visibility_timeout_s(self):
        return int(self.attributes.get("VisibilityTimeout", AWS_DEFAULT_VISIBILITY_S))


@dataclass
class EventSourceMapping:
    function: str
    queue: str                     # queue name
    batch_size: int = AWS_DEFAULT_BATCH_SIZE
    report_batch_item_failures: bool = False
    enabled: bool = True
    source: str = ""               # where in the template


@dataclass
class TemplateSpec:
    functions: dict = field(default_factory=dict)   # name -> FunctionConfig
    queues: dict = field(default_factory=dict)      # queue name -> QueueConfig
    mappings: list = field(default_factory=list)    # [EventSourceMapping]


def _render(value, resources, prefix):
    """A string property: literal, !Sub with ${NamePrefix}/${AWS::...}, or !Ref to a parameter."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        if isinstance(text, list):
            text = text[0]
        for k, v in {"NamePrefix": prefix, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                     "AWS::Partition": PARTITION}.items():
            text = text.replace("${%s}" % k, v)
        return text
    if isinstance(value, dict) and value.get("Ref") == "NamePrefix":
        return prefix
    return None


def _queue_ref(value, resources, prefix, where):
    """Queue name from !GetAtt Q.Arn, !Ref Q (URL), or a literal/rendered ARN."""
    logical = None
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical = value["Fn::GetAtt"][0]
    elif isinstance(value, dict) and "Ref" in value and value["Ref"] in resources:
        logical = value["Ref"]
    if logical is not None:
        res = resources.get(logical) or {}
        if res.get("Type") != "AWS::SQS::Queue":
            raise ValueError(f"{where}: {logical} is not an AWS::SQS::Queue")
        name = _render((res.get("Properties") or {}).get("QueueName"), resources, prefix)
        return name or f"{prefix}-{logical}"
    text = _render(value, resources, prefix)
    if not text:
        raise ValueError(f"{where}: cannot resolve the queue {value!r}")
    return text.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _function_name(logical, props, prefix):
    code = props.get("CodeUri")
    if isinstance(code, str) and "/target/lambda/" in code:   # ../target/lambda/<bin>/bootstrap.zip
        return code.split("/target/lambda/", 1)[1].split("/", 1)[0]
    name = _render(props.get("FunctionName"), {}, prefix)
    if name:
        return name[len(prefix) + 1:] if name.startswith(prefix + "-") else name
    return logical


def load_template(path=None, prefix=NAME_PREFIX):
    """The Lambda-relevant part of a SAM/CloudFormation template, with the sandbox's names."""
    path = path or os.environ.get("SANDBOX_TEMPLATE") or DEFAULT_TEMPLATE
    with open(path, encoding="utf-8") as f:
        doc = yaml.load(f, Loader=cfn_yaml.CfnLoader) or {}
    resources = doc.get("Resources") or {}
    glob = ((doc.get("Globals") or {}).get("Function") or {})
    spec = TemplateSpec()
    by_logical = {}
    for lid, res in resources.items():
        if res.get("Type") != "AWS::SQS::Queue":
            continue
        props = res.get("Properties") or {}
        name = _render(props.get("QueueName"), resources, prefix) or f"{prefix}-{lid}"
        attrs = {k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds",
                                            "ReceiveMessageWaitTimeSeconds", "MaximumMessageSize")
                 if isinstance(props.get(k), (int, str))}
        spec.queues[name] = QueueConfig(lid, name, attrs)
    for lid, res in resources.items():
        if res.get("Type") not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        props = res.get("Properties") or {}
        sam = res["Type"] == "AWS::Serverless::Function"
        name = _function_name(lid, props, prefix)
        timeout = props.get("Timeout", glob.get("Timeout", AWS_DEFAULT_TIMEOUT_S) if sam else AWS_DEFAULT_TIMEOUT_S)
        fc = FunctionConfig(name=name, logical_id=lid, timeout_s=float(timeout))
        dlq = props.get("DeadLetterQueue") if sam else None
        if dlq is None:
            dlq = props.get("DeadLetterConfig")
        if dlq:
            if dlq.get("Type", "SQS") != "SQS":
                raise ValueError(f"{lid}.DeadLetterQueue: only SQS dead-letter queues are emulated")
            fc.dead_letter_queue = _queue_ref(dlq.get("TargetArn"), resources, prefix, f"{lid}.DeadLetterQueue")
        eic = props.get("EventInvokeConfig") if sam else None
        if eic:
            fc.max_retry_attempts = eic.get("MaximumRetryAttempts")
            fc.max_event_age_s = eic.get("MaximumEventAgeInSeconds")
        spec.functions[name] = fc
        by_logical[lid] = fc
        for ename, ev in ((props.get("Events") or {}).items() if sam else ()):
            if (ev or {}).get("Type") != "SQS":
                continue
            ep = ev.get("Properties") or {}
            spec.mappings.append(EventSourceMapping(
                function=name, queue=_queue_ref(ep.get("Queue"), resources, prefix, f"{lid}.Events.{ename}.Queue"),
                batch_size=int(ep.get("BatchSize", AWS_DEFAULT_BATCH_SIZE)),
                report_batch_item_failures="ReportBatchItemFailures" in (ep.get("FunctionResponseTypes") or []),
                enabled=bool(ep.get("Enabled", True)), source=f"{lid}.Events.{ename}"))
    for lid, res in resources.items():
        t = res.get("Type")
        props = res.get("Properties") or {}
        if t == "AWS::Lambda::EventInvokeConfig":
            fc = _function_of(props.get("FunctionName"), by_logical, spec, prefix, f"{lid}.FunctionName")
            if "MaximumRetryAttempts" in props:
                fc.max_retry_attempts = props["MaximumRetryAttempts"]
            if "MaximumEventAgeInSeconds" in props:
                fc.max_event_age_s = props["MaximumEventAgeInSeconds"]
        if t != "AWS::Lambda::EventSourceMapping":
            continue
        src = props.get("EventSourceArn")
        src_text = _render(src, resources, prefix) or ""
        if not ((isinstance(src, dict) and "Fn::GetAtt" in src and
                 (resources.get(src["Fn::GetAtt"][0]) or {}).get("Type") == "AWS::SQS::Queue") or ":sqs:" in src_text):
            continue   # streams and Kafka are not emulated
        fc = _function_of(props.get("FunctionName"), by_logical, spec, prefix, f"{lid}.FunctionName")
        spec.mappings.append(EventSourceMapping(
            function=fc.name, queue=_queue_ref(src, resources, prefix, f"{lid}.EventSourceArn"),
            batch_size=int(props.get("BatchSize", AWS_DEFAULT_BATCH_SIZE)),
            report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            enabled=bool(props.get("Enabled", True)), source=lid))
    for m in spec.mappings:
        if not 1 <= m.batch_size <= 10:
            # SQS ReceiveMessage returns at most 10; larger sizes need a batching window (not emulated)
            m.batch_size = min(max(m.batch_size, 1), 10)
    return spec


def _function_of(value, by_logical, spec, prefix, where):
    lid = None
    if isinstance(value, dict) and "Ref" in value:
        lid = value["Ref"]
    elif isinstance(value, dict) and "Fn::GetAtt" in value:
        lid = value["Fn::GetAtt"][0]
    if lid is not None:
        if lid not in by_logical:
            raise ValueError(f"{where}: {lid} is not a function of the template")
        return by_logical[lid]
    text = _render(value, {}, prefix)
    if text:
        name = text.rsplit(":", 1)[-1] if text.startswith("arn:") else text
        name = name[len(prefix) + 1:] if name.startswith(prefix + "-") else name
        if name in spec.functions:
            return spec.functions[name]
    raise ValueError(f"{where}: cannot resolve the function {value!r}")


def queue_arn(name):
    return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}"


def ensure_queue(sqs, q):
    """Create the queue (idempotent); answers its URL."""
    try:
        return sqs.create_queue(QueueName=q.name, Attributes=dict(q.attributes))["QueueUrl"]
    except ClientError as e:
        if "QueueAlreadyExists" in str(e) or "QueueNameExists" in str(e):
            return sqs.get_queue_url(QueueName=q.name)["QueueUrl"]
        raise


# ----------------------------------------------------------------------------- run-time config
KNOBS = {  # key -> (env var, type, default, minimum)
    "async_retries": ("SANDBOX_ASYNC_RETRIES", int, AWS_DEFAULT_RETRIES, 0),
    "async_retry_delay_s": ("SANDBOX_ASYNC_RETRY_DELAY_S", float, 1.0, 0.0),
    "async_duplicates": ("SANDBOX_ASYNC_DUPLICATES", int, 0, 0),
    "async_duplicate_delay_s": ("SANDBOX_ASYNC_DUPLICATE_DELAY_S", float, 5.0, 0.0),
    "function_timeout_scale": ("SANDBOX_FUNCTION_TIMEOUT_SCALE", float, 1.0, 0.0),
    "esm_enabled": ("SANDBOX_ESM_ENABLED", bool, True, None),
    "esm_poll_wait_s": ("SANDBOX_ESM_POLL_WAIT_S", int, 1, 0),
}


def _coerce(key, value):
    _, typ, _, minimum = KNOBS[key]
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "0", "false"):
            return value.lower() in ("1", "true")
        raise ValueError(f"{key} must be true or false, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{key} must be a number, got {value!r}")
    if typ is int and isinstance(value, float):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    try:
        out = typ(value)
    except ValueError:
        raise ValueError(f"{key} must be a {'whole ' if typ is int else ''}number, got {value!r}") from None
    if minimum is not None and out < minimum:
        raise ValueError(f"{key} must be >= {minimum}, got {value!r}")
    return out


class LambdaConfig:
    def __init__(self, **kw):
        for key, (env, _typ, default, _min) in KNOBS.items():
            raw = kw.get(key, os.environ.get(env, default))
            setattr(self, key, _coerce(key, raw))

    def update(self, doc):
        if not isinstance(doc, dict):
            raise ValueError("body must be a JSON object of knobs")
        unknown = sorted(set(doc) - set(KNOBS))
        if unknown:
            raise ValueError(f"unknown knob(s) {unknown}; known: {sorted(KNOBS)}")
        new = {k: _coerce(k, v) for k, v in doc.items()}   # validate all before changing any
        for k, v in new.items():
            setattr(self, k, v)

    def as_dict(self):
        return {k: getattr(self, k) for k in KNOBS}


# ----------------------------------------------------------------------------- outcomes
@dataclass
class Outcome:
    """One invocation as the Invoke API answers it."""
    status: int
    headers: dict
    body: bytes
    kind: str = "ok"          # ok | function_error | timeout | crash | service_error
    duration_s: float = 0.0

    @property
    def ok(self):
        return self.kind == "ok"

    def error(self):
        try:
            doc = json.loads(self.body or b"{}")
        except ValueError:
            return None, self.body.decode("utf-8", "replace")
        if isinstance(doc, dict):
            return doc.get("errorType") or doc.get("__type"), doc.get("errorMessage") or doc.get("message") or ""
        return None, ""

    def summary(self):
        out = {"outcome": self.kind, "status": self.status, "duration_s": round(self.duration_s, 3)}
        if not self.ok:
            et, em = self.error()
            out.update(error_type=et, error_message=(em or "")[:300])
        return out


def _function_error(rid, error_type, message, kind):
    return Outcome(200, {"Content-Type": "application/json", "X-Amz-Function-Error": "Unhandled",
                         "X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": rid},
                   json.dumps({"errorType": error_type, "errorMessage": message}).encode(), kind)


def classify(status, headers, body, rid):
    h = dict(headers or {})
    h["x-amzn-RequestId"] = rid
    if status >= 300:
        return Outcome(status, h, body, "service_error")
    if any(k.lower() == "x-amz-function-error" for k in h):
        return Outcome(status, h, body, "function_error")
    return Outcome(status, h, body, "ok")


# ----------------------------------------------------------------------------- the emulator
RUNTIME_DEADLINE_HEADER = "Lambda-Runtime-Deadline-Ms"
RUNTIME_PAGE = "Lambda developer guide, Using the Lambda runtime API for custom runtimes (runtimes-api)"
# One row per emulated behaviour with its source (tests/sandbox/README.md, "Sources").
SOURCES = [
    {"id": "LAMBDA-DEADLINE", "behaviour": "a function's invocation deadline (Lambda-Runtime-Deadline-Ms, the "
     "Context's deadline) is the time the event is handed to the process plus the function's Timeout from "
     "infra/template.yaml (x function_timeout_scale); cargo-lambda's own value (a constant in 1970) is replaced",
     "source": '"Lambda-Runtime-Deadline-Ms – The date that the function times out in Unix time milliseconds." — '
     + RUNTIME_PAGE, "switch": None},
]


def function_of_runtime_path(path):
    """The function name in a cargo-lambda runtime API path (``/.rt/<function>/2018-06-01/...``), or None."""
    parts = path.split("/")
    return parts[2] if len(parts) > 3 and parts[1] == ".rt" else None


class RuntimeApiProxy:
    """Forwards a function process's runtime API calls to cargo-lambda and gives each invocation
    handed over (``GET .../runtime/invocation/next``) the deadline Lambda would: now + the
    function's timeout (``timeout_for(function)`` seconds; None keeps cargo-lambda's header)."""

    HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}

    def __init__(self, upstream, timeout_for, port=0, host="127.0.0.1"):
        u = urlparse(upstream)
        self.upstream_host, self.upstream_port = u.hostname, u.port or 80
        self.timeout_for = timeout_for
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in proxy.HOP and k.lower() != "host"}
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=None)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    r = conn.getresponse()
                    data = r.read()
                    out = [(k, v) for k, v in r.getheaders() if k.lower() not in proxy.HOP]
                finally:
                    conn.close()
                if self.command == "GET" and self.path.endswith("/runtime/invocation/next") and r.status == 200:
                    out = proxy.with_deadline(out, function_of_runtime_path(self.path), time.time())
                self.send_response(r.status)
                for k, v in out:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    def with_deadline(self, headers, function, now):
        """``headers`` with Lambda-Runtime-Deadline-Ms = now + the function's timeout (unchanged when
        the function has no timeout in the template)."""
        timeout = self.timeout_for(function) if function else None
        if timeout is None:
            return headers
        deadline = str(int((now + timeout) * 1000))
        return [(k, v) for k, v in headers if k.lower() != RUNTIME_DEADLINE_HEADER.lower()] + [
            (RUNTIME_DEADLINE_HEADER, deadline)]

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True, name="runtime-api-proxy").start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class LambdaEmulator:
    """backend(function, payload bytes) -> (status, headers, body): one raw invoke (cargo-lambda),
    already in the Invoke API's form. take_fault(function) -> fault dict or None (consumes it).
    sqs: a boto3 SQS client (moto), or None (no dead-letter queue, no event source mapping); it
    creates the queues. sqs_for(function) -> an SQS client acting as that function's execution role,
    or None: Lambda sends to a dead-letter queue and polls an event source with the function's role
    (invocation-async-retain-records.html, with-sqs.html "Execution role permissions"), so where the
    sandbox enforces IAM those calls need the template's grants."""

    def __init__(self, backend, take_fault=None, sqs=None, spec=None, config=None, sqs_for=None):
        self.backend = backend
        self.take_fault = take_fault or (lambda fn: None)
        self.sqs = sqs
        self.sqs_for = sqs_for
        self._esm_checked = set()
        self._esm_last_error = {}
        self.spec = spec if spec is not None else TemplateSpec()
        self.cfg = config or LambdaConfig()
        self.lock = threading.Lock()
        self.events = OrderedDict()          # event id -> record
        self.dlq_sends = deque(maxlen=RECENT)
        self.esm_invokes = deque(maxlen=RECENT)
        self.queue_urls = {}
        self._stop = threading.Event()
        self._threads = []

    # ------------------------------------------------------------- lifecycle
    def start(self):
        # The function processes' runtime API (up.sh: SANDBOX_RUNTIME_PROXY_PORT, the port
        # lambda-runner.sh points AWS_LAMBDA_RUNTIME_API at; SANDBOX_RUNTIME_UPSTREAM, cargo-lambda).
        port, upstream = os.environ.get("SANDBOX_RUNTIME_PROXY_PORT"), os.environ.get("SANDBOX_RUNTIME_UPSTREAM")
        self.runtime_proxy = None
        if port and upstream:
            self.runtime_proxy = RuntimeApiProxy(upstream, self.timeout_for, port=int(port)).start()
        if self.sqs is None:
            return self
        for m in self.spec.mappings:
            t = threading.Thread(target=self._poll_loop, args=(m,), daemon=True, name=f"esm-{m.function}-{m.queue}")
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        if getattr(self, "runtime_proxy", None) is not None:
            self.runtime_proxy.stop()

    # ------------------------------------------------------------- one delivery
    def timeout_for(self, fn):
        fc = self.spec.functions.get(fn)
        if fc is None:
            return None   # not a template function (sandbox test stubs): no limit
        return fc.timeout_s * self.cfg.function_timeout_scale

    def run(self, fn, payload, rid=None, enforce_timeout=True):
        """One invocation of fn as Lambda runs it: function faults, then the function under its timeout."""
        rid = rid or str(uuid.uuid4())
        t0 = time.time()
        fault = self.take_fault(fn)
        if fault and fault["kind"] == "crash":
            msg = (fault.get("message")
                   or f"RequestId: {rid} Error: Runtime exited with error: signal: aborted (core dumped)")
            return _function_error(rid, fault.get("error_type") or "Runtime.ExitError", msg, "crash")
        latency = fault["latency_ms"] / 1000.0 if fault and fault["kind"] == "latency" else 0.0
        box = {}

        def work():
            try:
                if latency:
                    time.sleep(latency)   # the function is slow: counts against its timeout
                box["out"] = classify(*self.backend(fn, payload), rid)
            except Exception as e:   # a broken backend is a service error, not a silent success
                log.exception("invoke %s", fn)
                box["out"] = Outcome(502, {"x-amzn-RequestId": rid, "Content-Type": "application/json"},
                                     json.dumps({"__type": "ServiceException", "message": f"sandbox: {e}"}).encode(),
                                     "service_error")

        limit = self.timeout_for(fn) if enforce_timeout else None
        worker = threading.Thread(target=work, daemon=True, name=f"invoke-{fn}")
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            # Lambda stops the invocation here; cargo-lambda's process keeps running it (not frozen).
            log.warning("invoke %s timed out after %.2f s (process keeps running in cargo-lambda)", fn, limit)
            out = _function_error(rid, "Sandbox.Timedout",
                                  f"RequestId: {rid} Error: Task timed out after {limit:.2f} seconds", "timeout")
        else:
            out = box["out"]
        out.duration_s = time.time() - t0
        return out

    # ------------------------------------------------------------- the Invoke API
    def invoke(self, fn, payload, invocation_type="RequestResponse", enforce_timeout=True):
        """(status, headers, body) as Lambda's Invoke answers."""
        rid = str(uuid.uuid4())
        if invocation_type == "DryRun":
            return 204, {"x-amzn-RequestId": rid}, b""
        if invocation_type == "Event":
            self.submit_async(fn, payload, rid)
            return 202, {"x-amzn-RequestId": rid}, b""
        out = self.run(fn, payload, rid, enforce_timeout)
        return out.status, out.headers, out.body

    def submit_async(self, fn, payload, rid=None):
        rid = rid or str(uuid.uuid4())
        try:
            shown = json.loads(payload or b"null")
        except ValueError:
            shown = (payload or b"").decode("utf-8", "replace")
        ev = {"id": uuid.uuid4().hex[:16], "function": fn, "request_id": rid, "payload": shown,
              "received_at": time.time(), "status": "queued", "deliveries": [], "_raw": payload}
        with self.lock:
            self.events[ev["id"]] = ev
            while len(self.events) > RECENT:
                self.events.popitem(last=False)
        threading.Thread(target=self._deliver_async, args=(ev,), daemon=True, name=f"async-{fn}-{ev['id']}").start()
        return ev["id"]

    def _record(self, ev, kind, out):
        d = {"n": len(ev["deliveries"]) + 1, "kind": kind, "at": time.time(), **out.summary()}
        with self.lock:
            ev["deliveries"].append(d)
        log.info("async %s %s #%d (%s) -> %s", ev["function"], ev["id"], d["n"], kind, d["outcome"])
        return d

    def _retries_for(self, fn):
        fc = self.spec.functions.get(fn)
        cap = fc.max_retry_attempts if fc and fc.max_retry_attempts is not None else AWS_DEFAULT_RETRIES
        return min(self.cfg.async_retries, cap)

    def _deliver_async(self, ev):
        fn = ev["function"]
        fc = self.spec.functions.get(fn)
        max_age = fc.max_event_age_s if fc and fc.max_event_age_s is not None else AWS_DEFAULT_EVENT_AGE_S
        retries = self._retries_for(fn)
        out = self.run(fn, ev["_raw"], ev["request_id"])
        self._record(ev, "first", out)
        attempt = 0
        while not out.ok and attempt < retries:
            attempt += 1
            # AWS waits one minute before the 2nd attempt and two before the 3rd.
            if self._stop.wait(self.cfg.async_retry_delay_s * attempt):
                return
            if time.time() - ev["received_at"] > max_age:
                log.info("async %s %s older than MaximumEventAgeInSeconds=%s: not retried", fn, ev["id"], max_age)
                break
            out = self.run(fn, ev["_raw"], ev["request_id"])
            self._record(ev, "retry", out)
        if not out.ok:
            with self.lock:
                ev["status"] = "failed"
            self._dead_letter(ev, out)
            return
        with self.lock:
            ev["status"] = "succeeded"
        for _ in range(self.cfg.async_duplicates):
            # Pessimistic: the same event again after it succeeded (AWS: "it's possible for it to receive
            # the same event from Lambda multiple times"). A failed duplicate is not retried.
            if self._stop.wait(self.cfg.async_duplicate_delay_s):
                return
            self._record(ev, "duplicate", self.run(fn, ev["_raw"], ev["request_id"]))

    def redeliver(self, event_id):
        with self.lock:
            ev = self.events.get(event_id)
        if ev is None:
            raise KeyError(event_id)
        return self._record(ev, "redeliver", self.run(ev["function"], ev["_raw"], ev["request_id"]))

    # ------------------------------------------------------------- dead-letter queue
    def _queue_url(self, name):
        url = self.queue_urls.get(name)
        if url is None:
            q = self.spec.queues.get(name) or QueueConfig(name, name)
            url = self.queue_urls[name] = ensure_queue(self.sqs, q)
        return url

    def _sqs_as(self, fn):
        client = self.sqs_for(fn) if self.sqs_for else None
        return client or self.sqs

    def _dead_letter(self, ev, out):
        fc = self.spec.functions.get(ev["function"])
        rec = {"event_id": ev["id"], "function": ev["function"], "at": time.time()}
        if fc is None or not fc.dead_letter_queue or self.sqs is None:
            rec["queue"] = None
            rec["result"] = "discarded (no dead-letter queue)"
            with self.lock:
                ev["status"] = "discarded"
                self.dlq_sends.append(rec)
            return
        _et, em = out.error()
        em = (em or "").encode()[:DLQ_MESSAGE_LIMIT].decode("utf-8", "ignore") or "-"   # the first 1 KB
        attrs = {"RequestID": {"DataType": "String", "StringValue": ev["request_id"]},
                 "ErrorCode": {"DataType": "Number", "StringValue": str(out.status)},
                 "ErrorMessage": {"DataType": "String", "StringValue": em}}
        rec["queue"] = fc.dead_letter_queue
        rec["attributes"] = {k: v["StringValue"] for k, v in attrs.items()}
        try:
            body = (ev["_raw"] or b"").decode("utf-8", "replace")
            client = self._sqs_as(ev["function"])
            try:
                sent = client.send_message(QueueUrl=self._queue_url(fc.dead_letter_queue), MessageBody=body,
                                           MessageAttributes=attrs)
            except ClientError as e:
                if "NonExistent" not in str(e) and "QueueDoesNotExist" not in str(e):
                    raise
                self.queue_urls.pop(fc.dead_letter_queue, None)   # moto reset: create the queue again
                sent = client.send_message(QueueUrl=self._queue_url(fc.dead_letter_queue), MessageBody=body,
                                           MessageAttributes=attrs)
            rec["message_id"] = sent["MessageId"]
            rec["result"] = "sent"
            status = "dead-lettered"
        except Exception as e:
            # AWS deletes the event and emits DeadLetterErrors; the sandbox says so in the record.
            log.exception("dead-letter send for %s", ev["id"])
            rec["result"] = f"error: {e}"
            status = "dead-letter-error"
        with self.lock:
            ev["status"] = status
            self.dlq_sends.append(rec)

    # ------------------------------------------------------------- SQS event source mapping
    def _poll_loop(self, m):
        while not self._stop.is_set():
            if not (self.cfg.esm_enabled and m.enabled):
                self._stop.wait(0.5)
                continue
            try:
                self.poll_once(m, wait_s=self.cfg.esm_poll_wait_s)
                self._esm_last_error.pop(id(m), None)
            except Exception as e:
                # AWS keeps retrying a mapping it cannot read (e.g. AccessDenied on the role): record the
                # error once per change, back off, try again.
                if self._esm_last_error.get(id(m)) != str(e):
                    self._esm_last_error[id(m)] = str(e)
                    log.warning("event source mapping %s <- %s: %s", m.function, m.queue, e)
                    with self.lock:
                        self.esm_invokes.append({"function": m.function, "queue": m.queue, "at": time.time(),
                                                 "outcome": "poll_error", "error": str(e)[:500]})
                self.queue_urls.pop(m.queue, None)
                self._stop.wait(2.0)

    def poll_once(self, m, wait_s=0):
        """One receive + invoke + delete round; answers the invoke record or None (queue empty)."""
        url = self._queue_url(m.queue)
        client = self._sqs_as(m.function)
        if id(m) not in self._esm_checked:   # Lambda reads the queue's attributes (GetQueueAttributes)
            client.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
            self._esm_checked.add(id(m))
        msgs = client.receive_message(QueueUrl=url, MaxNumberOfMessages=m.batch_size, WaitTimeSeconds=wait_s,
                                        AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages") or []
        if not msgs:
            return None
        event = {"Records": [sqs_record(msg, m.queue) for msg in msgs]}
        out = self.run(m.function, json.dumps(event).encode())
        ids = [msg["MessageId"] for msg in msgs]
        failed = list(ids)
        if out.ok:
            failed = batch_failures(out.body, ids) if m.report_batch_item_failures else []
        done = [msg for msg in msgs if msg["MessageId"] not in failed]
        for msg in done:
            client.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        rec = {"function": m.function, "queue": m.queue, "at": time.time(), "message_ids": ids,
               "bodies": [msg["Body"][:500] for msg in msgs], "deleted": [msg["MessageId"] for msg in done],
               "receipt_handles": {msg["MessageId"]: msg["ReceiptHandle"] for msg in msgs},
               "kept": failed, **out.summary()}
        if out.ok:
            rec["response"] = out.body.decode("utf-8", "replace")[:500]
        with self.lock:
            self.esm_invokes.append(rec)
        log.info("event source mapping %s <- %s: %d message(s), %s, kept %d", m.function, m.queue, len(ids),
                 out.kind, len(failed))
        return rec

    # ------------------------------------------------------------- control API
    def snapshot(self):
        with self.lock:
            events = [{k: v for k, v in ev.items() if not k.startswith("_")} for ev in self.events.values()]
            events = json.loads(json.dumps(events, default=str))
            by_fn = {}
            for ev in events:
                by_fn.setdefault(ev["function"], []).append(ev)
            return {"config": self.cfg.as_dict(),
                    "functions": {n: {"timeout_s": f.timeout_s, "effective_timeout_s": self.timeout_for(n),
                                      "dead_letter_queue": f.dead_letter_queue,
                                      "max_retry_attempts": f.max_retry_attempts,
                                      "effective_retries": self._retries_for(n),
                                      "max_event_age_s": f.max_event_age_s}
                                  for n, f in self.spec.functions.items()},
                    "event_source_mappings": [vars(m) for m in self.spec.mappings],
                    "async_events": by_fn,
                    "dlq_sends": list(self.dlq_sends),
                    "esm_invokes": list(self.esm_invokes)}


def sqs_record(msg, queue):
    """A received SQS message as Lambda puts it in the event (with-sqs.html, "Example Amazon SQS message event")."""
    attrs = {}
    for k, v in (msg.get("MessageAttributes") or {}).items():
        a = {"stringListValues": [], "binaryListValues": [], "dataType": v.get("DataType")}
        if "StringValue" in v:
            a["stringValue"] = v["StringValue"]
        if "BinaryValue" in v:
            a["binaryValue"] = base64.b64encode(v["BinaryValue"]).decode()
        attrs[k] = a
    return {"messageId": msg["MessageId"], "receiptHandle": msg["ReceiptHandle"], "body": msg["Body"],
            "attributes": dict(msg.get("Attributes") or {}), "messageAttributes": attrs,
            "md5OfBody": msg.get("MD5OfBody"), "eventSource": "aws:sqs", "eventSourceARN": queue_arn(queue),
            "awsRegion": REGION}


def batch_failures(body, ids):
    """Message ids to keep, from a ReportBatchItemFailures response (services-sqs-errorhandling.html):
    empty/null response or list = all succeeded; an empty, null, unknown or misspelled itemIdentifier =
    the whole batch failed."""
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return list(ids)   # invalid JSON: complete failure
    if not doc:
        return []
    if not isinstance(doc, dict):
        return list(ids)
    items = doc.get("batchItemFailures")
    if not items:
        return []
    keep = []
    for it in items:
        ident = it.get("itemIdentifier") if isinstance(it, dict) else None
        if not ident or ident not in ids:
            return list(ids)
        keep.append(ident)
    return keep
