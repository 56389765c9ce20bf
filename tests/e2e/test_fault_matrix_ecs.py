"""The fault matrix in ECS-native mode (issue 11 acceptance): state x {throttle, permanent, crash} ->
outcome, one short deployment of the ``api`` service (ECS simulator, controller ECS) per cell.

Faults hit by operation, as in test_fault_matrix.py: injected before the deployment when the state is
the first caller of the operation, or once the execution history shows the state entered. In ECS mode
there is no report call: the hook answers ECS from its return value, so the hook's own faults are
StartExecution (its only call that starts anything) and the hook function crashing (ECS takes a
function error as FAILED and rolls back at once, lambda-lifecycle-hooks).

Every cell checks the invariants through AWS APIs (DescribeServiceDeployments, DescribeRules, Step
Functions) and the simulator's record of the hook's answers (``GET /_sandbox/ecs``):
- the service deployment ends (SUCCESSFUL, or ROLLBACK_SUCCESSFUL) within CELL_BUDGET_S;
- every FAILED answer was given while the production rule was blue 100% and the production listener
  held no other rule (no hookline cohort rule), as the simulator read them when the answer arrived
  (a poller reading every 50 ms also runs, for the end state);
- no execution of the deployment is left running; production on one side at the end.

The sandbox runs ECS minutes of 1 s (bakeTimeInMinutes=1 bakes 1 s; a hook's default 1440-minute
timeout ends it after 24 min, which a 10m budget plus the rollback reserve fits) and callBackDelay
at half scale.
"""
import threading
import time

import pytest
import requests

from conftest import record_cell
from test_canary import W
from test_ecs_native import Api, api, ecs_plan, put_plan  # noqa: F401  (api: the fixture)

COHORT = {"cohort": {"header": "X-Canary", "values": ["internal"]}}
CELL_BUDGET_S = 90
EXEC_GRACE_S = 30
ECS_MINUTE_S = 1
CALLBACK_SCALE = 0.5

DENIED = {"kind": "error", "status": 400, "code": "AccessDeniedException", "message": "e2e: not allowed", "count": 1}
DENIED_QUERY = dict(DENIED, code="AccessDenied")
THROTTLE = {"kind": "throttle", "count": 3}   # outlasts the SDK's own 3 attempts

# state -> {fault: (when, [fault specs], expected)}; when = "pre" | ("after", state, event)
CELLS = {
    "Hook (hook)": {
        # throttled past the SDK's attempts: IN_PROGRESS, ECS calls again after callBackDelay
        "throttle": ("pre", [dict(THROTTLE, service="states", operation="StartExecution")], "ok"),
        # nothing started, nothing moved: FAILED at once, ECS rolls back
        "permanent": ("pre", [dict(DENIED, service="states", operation="StartExecution")], "rollback-unstarted"),
        # a function error is FAILED to ECS: it rolls back before anything started
        "crash": ("pre", [dict(function="hook", kind="crash", count=1)], "rollback-crash"),
    },
    "ValidateGreen (validate-health)": {
        "throttle": ("pre", [dict(THROTTLE, service="monitoring", operation="DescribeAlarms")], "ok"),
        "permanent": ("pre", [dict(DENIED, service="monitoring", operation="DescribeAlarms")], "rollback"),
        "crash": ("pre", [dict(function="validate-health", kind="crash", count=1)], "rollback"),
    },
    "RouteCohort (shift-weight)": {
        "throttle": ("pre", [dict(THROTTLE, service="elasticloadbalancing", operation="CreateRule")], "ok"),
        "permanent": ("pre", [dict(DENIED_QUERY, service="elasticloadbalancing", operation="CreateRule")], "rollback"),
        "crash": ("pre", [dict(function="shift-weight", kind="crash", count=1)], "rollback"),
    },
    "ShiftWeight (shift-weight)": {
        "throttle": ("pre", [dict(THROTTLE, service="elasticloadbalancing", operation="ModifyRule")], "ok"),
        "permanent": ("pre", [dict(DENIED_QUERY, service="elasticloadbalancing", operation="ModifyRule")],
                      "rollback"),
        "crash": ("pre", [dict(function="shift-weight", kind="crash", count=1)], "rollback"),
    },
    "Bake (validate-health)": {
        "throttle": (("after", "Bake", "BeforeAllowTraffic"),
                     [dict(THROTTLE, service="monitoring", operation="DescribeAlarms")], "ok"),
        "permanent": (("after", "Bake", "BeforeAllowTraffic"),
                      [dict(DENIED, service="monitoring", operation="DescribeAlarms")], "rollback"),
        "crash": (("after", "Bake", "BeforeAllowTraffic"), [dict(function="validate-health", kind="crash", count=1)],
                  "rollback"),
    },
    "Finalize (finalize)": {
        "crash": ("pre", [dict(function="finalize", kind="crash", count=1)], "rollback"),
    },
    # post-traffic (POST_PRODUCTION_TRAFFIC_SHIFT): injected once its Bake has run once
    "PostBake (validate-health)": {
        "throttle": (("after", "Bake", "AfterAllowTraffic"),
                     [dict(THROTTLE, service="monitoring", operation="DescribeAlarms")], "ok"),
        "permanent": (("after", "Bake", "AfterAllowTraffic"),
                      [dict(DENIED, service="monitoring", operation="DescribeAlarms")], "rollback"),
        "crash": (("after", "Bake", "AfterAllowTraffic"),
                  [dict(function="validate-health", kind="crash", count=1)], "rollback"),
    },
    "PostFinalize (finalize)": {
        "crash": (("after", "Bake", "AfterAllowTraffic"), [dict(function="finalize", kind="crash", count=1)],
                  "rollback"),
    },
    # post-traffic's StartExecution (hook), once the canary is finalizing: the only StartExecution after it.
    # Found by this matrix: the hook answered FAILED at once while production was on green 100%, where
    # ECS's PRODUCTION_TRAFFIC_SHIFT put it; it now restores the service's production rule first.
    "PostHook (hook)": {
        "permanent": (("after", "Finalize", "BeforeAllowTraffic"),
                      [dict(DENIED, service="states", operation="StartExecution")], "rollback-unstarted"),
    },
    "Rollback (rollback)": {
        # a permanent ModifyRule error sends ShiftWeight to Rollback, whose first invoke crashes:
        # its Retry gets through, the hook answers FAILED once
        "crash": ("pre", [dict(DENIED_QUERY, service="elasticloadbalancing", operation="ModifyRule"),
                          dict(function="rollback", kind="crash", count=1)], "rollback"),
    },
}
KNOWN_OPEN = {}  # (state, fault) -> reason: a cell known to fail, run as xfail(strict)
PARAMS = [pytest.param(s, f, id=f"ecs-{s.split(' ')[0]}-{f}",
                       marks=[pytest.mark.xfail(strict=True, reason=KNOWN_OPEN[(s, f)])] if (s, f) in KNOWN_OPEN
                       else []) for s, fs in CELLS.items() for f in fs]


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


def wait_no_execution_running(api, arn, grace=EXEC_GRACE_S):
    name = arn.rsplit("/", 1)[1]
    end = time.time() + grace
    running = [e["name"] for e in api.running() if e["name"].startswith(name)]
    while running and time.time() < end:
        time.sleep(0.5)
        running = [e["name"] for e in api.running() if e["name"].startswith(name)]
    return running


PRODUCTION_RULE_PRIORITY = 50


@pytest.fixture
def ecs(sb, api):
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


def short(state):
    return state.split(" ")[0]


@pytest.mark.parametrize("state,fault", PARAMS)
def test_ecs_fault_matrix(sb, ecs, state, fault):
    when, specs, expected = CELLS[state][fault]
    outcome = "not run"
    ok = False
    try:
        outcome = run_cell(sb, ecs, state, fault, when, specs, expected)
        ok = True
    except AssertionError as e:
        outcome = str(e).splitlines()[0][:90]
        raise
    finally:
        record_cell("ECS " + short(state) + " " + state[len(short(state)):].strip(), fault, outcome, ok)


def run_cell(sb, api, state, fault, when, specs, expected):
    post = state.startswith("Post")
    steps = ([COHORT] if state.startswith("RouteCohort") else []) + ([W(100)] if post else
                                                                     [W(50, "2s"), W(100)])
    put_plan(sb, ecs_plan(sb, steps, post_bake="3s" if post else "1s", budget="10m"))
    if when == "pre":
        for s in specs:
            sb.inject(**s)
    t0 = time.time()
    with ListenerPoller(api) as poller:
        arn = api.deploy(f"example/api:e2e-ecs-{short(state).lower()}-{fault}")
        blue, green = api.sides(arn)
        if when != "pre":
            xarn = api.wait_execution(arn, when[2])["executionArn"]
            sb.wait_state(xarn, when[1], timeout=60, poll=0.05)
            for s in specs:
                sb.inject(**s)
        end = t0 + CELL_BUDGET_S
        d = api.deployment(arn)
        while time.time() < end and d["status"] not in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED",
                                                         "STOPPED"):
            time.sleep(0.3)
            d = api.deployment(arn)
        took = time.time() - t0
        assert d["status"] in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL"), \
            f"HUNG/{d['status']} after {took:.0f}s ({d.get('statusReason')}): {api.invocations(arn)[-3:]}"
        running = wait_no_execution_running(api, arn)
        time.sleep(0.3)
    left = [f for f in sb.faults() if f.get("count")]
    sb.clear_faults()
    bad = failed_answer_violations(api, poller, arn, blue)
    assert not bad, "FAILED while not blue: " + "; ".join(bad)
    assert not running, f"executions still running {EXEC_GRACE_S}s after the end: {running}"
    _, w, others = poller.reads[-1]
    assert not others, f"rules left on the production listener: {others}"
    assert not left, f"fault never hit (targeted nothing): {left}"
    answers = [(i["stage"], (i.get("answer") or {}).get("hookStatus"), i.get("outcome"))
               for i in api.invocations(arn) if not i.get("rollback")]
    canary = [a for a in answers if a[0] == "POST_TEST_TRAFFIC_SHIFT"]
    after = [a for a in answers if a[0] == "POST_PRODUCTION_TRAFFIC_SHIFT"]
    if expected == "ok":
        assert d["status"] == "SUCCESSFUL", f"{d['status']}: {d.get('statusReason')}"
        assert w.get(green, 0) == 100, w
        for stage in (canary, after):
            assert stage and stage[-1][1] == "SUCCEEDED" and {s for _, s, _ in stage[:-1]} <= {"IN_PROGRESS"}, stage
        waits = sum(1 for _, s, _ in canary if s == "IN_PROGRESS")
        return f"SUCCESSFUL, green 100 ({waits} IN_PROGRESS) {took:.0f}s"
    assert d["status"] == "ROLLBACK_SUCCESSFUL", f"{d['status']}: {d.get('statusReason')}"
    assert w.get(blue, 0) == 100, w
    mine = after if post else canary
    failed = [a for a in mine if a[1] == "FAILED"]
    if expected == "rollback-crash":
        assert not failed and mine and mine[-1][1] is None and mine[-1][2] == "FAILED", mine
        try:
            sb.sfn.describe_execution(executionArn=api.execution_arn(arn))
            raise AssertionError("an execution was started before the crash")
        except sb.sfn.exceptions.ExecutionDoesNotExist:
            pass
        return f"ROLLBACK_SUCCESSFUL (function error), blue 100 {took:.0f}s"
    assert len(failed) == 1 and mine[-1][1] == "FAILED", mine
    if post:
        assert canary and canary[-1][1] == "SUCCEEDED", canary
    if expected == "rollback-unstarted":
        event = "AfterAllowTraffic" if post else "BeforeAllowTraffic"
        try:
            sb.sfn.describe_execution(executionArn=api.execution_arn(arn, event))
            raise AssertionError(f"an {event} execution was started")
        except sb.sfn.exceptions.ExecutionDoesNotExist:
            pass
        return f"FAILED once, no execution, ROLLBACK_SUCCESSFUL, blue 100 {took:.0f}s"
    event = "AfterAllowTraffic" if post else "BeforeAllowTraffic"
    ex = sb.sfn.describe_execution(executionArn=api.execution_arn(arn, event))
    assert ex["status"] == "FAILED", ex["status"]
    return f"FAILED once at blue 100, ROLLBACK_SUCCESSFUL {took:.0f}s"
