"""Cold starts of one function process under the Runtime API harness of tests/runtime_api.

One run = a fresh process: the event is queued before the process starts; we record
  init    = process start (just before fork/exec) -> its first `GET .../invocation/next`
  invoke  = event handed out -> its `response`/`error` POST (the harness's `seconds`)
  rss     = VmHWM of /proc/<pid>/status, read once the process asked for its second event
            (idle after the first invoke), just before it is killed.
"""

from __future__ import annotations

import os
import pathlib
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "runtime_api"))
from harness import PREFIX, RuntimeApi, function_env  # noqa: E402

LIVE: set = set()  # processes to kill on exit


class CountingQueue(queue.Queue):
    """The harness's event queue, also telling when the function asked for its second event."""

    def __init__(self):
        super().__init__()
        self.gets = 0
        self.second_next = threading.Event()

    def get(self, block=True, timeout=None):
        self.gets += 1
        if self.gets >= 2:
            self.second_next.set()
        return super().get(block, timeout)


def make_api() -> RuntimeApi:
    api = RuntimeApi()
    api.events = CountingQueue()
    handler = api.server.RequestHandlerClass
    if not getattr(handler, "_bench_patched", False):
        original = handler.end_headers

        # Lambda's Runtime API answers `next` with `Content-Type: application/json`; the
        # harness leaves it out, and awslambdaric 4.2.2's native client segfaults without it
        # (the Rust runtime does not care).
        def end_headers(self):
            if self.command == "GET" and self.path == f"{PREFIX}/invocation/next":
                self.send_header("Content-Type", "application/json")
            original(self)

        handler.end_headers = end_headers
        handler._bench_patched = True
    api.server.handle_error = lambda request, address: None  # a killed function's socket: not news
    return api


@dataclass
class Subject:
    key: str            # unique id in results, e.g. "rust:hook:{}"
    label: str          # for the report
    cmd: list
    function: str       # AWS_LAMBDA_FUNCTION_NAME
    event: bytes
    env: dict = field(default_factory=dict)
    cwd: str | None = None
    calls_probe: object = None   # callable() -> (reset, read) for counting AWS calls per run


def run_once(subject: Subject, timeout: float = 60.0) -> dict:
    api = make_api()
    api.events.put(subject.event)
    env = function_env(subject.function, api.port)
    env.update(subject.env)
    errlog = tempfile.TemporaryFile()
    probe = subject.calls_probe
    if probe:
        probe.reset()
    result = {"ok": False}
    proc = None
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen(subject.cmd, env=env, cwd=subject.cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=errlog, start_new_session=True)
        LIVE.add(proc)
        try:
            answer = api.answers.get(timeout=timeout)
        except queue.Empty:
            result["error"] = f"no answer within {timeout}s"
            return result
        if api.first_next_at is None:  # init error (e.g. an import failed)
            result["error"] = f"init failed: {answer['body']}"
            return result
        api.events.second_next.wait(2.0)
        result["rss_kb"] = vm_hwm_kb(proc.pid)
        result["init_ms"] = (api.first_next_at - t0) * 1000
        result["invoke_ms"] = answer["seconds"] * 1000
        body = answer["body"]
        result["answer"] = answer["kind"]
        result["error_type"] = body.get("errorType") if isinstance(body, dict) else None
        result["ok"] = True
        if probe:
            result["calls"] = probe.read()
        return result
    finally:
        if proc is not None:
            kill(proc)
            if not result["ok"]:
                errlog.seek(0)
                result["stderr"] = errlog.read().decode(errors="replace")[-1500:]
        errlog.close()
        api.events.put(b"{}")  # unblock the harness thread serving the second `next`
        api.close()


def vm_hwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: pgid == pid, only its own group
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    LIVE.discard(proc)


def kill_all() -> None:
    for proc in list(LIVE):
        kill(proc)
