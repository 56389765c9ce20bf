"""`hookline doctor` against the sandbox (issue 20 part D).

Doctor passes on the demo services ``web`` (CodeDeploy) and ``api`` (ECS-native), makes no mutating
call (the router's call counter), prints the documented ``--json`` shape, and names the fault in each
broken setup made here through AWS APIs (each restored afterwards): a missing POST_TEST_TRAFFIC_SHIFT
hook, a hook timeout shorter than the plan's budget plus the rollback reserve, strategy LINEAR, an
alarm the plan names that does not exist, a plan invalid for its controller, production split 90/10
with no deployment, production on the group CodeDeploy does not serve, a function role without a
grant, no room for a cohort rule before the production rule, state machines of another prefix; and
the judge's metrics are looked up per target group.

For hookline's own Route 53 controller (issue 22; ``hookline doctor -e shop -d deployfiles``, the
world the sandbox provisions for it: ``test_dns_canary.py``) doctor passes on that world without a
mutating call, and names each fault broken here through AWS APIs: a third load balancer tagged into
the group, a split weight left behind, records with different TTLs, the live release's record
missing (the idle one's missing only warns), records whose TTL is longer than the bakes allow, a
deployment whose canary execution was stopped behind hookline's back (its release record left
in-progress); and a deployment file whose bake is shorter than the TTL is named by file, line and key.
"""
import copy
import json
import os
import subprocess
import time
import uuid

import pytest

from conftest import sm_arn

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


# ------------------------------------------------------------------ hookline's own Route 53 controller

DEPLOYFILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deployfiles")
DNS = ("-e", "shop", "-d", DEPLOYFILES)
FQDN = "web.shop.example.com."


class DnsRecords:
    """The weighted records of ``web.shop.example.com`` and the release records, through AWS APIs."""

    def __init__(self, sb):
        self.sb = sb
        self.r53, self.ssm = sb.client("route53"), sb.client("ssm")
        zone = [z for z in self.r53.list_hosted_zones_by_name(DNSName="shop.example.com.")["HostedZones"]
                if z["Name"] == "shop.example.com."]
        assert zone, "no hosted zone shop.example.com in the sandbox (tests/sandbox provisions it)"
        self.zone_id = zone[0]["Id"].rsplit("/", 1)[-1]

    def records(self):
        """{SetIdentifier: record} of the fqdn's weighted A records."""
        page = self.r53.list_resource_record_sets(HostedZoneId=self.zone_id, StartRecordName=FQDN,
                                                  StartRecordType="A")
        return {r["SetIdentifier"]: r for r in page["ResourceRecordSets"]
                if r["Name"] == FQDN and r["Type"] == "A" and "SetIdentifier" in r}

    def change(self, *changes):
        self.r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": list(changes)})

    def plain(self, release, weight, ttl):
        """A weighted record of ``release`` with its own value and TTL (not an alias)."""
        return {"Name": FQDN, "Type": "A", "SetIdentifier": release, "Weight": weight, "TTL": ttl,
                "ResourceRecords": [{"Value": "192.0.2.10"}]}

    def clear_release_records(self):
        """Test isolation: other tests' cleanups stop DNS canaries with StopExecution, which leaves
        their release records in-progress (the fault doctor names); start from none."""
        names = []
        for page in self.ssm.get_paginator("get_parameters_by_path").paginate(Path="/hookline/dns"):
            names += [p["Name"] for p in page["Parameters"]]
        for i in range(0, len(names), 10):
            self.ssm.delete_parameters(Names=names[i:i + 10])

    def put_back(self):
        """The world as provisioned: records that are not aliases deleted, then the sandbox's restore
        (records blue 100 / green 0 to INSYNC, only blue's service, at 2 tasks)."""
        plain = [r for r in self.records().values() if "AliasTarget" not in r]
        if plain:
            self.change(*[{"Action": "DELETE", "ResourceRecordSet": r} for r in plain])
        self.sb.restore_route53_world()
        ecs = self.sb.client("ecs")
        end = time.time() + 90
        while time.time() < end:
            services = {s["serviceName"]: s for s in ecs.describe_services(
                cluster="shop", services=["shop-web-blue", "shop-web-green"])["services"] if s["status"] == "ACTIVE"}
            blue = services.get("shop-web-blue")
            if "shop-web-green" not in services and blue and blue["runningCount"] == blue["desiredCount"] == 2 \
                    and len(blue["deployments"]) == 1:
                break
            time.sleep(0.5)
        self.clear_release_records()


@pytest.fixture
def dns(sb):
    d = DnsRecords(sb)
    d.put_back()
    yield d
    for e in sb.sfn.list_executions(stateMachineArn=sm_arn("hookline-canary"), statusFilter="RUNNING")["executions"]:
        if e["name"].startswith("dns-"):
            sb.sfn.stop_execution(executionArn=e["executionArn"], error="E2ECleanup")
    d.put_back()


def test_doctor_passes_on_the_route53_world_without_a_mutating_call(sb, doctor, dns):
    sb.reset_calls()
    r = doctor(*DNS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"hookline doctor: Route 53 web.shop.example.com ({DEPLOYFILES}/shop.deploy.yml)")
    assert r.stdout.rstrip().endswith("0 FAIL: ready for hookline"), r.stdout
    code, report = doctor.json(*DNS, "--strict")
    assert code == 0 and report["controller"] == "route53" and report["counts"]["warn"] == 0, report
    names = [c["check"] for c in checks(report)]
    for n in ("hosted zone", "load balancers", "listener of blue", "listener of green", "service of blue (live)",
              "targets of blue", "service of green (idle)", "release records", "weighted records", "record TTL",
              "record blue target", "record green target", "weights", "alarm shop-web-5xx", "deployment file",
              "bakes", "shift-weight role", "rollback role"):
        assert n in names, names
    calls = sb.calls()["calls"]
    made = sorted(f"{svc}.{op}" for svc, ops in calls.items() for op in ops)
    mutating = [c for c in made if c.split(".", 1)[1].startswith(MUTATING + ("Change",))
                and not c.startswith("sqs.")]
    assert mutating == [], f"doctor made mutating calls: {mutating} (all: {made})"
    for expected in ("route53.ListHostedZonesByName", "route53.ListResourceRecordSets",
                     "elasticloadbalancing.DescribeTags", "elasticloadbalancing.DescribeTargetHealth",
                     "ecs.DescribeServices", "ssm.GetParametersByPath", "iam.GetRolePolicy"):
        assert expected in made, f"{expected} not called: {made}"


def test_route53_a_third_load_balancer_tagged_into_the_group(sb, doctor, dns):
    elb = sb.client("elbv2")
    blue = elb.describe_load_balancers(Names=["r53-private-blue"])["LoadBalancers"][0]
    extra = elb.create_load_balancer(
        Name="r53-private-extra", Subnets=[z["SubnetId"] for z in blue["AvailabilityZones"]],
        SecurityGroups=blue.get("SecurityGroups", []), Type="application",
        Tags=[{"Key": "CanaryGroup", "Value": "private"}, {"Key": "CanaryRelease", "Value": "canary"}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    try:
        assert_only_fault(doctor, DNS, "load balancers", "exactly two load balancers tagged CanaryGroup=private",
                          "found 3", "r53-private-extra (CanaryRelease=canary)",
                          "take the CanaryGroup tag off every load balancer that is not release blue or green")
    finally:
        elb.delete_load_balancer(LoadBalancerArn=extra)
    assert doctor.json(*DNS)[0] == 0, "restored"


def test_route53_a_split_weight_left_behind(doctor, dns):
    records = dns.records()
    dns.change(*[{"Action": "UPSERT", "ResourceRecordSet": dict(records[rel], Weight=w)}
                 for rel, w in (("blue", 90), ("green", 10))])
    code, report = doctor.json(*DNS)
    fails = failing(report)
    assert code == 1, report
    # Both releases take traffic now, so both must serve: green has no service (the world's green is idle).
    assert [c["check"] for c in fails] == ["service of green (live)", "targets of green", "weights"], \
        json.dumps(fails, indent=1)
    assert "shop/shop-web-green does not exist: release green takes the traffic" in fails[0]["detail"]
    assert "blue 90 / green 10 with no deployment in progress: a split left behind" in fails[2]["detail"]
    assert "the one that should serve at 100 and the other at 0" in fails[2]["fix"]
    assert ("service of blue (live)", "ok") in [(c["check"], c["status"]) for c in checks(report)]
    r = doctor(*DNS)
    assert r.returncode == 1 and "  FAIL  weights: blue 90 / green 10" in r.stdout, r.stdout


def test_route53_records_with_different_ttls(doctor, dns):
    green = dns.records()["green"]
    dns.change({"Action": "DELETE", "ResourceRecordSet": green},
               {"Action": "CREATE", "ResourceRecordSet": dns.plain("green", 0, 30)})
    code, report = doctor.json(*DNS)
    fails = failing(report)
    assert code == 1, report
    # One TTL per weighted set; and a record with its own value no longer follows green's load balancer.
    assert [c["check"] for c in fails] == ["record TTL", "record green target"], json.dumps(fails, indent=1)
    assert "different TTLs: blue 60s (alias: the load balancer's), green 30s" in fails[0]["detail"]
    assert "must have the same value for TTL" in fails[0]["detail"]
    assert "not an alias record (TTL 30s" in fails[1]["detail"] and "AliasTarget DNSName" in fails[1]["fix"]
    r = doctor(*DNS)
    assert r.returncode == 1 and "  FAIL  record TTL: " in r.stdout, r.stdout


def test_route53_the_live_record_missing_fails_and_the_idle_one_missing_warns(doctor, dns):
    records = dns.records()
    dns.change({"Action": "DELETE", "ResourceRecordSet": records["green"]})
    code, report = doctor.json(*DNS)
    warned = [c for c in checks(report) if c["status"] == "warn"]
    assert code == 0 and failing(report) == [], report
    assert [c["check"] for c in warned] == ["weighted records"], warned
    assert "no record with SetIdentifier green (the idle release" in warned[0]["detail"]
    assert doctor.json(*DNS, "--strict")[0] == 1, "--strict fails on the warning"
    dns.change({"Action": "CREATE", "ResourceRecordSet": records["green"]},
               {"Action": "DELETE", "ResourceRecordSet": records["blue"]})
    code, report = doctor.json(*DNS)
    fails = failing(report)
    assert code == 1 and [c["check"] for c in fails] == ["weighted records", "weights"], json.dumps(fails, indent=1)
    assert "no weighted A record with SetIdentifier blue: no release takes the traffic" in fails[0]["detail"]
    assert "blue (no record) / green 0: no release has a weight above 0" in fails[1]["detail"]


def test_route53_records_ttl_longer_than_the_bakes_allow(doctor, dns):
    records = dns.records()
    dns.change(*[{"Action": "DELETE", "ResourceRecordSet": records[rel]} for rel in ("blue", "green")],
               *[{"Action": "CREATE", "ResourceRecordSet": dns.plain(rel, w, 300)}
                 for rel, w in (("blue", 100), ("green", 0))])
    code, report = doctor.json(*DNS)
    fails = failing(report)
    assert code == 1, report
    assert [c["check"] for c in fails] == ["record blue target", "record green target", "bakes"], \
        json.dumps(fails, indent=1)
    bakes = fails[2]
    assert bakes["detail"].startswith("the records' TTL in Route 53 is 300s, above the file's hookline.dns.ttl 60s")
    # The deployment file's own rule and words, per step of the plan (the strategy's 50, the added 100).
    assert "step 1 (weight 50): at least 310 (the records' TTL 300s + the resolver grace 10s" in bakes["detail"]
    assert "got 70" in bakes["detail"] and "wait at least 310" in bakes["fix"]


def test_route53_a_deployment_file_whose_bake_is_shorter_than_the_ttl(doctor, dns, tmp_path):
    with open(os.path.join(DEPLOYFILES, "shop.deploy.yml")) as f:
        text = f.read().replace("      wait: 70\n", "      wait: 50\n", 1)
    path = tmp_path / "shop.deploy.yml"
    path.write_text(text)
    line = text[:text.index("wait: 50")].count("\n") + 1
    fault = assert_only_fault(doctor, ("-e", "shop", "-d", str(tmp_path)), "deployment file", "1 problem(s): ",
                              f"{path}:{line}:", ": canary.strategy[0].wait: at least 70 (the records' TTL 60s",
                              "got 50", "hookline plan validate")
    assert fault["group"] == "plan"


def test_route53_a_release_record_left_in_progress_without_its_execution(sb, doctor, dns, tmp_path):
    """A canary stopped behind hookline's back (Step Functions StopExecution: no rollback runs) leaves
    the release record in-progress and green's service up; doctor names both, and `hookline rollback`,
    the fix it gives, ends the record."""
    with open(os.path.join(DEPLOYFILES, "shop.deploy.yml")) as f:
        (tmp_path / "shop.deploy.yml").write_text(f.read())
    r = subprocess.run([BIN, "deploy", "-e", "shop", "-d", str(tmp_path)], env=sb.env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    deployment_id = r.stdout.strip().splitlines()[-1]
    arn = sb.wait_execution(deployment_id)["executionArn"]
    sb.sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped in the console")
    code, report = doctor.json(*DNS)
    fails = failing(report)
    assert code == 1, report
    assert [c["check"] for c in fails] == ["service of green (idle)", f"release record {deployment_id}"], \
        json.dumps(fails, indent=1)
    assert "with no deployment in progress: a release left up" in fails[0]["detail"]
    assert f"/hookline/dns/{deployment_id} is in-progress but its canary execution ended ABORTED" in fails[1]["detail"]
    assert fails[1]["fix"].startswith(f"hookline rollback {deployment_id}")
    r = subprocess.run([BIN, "rollback", deployment_id, "--yes"], env=sb.env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # The record is stopped at once; green's service is scaled to 0 by the report that follows.
    end = time.time() + 150
    while True:
        code, report = doctor.json(*DNS)
        if code == 0 or time.time() > end:
            break
        time.sleep(2)
    assert code == 0 and failing(report) == [], json.dumps(failing(report), indent=1)
    assert dns.ssm.get_parameter(Name=f"/hookline/dns/{deployment_id}")["Parameter"]["Value"].count('"stopped"') == 1
    # Without the file, --fqdn: the newest release record names the group, releases and services.
    code, report = doctor.json("--fqdn", "web.shop.example.com")
    assert code == 0, report
    assert [(c["check"], c["status"]) for c in checks(report) if c["status"] != "ok"] == [
        ("deployment file", "warn")], report
    assert f"the checks follow release record {deployment_id} (environment shop)" in \
        [c for c in checks(report) if c["check"] == "deployment file"][0]["detail"]
    for n in ("load balancers", "weights", "service of blue (live)", "service of green (idle)", "rollback role"):
        assert n in [c["check"] for c in checks(report)], report


def test_route53_fqdn_without_a_release_record_or_not_the_files(doctor, dns):
    code, report = doctor.json("--fqdn", "web.shop.example.com")
    assert code == 1 and [c["check"] for c in failing(report)] == ["deployment file"], report
    assert "no release record names web.shop.example.com" in failing(report)[0]["detail"]
    assert_only_fault(doctor, (*DNS, "--fqdn", "api.shop.example.com"), "fqdn",
                      "--fqdn api.shop.example.com, but", "renders service.fqdn web.shop.example.com")
