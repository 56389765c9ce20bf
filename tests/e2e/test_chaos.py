"""Randomized fault schedules (issue 10, part D): `make chaos`, and a few in `make test`.

Each schedule is one short deployment of `web` with a random plan and up to four random
faults injected through the sandbox's fault API at random moments: throttling, 5xx and
access-denied answers on operations the functions call, latency, function crashes, the
`web-5xx` alarm firing, a console StopDeployment, and approvals answered either way. The
schedule is a pure function of (CHAOS_SEED, index), so any violation is reproduced with
`CHAOS_SEED=<seed> CHAOS_ONLY=<index> make chaos`.

After each deployment the invariants of docs/design.md are checked through AWS APIs and the
simulator's own record (never through hookline's view of itself):
- the deployment ended (no hook left to CodeDeploy's timeout: errorInformation.code is never TIMEOUT);
- every hook execution got one consistent reported status (a pending hook may be closed
  unreported only by a stop: status Stopped);
- production is on one side only: Succeeded -> green 100%, Failed/Stopped -> blue 100%, and no
  hookline-managed rule is left on the production listener;
- no execution of this deployment is left running.

Knobs: CHAOS_RUNS (schedules, default 3), CHAOS_SEED (default 20261129), CHAOS_ONLY (one index),
CHAOS_FIRST (first index, to shard a long run over sandboxes on other ports), CHAOS_LOG (results file).
"""
import json
import os
import random
import threading
import time

import pytest

from conftest import TERMINAL, plan
from test_canary import W

SEED = int(os.environ.get("CHAOS_SEED", "20261129"))
# Every schedule's outcome is appended here as it ends (a long `make chaos` can be read while it runs).
LOG_FILE = os.environ.get("CHAOS_LOG", os.path.join(os.path.dirname(os.path.abspath(__file__)), "chaos-results.jsonl"))
RUNS = int(os.environ.get("CHAOS_RUNS", "3"))
FIRST = int(os.environ.get("CHAOS_FIRST", "0"))  # shard a long run over several sandboxes
ONLY = os.environ.get("CHAOS_ONLY")
END_TIMEOUT_S = 200      # beyond the suite's 90 s hook timeout plus rollback and termination
EXEC_GRACE_S = 45        # executions of an ended deployment notice it within a health interval or two
MANAGED_TAG = "hookline:managed"

# (service as the fault API names it, operation): calls the functions make while a canary runs.
OPERATIONS = [
    ("elasticloadbalancing", "DescribeListeners"), ("elasticloadbalancing", "ModifyListener"),
    ("elasticloadbalancing", "DescribeRules"), ("elasticloadbalancing", "CreateRule"),
    ("elasticloadbalancing", "DeleteRule"), ("elasticloadbalancing", "DescribeTags"),
    ("elasticloadbalancing", "DescribeTargetHealth"), ("elasticloadbalancing", "DescribeTargetGroups"),
    ("codedeploy", "GetDeployment"), ("codedeploy", "GetDeploymentTarget"),
    ("codedeploy", "GetDeploymentGroup"), ("codedeploy", "PutLifecycleEventHookExecutionStatus"),
    ("monitoring", "DescribeAlarms"), ("ecs", "DescribeTaskSets"), ("ssm", "GetParameter"),
    ("states", "StartExecution"), ("states", "DescribeExecution"), ("lambda", "Invoke"),
]
FUNCTIONS = ["hook", "shift-weight", "validate-health", "finalize", "rollback"]
COHORT = {"cohort": {"header": "X-Canary", "values": ["internal"]}}


def make_schedule(seed, index):
    """The schedule number `index` of `seed`: a plan and a list of timed actions (plain data)."""
    rng = random.Random(f"{seed}:{index}")
    steps = []
    if rng.random() < 0.3:
        steps.append(COHORT)
    first = rng.choice([10, 25, 50])
    steps.append(W(first, f"{rng.randint(1, 3)}s"))
    approval = rng.random() < 0.3
    if approval:
        steps.append({"approval": {"timeout": "20s", "on_timeout": rng.choice(["rollback", "continue"])}})
    steps.append(W(100, "1s"))
    # Budget and ready timeout fit the suite's 90 s hook timeout, as a real plan fits CodeDeploy's hour:
    # a green that never gets ready (an alarm firing from the start) must fail inside it, not time out.
    p = plan(steps, interval="1s", post_bake=f"{rng.randint(1, 3)}s", budget="80s", ready_timeout="15s")

    actions = []
    for _ in range(rng.randint(0, 4)):
        at = round(rng.uniform(0, 14), 2)
        kind = rng.choices(["throttle", "error", "denied", "latency", "crash", "alarm", "stop"],
                           weights=[4, 3, 2, 2, 3, 1, 1])[0]
        if kind in ("throttle", "error", "denied", "latency"):
            service, op = rng.choice(OPERATIONS)
            spec = {"service": service, "operation": op, "count": rng.randint(1, 4)}
            if kind == "throttle":
                spec["kind"] = "throttle"
            elif kind == "error":
                spec.update(kind="error", status=rng.choice([500, 503]),
                            code="ServiceUnavailable" if service == "elasticloadbalancing" else "InternalFailure")
            elif kind == "denied":
                spec.update(kind="error", status=400, count=1,
                            code="AccessDenied" if service in ("elasticloadbalancing", "monitoring")
                            else "AccessDeniedException")
            else:
                spec.update(kind="latency", latency_ms=rng.choice([200, 800, 2500]))
            actions.append({"at": at, "do": "fault", "spec": spec})
        elif kind == "crash":
            actions.append({"at": at, "do": "fault",
                            "spec": {"kind": "crash", "function": rng.choice(FUNCTIONS), "count": rng.randint(1, 2)}})
        else:
            actions.append({"at": at, "do": kind})
    if approval:
        actions.append({"at": round(rng.uniform(2, 25), 2), "do": rng.choice(["approve", "approve", "reject"])})
    actions.sort(key=lambda a: a["at"])
    return {"seed": seed, "index": index, "plan": p, "actions": actions}


def _retry(fn, attempts=20, delay=0.5):
    """The harness's own calls go through the same faulty endpoint: retry them, never give up early."""
    for i in range(attempts):
        try:
            return fn()
        except Exception:
            if i == attempts - 1:
                raise
            time.sleep(delay)


class Runner:
    """Plays one schedule's actions against a running deployment, from a background thread."""

    def __init__(self, sb, deployment_id, schedule):
        self.sb, self.did, self.schedule = sb, deployment_id, schedule
        self.log, self.stopped_by_console = [], False
        self._halt = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t0 = time.time()
        self._t.start()
        return self

    def halt(self):
        self._halt.set()
        self._t.join(30)

    def _ended(self):
        return any(d["deploymentId"] == self.did and d["status"] in TERMINAL
                   for d in self.sb.cd_state()["deployments"])

    def _run(self):
        for a in self.schedule["actions"]:
            if self._halt.wait(max(0.0, self.t0 + a["at"] - time.time())) or self._ended():
                return
            try:
                self._do(a)
                self.log.append((a["at"], a["do"], "done"))
            except Exception as e:  # an action that cannot happen (no approval waiting) is part of the dice
                self.log.append((a["at"], a["do"], f"skipped: {e}"))

    def _do(self, a):
        sb = self.sb
        if a["do"] == "fault":
            sb.inject(**a["spec"])
        elif a["do"] == "alarm":
            _retry(lambda: sb.set_alarm("web-5xx", "ALARM", reason="chaos"))
        elif a["do"] == "stop":
            _retry(lambda: sb.codedeploy.stop_deployment(deploymentId=self.did, autoRollbackEnabled=True))
            self.stopped_by_console = True
        elif a["do"] in ("approve", "reject"):
            arn = sb.execution(self.did)["executionArn"]
            token, _ = _retry(lambda: sb.approval_token(arn, timeout=20))
            if a["do"] == "approve":
                _retry(lambda: sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "chaos"})))
            else:
                _retry(lambda: sb.sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause="chaos"))


def hookline_rules(sb, port=80):
    """ARNs of rules on the production listener tagged as hookline's."""
    arns = [r["arn"] for r in sb.rules(port)]
    out = []
    for i in range(0, len(arns), 20):
        for d in sb.elbv2.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]:
            if any(t["Key"] == MANAGED_TAG for t in d.get("Tags", [])):
                out.append(d["ResourceArn"])
    return out


def check_invariants(sb, did, blue, green, runner):
    """Violations of the invariants for deployment `did` (empty list: none)."""
    violations = []
    dep = next((d for d in sb.cd_state()["deployments"] if d["deploymentId"] == did), None)
    if dep is None or dep["status"] not in TERMINAL:
        return [f"deployment did not end within {END_TIMEOUT_S}s: {dep and dep['status']}"]
    info = _retry(lambda: sb.deployment(did))
    status = info["status"]
    code = (info.get("errorInformation") or {}).get("code")
    if code == "TIMEOUT":
        violations.append(f"a hook was left to CodeDeploy's timeout: {info.get('errorInformation')}")
    for h in sb.hook_records(did):
        reports = h.get("reports") or []
        # What CodeDeploy took: one answer at most. Attempts it refused (the hook already closed, e.g.
        # by a console stop racing finalize's Succeeded) change nothing and may differ from it.
        accepted = [r["status"] for r in h.get("report_log") or [] if r.get("accepted")]
        if len(accepted) > 1:
            violations.append(f"{h['event']}: answered {len(accepted)} times {accepted} (attempts {reports})")
        if not reports and status != "Stopped":
            violations.append(f"{h['event']}: never reported (deployment {status})")
    # The final state is judged once hookline's executions are done (a rollback may still be retrying
    # its cleanup after the deployment ended); the state at each Failed report is judged by conftest.
    end = time.time() + EXEC_GRACE_S
    running = [e["name"] for e in sb.running_executions() if e["name"].startswith(did)]
    while running and time.time() < end:
        time.sleep(1)
        running = [e["name"] for e in sb.running_executions() if e["name"].startswith(did)]
    if running:
        violations.append(f"executions still running {EXEC_GRACE_S}s after the end: {running}")
    weights = sb.listener_weights(80)
    want = {green: 100, blue: 0} if status == "Succeeded" else {blue: 100, green: 0}
    if {k: weights.get(k, 0) for k in (blue, green)} != want or sum(weights.values()) != 100:
        violations.append(f"production {weights} after {status} (wanted {want})")
    left = hookline_rules(sb)
    if left:
        violations.append(f"hookline rules left on :80 after {status}: {left}")
    return violations


# One line per schedule played, for the run's summary (conftest prints it; `make chaos` records it).
RESULTS = []

INDEXES = [int(ONLY)] if ONLY not in (None, "") else list(range(FIRST, FIRST + RUNS))


@pytest.mark.parametrize("index", INDEXES, ids=lambda i: f"seed{SEED}-{i}")
def test_chaos_schedule(sb, index):
    schedule = make_schedule(SEED, index)
    sb.put_plan(schedule["plan"])
    blue, green = sb.prod_groups()
    did = sb.deploy(f"example/web:chaos-{SEED}-{index}")
    runner = Runner(sb, did, schedule).start()
    end = time.time() + END_TIMEOUT_S
    try:
        while time.time() < end:
            if any(d["deploymentId"] == did and d["status"] in TERMINAL for d in sb.cd_state()["deployments"]):
                break
            time.sleep(0.5)
    finally:
        runner.halt()
        sb.clear_faults()
    violations = check_invariants(sb, did, blue, green, runner)
    result = {"seed": SEED, "index": index, "deployment": did, "status": sb.status(did),
              "actions": [f"{a['do']}{'/' + a['spec']['kind'] if a['do'] == 'fault' else ''}@{a['at']}"
                          for a in schedule["actions"]],
              "played": runner.log, "violations": violations, "seconds": round(time.time() - runner.t0, 1)}
    RESULTS.append(result)
    with open(LOG_FILE, "a") as f:
        f.write(json.dumps(result) + "\n")
    assert not violations, (
        f"chaos schedule seed={SEED} index={index} (rerun: CHAOS_SEED={SEED} CHAOS_ONLY={index} make chaos)\n"
        f"deployment {did}; actions played: {runner.log}\nschedule: {json.dumps(schedule)}\n"
        + "\n".join(f"VIOLATION: {v}" for v in violations))


def test_schedules_are_reproducible_and_varied():
    """The same (seed, index) always gives the same schedule; a batch covers every kind of action."""
    assert make_schedule(7, 3) == make_schedule(7, 3)
    assert make_schedule(7, 3) != make_schedule(7, 4)
    kinds = set()
    for i in range(200):
        for a in make_schedule(7, i)["actions"]:
            kinds.add(a["spec"]["kind"] if a["do"] == "fault" else a["do"])
    assert kinds >= {"throttle", "error", "latency", "crash", "alarm", "stop", "approve", "reject"}, kinds
