"""Randomized fault schedules in ECS-native mode (issue 11 acceptance): `make chaos-ecs`, and a few in
`make test`. The CodeDeploy schedules of test_chaos.py are untouched; these are a separate family.

Each schedule is one short deployment of the ``api`` service (cluster ``demo``, controller ECS, the
sandbox's ECS simulator) with a random plan and up to four random actions at random moments:
throttling, 5xx and access-denied answers on the operations the functions call in ECS mode (ECS
DescribeServiceDeployments / DescribeServiceRevisions / DescribeServices, ELBv2 DescribeRules /
ModifyRule / CreateRule / DeleteRule / DescribeTags / DescribeTargetHealth, CloudWatch DescribeAlarms,
SSM GetParameter, Step Functions StartExecution / DescribeExecution, Lambda Invoke), latency, function
crashes (a crashed ``hook`` is a FAILED answer to ECS, which rolls back on its own), the ``api-5xx``
alarm firing, a console StopServiceDeployment(ROLLBACK), and the approval answered either way. The
schedule is a pure function of (CHAOS_SEED, index): replay with
`CHAOS_SEED=<seed> CHAOS_ONLY=<index> make chaos-ecs`.

After each deployment, through AWS APIs (and the simulator's record of the hook's answers):
- the service deployment ended SUCCESSFUL or ROLLBACK_SUCCESSFUL (never ROLLBACK_FAILED), and no
  hook was left to the hook's timeoutConfiguration;
- each stage's answers are IN_PROGRESS* then at most one SUCCEEDED / FAILED, and every FAILED answer
  was given while the production rule was blue 100% with no other rule on the production listener
  (a poller reads the listener every 50 ms; an answer with no read within 1 s before it is counted
  as unverified, not as a violation: the poller pauses while a DescribeRules fault is pending so
  that the fault reaches the functions, not the harness);
- no execution of the deployment is left running;
- production on one side: SUCCESSFUL -> green 100%, ROLLBACK_SUCCESSFUL -> blue 100%, no other rule.

Knobs: CHAOS_ECS_RUNS (schedules, default 3), CHAOS_SEED (default 20261129), CHAOS_ONLY (one index),
CHAOS_FIRST (first index), CHAOS_LOG (results file, default tests/e2e/chaos-ecs-results.jsonl).
"""
import json
import os
import random
import threading
import time

import pytest

from test_canary import W
from test_ecs_native import api, put_plan  # noqa: F401  (api: the fixture)
from test_fault_matrix_ecs import ListenerPoller, ecs, production_at_answer  # noqa: F401  (ecs: the fixture)

SEED = int(os.environ.get("CHAOS_SEED", "20261129"))
LOG_FILE = os.environ.get("CHAOS_LOG",
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), "chaos-ecs-results.jsonl"))
RUNS = int(os.environ.get("CHAOS_ECS_RUNS", "3"))
FIRST = int(os.environ.get("CHAOS_FIRST", "0"))
ONLY = os.environ.get("CHAOS_ONLY")
# ECS minutes of 1 s (bakeTimeInMinutes=1 bakes 1 s) and hooks timing out after 600 of them: the
# plans' 80 s budget plus hookline's 300 s rollback reserve fits, and a hook nobody answers fails
# the schedule in minutes instead of ECS's 24 hours.
ECS_MINUTE_S = 1   # as set by the ``ecs`` fixture
HOOK_TIMEOUT_MIN = 600
END_TIMEOUT_S = HOOK_TIMEOUT_MIN * ECS_MINUTE_S + 60
EXEC_GRACE_S = 45
ENDED = ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")

# (service as the fault API names it, operation): calls the functions make in ECS mode.
OPERATIONS = [
    ("ecs", "DescribeServiceDeployments"), ("ecs", "DescribeServiceRevisions"), ("ecs", "DescribeServices"),
    ("elasticloadbalancing", "DescribeRules"), ("elasticloadbalancing", "ModifyRule"),
    ("elasticloadbalancing", "CreateRule"), ("elasticloadbalancing", "DeleteRule"),
    ("elasticloadbalancing", "DescribeTags"), ("elasticloadbalancing", "DescribeTargetHealth"),
    ("monitoring", "DescribeAlarms"), ("ssm", "GetParameter"),
    ("states", "StartExecution"), ("states", "DescribeExecution"), ("lambda", "Invoke"),
]
FUNCTIONS = ["hook", "shift-weight", "validate-health", "finalize", "rollback"]
COHORT = {"cohort": {"header": "X-Canary", "values": ["internal"]}}


def make_schedule(seed, index):
    """The ECS schedule number `index` of `seed`: a plan and a list of timed actions (plain data)."""
    rng = random.Random(f"ecs:{seed}:{index}")
    steps = []
    if rng.random() < 0.3:
        steps.append(COHORT)
    steps.append(W(rng.choice([10, 25, 50]), f"{rng.randint(1, 3)}s"))
    approval = rng.random() < 0.3
    if approval:
        steps.append({"approval": {"timeout": "20s", "on_timeout": rng.choice(["rollback", "continue"])}})
    steps.append(W(100, "1s"))
    plan = {"steps": steps, "post_traffic": {"bake": f"{rng.randint(1, 3)}s"}, "hook_budget": "80s",
            "health": {"interval": "1s", "alarms": ["api-5xx"], "ready_timeout": "15s", "http": []}}
    actions = []
    # An ECS deployment of these plans takes 5-12 s in the sandbox: actions land in its first 8 s
    # (a first draw over 14 s played 69 of 113 actions, the rest came after the end).
    for _ in range(rng.randint(0, 4)):
        at = round(rng.uniform(0, 8), 2)
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
        actions.append({"at": round(rng.uniform(2, 15), 2), "do": rng.choice(["approve", "approve", "reject"])})
    actions.sort(key=lambda a: a["at"])
    return {"seed": seed, "index": index, "plan": plan, "actions": actions}


def _retry(fn, attempts=20, delay=0.5):
    """The harness's own calls go through the same faulty endpoint: retry them."""
    for i in range(attempts):
        try:
            return fn()
        except Exception:
            if i == attempts - 1:
                raise
            time.sleep(delay)


def sim_deployment(sb, arn):
    """The simulator's record of the deployment (the harness waits on it, so that its polling does not
    consume the faults meant for the functions)."""
    return next((d for d in sb._ctl("GET", "/ecs")["deployments"] if d["serviceDeploymentArn"] == arn), None)


class Runner:
    """Plays one schedule's actions against a running service deployment, from a background thread."""

    def __init__(self, sb, api, arn, schedule):
        self.sb, self.api, self.arn, self.schedule = sb, api, arn, schedule
        self.log = []
        self._halt = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t0 = time.time()
        self._t.start()
        return self

    def halt(self):
        self._halt.set()
        self._t.join(30)

    def _run(self):
        for a in self.schedule["actions"]:
            if self._halt.wait(max(0.0, self.t0 + a["at"] - time.time())):
                return
            d = sim_deployment(self.sb, self.arn)
            if d and d["status"] in ENDED:
                return
            try:
                self._do(a)
                self.log.append((a["at"], a["do"], "done"))
            except Exception as e:  # an action that cannot happen (no approval waiting) is part of the dice
                self.log.append((a["at"], a["do"], f"skipped: {str(e)[:120]}"))

    def _do(self, a):
        sb, api = self.sb, self.api
        if a["do"] == "fault":
            sb.inject(**a["spec"])
        elif a["do"] == "alarm":
            _retry(lambda: sb.set_alarm("api-5xx", "ALARM", reason="chaos"))
        elif a["do"] == "stop":
            _retry(lambda: api.ecs.stop_service_deployment(serviceDeploymentArn=self.arn, stopType="ROLLBACK"),
                   attempts=5)
        elif a["do"] in ("approve", "reject"):
            xarn = api.execution_arn(self.arn)
            token, _ = _retry(lambda: sb.approval_token(xarn, timeout=20), attempts=3)
            if a["do"] == "approve":
                _retry(lambda: sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "chaos"})))
            else:
                _retry(lambda: sb.sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause="chaos"))


class FaultAwarePoller(ListenerPoller):
    """The listener poller, paused while a DescribeRules fault is pending (it would eat it)."""

    def __init__(self, sb, api):
        super().__init__(api)
        self.sb = sb

    def read(self):
        for f in self.sb.faults():
            if f.get("service") == "elasticloadbalancing" and (f.get("operation") or "DescribeRules") == "DescribeRules":
                raise RuntimeError("paused: a DescribeRules fault is pending")
        return super().read()


def check_invariants(sb, api, arn, blue, green, poller, status):
    """(violations, unverified FAILED answers) for service deployment `arn`."""
    violations, unverified = [], []
    if status not in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL"):
        return [f"service deployment did not end well within {END_TIMEOUT_S}s: {status}"], []
    invocations = sim_deployment(sb, arn)["invocations"]
    for stage in ("POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"):
        mine = [i for i in invocations if i["stage"] == stage and not i.get("rollback")]
        if any(i.get("timed_out") for i in mine):
            violations.append(f"{stage}: left to the hook's timeoutConfiguration")
        answers = [(i.get("answer") or {}).get("hookStatus") for i in mine]
        ends = [a for a in answers if a in ("SUCCEEDED", "FAILED")]
        if len(ends) > 1 or (ends and answers[-1] not in ("SUCCEEDED", "FAILED")):
            violations.append(f"{stage}: answers {answers}")
        for i in mine:
            if (i.get("answer") or {}).get("hookStatus") != "FAILED":
                continue
            read = production_at_answer(i, poller)
            if isinstance(read, str):
                unverified.append(f"{stage} #{i['n']}: {read}")
                continue
            w, others = read
            if (w or {}).get(blue, 0) != 100 or others:
                violations.append(f"{stage} FAILED answer #{i['n']} while production was {w} with rules {others}")
    if any(i.get("rollback") and (i.get("answer") or {}).get("hookStatus") != "SUCCEEDED" for i in invocations):
        violations.append("a rollback-stage invocation was not answered SUCCEEDED")
    name = arn.rsplit("/", 1)[1]
    end = time.time() + EXEC_GRACE_S
    running = [e["name"] for e in _retry(api.running) if e["name"].startswith(name)]
    while running and time.time() < end:
        time.sleep(1)
        running = [e["name"] for e in _retry(api.running) if e["name"].startswith(name)]
    if running:
        violations.append(f"executions still running {EXEC_GRACE_S}s after the end: {running}")
    w, others = _retry(poller.read)
    want = {green: 100, blue: 0} if status == "SUCCESSFUL" else {blue: 100, green: 0}
    if {k: (w or {}).get(k, 0) for k in (blue, green)} != want:
        violations.append(f"production {w} after {status} (wanted {want})")
    if others:
        violations.append(f"rules left on the production listener after {status}: {others}")
    return violations, unverified


RESULTS = []
INDEXES = [int(ONLY)] if ONLY not in (None, "") else list(range(FIRST, FIRST + RUNS))


@pytest.fixture
def ecs_chaos(sb, ecs):
    """``api`` as the fault matrix sets it up (ECS minutes of 1 s, callBackDelay at half scale, room
    for cohort rules) with its hooks timing out after HOOK_TIMEOUT_MIN minutes (the ``api`` fixture
    restores config, hooks, plan and alarm after)."""
    api = ecs
    dc = api.service()["deploymentConfiguration"]
    for h in dc["lifecycleHooks"]:
        h["timeoutConfiguration"] = {"timeoutInMinutes": HOOK_TIMEOUT_MIN, "action": "ROLLBACK"}
    api.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    yield api


@pytest.mark.parametrize("index", INDEXES, ids=lambda i: f"ecs-seed{SEED}-{i}")
def test_chaos_ecs_schedule(sb, ecs_chaos, index):
    api = ecs_chaos
    schedule = make_schedule(SEED, index)
    plan = json.loads(json.dumps(schedule["plan"]))
    # the test listener's health on this sandbox (the endpoint is not part of the schedule)
    plan["health"]["http"] = [{"url": sb.endpoint.rstrip("/") + "/_sandbox/alb/demo-api/8080/health",
                               "expect_status": 200, "timeout": "2s"}]
    put_plan(sb, plan)
    with FaultAwarePoller(sb, api) as poller:
        arn = api.deploy(f"example/api:chaos-{SEED}-{index}")
        blue, green = api.sides(arn)
        runner = Runner(sb, api, arn, schedule).start()
        end = time.time() + END_TIMEOUT_S
        try:
            d = sim_deployment(sb, arn)
            while time.time() < end and d["status"] not in ENDED:
                time.sleep(0.5)
                d = sim_deployment(sb, arn)
        finally:
            runner.halt()
            sb.clear_faults()
        status = _retry(lambda: api.deployment(arn))["status"]
        violations, unverified = check_invariants(sb, api, arn, blue, green, poller, status)
    result = {"seed": SEED, "index": index, "serviceDeployment": arn, "status": status,
              "actions": [f"{a['do']}{'/' + a['spec']['kind'] if a['do'] == 'fault' else ''}@{a['at']}"
                          for a in schedule["actions"]],
              "played": runner.log, "violations": violations, "unverified_failed_answers": unverified,
              "seconds": round(time.time() - runner.t0, 1)}
    RESULTS.append(result)
    with open(LOG_FILE, "a") as f:
        f.write(json.dumps(result) + "\n")
    print(f"#{index} {status} {result['seconds']}s {' '.join(result['actions']) or '-'}"
          + (f" unverified {unverified}" if unverified else ""))
    assert not violations, (
        f"ECS chaos schedule seed={SEED} index={index} (rerun: CHAOS_SEED={SEED} CHAOS_ONLY={index} make chaos-ecs)\n"
        f"service deployment {arn}; actions played: {runner.log}\nschedule: {json.dumps(schedule)}\n"
        + "\n".join(f"VIOLATION: {v}" for v in violations))


def test_ecs_schedules_are_reproducible_and_varied():
    """The same (seed, index) always gives the same schedule; a batch covers every kind of action and
    every ECS-mode operation."""
    assert make_schedule(7, 3) == make_schedule(7, 3)
    assert make_schedule(7, 3) != make_schedule(7, 4)
    kinds, ops = set(), set()
    for i in range(300):
        for a in make_schedule(7, i)["actions"]:
            kinds.add(a["spec"]["kind"] if a["do"] == "fault" else a["do"])
            if a["do"] == "fault" and "operation" in a["spec"]:
                ops.add((a["spec"]["service"], a["spec"]["operation"]))
    assert kinds >= {"throttle", "error", "latency", "crash", "alarm", "stop", "approve", "reject"}, kinds
    assert ops == set(OPERATIONS), set(OPERATIONS) - ops
