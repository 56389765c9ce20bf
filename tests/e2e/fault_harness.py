"""What the fault matrix (test_fault_matrix.py) and the randomized fault schedules (test_chaos.py)
share, written once for both controllers (CodeDeploy's ``web`` and ECS-native ``api``):

- the fault specs both inject (``DENIED``, ``DENIED_QUERY``, ``THROTTLE``) and the cohort step;
- ``retry``: the harness's own calls go through the same faulty endpoint as the functions';
- the production listener poller of ECS mode and the check of every FAILED answer against it;
- the ``ecs`` fixture: ``api`` with ECS minutes of 1 s, callBackDelay at half scale, and room for a
  cohort rule before the production rule;
- the schedule dice (``draw_steps``, ``draw_actions``) and the ``Runner`` that plays a schedule's
  actions against a running deployment, whichever controller runs it.
"""
import json
import random
import threading
import time

import pytest

from test_canary import W
from test_ecs_native import api  # noqa: F401  (api: the fixture ``ecs`` builds on)

COHORT = {"cohort": {"header": "X-Canary", "values": ["internal"]}}
# A non-retryable error for one call; the ELBv2 and CloudWatch query APIs name it AccessDenied.
DENIED = {"kind": "error", "status": 400, "code": "AccessDeniedException", "message": "e2e: not allowed", "count": 1}
DENIED_QUERY = dict(DENIED, code="AccessDenied")
THROTTLE = {"kind": "throttle", "count": 3}   # outlasts the SDK's own 3 attempts


def retry(fn, attempts=20, delay=0.5):
    """The harness's own calls go through the same faulty endpoint: retry them, never give up early."""
    for i in range(attempts):
        try:
            return fn()
        except Exception:
            if i == attempts - 1:
                raise
            time.sleep(delay)


# ------------------------------------------------------------------ ECS mode: the production listener
class ListenerPoller:
    """Reads the production listener's rules every ``period`` s (one DescribeRules call):
    (t, {group: percent} of the production rule, [ARNs of the other non-default rules])."""

    def __init__(self, api, period=0.05):
        self.api, self.period = api, period
        self.listener = api.rule.replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]
        self.reads, self.errors = [], []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def read(self):
        rules = self.api.elb.describe_rules(ListenerArn=self.listener)["Rules"]
        weights, others = None, []
        for r in rules:
            if r["RuleArn"] == self.api.rule:
                fwd = [a for a in r["Actions"] if a["Type"] == "forward"][0]
                groups = (fwd.get("ForwardConfig") or {}).get("TargetGroups") or [
                    {"TargetGroupArn": fwd["TargetGroupArn"], "Weight": 1}]
                total = sum(g.get("Weight", 1) for g in groups) or 1
                weights = {g["TargetGroupArn"]: round(100 * g.get("Weight", 1) / total) for g in groups}
            elif not r.get("IsDefault"):
                others.append(r["RuleArn"])
        return weights, others

    def _run(self):
        while not self._stop.is_set():
            try:
                w, others = self.read()
                self.reads.append((time.time(), w, others))
            except Exception as e:  # a fault the harness met, or the sandbox busy: keep polling
                self.errors.append(repr(e))
            self._stop.wait(self.period)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(10)

    def before(self, t, fresh_s=1.0):
        """The last read before ``t`` if taken within ``fresh_s`` of it, else None."""
        before = [r for r in self.reads if r[0] <= t]
        if not before or t - before[-1][0] > fresh_s:
            return None
        return before[-1]


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


def production_at_answer(invocation, poller):
    """(weights, other rules) of the production listener when the hook's FAILED answer arrived: the
    simulator's own read at that moment (``production``), else the poller's last read before it;
    an error string when neither exists."""
    at_answer = invocation.get("production")
    if at_answer is not None:
        if "error" in at_answer:
            return at_answer["error"]
        return at_answer["weights"], at_answer["others"]
    read = poller.before(invocation["at"])
    if read is None:
        return "no listener read within 1 s before it"
    return read[1], read[2]


def failed_answer_violations(api, poller, arn, blue):
    """Every FAILED answer (not at ECS's rollback stages) given while the production rule was not
    blue 100% or another rule was on the production listener."""
    out = []
    for i in api.invocations(arn):
        if i.get("rollback") or (i.get("answer") or {}).get("hookStatus") != "FAILED":
            continue
        read = production_at_answer(i, poller)
        if isinstance(read, str):
            out.append(f"{i['stage']} FAILED answer #{i['n']}: {read}")
            continue
        w, others = read
        if (w or {}).get(blue, 0) != 100 or others:
            out.append(f"{i['stage']} FAILED answer #{i['n']} while production was {w} with rules {others}")
    return out


def running_named(list_running, prefix, grace, poll):
    """Names of the running executions starting with ``prefix``, once they are gone or after ``grace`` s."""
    end = time.time() + grace
    running = [e["name"] for e in list_running() if e["name"].startswith(prefix)]
    while running and time.time() < end:
        time.sleep(poll)
        running = [e["name"] for e in list_running() if e["name"].startswith(prefix)]
    return running


ECS_MINUTE_S = 1
CALLBACK_SCALE = 0.5
PRODUCTION_RULE_PRIORITY = 50


@pytest.fixture
def ecs(sb, api):  # noqa: F811  (api: the fixture imported above)
    """``api`` with ECS minutes of 1 s and callBackDelay at half scale (the ``api`` fixture restores
    the config, plan, hooks and alarm after), and its production rule moved from priority 1 to
    PRODUCTION_RULE_PRIORITY for the test: a cohort rule must come before the production rule, and
    the demo provisions it at 1, where shift-weight finds no free priority ("none is free")."""
    sb.config(ecs_minute_s=ECS_MINUTE_S, ecs_callback_scale=CALLBACK_SCALE)
    before = api.elb.describe_rules(RuleArns=[api.rule])["Rules"][0]["Priority"]
    api.elb.set_rule_priorities(RulePriorities=[{"RuleArn": api.rule, "Priority": PRODUCTION_RULE_PRIORITY}])
    yield api
    sb.clear_faults()
    api.elb.set_rule_priorities(RulePriorities=[{"RuleArn": api.rule, "Priority": int(before)}])


# ------------------------------------------------------------------ randomized fault schedules
FUNCTIONS = ["hook", "shift-weight", "validate-health", "finalize", "rollback"]


def draw_steps(rng):
    """A random plan's steps: (steps, approval?, post-traffic bake)."""
    steps = []
    if rng.random() < 0.3:
        steps.append(COHORT)
    first = rng.choice([10, 25, 50])
    steps.append(W(first, f"{rng.randint(1, 3)}s"))
    approval = rng.random() < 0.3
    if approval:
        steps.append({"approval": {"timeout": "20s", "on_timeout": rng.choice(["rollback", "continue"])}})
    steps.append(W(100, "1s"))
    return steps, approval, f"{rng.randint(1, 3)}s"


def draw_actions(rng, operations, window_s, approval, approval_until_s):
    """Up to four random actions in the first ``window_s`` seconds (faults on ``operations``, crashes,
    the alarm, a console stop), and the approval answered either way between 2 s and
    ``approval_until_s`` when the plan has one; sorted by time."""
    actions = []
    for _ in range(rng.randint(0, 4)):
        at = round(rng.uniform(0, window_s), 2)
        kind = rng.choices(["throttle", "error", "denied", "latency", "crash", "alarm", "stop"],
                           weights=[4, 3, 2, 2, 3, 1, 1])[0]
        if kind in ("throttle", "error", "denied", "latency"):
            service, op = rng.choice(operations)
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
        actions.append({"at": round(rng.uniform(2, approval_until_s), 2),
                        "do": rng.choice(["approve", "approve", "reject"])})
    actions.sort(key=lambda a: a["at"])
    return actions


def schedule_rng(prefix, seed, index):
    return random.Random(f"{prefix}{seed}:{index}")


class Runner:
    """Plays one schedule's actions against a running deployment, from a background thread.
    ``target`` is the controller's side of it: ``ended()``, ``alarm`` (the alarm name), ``stop()``,
    ``execution_arn()`` (the canary execution), ``approval_attempts``, ``skip_len``."""

    def __init__(self, sb, target, schedule):
        self.sb, self.target, self.schedule = sb, target, schedule
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
            if self._halt.wait(max(0.0, self.t0 + a["at"] - time.time())) or self.target.ended():
                return
            try:
                self._do(a)
                self.log.append((a["at"], a["do"], "done"))
            except Exception as e:  # an action that cannot happen (no approval waiting) is part of the dice
                why = str(e) if self.target.skip_len is None else str(e)[:self.target.skip_len]
                self.log.append((a["at"], a["do"], f"skipped: {why}"))

    def _do(self, a):
        sb, target = self.sb, self.target
        if a["do"] == "fault":
            sb.inject(**a["spec"])
        elif a["do"] == "alarm":
            retry(lambda: sb.set_alarm(target.alarm, "ALARM", reason="chaos"))
        elif a["do"] == "stop":
            target.stop()
        elif a["do"] in ("approve", "reject"):
            xarn = target.execution_arn()
            token, _ = retry(lambda: sb.approval_token(xarn, timeout=20), attempts=target.approval_attempts)
            if a["do"] == "approve":
                retry(lambda: sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "chaos"})))
            else:
                retry(lambda: sb.sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause="chaos"))


# ------------------------------------------------------------------ one fault-matrix cell
def inject_all(sb, specs):
    for s in specs:
        sb.inject(**s)


def inject_once_entered(sb, when, specs, execution_arn):
    """``when`` = ("after", state[, event]): once the ``event`` execution (default BeforeAllowTraffic;
    its ARN from ``execution_arn(event)``) has entered ``state``, inject ``specs``."""
    xarn = execution_arn(when[2] if len(when) > 2 else "BeforeAllowTraffic")
    sb.wait_state(xarn, when[1], timeout=60, poll=0.05)
    inject_all(sb, specs)


def wait_until(read, done, end, poll=0.3):
    """``read()`` every ``poll`` s until ``done(value)`` or the clock passes ``end``; the last value."""
    value = read()
    while time.time() < end and not done(value):
        time.sleep(poll)
        value = read()
    return value


def faults_left(sb):
    """The injected faults that were never hit (a cell that targeted nothing), then clears them all."""
    left = [f for f in sb.faults() if f.get("count")]
    sb.clear_faults()
    return left
