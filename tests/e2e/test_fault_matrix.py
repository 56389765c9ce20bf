"""The fault matrix, state x fault -> outcome, one short deployment per cell, for each controller:
scenario g of issue 3 (CodeDeploy, ``web``) and issue 11's acceptance (ECS-native, ``api`` through
the ECS simulator, rows ``ECS ...`` of the same table).

Faults hit by operation, so each cell picks an operation only that state calls at that moment:
injected before the deployment when the state is the first caller of the operation (or the first
invoke of its function), or once the execution history shows the state entered (Bake: injected after
its first check, hit by the next one). "throttle" outlasts the SDK's own 3 attempts so the function
answers `Throttled` and the state machine's Retry is exercised (the hook has no state machine around
it: its throttle stays within the SDK's retries). "permanent" is a non-retryable error (AccessDenied)
for one call; "crash" makes the function's next invoke die (Runtime.ExitError).

CodeDeploy cells (ids ``<state>-<fault>``) also check the invariant: the deployment ends within its
budget (a hung hook fails the suite), the hook is reported exactly once, and production is on one
side at the end.

ECS cells (ids ``ecs-<state>-<fault>``): in ECS mode there is no report call: the hook answers ECS
from its return value, so the hook's own faults are StartExecution (its only call that starts
anything) and the hook function crashing (ECS takes a function error as FAILED and rolls back at
once, lambda-lifecycle-hooks). Every cell checks the invariants through AWS APIs
(DescribeServiceDeployments, DescribeRules, Step Functions) and the simulator's record of the hook's
answers (``GET /_sandbox/ecs``):
- the service deployment ends (SUCCESSFUL, or ROLLBACK_SUCCESSFUL) within its budget;
- every FAILED answer was given while the production rule was blue 100% and the production listener
  held no other rule (no hookline cohort rule), as the simulator read them when the answer arrived
  (a poller reading every 50 ms also runs, for the end state);
- no execution of the deployment is left running; production on one side at the end.
Gate cells (ids ``gate-<state>-<fault>``, rows ``ECS gate ...``): see GATE_CELLS.
DNS cells (ids ``dns-<state>-<fault>``, rows ``DNS ...``, issue 22): hookline's own Route 53
controller, see DNS_CELLS and run_dns_cell (the invariants: the execution ended, the records on one
release, the other release's service at 0 tasks, the release record's status where DNS is).
The sandbox runs ECS minutes of 1 s (bakeTimeInMinutes=1 bakes 1 s; a hook's default 1440-minute
timeout ends it after 24 min, which a 10m budget plus the rollback reserve fits) and callBackDelay
at half scale (the ``ecs`` fixture).
"""
import json
import time

import pytest

from conftest import TERMINAL, exec_arn, plan, record_cell
from fault_harness import (COHORT, DENIED, DENIED_QUERY, THROTTLE, ListenerPoller, ecs,  # noqa: F401
                           failed_answer_violations, faults_left, inject_all, inject_once_entered, running_named,
                           wait_until)
from test_canary import W
from test_dns_canary import world  # noqa: F401  (the fixture: the Route 53 world reset before and after)
from test_ecs_native import api, ecs_plan, put_plan  # noqa: F401  (api: the fixture)

# state -> {fault: (when, [fault specs], expected)}; when = "pre" | ("after", state name[, event])
CODEDEPLOY_CELLS = {
    "Hook (hook)": {
        "throttle": ("pre", [dict(service="states", operation="StartExecution", kind="throttle", count=2)], "ok"),
        "permanent": ("pre", [dict(DENIED, service="states", operation="StartExecution")], "rollback"),
        "crash": ("pre", [dict(function="hook", kind="crash", count=1)], "ok-async-retry"),
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
        "throttle": ("pre", [dict(THROTTLE, service="elasticloadbalancing", operation="ModifyListener")], "ok"),
        "permanent": ("pre", [dict(DENIED_QUERY, service="elasticloadbalancing", operation="ModifyListener")],
                      "rollback"),
        "crash": ("pre", [dict(function="shift-weight", kind="crash", count=1)], "rollback"),
    },
    "Bake (validate-health)": {
        "throttle": (("after", "Bake"), [dict(THROTTLE, service="monitoring", operation="DescribeAlarms")], "ok"),
        "permanent": (("after", "Bake"), [dict(DENIED, service="monitoring", operation="DescribeAlarms")],
                      "rollback"),
        "crash": (("after", "Bake"), [dict(function="validate-health", kind="crash", count=1)], "rollback"),
    },
    "Finalize (finalize)": {
        "throttle": ("pre", [dict(THROTTLE, service="codedeploy", operation="PutLifecycleEventHookExecutionStatus")],
                     "ok"),
        "permanent": ("pre", [dict(DENIED, service="codedeploy", operation="PutLifecycleEventHookExecutionStatus")],
                      "rollback"),
        "crash": ("pre", [dict(function="finalize", kind="crash", count=1)], "rollback"),
    },
    # post-traffic (AfterAllowTraffic): injected once its Bake has run once; nothing else calls
    # DescribeAlarms / PutLifecycleEventHookExecutionStatus / finalize before its next step
    "PostBake (validate-health)": {
        "throttle": (("after", "Bake", "AfterAllowTraffic"),
                     [dict(THROTTLE, service="monitoring", operation="DescribeAlarms")], "ok"),
        "permanent": (("after", "Bake", "AfterAllowTraffic"),
                      [dict(DENIED, service="monitoring", operation="DescribeAlarms")], "rollback"),
        "crash": (("after", "Bake", "AfterAllowTraffic"),
                  [dict(function="validate-health", kind="crash", count=1)], "rollback"),
    },
    "PostFinalize (finalize)": {
        "throttle": (("after", "Bake", "AfterAllowTraffic"),
                     [dict(THROTTLE, service="codedeploy", operation="PutLifecycleEventHookExecutionStatus")], "ok"),
        "permanent": (("after", "Bake", "AfterAllowTraffic"),
                      [dict(DENIED, service="codedeploy", operation="PutLifecycleEventHookExecutionStatus")],
                      "rollback"),
        "crash": (("after", "Bake", "AfterAllowTraffic"), [dict(function="finalize", kind="crash", count=1)],
                  "rollback"),
    },
    # post-traffic's StartExecution (hook): the only StartExecution after the canary's own, so the
    # fault goes in as soon as the canary runs (ValidateGreen; injecting at Finalize raced the
    # hook once the functions got faster). AllowTraffic has put production on green when it fails,
    # and hook must restore blue before its own Failed report (the report-time check in
    # conftest.py; found by make chaos)
    "PostHook (hook)": {
        "permanent": (("after", "ValidateGreen"), [dict(DENIED, service="states", operation="StartExecution")],
                      "rollback"),
    },
    # the AfterAllowTraffic hook's read of the target (its only call after the execution lookup: the
    # succeeded canary's document gives the context and the plan), denied for hook's first delivery
    # and Lambda's 2 async retries: the event in progress is unknown, so hook leaves the hook
    # unreported each time and the dead-letter consumer restores and reports. Only hook reads the
    # target, and its BeforeAllowTraffic read is done before the canary starts, so the fault goes in
    # at ValidateGreen (at Finalize it raced the AfterAllowTraffic hook: CI, 2026-11-30)
    "PostHookTarget (hook)": {
        "permanent": (("after", "ValidateGreen"),
                      [dict(DENIED, service="codedeploy", operation="GetDeploymentTarget", count=3)], "rollback"),
    },
    "Rollback (rollback)": {
        # a permanent ModifyListener error sends ShiftWeight to Rollback, whose first invoke crashes:
        # its Retry gets through, the hook is reported Failed once
        "crash": ("pre", [dict(DENIED_QUERY, service="elasticloadbalancing", operation="ModifyListener"),
                          dict(function="rollback", kind="crash", count=1)], "rollback"),
    },
}

ECS_CELLS = {
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
# Gate mode (issue 23): ``api`` under ECS's LINEAR 50 % steps with the hook at
# PRE_PRODUCTION_TRAFFIC_SHIFT and a ``mode: gate`` plan. The hook's first gate reads the deployment
# (DescribeServiceDeployments: the hook is its only caller before the first gate; the harness waits on
# ListServiceDeployments meanwhile). hookline never writes the production rule here, so a FAILED
# answer needs no blue first: ECS's rollback undoes its own steps; the invariants are the deployment
# ending, production on one revision, no rule write by a function, no execution left running.
GATE_CELLS = {
    "Gate (hook)": {
        # throttled past the SDK's attempts: IN_PROGRESS, ECS asks again, the gate runs
        "throttle": ("pre", [dict(THROTTLE, service="ecs", operation="DescribeServiceDeployments")], "ok"),
        # denied: nothing started, hookline moved nothing: FAILED at once, ECS rolls back
        "permanent": ("pre", [dict(DENIED, service="ecs", operation="DescribeServiceDeployments")],
                      "rollback-unstarted"),
        # a function error is FAILED to ECS (ECS-4): it rolls back before any gate started
        "crash": ("pre", [dict(function="hook", kind="crash", count=1)], "rollback-unstarted"),
    },
    # the operator's StopServiceDeployment (ROLLBACK) while ECS bakes the 50 % step, its first gate
    # passed: ECS undoes its own step, the gate execution that judged it has ended, no rule written
    "Bake (ECS)": {
        "stop": ("during-bake", [], "rollback-stopped"),
    },
}
# hookline's own Route 53 controller (issue 22, docs/route53-controller.md): `hookline deploy` of
# tests/e2e/deployfiles/shop.deploy.yml on the sandbox's Route 53 world (test_dns_canary.py). Faults
# name their ``caller`` (the function whose role signs the call, tests/sandbox/README.md "Faults"):
# the CLI's deploy and the harness call DescribeServices / UpdateService / ListResourceRecordSets
# too, with the operator's key, and must not take a fault meant for a function. Each cell is
# (when, [fault specs] or an operator action, expected, strategy): when = "pre" | ("after", state);
# strategy = [(green weight, bake s)], the bake at least the records' TTL + grace (70 s); cells
# that end at a fault before the bake ends run 50 %, cells that must pass one 100 % step.
R53_DENIED = dict(DENIED, status=403, code="AccessDenied")   # Route 53 (REST-XML) names it AccessDenied
TO_GREEN = [(100, 70)]
SPLIT = [(50, 70)]
DNS_CELLS = {
    # the ready gate (validate-health, gate: ready) reads green's service until it is stable
    "ValidateGreen (validate-health)": {
        "throttle": ("pre", [dict(THROTTLE, service="ecs", operation="DescribeServices", caller="validate-health")],
                     "ok", TO_GREEN),
        "denied": ("pre", [dict(DENIED, service="ecs", operation="DescribeServices", caller="validate-health")],
                   "rollback", SPLIT),
    },
    # both records in one ChangeResourceRecordSets batch, then GetChange until INSYNC
    "ShiftWeight (shift-weight)": {
        "throttle": ("pre", [dict(THROTTLE, service="route53", operation="ChangeResourceRecordSets",
                                  caller="shift-weight")], "ok", TO_GREEN),
        "denied": ("pre", [dict(R53_DENIED, service="route53", operation="ChangeResourceRecordSets",
                                caller="shift-weight")], "rollback", SPLIT),
        "throttle-GetChange": ("pre", [dict(THROTTLE, service="route53", operation="GetChange",
                                            caller="shift-weight")], "ok", TO_GREEN),
        # the batch is written (50/50) and never confirmed: the rollback must still put blue back
        "denied-GetChange": ("pre", [dict(R53_DENIED, service="route53", operation="GetChange",
                                          caller="shift-weight")], "rollback", SPLIT),
    },
    # the TTL-aware bake at 50 %: a crashed check, `hookline rollback`
    "Bake (validate-health)": {
        "crash": (("after", "Bake"), [dict(function="validate-health", kind="crash", count=1)], "rollback", SPLIT),
        "stop": (("after", "Bake"), "hookline rollback", "stopped", SPLIT),
    },
    # an approval after the 50 % step, rejected with `hookline reject`
    "RequestApproval (approval)": {
        "reject": (("after", "RequestApproval"), "hookline reject", "rollback", SPLIT),
    },
    # the end (decision 19): record marked succeeded, then blue's service scaled to 0
    "Finalize (finalize)": {
        "throttle": ("pre", [dict(THROTTLE, service="ecs", operation="UpdateService", caller="finalize")], "ok",
                     TO_GREEN),
        # denied once after the record says succeeded: finalize's error goes to the rollback, which
        # finds the success and finishes it (blue scaled to 0, DNS left on green); the execution
        # ends FAILED with the deployment succeeded. Found by this cell: blue was left running.
        "denied": ("pre", [dict(DENIED, service="ecs", operation="UpdateService", caller="finalize")],
                   "ok-finished-by-rollback", TO_GREEN),
        # before anything: the rollback takes DNS from green 100 back to blue
        "crash": ("pre", [dict(function="finalize", kind="crash", count=1)], "rollback", TO_GREEN),
    },
    # the rollback's scale-down of green denied once, after its report marked the record failed:
    # green still scaled to 0 (found by this cell: the rollback took the error for "the deployment
    # ended already" and left green's tasks running)
    "Rollback (rollback)": {
        "denied": ("pre", [dict(R53_DENIED, service="route53", operation="ChangeResourceRecordSets",
                                caller="shift-weight"),
                           dict(DENIED, service="ecs", operation="UpdateService", caller="rollback")],
                   "rollback", SPLIT),
    },
}
CELLS = {"codedeploy": CODEDEPLOY_CELLS, "ecs": ECS_CELLS, "gate": GATE_CELLS, "dns": DNS_CELLS}
# The ids of the cells and the rows of the table: ECS rows and ids carry the controller's name.
ID_PREFIX = {"codedeploy": "", "ecs": "ecs-", "gate": "gate-", "dns": "dns-"}
ROW_PREFIX = {"codedeploy": "", "ecs": "ECS ", "gate": "ECS gate ", "dns": "DNS "}
KNOWN_OPEN = {}  # (controller, state, fault) -> reason: a cell known to fail, run as xfail(strict)
PARAMS = [pytest.param(c, s, f, id=f"{ID_PREFIX[c]}{s.split(' ')[0]}-{f}",
                       marks=[pytest.mark.xfail(strict=True, reason=KNOWN_OPEN[(c, s, f)])]
                       if (c, s, f) in KNOWN_OPEN else [])
          for c, cells in CELLS.items() for s, fs in cells.items() for f in fs]
# CodeDeploy cells: the plans, each cell's budget
BASE = plan([W(50, "3s"), W(100)], interval="1s", post_bake="1s")
WITH_COHORT = plan([COHORT, W(50, "3s"), W(100)], interval="1s", post_bake="1s")
POST = plan([W(100)], interval="1s", post_bake="3s")
CODEDEPLOY_CELL_BUDGET_S = 75
# ECS cells: each cell's budget, the grace for its executions to end after the deployment
ECS_CELL_BUDGET_S = 90
EXEC_GRACE_S = 30
ECS_ENDED = ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")
# DNS cells: green ready in seconds + one 70 s bake (+ 70 s for an approval's step) + the end
DNS_CELL_BUDGET_S = 200


def short(state):
    return state.split(" ")[0]


@pytest.mark.parametrize("controller,state,fault", PARAMS)
def test_fault_matrix(sb, request, controller, state, fault):
    when, specs, expected = CELLS[controller][state][fault][:3]
    outcome = "not run"
    ok = False
    try:
        if controller == "ecs":
            outcome = run_ecs_cell(sb, request.getfixturevalue("ecs"), state, fault, when, specs, expected)
        elif controller == "gate":
            outcome = run_gate_cell(sb, request.getfixturevalue("ecs"), state, fault, specs, expected)
        elif controller == "dns":
            outcome = run_dns_cell(sb, request.getfixturevalue("world"), request.getfixturevalue("tmp_path"),
                                   state, when, specs, expected, CELLS[controller][state][fault][3])
        else:
            outcome = run_codedeploy_cell(sb, state, fault, when, specs, expected)
        ok = True
    except AssertionError as e:
        outcome = str(e).splitlines()[0][:90]
        raise
    finally:
        record_cell(ROW_PREFIX[controller] + short(state) + " " + state[len(short(state)):].strip(), fault,
                    outcome, ok, order=[p.id for p in PARAMS].index(request.node.callspec.id))


def run_codedeploy_cell(sb, state, fault, when, specs, expected):
    post = state.startswith("Post")
    event = "AfterAllowTraffic" if post else "BeforeAllowTraffic"
    sb.put_plan(WITH_COHORT if state.startswith("RouteCohort") else POST if post else BASE)
    blue, green = sb.prod_groups()
    if expected == "ok-async-retry":
        sb.config(hook_invoke_retries=2, hook_retry_delay_s=1)  # Lambda's async retries of the hook
    if when == "pre":
        inject_all(sb, specs)
    t0 = time.time()
    did = sb.deploy(f"example/web:e2e-g-{short(state).lower()}-{fault}")
    if when != "pre":
        inject_once_entered(sb, when, specs, lambda ev: sb.wait_execution(did, ev)["executionArn"])
    status = wait_until(lambda: sb.status(did), lambda s: s in TERMINAL, t0 + CODEDEPLOY_CELL_BUDGET_S)
    took = time.time() - t0
    assert status in TERMINAL, \
        f"HUNG: {status} after {CODEDEPLOY_CELL_BUDGET_S}s; events {sb.events(did)}"
    left = faults_left(sb)
    w = sb.listener_weights(80)
    assert sb.one_side() and sb.rules(80) == [], f"SPLIT at the end: {w} rules {sb.rules(80)}"
    info = sb.deployment(did)
    ex = sb.execution(did, event)
    arn = ex["executionArn"] if ex else None
    fails = sb.task_failures(arn) if arn else []
    errs = sorted({e for e, _ in fails})
    assert not left, f"fault never hit (targeted nothing): {left}"
    if expected.startswith("ok"):
        assert status == "Succeeded", f"{status}: {info.get('errorInformation')} task errors {errs}"
        sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
        sb.assert_hook_once(did, "AfterAllowTraffic", "Succeeded")
        assert w == {blue: 0, green: 100}, w
        if expected == "ok-async-retry":
            how = "hook re-invoked"
        elif errs:
            how = "SFN retry " + ",".join(errs)
        else:
            how = "SDK retry"
        return f"Succeeded ({how}) {took:.0f}s"
    assert status == "Failed", f"{status}: {info.get('errorInformation')}"
    if post:
        sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
    sb.assert_hook_once(did, event, "Failed")
    assert w == {blue: 100, green: 0}, w
    assert [t["target_group"] for t in sb.task_sets()] == [blue], sb.task_sets()
    if arn:
        e = sb.wait_execution_done(arn, timeout=30)
        assert e["status"] == "FAILED", e["status"]
        why = ",".join(x for x in errs if x) or "-"
        if state.startswith("Rollback"):
            # moto's history does not list a retried attempt's failure: count the invokes instead
            n = sum(1 for c in sb.calls(log=True)["log"] if c.get("function") == "rollback" and c["t"] >= t0)
            assert n == 2, f"rollback invoked {n} times (wanted 2: crash, then the Retry)"
            return f"hook Failed once, blue 100 (rollback invoked 2x: crash + Retry) {took:.0f}s"
        if post:
            # Only a release that passed is recorded: a rolled-back deployment is never the last release.
            try:
                rel = sb.ssm.get_parameter(Name="/hookline/web/web-prod/last-release")["Parameter"]["Value"]
            except sb.ssm.exceptions.ParameterNotFound:
                rel = ""
            assert did not in rel, f"rolled-back {did} recorded as the last release: {rel}"
        return f"hook Failed, blue 100 ({why}) {took:.0f}s"
    return f"hook Failed, no execution, blue 100 {took:.0f}s"


def run_ecs_cell(sb, api, state, fault, when, specs, expected):  # noqa: F811  (api: the ``ecs`` fixture's)
    post = state.startswith("Post")
    steps = ([COHORT] if state.startswith("RouteCohort") else []) + ([W(100)] if post else
                                                                     [W(50, "2s"), W(100)])
    put_plan(sb, ecs_plan(sb, steps, post_bake="3s" if post else "1s", budget="10m"))
    if when == "pre":
        inject_all(sb, specs)
    t0 = time.time()
    with ListenerPoller(api) as poller:
        arn = api.deploy(f"example/api:e2e-ecs-{short(state).lower()}-{fault}")
        blue, green = api.sides(arn)
        if when != "pre":
            inject_once_entered(sb, when, specs, lambda ev: api.wait_execution(arn, ev)["executionArn"])
        d = wait_until(lambda: api.deployment(arn), lambda d: d["status"] in ECS_ENDED, t0 + ECS_CELL_BUDGET_S)
        took = time.time() - t0
        assert d["status"] in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL"), \
            f"HUNG/{d['status']} after {took:.0f}s ({d.get('statusReason')}): {api.invocations(arn)[-3:]}"
        running = running_named(api.running, arn.rsplit("/", 1)[1], EXEC_GRACE_S, 0.5)
        time.sleep(0.3)
    left = faults_left(sb)
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
    event = "AfterAllowTraffic" if post else "BeforeAllowTraffic"
    if expected == "rollback-unstarted":
        try:
            sb.sfn.describe_execution(executionArn=api.execution_arn(arn, event))
            raise AssertionError(f"an {event} execution was started")
        except sb.sfn.exceptions.ExecutionDoesNotExist:
            pass
        return f"FAILED once, no execution, ROLLBACK_SUCCESSFUL, blue 100 {took:.0f}s"
    ex = sb.sfn.describe_execution(executionArn=api.execution_arn(arn, event))
    assert ex["status"] == "FAILED", ex["status"]
    return f"FAILED once at blue 100, ROLLBACK_SUCCESSFUL {took:.0f}s"


def run_gate_cell(sb, api, state, fault, specs, expected):  # noqa: F811  (api: the ``ecs`` fixture's)
    from test_ecs_gate import gate_plan, rule_writes_by_functions, stepped
    put_plan(sb, gate_plan(sb, budget="10m"))   # fits the hook's 24-minute timeout (ECS minutes of 1 s)
    stepped(api, "LINEAR", 50.0, bake_minutes=4 if fault == "stop" else 1)   # a bake long enough to stop in
    # Blue is where production is before the deployment (read now: after a rollback the target
    # revision is inactive and has no resolvedConfiguration to tell the sides by).
    before = api.weights()
    blue = next(g for g, p in before.items() if p == 100)
    green = next(g for g in api.groups if g != blue)
    inject_all(sb, specs)
    t0 = time.time()
    arn = api.deploy(f"example/api:e2e-gate-{short(state).lower()}-{fault}")
    if fault == "stop":
        wait_until(api.weights, lambda w: w.get(green, 0) == 50, t0 + ECS_CELL_BUDGET_S, poll=0.1)
        assert api.weights().get(green, 0) == 50, f"ECS never took the 50 % step: {api.weights()}"
        time.sleep(2)   # into the step's bake
        api.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")

    def listed():   # ListServiceDeployments: the faulted DescribeServiceDeployments stays the hook's
        return next(d for d in api.deployments() if d["serviceDeploymentArn"] == arn)
    d = wait_until(listed, lambda d: d["status"] in ECS_ENDED, t0 + ECS_CELL_BUDGET_S)
    took = time.time() - t0
    assert d["status"] in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL"), \
        f"HUNG/{d['status']} after {took:.0f}s ({d.get('statusReason')}): {api.invocations(arn)[-3:]}"
    running = running_named(api.running, arn.rsplit("/", 1)[1], EXEC_GRACE_S, 0.5)
    left = faults_left(sb)
    w = api.weights()
    assert not running, f"executions still running {EXEC_GRACE_S}s after the end: {running}"
    assert not left, f"fault never hit (targeted nothing): {left}"
    assert rule_writes_by_functions(sb, t0) == [], "a function wrote a listener rule in gate mode"
    gates = [(i["answer"] or {}).get("hookStatus") for i in api.invocations(arn)
             if i["stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT" and not i.get("rollback")]
    if expected == "ok":
        assert d["status"] == "SUCCESSFUL", f"{d['status']}: {d.get('statusReason')}"
        assert w.get(green, 0) == 100, w
        assert gates.count("SUCCEEDED") == 2 and "FAILED" not in gates and gates[0] == "IN_PROGRESS", gates
        return f"SUCCESSFUL, green 100 ({gates.count('IN_PROGRESS')} IN_PROGRESS) {took:.0f}s"
    assert d["status"] == "ROLLBACK_SUCCESSFUL", f"{d['status']}: {d.get('statusReason')}"
    assert w.get(blue, 0) == 100 and w.get(green, 0) == 0, w
    if expected == "rollback-stopped":
        assert gates and gates[-1] == "SUCCEEDED" and "FAILED" not in gates, gates
        return f"ROLLBACK_SUCCESSFUL (stopped in the 50 % bake), blue 100, no execution left {took:.0f}s"
    assert gates and gates[-1] != "SUCCEEDED" and "SUCCEEDED" not in gates, gates
    try:
        sb.sfn.describe_execution(executionArn=exec_arn("hookline-canary", f"{arn.rsplit('/', 1)[1]}-Gate0"))
        raise AssertionError("a gate execution was started")
    except sb.sfn.exceptions.ExecutionDoesNotExist:
        pass
    how = "function error" if fault == "crash" else "FAILED"
    return f"ROLLBACK_SUCCESSFUL ({how} at the first gate), blue 100, no execution {took:.0f}s"


def run_dns_cell(sb, world, tmp_path, state, when, action, expected, strategy):  # noqa: F811  (world: the fixture's)
    """One DNS cell: `hookline deploy`, the fault (or the operator's action) at its state, then the
    invariants through AWS APIs: the canary execution ended and none of the deployment runs; the
    records on one release only (blue 100 / green 0 or blue 0 / green 100); the other release's service
    scaled to 0 (its tasks gone) and the one taking traffic stable; the release record (SSM) ended with
    its services' part done, ``succeeded`` exactly when DNS is on green."""
    from test_dns_canary import DESIRED, canary_execution, deploy_file, hookline, stable, start, summary
    approval = 50 if state.startswith("RequestApproval") else None
    directory = deploy_file(tmp_path, strategy, approval=approval)
    if when == "pre":
        inject_all(sb, action)
    t0 = time.time()
    did = start(sb, directory)
    arn = canary_execution(sb, did)
    if when != "pre":
        if approval is not None:
            sb.approval_token(arn, timeout=DNS_CELL_BUDGET_S)
        else:
            sb.wait_state(arn, when[1], timeout=60, poll=0.1)
        if isinstance(action, list):
            inject_all(sb, action)
        else:
            verb = action.split()[1]
            extra = ["--yes", "--reason", "fault matrix"] if verb == "rollback" else []
            r = hookline(sb, verb, did, *extra, timeout=120)
            assert r.returncode == 0, f"{action}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    done = sb.wait_execution_done(arn, timeout=max(5.0, t0 + DNS_CELL_BUDGET_S - time.time()), poll=0.5)
    took = time.time() - t0
    running = running_named(sb.running_executions, did, EXEC_GRACE_S, 0.5)
    left = faults_left(sb)
    weights = world.weights()
    record = json.loads(sb.ssm.get_parameter(Name=f"/hookline/dns/{did}")["Parameter"]["Value"])
    errs = sorted({e for e, _ in sb.task_failures(arn) if e})
    assert not running, f"executions still running {EXEC_GRACE_S}s after the end: {running}"
    assert weights in ((100, 0), (0, 100)), f"SPLIT at the end: blue/green {weights} ({done['status']}, {errs})"
    on_green = weights == (0, 100)
    assert (record["status"] == "succeeded") == on_green, \
        f"release record {record['status']} while DNS is blue/green {weights} (execution {done['status']}, {errs})"
    live, idle = ("green", "blue") if on_green else ("blue", "green")
    world.wait_service(idle, lambda s: s is None or (s["desiredCount"] == 0 and s["runningCount"] == 0),
                       "scaled to 0", timeout=60)
    assert stable(DESIRED)(world.service(live)), f"{live} must serve: {summary(world.service(live))}"
    assert record.get("services_done"), f"release record's services part not done: {record}"
    assert not left, f"fault never hit (targeted nothing): {left}"
    why = ",".join(errs) or "-"
    if expected.startswith("ok"):
        assert on_green, f"{done['status']} with DNS blue/green {weights} ({errs}); record {record['status']}"
        want = "FAILED" if expected == "ok-finished-by-rollback" else "SUCCEEDED"
        assert done["status"] == want, f"execution {done['status']} ({errs}), wanted {want}"
        if want == "FAILED":
            assert "Rollback" in sb.states_entered(arn), sb.states_entered(arn)
        return f"green 100, blue 0 tasks, record succeeded, {done['status']} ({why}) {took:.0f}s"
    assert done["status"] in ("FAILED", "ABORTED"), done["status"]
    assert not on_green, f"DNS on green after a {expected} ({errs})"
    assert record["status"] == ("stopped" if expected == "stopped" else "failed"), record
    return f"blue 100, green 0 tasks, record {record['status']}, {done['status']} ({why}) {took:.0f}s"
