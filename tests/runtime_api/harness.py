"""A minimal Lambda Runtime API, enough to run a function binary as Lambda would.

It hands out queued events on `GET .../invocation/next` and records what the
function posts back (`response` or `error`), so tests and benchmarks can run
the real release binaries without AWS.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    """Serves events one at a time and collects the function's answers."""

    def __init__(self) -> None:
        self.events: "queue.Queue[bytes]" = queue.Queue()
        self.answers: "queue.Queue[dict]" = queue.Queue()
        self.first_next_at: float | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Lambda's Runtime API sends an event without a Nagle stall; http.server's two writes
            # (headers, body) could wait for the function's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    self.send_error(404)
                    return
                if api.first_next_at is None:
                    api.first_next_at = time.monotonic()
                body = api.events.get()
                request_id = str(uuid.uuid4())
                api.current = (request_id, time.monotonic())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:test",
                )
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                kind = self.path.rsplit("/", 1)[-1]
                started = getattr(api, "current", (None, time.monotonic()))[1]
                try:
                    payload = json.loads(body or b"null")
                except ValueError:
                    payload = body.decode(errors="replace")
                api.answers.put({"kind": kind, "body": payload, "seconds": time.monotonic() - started})
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def function_env(name: str, port: int) -> dict:
    """The environment Lambda gives a function, pointed at nothing real."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}",
        AWS_LAMBDA_FUNCTION_NAME=name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        # Nothing listens here: a function that tried AWS would fail, not reach the network.
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        RUST_LOG="warn",
    )
    return env


def start_function(binary: str, name: str, api: RuntimeApi) -> subprocess.Popen:
    return subprocess.Popen(
        [binary],
        env=function_env(name, api.port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
