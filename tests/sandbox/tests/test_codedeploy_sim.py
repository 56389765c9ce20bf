"""The CodeDeploy ECS blue/green simulator, driven through boto3 against a real moto."""
import time

import pytest
from botocore.exceptions import ClientError

ALL_HOOKS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


def err_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_lifecycle_order_hooks_and_success(sandbox):
    sb, c, stub = sandbox
    blue_ts = c.task_sets()[0]
    did = c.start_deployment("example/web:v2", hooks=ALL_HOOKS)
    info = c.wait_for_status(did, "Succeeded", timeout=30)

    # hooks ran once each, in AWS's documented order, with distinct opaque ids
    assert stub.events(did) == list(ALL_HOOKS)
    ids = [x["execution_id"] for x in stub.calls]
    assert len(set(ids)) == 5 and all(len(i) >= 32 for i in ids)
    by = {x["event"]: x for x in stub.calls}
    # no replacement before Install; green exists from AfterInstall on
    assert "Green" not in by["BeforeInstall"]["task_sets"]
    assert by["AfterInstall"]["task_sets"]["Green"]["targetGroup"]["name"] == "web-green"
    assert by["AfterInstall"]["test"] == {"web-blue": 100, "web-green": 0}
    # test traffic moved to green before AfterAllowTestTraffic; production untouched until AllowTraffic
    assert by["AfterAllowTestTraffic"]["test"] == {"web-blue": 0, "web-green": 100}
    assert by["BeforeAllowTraffic"]["prod"] == {"web-blue": 100, "web-green": 0}
    assert by["BeforeAllowTraffic"]["task_sets"]["Blue"]["trafficWeight"] == 100.0
    assert by["AfterAllowTraffic"]["prod"] == {"web-blue": 0, "web-green": 100}
    assert by["AfterAllowTraffic"]["task_sets"]["Green"]["trafficWeight"] == 100.0
    assert by["AfterAllowTraffic"]["task_sets"]["Blue"]["identifer"] == blue_ts["id"]

    # end state, read through AWS APIs
    assert all(v == "Succeeded" for v in c.events(did).values())
    sets = c.task_sets()
    assert [(t["status"], t["image"], t["target_group"]) for t in sets] == [("PRIMARY", "example/web:v2", "web-green")]
    assert c.target_health("web-blue") == []
    assert c.target_health("web-green") == ["healthy", "healthy"]
    assert "content" not in info["revision"]["appSpecContent"]
    rev = c.codedeploy.get_application_revision(applicationName="web", revision=info["revision"])
    assert rev["revision"]["appSpecContent"]["content"].startswith("version")
    grp = c.codedeploy.get_deployment_group(applicationName="web", deploymentGroupName="web-prod")["deploymentGroupInfo"]
    assert grp["lastSuccessfulDeployment"]["deploymentId"] == did
    assert c.codedeploy.list_deployment_targets(deploymentId=did)["targetIds"] == ["demo:web"]
    assert c.codedeploy.list_deployments(applicationName="web", deploymentGroupName="web-prod")["deployments"] == [did]


def test_groups_alternate_between_deployments(sandbox):
    sb, c, stub = sandbox
    d1 = c.start_deployment("example/web:v2", hooks=())
    c.wait_for_status(d1, "Succeeded", timeout=30)
    d2 = c.start_deployment("example/web:v3", hooks=("BeforeAllowTraffic",))
    c.wait_for_status(d2, "Succeeded", timeout=30)
    rec = stub.calls[-1]
    assert rec["task_sets"]["Green"]["targetGroup"]["name"] == "web-blue"
    assert rec["task_sets"]["Blue"]["targetGroup"]["name"] == "web-green"
    assert rec["test"] == {"web-blue": 100, "web-green": 0}
    assert c.listener_weights(80) == {"web-blue": 100, "web-green": 0}
    assert [(t["status"], t["image"]) for t in c.task_sets()] == [("PRIMARY", "example/web:v3")]


def _shift_then(status):
    def act(stub, payload, event):
        # hookline would have shifted part of production to green before failing
        lst = stub.client.listener_arn(80)
        tgs = {t["TargetGroupName"]: t["TargetGroupArn"] for t in stub.client.elbv2.describe_target_groups()["TargetGroups"]}
        stub.client.elbv2.modify_listener(ListenerArn=lst, DefaultActions=[{"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": tgs["web-blue"], "Weight": 50},
                             {"TargetGroupArn": tgs["web-green"], "Weight": 50}]}}])
        if status:
            stub.client.put_hook_status(payload["DeploymentId"], payload["LifecycleEventHookExecutionId"], status)
    return act


@pytest.mark.parametrize("restore", ["own_changes", "snapshot"])
def test_hook_failure_rolls_back_to_blue(sandbox, restore):
    sb, c, stub = sandbox
    c.config(rollback_restore=restore)
    stub.modes["BeforeAllowTraffic"] = _shift_then("Failed")
    did = c.start_deployment("example/web:v2")
    info = c.wait_for_status(did, "Failed", timeout=30)
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    rb_id = info["rollbackInfo"]["rollbackDeploymentId"]
    rb = c.wait_for_status(rb_id, "Succeeded", timeout=30)
    assert rb["creator"] == "codeDeployRollback"
    assert rb["rollbackInfo"]["rollbackTriggeringDeploymentId"] == did
    ev = c.events(did)
    assert ev["BeforeAllowTraffic"] == "Failed" and ev["AllowTraffic"] == "Skipped" and ev["AfterAllowTraffic"] == "Skipped"
    assert stub.events(did) == ["BeforeAllowTraffic"]  # AfterAllowTraffic never invoked
    if restore == "snapshot":
        # production restored exactly as at deployment start
        assert c.listener_weights(80) == {"web-blue": 100, "web-green": 0}
    else:
        # AllowTraffic never ran: CodeDeploy does not repair the hook's own 50/50 shift (U5)
        assert c.listener_weights(80) == {"web-blue": 50, "web-green": 50}
    # test listener back to blue (AllowTestTraffic was CodeDeploy's own change), green removed, blue primary
    assert c.listener_weights(8080) == {"web-blue": 100, "web-green": 0}
    assert [(t["status"], t["image"]) for t in c.task_sets()] == [("PRIMARY", "example/web:v1")]
    assert c.target_health("web-green") == []
    # a new deployment is possible afterwards
    stub.modes.clear()
    d2 = c.start_deployment("example/web:v3", hooks=())
    c.wait_for_status(d2, "Succeeded", timeout=30)


def test_hook_timeout_fails_with_timeout_code(sandbox):
    sb, c, stub = sandbox
    c.config(hook_timeout_s=1.0)
    stub.modes["BeforeAllowTraffic"] = "ignore"
    did = c.start_deployment("example/web:v2")
    info = c.wait_for_status(did, "Failed", timeout=20)
    assert info["errorInformation"]["code"] == "TIMEOUT"
    assert c.events(did)["BeforeAllowTraffic"] == "Failed"
    eid = stub.calls[0]["execution_id"]
    with pytest.raises(ClientError) as e:
        c.put_hook_status(did, eid, "Succeeded")
    assert err_code(e) == "LifecycleEventAlreadyCompletedException"
    assert [(t["status"], t["image"]) for t in c.task_sets()] == [("PRIMARY", "example/web:v1")]


def test_put_lifecycle_status_errors(sandbox):
    sb, c, stub = sandbox
    stub.modes["BeforeAllowTraffic"] = "ignore"
    did = c.start_deployment("example/web:v2")
    c.wait_for_event(did, "BeforeAllowTraffic", "InProgress", timeout=20)
    for _ in range(50):
        if stub.calls:
            break
        time.sleep(0.1)
    eid = stub.calls[0]["execution_id"]
    with pytest.raises(ClientError) as e:
        c.put_hook_status(did, eid, "InProgress")
    assert err_code(e) == "InvalidLifecycleEventHookExecutionStatusException"
    with pytest.raises(ClientError) as e:
        c.put_hook_status(did, "bm90LWFuLWlk", "Succeeded")
    assert err_code(e) == "InvalidLifecycleEventHookExecutionIdException"
    with pytest.raises(ClientError) as e:
        c.put_hook_status("d-NOPE12345", eid, "Succeeded")
    assert err_code(e) == "DeploymentDoesNotExistException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert c.put_hook_status(did, eid, "Succeeded")["lifecycleEventHookExecutionId"] == eid
    with pytest.raises(ClientError) as e:
        c.put_hook_status(did, eid, "Failed")
    assert err_code(e) == "LifecycleEventAlreadyCompletedException"
    c.wait_for_status(did, "Succeeded", timeout=30)


@pytest.mark.parametrize("restore", ["own_changes", "snapshot"])
def test_stop_with_rollback_restores_blue(sandbox, restore):
    sb, c, stub = sandbox
    c.config(rollback_restore=restore)
    stub.modes["BeforeAllowTraffic"] = _shift_then(None)
    did = c.start_deployment("example/web:v2")
    c.wait_for_event(did, "BeforeAllowTraffic", "InProgress", timeout=20)
    for _ in range(50):
        if stub.calls and c.listener_weights(80)["web-green"] == 50:
            break
        time.sleep(0.1)
    assert c.listener_weights(80) == {"web-blue": 50, "web-green": 50}
    out = c.codedeploy.stop_deployment(deploymentId=did, autoRollbackEnabled=True)
    assert out["status"] == "Pending"
    info = c.wait_for_status(did, "Stopped", timeout=20)
    assert info["errorInformation"]["code"] == "MANUAL_STOP"
    c.wait_for_status(info["rollbackInfo"]["rollbackDeploymentId"], "Succeeded", timeout=20)
    want = {"web-blue": 100, "web-green": 0} if restore == "snapshot" else {"web-blue": 50, "web-green": 50}
    assert c.listener_weights(80) == want
    assert c.listener_weights(8080) == {"web-blue": 100, "web-green": 0}
    assert [(t["status"], t["image"]) for t in c.task_sets()] == [("PRIMARY", "example/web:v1")]
    with pytest.raises(ClientError) as e:
        c.put_hook_status(did, stub.calls[0]["execution_id"], "Failed")
    assert err_code(e) == "LifecycleEventAlreadyCompletedException"
    with pytest.raises(ClientError) as e:
        c.codedeploy.stop_deployment(deploymentId=did)
    assert err_code(e) == "DeploymentAlreadyCompletedException"


def test_termination_wait_and_continue(sandbox):
    sb, c, stub = sandbox
    c.config(termination_wait_s=120)
    did = c.start_deployment("example/web:v2", hooks=("AfterAllowTraffic",))
    for _ in range(100):
        if c.deployment(did).get("instanceTerminationWaitTimeStarted"):
            break
        time.sleep(0.1)
    info = c.deployment(did)
    assert info["status"] == "InProgress" and info["instanceTerminationWaitTimeStarted"] is True
    assert sorted(t["status"] for t in c.task_sets()) == ["ACTIVE", "PRIMARY"]
    assert c.primary_image() == "example/web:v2"
    with pytest.raises(ClientError) as e:
        c.codedeploy.continue_deployment(deploymentId=did, deploymentWaitType="READY_WAIT")
    assert err_code(e) == "DeploymentIsNotInReadyStateException"
    c.codedeploy.continue_deployment(deploymentId=did, deploymentWaitType="TERMINATION_WAIT")
    c.wait_for_status(did, "Succeeded", timeout=10)
    assert [t["image"] for t in c.task_sets()] == ["example/web:v2"]


def test_one_active_deployment_per_group_and_validation(sandbox):
    sb, c, stub = sandbox
    stub.modes["BeforeAllowTraffic"] = "ignore"
    did = c.start_deployment("example/web:v2")
    with pytest.raises(ClientError) as e:
        c.start_deployment("example/web:v3")
    assert err_code(e) == "DeploymentLimitExceededException"
    with pytest.raises(ClientError) as e:
        c.codedeploy.create_deployment(applicationName="web", deploymentGroupName="nope", revision={
            "revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}})
    assert err_code(e) == "DeploymentGroupDoesNotExistException"
    with pytest.raises(ClientError) as e:
        c.codedeploy.get_deployment(deploymentId="d-XXXXXXXXX")
    assert err_code(e) == "DeploymentDoesNotExistException"
    c.codedeploy.stop_deployment(deploymentId=did, autoRollbackEnabled=False)
    info = c.wait_for_status(did, "Stopped", timeout=10)
    assert "rollbackInfo" not in info
    with pytest.raises(ClientError) as e:
        c.codedeploy.create_deployment(applicationName="web", deploymentGroupName="web-prod", revision={
            "revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0\nResources: []\n"}})
    assert err_code(e) == "InvalidRevisionException"


def test_time_based_canary_config(sandbox):
    sb, c, stub = sandbox
    c.codedeploy.create_deployment_config(deploymentConfigName="Canary20", computePlatform="ECS", trafficRoutingConfig={
        "type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 20, "canaryInterval": 2}})
    did = c.start_deployment("example/web:v2", hooks=(), fmt="json", deploymentConfigName="Canary20")
    seen = set()
    end = time.time() + 20
    while time.time() < end and c.status(did) not in ("Succeeded", "Failed"):
        seen.add(c.listener_weights(80)["web-green"])
        time.sleep(0.1)
    assert c.status(did) == "Succeeded"
    assert 20 in seen
    assert c.listener_weights(80) == {"web-blue": 0, "web-green": 100}


# ---------------------------------------------------------------- U5 switches
def _tg_arns(client):
    return {t["TargetGroupName"]: t["TargetGroupArn"] for t in client.elbv2.describe_target_groups()["TargetGroups"]}


def _add_rule(client, priority, path, weights, tags=()):
    """A production-listener rule forwarding ``weights`` ({tg name: weight}); returns its ARN."""
    tgs = _tg_arns(client)
    kw = {}
    if tags:
        kw["Tags"] = [{"Key": k, "Value": v} for k, v in tags]
    return client.elbv2.create_rule(
        ListenerArn=client.listener_arn(80), Priority=priority,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}}],
        Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": tgs[n], "Weight": w} for n, w in weights.items()]}}], **kw)["Rules"][0]["RuleArn"]


def _rule_weights(client, arn):
    r = next(r for r in client.rules(80) if r["arn"] == arn)
    return {k: v for k, v in r["weights"].items() if v}


@pytest.mark.parametrize("scope", ["default_action", "listener_rules"])
def test_allow_traffic_scope(sandbox, scope):
    sb, c, stub = sandbox
    c.config(allow_traffic_scope=scope)
    rule = _add_rule(c, 10, "/api/*", {"web-blue": 1})
    did = c.start_deployment("example/web:v2", hooks=())
    c.wait_for_status(did, "Succeeded", timeout=30)
    assert c.listener_weights(80) == {"web-blue": 0, "web-green": 100}
    if scope == "default_action":
        assert _rule_weights(c, rule) == {"web-blue": 100}   # rules are never touched
    else:
        assert _rule_weights(c, rule) == {"web-green": 100}


def test_switches_default_to_the_pessimistic_choice_and_reject_bad_values(sandbox):
    sb, c, stub = sandbox
    from sim.codedeploy.api import SimConfig
    cfg = SimConfig()
    assert (cfg.allow_traffic_scope, cfg.rollback_restore) == ("default_action", "own_changes")
    with pytest.raises(RuntimeError) as e:
        c.config(allow_traffic_scope="rules")
    assert "allow_traffic_scope" in str(e.value)
    with pytest.raises(RuntimeError) as e:
        c.config(rollback_restore="everything")
    assert "rollback_restore" in str(e.value)
    with pytest.raises(ValueError):
        SimConfig(rollback_restore="nope")


def _shift_rules_then_fail(pre_rule):
    """AfterAllowTraffic: hookline-like changes after CodeDeploy's AllowTraffic (a pre-existing
    rule shifted 30/70 and a new tagged cohort rule to green), then Failed."""
    def act(stub, payload, event):
        cl = stub.client
        tgs = _tg_arns(cl)
        cl.elbv2.modify_rule(RuleArn=pre_rule, Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": tgs["web-blue"], "Weight": 70}, {"TargetGroupArn": tgs["web-green"], "Weight": 30}]}}])
        stub.new_rule = _add_rule(cl, 5, "/cohort/*", {"web-green": 1}, tags=[("hookline:managed", "cohort")])
        cl.put_hook_status(payload["DeploymentId"], payload["LifecycleEventHookExecutionId"], "Failed")
    return act


@pytest.mark.parametrize("scope,restore", [("default_action", "own_changes"), ("default_action", "snapshot"),
                                           ("listener_rules", "own_changes")])
def test_rollback_after_allow_traffic(sandbox, scope, restore):
    sb, c, stub = sandbox
    c.config(allow_traffic_scope=scope, rollback_restore=restore)
    pre = _add_rule(c, 10, "/api/*", {"web-blue": 1})
    stub.modes["AfterAllowTraffic"] = _shift_rules_then_fail(pre)
    did = c.start_deployment("example/web:v2", hooks=("AfterAllowTraffic",))
    info = c.wait_for_status(did, "Failed", timeout=30)
    c.wait_for_status(info["rollbackInfo"]["rollbackDeploymentId"], "Succeeded", timeout=30)
    # AllowTraffic ran: its default-action change goes back to blue in every setting
    assert c.listener_weights(80) == {"web-blue": 100, "web-green": 0}
    assert c.listener_weights(8080) == {"web-blue": 100, "web-green": 0}
    # a rule created during the deployment is never removed by CodeDeploy
    assert _rule_weights(c, stub.new_rule) == {"web-green": 100}
    if restore == "snapshot":
        assert _rule_weights(c, pre) == {"web-blue": 100}            # restored as at start
    elif scope == "listener_rules":
        assert _rule_weights(c, pre) == {"web-blue": 100}            # AllowTraffic's own rule change undone
    else:
        assert _rule_weights(c, pre) == {"web-blue": 70, "web-green": 30}   # not CodeDeploy's change: left
    assert [(t["status"], t["image"]) for t in c.task_sets()] == [("PRIMARY", "example/web:v1")]


# ---------------------------------------------------------------- hook invocation and report records
def test_hooks_are_one_async_invoke_each(sandbox):
    sb, c, stub = sandbox
    posts = []
    real_post = sb.sim.engine.http.post

    def spy(url, **kw):
        r = real_post(url, **kw)
        posts.append((url, dict(kw.get("headers") or {}), r.status_code))
        return r

    sb.sim.engine.http.post = spy
    stub.modes["BeforeAllowTraffic"] = "fail"      # a function error must not make the simulator re-invoke
    c.config(hook_invoke_retries=2, hook_retry_delay_s=0.1)  # moved to the Lambda layer: ignored here
    did = c.start_deployment("example/web:v2")
    c.wait_for_status(did, "Failed", timeout=30)
    hook_posts = [p for p in posts if "/functions/" in p[0]]
    assert len(hook_posts) == 1, hook_posts
    url, headers, status = hook_posts[0]
    assert headers.get("X-Amz-Invocation-Type") == "Event" and status == 202
    assert url.endswith("/functions/hook/invocations")


def test_failed_report_records_production_at_that_moment(sandbox):
    sb, c, stub = sandbox
    pre = _add_rule(c, 10, "/api/*", {"web-blue": 1})

    def shift_tag_fail(stub, payload, event):
        _shift_then(None)(stub, payload, event)     # default action 50/50
        _add_rule(stub.client, 5, "/cohort/*", {"web-green": 1}, tags=[("hookline:managed", "cohort")])
        stub.client.put_hook_status(payload["DeploymentId"], payload["LifecycleEventHookExecutionId"], "Failed")

    stub.modes["BeforeAllowTraffic"] = shift_tag_fail
    did = c.start_deployment("example/web:v2")
    c.wait_for_status(did, "Failed", timeout=30)
    eid = stub.calls[0]["execution_id"]
    with pytest.raises(ClientError):
        c.put_hook_status(did, eid, "Succeeded")    # a late report: logged, not accepted, no snapshot
    state = c._ctl("GET", "/codedeploy")
    (h,) = state["hooks"][did]
    log = h["report_log"]
    assert [(r["status"], r["accepted"]) for r in log] == [("Failed", True), ("Succeeded", False)]
    assert log[1]["seq"] == log[0]["seq"] + 1 and state["report_seq"] >= log[1]["seq"]
    assert "production" not in log[1]
    prod = log[0]["production"]
    assert (prod["blue"], prod["green"]) == ("web-blue", "web-green")
    by_rule = {f["rule"]: f for f in prod["forwards"]}
    assert by_rule["default"]["weights"] == {"web-blue": 50.0, "web-green": 50.0}
    assert by_rule[pre]["weights"] == {"web-blue": 100.0} and by_rule[pre]["priority"] == 10
    assert [(m["priority"], m["tags"], m["target_groups"]) for m in prod["managed_rules"]] == \
        [(5, {"hookline:managed": "cohort"}, ["web-green"])]


# ---------------------------------------------------------------- switches of assumed behaviours
# Each switch (SimConfig.CHOICES; source "assumed" in README.md "Sources") under both settings.
def _hook_posts(sb):
    posts = []
    real_post = sb.sim.engine.http.post

    def spy(url, **kw):
        r = real_post(url, **kw)
        if "/functions/" in url:
            posts.append((dict(kw.get("headers") or {}), r.status_code))
        return r

    sb.sim.engine.http.post = spy
    return posts


@pytest.mark.parametrize("mode,header,status", [("event", "Event", 202), ("request_response", "RequestResponse", 200)])
def test_hook_invocation_switch(sandbox, mode, header, status):
    sb, c, stub = sandbox
    posts = _hook_posts(sb)
    c.config(hook_invocation=mode)
    did = c.start_deployment("example/web:v2", hooks=("BeforeAllowTraffic",))
    c.wait_for_status(did, "Succeeded", timeout=30)
    assert [(h.get("X-Amz-Invocation-Type"), s) for h, s in posts] == [(header, status)]
    assert stub.events(did) == ["BeforeAllowTraffic"]


@pytest.mark.parametrize("status", ["Succeeded", "Skipped"])
def test_absent_hook_event_status_switch(sandbox, status):
    sb, c, stub = sandbox
    c.config(absent_hook_event_status=status)
    did = c.start_deployment("example/web:v2", hooks=("BeforeAllowTraffic",))
    c.wait_for_status(did, "Succeeded", timeout=30)
    ev = c.events(did)
    assert [ev[e] for e in ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "AfterAllowTraffic")] == [status] * 4
    assert ev["BeforeAllowTraffic"] == "Succeeded" and ev["AllowTraffic"] == "Succeeded"


@pytest.mark.parametrize("mode", ["already_completed", "accepted"])
def test_report_after_end_switch(sandbox, mode):
    sb, c, stub = sandbox
    c.config(report_after_end=mode)
    stub.modes["BeforeAllowTraffic"] = "ignore"
    did = c.start_deployment("example/web:v2")
    c.wait_for_event(did, "BeforeAllowTraffic", "InProgress", timeout=20)
    for _ in range(50):
        if stub.calls:
            break
        time.sleep(0.1)
    eid = stub.calls[0]["execution_id"]
    c.codedeploy.stop_deployment(deploymentId=did, autoRollbackEnabled=True)
    c.wait_for_status(did, "Stopped", timeout=20)
    if mode == "already_completed":
        with pytest.raises(ClientError) as e:
            c.put_hook_status(did, eid, "Failed")
        assert err_code(e) == "LifecycleEventAlreadyCompletedException"
    else:
        assert c.put_hook_status(did, eid, "Failed")["lifecycleEventHookExecutionId"] == eid
    # either way nothing changes: the stop stays the outcome, the report is not accepted
    assert c.deployment(did)["status"] == "Stopped"
    (h,) = c._ctl("GET", "/codedeploy")["hooks"][did]
    assert h["status"] is None and [r["accepted"] for r in h["report_log"]] == [False]
    # a hook already answered is refused in both settings (CD-REPORT-ONCE)
    did2 = c.start_deployment("example/web:v3", hooks=("AfterAllowTraffic",))
    c.wait_for_status(did2, "Succeeded", timeout=30)
    with pytest.raises(ClientError) as e:
        c.put_hook_status(did2, stub.calls[-1]["execution_id"], "Succeeded")
    assert err_code(e) == "LifecycleEventAlreadyCompletedException"


def test_termination_wait_status_succeeded(sandbox):
    sb, c, stub = sandbox
    c.config(termination_wait_status="Succeeded", termination_wait_s=3)
    did = c.start_deployment("example/web:v2", hooks=("AfterAllowTraffic",))
    info = c.wait_for_status(did, "Succeeded", timeout=30)
    assert info["instanceTerminationWaitTimeStarted"] is True
    # Succeeded while blue still waits for deletion; the group takes no deployment meanwhile
    assert sorted(t["status"] for t in c.task_sets()) == ["ACTIVE", "PRIMARY"]
    with pytest.raises(ClientError) as e:
        c.start_deployment("example/web:v3", hooks=())
    assert err_code(e) == "DeploymentLimitExceededException"
    for _ in range(100):
        if len(c.task_sets()) == 1:
            break
        time.sleep(0.1)
    assert [(t["status"], t["image"]) for t in c.task_sets()] == [("PRIMARY", "example/web:v2")]
    assert c.target_health("web-blue") == []
    d2 = c.start_deployment("example/web:v3", hooks=())
    c.wait_for_status(d2, "Succeeded", timeout=30)


@pytest.mark.parametrize("mode,rolls_back", [("group_config", True), ("no_rollback", False)])
def test_stop_rollback_default_switch(sandbox, mode, rolls_back):
    sb, c, stub = sandbox
    c.config(stop_rollback_default=mode)
    stub.modes["BeforeAllowTraffic"] = "ignore"
    did = c.start_deployment("example/web:v2")   # the demo group rolls back on DEPLOYMENT_STOP_ON_REQUEST
    c.wait_for_event(did, "BeforeAllowTraffic", "InProgress", timeout=20)
    out = c.codedeploy.stop_deployment(deploymentId=did)
    assert out["status"] == ("Pending" if rolls_back else "Succeeded")
    info = c.wait_for_status(did, "Stopped", timeout=20)
    assert bool(info.get("rollbackInfo")) is rolls_back
    if rolls_back:
        c.wait_for_status(info["rollbackInfo"]["rollbackDeploymentId"], "Succeeded", timeout=20)
        assert [t["image"] for t in c.task_sets()] == ["example/web:v1"]
    else:
        assert sorted(t["image"] for t in c.task_sets()) == ["example/web:v1", "example/web:v2"]


@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_list_deployments_order_switch(sandbox, order):
    sb, c, stub = sandbox
    c.config(list_deployments_order=order)
    ids = []
    for image in ("example/web:v2", "example/web:v3"):
        ids.append(c.start_deployment(image, hooks=()))
        c.wait_for_status(ids[-1], "Succeeded", timeout=30)
    got = c.codedeploy.list_deployments(applicationName="web", deploymentGroupName="web-prod")["deployments"]
    assert got == (ids if order == "oldest_first" else ids[::-1])


@pytest.mark.parametrize("ident", ["id", "arn"])
def test_task_set_identifier_switch(sandbox, ident):
    sb, c, stub = sandbox
    c.config(task_set_identifier=ident)
    blue = c.task_sets()[0]
    did = c.start_deployment("example/web:v2", hooks=("BeforeAllowTraffic",))
    c.wait_for_status(did, "Succeeded", timeout=30)
    got = stub.calls[0]["task_sets"]["Blue"]["identifer"]
    assert got == (blue["id"] if ident == "id" else blue["arn"]), (got, blue)


@pytest.mark.parametrize("mode", ["at_create", "at_deployment"])
def test_appspec_validation_switch(sandbox, mode):
    sb, c, stub = sandbox
    c.config(appspec_validation=mode)
    rev = {"revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0\nResources: []\n"}}
    if mode == "at_create":
        with pytest.raises(ClientError) as e:
            c.codedeploy.create_deployment(applicationName="web", deploymentGroupName="web-prod", revision=rev)
        assert err_code(e) == "InvalidRevisionException"
        return
    did = c.codedeploy.create_deployment(applicationName="web", deploymentGroupName="web-prod",
                                         revision=rev)["deploymentId"]
    info = c.wait_for_status(did, "Failed", timeout=20)
    assert info["errorInformation"]["code"] == "INVALID_REVISION" and not info.get("rollbackInfo")
    assert [t["image"] for t in c.task_sets()] == ["example/web:v1"] and stub.calls == []


@pytest.mark.parametrize("mode", ["no", "yes"])
def test_rollback_runs_hooks_switch(sandbox, mode):
    sb, c, stub = sandbox
    c.config(rollback_runs_hooks=mode)
    answered = []

    def fail_first(stub, payload, event):   # the deployment's hook fails, the rollback's succeed
        answered.append(payload["DeploymentId"])
        stub.client.put_hook_status(payload["DeploymentId"], payload["LifecycleEventHookExecutionId"],
                                    "Failed" if len(answered) == 1 else "Succeeded")

    stub.modes["BeforeAllowTraffic"] = fail_first
    did = c.start_deployment("example/web:v2")
    info = c.wait_for_status(did, "Failed", timeout=30)
    rb = info["rollbackInfo"]["rollbackDeploymentId"]
    c.wait_for_status(rb, "Succeeded", timeout=30)
    rb_calls = [x["event"] for x in stub.calls if x["deployment_id"] == rb]
    if mode == "no":
        assert rb_calls == []
        assert set(c.events(rb).values()) == {"Skipped", "Succeeded"}
    else:
        assert rb_calls == ["BeforeAllowTraffic", "AfterAllowTraffic"]
        ev = c.events(rb)
        assert (ev["BeforeAllowTraffic"], ev["AllowTraffic"], ev["AfterAllowTraffic"]) == ("Succeeded",) * 3
    assert c.listener_weights(80) == {"web-blue": 100, "web-green": 0}
    assert [t["image"] for t in c.task_sets()] == ["example/web:v1"]
