"""Randomized fault schedules, for each controller: `make chaos` (CodeDeploy, issue 10 part D),
`make chaos-ecs` (ECS-native, issue 11 acceptance), `make chaos-dns` (hookline's own Route 53
controller, issue 22 acceptance), and a few of each in `make test`.

Each schedule is one short deployment with a random plan and up to four random actions at random
moments, injected through the sandbox's fault API: throttling, 5xx and access-denied answers on
operations the functions call, latency, function crashes, the alarm firing, a console stop with
rollback, and approvals answered either way. The schedule is a pure function of (CHAOS_SEED, index)
and of its controller's family, so any violation is reproduced with
`CHAOS_SEED=<seed> CHAOS_ONLY=<index> make chaos` (or `make chaos-ecs`, `make chaos-dns`).

- CodeDeploy (``web``, ids ``seed<seed>-<index>``): actions in the first 14 s on the 18 operations
  the functions call while a canary runs, the ``web-5xx`` alarm, StopDeployment with rollback.
- ECS-native (``api``, cluster ``demo``, the sandbox's ECS simulator, ids ``ecs-seed<seed>-<index>``):
  its own family (rng ``ecs:<seed>:<index>``), actions in the first 8 s on the 14 operations the
  functions call in ECS mode (a crashed ``hook`` is a FAILED answer to ECS, which rolls back on its
  own), the ``api-5xx`` alarm, StopServiceDeployment(ROLLBACK).
- hookline's own Route 53 controller (`hookline deploy` on the sandbox's Route 53 world, ids
  ``dns-seed<seed>-<index>``, rng ``dns:<seed>:<index>``): a 100 % step or 50 % then hookline's final
  100 % (70 s bakes: the records' TTL + grace), an approval after the 50 % step now and then; actions
  in the first 10 s or, half of them, up to 75 s later, on the 10 operations the functions call
  (Route 53 ChangeResourceRecordSets / GetChange / ListResourceRecordSets, ECS DescribeServices /
  UpdateService, DescribeTargetHealth, DescribeAlarms, GetMetricData, SSM GetParameter /
  PutParameter), each fault naming the function it hits (``caller``: the CLI's and the harness's
  own calls never take it), crashes, the ``shop-web-5xx`` alarm, `hookline rollback`.

After each deployment the invariants of docs/design.md are checked through AWS APIs and the
simulator's own record (never through hookline's view of itself):
- CodeDeploy: the deployment ended (no hook left to CodeDeploy's timeout: errorInformation.code is
  never TIMEOUT); every hook execution got one consistent reported status (a pending hook may be
  closed unreported only by a stop: status Stopped); production on one side only: Succeeded -> green
  100%, Failed/Stopped -> blue 100%, and no hookline-managed rule left on the production listener;
  no execution of this deployment left running.
- ECS: the service deployment ended SUCCESSFUL or ROLLBACK_SUCCESSFUL (never ROLLBACK_FAILED), and
  no hook was left to the hook's timeoutConfiguration; each stage's answers are IN_PROGRESS* then at
  most one SUCCEEDED / FAILED, and every FAILED answer was given while the production rule was blue
  100% with no other rule on the production listener (a poller reads the listener every 50 ms; an
  answer with no read within 1 s before it is counted as unverified, not as a violation: the poller
  pauses while a DescribeRules fault is pending so that the fault reaches the functions, not the
  harness); rollback-stage re-invocations SUCCEEDED; no execution of the deployment left running;
  production on one side: SUCCESSFUL -> green 100%, ROLLBACK_SUCCESSFUL -> blue 100%, no other rule.
- DNS: the canary execution ended and none of the deployment runs; the weighted records on one
  release only (blue 100 / green 0 or blue 0 / green 100; SUCCEEDED -> green); the release record
  (SSM) ``succeeded`` exactly when DNS is on green, its services' part done; the idle release's
  service scaled to 0 with no task left, the live one stable.

Knobs: CHAOS_RUNS (CodeDeploy schedules, default 3), CHAOS_ECS_RUNS (ECS schedules, default 3),
CHAOS_DNS_RUNS (DNS schedules, default 3), CHAOS_SEED (default 20261129), CHAOS_ONLY (one index, in
each family), CHAOS_FIRST (first index, to shard a long run over sandboxes on other ports), CHAOS_LOG
(results file; default tests/e2e/chaos-results.jsonl for CodeDeploy, tests/e2e/chaos-ecs-results.jsonl
for ECS, tests/e2e/chaos-dns-results.jsonl for DNS). `make chaos` selects the CodeDeploy family
(`-k "not ecs and not dns"`), `make chaos-ecs` the ECS one (`-k ecs`), `make chaos-dns` the DNS one
(`-k dns`).
"""
import json
import os
import time

import pytest

from conftest import TERMINAL, plan
from fault_harness import (FaultAwarePoller, Runner, draw_actions, draw_steps, ecs, production_at_answer,  # noqa: F401
                           retry, running_named, schedule_rng)
from test_dns_canary import world  # noqa: F401  (the fixture: the Route 53 world reset before and after)
from test_ecs_native import api, put_plan  # noqa: F401  (api: the fixture)

SEED = int(os.environ.get("CHAOS_SEED", "20261129"))
HERE = os.path.dirname(os.path.abspath(__file__))
FIRST = int(os.environ.get("CHAOS_FIRST", "0"))  # shard a long run over several sandboxes
ONLY = os.environ.get("CHAOS_ONLY")
EXEC_GRACE_S = 45        # executions of an ended deployment notice it within a health interval or two


# ------------------------------------------------------------------ CodeDeploy (``web``)
class CodeDeploy:
    """The CodeDeploy family: ``web`` through the CodeDeploy simulator."""
    name = "codedeploy"
    rng_prefix = ""
    runs_var = "CHAOS_RUNS"
    log_default = "chaos-results.jsonl"
    id_prefix = ""
    make_target = "make chaos"
    END_TIMEOUT_S = 200      # beyond the suite's 90 s hook timeout plus rollback and termination
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

    @staticmethod
    def make_schedule(seed, index):
        """The schedule number `index` of `seed`: a plan and a list of timed actions (plain data)."""
        rng = schedule_rng(CodeDeploy.rng_prefix, seed, index)
        steps, approval, post_bake = draw_steps(rng)
        # Budget and ready timeout fit the suite's 90 s hook timeout, as a real plan fits CodeDeploy's hour:
        # a green that never gets ready (an alarm firing from the start) must fail inside it, not time out.
        p = plan(steps, interval="1s", post_bake=post_bake, budget="80s", ready_timeout="15s")
        actions = draw_actions(rng, CodeDeploy.OPERATIONS, 14, approval, 25)
        return {"seed": seed, "index": index, "plan": p, "actions": actions}

    # the Runner's side of it
    alarm = "web-5xx"
    approval_attempts = 20
    skip_len = None

    def __init__(self, sb, request):
        self.sb = sb
        self.did = None

    def ended(self):
        return any(d["deploymentId"] == self.did and d["status"] in TERMINAL
                   for d in self.sb.cd_state()["deployments"])

    def stop(self):
        retry(lambda: self.sb.codedeploy.stop_deployment(deploymentId=self.did, autoRollbackEnabled=True))

    def execution_arn(self):
        return self.sb.execution(self.did)["executionArn"]

    def hookline_rules(self, port=80):
        """ARNs of rules on the production listener tagged as hookline's."""
        sb = self.sb
        arns = [r["arn"] for r in sb.rules(port)]
        out = []
        for i in range(0, len(arns), 20):
            for d in sb.elbv2.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]:
                if any(t["Key"] == self.MANAGED_TAG for t in d.get("Tags", [])):
                    out.append(d["ResourceArn"])
        return out

    def play(self, schedule, index):
        sb = self.sb
        sb.put_plan(schedule["plan"])
        blue, green = sb.prod_groups()
        did = self.did = sb.deploy(f"example/web:chaos-{SEED}-{index}")
        runner = Runner(sb, self, schedule).start()
        end = time.time() + self.END_TIMEOUT_S
        try:
            while time.time() < end:
                if any(d["deploymentId"] == did and d["status"] in TERMINAL for d in sb.cd_state()["deployments"]):
                    break
                time.sleep(0.5)
        finally:
            runner.halt()
            sb.clear_faults()
        violations = self.check_invariants(did, blue, green)
        result = {"seed": SEED, "index": index, "deployment": did, "status": sb.status(did)}
        return runner, result, violations, f"deployment {did}"

    def check_invariants(self, did, blue, green):
        """Violations of the invariants for deployment `did` (empty list: none)."""
        sb = self.sb
        violations = []
        dep = next((d for d in sb.cd_state()["deployments"] if d["deploymentId"] == did), None)
        if dep is None or dep["status"] not in TERMINAL:
            return [f"deployment did not end within {self.END_TIMEOUT_S}s: {dep and dep['status']}"]
        info = retry(lambda: sb.deployment(did))
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
        running = running_named(sb.running_executions, did, EXEC_GRACE_S, 1)
        if running:
            violations.append(f"executions still running {EXEC_GRACE_S}s after the end: {running}")
        weights = sb.listener_weights(80)
        want = {green: 100, blue: 0} if status == "Succeeded" else {blue: 100, green: 0}
        if {k: weights.get(k, 0) for k in (blue, green)} != want or sum(weights.values()) != 100:
            violations.append(f"production {weights} after {status} (wanted {want})")
        left = self.hookline_rules()
        if left:
            violations.append(f"hookline rules left on :80 after {status}: {left}")
        return violations


# ------------------------------------------------------------------ ECS-native (``api``)
class Ecs:
    """The ECS family: ``api`` (cluster ``demo``) through the ECS simulator, set up as the fault matrix
    sets it up (ECS minutes of 1 s, callBackDelay at half scale, room for cohort rules) with its hooks
    timing out after HOOK_TIMEOUT_MIN minutes (the ``api`` fixture restores config, hooks, plan and
    alarm after)."""
    name = "ecs"
    rng_prefix = "ecs:"
    runs_var = "CHAOS_ECS_RUNS"
    log_default = "chaos-ecs-results.jsonl"
    id_prefix = "ecs-"
    make_target = "make chaos-ecs"
    # ECS minutes of 1 s (bakeTimeInMinutes=1 bakes 1 s) and hooks timing out after 600 of them: the
    # plans' 80 s budget plus hookline's 300 s rollback reserve fits, and a hook nobody answers fails
    # the schedule in minutes instead of ECS's 24 hours.
    ECS_MINUTE_S = 1   # as set by the ``ecs`` fixture
    HOOK_TIMEOUT_MIN = 600
    END_TIMEOUT_S = HOOK_TIMEOUT_MIN * ECS_MINUTE_S + 60
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

    @staticmethod
    def make_schedule(seed, index):
        """The ECS schedule number `index` of `seed`: a plan and a list of timed actions (plain data)."""
        rng = schedule_rng(Ecs.rng_prefix, seed, index)
        steps, approval, post_bake = draw_steps(rng)
        plan_ = {"steps": steps, "post_traffic": {"bake": post_bake}, "hook_budget": "80s",
                 "health": {"interval": "1s", "alarms": ["api-5xx"], "ready_timeout": "15s", "http": []}}
        # An ECS deployment of these plans takes 5-12 s in the sandbox: actions land in its first 8 s
        # (a first draw over 14 s played 69 of 113 actions, the rest came after the end).
        actions = draw_actions(rng, Ecs.OPERATIONS, 8, approval, 15)
        return {"seed": seed, "index": index, "plan": plan_, "actions": actions}

    # the Runner's side of it
    alarm = "api-5xx"
    approval_attempts = 3
    skip_len = 120

    def __init__(self, sb, request):
        self.sb = sb
        self.api = api_ = request.getfixturevalue("ecs")
        self.arn = None
        dc = api_.service()["deploymentConfiguration"]
        for h in dc["lifecycleHooks"]:
            h["timeoutConfiguration"] = {"timeoutInMinutes": self.HOOK_TIMEOUT_MIN, "action": "ROLLBACK"}
        api_.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)

    def sim_deployment(self):
        """The simulator's record of the deployment (the harness waits on it, so that its polling does not
        consume the faults meant for the functions)."""
        return next((d for d in self.sb._ctl("GET", "/ecs")["deployments"]
                     if d["serviceDeploymentArn"] == self.arn), None)

    def ended(self):
        d = self.sim_deployment()
        return bool(d and d["status"] in self.ENDED)

    def stop(self):
        retry(lambda: self.api.ecs.stop_service_deployment(serviceDeploymentArn=self.arn, stopType="ROLLBACK"),
              attempts=5)

    def execution_arn(self):
        return self.api.execution_arn(self.arn)

    def play(self, schedule, index):
        sb, api_ = self.sb, self.api
        plan_ = json.loads(json.dumps(schedule["plan"]))
        # the test listener's health on this sandbox (the endpoint is not part of the schedule)
        plan_["health"]["http"] = [{"url": sb.endpoint.rstrip("/") + "/_sandbox/alb/demo-api/8080/health",
                                    "expect_status": 200, "timeout": "2s"}]
        put_plan(sb, plan_)
        with FaultAwarePoller(sb, api_) as poller:
            arn = self.arn = api_.deploy(f"example/api:chaos-{SEED}-{index}")
            blue, green = api_.sides(arn)
            runner = Runner(sb, self, schedule).start()
            end = time.time() + self.END_TIMEOUT_S
            try:
                d = self.sim_deployment()
                while time.time() < end and d["status"] not in self.ENDED:
                    time.sleep(0.5)
                    d = self.sim_deployment()
            finally:
                runner.halt()
                sb.clear_faults()
            status = retry(lambda: api_.deployment(arn))["status"]
            violations, unverified = self.check_invariants(arn, blue, green, poller, status)
        result = {"seed": SEED, "index": index, "serviceDeployment": arn, "status": status,
                  "unverified_failed_answers": unverified}
        return runner, result, violations, f"service deployment {arn}"

    def check_invariants(self, arn, blue, green, poller, status):
        """(violations, unverified FAILED answers) for service deployment `arn`."""
        api_ = self.api
        violations, unverified = [], []
        if status not in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL"):
            return [f"service deployment did not end well within {self.END_TIMEOUT_S}s: {status}"], []
        invocations = self.sim_deployment()["invocations"]
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
        running = running_named(lambda: retry(api_.running), arn.rsplit("/", 1)[1], EXEC_GRACE_S, 1)
        if running:
            violations.append(f"executions still running {EXEC_GRACE_S}s after the end: {running}")
        w, others = retry(poller.read)
        want = {green: 100, blue: 0} if status == "SUCCESSFUL" else {blue: 100, green: 0}
        if {k: (w or {}).get(k, 0) for k in (blue, green)} != want:
            violations.append(f"production {w} after {status} (wanted {want})")
        if others:
            violations.append(f"rules left on the production listener after {status}: {others}")
        return violations, unverified


# ------------------------------------------------------------------ hookline's own Route 53 controller
class Dns:
    """The DNS family: `hookline deploy` of tests/e2e/deployfiles/shop.deploy.yml on the sandbox's
    Route 53 world (test_dns_canary.py; the ``world`` fixture puts it back before and after). A
    DNS canary bakes at least the records' TTL + grace (70 s), so its schedules are longer than the
    others': a 100 % step (about 80 s), or 50 % then hookline's final 100 % (about 150 s), with an
    approval after the 50 % step now and then."""
    name = "dns"
    rng_prefix = "dns:"
    runs_var = "CHAOS_DNS_RUNS"
    log_default = "chaos-dns-results.jsonl"
    id_prefix = "dns-"
    make_target = "make chaos-dns"
    END_TIMEOUT_S = 400      # two bakes, an approval answered within ~100 s, a rollback's retries
    # (service, operation) -> the functions that call it in a DNS canary (the sandbox's IAM usage log):
    # each fault names its caller, so that `hookline deploy` and the harness (the operator's key)
    # never take it.
    CALLERS = {
        ("route53", "ChangeResourceRecordSets"): ["shift-weight", "rollback"],
        ("route53", "GetChange"): ["shift-weight", "rollback"],
        ("route53", "ListResourceRecordSets"): ["shift-weight", "rollback"],
        ("ecs", "DescribeServices"): ["validate-health", "finalize", "rollback"],
        ("ecs", "UpdateService"): ["finalize", "rollback"],
        ("elasticloadbalancing", "DescribeTargetHealth"): ["validate-health"],
        ("monitoring", "DescribeAlarms"): ["validate-health"],
        ("monitoring", "GetMetricData"): ["validate-health"],
        ("ssm", "GetParameter"): ["shift-weight", "validate-health", "finalize", "rollback"],
        ("ssm", "PutParameter"): ["finalize", "rollback"],
    }
    OPERATIONS = list(CALLERS)
    # Actions land in the first 10 s (the ready gate, the first shift) or, for half of them, later in
    # the run (the bake's checks, finalize at about 75 s).
    EARLY_S, LATE_S = 10, 75

    @staticmethod
    def make_schedule(seed, index):
        """The DNS schedule number `index` of `seed`: a strategy and a list of timed actions (plain data)."""
        rng = schedule_rng(Dns.rng_prefix, seed, index)
        first = rng.choice([50, 100, 100])
        strategy = [[first, 70]]
        approval = first < 100 and rng.random() < 0.3
        actions = draw_actions(rng, Dns.OPERATIONS, Dns.EARLY_S, approval, 20)
        for a in actions:
            if a["do"] in ("approve", "reject"):
                a["at"] = round(a["at"] + 60, 2)   # the approval is requested after the 70 s bake
                continue
            if rng.random() < 0.5:
                a["at"] = round(a["at"] + rng.uniform(0, Dns.LATE_S), 2)
            spec = a.get("spec") or {}
            if "operation" in spec:
                spec["caller"] = rng.choice(Dns.CALLERS[(spec["service"], spec["operation"])])
                if spec["service"] == "route53" and spec.get("code") == "AccessDeniedException":
                    spec.update(code="AccessDenied", status=403)   # Route 53 (REST-XML) names it so
        actions.sort(key=lambda a: a["at"])
        return {"seed": seed, "index": index, "strategy": strategy, "approval": approval, "actions": actions}

    # the Runner's side of it
    alarm = "shop-web-5xx"
    approval_attempts = 8     # 8 x 20 s: the approval comes after the 70 s bake
    DRAIN_GRACE_S = 30        # after drain_until: the Wait's end, one rollback invoke, the scale call
    skip_len = 120

    def __init__(self, sb, request):
        self.sb = sb
        self.world = request.getfixturevalue("world")
        self.tmp_path = request.getfixturevalue("tmp_path")
        self.did = self.arn = None

    def ended(self):
        return self.arn is not None and self.sb.sfn.describe_execution(executionArn=self.arn)["status"] != "RUNNING"

    def stop(self):
        from test_dns_canary import hookline
        r = hookline(self.sb, "rollback", self.did, "--yes", "--reason", "chaos", timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"hookline rollback: exit {r.returncode}: {r.stdout[-200:]} {r.stderr[-200:]}")

    def execution_arn(self):
        return self.arn

    def play(self, schedule, index):
        from test_dns_canary import canary_execution, deploy_file, start
        sb = self.sb
        directory = deploy_file(self.tmp_path, [tuple(s) for s in schedule["strategy"]],
                                approval=schedule["strategy"][0][0] if schedule["approval"] else None,
                                version=f"3.{index}.0")
        did = self.did = start(sb, directory)
        self.arn = canary_execution(sb, did)
        runner = Runner(sb, self, schedule).start()
        end = time.time() + self.END_TIMEOUT_S
        try:
            while time.time() < end and not self.ended():
                time.sleep(0.5)
        finally:
            runner.halt()
            sb.clear_faults()
        status = sb.sfn.describe_execution(executionArn=self.arn)["status"]
        violations = self.check_invariants(did, status)
        result = {"seed": SEED, "index": index, "deployment": did, "status": status}
        return runner, result, violations, f"deployment {did}"

    def check_invariants(self, did, status):
        """Violations of the invariants for DNS deployment `did` (empty list: none)."""
        import json as json_
        from test_dns_canary import DESIRED, stable, summary
        sb, world = self.sb, self.world
        if status == "RUNNING":
            return [f"canary execution still RUNNING after {self.END_TIMEOUT_S}s"]
        violations = []
        running = running_named(lambda: retry(sb.running_executions), did, EXEC_GRACE_S, 1)
        if running:
            violations.append(f"executions still running {EXEC_GRACE_S}s after the end: {running}")
        weights = retry(world.weights)
        if weights not in ((100, 0), (0, 100)):
            violations.append(f"DNS split at the end: blue/green {weights} (execution {status})")
        def release_record():
            return json_.loads(retry(lambda: sb.ssm.get_parameter(Name=f"/hookline/dns/{did}"))["Parameter"]["Value"])
        record = release_record()
        # A rollback's drain (docs/route53-controller.md decision 23): green keeps its tasks until the
        # record's drain_until, then whoever rolled back (the canary's Wait, the rollback machine's, or
        # `hookline rollback` waiting in the schedule's thread) scales it: its services part is owed
        # by then, not when the execution ended (a console rollback ends it ABORTED at once).
        while not record.get("services_done") and record.get("drain_until") and \
                time.time() < record["drain_until"] + self.DRAIN_GRACE_S:
            time.sleep(1)
            record = release_record()
        on_green = weights == (0, 100)
        if (record["status"] == "succeeded") != on_green:
            violations.append(f"release record {record['status']} while DNS is blue/green {weights}")
        if status == "SUCCEEDED" and not on_green:
            violations.append(f"execution SUCCEEDED with DNS blue/green {weights}")
        if not record.get("services_done"):
            violations.append(f"release record's services part not done: {record['status']}")
        live, idle = ("green", "blue") if on_green else ("blue", "green")
        try:
            world.wait_service(idle, lambda s: s is None or (s["desiredCount"] == 0 and s["runningCount"] == 0),
                               "scaled to 0", timeout=60)
        except AssertionError as e:
            violations.append(str(e))
        if not stable(DESIRED)(world.service(live)):
            violations.append(f"the live release {live} is not serving: {summary(world.service(live))}")
        return violations


CONTROLLERS = {c.name: c for c in (CodeDeploy, Ecs, Dns)}


def indexes(family):
    runs = int(os.environ.get(family.runs_var, "3"))
    return [int(ONLY)] if ONLY not in (None, "") else list(range(FIRST, FIRST + runs))


def log_file(family):
    # Every schedule's outcome is appended here as it ends (a long run can be read while it runs).
    return os.environ.get("CHAOS_LOG", os.path.join(HERE, family.log_default))


# One line per schedule played, for the run's summary (conftest prints it; `make chaos` records it).
RESULTS = []
PARAMS = [pytest.param(c.name, i, id=f"{c.id_prefix}seed{SEED}-{i}") for c in CONTROLLERS.values() for i in indexes(c)]


@pytest.mark.parametrize("controller,index", PARAMS)
def test_chaos_schedule(sb, request, controller, index):
    family = CONTROLLERS[controller]
    schedule = family.make_schedule(SEED, index)
    target = family(sb, request)
    runner, result, violations, what = target.play(schedule, index)
    result.update(actions=[f"{a['do']}{'/' + a['spec']['kind'] if a['do'] == 'fault' else ''}@{a['at']}"
                           for a in schedule["actions"]],
                  played=runner.log, violations=violations, seconds=round(time.time() - runner.t0, 1))
    result = {"controller": controller, **result}
    RESULTS.append(result)
    with open(log_file(family), "a") as f:
        f.write(json.dumps(result) + "\n")
    if controller == "ecs":
        unverified = result["unverified_failed_answers"]
        print(f"#{index} {result['status']} {result['seconds']}s {' '.join(result['actions']) or '-'}"
              + (f" unverified {unverified}" if unverified else ""))
    elif controller == "dns":
        print(f"#{index} {result['status']} {result['seconds']}s {' '.join(result['actions']) or '-'}")
    label = {"codedeploy": "chaos schedule", "ecs": "ECS chaos schedule", "dns": "DNS chaos schedule"}[controller]
    assert not violations, (
        f"{label} seed={SEED} index={index} (rerun: CHAOS_SEED={SEED} CHAOS_ONLY={index} {family.make_target})\n"
        f"{what}; actions played: {runner.log}\nschedule: {json.dumps(schedule)}\n"
        + "\n".join(f"VIOLATION: {v}" for v in violations))


@pytest.mark.parametrize("controller", list(CONTROLLERS))
def test_schedules_are_reproducible_and_varied(controller):
    """The same (seed, index) always gives the same schedule; a batch covers every kind of action (and,
    in ECS mode, every operation the functions call)."""
    family = CONTROLLERS[controller]
    make_schedule = family.make_schedule
    assert make_schedule(7, 3) == make_schedule(7, 3)
    assert make_schedule(7, 3) != make_schedule(7, 4)
    kinds, ops = set(), set()
    for i in range(200 if controller == "codedeploy" else 300):
        for a in make_schedule(7, i)["actions"]:
            kinds.add(a["spec"]["kind"] if a["do"] == "fault" else a["do"])
            if a["do"] == "fault" and "operation" in a["spec"]:
                ops.add((a["spec"]["service"], a["spec"]["operation"]))
    assert kinds >= {"throttle", "error", "latency", "crash", "alarm", "stop", "approve", "reject"}, kinds
    if controller in ("ecs", "dns"):
        assert ops == set(family.OPERATIONS), set(family.OPERATIONS) - ops
    if controller == "dns":
        # every fault names a caller that makes the call, and each such caller is drawn
        callers = {(a["spec"]["service"], a["spec"]["operation"], a["spec"]["caller"])
                   for i in range(300) for a in make_schedule(7, i)["actions"]
                   if a["do"] == "fault" and "operation" in a["spec"]}
        assert callers == {(s, o, c) for (s, o), cs in family.CALLERS.items() for c in cs}, callers
