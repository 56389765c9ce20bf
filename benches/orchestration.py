"""A happy canary with zero bakes in the bench's own sandbox, measured per step.

Calls are counted at the sandbox router (`/_sandbox/calls?log=1`: one entry per AWS call,
with its time and principal). While the canary runs, the bench reads Step Functions through the
router like any client (moto's own port accepts only the router since the sandbox enforces IAM) with
the operator's key; those calls carry principal `operator` and are left out of every count.
Steps come from `GetExecutionHistory`: step k spans from the k-th `NextStep` entered to the
next `NextStep` entered; a call belongs to the window its timestamp falls in.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))

PLAN = {"steps": [{"weight": 10}, {"weight": 50}, {"weight": 100}],
        "health": {"interval": "1s", "alarms": ["web-5xx"], "ready_timeout": "30s"},
        "hook_budget": "10m"}
CANARY = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary"


class BenchSandbox:
    """Starts and stops a sandbox of its own (ports and state dir apart from the default one)."""

    def __init__(self, port=4620, moto_port=4621, lambda_port=9020, state=".sandbox-bench"):
        self.port, self.moto_port, self.lambda_port, self.state = port, moto_port, lambda_port, state
        self.endpoint = f"http://127.0.0.1:{port}"
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        self.up_seconds = None
        self.started = False

    def env(self):
        e = dict(os.environ)
        e.update(SANDBOX_PORT=str(self.port), SANDBOX_MOTO_PORT=str(self.moto_port),
                 SANDBOX_LAMBDA_PORT=str(self.lambda_port), SANDBOX_STATE=self.state,
                 SANDBOX_TERMINATION_WAIT_S="1")
        return e

    def up(self, timeout=900):
        t0 = time.monotonic()
        self.started = True  # even a failed up.sh may have left processes: down() cleans them
        r = subprocess.run(["bash", "tests/sandbox/up.sh"], cwd=ROOT, env=self.env(), timeout=timeout,
                           capture_output=True, text=True)
        self.up_seconds = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError(f"up.sh failed ({r.returncode}): {r.stderr[-2000:]}")
        return r.stdout

    def down(self):
        if not self.started:
            return
        subprocess.run(["bash", "tests/sandbox/down.sh"], cwd=ROOT, env=self.env(), timeout=120,
                       capture_output=True, text=True)
        self.started = False

    def warmup_log(self):
        p = ROOT / self.state / "warmup.log"
        return p.read_text() if p.exists() else ""


class CallsProbe:
    """Counts the AWS calls one cold run makes (reset before, read after)."""

    def __init__(self, sb):
        self.sb = sb

    def reset(self):
        self.sb.reset_calls()

    def read(self):
        return {f"{s}.{o}": n for s, ops in self.sb.calls()["calls"].items() for o, n in ops.items()}


def _ts(dt):
    return dt.timestamp()


def run_canary(sandbox: BenchSandbox, timeout=300, image="example/web:v2") -> dict:
    from client import Sandbox

    sb = Sandbox(sandbox.endpoint)
    direct = sb.client("stepfunctions")  # the operator's calls: principal "operator", not counted
    sb.put_plan(PLAN)
    sb.reset_calls()
    t_create = time.time()
    did = sb.start_deployment(image)
    # The bench's own polling from here on: principal "operator", dropped below.
    deadline = time.monotonic() + timeout
    execution = None
    while time.monotonic() < deadline:
        ex = [e for e in direct.list_executions(stateMachineArn=CANARY)["executions"] if e["name"].startswith(did)]
        if ex:
            execution = ex[0]
            d = direct.describe_execution(executionArn=execution["executionArn"])
            if d["status"] != "RUNNING":
                execution = d
                break
        time.sleep(0.25)
    else:
        raise RuntimeError(f"canary execution of {did} not finished after {timeout}s "
                           f"(found: {execution and execution.get('executionArn')})")
    calls_doc = sb.calls(log=True)
    history = []
    kw = {"executionArn": execution["executionArn"], "maxResults": 1000}
    while True:
        page = direct.get_execution_history(**kw)
        history.extend(page["events"])
        if not page.get("nextToken"):
            break
        kw["nextToken"] = page["nextToken"]
    # Let the deployment finish (post-traffic, termination wait) so the sandbox ends clean.
    final = None
    try:
        final = sb.wait_for_status(did, "Succeeded", timeout=180)["status"]
    except AssertionError as e:
        final = f"not Succeeded: {str(e)[:300]}"
    t_done = time.time()
    counted = [c for c in calls_doc.get("log", []) if c.get("principal") != "operator"]
    return analyse(did, execution, history, counted, t_create, t_done, final)


def analyse(did, execution, history, log, t_create, t_done, final) -> dict:
    entered = [(e["timestamp"].timestamp(), e["stateEnteredEventDetails"]["name"])
               for e in history if e["type"].endswith("StateEntered")]
    exited = [(e["timestamp"].timestamp(), e["stateExitedEventDetails"]["name"])
              for e in history if e["type"].endswith("StateExited")]
    t_start = history[0]["timestamp"].timestamp()
    t_end = history[-1]["timestamp"].timestamp()
    next_steps = [t for t, n in entered if n == "NextStep"]
    # Windows: prologue (ValidateGreen...), one per step, epilogue (the last NextStep -> Finalize -> Done).
    bounds = [t_start] + next_steps + [t_end + 1e-6]
    names = ["prologue"] + [f"step {i + 1}" for i in range(len(next_steps) - 1)] + ["finalize"]
    intervals = state_intervals(entered, exited)
    windows = []
    for i, name in enumerate(names):
        lo, hi = bounds[i], bounds[i + 1]
        states = [n for t, n in entered if lo <= t < hi]
        calls = [c for c in log if lo <= c["t"] < hi]
        w = {"name": name, "seconds": hi - lo if name != "finalize" else t_end - lo,
             "transitions": len(states), "states": states,
             "calls": dict(Counter(_op(c) for c in calls)), "n_calls": len(calls),
             "tasks": []}
        for (s, a, b) in intervals:
            if lo <= a < hi and s in ("ValidateGreen", "ShiftWeight", "Bake", "Finalize", "RouteCohort"):
                inside = [c for c in log if a <= c["t"] <= b]
                own = [c for c in inside if not (c["service"] == "lambda" and c["operation"] == "Invoke")]
                w["tasks"].append({"state": s, "seconds": b - a, "calls": dict(Counter(_op(c) for c in own)),
                                   "n_calls": len(own),
                                   "elbv2": sum(1 for c in own if c["service"] == "elasticloadbalancing"),
                                   "invokes": [c.get("function") for c in inside if c["operation"] == "Invoke"]})
        windows.append(w)
    before = [c for c in log if c["t"] < t_start]
    after = [c for c in log if c["t"] >= t_end + 1e-6]
    steps = [w for w in windows if w["name"].startswith("step")]
    shifts = [t for w in windows for t in w["tasks"] if t["state"] == "ShiftWeight"]
    health = [t for w in windows for t in w["tasks"] if t["state"] in ("ValidateGreen", "Bake")]
    return {
        "deployment_id": did, "execution": execution["executionArn"], "status": execution["status"],
        "final_deployment_status": final, "plan": PLAN,
        "seconds_create_to_canary_start": t_start - t_create, "canary_seconds": t_end - t_start,
        "deployment_seconds": t_done - t_create,
        "transitions_total": len(entered), "windows": windows,
        "calls_before_canary": dict(Counter(_op(c) for c in before)),
        "calls_total_canary": sum(w["n_calls"] for w in windows),
        "calls_after_canary_until_read": len(after),
        "max_transitions_per_step": max((w["transitions"] for w in steps), default=None),
        "max_elbv2_per_shift": max((t["elbv2"] for t in shifts), default=None),
        "max_calls_per_health_check": max((t["n_calls"] for t in health), default=None),
        "history_timestamp_resolution": _resolution([t for t, _ in entered]),
    }


def state_intervals(entered, exited):
    """[(state, entered_at, exited_at)] in order (states are sequential in this machine)."""
    out, pending = [], list(exited)
    for t, n in entered:
        for j, (te, ne) in enumerate(pending):
            if ne == n and te >= t:
                out.append((n, t, te))
                del pending[j]
                break
    return out


def _op(c):
    if c["service"] == "lambda" and c.get("function"):
        return f"lambda.Invoke({c['function']})"
    return f"{c['service']}.{c['operation']}"


def _resolution(ts):
    """Whether history timestamps carry sub-second precision (attribution needs it)."""
    return "sub-second" if any(abs(t - round(t)) > 1e-6 for t in ts) else "whole seconds"
