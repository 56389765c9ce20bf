"""Structural checks of statemachine/*.asl.json (no AWS, no moto).

The invariant from docs/design.md these guard: every canary/post-traffic execution ends by
reporting its hook exactly once (finalize -> Succeeded, rollback -> Failed) and a failed
path never leaves production split (rollback restores). In graph terms: no terminal state
is reachable without passing a reporting task, nothing runs after a report but a terminal
state, and every function task has the transient Retry and a Catch into Rollback.
"""
from __future__ import annotations

import json
import re

import pytest

from harness import MACHINES, ROOT, STATEMACHINE_DIR, load_placeholders

HOOK_MACHINES = ("canary", "post-traffic")
RETRIED = {"Throttled", "AwsTransient", "Lambda.ServiceException", "Lambda.AWSLambdaException",
           "Lambda.TooManyRequestsException", "Lambda.SdkClientException",
           "Lambda.ClientExecutionTimeoutException"}
# A function run past its Timeout: errorType Sandbox.Timedout; Step Functions reports unhandled
# errors (timeouts, out of memory) as Lambda.Unknown
# (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
TIMEOUTS = {"Sandbox.Timedout", "Lambda.Unknown"}
NEVER_RETRIED = {"DeploymentStopped", "HealthCheckFailed", "InvalidInput", "AwsPermanent",
                 "States.ALL", "States.TaskFailed"}
REPORTERS = {"${FinalizeFunctionArn}", "${RollbackFunctionArn}"}
DOC = {"context.$": "$.context", "plan.$": "$.plan", "state.$": "$.state"}

# The exact input each function receives (Parameters of each Task), so the Rust side
# can be checked against one table. Keep docs/contracts.md in step with it.
FUNCTION_INPUTS = {
    "canary": {
        "ValidateGreen": ("${ValidateHealthFunctionArn}", {"gate": "ready", **DOC}, "$.health"),
        "ShiftWeight": ("${ShiftWeightFunctionArn}",
                        {"context.$": "$.context", "state.$": "$.state", "step.$": "$.step"}, "$.state"),
        "Bake": ("${ValidateHealthFunctionArn}", {"gate": "bake", **DOC}, "$.health"),
        "RouteCohort": ("${ShiftWeightFunctionArn}",
                        {"context.$": "$.context", "state.$": "$.state", "step.$": "$.step"}, "$.state"),
        "Finalize": ("${FinalizeFunctionArn}", DOC, "$.result"),
        "Rollback": ("${RollbackFunctionArn}", {**DOC, "error.$": "$.error", "attempt.$": "$$.State.RetryCount"},
                     "$.rollback"),
    },
    "post-traffic": {
        "Bake": ("${ValidateHealthFunctionArn}", {"gate": "bake", **DOC}, "$.health"),
        "Finalize": ("${FinalizeFunctionArn}", DOC, "$.result"),
        "Rollback": ("${RollbackFunctionArn}", {**DOC, "error.$": "$.error", "attempt.$": "$$.State.RetryCount"},
                     "$.rollback"),
    },
    "release": {
        "RegisterTaskdef": ("${RegisterTaskdefFunctionArn}", None, "$.release"),  # InputPath $.request
        "CheckDeployment": ("${ValidateHealthFunctionArn}",
                            {"gate": "deployment", "deployment_id.$": "$.release.deployment_id"}, "$.outcome"),
    },
    "rollback": {
        "Rollback": ("${RollbackFunctionArn}",
                     {"deployment_id.$": "$.request.deployment_id", "reason.$": "$.request.reason"}, "$.result"),
    },
}


def load(name: str) -> dict:
    return json.loads((STATEMACHINE_DIR / f"{name}.asl.json").read_text())


def edges(state: dict) -> list[tuple[str, str]]:
    """(kind, target) for every transition out of a state."""
    out = []
    if "Next" in state:
        out.append(("next", state["Next"]))
    for rule in state.get("Choices", []):
        out.append(("choice", rule["Next"]))
    if "Default" in state:
        out.append(("default", state["Default"]))
    for c in state.get("Catch", []):
        out.append(("catch", c["Next"]))
    return out


def successors(states: dict, name: str) -> set[str]:
    return {t for _, t in edges(states[name])}


def predecessors(states: dict, name: str) -> set[str]:
    return {n for n, s in states.items() if name in {t for _, t in edges(s)}}


def reachable(states: dict, start: str, blocked: frozenset = frozenset()) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        if n in seen or n in blocked:
            continue
        seen.add(n)
        todo += successors(states, n)
    return seen


def is_terminal(state: dict) -> bool:
    return state["Type"] in ("Succeed", "Fail") or state.get("End") is True


def function_tasks(states: dict) -> dict:
    return {n: s for n, s in states.items()
            if s["Type"] == "Task" and re.fullmatch(r"\$\{\w+FunctionArn\}", s["Resource"])}


def retry_seconds(retrier: dict) -> float:
    interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    return sum(min(interval * rate ** i, cap) for i in range(retrier.get("MaxAttempts", 3)))


ALL = pytest.mark.parametrize("name", MACHINES)
HOOK = pytest.mark.parametrize("name", HOOK_MACHINES)


# --- every machine ------------------------------------------------------------------------
@ALL
def test_shape(name):
    d = load(name)
    assert d["QueryLanguage"] == "JSONPath"
    assert "TimeoutSeconds" not in d, "an execution timeout would end it without reporting the hook"
    assert d["StartAt"] in d["States"]
    text = (STATEMACHINE_DIR / f"{name}.asl.json").read_text()
    assert "aws-sdk:" not in text, "no aws-sdk integrations (moto and AWS disagree on casing)"
    assert "{%" not in text, "no JSONata"
    for n, s in d["States"].items():
        assert "QueryLanguage" not in s, n
        assert "Arguments" not in s and "Output" not in s and "Assign" not in s, n


@ALL
def test_transitions_are_well_formed(name):
    states = load(name)["States"]
    for n, s in states.items():
        for kind, target in edges(s):
            assert target in states, f"{n}: {kind} -> {target} does not exist"
        if s["Type"] == "Choice":
            assert "Default" in s, f"{n}: Choice without Default"
            assert "Next" not in s and "End" not in s
        elif not is_terminal(s):
            assert "Next" in s, f"{n}: neither Next nor End"
        for c in s.get("Catch", []):
            assert "ResultPath" in c, f"{n}: Catch without ResultPath would drop the document"
        for lst in ("Retry", "Catch"):
            for i, r in enumerate(s.get(lst, [])):
                if "States.ALL" in r["ErrorEquals"]:
                    assert r["ErrorEquals"] == ["States.ALL"] and i == len(s[lst]) - 1, f"{n}: {lst}"
    unreachable = set(states) - reachable(states, load(name)["StartAt"])
    assert not unreachable, f"unreachable states: {unreachable}"


@ALL
def test_function_inputs_are_the_documented_ones(name):
    tasks = function_tasks(load(name)["States"])
    assert set(tasks) == set(FUNCTION_INPUTS[name])
    for n, (resource, params, result_path) in FUNCTION_INPUTS[name].items():
        assert tasks[n]["Resource"] == resource, n
        assert tasks[n].get("Parameters") == params, n
        assert tasks[n]["ResultPath"] == result_path, n


@ALL
def test_every_function_task_retries_transient_errors_only(name):
    for n, s in function_tasks(load(name)["States"]).items():
        if s["Resource"] == "${RollbackFunctionArn}":
            continue
        assert s.get("Retry"), f"{n}: no Retry"
        retried = set().union(*(r["ErrorEquals"] for r in s["Retry"]))
        assert RETRIED <= retried, f"{n}: missing {RETRIED - retried}"
        assert not (retried & NEVER_RETRIED), f"{n}: retries {retried & NEVER_RETRIED}"
        total = sum(retry_seconds(r) for r in s["Retry"])
        assert total <= 60, f"{n}: {total}s of retries"


@ALL
def test_waits_only_follow_a_checked_seconds_path(name):
    """A Wait reading a missing/non-numeric path is a States.Runtime nobody catches."""
    states = load(name)["States"]
    for n, s in states.items():
        if s["Type"] != "Wait":
            continue
        if "Seconds" in s:
            continue
        path = s["SecondsPath"]
        for p in predecessors(states, n):
            ps = states[p]
            assert ps["Type"] == "Choice", f"{n} entered from {p}"
            rules = [r for r in ps["Choices"] if r["Next"] == n]
            assert rules and ps["Default"] != n, f"{p} -> {n} must be guarded"
            for r in rules:
                assert {"Variable": path, "IsNumeric": True} in r.get("And", []), f"{p} -> {n}"


# --- canary and post-traffic: the reporting invariant ---------------------------------------
@HOOK
def test_no_terminal_without_a_report(name):
    d = load(name)
    states = d["States"]
    reporters = frozenset(n for n, s in states.items() if s.get("Resource") in REPORTERS)
    assert {states[n]["Resource"] for n in reporters} == REPORTERS
    free = reachable(states, d["StartAt"], blocked=reporters)
    leaks = [n for n in free if is_terminal(states[n])]
    assert not leaks, f"terminal states reachable without finalize/rollback: {leaks}"


def drain_loop(states: dict, rollback: str, result_path: str) -> tuple[str, set[str]]:
    """The state after `rollback` on its way to its end, and the drain loop's states (none when
    `rollback` goes straight on). The drain (hookline's own Route 53 releases, docs/route53-controller.md
    decision 23): a Choice on the rollback's `drain_seconds` into a Wait of those seconds, then the
    rollback function again (idempotent: it restores nothing new and its report then scales green
    down), and the Choice's Default is the end. Nothing else runs between two reports."""
    nxt = states[rollback]["Next"]
    if states[nxt]["Type"] != "Choice":
        return nxt, set()
    choice = states[nxt]
    var = f"{result_path}.drain_seconds"
    (rule,) = choice["Choices"]
    assert {"Variable": var, "IsPresent": True} in rule["And"], rule
    assert {"Variable": var, "NumericGreaterThan": 0} in rule["And"], rule
    wait = states[rule["Next"]]
    assert wait["Type"] == "Wait" and wait["SecondsPath"] == var and wait["Next"] == rollback, wait
    assert predecessors(states, rule["Next"]) == {nxt} and predecessors(states, nxt) == {rollback}
    return choice["Default"], {nxt, rule["Next"]}


@HOOK
def test_nothing_but_a_terminal_after_a_report(name):
    states = load(name)["States"]
    (finalize,) = [n for n, s in states.items() if s.get("Resource") == "${FinalizeFunctionArn}"]
    (rollback,) = [n for n, s in states.items() if s.get("Resource") == "${RollbackFunctionArn}"]
    # finalize reports last: success -> Succeed; failure (nothing reported) -> rollback
    assert states[states[finalize]["Next"]]["Type"] == "Succeed"
    assert [c["Next"] for c in states[finalize]["Catch"]] == [rollback]
    # rollback -> (its drain, back into rollback) -> RolledBack (Fail); failing for good -> a distinct Fail
    end, loop = drain_loop(states, rollback, states[rollback]["ResultPath"])
    after = reachable(states, rollback) - {rollback} - loop
    assert all(states[n]["Type"] == "Fail" for n in after), after
    assert states[end]["Error"] == "RolledBack"
    (catch,) = states[rollback]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    assert states[catch["Next"]]["Error"] == "RollbackFailed"
    # every Fail state is entered from rollback (or its drain's Choice) only; Succeed from finalize only
    for n, s in states.items():
        if s["Type"] == "Fail":
            assert predecessors(states, n) <= {rollback} | loop and predecessors(states, n), n
        if s["Type"] == "Succeed":
            assert predecessors(states, n) == {finalize}, n


def test_the_canary_drains_after_its_rollback_and_post_traffic_needs_no_drain():
    """Only hookline's own Route 53 releases drain, and they run the canary machine alone."""
    canary, post = load("canary")["States"], load("post-traffic")["States"]
    assert drain_loop(canary, "Rollback", "$.rollback")[1] == {"DrainDue", "WaitForResolvers"}
    assert drain_loop(post, "Rollback", "$.rollback") == ("RolledBack", set())


@HOOK
def test_function_tasks_catch_everything_into_rollback(name):
    states = load(name)["States"]
    for n, s in states.items():
        if s["Type"] != "Task" or s["Resource"] == "${RollbackFunctionArn}":
            continue
        catches = s.get("Catch", [])
        assert catches and catches[-1]["ErrorEquals"] == ["States.ALL"], n
        assert catches[-1]["Next"] == "Rollback" and catches[-1]["ResultPath"] == "$.error", n
        for c in catches:
            assert c["ResultPath"] == "$.error", n


@HOOK
def test_every_way_into_rollback_sets_error(name):
    """rollback reads $.error: each entry is a Catch with ResultPath $.error, a Pass that
    sets $.error, or a Choice only reached from such a Catch."""
    states = load(name)["States"]
    for p in predecessors(states, "Rollback"):
        s = states[p]
        if s["Type"] == "Pass":
            assert s["ResultPath"] == "$.error", p
            body = s.get("Result") or s.get("Parameters")
            assert {"Error", "Cause"} <= {k.removesuffix(".$") for k in body}, p
        elif s["Type"] == "Choice":
            for pp in predecessors(states, p):
                assert all(c["ResultPath"] == "$.error" for c in states[pp]["Catch"] if c["Next"] == p), p
        elif s["Type"] == "Wait":
            # The drain: entered only after Rollback itself, whose input ($.error) is unchanged.
            assert p in drain_loop(states, "Rollback", "$.rollback")[1], p
        else:
            assert s["Type"] == "Task", p


def function_timeouts() -> dict:
    """{placeholder: Timeout seconds} from infra/template.yaml (a function's own Timeout or Globals)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    tpl = yaml.load((ROOT / "infra" / "template.yaml").read_text(), Loader=Loader)
    default = tpl["Globals"]["Function"]["Timeout"]
    out = {}
    for key, spec in load_placeholders().items():
        if spec["kind"] == "function":
            props = tpl["Resources"][key.removesuffix("Arn")]["Properties"]
            out["${%s}" % key] = props.get("Timeout", default)
    return out


def rollback_reserve_seconds() -> int:
    """The reserve validate-health keeps between the health budget's end and CodeDeploy's hour."""
    src = (ROOT / "functions" / "hookline" / "src" / "contract.rs").read_text()
    return int(re.search(r"ROLLBACK_RESERVE_SECONDS: u64 = (\d+);", src).group(1))


def worst_task_seconds(task: dict, timeout: int) -> float:
    """A timed-out attempt costs the whole Timeout; other errors are treated as fast failures."""
    attempts = 1 + sum(r.get("MaxAttempts", 3) for r in task["Retry"] if set(r["ErrorEquals"]) & TIMEOUTS)
    return attempts * timeout + sum(retry_seconds(r) for r in task["Retry"])


@ALL
def test_every_function_task_retries_a_timeout(name):
    for n, s in function_tasks(load(name)["States"]).items():
        retriers = [r for r in s["Retry"] if set(r["ErrorEquals"]) & (TIMEOUTS | {"States.ALL"})]
        assert retriers and retriers[0].get("MaxAttempts", 3) >= 1, f"{n}: timeouts not retried"
        if s["Resource"] == "${RollbackFunctionArn}":
            continue  # States.ALL: rollback is retried hard, see below
        (r,) = retriers
        assert set(r["ErrorEquals"]) == TIMEOUTS and r["MaxAttempts"] == 1, f"{n}: {r}"


@HOOK
def test_a_gate_timing_out_leaves_rollback_time_inside_the_hour(name):
    """validate-health refuses to start a check past the budget's end, ROLLBACK_RESERVE_SECONDS before
    CodeDeploy's hour. A task begun just before that, timing out and retried, must end with time left
    for a rollback attempt (30 s) to restore and report."""
    reserve, timeouts = rollback_reserve_seconds(), function_timeouts()
    for n, s in function_tasks(load(name)["States"]).items():
        if s["Resource"] == "${RollbackFunctionArn}":
            continue
        worst = worst_task_seconds(s, timeouts[s["Resource"]])
        assert worst + 30 <= reserve, f"{n}: {worst}s of attempts and retries, reserve {reserve}s"


def test_a_last_check_and_finalize_both_timing_out_leave_rollback_time_inside_the_hour():
    """The worst sequence after the budget's end: the last bake check begun just before it and then
    finalize both time out and are retried; a rollback attempt (30 s) must still fit the reserve."""
    reserve, timeouts = rollback_reserve_seconds(), function_timeouts()
    for name in HOOK_MACHINES:
        states = load(name)["States"]
        bake, finalize = states["Bake"], states["Finalize"]
        worst = worst_task_seconds(bake, timeouts[bake["Resource"]]) + \
            worst_task_seconds(finalize, timeouts[finalize["Resource"]])
        assert worst + 30 <= reserve, f"{name}: Bake then Finalize worst {worst}s, reserve {reserve}s"


def test_rollback_task_retries_hard_but_not_invalid_input():
    for name in (*HOOK_MACHINES, "rollback"):
        s = load(name)["States"]["Rollback"]
        first, last = s["Retry"][0], s["Retry"][-1]
        assert first == {"ErrorEquals": ["InvalidInput"], "MaxAttempts": 0}
        assert last["ErrorEquals"] == ["States.ALL"] and last["MaxAttempts"] >= 5
        assert 30 <= retry_seconds(last) <= 180, retry_seconds(last)


# --- canary specifics -------------------------------------------------------------------------
def walk(states: dict, start: str, pick: dict, stop: str) -> list[str]:
    """Follow Next; at a Choice take the rule whose conditions mention pick[state]."""
    path, n = [], start
    while True:
        path.append(n)
        s = states[n]
        if s["Type"] == "Choice":
            want = pick[n]
            n = next(r["Next"] for r in s["Choices"] if want in json.dumps(r))
        else:
            n = s["Next"]
        if n == stop:
            return path


def test_weight_step_with_zero_bake_takes_at_most_8_transitions():
    states = load("canary")["States"]
    path = walk(states, "NextStep",
                {"NextStep": "NumericLessThanPath", "StepKind": '"weight"', "BakeDone": "$.health.done"},
                stop="NextStep")
    assert path == ["NextStep", "PickStep", "StepKind", "ShiftWeight", "Bake", "BakeDone", "KeepJudgements", "Advance"]
    assert len(path) <= 8


def test_step_kinds_and_loop():
    states = load("canary")["States"]
    kinds = {r["And"][1]["StringEquals"]: r["Next"] for r in states["StepKind"]["Choices"]}
    assert kinds == {"weight": "ShiftWeight", "cohort": "RouteCohort", "approval": "RequestApproval"}
    assert states["StepKind"]["Default"] == "StepKindUnknown"
    assert states["PickStep"]["Parameters"]["step.$"] == "States.ArrayGetItem($.plan.steps, $.state.index)"
    adv = states["Advance"]["Parameters"]["state"]
    assert adv["index.$"] == "States.MathAdd($.state.index, 1)"
    assert adv["weight.$"] == "$.state.weight" and adv["started_at.$"] == "$.state.started_at"
    assert states["Advance"]["Next"] == "NextStep"
    assert states["NextStep"]["Choices"][1]["Next"] == "Finalize"


def test_approval_task():
    states = load("canary")["States"]
    s = states["RequestApproval"]
    assert s["Resource"] == "arn:aws:states:::sns:publish.waitForTaskToken"
    assert s["Parameters"]["TopicArn"] == "${ApprovalTopicArn}"
    assert s["TimeoutSecondsPath"] == "$.step.timeout_seconds"
    msg = s["Parameters"]["Message"]
    assert {k.removesuffix(".$") for k in msg} == {
        "deployment_id", "step_index", "step", "task_token", "approve", "reject"}
    assert msg["task_token.$"] == "$$.Task.Token"
    assert msg["approve.$"] == "States.Format('hookline approve {}', $.context.deployment_id)"
    assert msg["reject.$"] == "States.Format('hookline reject {}', $.context.deployment_id)"
    assert [c["ErrorEquals"] for c in s["Catch"]] == [["States.Timeout"], ["ApprovalRejected"], ["States.ALL"]]
    timeout = states[s["Catch"][0]["Next"]]
    assert timeout["Type"] == "Choice" and timeout["Default"] == "Rollback"
    assert [r["Next"] for r in timeout["Choices"]] == ["Advance"]
    assert '"continue"' in json.dumps(timeout["Choices"][0])
    assert s["Catch"][1]["Next"] == s["Catch"][2]["Next"] == "Rollback"
    assert s["Next"] == "Advance"


# --- release and rollback ---------------------------------------------------------------------
def test_release_shape():
    d = load("release")
    states = d["States"]
    assert states["RegisterTaskdef"]["InputPath"] == "$.request"
    assert states["RegisterTaskdef"]["Next"] == "WaitForDeployment"
    assert states["WaitForDeployment"]["Seconds"] == 10
    nxt = {r["Next"] for r in states["DeploymentDone"]["Choices"]}
    assert nxt == {"CountPoll", "CountPollLonger", "WaitLongest", "Released"}
    assert states["DeploymentDone"]["Default"] == "DeploymentFailed"
    assert states["DeploymentFailed"]["Error"] == "DeploymentFailed"
    fails = {n for n, s in states.items() if s["Type"] == "Fail"}
    assert fails == {"DeploymentFailed", "ReleaseFailed"}
    assert predecessors(states, "ReleaseFailed") == {"RegisterTaskdef", "CheckDeployment"}


# CodeDeploy's longest ECS deployment, from documented bounds: five hook events of at most an hour
# each (AppSpec hooks), an hour for Install (assumed: no documented bound), the ready wait
# (deploymentReadyOption.waitTimeInMinutes, no documented maximum: taken as 2880 min like the next)
# and the termination wait (terminateBlueInstancesOnDeploymentSuccess.terminationWaitTimeInMinutes,
# "The maximum setting is 2880 minutes (2 days)", CodeDeploy API reference,
# BlueInstanceTerminationOption). Traffic shifting time is on top: the test asks for 7 days.
LONGEST_DEPLOYMENT_SECONDS = (5 * 60 + 60 + 2880 + 2880) * 60
RELEASE_MUST_FIT_SECONDS = 7 * 24 * 3600


def release_poll(seconds: int) -> tuple[int, list[int]]:
    """Walk release.asl.json for a deployment that ends after `seconds` (history events as in
    plan/history.rs, times of the polls). A tiny interpreter for the states the loop uses."""
    from harness import history_constants
    h = history_constants()
    d = load("release")
    states, doc, t, polls = d["States"], {}, 0, []
    events, name = h["EXECUTION_STARTED"], d["StartAt"]

    def get(path):
        v = doc
        for k in path.removeprefix("$.").split("."):
            if not isinstance(v, dict) or k not in v:
                return KeyError
            v = v[k]
        return v

    def holds(rule):
        if "And" in rule:
            return all(holds(r) for r in rule["And"])
        v = get(rule["Variable"])
        if "IsPresent" in rule:
            return (v is not KeyError) == rule["IsPresent"]
        for op, f in (("BooleanEquals", lambda a, b: a is b), ("StringEquals", lambda a, b: a == b),
                      ("NumericLessThan", lambda a, b: a < b)):
            if op in rule:
                return v is not KeyError and f(v, rule[op])
        raise AssertionError(f"unsupported rule {rule}")

    while True:
        s = states[name]
        if s["Type"] == "Pass":
            events += h["PASS"]
            params = s.get("Parameters", {})
            if name in ("ApplyDefaults", "MergeDefaults"):  # the request; MergeDefaults starts $.poll
                doc.update({k: v for k, v in params.items() if not k.endswith(".$")})
            else:
                m = re.fullmatch(r"States\.MathAdd\((\$[\w.]+), (\d+)\)", params.get("count.$", ""))
                assert m and s["ResultPath"] == "$.poll", (name, s)
                doc["poll"] = {"count": get(m.group(1)) + int(m.group(2))}
            name = s["Next"]
        elif s["Type"] == "Wait":
            events += h["WAIT"]
            t += s["Seconds"]
            name = s["Next"]
        elif s["Type"] == "Task":
            events += h["FUNCTION_TASK"]
            if name == "CheckDeployment":
                polls.append(t)
                done = t >= seconds
                doc["outcome"] = {"done": done, "status": "Succeeded" if done else "InProgress"}
            name = s["Next"]
        elif s["Type"] == "Choice":
            events += h["CHOICE"]
            name = next((r["Next"] for r in s["Choices"] if holds(r)), s["Default"])
        elif s["Type"] == "Succeed":
            return events + h["SUCCEED"] + h["EXECUTION_ENDED"], polls
        else:
            raise AssertionError(f"release ended in {name}")


def test_release_polls_fit_the_history_quota_for_the_longest_deployment():
    """Step Functions fails an execution at 25,000 history events; the release execution waits
    for the whole deployment. Polled every 10 s it would record ~9 events per 10 s (quota gone
    after ~7.7 h); the loop slows down instead, staying within the plan validator's limit."""
    from harness import history_constants
    limit = history_constants()["HISTORY_LIMIT"]
    assert RELEASE_MUST_FIT_SECONDS > LONGEST_DEPLOYMENT_SECONDS
    events, polls = release_poll(RELEASE_MUST_FIT_SECONDS)
    assert events <= limit, f"{events} history events for a {RELEASE_MUST_FIT_SECONDS / 3600:.0f} h deployment"
    gaps = [b - a for a, b in zip(polls, polls[1:])]
    assert max(gaps) <= 300, "the release notices the end within 5 minutes"
    assert all(g == 10 for a, g in zip(polls, gaps) if a < 5 * 60), "the first 5 minutes poll every 10 s"
    assert all(g <= 60 for a, g in zip(polls, gaps) if a < 3600), "the first hour polls at least every minute"
    short, _ = release_poll(25)
    assert short < 60, short


def test_rollback_machine_shape():
    states = load("rollback")["States"]
    end, loop = drain_loop(states, "Rollback", "$.result")
    assert loop == {"DrainDue", "WaitForResolvers"}
    assert end == "RolledBack" and states["RolledBack"]["Type"] == "Succeed"
    assert states["Rollback"]["Catch"][0]["Next"] == "RollbackFailed"
    assert states["RollbackFailed"]["Type"] == "Fail"


# --- placeholders ---------------------------------------------------------------------------
def test_placeholders_are_the_documented_ones():
    documented = {"ShiftWeightFunctionArn", "ValidateHealthFunctionArn", "FinalizeFunctionArn",
                  "RollbackFunctionArn", "RegisterTaskdefFunctionArn", "ApprovalTopicArn"}
    spec = load_placeholders()
    assert set(spec) == documented
    binaries = {"shift-weight", "validate-health", "finalize", "rollback", "register-taskdef"}
    assert {v["name"] for v in spec.values() if v["kind"] == "function"} == binaries
    assert spec["ApprovalTopicArn"] == {"kind": "topic", "name": "hookline-approvals"}
    used = set()
    for m in MACHINES:
        used |= set(re.findall(r"\$\{([^}]*)\}", (STATEMACHINE_DIR / f"{m}.asl.json").read_text()))
    assert used == documented
