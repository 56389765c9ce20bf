"""ECS-native blue/green end to end (issue 11 part B): the demo service ``api`` (cluster ``demo``,
controller ECS, strategy BLUE_GREEN, hooks on ``hook`` at POST_TEST_TRAFFIC_SHIFT and
POST_PRODUCTION_TRAFFIC_SHIFT) deployed the way users deploy it (``ecs update-service
--task-definition``), run by the sandbox's ECS simulator (tests/sandbox/sim/ecs/api.py) against the real
function binaries and state machines.

State is read through AWS APIs only (ECS DescribeServiceDeployments, ELBv2 DescribeRules on the
production listener rule, Step Functions), plus ``GET /_sandbox/ecs`` for the hook's answers (what
ECS received, and when). A poller records the production rule's weights every 50 ms so that the
answers can be checked against where production was at that time.
"""
import json
import os
import threading
import time

import pytest
import requests

from conftest import exec_arn, sm_arn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "debug", "hookline")
PLAN_PARAMETER = "/hookline/ecs/demo/api"
HEALTH_INTERVAL_S = 1


def ecs_plan(sb, steps, interval=f"{HEALTH_INTERVAL_S}s", post_bake="1s", budget="3h"):
    """A plan with second-scale timings gating on ``api-5xx`` and the test listener's health, and an
    hours-long budget (ECS mode; it fits the sandbox hook's 4 h timeout, see the ``api`` fixture)."""
    url = sb.endpoint.rstrip("/") + "/_sandbox/alb/demo-api/8080/health"
    return {"steps": steps, "post_traffic": {"bake": post_bake}, "hook_budget": budget,
            "health": {"interval": interval, "alarms": ["api-5xx"], "ready_timeout": "30s",
                       "http": [{"url": url, "expect_status": 200, "timeout": "2s"}]}}


class Api:
    """The ``api`` service through boto3 (ECS, ELBv2) against the sandbox router."""

    def __init__(self, sb):
        self.sb = sb
        self.ecs = sb.client("ecs")
        self.elb = sb.client("elbv2")
        svc = self.service()
        lb = svc["loadBalancers"][0]
        self.rule = lb["advancedConfiguration"]["productionListenerRule"]
        self.groups = {lb["targetGroupArn"], lb["advancedConfiguration"]["alternateTargetGroupArn"]}

    def service(self):
        return self.ecs.describe_services(cluster="demo", services=["api"])["services"][0]

    def deploy(self, image):
        family = "api"
        td = self.ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "api", "image": image, "essential": True,
                                   "portMappings": [{"containerPort": 80}]}])["taskDefinition"]["taskDefinitionArn"]
        self.ecs.update_service(cluster="demo", service="api", taskDefinition=td)
        # the newest by createdAt, over every page: the list's order is a sandbox switch (ECS-22,
        # ecs_list_order), so the first page need not hold it
        return max(self.deployments(), key=lambda d: d["createdAt"])["serviceDeploymentArn"]

    def deployments(self, service="api"):
        """Every ListServiceDeployments entry of ``service``, all pages."""
        out, token = [], None
        while True:
            page = self.ecs.list_service_deployments(cluster="demo", service=service,
                                                     **({"nextToken": token} if token else {}))
            out += page["serviceDeployments"]
            token = page.get("nextToken")
            if not token:
                return out

    def hook_stages(self, stages):
        """The ``hook`` function at ``stages`` (no new deployment: the task definition is unchanged)."""
        dc = self.service()["deploymentConfiguration"]
        for h in dc["lifecycleHooks"]:
            h["lifecycleStages"] = list(stages)
        self.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)

    def deployment(self, arn):
        return self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]

    def sides(self, arn):
        """(blue, green) target group ARNs of the deployment: the group each of its service revisions
        serves, ``resolvedConfiguration.loadBalancers`` (a revision's ``loadBalancers`` is the service's
        configured one, the same on both)."""
        d = self.deployment(arn)
        source = d["sourceServiceRevisions"][0]["arn"]
        target = d["targetServiceRevision"]["arn"]
        revs = {r["serviceRevisionArn"]: r for r in
                self.ecs.describe_service_revisions(serviceRevisionArns=[source, target])["serviceRevisions"]}
        assert revs[source]["loadBalancers"] == revs[target]["loadBalancers"], "configured, never swapped"
        blue = revs[source]["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"]
        resolved = revs[target].get("resolvedConfiguration")
        if resolved:
            return blue, resolved["loadBalancers"][0]["targetGroupArn"]
        # resolvedConfiguration is given for an active revision only (ECS-2): a deployment rolled
        # back before this read (a hook that crashes at once) left its target revision inactive.
        # Green is then the service's other group, whichever of the two blue is not.
        lb = revs[source]["loadBalancers"][0]
        groups = {lb["targetGroupArn"], lb["advancedConfiguration"]["alternateTargetGroupArn"]}
        (green,) = groups - {blue}
        return blue, green

    def settle(self, timeout=180):
        """Waits for every deployment of ``api`` to end (the CreateService one runs the hooks)."""
        for d in self.deployments():
            if d["status"] in ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
                self.wait(d["serviceDeploymentArn"], ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED",
                                                      "STOPPED"), timeout=timeout)

    def weights(self):
        """{target group ARN: percent} of the production rule's forward."""
        actions = self.elb.describe_rules(RuleArns=[self.rule])["Rules"][0]["Actions"]
        fwd = [a for a in actions if a["Type"] == "forward"][0]
        groups = (fwd.get("ForwardConfig") or {}).get("TargetGroups") or [{"TargetGroupArn": fwd["TargetGroupArn"],
                                                                           "Weight": 1}]
        total = sum(g.get("Weight", 1) for g in groups) or 1
        return {g["TargetGroupArn"]: round(100 * g.get("Weight", 1) / total) for g in groups}

    def wait(self, arn, statuses, timeout=120):
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)
        end = time.time() + timeout
        d = None
        while time.time() < end:
            d = self.deployment(arn)
            if d["status"] in statuses:
                return d
            time.sleep(0.2)
        raise AssertionError(f"{arn} still {d and d['status']} ({d and d.get('statusReason')}), wanted {statuses}")

    def invocations(self, arn):
        snap = requests.get(self.sb.endpoint + "/_sandbox/ecs", timeout=5).json()
        for d in snap["deployments"]:
            if d["serviceDeploymentArn"] == arn:
                return d["invocations"]
        return []

    def execution_arn(self, arn, event="BeforeAllowTraffic"):
        sm = "hookline-canary" if event == "BeforeAllowTraffic" else "hookline-post-traffic"
        return exec_arn(sm, f"{arn.rsplit('/', 1)[1]}-{event}")

    def wait_execution(self, arn, event="BeforeAllowTraffic", timeout=60):
        xarn = self.execution_arn(arn, event)
        end = time.time() + timeout
        while time.time() < end:
            try:
                return self.sb.sfn.describe_execution(executionArn=xarn)
            except self.sb.sfn.exceptions.ExecutionDoesNotExist:
                time.sleep(0.2)
        raise AssertionError(f"no {event} execution for {arn} after {timeout}s: {self.invocations(arn)}")

    def deploy_to_first_step(self, image, weight=10, timeout=60):
        """Deploys ``image`` and waits until hookline's canary holds production at ``weight`` %:
        (service deployment ARN, blue, green, canary execution ARN)."""
        arn = self.deploy(image)
        blue, green = self.sides(arn)
        xarn = self.wait_execution(arn)["executionArn"]
        end = time.time() + timeout
        while self.weights().get(green, 0) != weight and time.time() < end:
            time.sleep(0.1)
        assert self.weights() == {blue: 100 - weight, green: weight}
        return arn, blue, green, xarn

    def running(self):
        return [e for sm in ("hookline-canary", "hookline-post-traffic")
                for e in self.sb.sfn.list_executions(stateMachineArn=sm_arn(sm), statusFilter="RUNNING")["executions"]]


class RulePoller:
    """Reads the production rule's weights every ``period`` s: (t, {group: percent})."""

    def __init__(self, api, period=0.05):
        self.api, self.period = api, period
        self.reads, self.errors = [], []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.reads.append((time.time(), self.api.weights()))
            except Exception as e:  # keep polling; reported by the test
                self.errors.append(repr(e))
            self._stop.wait(self.period)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(10)
        # One last read once the test's wait is over: on a loaded machine the deployment can end
        # within one poll of the hook's answer, and "since the answer" must still have a reading.
        try:
            self.reads.append((time.time(), self.api.weights()))
        except Exception as e:
            self.errors.append(repr(e))

    def green_sequence(self, green):
        seq = []
        for _, w in self.reads:
            g = w.get(green, 0)
            if not seq or seq[-1] != g:
                seq.append(g)
        return seq

    def at(self, t, green):
        """Green's share at the last read before ``t``."""
        before = [w for rt, w in self.reads if rt <= t]
        assert before, f"no read before {t}"
        return before[-1].get(green, 0)

    def since(self, t, green):
        return [w.get(green, 0) for rt, w in self.reads if rt >= t]


@pytest.fixture
def api(sb):
    """The ``api`` service: ECS minutes of 10 s (bakeTimeInMinutes=1 bakes 10 s, and a hook's default
    1440-minute timeout is 4 h, so plans here may budget 3 h, which the hook checks against the hook's
    ``expiresAt``), its alarm OK, its plan restored after."""
    old = sb._ctl("GET", "/config")
    sb.config(ecs_minute_s=10, ecs_callback_scale=1.0)
    ssm = sb.client("ssm")
    plan_before = ssm.get_parameter(Name=PLAN_PARAMETER)["Parameter"]["Value"]
    a = Api(sb)
    a.settle()
    hooks_before = a.service()["deploymentConfiguration"]
    yield a
    # Leave nothing running: stop an unfinished deployment (ECS rollback), wait for it.
    for d in a.deployments():
        if d["status"] in ("PENDING", "IN_PROGRESS"):
            a.ecs.stop_service_deployment(serviceDeploymentArn=d["serviceDeploymentArn"], stopType="ROLLBACK")
            a.wait(d["serviceDeploymentArn"], ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"), timeout=60)
    if sb.alarm_state("api-5xx") != "OK":
        sb.set_alarm("api-5xx", "OK", reason="e2e cleanup")
    ssm.put_parameter(Name=PLAN_PARAMETER, Value=plan_before, Type="String", Overwrite=True)
    if a.service()["deploymentConfiguration"] != hooks_before:
        a.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=hooks_before)
    sb.config(**{k: old[k] for k in ("ecs_minute_s", "ecs_callback_scale") if k in old})


def put_plan(sb, plan):
    sb.client("ssm").put_parameter(Name=PLAN_PARAMETER, Value=json.dumps(plan), Type="String", Overwrite=True)


def approve(sb, arn, xarn):
    """Approves the waiting step the way ``hookline approve`` does: the task token from the execution's
    history, SendTaskSuccess. (Through the CLI when it can address an ECS deployment by its ARN.)"""
    token, msg = sb.approval_token(xarn)
    if os.path.exists(BIN):
        import subprocess
        r = subprocess.run([BIN, "approve", arn], env=sb.env(), capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return "cli", r.stdout
    sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "e2e"}))
    return "token", msg


def hook_answers(api, arn, stage):
    return [(i["at"], i["answer"].get("hookStatus"), i.get("rollback")) for i in api.invocations(arn)
            if i["stage"] == stage]


def test_canary_10_approval_50_100_on_the_production_rule(sb, api):
    put_plan(sb, ecs_plan(sb, [{"weight": 10, "bake": "2s"}, {"approval": {"timeout": "2h"}},
                               {"weight": 50, "bake": "2s"}, {"weight": 100, "bake": "1s"}]))
    with RulePoller(api) as poll:
        arn = api.deploy("example/api:canary-ok")
        blue, green = api.sides(arn)
        assert blue != green and {blue, green} == api.groups
        execution = api.wait_execution(arn)
        xarn = execution["executionArn"]
        sb.wait_state(xarn, "RequestApproval", timeout=60)
        assert api.weights() == {blue: 90, green: 10}, "held at 10 % while the approval waits"
        # ECS keeps re-invoking the hook meanwhile, and hears IN_PROGRESS each time.
        time.sleep(2.5)
        waiting = hook_answers(api, arn, "POST_TEST_TRAFFIC_SHIFT")
        assert len(waiting) >= 2 and all(s == "IN_PROGRESS" for _, s, _ in waiting), waiting
        how, _ = approve(sb, arn, xarn)
        done = api.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    assert done["status"] == "SUCCESSFUL", done
    assert not poll.errors, poll.errors[:3]
    assert poll.green_sequence(green) == [0, 10, 50, 100], poll.green_sequence(green)
    assert api.weights() == {blue: 0, green: 100} or api.weights() == {green: 100}
    assert sb.sfn.describe_execution(executionArn=xarn)["status"] == "SUCCEEDED"
    post = api.wait_execution(arn, "AfterAllowTraffic")
    assert post["status"] == "SUCCEEDED", post
    canary_answers = [s for _, s, _ in hook_answers(api, arn, "POST_TEST_TRAFFIC_SHIFT")]
    assert canary_answers[-1] == "SUCCEEDED" and set(canary_answers[:-1]) == {"IN_PROGRESS"}, canary_answers
    post_answers = [s for _, s, _ in hook_answers(api, arn, "POST_PRODUCTION_TRAFFIC_SHIFT")]
    assert post_answers[-1] == "SUCCEEDED" and set(post_answers[:-1]) <= {"IN_PROGRESS"}, post_answers
    assert not api.running()
    print(f"approved through {how}")


@pytest.mark.parametrize("cause", ["alarm", "reject"])
def test_alarm_or_reject_restores_blue_before_the_hook_answers_failed(sb, api, cause):
    steps = [{"weight": 10, "bake": "30s" if cause == "alarm" else "1s"}, {"approval": {"timeout": "2h"}},
             {"weight": 100}]
    put_plan(sb, ecs_plan(sb, steps))
    if cause == "reject":
        # Also at the traffic-shift stages, which ECS's rollback re-invokes: hookline must let them pass.
        api.hook_stages(["TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
                         "POST_PRODUCTION_TRAFFIC_SHIFT"])
    with RulePoller(api) as poll:
        arn = api.deploy("example/api:v-rollback")
        blue, green = api.sides(arn)
        xarn = api.wait_execution(arn)["executionArn"]
        if cause == "alarm":
            end = time.time() + 60
            while api.weights().get(green, 0) != 10 and time.time() < end:
                time.sleep(0.1)
            assert api.weights() == {blue: 90, green: 10}
            sb.set_alarm("api-5xx", "ALARM", reason="e2e: 5xx during the bake")
        else:
            token, _ = sb.approval_token(xarn)
            assert api.weights() == {blue: 90, green: 10}
            sb.sfn.send_task_failure(taskToken=token, error="Rejected", cause="e2e rejects")
        done = api.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    assert done["status"] == "ROLLBACK_SUCCESSFUL", done
    assert not poll.errors, poll.errors[:3]
    answers = hook_answers(api, arn, "POST_TEST_TRAFFIC_SHIFT")
    failed = [(t, s) for t, s, rb in answers if s == "FAILED"]
    assert len(failed) == 1 and answers[-1][1] == "FAILED", answers
    at = failed[0][0]
    # The simulator's read of the production rule as the FAILED answer arrived (a poller's read can
    # only come before or after the hook's last write).
    recorded = [i["production"] for i in api.invocations(arn)
                if not i.get("rollback") and (i.get("answer") or {}).get("hookStatus") == "FAILED"]
    assert len(recorded) == 1 and recorded[0].get("weights", {}).get(green, 0) == 0 \
        and not recorded[0].get("others"), f"production when the hook answered FAILED: {recorded}"
    assert set(poll.since(at, green)) == {0}, "production stayed on blue after the answer"
    assert sb.sfn.describe_execution(executionArn=xarn)["status"] == "FAILED"
    if cause == "reject":
        # ECS's rollback re-invoked the traffic-shift hooks, and hookline let it through at once.
        rollback_answers = [i for i in api.invocations(arn) if i.get("rollback")]
        assert {i["stage"] for i in rollback_answers} == {"TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"}, \
            rollback_answers
        assert all(i["answer"] == {"hookStatus": "SUCCEEDED"} for i in rollback_answers), rollback_answers
    assert not api.running()


@pytest.mark.parametrize("cause", ["stop", "hook-crash"])
def test_ecs_rollback_mid_bake_restores_blue_within_one_health_interval(sb, api, cause):
    """ECS rolls back on its own (a console/API StopServiceDeployment, or the hook function failing
    once, which ECS takes as FAILED) while hookline holds production at 10 %: ECS undoes only its own
    shifts, so hookline's next health check must notice and put blue back."""
    put_plan(sb, ecs_plan(sb, [{"weight": 10, "bake": "60s"}, {"weight": 100}]))
    with RulePoller(api) as poll:
        arn, blue, green, xarn = api.deploy_to_first_step("example/api:v-stopped")
        sb.wait_state(xarn, "Bake", timeout=30)
        stopped_at = time.time()
        if cause == "stop":
            api.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        else:
            sb.crash("hook", count=1)
            api.wait(arn, ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"), timeout=10)
            stopped_at = time.time()
        end = time.time() + 30
        while api.weights().get(green, 0) != 0 and time.time() < end:
            time.sleep(0.05)
        restored_at = time.time()
        done = api.wait(arn, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=60)
        final = sb.wait_execution_done(xarn, timeout=30)
    assert done["status"] == "ROLLBACK_SUCCESSFUL", done
    # One health interval for the next gate to notice, plus the rollback function's own time.
    assert restored_at - stopped_at <= HEALTH_INTERVAL_S + 3, f"blue back after {restored_at - stopped_at:.1f}s"
    assert api.weights().get(green, 0) == 0
    assert final["status"] == "FAILED", final
    assert not api.running(), api.running()
    assert not poll.errors, poll.errors[:3]


def test_a_budget_beyond_the_hooks_timeout_is_refused_before_anything_moves(sb, api):
    """With ECS minutes of 10 s the hook's default timeoutInMinutes (1440) ends it after 4 h: a 4h
    budget (plus the rollback reserve) cannot fit, so the hook answers FAILED at once, starting nothing
    (ECS would otherwise roll back mid-canary, undoing only its own shifts)."""
    put_plan(sb, ecs_plan(sb, [{"weight": 10, "bake": "1s"}, {"weight": 100}], budget="4h"))
    with RulePoller(api) as poll:
        arn = api.deploy("example/api:v-too-long")
        blue, green = api.sides(arn)
        done = api.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=60)
    assert done["status"] == "ROLLBACK_SUCCESSFUL", done
    answers = [i["answer"] for i in api.invocations(arn) if i["stage"] == "POST_TEST_TRAFFIC_SHIFT"]
    assert len(answers) == 1 and answers[0]["hookStatus"] == "FAILED", answers
    assert "hook_budget" in answers[0]["hookDetails"]["hooklineError"], answers
    try:
        sb.sfn.describe_execution(executionArn=api.execution_arn(arn))
        raise AssertionError("an execution was started")
    except sb.sfn.exceptions.ExecutionDoesNotExist:
        pass
    assert set(poll.green_sequence(green)) == {0}, poll.green_sequence(green)


def no_execution(sb, xarn):
    try:
        sb.sfn.describe_execution(executionArn=xarn)
    except sb.sfn.exceptions.ExecutionDoesNotExist:
        return True
    return False


def test_service_creation_with_hooks_is_passed_through_and_the_deployment_completes(sb, api):
    """ECS runs the lifecycle hooks on CreateService too (the deployment has no source revision):
    hookline answers SUCCEEDED at once and starts nothing, so the service (and a stack creating it)
    comes up."""
    suffix = str(int(time.time() * 1000))[-7:]
    name = f"api-created-{suffix}"
    elb, ecs = api.elb, api.ecs
    svc = api.service()
    blue_info = elb.describe_target_groups(TargetGroupArns=[svc["loadBalancers"][0]["targetGroupArn"]])[
        "TargetGroups"][0]
    lb_arn = blue_info["LoadBalancerArns"][0]
    listeners = {int(x["Port"]): x["ListenerArn"] for x in elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]}
    groups, rules = [], []
    try:
        for side in ("b", "g"):
            groups.append(elb.create_target_group(Name=f"c{suffix}-{side}", Protocol="HTTP", Port=80,
                                                  VpcId=blue_info["VpcId"], TargetType="ip")["TargetGroups"][0][
                "TargetGroupArn"])
        for port in (80, 8080):
            used = {int(r["Priority"]) for r in elb.describe_rules(ListenerArn=listeners[port])["Rules"]
                    if not r.get("IsDefault")}
            rules.append(elb.create_rule(
                ListenerArn=listeners[port], Priority=min(set(range(100, 200)) - used),
                Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/{name}/*"]}}],
                Actions=[{"Type": "forward", "TargetGroupArn": groups[0]}])["Rules"][0]["RuleArn"])
        hook = svc["deploymentConfiguration"]["lifecycleHooks"][0]
        ecs.create_service(
            cluster="demo", serviceName=name, taskDefinition=svc["taskDefinition"], desiredCount=1,
            launchType="FARGATE", networkConfiguration=svc["networkConfiguration"],
            deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
                {"hookTargetArn": hook["hookTargetArn"], "roleArn": hook["roleArn"],
                 "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]}]},
            loadBalancers=[{"targetGroupArn": groups[0], "containerName": "api", "containerPort": 80,
                            "advancedConfiguration": {"alternateTargetGroupArn": groups[1],
                                                      "productionListenerRule": rules[0],
                                                      "testListenerRule": rules[1],
                                                      "roleArn": svc["loadBalancers"][0]["advancedConfiguration"][
                                                          "roleArn"]}}])
        listed = ecs.list_service_deployments(cluster="demo", service=name)["serviceDeployments"]
        assert len(listed) == 1
        arn = listed[0]["serviceDeploymentArn"]
        done = api.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=180)
        assert done["status"] == "SUCCESSFUL", done
        assert done["sourceServiceRevisions"] == []
        answers = [(i["stage"], i["answer"].get("hookStatus")) for i in api.invocations(arn)]
        assert answers == [("POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED"), ("POST_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED")], \
            answers
        for event in ("BeforeAllowTraffic", "AfterAllowTraffic"):
            assert no_execution(sb, api.execution_arn(arn, event)), f"a {event} execution was started"
    finally:
        try:
            ecs.update_service(cluster="demo", service=name, desiredCount=0)
            ecs.delete_service(cluster="demo", service=name, force=True)
        except Exception as e:  # the service may not exist when creation itself failed
            print(f"cleanup of {name}: {e}")
        for rule in rules:
            elb.delete_rule(RuleArn=rule)
        for group in groups:
            try:
                elb.delete_target_group(TargetGroupArn=group)
            except Exception as e:  # targets still registered in moto
                print(f"cleanup of {group}: {e}")


def test_a_linear_service_is_answered_failed_naming_the_strategy_and_production_is_untouched(sb, api):
    """Under LINEAR (or CANARY) ECS shifts production in its own steps: hookline refuses at its first
    hook, naming the strategy, and ECS rolls back with production never moved by hookline."""
    put_plan(sb, ecs_plan(sb, [{"weight": 10, "bake": "1s"}, {"weight": 100}]))
    dc = api.service()["deploymentConfiguration"]
    dc["strategy"] = "LINEAR"
    dc["linearConfiguration"] = {"stepPercent": 10.0, "stepBakeTimeInMinutes": 1}
    api.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    with RulePoller(api) as poll:
        arn = api.deploy("example/api:v-linear")
        blue, green = api.sides(arn)
        done = api.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=120)
    assert done["status"] == "ROLLBACK_SUCCESSFUL", done
    assert done["deploymentConfiguration"]["strategy"] == "LINEAR"
    answers = [i["answer"] for i in api.invocations(arn) if i["stage"] == "POST_TEST_TRAFFIC_SHIFT"]
    assert len(answers) == 1 and answers[0]["hookStatus"] == "FAILED", answers
    error = answers[0]["hookDetails"]["hooklineError"]
    assert "LINEAR" in error and "BLUE_GREEN" in error, error
    assert no_execution(sb, api.execution_arn(arn)), "an execution was started"
    assert not poll.errors, poll.errors[:3]
    assert set(poll.green_sequence(green)) == {0}, poll.green_sequence(green)
    assert api.weights().get(blue) == 100
