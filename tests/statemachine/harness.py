"""Run hookline's state machines in moto's Step Functions interpreter with stub functions.

moto's interpreter invokes Lambda with boto3 at http://localhost:$MOTO_PORT. moto's own
Lambda needs docker, so moto is started with MOTO_PORT pointing at a small router
(this module): Lambda Invoke calls (POST /2015-03-31/functions/<arn>/invocations) are
answered by per-test Python stubs, every other request is forwarded to moto (SNS publish
from the approval task, ...). The stubs answer like real Lambda: 200, and for a function
error the header X-Amz-Function-Error plus {"errorType", "errorMessage"}.
"""
from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATEMACHINE_DIR = ROOT / "statemachine"
REGION = "us-east-1"
ACCOUNT = "123456789012"
MACHINES = ("canary", "post-traffic", "release", "rollback")

_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations")


def load_placeholders() -> dict:
    return json.loads((STATEMACHINE_DIR / "placeholders.json").read_text())


def placeholder_values(region: str = REGION, account: str = ACCOUNT) -> dict:
    """Plausible ARNs for every documented placeholder (sandbox naming, docs/contracts.md)."""
    out = {}
    for key, spec in load_placeholders().items():
        if spec["kind"] == "function":
            out[key] = f"arn:aws:lambda:{region}:{account}:function:{spec['name']}"
        elif spec["kind"] == "topic":
            out[key] = f"arn:aws:sns:{region}:{account}:{spec['name']}"
        else:
            raise ValueError(f"placeholder {key}: unknown kind {spec['kind']!r}")
    return out


def render(name: str, values: dict | None = None) -> str:
    text = (STATEMACHINE_DIR / f"{name}.asl.json").read_text()
    values = values or placeholder_values()
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FunctionError(Exception):
    """Raise from a stub to answer with a Lambda function error of this errorType."""

    def __init__(self, error_type: str, message: str = ""):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message or error_type


class Stubs:
    """Per-test function behaviour and a log of every invocation (name, payload)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.handlers: dict = {}
            self.calls: list[tuple[str, dict]] = []

    def set(self, name: str, handler):
        """handler(payload, n) -> result; n counts this function's calls from 1. May raise FunctionError."""
        self.handlers[name] = handler

    def sequence(self, name: str, *answers):
        """Answer the n-th call with answers[n-1] (the last one repeats); exceptions are raised."""
        def handler(payload, n):
            a = answers[min(n, len(answers)) - 1]
            if isinstance(a, Exception):
                raise a
            return a(payload) if callable(a) else a
        self.set(name, handler)

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]

    def payloads(self, name: str) -> list[dict]:
        return [p for n, p in self.calls if n == name]

    def invoke(self, name: str, payload: dict):
        with self.lock:
            self.calls.append((name, payload))
            n = sum(1 for c, _ in self.calls if c == name)
            handler = self.handlers.get(name)
        if handler is None:
            raise FunctionError("Runtime.HandlerNotFound", f"no stub for {name}")
        return handler(payload, n)


class _Router(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per response (tests/sandbox/moto_server.py)
    stubs: Stubs
    moto_port: int

    def log_message(self, *args):  # quiet
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, headers: dict):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        body = self._body()
        m = _INVOKE.match(self.path)
        if m and self.command == "POST":
            name = urllib.parse.unquote(m.group(1)).rsplit(":", 1)[-1]
            payload = json.loads(body or b"null")
            headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
            try:
                result = self.stubs.invoke(name, payload)
            except FunctionError as e:
                headers["X-Amz-Function-Error"] = "Unhandled"
                result = {"errorType": e.error_type, "errorMessage": e.message}
            self._send(200, json.dumps(result).encode(), headers)
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=60)
        fwd = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=fwd)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k: v for k, v in resp.getheaders()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")}
        conn.close()
        self._send(resp.status, data, hdrs)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class Sandbox:
    """moto server + router on loopback; state machines registered from statemachine/."""

    def __init__(self, venv_bin: Path):
        self.stubs = Stubs()
        self.moto_port = free_port()
        self.router_port = free_port()
        handler = type("Router", (_Router,), {"stubs": self.stubs, "moto_port": self.moto_port})
        self.router = http.server.ThreadingHTTPServer(("127.0.0.1", self.router_port), handler)
        self.router.daemon_threads = True
        threading.Thread(target=self.router.serve_forever, daemon=True).start()
        env = dict(os.environ, MOTO_PORT=str(self.router_port), AWS_DEFAULT_REGION=REGION)
        for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(k, None)
        self.log = open(os.environ.get("HOOKLINE_MOTO_LOG", os.devnull), "w")
        self.proc = subprocess.Popen(
            [str(venv_bin / "python"), str(ROOT / "tests" / "sandbox" / "moto_server.py"), "-H", "127.0.0.1", "-p",
             str(self.moto_port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.endpoint = f"http://127.0.0.1:{self.router_port}"
        self._wait_ready()
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        import boto3
        kw = dict(endpoint_url=self.endpoint, region_name=REGION,
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        self.sfn = boto3.client("stepfunctions", **kw)
        self.sns = boto3.client("sns", **kw)
        values = placeholder_values()
        self.sns.create_topic(Name=values["ApprovalTopicArn"].rsplit(":", 1)[-1])
        self.machines = {}
        for name in MACHINES:
            arn = self.sfn.create_state_machine(
                name=f"hookline-{name}", definition=render(name, values),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/hookline-states")["stateMachineArn"]
            self.machines[name] = arn

    def _post(self, path, doc):
        conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=10)
        conn.request("POST", path, body=json.dumps(doc), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status in (200, 201), resp.status

    def _wait_ready(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("moto_server exited")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=1)
                conn.request("GET", "/moto-api/")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not start")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.router.shutdown()
        self.log.close()

    # --- executions -------------------------------------------------------------------
    def start(self, machine: str, doc: dict, name: str | None = None) -> str:
        # always named: moto 5.2.5 names every unnamed execution "None" (the second collides)
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        return self.sfn.start_execution(stateMachineArn=self.machines[machine], name=name,
                                        input=json.dumps(doc))["executionArn"]

    def wait(self, arn: str, timeout: float = 60) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            d = self.sfn.describe_execution(executionArn=arn)
            if d["status"] != "RUNNING":
                return d
            time.sleep(0.1)
        raise TimeoutError(f"{arn} still RUNNING after {timeout}s")

    def run(self, machine: str, doc: dict, timeout: float = 60) -> dict:
        return self.wait(self.start(machine, doc), timeout)

    def history(self, arn: str) -> list[dict]:
        events, token = [], None
        while True:
            kw = {"nextToken": token} if token else {}
            page = self.sfn.get_execution_history(executionArn=arn, maxResults=1000, **kw)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def entered_states(self, arn: str) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history(arn)
                if "stateEnteredEventDetails" in e]

    def wait_for_token(self, arn: str, timeout: float = 20) -> tuple[str, dict]:
        """(task token, parsed approval message) as the operator tooling finds them."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.history(arn):
                det = e.get("taskScheduledEventDetails")
                if det and det.get("resource", "").startswith("publish"):
                    params = json.loads(det["parameters"])
                    msg = params["Message"]
                    msg = json.loads(msg) if isinstance(msg, str) else msg
                    return msg["task_token"], {"parameters": params, "message": msg}
            if self.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                raise AssertionError("execution ended before the approval was requested")
            time.sleep(0.1)
        raise TimeoutError("no approval task scheduled")


# --- the plan validator's history-event counts -------------------------------------------------
HISTORY_RS = ROOT / "functions" / "hookline" / "src" / "plan" / "history.rs"


def history_constants() -> dict[str, int]:
    """Every `pub const NAME: u64 = <expr>;` of history.rs, evaluated (sums and products of
    numbers and earlier constants), so tests compare executions with what the validator assumes."""
    out: dict[str, int] = {}
    for name, expr in re.findall(r"^pub const (\w+): u64 =\s*([^;]+);", HISTORY_RS.read_text(), re.M):
        expr = " ".join(expr.split())
        if not re.fullmatch(r"[\w\s+*]+", expr):
            raise ValueError(f"history.rs {name}: unsupported expression {expr!r}")
        out[name] = eval(expr, {"__builtins__": {}}, dict(out))  # numbers, names, + and * only (checked)
    return out
