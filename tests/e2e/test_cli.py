"""The `hookline` CLI, every verb, against the sandbox (issue 5).

Uses the e2e conftest's ``sb`` fixture (sandbox from SANDBOX_ENDPOINT, default
http://127.0.0.1:4566, clean before and after each test) and the debug binary
``target/debug/hookline`` (``make e2e`` builds the workspace first). Plans here
gate on the ``web-5xx`` alarm only, so they work on any sandbox port.
"""
import json
import os
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "debug", "hookline")
# The sandbox caller with the public key "sandbox" is its operator user (tests/sandbox/sim/iam.py).
MOTO_CALLER = "arn:aws:iam::123456789012:user/sandbox-operator"


def cli_plan(steps, interval="1s", post_bake="1s"):
    return {"steps": steps, "health": {"interval": interval, "alarms": ["web-5xx"], "ready_timeout": "1m"},
            "post_traffic": {"bake": post_bake}, "hook_budget": "10m"}


def W(weight, bake=None):
    return {"weight": weight, "bake": bake} if bake else {"weight": weight}


APPROVAL = {"approval": {"timeout": "2m"}}


@pytest.fixture(scope="module")
def hookline_bin():
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} missing: run `cargo build -p hookline-cli` (make e2e builds it)")
    return BIN


@pytest.fixture
def cli(sb, hookline_bin):
    env = sb.env()
    env.pop("HOOKLINE_STATE_MACHINE_PREFIX", None)

    def run(*args, timeout=60, stdin=subprocess.DEVNULL):
        return subprocess.run([hookline_bin, *args], env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=stdin)

    def popen(*args):
        return subprocess.Popen([hookline_bin, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL)

    run.popen = popen
    return run


def status_json(cli, did):
    r = cli("status", did, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_for(pred, what, timeout=60, poll=0.3):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = pred()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


def wait_pending(cli, did, timeout=60):
    return wait_for(lambda: (s := status_json(cli, did))["pending_approval"] and s, f"{did} waiting for approval",
                    timeout)


def finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# ------------------------------------------------------------------ plan validate / preview (no AWS)

def test_plan_validate_and_preview(cli, tmp_path):
    good = tmp_path / "plan.yaml"
    good.write_text("steps:\n  - weight: 10\n    bake: 5m\n  - approval: {timeout: 30m}\n  - weight: 100\n"
                    "health: {interval: 30s, alarms: [web-5xx], ready_timeout: 5m}\nhook_budget: 55m\n")
    r = cli("plan", "validate", str(good))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "valid (3 steps; worst case 40m of the 55m hook budget)" in r.stdout

    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"steps": [{"weight": 50}, {"weight": 20, "bake": "soon"}, {"approval": {}}],
                               "health": {"interval": "0s"}, "hook_budget": "2h"}))
    r = cli("plan", "validate", str(bad))
    assert r.returncode != 0
    lines = r.stdout.strip().splitlines()
    fields = [ln.split(":")[0] for ln in lines]
    for f in ("steps[1].weight", "steps[1].bake", "steps[2].approval.timeout", "health.interval", "hook_budget"):
        assert f in fields, f"{f} not named in {lines}"
    assert "5 problems" in r.stderr or f"{len(lines)} problems" in r.stderr

    unknown = tmp_path / "typo.yaml"
    unknown.write_text("steps: [{wieght: 10}]\n")
    r = cli("plan", "validate", str(unknown))
    assert r.returncode != 0 and r.stdout.startswith("steps[0]"), r.stdout

    r = cli("plan", "validate", str(tmp_path / "missing.yaml"))
    assert r.returncode != 0 and "cannot read plan" in r.stderr

    r = cli("plan", "preview", str(good))
    assert r.returncode == 0, r.stderr
    assert "worst case 40m against the hook budget 55m (fits, 15m to spare)" in r.stdout, r.stdout
    step2 = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("2 "))
    assert "10m" in step2 and "40m" in step2 and "approval" in step2, step2
    r = cli("plan", "preview", str(bad))
    assert r.returncode != 0 and "steps[1].weight" in r.stdout


def test_plan_validate_names_the_controller_and_the_line_of_a_syntax_error(cli, tmp_path):
    """A 2h approval needs ECS's 24h hook budget (issue 11); text that is not YAML is located."""
    long = tmp_path / "long.plan.yaml"
    long.write_text("steps:\n  - weight: 10\n    bake: 5m\n  - approval: {timeout: 2h}\n  - weight: 100\n"
                    "hook_budget: 3h\n")
    r = cli("plan", "validate", "--controller", "ecs", str(long))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == f"{long}: valid for ECS (3 steps; worst case 2h 10m of the 3h hook budget)"
    r = cli("plan", "validate", str(long))
    assert r.returncode == 1
    assert r.stdout.strip() == "hook_budget: at most 60m (CodeDeploy waits one hour for a hook), got 3h", r.stdout

    broken = tmp_path / "broken.plan.yaml"
    broken.write_text("steps:\n  - weight: 10\n  bake: 1m\n")
    r = cli("plan", "validate", str(broken))
    assert r.returncode == 1
    assert r.stdout.startswith("steps: did not find expected '-' indicator"), r.stdout
    assert r.stdout.rstrip().endswith(f"(at {broken}:3:3)"), r.stdout


def parameter(sb, name):
    try:
        p = sb.ssm.get_parameter(Name=name)["Parameter"]
    except sb.ssm.exceptions.ParameterNotFound:
        return None
    return p["Version"], p["Value"]


def test_plan_push_stores_a_valid_plan_and_writes_nothing_for_a_bad_one(sb, cli, tmp_path):
    """`hookline plan push --env <name>` validates for the target's controller, then stores the JSON
    document at the controller's path; a bad plan is refused naming the field and SSM keeps the old one."""
    name = "/hookline/ecs/demo/api"
    before = parameter(sb, name)
    try:
        plans = tmp_path / "plans"
        plans.mkdir()
        (plans / "prod.plan.yaml").write_text(
            "steps:\n  - weight: 10\n    bake: 3s\n  - approval: {timeout: 2h}\n  - weight: 100\n"
            "health: {interval: 2s, alarms: [api-5xx], ready_timeout: 1m}\nhook_budget: 3h\n")
        r = cli("plan", "push", "--env", "prod", "--plans-dir", str(plans), "--cluster", "demo", "--service", "api")
        assert r.returncode == 0, r.stdout + r.stderr
        version, value = parameter(sb, name)
        assert f"stored in {name} (version {version}) for ECS demo/api" in r.stdout, r.stdout
        stored = json.loads(value)
        assert stored["steps"][1] == {"approval": {"timeout": "2h"}} and stored["hook_budget"] == "3h", stored

        # The same plan for a CodeDeploy group: refused (hook_budget over CodeDeploy's hour), nothing written.
        group = "/hookline/web/web-prod"
        group_before = parameter(sb, group)
        r = cli("plan", "push", str(plans / "prod.plan.yaml"), "--application", "web", "--group", "web-prod")
        assert r.returncode == 1
        assert r.stdout.startswith("hook_budget: at most 60m"), r.stdout
        assert f"nothing written to {group}" in r.stderr, r.stderr
        assert parameter(sb, group) == group_before

        # A bad ECS plan (ends at 50%, a typo on line 3) and a file that is not YAML: SSM keeps version N.
        (plans / "stage.plan.yaml").write_text("steps:\n  - weight: 50\n  - wieght: 60\n")
        r = cli("plan", "push", "--env", "stage", "--plans-dir", str(plans), "--cluster", "demo", "--service", "api")
        assert r.returncode == 1 and r.stdout.startswith("steps[1].wieght: unknown field `wieght`"), r.stdout + r.stderr
        assert r.stdout.rstrip().endswith(f"(at {plans / 'stage.plan.yaml'}:3:5)"), r.stdout
        (plans / "stage.plan.yaml").write_text("steps:\n  - weight: 100\n  bake: 1m\n")
        r = cli("plan", "push", "--env", "stage", "--plans-dir", str(plans), "--cluster", "demo", "--service", "api")
        assert r.returncode == 1
        assert r.stdout.startswith("steps: did not find expected '-' indicator"), r.stdout
        assert r.stdout.rstrip().endswith(f"(at {plans / 'stage.plan.yaml'}:3:3)"), r.stdout
        (plans / "stage.plan.yaml").write_text("steps:\n  - weight: 50\n")
        r = cli("plan", "push", "--env", "stage", "--plans-dir", str(plans), "--cluster", "demo", "--service", "api")
        assert r.returncode == 1 and "in ECS mode the last weight step must be 100" in r.stdout, r.stdout
        assert parameter(sb, name) == (version, value)

        r = cli("plan", "push", "--env", "dev", "--plans-dir", str(plans), "--cluster", "demo", "--service", "api")
        assert r.returncode == 1 and "--env dev: no plan file; looked for" in r.stderr, r.stderr
        assert parameter(sb, name) == (version, value)
    finally:
        if before is not None:
            sb.ssm.put_parameter(Name=name, Value=before[1], Type="String", Overwrite=True)


# ------------------------------------------------------------------ approve, status, watch 0, history

def test_approve_status_watch_succeeded_and_history(sb, cli):
    sb.put_plan(cli_plan([W(10, "2s"), APPROVAL, W(50, "1s"), W(100)]))
    blue, green = sb.prod_groups()
    did = sb.deploy("example/web:v2")
    watch = cli.popen("watch", did, "--timeout", "150s")
    try:
        s = wait_pending(cli, did)
        assert s["deployment_id"] == did and s["status"] == "InProgress"
        assert (s["application"], s["deployment_group"]) == ("web", "web-prod")
        assert s["execution"]["name"] == f"{did}-BeforeAllowTraffic" and s["execution"]["status"] == "RUNNING"
        assert s["execution"]["state"] == "RequestApproval"
        assert s["step"]["index"] == 1 and s["step"]["step_count"] == 4 and s["step"]["steps_done"] == 1
        assert s["step"]["step"]["kind"] == "approval"
        assert s["weights"] == {"blue": 90, "green": 10}, s
        assert sb.listener_weights(80) == {blue: 90, green: 10}
        assert s["health"]["healthy"] is True and s["health"]["state"] == "Bake"
        assert s["pending_approval"]["step_index"] == 1
        assert s["pending_approval"]["approve"] == f"hookline approve {did}"
        assert "task_token" not in s["pending_approval"]
        text = cli("status", did)
        assert text.returncode == 0 and "WAITING" in text.stdout and "blue 90% / green 10%" in text.stdout

        r = cli("approve", did)
        assert r.returncode == 0, r.stderr
        assert f"approved step 2/4 of {did} as {MOTO_CALLER}" in r.stdout
        # The token is spent: nothing waits any more.
        r = cli("approve", did)
        assert r.returncode != 0 and "nothing is waiting for approval" in r.stderr, r.stderr

        code, out, err = finish(watch)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert code == 0, out + err
    assert f"approval  step 2: approved by {MOTO_CALLER}" in out
    assert "step 1/4  shift green to 10%" in out and "step 3/4  shift green to 50%" in out
    assert "weights  blue 90% / green 10%" in out and "weights  blue 50% / green 50%" in out
    assert "health  healthy" in out
    assert out.strip().splitlines()[-1].startswith(f"{did} Succeeded")
    sb.wait_terminal(did)

    s = status_json(cli, did)
    assert s["status"] == "Succeeded" and s["pending_approval"] is None
    assert s["approvals"][0]["outcome"] == "approved" and s["approvals"][0]["by"] == MOTO_CALLER

    r = cli("history", "--application", "web", "--group", "web-prod", "--limit", "3")
    assert r.returncode == 0, r.stderr
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith(did))
    assert "Succeeded" in row and f"step 2: approved by {MOTO_CALLER}" in row, r.stdout
    rows = json.loads(cli("history", "--application", "web", "--group", "web-prod", "--json").stdout)
    mine = next(x for x in rows if x["deployment_id"] == did)
    assert mine["status"] == "Succeeded" and mine["duration_seconds"] >= 0 and mine["approvals"][0]["by"] == MOTO_CALLER


# ------------------------------------------------------------------ reject

def test_reject_rolls_back_and_history_shows_who(sb, cli):
    sb.put_plan(cli_plan([W(10, "1s"), APPROVAL, W(100)]))
    blue, green = sb.prod_groups()
    did = sb.deploy("example/web:v2")
    wait_pending(cli, did)
    r = cli("reject", did, "--reason", "latency looks off")
    assert r.returncode == 0, r.stderr
    assert f"rejected step 2/3 of {did}" in r.stdout
    r = cli("watch", did, "--timeout", "90s", timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr      # Failed: the hook reported Failed
    # moto 5.2.5 drops SendTaskFailure's cause (responses.py passes only `error`); on AWS the line reads
    # "step 2: rejected (latency looks off (rejected by <arn>))".
    assert "approval  step 2: rejected" in r.stdout, r.stdout
    assert "ROLLBACK" in r.stdout
    assert sb.listener_weights(80).get(green, 0) == 0 and sb.listener_weights(80).get(blue) == 100
    r = cli("reject", did)
    assert r.returncode != 0 and "nothing is waiting for approval" in r.stderr
    r = cli("history", "--application", "web", "--group", "web-prod", "--limit", "5")
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith(did))
    assert "Failed" in row and "step 2: rejected" in row, r.stdout


# ------------------------------------------------------------------ watch 1: alarm

def test_watch_exits_1_when_the_alarm_fails_the_deployment(sb, cli):
    sb.put_plan(cli_plan([W(10, "60s"), W(100)]))
    blue, green = sb.prod_groups()
    did = sb.deploy("example/web:v2")
    watch = cli.popen("watch", did, "--timeout", "120s")
    try:
        wait_for(lambda: sb.listener_weights(80).get(green) == 10, "green at 10%")
        sb.set_alarm("web-5xx", "ALARM", reason="e2e: 5xx")
        code, out, err = finish(watch)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert code == 1, out + err
    assert "health  UNHEALTHY HealthCheckFailed" in out and "web-5xx" in out, out
    assert "ROLLBACK  restoring blue 100%" in out
    assert "deployment  Failed" in out
    assert sb.listener_weights(80).get(green, 0) == 0


# ------------------------------------------------------------------ rollback mid-bake

def wait_baking(cli, sb, did, green):
    def baking():
        s = status_json(cli, did)
        return (s["execution"] or {}).get("state") in ("Bake", "WaitBake") and sb.listener_weights(80).get(green) == 10
    wait_for(baking, f"{did} baking at 10%")


def test_rollback_mid_bake_restores_blue_and_watch_exits_2(sb, cli):
    sb.put_plan(cli_plan([W(10, "2m"), W(100)], interval="2s"))
    blue, green = sb.prod_groups()
    did = sb.deploy("example/web:v2")
    watch = cli.popen("watch", did, "--timeout", "120s")
    try:
        wait_baking(cli, sb, did, green)
        # No terminal and no --yes: refused, nothing touched.
        r = cli("rollback", did)
        assert r.returncode != 0 and "--yes" in r.stderr, r.stderr
        assert sb.listener_weights(80).get(green) == 10

        r = cli("rollback", did, "--yes", "--reason", "e2e says stop")
        assert r.returncode == 0, r.stdout + r.stderr
        # Right after the command: production is blue 100 (ELBv2), whatever CodeDeploy does next.
        assert sb.listener_weights(80).get(green, 0) == 0 and sb.listener_weights(80).get(blue) == 100
        assert not sb.rules(80)
        assert f"stopped     {did}-BeforeAllowTraffic" in r.stdout
        assert "traffic     blue 100% / green 0%" in r.stdout
        # StopDeployment first (so CodeDeploy ends it Stopped, as a console stop), then the hook is answered.
        assert "hook        reported Failed" in r.stdout and "deployment  Stopped" in r.stdout, r.stdout
        assert sb.execution(did)["status"] == "ABORTED"
        code, out, err = finish(watch)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert code == 2, out + err
    assert "weights  blue 100% / green 0%" in out and "execution aborted" in out and "deployment  Stopped" in out, out
    sb.wait_for_status(did, "Stopped")
    assert sb.one_side() and not sb.rules(80)
    r = cli("rollback", did, "--yes")
    assert r.returncode != 0 and "already Stopped" in r.stderr


def test_rollback_while_waiting_for_approval_leaves_nothing_running(sb, cli):
    """`hookline rollback` while the execution waits in RequestApproval (a `.waitForTaskToken` task):
    production blue 100 with no rule, the execution ABORTED at once (StopExecution stops an execution
    whatever state it is in; moto left a task-token wait RUNNING until the approval's timeout, row
    SFN-STOP), no execution left running, and the next deploy is accepted and runs."""
    sb.put_plan(cli_plan([W(10, "1s"), APPROVAL, W(100)]))
    blue, green = sb.prod_groups()
    did = sb.deploy("example/web:cli-rollback-approval")
    wait_for(lambda: status_json(cli, did)["pending_approval"], f"{did} waiting for approval", timeout=90)
    assert sb.listener_weights(80).get(green) == 10
    arn = sb.execution(did)["executionArn"]

    r = cli("rollback", did, "--yes", "--reason", "e2e: stop during the approval")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"stopped     {did}-BeforeAllowTraffic" in r.stdout, r.stdout
    assert sb.listener_weights(80) == {blue: 100, green: 0} and not sb.rules(80)
    assert sb.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert sb.running_executions() == [], sb.running_executions()
    sb.wait_for_status(did, "Stopped")
    assert sb.one_side() and not sb.rules(80)
    after = status_json(cli, did)
    assert not after["pending_approval"], after
    # The approval was neither answered nor timed out: the history has no decision for it.
    assert after["approvals"] == [], after["approvals"]

    # The next deployment is not refused as "a canary is running": it runs to Succeeded.
    sb.put_plan(cli_plan([W(100)]))
    nxt = sb.deploy("example/web:cli-after-approval-rollback")
    sb.wait_for_status(nxt, "Succeeded", timeout=90)
    assert sb.running_executions() == [], sb.running_executions()


# ------------------------------------------------------------------ watch 2: stopped from the console

def test_watch_exits_2_when_the_deployment_is_stopped(sb, cli):
    sb.put_plan(cli_plan([W(10, "2m"), W(100)], interval="2s"))
    blue, green = sb.prod_groups()
    did = sb.deploy("example/web:v2")
    watch = cli.popen("watch", did, "--timeout", "120s")
    try:
        wait_baking(cli, sb, did, green)
        sb.codedeploy.stop_deployment(deploymentId=did, autoRollbackEnabled=True)
        code, out, err = finish(watch)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert code == 2, out + err
    assert "deployment  Stopped" in out and out.strip().splitlines()[-1].startswith(f"{did} Stopped")
    # watch ends at CodeDeploy's Stopped; hookline's canary notices the stop at its next check (2 s
    # interval) and restores blue as it ends: wait for that end, as test_canary's stop test does.
    sb.wait_execution_done(sb.wait_execution(did)["executionArn"], timeout=2 + 10)
    assert sb.listener_weights(80).get(green, 0) == 0


# ------------------------------------------------------------------ errors

def test_unknown_deployments_and_nothing_waiting_are_clear_errors(sb, cli):
    r = cli("status", "d-NOPE12345")
    assert r.returncode == 1 and "deployment d-NOPE12345 not found" in r.stderr
    r = cli("approve", "d-NOPE12345")
    assert r.returncode == 1 and "nothing is waiting for approval" in r.stderr
    r = cli("watch", "d-NOPE12345")
    assert r.returncode == 3 and "not found" in r.stderr
    r = cli("--state-machine-prefix", "nope", "approve", "d-NOPE12345")
    assert r.returncode == 1 and "state machine nope-canary not found" in r.stderr
    r = cli("history", "--application", "web", "--group", "no-such-group")
    assert r.returncode != 0 or "no deployments" in r.stdout


# ------------------------------------------------------------------ ECS-native deployments (issue 11)

from test_ecs_native import api, ecs_plan, put_plan  # noqa: E402,F401  (the `api` fixture and its plan helpers)


def test_ecs_canary_through_cluster_and_service_status_approve_watch_history(sb, cli, api):
    """Every verb addressed by --cluster/--service (the latest service deployment) or by its ARN: status
    sees the approval waiting on the production rule at 10 %, approve answers it while ECS re-invokes the
    hook, watch exits 0 at SUCCESSFUL, history lists it with the approver."""
    put_plan(sb, ecs_plan(sb, [{"weight": 10, "bake": "1s"}, {"approval": {"timeout": "2h"}},
                               {"weight": 100, "bake": "1s"}]))
    arn = api.deploy("example/api:cli-ok")
    blue, green = api.sides(arn)
    svc = ("--cluster", "demo", "--service", "api")
    r = cli("status", *svc, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["deployment_id"] == arn

    waiting = wait_for(lambda: (s := json.loads(cli("status", *svc, "--json").stdout))["pending_approval"] and s,
                       "the approval step waiting", timeout=90)
    assert waiting["application"] == "ecs/demo" and waiting["deployment_group"] == "api", waiting
    assert waiting["status"] == "InProgress", waiting
    assert api.weights() == {blue: 90, green: 10}
    weights = waiting["weights"]
    assert weights and weights["green"] == 10 and weights["blue"] == 90, weights
    assert waiting["pending_approval"]["approve"] == f"hookline approve {arn}"

    watch = cli.popen("watch", *svc, "--interval", "300ms", "--timeout", "150s")
    r = cli("approve", *svc)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"approved step 2/3 of {arn} as {MOTO_CALLER}"), r.stdout
    code, out, err = finish(watch, timeout=180)
    assert code == 0, out + err
    assert f"watching {arn} (ecs/demo / api)" in out, out
    assert api.deployment(arn)["status"] == "SUCCESSFUL"
    assert api.weights().get(green) == 100

    r = cli("status", arn)
    assert r.returncode == 0 and "status      Succeeded" in r.stdout, r.stdout
    r = cli("history", *svc, "--json")
    assert r.returncode == 0, r.stderr
    row = next(x for x in json.loads(r.stdout) if x["deployment_id"] == arn)
    assert row["controller"] == "ecs" and row["status"] == "SUCCESSFUL", row
    assert [(a["outcome"], a["by"]) for a in row["approvals"]] == [("approved", MOTO_CALLER)], row
    r = cli("history", *svc)
    assert r.returncode == 0 and arn.rsplit("/", 1)[1] in r.stdout and "SUCCESSFUL" in r.stdout, r.stdout


def test_ecs_rollback_by_service_stops_the_deployment_and_restores_the_rule(sb, cli, api):
    """`hookline rollback --cluster C --service S` mid-bake: StopServiceDeployment(ROLLBACK), no execution
    left running, the production rule on blue 100 %, the deployment ends ROLLBACK_SUCCESSFUL (watch: 1)."""
    put_plan(sb, ecs_plan(sb, [{"weight": 10, "bake": "60s"}, {"weight": 100}]))
    arn = api.deploy("example/api:cli-rollback")
    blue, green = api.sides(arn)
    wait_for(lambda: api.weights().get(green, 0) == 10, "green at 10 % on the production rule", timeout=90)
    xarn = api.wait_execution(arn)["executionArn"]
    sb.wait_state(xarn, "Bake", timeout=30)

    r = cli("rollback", "--cluster", "demo", "--service", "api", "--yes", "--reason", "e2e: bad canary")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"rolled back {arn}: e2e: bad canary"), r.stdout
    assert "stopped     " + arn.rsplit("/", 1)[1] + "-BeforeAllowTraffic" in r.stdout, r.stdout
    assert "StopServiceDeployment(ROLLBACK) accepted" in r.stdout, r.stdout
    assert api.weights().get(green, 0) == 0, api.weights()
    assert sb.sfn.describe_execution(executionArn=xarn)["status"] == "ABORTED"

    done = api.wait(arn, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL"), timeout=120)
    assert done["status"] == "ROLLBACK_SUCCESSFUL", done
    assert api.weights().get(green, 0) == 0 and not api.running()
    r = cli("watch", arn, "--timeout", "10s")
    assert r.returncode == 1, r.stdout + r.stderr
    r = cli("rollback", arn, "--yes")
    assert r.returncode == 1 and "already ROLLBACK_SUCCESSFUL: nothing to roll back" in r.stderr, r.stderr
    r = cli("status", "--cluster", "demo", "--service", "nope")
    assert r.returncode == 1 and "service nope not found in ECS cluster demo" in r.stderr, r.stderr


def test_ecs_rollback_while_waiting_for_approval_leaves_nothing_running(sb, cli, api):
    """ECS-native `api`: `hookline rollback --cluster C --service S` while the execution waits in
    RequestApproval (a `.waitForTaskToken` task): the execution ABORTED at once (row SFN-STOP: moto
    left it RUNNING until the approval's timeout), the production rule blue 100, ROLLBACK_SUCCESSFUL,
    no execution left running, and the next deployment runs to SUCCESSFUL."""
    put_plan(sb, ecs_plan(sb, [{"weight": 10, "bake": "1s"}, {"approval": {"timeout": "2h"}},
                               {"weight": 100, "bake": "1s"}]))
    arn = api.deploy("example/api:cli-rollback-approval")
    blue, green = api.sides(arn)
    svc = ("--cluster", "demo", "--service", "api")
    wait_for(lambda: json.loads(cli("status", *svc, "--json").stdout)["pending_approval"],
             "the approval step waiting", timeout=90)
    assert api.weights() == {blue: 90, green: 10}
    xarn = api.wait_execution(arn)["executionArn"]

    r = cli("rollback", *svc, "--yes", "--reason", "e2e: stop during the approval")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "StopServiceDeployment(ROLLBACK) accepted" in r.stdout, r.stdout
    assert api.weights().get(green, 0) == 0, api.weights()
    assert sb.sfn.describe_execution(executionArn=xarn)["status"] == "ABORTED"
    assert sb.running_executions() == [], sb.running_executions()

    done = api.wait(arn, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL"), timeout=120)
    assert done["status"] == "ROLLBACK_SUCCESSFUL", done
    assert api.weights().get(green, 0) == 0 and not api.running()

    put_plan(sb, ecs_plan(sb, [{"weight": 100, "bake": "1s"}]))
    nxt = api.deploy("example/api:cli-after-approval-rollback")
    done = api.wait(nxt, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL"), timeout=120)
    assert done["status"] == "SUCCESSFUL", done
    assert not api.running()
