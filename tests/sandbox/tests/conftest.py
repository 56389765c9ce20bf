"""Fixtures for the sandbox's own tests: a real moto server and an in-process
router + CodeDeploy simulator on free ports (so they run next to a live
sandbox), with hooks answered by a tiny stub Lambda instead of the Rust
functions."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

# The sandbox's modules (client, provision, router, sim/) live one folder up.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

import provision  # noqa: E402
from client import Sandbox as SandboxClient  # noqa: E402
from sim.codedeploy.api import SimConfig  # noqa: E402
from router import Sandbox  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_moto(logdir):
    """A moto server of its own on a free port, logging to ``logdir``/moto.log: (process, URL), once it answers."""
    port = free_port()
    log = open(os.path.join(str(logdir), "moto.log"), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/moto-api/", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    return proc, url


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory):
    proc, url = start_moto(tmp_path_factory.mktemp("moto"))
    yield url
    proc.terminate()
    proc.wait(10)


class StubLambda:
    """Answers Lambda invokes. For a CodeDeploy hook payload it looks up which event is
    InProgress, records it (with the live listener weights), then acts per ``modes[event]``:
    "succeed" (default) | "fail" | "ignore" | a callable(stub, payload, event) -> None.
    Function ``boom`` answers cargo-lambda's HTTP 500 function error."""

    def __init__(self):
        self.calls = []
        self.modes = {}
        self.client = None
        self.lock = threading.Lock()
        stub = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(n) or b"{}")
                fn = self.path.split("/")[3]
                code, body = stub.handle(fn, payload)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(self, fn, payload):
        if fn == "boom":
            return 500, {"errorType": "HealthCheckFailed", "errorMessage": "green said no"}
        if "DeploymentId" not in payload:
            return 200, {"echo": payload, "function": fn}
        did, eid = payload["DeploymentId"], payload["LifecycleEventHookExecutionId"]
        t = self.client.target(did)
        event = next(e["lifecycleEventName"] for e in t["lifecycleEvents"] if e["status"] == "InProgress")
        rec = {"function": fn, "deployment_id": did, "execution_id": eid, "event": event,
               "prod": self.client.listener_weights(80), "test": self.client.listener_weights(8080),
               "task_sets": {ts["taskSetLabel"]: ts for ts in t["taskSetsInfo"]}}
        with self.lock:
            self.calls.append(rec)
        mode = self.modes.get(event, "succeed")
        if callable(mode):
            mode(self, payload, event)
        elif mode in ("succeed", "fail"):
            self.client.put_hook_status(did, eid, "Succeeded" if mode == "succeed" else "Failed")
        return 200, {"ok": True}

    def events(self, did=None):
        return [c["event"] for c in self.calls if did is None or c["deployment_id"] == did]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sandbox(moto_url):
    """(router Sandbox, SandboxClient, StubLambda) on a freshly reset moto with the demo app."""
    requests.post(moto_url + "/moto-api/reset", timeout=10)
    stub = StubLambda()
    cfg = SimConfig(hook_timeout_s=30, termination_wait_s=0.5, minute_s=1, alarm_poll_s=0.2)
    sb = Sandbox(port=0, moto_url=moto_url, lambda_url=stub.url, sim_config=cfg, app_traffic=False).start()
    client = SandboxClient(sb.url, max_attempts=1)
    stub.client = client
    provision.provision_demo(provision.clients(sb.url), provision.DEMO_PLAN)
    sb.reset_calls()
    yield sb, client, stub
    sb.stop()
    stub.stop()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs a real AWS duration (e.g. Route 53's 60 s TTL); "
                                       "deselect with -m 'not slow'")
