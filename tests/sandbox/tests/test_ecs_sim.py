"""The ECS-native blue/green service-deployment simulator (sim/ecs/api.py / sim/ecs/lifecycle.py), driven
through boto3 against the router and a real moto, with hooks answered by a fake Lambda backend
(the Rust ``hook`` does not speak the ECS payload yet). Every answer the simulator gives during
these tests is checked against botocore's ``ecs`` model (outputs and modeled error codes)."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.session
import pytest
import requests
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

import provision
from sim.alb import weight_shares
from sim.codedeploy.api import SimConfig
from sim.ecs.common import HOOK_STAGES
from sim.ecs.api import EcsConfig, EcsSim
from router import Sandbox
import test_sim_spec

MODEL = botocore.session.get_session().get_service_model("ecs")
SIM_OPS = sorted(n[3:] for n in dir(EcsSim) if n.startswith("op_"))
ALL_STAGES = [s for s in HOOK_STAGES if s != "RECONCILE_SERVICE"]
HOOK_ARN = provision.function_arn("hook")


# ---------------------------------------------------------------- model checks
def shape_errors(shape, value, path="$"):
    """test_sim_spec's checker, plus botocore document shapes (``hookDetails``: any JSON), which
    it does not know (CodeDeploy has none)."""
    if shape.metadata.get("document"):
        return []
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        out = [f"{path}.{k}: not a member of {shape.name}" for k in value if k not in shape.members]
        out += [f"{path}.{k}: required member of {shape.name} missing" for k in shape.required_members
                if k not in value]
        for k, v in value.items():
            if k in shape.members:
                out += shape_errors(shape.members[k], v, f"{path}.{k}") if v is not None else [f"{path}.{k}: null"]
        return out
    if t == "list" and isinstance(value, list):
        out = test_sim_spec._range(shape, len(value), path, "length")
        for i, v in enumerate(value):
            out += shape_errors(shape.member, v, f"{path}[{i}]")
        return out
    if t == "map" and isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += shape_errors(shape.key, k, f"{path}<key {k}>") + shape_errors(shape.value, v, f"{path}[{k}]")
        return out
    return test_sim_spec.shape_errors(shape, value, path)


def response_errors(op, status, out):
    om = MODEL.operation_model(op)
    wire = json.loads(json.dumps(out))
    if status == 200:
        return [f"{op}: {e}" for e in shape_errors(om.output_shape, wire)]
    modeled = {s.name for s in om.error_shapes}
    errs = []
    if wire.get("__type") not in modeled:
        errs.append(f"{op}: error {wire.get('__type')!r} is not one of the modeled errors {sorted(modeled)}")
    if not isinstance(wire.get("message"), str):
        errs.append(f"{op}: error without a message: {wire}")
    want = 500 if wire.get("__type") == "ServerException" else 400
    if status != want:
        errs.append(f"{op}: {wire.get('__type')} answered HTTP {status}, want {want}")
    return errs


# ---------------------------------------------------------------- fake Lambda
class FakeHook:
    """Answers Lambda invokes with ECS hook answers. ``modes[stage]``: "succeed" (default) |
    "fail" | "error" (a function error) | callable(fake, payload, n) -> answer dict, where n counts
    this stage's invocations in the current deployment from 1. Every call is recorded with the live
    production / test rule weights (target group name -> %) at that moment."""

    def __init__(self):
        self.calls, self.modes, self.lock = [], {}, threading.Lock()
        self.elb, self.rules = None, {}
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(n) or b"{}")
                code, body = fake.handle(payload)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def live(self, which):
        if self.elb is None:   # the CreateService deployment's hooks run during provisioning
            return {}
        rule = self.elb.describe_rules(RuleArns=[self.rules[which]])["Rules"][0]
        return {tg.split("/")[1]: round(w) for tg, w in weight_shares(rule["Actions"]).items()}

    def handle(self, payload):
        if "lifecycleStage" not in payload:
            return 200, {"echo": payload}
        stage = payload["lifecycleStage"]
        rec = {"t": time.time(), "stage": stage, "payload": payload,
               "prod": self.live("prod"), "test": self.live("test")}
        with self.lock:
            self.calls.append(rec)
            arn = payload["resourceArn"]
            n = sum(1 for c in self.calls if c["stage"] == stage and c["payload"]["resourceArn"] == arn)
        mode = self.modes.get(stage, "succeed")
        if callable(mode):
            answer = mode(self, payload, n)
        elif mode == "error":
            return 500, {"errorType": "HealthCheckFailed", "errorMessage": "green said no"}
        else:
            answer = {"hookStatus": "SUCCEEDED" if mode == "succeed" else "FAILED"}
        rec["answer"] = answer
        return 200, answer

    def stages(self, arn=None):
        return [c["stage"] for c in self.calls if arn is None or c["payload"]["resourceArn"] == arn]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- fixture
class Env:
    def __init__(self, sb, fake, ecs, elb, api):
        self.sb, self.fake, self.ecs, self.elb, self.api = sb, fake, ecs, elb, api
        self.tg = api["target_groups"]
        self.td_seq = 1

    def new_task_definition(self, image=None):
        self.td_seq += 1
        return self.ecs.register_task_definition(
            family="api", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "api", "image": image or f"example/api:v{self.td_seq}", "essential": True,
                                   "portMappings": [{"containerPort": 80}]}])["taskDefinition"]["taskDefinitionArn"]

    def hooks(self, stages, **extra):
        """Replace the service's hooks (no new deployment: the task definition is unchanged)."""
        dc = self.describe_service()["deploymentConfiguration"]
        dc["lifecycleHooks"] = [dict({"hookTargetArn": HOOK_ARN, "roleArn": provision.ROLE_ARN,
                                      "lifecycleStages": list(stages)}, **extra)]
        self.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)

    def deploy(self, image=None):
        """``aws ecs update-service --task-definition <new>`` -> the new service deployment's ARN."""
        td = self.new_task_definition(image)
        self.ecs.update_service(cluster="demo", service="api", taskDefinition=td)
        # ECS-22: the order is a switch, so the newest by createdAt (few enough for one page here)
        listed = self.ecs.list_service_deployments(cluster="demo", service="api", maxResults=100)["serviceDeployments"]
        return max(listed, key=lambda d: d["createdAt"])["serviceDeploymentArn"]

    def describe_service(self):
        return self.ecs.describe_services(cluster="demo", services=["api"])["services"][0]

    def deployment(self, arn):
        return self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]

    def wait(self, arn, statuses, timeout=20):
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)
        end = time.time() + timeout
        while time.time() < end:
            d = self.deployment(arn)
            if d["status"] in statuses:
                return d
            time.sleep(0.05)
        raise AssertionError(f"{arn} still {d['status']} ({d.get('statusReason')}), wanted {statuses}")

    def wait_calls(self, stage, n, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if self.fake.stages().count(stage) >= n:
                return
            time.sleep(0.02)
        raise AssertionError(f"{stage} invoked {self.fake.stages().count(stage)} times, wanted {n}")

    def targets(self, name):
        return sorted(t["Target"]["Id"] for t in
                      self.elb.describe_target_health(TargetGroupArn=self.tg[name])["TargetHealthDescriptions"])

    def set_prod(self, blue, green):
        self.elb.modify_rule(RuleArn=self.api["production_rule_arn"], Actions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": self.tg["api-blue"], "Weight": blue},
                             {"TargetGroupArn": self.tg["api-green"], "Weight": green}]}}])

    def snapshot(self):
        return requests.get(self.sb.url + "/_sandbox/ecs", timeout=5).json()


@pytest.fixture
def env(moto_url):
    requests.post(moto_url + "/moto-api/reset", timeout=10)
    fake = FakeHook()
    ecs_cfg = EcsConfig(ecs_minute_s=0.2, ecs_callback_scale=0.01, ecs_callback_min_s=0.05,
                        ecs_rollback_restore="own_changes", ecs_payload_weights="filled")
    sb = Sandbox(port=0, moto_url=moto_url, lambda_url=fake.url, app_traffic=False, ecs_config=ecs_cfg,
                 sim_config=SimConfig(hook_timeout_s=30, termination_wait_s=0.5, minute_s=1, alarm_poll_s=0.2)).start()
    recorded = []
    real_handle = sb.ecs_sim.handle

    def recording(op, body, forward=None):
        status, out = real_handle(op, body, forward)
        recorded.append((op, status, out))
        return status, out
    sb.ecs_sim.handle = recording
    c = provision.clients(sb.url)
    demo = provision.provision_demo(c, provision.DEMO_PLAN)
    api = provision.provision_api(c, demo, provision.API_PLAN, bake_minutes=1)
    kw = dict(endpoint_url=sb.url, region_name="us-east-1", aws_access_key_id="sandbox",
              aws_secret_access_key="sandbox", config=BotoConfig(retries={"max_attempts": 1}))
    fake.elb = boto3.client("elbv2", **kw)
    fake.rules = {"prod": api["production_rule_arn"], "test": api["test_rule_arn"]}
    e = Env(sb, fake, boto3.client("ecs", **kw), fake.elb, api)
    e.recorded = recorded
    # CreateService started a deployment that runs the hooks (ECS-14): let it end first.
    created = e.ecs.list_service_deployments(cluster="demo", service="api")["serviceDeployments"]
    assert len(created) == 1
    e.wait(created[0]["serviceDeploymentArn"], "SUCCESSFUL")
    fake.calls.clear()
    yield e
    sb.stop()
    fake.stop()
    errs = [err for op, status, out in recorded for err in response_errors(op, status, out)]
    assert not errs, "\n".join(errs)


# ---------------------------------------------------------------- tests
def test_provisioned_api_service(env):
    s = env.describe_service()
    assert s["deploymentController"] == {"type": "ECS"}
    dc = s["deploymentConfiguration"]   # moto drops it; the router patches it back in
    assert dc["strategy"] == "BLUE_GREEN"
    assert dc["lifecycleHooks"][0]["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]
    adv = s["loadBalancers"][0]["advancedConfiguration"]
    assert adv["productionListenerRule"] == env.api["production_rule_arn"]
    assert adv["alternateTargetGroupArn"] == env.tg["api-green"]
    assert len(s["currentServiceRevisions"]) == 1
    assert env.fake.live("prod") == {"api-blue": 100} and env.fake.live("test") == {"api-blue": 100}
    assert len(env.targets("api-blue")) == 2 and env.targets("api-green") == []
    # the ALB emulation addresses the second ALB by name, and finds the revision's image
    r = requests.get(env.sb.url + "/_sandbox/alb/demo-api/80/health", timeout=5)
    assert r.status_code == 200 and r.json()["version"] == "v1" and r.json()["target_group"] == "api-blue"
    assert requests.get(env.sb.url + "/_sandbox/alb/80/health", timeout=5).json()["load_balancer"] == "demo"
    # idempotent
    c = provision.clients(env.sb.url)
    again = provision.provision_api(c, provision.provision_demo(c, provision.DEMO_PLAN), provision.API_PLAN)
    assert again["service_arn"] == env.api["service_arn"]
    assert again["production_rule_arn"] == env.api["production_rule_arn"]


def test_update_service_creates_a_service_deployment(env):
    """`aws ecs update-service --cluster demo --service api --task-definition <new>` through the router."""
    before = env.ecs.list_service_deployments(cluster="demo", service="api")["serviceDeployments"]
    td = env.new_task_definition()
    out = env.ecs.update_service(cluster="demo", service="api", taskDefinition=td)["service"]
    assert out["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    listed = env.ecs.list_service_deployments(cluster="demo", service="api")["serviceDeployments"]
    assert len(listed) == len(before) + 1
    new = max(listed, key=lambda d: d["createdAt"])   # ECS-22: the order is a switch
    assert new["status"] in ("PENDING", "IN_PROGRESS")
    assert env.describe_service()["currentServiceDeployment"] == new["serviceDeploymentArn"]
    revs = env.ecs.describe_service_revisions(serviceRevisionArns=[new["targetServiceRevisionArn"]])
    rev = revs["serviceRevisions"][0]
    assert rev["taskDefinition"] == td and rev["containerImages"][0]["image"].endswith(":v2")
    env.wait(new["serviceDeploymentArn"], "SUCCESSFUL")


def test_stages_in_order_with_documented_payloads(env):
    env.hooks(ALL_STAGES)
    blue_rev = env.describe_service()["currentServiceRevisions"][0]["arn"]
    arn = env.deploy()
    d = env.wait(arn, "SUCCESSFUL")
    assert env.fake.stages(arn) == ALL_STAGES
    by = {c["stage"]: c for c in env.fake.calls}
    green_rev = d["targetServiceRevision"]["arn"]
    for c in env.fake.calls:
        p = c["payload"]
        assert set(p) == {"executionId", "lifecycleStage", "resourceArn", "executionDetails"}
        assert p["resourceArn"] == arn
        assert p["executionDetails"]["serviceArn"] == env.api["service_arn"]
        assert p["executionDetails"]["targetServiceRevisionArn"] == green_rev
    assert len({c["payload"]["executionId"] for c in env.fake.calls}) == len(env.fake.calls)
    # green has started (targets) from POST_SCALE_UP; nothing shifted yet
    assert by["POST_SCALE_UP"]["test"] == {"api-blue": 100} and by["POST_SCALE_UP"]["prod"] == {"api-blue": 100}
    assert by["PRE_SCALE_UP"]["payload"]["executionDetails"]["testTrafficWeights"] == {}
    # POST_TEST_TRAFFIC_SHIFT: green 100% of test traffic, blue 100% of production
    pt = by["POST_TEST_TRAFFIC_SHIFT"]
    assert pt["test"] == {"api-blue": 0, "api-green": 100} and pt["prod"] == {"api-blue": 100}
    assert pt["payload"]["executionDetails"]["testTrafficWeights"] == {blue_rev: 0, green_rev: 100}
    assert pt["payload"]["executionDetails"]["productionTrafficWeights"] == {blue_rev: 100, green_rev: 0}
    assert by["PRE_PRODUCTION_TRAFFIC_SHIFT"]["prod"] == {"api-blue": 100}
    pp = by["POST_PRODUCTION_TRAFFIC_SHIFT"]
    assert pp["prod"] == {"api-blue": 0, "api-green": 100}
    assert pp["payload"]["executionDetails"]["productionTrafficWeights"] == {blue_rev: 0, green_rev: 100}
    # the engine walked every stage in the documented order, then cleaned blue up
    snap = [x for x in env.snapshot()["deployments"] if x["serviceDeploymentArn"] == arn][0]
    assert [s["stage"] for s in snap["stages"]] == ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP",
                                                    "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
                                                    "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
                                                    "BAKE_TIME", "CLEAN_UP"]
    assert [i["stage"] for i in snap["invocations"]] == ALL_STAGES
    assert d["lifecycleStage"] == "CLEAN_UP" and d["finishedAt"] >= d["startedAt"]
    assert env.targets("api-blue") == [] and len(env.targets("api-green")) == 2
    s = env.describe_service()
    assert [r["arn"] for r in s["currentServiceRevisions"]] == [green_rev]
    rev = env.ecs.describe_service_revisions(serviceRevisionArns=[green_rev])["serviceRevisions"][0]
    # ECS-2: the configured load balancer never swaps; the group served is in resolvedConfiguration
    assert rev["loadBalancers"][0]["targetGroupArn"] == env.tg["api-blue"]
    assert rev["resolvedConfiguration"]["loadBalancers"] == [
        {"targetGroupArn": env.tg["api-green"], "productionListenerRule": env.api["production_rule_arn"]}]
    old = env.ecs.describe_service_revisions(serviceRevisionArns=[blue_rev])["serviceRevisions"][0]
    assert "resolvedConfiguration" not in old, "an inactive revision has no resolved configuration"
    r = requests.get(env.sb.url + "/_sandbox/alb/demo-api/80/health", timeout=5).json()
    assert r["target_group"] == "api-green" and r["version"] == "v2"
    # the next deployment swaps the groups' roles: green is api-blue now
    env.fake.calls.clear()
    arn2 = env.deploy()
    env.wait(arn2, "SUCCESSFUL")
    pt2 = [c for c in env.fake.calls if c["stage"] == "POST_TEST_TRAFFIC_SHIFT"][0]
    assert pt2["test"] == {"api-blue": 100, "api-green": 0} and pt2["prod"] == {"api-green": 100, "api-blue": 0}
    assert env.fake.live("prod") == {"api-blue": 100, "api-green": 0}
    assert env.targets("api-green") == [] and len(env.targets("api-blue")) == 2


def test_payload_weights_are_empty_by_default_and_execution_ids_switchable(env):
    """ECS-8: AWS's launch announcement shows the payload's traffic weights empty at
    POST_TEST_TRAFFIC_SHIFT, so they are empty unless ecs_payload_weights=filled. ECS-5: a fresh
    executionId per invocation unless ecs_execution_id=stable."""
    env.sb.ecs_sim.cfg.update({"ecs_payload_weights": "empty"})
    env.hooks(["POST_TEST_TRAFFIC_SHIFT"])

    def twice(fake, payload, n):
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 1} if n == 1 else {"hookStatus": "SUCCEEDED"}
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = twice
    env.wait(env.deploy(), "SUCCESSFUL")
    calls = [c["payload"] for c in env.fake.calls]
    assert len(calls) == 2 and len({p["executionId"] for p in calls}) == 2
    assert all(p["executionDetails"]["testTrafficWeights"] == {} and
               p["executionDetails"]["productionTrafficWeights"] == {} for p in calls), calls
    env.fake.calls.clear()
    env.sb.ecs_sim.cfg.update({"ecs_execution_id": "stable"})
    env.wait(env.deploy(), "SUCCESSFUL")
    assert len({c["payload"]["executionId"] for c in env.fake.calls}) == 1


def test_create_service_runs_the_hooks_without_a_source_revision(env):
    """ECS-14: CreateService of a service with hooks runs the stages and invokes the hooks; the
    deployment has no source revision; ECS-15: no bake by default. ECS-16: FAILED at creation has no
    revision to go back to (ROLLBACK_FAILED)."""
    env.fake.calls.clear()
    lb = env.describe_service()["loadBalancers"]
    dc = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 50, "lifecycleHooks": [
        {"hookTargetArn": HOOK_ARN, "roleArn": provision.ROLE_ARN,
         "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]}]}
    env.ecs.create_service(cluster="demo", serviceName="api3", taskDefinition="api:1", desiredCount=1,
                           launchType="FARGATE", loadBalancers=lb, deploymentConfiguration=dc)
    listed = env.ecs.list_service_deployments(cluster="demo", service="api3")["serviceDeployments"]
    assert len(listed) == 1
    arn = listed[0]["serviceDeploymentArn"]
    d = env.wait(arn, "SUCCESSFUL", timeout=8)
    assert d["sourceServiceRevisions"] == []
    assert env.fake.stages(arn) == ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = "fail"
    env.ecs.create_service(cluster="demo", serviceName="api4", taskDefinition="api:1", desiredCount=1,
                           launchType="FARGATE", loadBalancers=lb, deploymentConfiguration=dc)
    arn = env.ecs.list_service_deployments(cluster="demo", service="api4")["serviceDeployments"][0][
        "serviceDeploymentArn"]
    d = env.wait(arn, ("ROLLBACK_FAILED", "ROLLBACK_SUCCESSFUL", "SUCCESSFUL"))
    assert d["status"] == "ROLLBACK_FAILED" and "no previous service revision" in d["statusReason"], d


@pytest.mark.parametrize("strategy", ["LINEAR", "CANARY"])
def test_linear_and_canary_invoke_the_hooks_and_roll_back_on_failed(env, strategy):
    dc = env.describe_service()["deploymentConfiguration"]
    dc["strategy"] = strategy
    env.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = "fail"
    arn = env.deploy()
    d = env.wait(arn, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL"))
    assert d["status"] == "ROLLBACK_SUCCESSFUL" and d["deploymentConfiguration"]["strategy"] == strategy, d
    assert env.fake.stages(arn) == ["POST_TEST_TRAFFIC_SHIFT"]
    assert env.fake.live("prod") == {"api-blue": 100}


def test_in_progress_is_reinvoked_after_callback_delay_with_hook_details_merged(env):
    env.hooks(["POST_TEST_TRAFFIC_SHIFT"], hookDetails={"team": "payments", "n": 0})

    def answer(fake, payload, n):
        if n < 3:
            return {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": {"n": n, f"seen{n}": True}}
        return {"hookStatus": "SUCCEEDED"}
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = answer
    arn = env.deploy()
    env.wait(arn, "SUCCESSFUL")
    calls = [c for c in env.fake.calls if c["stage"] == "POST_TEST_TRAFFIC_SHIFT"]
    assert len(calls) == 3
    assert calls[0]["payload"]["hookDetails"] == {"team": "payments", "n": 0}
    assert calls[1]["payload"]["hookDetails"] == {"team": "payments", "n": 1, "seen1": True}
    assert calls[2]["payload"]["hookDetails"] == {"team": "payments", "n": 2, "seen1": True, "seen2": True}
    # callBackDelay 20 s x ecs_callback_scale 0.01 = 0.2 s between invocations
    gaps = [b["t"] - a["t"] for a, b in zip(calls, calls[1:])]
    assert all(0.18 <= g < 2 for g in gaps), gaps


def test_in_progress_default_delay_is_30s_scaled(env):
    env.sb.ecs_sim.cfg.ecs_callback_scale = 0.02     # 30 s -> 0.6 s
    env.hooks(["POST_TEST_TRAFFIC_SHIFT"])
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = lambda f, p, n: {"hookStatus": "IN_PROGRESS" if n == 1 else "SUCCEEDED"}
    arn = env.deploy()
    env.wait(arn, "SUCCESSFUL")
    calls = [c for c in env.fake.calls if c["stage"] == "POST_TEST_TRAFFIC_SHIFT"]
    assert len(calls) == 2 and 0.55 <= calls[1]["t"] - calls[0]["t"] < 3


@pytest.mark.parametrize("failure", ["fail", "error", "invalid"])
def test_failed_hook_rolls_back_reinvoking_traffic_shift_hooks(env, failure):
    env.hooks(["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"])
    blue_rev = env.describe_service()["currentServiceRevisions"][0]["arn"]
    blue_td = env.describe_service()["taskDefinition"]
    env.fake.modes["POST_PRODUCTION_TRAFFIC_SHIFT"] = (
        (lambda f, p, n: {"hookStatus": "MAYBE"}) if failure == "invalid" else failure)
    arn = env.deploy()
    d = env.wait(arn, ["ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"])
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    assert d["rollback"]["serviceRevisionArn"] == blue_rev
    assert "POST_PRODUCTION_TRAFFIC_SHIFT" in d["rollback"]["reason"]
    green_rev = d["targetServiceRevision"]["arn"]
    # forward: TEST, PRODUCTION, POST_PRODUCTION (failed); rollback: PRODUCTION then TEST again
    assert env.fake.stages(arn) == ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
                                    "PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"]
    rb_prod, rb_test = env.fake.calls[3], env.fake.calls[4]
    assert rb_prod["payload"]["executionDetails"]["productionTrafficWeights"] == {blue_rev: 100, green_rev: 0}
    assert rb_prod["prod"] == {"api-blue": 100, "api-green": 0}      # production back on blue before the hook
    assert rb_test["payload"]["executionDetails"]["testTrafficWeights"] == {blue_rev: 100, green_rev: 0}
    assert rb_test["test"] == {"api-blue": 100, "api-green": 0}
    assert env.fake.live("prod") == {"api-blue": 100, "api-green": 0}
    assert env.fake.live("test") == {"api-blue": 100, "api-green": 0}
    assert env.targets("api-green") == [] and len(env.targets("api-blue")) == 2
    s = env.describe_service()
    assert s["taskDefinition"] == blue_td and [r["arn"] for r in s["currentServiceRevisions"]] == [blue_rev]
    snap = [x for x in env.snapshot()["deployments"] if x["serviceDeploymentArn"] == arn][0]
    assert [i["rollback"] for i in snap["invocations"]] == [False, False, False, True, True]
    # a new deployment is possible afterwards
    env.fake.modes.clear()
    env.wait(env.deploy(), "SUCCESSFUL")


def test_rollback_stage_hook_failure_ends_rollback_failed_with_traffic_restored(env):
    env.hooks(["PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"])
    env.fake.modes["POST_PRODUCTION_TRAFFIC_SHIFT"] = "fail"
    env.fake.modes["PRODUCTION_TRAFFIC_SHIFT"] = lambda f, p, n: {"hookStatus": "SUCCEEDED" if n == 1 else "FAILED"}
    arn = env.deploy()
    d = env.wait(arn, ["ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"])
    assert d["status"] == "ROLLBACK_FAILED"
    assert env.fake.live("prod") == {"api-blue": 100, "api-green": 0}


def test_stop_service_deployment_rollback(env):
    env.hooks(["TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"])
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = lambda f, p, n: {"hookStatus": "IN_PROGRESS", "callBackDelay": 100}
    arn = env.deploy()
    env.wait_calls("POST_TEST_TRAFFIC_SHIFT", 1)
    assert env.fake.live("test") == {"api-blue": 0, "api-green": 100}
    out = env.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert out["serviceDeploymentArn"] == arn
    assert env.deployment(arn)["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL")
    d = env.wait(arn, "ROLLBACK_SUCCESSFUL")
    assert "StopServiceDeployment" in d["rollback"]["reason"]
    assert env.fake.live("test") == {"api-blue": 100, "api-green": 0}
    assert env.fake.live("prod") == {"api-blue": 100}                  # never moved
    # the rollback re-invoked the TEST_TRAFFIC_SHIFT hook (the only traffic-shift hook registered)
    assert env.fake.stages(arn) == ["TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"]
    with pytest.raises(ClientError) as e:
        env.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert e.value.response["Error"]["Code"] == "ConflictException"


def test_stop_service_deployment_abort_is_not_a_valid_value(env):
    """ECS-18: "The valid values are ROLLBACK." ABORT is refused and the deployment goes on."""
    env.hooks(["POST_TEST_TRAFFIC_SHIFT"])
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = lambda f, p, n: {"hookStatus": "IN_PROGRESS", "callBackDelay": 100}
    arn = env.deploy()
    env.wait_calls("POST_TEST_TRAFFIC_SHIFT", 1)
    with pytest.raises(ClientError) as e:
        env.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "ROLLBACK" in e.value.response["Error"]["Message"]
    assert env.deployment(arn)["status"] == "IN_PROGRESS"


@pytest.mark.parametrize("mode", ["supersede", "reject"])
def test_update_while_a_deployment_is_active(env, mode):
    """ECS-13 (ecs_update_while_active): supersede rolls the active deployment back and runs the new
    one after it; reject answers InvalidParameterException and changes nothing."""
    env.sb.ecs_sim.cfg.ecs_update_while_active = mode
    env.hooks(["POST_TEST_TRAFFIC_SHIFT"])
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = lambda f, p, n: (
        {"hookStatus": "IN_PROGRESS", "callBackDelay": 100} if p["resourceArn"] == first else {"hookStatus": "SUCCEEDED"})
    first = None
    first = env.deploy("example/api:first")
    env.wait_calls("POST_TEST_TRAFFIC_SHIFT", 1)
    td = env.new_task_definition("example/api:second")
    if mode == "reject":
        with pytest.raises(ClientError) as e:
            env.ecs.update_service(cluster="demo", service="api", taskDefinition=td)
        assert e.value.response["Error"]["Code"] == "InvalidParameterException"
        assert len(env.ecs.list_service_deployments(cluster="demo", service="api")["serviceDeployments"]) == 2
        assert env.deployment(first)["status"] == "IN_PROGRESS"
        return
    env.ecs.update_service(cluster="demo", service="api", taskDefinition=td)
    listed = env.ecs.list_service_deployments(cluster="demo", service="api")["serviceDeployments"]
    second = max(listed, key=lambda d: d["createdAt"])["serviceDeploymentArn"]
    assert second != first
    d1 = env.wait(first, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL"))
    assert d1["status"] == "ROLLBACK_SUCCESSFUL" and second in d1["statusReason"], d1
    d2 = env.wait(second, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL"))
    assert d2["status"] == "SUCCESSFUL", d2
    assert d2["startedAt"] >= d1["finishedAt"]
    assert env.fake.live("prod") == {"api-blue": 0, "api-green": 100}
    assert env.describe_service()["taskDefinition"] == td


@pytest.mark.parametrize("mode", ["rollback_failed", "rollback_successful"])
def test_create_service_whose_hook_fails(env, mode):
    """ECS-16 (ecs_create_rollback): no previous revision to go back to."""
    env.sb.ecs_sim.cfg.ecs_create_rollback = mode
    lb = env.describe_service()["loadBalancers"]
    dc = {"strategy": "BLUE_GREEN", "lifecycleHooks": [
        {"hookTargetArn": HOOK_ARN, "roleArn": provision.ROLE_ARN, "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]}
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = "fail"
    group = lb[0]["targetGroupArn"].split("/")[1]
    before = env.targets(group)
    env.ecs.create_service(cluster="demo", serviceName="api5", taskDefinition="api:1", desiredCount=1,
                           launchType="FARGATE", loadBalancers=lb, deploymentConfiguration=dc)
    arn = env.ecs.list_service_deployments(cluster="demo", service="api5")["serviceDeployments"][0][
        "serviceDeploymentArn"]
    d = env.wait(arn, ("ROLLBACK_FAILED", "ROLLBACK_SUCCESSFUL", "SUCCESSFUL"))
    after = env.targets(group)
    if mode == "rollback_failed":
        assert d["status"] == "ROLLBACK_FAILED" and "no previous service revision" in d["statusReason"], d
        assert len(after) == len(before) + 1, (before, after)   # the new revision's task left running
    else:
        assert d["status"] == "ROLLBACK_SUCCESSFUL" and "tasks were stopped" in d["statusReason"], d
        assert after == before, (before, after)


@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_list_order_switch(env, order):
    """ECS-22 (ecs_list_order)."""
    env.sb.ecs_sim.cfg.ecs_list_order = order
    arn = env.deploy()
    env.wait(arn, "SUCCESSFUL")
    listed = [d["serviceDeploymentArn"] for d in
              env.ecs.list_service_deployments(cluster="demo", service="api")["serviceDeployments"]]
    assert len(listed) == 2 and arn in listed
    assert listed.index(arn) == (1 if order == "oldest_first" else 0)


@pytest.mark.parametrize("mode", ["ignore", "enforce"])
def test_deployment_alarms_switch(env, mode):
    """ECS-23 (ecs_deployment_alarms): an alarm of deploymentConfiguration.alarms in ALARM rolls the
    deployment back under enforce only."""
    env.sb.ecs_sim.cfg.ecs_deployment_alarms = mode
    cw = boto3.client("cloudwatch", endpoint_url=env.sb.url, region_name="us-east-1", aws_access_key_id="sandbox",
                      aws_secret_access_key="sandbox")
    cw.put_metric_alarm(AlarmName="api-deploy-alarm", MetricName="m", Namespace="n", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    cw.set_alarm_state(AlarmName="api-deploy-alarm", StateValue="ALARM", StateReason="test")
    dc = env.describe_service()["deploymentConfiguration"]
    dc["alarms"] = {"alarmNames": ["api-deploy-alarm"], "enable": True, "rollback": True}
    env.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    arn = env.deploy()
    d = env.wait(arn, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL"), timeout=30)
    if mode == "ignore":
        assert d["status"] == "SUCCESSFUL", d
    else:
        assert d["status"] == "ROLLBACK_SUCCESSFUL" and "api-deploy-alarm" in d["rollback"]["reason"], d
        assert env.fake.live("prod") == {"api-blue": 100}


@pytest.mark.parametrize("strategy,config,want", [
    ("LINEAR", {"linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}, [25, 50, 75, 100]),
    ("CANARY", {"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}}, [10, 100]),
    ("BLUE_GREEN", {}, [100])])
def test_linear_and_canary_walk_the_production_steps(env, strategy, config, want):
    """ECS-20: the production rule walks LinearConfiguration / CanaryConfiguration's steps, baking between."""
    dc = env.describe_service()["deploymentConfiguration"]
    dc.update(strategy=strategy, bakeTimeInMinutes=0, **config)
    env.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    seen, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            g = env.fake.live("prod").get("api-green", 0)
            if not seen or seen[-1] != g:
                seen.append(g)
            time.sleep(0.02)
    t = threading.Thread(target=poll, daemon=True)
    t.start()
    arn = env.deploy()
    env.wait(arn, "SUCCESSFUL", timeout=30)
    stop.set()
    t.join()
    assert [g for g in seen if g] == want, seen


@pytest.mark.parametrize("restore", ["own_changes", "full"])
def test_production_shift_overwrites_live_weights_and_rollback_restore_switch(env, restore):
    env.sb.ecs_sim.cfg.ecs_rollback_restore = restore

    def canary(fake, payload, n):   # hookline's canary moves production itself, then succeeds
        env.set_prod(50, 50)
        return {"hookStatus": "SUCCEEDED"}
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = canary
    arn = env.deploy()
    env.wait(arn, "SUCCESSFUL")
    pp = [c for c in env.fake.calls if c["stage"] == "POST_PRODUCTION_TRAFFIC_SHIFT"][0]
    assert pp["prod"] == {"api-blue": 0, "api-green": 100}   # 50/50 overwritten, never read (#2853)

    # a canary that fails after moving production: what ECS's rollback repairs is the switch
    env.fake.calls.clear()

    def failing_canary(fake, payload, n):
        env.elb.modify_rule(RuleArn=env.api["production_rule_arn"], Actions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": env.tg["api-green"], "Weight": 70},
                             {"TargetGroupArn": env.tg["api-blue"], "Weight": 30}]}}])
        return {"hookStatus": "FAILED"}
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = failing_canary
    arn2 = env.deploy()
    env.wait(arn2, "ROLLBACK_SUCCESSFUL")
    if restore == "own_changes":
        # PRODUCTION_TRAFFIC_SHIFT never ran: ECS leaves hookline's 70/30 in place (pessimistic)
        assert env.fake.live("prod") == {"api-green": 70, "api-blue": 30}
    else:
        assert env.fake.live("prod") == {"api-green": 100, "api-blue": 0}
    # green of arn2 is api-blue; blue (api-green) keeps its targets
    assert env.targets("api-blue") == [] and len(env.targets("api-green")) == 2


@pytest.mark.parametrize("action", ["ROLLBACK", "CONTINUE"])
def test_hook_timeout(env, action):
    # timeoutInMinutes 1 x ecs_minute_s 0.2 = 0.2 s
    env.hooks(["POST_TEST_TRAFFIC_SHIFT"], timeoutConfiguration={"timeoutInMinutes": 1, "action": action})
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = lambda f, p, n: {"hookStatus": "IN_PROGRESS", "callBackDelay": 1}
    arn = env.deploy()
    if action == "ROLLBACK":
        d = env.wait(arn, "ROLLBACK_SUCCESSFUL")
        assert "timed out" in d["rollback"]["reason"]
    else:
        env.wait(arn, "SUCCESSFUL")
    assert 1 <= env.fake.stages(arn).count("POST_TEST_TRAFFIC_SHIFT") <= 25


def test_hook_details_visible_while_a_hook_runs(env):
    env.hooks(["POST_TEST_TRAFFIC_SHIFT"])
    env.fake.modes["POST_TEST_TRAFFIC_SHIFT"] = lambda f, p, n: {"hookStatus": "IN_PROGRESS", "callBackDelay": 100}
    arn = env.deploy()
    env.wait_calls("POST_TEST_TRAFFIC_SHIFT", 1)
    d = env.deployment(arn)
    assert d["status"] == "IN_PROGRESS" and d["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    h = d["lifecycleHookDetails"][0]
    assert h["targetArn"] == HOOK_ARN and h["status"] == "IN_PROGRESS" and h["timeoutAction"] == "ROLLBACK"
    assert d["targetServiceRevision"]["requestedTestTrafficWeight"] == 100.0
    assert d["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 100.0
    # a second update-service while one is active is refused (ECS-13, reject)
    env.sb.ecs_sim.cfg.ecs_update_while_active = "reject"
    with pytest.raises(ClientError) as e:
        env.ecs.update_service(cluster="demo", service="api", taskDefinition=env.new_task_definition())
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    env.ecs.stop_service_deployment(serviceDeploymentArn=arn)   # stopType defaults to ROLLBACK (ECS-17)
    env.wait(arn, "ROLLBACK_SUCCESSFUL")


def test_errors_and_every_operation_match_the_model(env):
    ecs = env.ecs

    def code(fn, **kw):
        with pytest.raises(ClientError) as e:
            fn(**kw)
        return e.value.response["Error"]["Code"]
    missing = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/nope"
    out = ecs.describe_service_deployments(serviceDeploymentArns=[missing])
    assert out["serviceDeployments"] == [] and out["failures"] == [{"arn": missing, "reason": "MISSING"}]
    out = ecs.describe_service_revisions(serviceRevisionArns=[missing.replace("deployment", "revision")])
    assert out["failures"][0]["reason"] == "MISSING"
    assert code(ecs.stop_service_deployment, serviceDeploymentArn=missing) == "ServiceDeploymentNotFoundException"
    err = code(ecs.continue_service_deployment, serviceDeploymentArn=missing, hookId="ecs-pause-x")
    assert err == "ServiceDeploymentNotFoundException"
    assert code(ecs.list_service_deployments, cluster="demo", service="nope") == "ServiceNotFoundException"
    assert code(ecs.list_service_deployments, cluster="nope", service="api") == "ClusterNotFoundException"
    err = code(ecs.list_service_deployments, cluster="demo", service="api", maxResults=0)
    assert err == "InvalidParameterException"
    assert ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"] == []   # ECS-22
    assert code(ecs.describe_service_deployments, serviceDeploymentArns=[]) == "InvalidParameterException"
    lbs = [{"targetGroupArn": env.tg["api-blue"], "containerName": "api", "containerPort": 80}]
    err = code(ecs.create_service, cluster="demo", serviceName="api2", taskDefinition="api:1", loadBalancers=lbs,
               deploymentConfiguration={"strategy": "BLUE_GREEN"})
    assert err == "InvalidParameterException"
    err = code(ecs.create_service, cluster="demo", serviceName="api2", taskDefinition="api:1",
               deploymentConfiguration={"strategy": "BLUE_GREEN", "lifecycleHooks": [
                   {"hookTargetArn": HOOK_ARN, "roleArn": "r", "lifecycleStages": ["BAKE_TIME"]}]})
    assert err == "InvalidParameterException"
    # pagination
    env.wait(env.deploy(), "SUCCESSFUL")
    page = ecs.list_service_deployments(cluster="demo", service="api", maxResults=1)
    assert len(page["serviceDeployments"]) == 1 and page["nextToken"]
    rest = ecs.list_service_deployments(cluster="demo", service="api", nextToken=page["nextToken"])
    assert len(rest["serviceDeployments"]) == 1   # the CreateService deployment (ECS-14)
    assert rest["serviceDeployments"][0]["status"] == "SUCCESSFUL"
    only = ecs.list_service_deployments(cluster="demo", service="api", status=["ROLLBACK_SUCCESSFUL"])
    assert only["serviceDeployments"] == []
    # the patched DescribeServices members match the model too
    svc_shape = MODEL.shape_for("Service")
    s = requests.post(env.sb.url + "/", data=json.dumps({"cluster": "demo", "services": ["api"]}), headers={
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DescribeServices",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=sandbox/20260101/us-east-1/ecs/aws4_request"},
        timeout=10).json()["services"][0]
    for k in ("deploymentConfiguration", "currentServiceDeployment", "currentServiceRevisions", "loadBalancers"):
        assert not shape_errors(svc_shape.members[k], s[k]), shape_errors(svc_shape.members[k], s[k])
    assert {op for op, _, _ in env.recorded} >= set(SIM_OPS)


def test_checker_catches_what_it_should():
    bad = {"serviceDeployments": [{"status": "DONE", "createdAt": "2026", "bogus": 1,
                                   "targetServiceRevision": {"requestedTaskCount": "2"}}]}
    errs = "\n".join(response_errors("DescribeServiceDeployments", 200, bad))
    for needle in ("'DONE' not in enum", "createdAt: '2026' is str", ".bogus: not a member", "requestedTaskCount: '2'"):
        assert needle in errs, errs
    assert response_errors("StopServiceDeployment", 400, {"__type": "NoSuchThing", "message": "x"})
    assert response_errors("StopServiceDeployment", 400, {"__type": "ConflictException", "message": "x"}) == []


def test_config_keys(env):
    r = requests.post(env.sb.url + "/_sandbox/config", json={"ecs_rollback_restore": "full", "ecs_minute_s": 2},
                      timeout=5).json()
    assert r["ecs_rollback_restore"] == "full" and r["ecs_minute_s"] == 2.0
    r = requests.post(env.sb.url + "/_sandbox/config", json={"ecs_rollback_restore": "snapshot"}, timeout=5)
    assert r.status_code == 400 and "ecs_rollback_restore" in r.json()["error"]
    assert env.sb.ecs_sim.cfg.ecs_rollback_restore == "full"


def test_app_traffic_loop_on_demo_api_raises_api_5xx_for_a_bad_green(env):
    """The app-traffic loop reads production from demo-api's ECS-managed rule (its default action
    does not forward) and the image from the service revision serving each group."""
    cw = boto3.client("cloudwatch", endpoint_url=env.sb.url, region_name="us-east-1", aws_access_key_id="sandbox",
                      aws_secret_access_key="sandbox")

    def alarm():
        return cw.describe_alarms(AlarmNames=["api-5xx"])["MetricAlarms"][0]["StateValue"]
    requests.post(env.sb.url + "/_sandbox/traffic", json={"enabled": True, "interval_ms": 100, "alarm": "api-5xx",
                                                          "port": 80, "load_balancer": "demo-api"}, timeout=5)
    time.sleep(0.5)
    assert alarm() == "OK"   # blue (v1) serves production
    env.wait(env.deploy("example/api:bad"), "SUCCESSFUL")
    end = time.time() + 5
    while time.time() < end and alarm() != "ALARM":
        time.sleep(0.1)
    assert alarm() == "ALARM"
    last = requests.get(env.sb.url + "/_sandbox/traffic", timeout=5).json()["last"]
    assert last["bad_groups"] == ["api-green"]


def _linear_25(env, bake_minutes=3, stages=("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")):
    dc = env.describe_service()["deploymentConfiguration"]
    dc.update(strategy="LINEAR", bakeTimeInMinutes=0,
              linearConfiguration={"stepPercent": 25.0, "stepBakeTimeInMinutes": bake_minutes})
    dc["lifecycleHooks"] = [{"hookTargetArn": HOOK_ARN, "roleArn": provision.ROLE_ARN, "lifecycleStages": list(stages)}]
    env.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)


@pytest.mark.parametrize("order", ["hook_then_bake", "bake_then_hook"])
def test_linear_invokes_pre_production_before_and_production_at_every_step(env, order):
    """ECS-24 (PRE_PRODUCTION_TRAFFIC_SHIFT before every step, PRODUCTION_TRAFFIC_SHIFT at every step)
    and ECS-25 (ecs_step_bake: whether a step's bake comes before or after the next step's hook)."""
    env.sb.ecs_sim.cfg.ecs_step_bake = order
    _linear_25(env)   # a step bakes 3 x 0.2 s
    arn = env.deploy()
    env.wait(arn, "SUCCESSFUL", timeout=30)
    calls = [c for c in env.fake.calls if c["payload"]["resourceArn"] == arn]
    pre = [c for c in calls if c["stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"]
    at = [c for c in calls if c["stage"] == "PRODUCTION_TRAFFIC_SHIFT"]
    assert [c["prod"].get("api-green", 0) for c in pre] == [0, 25, 50, 75]
    assert [c["prod"].get("api-green", 0) for c in at] == [25, 50, 75, 100]
    # The gap between a step's PRODUCTION_TRAFFIC_SHIFT hook and the next step's
    # PRE_PRODUCTION_TRAFFIC_SHIFT hook holds the bake under bake_then_hook only.
    gaps = [p["t"] - a["t"] for a, p in zip(at, pre[1:])]
    if order == "bake_then_hook":
        assert all(g >= 0.55 for g in gaps), gaps
    else:
        assert all(g < 0.3 for g in gaps), gaps
    steps = [s["green"] for d in env.snapshot()["deployments"] if d["serviceDeploymentArn"] == arn
             for s in d["productionSteps"]]
    assert steps == [25, 50, 75, 100]


def test_a_failed_pre_production_hook_rolls_back_before_the_next_step(env):
    """ECS-24 + ECS-3: FAILED at the hook before the third step (production at 50): the rule never
    reaches 75, the rollback puts production back on blue."""
    _linear_25(env, bake_minutes=1, stages=("PRE_PRODUCTION_TRAFFIC_SHIFT",))
    env.fake.modes["PRE_PRODUCTION_TRAFFIC_SHIFT"] = lambda f, p, n: {"hookStatus": "FAILED" if n == 3 else "SUCCEEDED"}
    arn = env.deploy()
    d = env.wait(arn, ("ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL"), timeout=30)
    assert d["status"] == "ROLLBACK_SUCCESSFUL", d
    steps = [s["green"] for x in env.snapshot()["deployments"] if x["serviceDeploymentArn"] == arn
             for s in x["productionSteps"]]
    assert steps == [25, 50]
    live = env.fake.live("prod")
    assert live.get("api-blue") == 100 and live.get("api-green", 0) == 0, live


@pytest.mark.parametrize("stage", ["bake_time", "production_traffic_shift"])
def test_lifecycle_stage_between_production_steps_switch(env, stage):
    """ECS-26 (ecs_step_stage): what DescribeServiceDeployments reports during a step's bake."""
    env.sb.ecs_sim.cfg.ecs_step_stage = stage
    # 15 sandbox minutes = 3 s a step: polls slowed by a loaded machine (CI runs the Rust lane beside
    # this suite) still land inside a bake (3 minutes, 0.6 s, were missed there once)
    _linear_25(env, bake_minutes=15, stages=("POST_SCALE_UP",))
    arn = env.deploy()
    seen = set()
    end = time.time() + 60
    while time.time() < end:
        d = env.deployment(arn)
        if d["status"] != "IN_PROGRESS":
            break
        green = env.fake.live("prod").get("api-green", 0)
        if 0 < green < 100:
            seen.add(d.get("lifecycleStage"))
        time.sleep(0.05)
    want = "BAKE_TIME" if stage == "bake_time" else "PRODUCTION_TRAFFIC_SHIFT"
    assert want in seen and seen <= {"BAKE_TIME", "PRODUCTION_TRAFFIC_SHIFT"}, seen
    if stage == "production_traffic_shift":
        assert "BAKE_TIME" not in seen, seen


def _pause_at(env, stage="POST_TEST_TRAFFIC_SHIFT", minutes=100, action="ROLLBACK"):
    dc = env.describe_service()["deploymentConfiguration"]
    dc["lifecycleHooks"] = [{"targetType": "PAUSE", "lifecycleStages": [stage],
                             "timeoutConfiguration": {"timeoutInMinutes": minutes, "action": action}}]
    env.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)


def _awaiting(env, arn, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        hooks = [h for h in env.deployment(arn).get("lifecycleHookDetails") or []
                 if h.get("targetType") == "PAUSE" and h["status"] == "AWAITING_ACTION"]
        if hooks:
            return hooks[0]
        time.sleep(0.05)
    raise AssertionError(f"no pause hook awaiting action: {env.deployment(arn)}")


@pytest.mark.parametrize("action", ["CONTINUE", "ROLLBACK"])
def test_a_pause_hook_holds_until_continue_service_deployment(env, action):
    """ECS-27: the deployment waits at the stage with the hook AWAITING_ACTION, then goes on or rolls back."""
    _pause_at(env)
    arn = env.deploy()
    hook = _awaiting(env, arn)
    assert hook["hookId"].startswith("ecs-pause-") and hook["timeoutAction"] == "ROLLBACK" and "expiresAt" in hook
    time.sleep(0.5)
    d = env.deployment(arn)
    assert d["status"] == "IN_PROGRESS" and d["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT", d
    events = [e for x in env.snapshot()["deployments"] if x["serviceDeploymentArn"] == arn for e in x["pauseEvents"]]
    assert [e["eventName"] for e in events] == ["HOOK_AWAITING_ACTION"] and events[0]["hookId"] == hook["hookId"]
    env.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action=action)
    d = env.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=30)
    assert d["status"] == ("SUCCESSFUL" if action == "CONTINUE" else "ROLLBACK_SUCCESSFUL"), d
    with pytest.raises(ClientError) as e:   # answered: no longer AWAITING_ACTION
        env.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


@pytest.mark.parametrize("action", ["CONTINUE", "ROLLBACK"])
def test_a_pause_hook_times_out_with_its_action(env, action):
    """ECS-27 + ECS-19: a pause hook nobody answers takes its timeoutConfiguration.action."""
    _pause_at(env, minutes=2, action=action)   # 2 x 0.2 s
    arn = env.deploy()
    d = env.wait(arn, ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"), timeout=30)
    assert d["status"] == ("SUCCESSFUL" if action == "CONTINUE" else "ROLLBACK_SUCCESSFUL"), d


def test_a_pause_hook_at_a_traffic_shift_stage_is_refused(env):
    """ECS-28."""
    with pytest.raises(ClientError) as e:
        _pause_at(env, stage="PRODUCTION_TRAFFIC_SHIFT")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "PAUSE hooks cannot be configured" in e.value.response["Error"]["Message"]
