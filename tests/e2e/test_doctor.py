"""`hookline doctor` against the sandbox (issue 20 part D).

Doctor passes on the demo services ``web`` (CodeDeploy) and ``api`` (ECS-native), makes no mutating
call (the router's call counter), prints the documented ``--json`` shape, and names the fault in each
broken setup made here through AWS APIs (each restored afterwards): a missing POST_TEST_TRAFFIC_SHIFT
hook, a hook timeout shorter than the plan's budget plus the rollback reserve, strategy LINEAR, an
alarm the plan names that does not exist, a plan invalid for its controller, production split 90/10
with no deployment, production on the group CodeDeploy does not serve, a function role without a
grant, no room for a cohort rule before the production rule, state machines of another prefix; and
the judge's metrics are looked up per target group.
"""
import copy
import json
import os
import subprocess
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "debug", "hookline")
WEB = ("--application", "web", "--group", "web-prod")
API = ("--cluster", "demo", "--service", "api")
# Operation name prefixes of calls that change something (AWS's verbs); doctor makes none.
MUTATING = ("Create", "Put", "Modify", "Delete", "Update", "Register", "Deregister", "Start", "Stop", "Set",
            "Add", "Remove", "Tag", "Untag", "Attach", "Detach", "Send", "Publish", "Invoke", "Continue",
            "Reroute", "Rollback")


@pytest.fixture
def doctor(sb):
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} missing: run `cargo build -p hookline-cli` (make e2e builds it)")
    env = sb.env()
    env.pop("HOOKLINE_STATE_MACHINE_PREFIX", None)
    # The sandbox runs the functions under their binary names: the hook function is `hook`.
    env["HOOKLINE_HOOK_FUNCTION"] = "hook"

    def run(*args):
        r = subprocess.run([BIN, "doctor", *args], env=env, capture_output=True, text=True, timeout=120)
        return r

    def json_of(*args):
        r = run(*args, "--json")
        assert r.stderr == "", r.stderr
        return r.returncode, json.loads(r.stdout)

    run.json = json_of
    return run


def checks(report):
    return [dict(c, group=g["name"]) for g in report["groups"] for c in g["checks"]]


def failing(report):
    return [c for c in checks(report) if c["status"] == "fail"]


def assert_only_fault(doctor, target, check, *words):
    """doctor exits 1 and FAILs exactly ``check`` (whose detail or fix holds each of ``words``); the
    human form says FAIL on that check's line."""
    code, report = doctor.json(*target)
    fails = failing(report)
    assert code == 1 and report["ok"] is False, report
    assert [c["check"] for c in fails] == [check], json.dumps(fails, indent=1)
    text = fails[0]["detail"] + " " + (fails[0].get("fix") or "")
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"
    r = doctor(*target)
    assert r.returncode == 1
    assert any(line.strip().startswith(f"FAIL  {check}: ") for line in r.stdout.splitlines()), r.stdout
    return fails[0]


@pytest.fixture
def api_restored(sb):
    """The ``api`` service's deployment configuration, production rule and plan, put back after the test."""
    ecs, elb, ssm = sb.client("ecs"), sb.client("elbv2"), sb.client("ssm")
    svc = ecs.describe_services(cluster="demo", services=["api"])["services"][0]
    dc = copy.deepcopy(svc["deploymentConfiguration"])
    rule = svc["loadBalancers"][0]["advancedConfiguration"]["productionListenerRule"]
    actions = elb.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"]
    plan = ssm.get_parameter(Name="/hookline/ecs/demo/api")["Parameter"]["Value"]
    yield {"ecs": ecs, "elb": elb, "ssm": ssm, "service": copy.deepcopy(svc), "rule": rule, "actions": actions}
    ecs.update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    elb.modify_rule(RuleArn=rule, Actions=actions)
    ssm.put_parameter(Name="/hookline/ecs/demo/api", Value=plan, Type="String", Overwrite=True)


@pytest.fixture
def web_plan_restored(sb):
    ssm = sb.client("ssm")
    plan = ssm.get_parameter(Name="/hookline/web/web-prod")["Parameter"]["Value"]
    yield ssm
    ssm.put_parameter(Name="/hookline/web/web-prod", Value=plan, Type="String", Overwrite=True)


@pytest.mark.parametrize("target", [WEB, API], ids=["web", "api"])
def test_doctor_passes_on_the_demo_services_without_a_mutating_call(sb, doctor, target):
    sb.reset_calls()
    r = doctor(*target)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [line for line in r.stdout.splitlines() if line.startswith("  FAIL  ")], r.stdout
    assert r.stdout.rstrip().endswith("0 FAIL: ready for hookline"), r.stdout
    code, report = doctor.json(*target)
    assert code == 0 and report["ok"] is True and report["counts"]["fail"] == 0, report
    calls = sb.calls()["calls"]
    made = sorted(f"{svc}.{op}" for svc, ops in calls.items() for op in ops)
    mutating = [c for c in made if c.split(".", 1)[1].startswith(MUTATING) and not c.startswith("sqs.")]
    assert mutating == [], f"doctor made mutating calls: {mutating} (all: {made})"
    # It did look: the controller, the listener rules, alarms, the plan and the roles' policies.
    for expected in ("states.ListStateMachines", "ssm.GetParameter", "monitoring.DescribeAlarms", "elasticloadbalancing.DescribeRules",
                     "iam.ListRoles", "iam.GetRolePolicy"):
        assert expected in made, f"{expected} not called: {made}"


def test_doctor_json_is_grouped_checks_with_status_and_fix(doctor):
    code, report = doctor.json(*API)
    assert code == 0
    assert set(report) == {"target", "controller", "ok", "strict", "counts", "groups"}
    assert (report["target"], report["controller"]) == ("ECS demo/api", "ecs")
    assert [g["name"] for g in report["groups"]] == ["hookline", "configuration", "traffic", "alarms", "plan",
                                                     "permissions"]
    for c in checks(report):
        assert set(c) - {"fix"} == {"status", "check", "detail", "group"} and c["status"] in ("ok", "warn", "fail")
        assert ("fix" in c) == (c["status"] != "ok"), c
    names = [c["check"] for c in checks(report)]
    for n in ("state machine hookline-canary", "state machine hookline-post-traffic",
              "lifecycle hook POST_TEST_TRAFFIC_SHIFT", "hook timeout POST_TEST_TRAFFIC_SHIFT", "production weights",
              "alarm api-5xx", "plan /hookline/ecs/demo/api", "shift-weight role"):
        assert n in names, names
    assert report["counts"]["ok"] == sum(1 for c in checks(report) if c["status"] == "ok")


def test_missing_post_test_traffic_shift_hook(doctor, api_restored):
    dc = api_restored["service"]["deploymentConfiguration"]
    for h in dc["lifecycleHooks"]:
        h["lifecycleStages"] = ["POST_PRODUCTION_TRAFFIC_SHIFT"]
    api_restored["ecs"].update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    assert_only_fault(doctor, API, "lifecycle hook POST_TEST_TRAFFIC_SHIFT",
                      "no lifecycle hook runs hook at POST_TEST_TRAFFIC_SHIFT", "add POST_TEST_TRAFFIC_SHIFT")


def test_hook_timeout_shorter_than_the_plan(doctor, api_restored):
    dc = api_restored["service"]["deploymentConfiguration"]
    for h in dc["lifecycleHooks"]:
        h["timeoutConfiguration"] = {"timeoutInMinutes": 12, "action": "ROLLBACK"}
    api_restored["ecs"].update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    code, report = doctor.json(*API)
    fails = failing(report)
    assert code == 1
    # Both stages run the hook with the 12-minute timeout; the plan needs 10m + 5m.
    assert [c["check"] for c in fails] == ["hook timeout POST_TEST_TRAFFIC_SHIFT",
                                           "hook timeout POST_PRODUCTION_TRAFFIC_SHIFT"], fails
    assert "12m (timeoutConfiguration)" in fails[0]["detail"] and "hook_budget 10m" in fails[0]["detail"]
    assert "timeoutInMinutes to at least 15" in fails[0]["fix"]


def test_alarm_named_by_the_plan_does_not_exist(sb, doctor, api_restored):
    plan = json.loads(api_restored["ssm"].get_parameter(Name="/hookline/ecs/demo/api")["Parameter"]["Value"])
    plan["health"]["alarms"] = ["api-5xx", "api-latency"]
    api_restored["ssm"].put_parameter(Name="/hookline/ecs/demo/api", Value=json.dumps(plan), Type="String",
                                      Overwrite=True)
    assert_only_fault(doctor, API, "alarm api-latency", "does not exist in CloudWatch", "create alarm api-latency")


def test_plan_invalid_for_its_controller(doctor, web_plan_restored):
    plan = {"steps": [{"weight": 10, "bake": "1m"}, {"weight": 100}], "hook_budget": "2h"}
    web_plan_restored.put_parameter(Name="/hookline/web/web-prod", Value=json.dumps(plan), Type="String",
                                    Overwrite=True)
    # 2h is valid for ECS, not for CodeDeploy: the validator names the field.
    assert_only_fault(doctor, WEB, "plan /hookline/web/web-prod", "invalid for codedeploy",
                      "hook_budget: at most 60m", "hookline plan validate")


def test_production_rule_split_with_no_deployment(doctor, api_restored):
    blue = api_restored["service"]["loadBalancers"][0]["targetGroupArn"]
    green = api_restored["service"]["loadBalancers"][0]["advancedConfiguration"]["alternateTargetGroupArn"]
    api_restored["elb"].modify_rule(RuleArn=api_restored["rule"], Actions=[{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": blue, "Weight": 90}, {"TargetGroupArn": green, "Weight": 10}]}}])
    assert_only_fault(doctor, API, "production weights", "api-blue 90% / api-green 10%",
                      "with no deployment in progress", "left split")


def test_production_on_the_group_codedeploy_does_not_serve(sb, doctor):
    """web's primary task set serves web-blue; production 100% on web-green is a fault (sb's cleanup puts
    production back on the primary task set's group)."""
    blue, green = sb.prod_groups()
    tg = sb.elbv2.describe_target_groups(Names=[green])["TargetGroups"][0]["TargetGroupArn"]
    sb.elbv2.modify_listener(ListenerArn=sb.listener_arn(80), DefaultActions=[{"Type": "forward",
                                                                               "TargetGroupArn": tg}])
    try:
        assert_only_fault(doctor, WEB, "production weights", f"100% to {green} but the controller's live group is "
                          f"{blue}", f"forward production 100% to {blue}")
    finally:
        btg = sb.elbv2.describe_target_groups(Names=[blue])["TargetGroups"][0]["TargetGroupArn"]
        sb.elbv2.modify_listener(ListenerArn=sb.listener_arn(80), DefaultActions=[{"Type": "forward",
                                                                                   "TargetGroupArn": btg}])


def test_function_role_without_a_grant(sb, doctor):
    """ShiftWeightRole without its ChangeListenersAndAddRules statement (ModifyListener, CreateRule): web's
    canary could not move production's weights."""
    iam = sb.client("iam")
    name = iam.list_role_policies(RoleName="ShiftWeightRole")["PolicyNames"][0]
    doc = iam.get_role_policy(RoleName="ShiftWeightRole", PolicyName=name)["PolicyDocument"]
    cut = dict(doc, Statement=[s for s in doc["Statement"] if s.get("Sid") != "ChangeListenersAndAddRules"])
    assert len(cut["Statement"]) == len(doc["Statement"]) - 1
    iam.put_role_policy(RoleName="ShiftWeightRole", PolicyName=name, PolicyDocument=json.dumps(cut))
    try:
        fault = assert_only_fault(doctor, WEB, "shift-weight role", "ShiftWeightRole cannot make 1 of its",
                                  "elasticloadbalancing:ModifyListener on arn:aws:elasticloadbalancing:",
                                  "sets production's weights", "ShiftWeightRole in infra/template.yaml")
        assert "CreateRule" not in fault["detail"], "web's plan has no cohort step: CreateRule is not needed"
    finally:
        iam.put_role_policy(RoleName="ShiftWeightRole", PolicyName=name, PolicyDocument=json.dumps(doc))
    code, _ = doctor.json(*WEB)
    assert code == 0, "restored"


def test_judge_metrics_are_looked_up_for_both_target_groups(sb, doctor, api_restored):
    """With `analysis`, each ALB metric must be listed for both of the service's target groups: a series
    with no data (here: before any PutMetricData) is a warning naming the group; once both have data, ok.
    The metric's name is new on every run: CloudWatch (and moto) keep metric data, nothing deletes it."""
    name = f"DoctorProbe{uuid.uuid4().hex[:8]}"
    # Average, not Sum: the judge refuses a volume statistic judged on its own (it scales with the
    # split); a 6m bake leaves min_samples whole 1m periods after ALB's 2m lag.
    plan = {"steps": [{"weight": 10, "bake": "6m"}, {"weight": 100}], "hook_budget": "30m",
            "health": {"interval": "5s", "alarms": ["api-5xx"]},
            "analysis": {"min_samples": 2, "metrics": [{"metric": name, "statistic": "Average",
                                                         "period": "1m", "direction": "increase",
                                                         "tolerance": 0.5}]}}
    api_restored["ssm"].put_parameter(Name="/hookline/ecs/demo/api", Value=json.dumps(plan), Type="String",
                                      Overwrite=True)
    lb = api_restored["service"]["loadBalancers"][0]
    groups = [lb["targetGroupArn"], lb["advancedConfiguration"]["alternateTargetGroupArn"]]
    code, report = doctor.json(*API)
    metrics = [c for c in checks(report) if c["group"] == "metrics"]
    assert code == 0 and failing(report) == [], report
    assert [(c["check"], c["status"]) for c in metrics] == [
        (f"metric {name} Average (target group api-blue)", "warn"),
        (f"metric {name} Average (target group api-green)", "warn")], metrics
    assert "the judge would have no samples" in metrics[0]["detail"]
    balancer = sb.client("elbv2").describe_load_balancers(Names=["demo-api"])["LoadBalancers"][0]["LoadBalancerArn"]
    for tg in groups:
        sb.client("cloudwatch").put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[{
            "MetricName": name, "Value": 1.0,
            "Dimensions": [{"Name": "TargetGroup", "Value": tg.split(":")[-1]},
                           {"Name": "LoadBalancer", "Value": balancer.split(":loadbalancer/")[1]}]}])
    code, report = doctor.json(*API, "--strict")
    metrics = [c for c in checks(report) if c["group"] == "metrics"]
    assert [c["status"] for c in metrics] == ["ok", "ok"], metrics
    assert code == 0, report


def test_no_room_for_the_cohort_rule_before_the_production_rule(sb, doctor):
    """``admin`` runs in rule mode (production rule /admin* at priority 10 on :80). With a cohort step in
    its plan, shift-weight puts the cohort rule right before the production rule: another service's rule
    at priority 9 leaves no room (the cohort rule would shadow it)."""
    ssm, elb = sb.client("ssm"), sb.client("elbv2")
    before = ssm.get_parameter(Name="/hookline/admin/admin-prod")["Parameter"]["Value"]
    plan = json.loads(before)
    plan["steps"] = [{"cohort": {"header": "X-Canary", "values": ["internal"]}}] + plan["steps"]
    ssm.put_parameter(Name="/hookline/admin/admin-prod", Value=json.dumps(plan), Type="String", Overwrite=True)
    target = ("--application", "admin", "--group", "admin-prod")
    foreign = None
    try:
        code, report = doctor.json(*target)
        room = [c for c in checks(report) if c["check"] == "cohort rule priority"]
        assert code == 0 and [(c["status"], c["detail"]) for c in room] == [
            ("ok", "the cohort rule goes at priority 9")], report
        other = elb.describe_target_groups(Names=["web-blue"])["TargetGroups"][0]["TargetGroupArn"]
        foreign = elb.create_rule(ListenerArn=sb.listener_arn(80), Priority=9, Conditions=[
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/reports*"]}}],
            Actions=[{"Type": "forward", "TargetGroupArn": other}])["Rules"][0]["RuleArn"]
        assert_only_fault(doctor, target, "cohort rule priority", "priority 9, right before the production rule (10)",
                          f"taken by rule {foreign}", "leave a free priority right before the production rule")
    finally:
        if foreign:
            elb.delete_rule(RuleArn=foreign)
        ssm.put_parameter(Name="/hookline/admin/admin-prod", Value=before, Type="String", Overwrite=True)


def test_state_machines_named_by_another_prefix_are_missing(sb, doctor):
    """A wrong --state-machine-prefix (or no hookline stack): the hook could start nothing."""
    code, report = doctor.json("--state-machine-prefix", "hookline-staging", *API)
    fails = failing(report)
    assert code == 1, report
    assert [c["check"] for c in fails if c["group"] == "hookline"] == [
        "state machine hookline-staging-canary", "state machine hookline-staging-post-traffic"], fails
    assert "set --state-machine-prefix" in fails[0]["fix"]


def test_linear_strategy_is_named_as_where_hookline_cannot_shift(doctor, api_restored):
    dc = api_restored["service"]["deploymentConfiguration"]
    # Without linearConfiguration (ECS's defaults apply): the sandbox's UpdateService merges
    # deploymentConfiguration's keys, so a key set here could not be taken out again.
    dc["strategy"] = "LINEAR"
    api_restored["ecs"].update_service(cluster="demo", service="api", deploymentConfiguration=dc)
    assert_only_fault(doctor, API, "deployment strategy", "LINEAR: ECS shifts production in its own steps",
                      "hookline's weight steps cannot run there", "gate mode", "set deploymentConfiguration.strategy "
                      "BLUE_GREEN")
