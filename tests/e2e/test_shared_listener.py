"""Issue 10 items 11 and 12: two services on one production listener.

``web`` owns the demo ALB's :80 default action; ``admin`` (tests/sandbox/provision.py
``provision_admin``) owns the path rule ``/admin*`` (priority 10) on the same listener, in rule
mode (its plan names that rule in ``traffic.production_rule_arn``). A cohort rule must only catch
requests that would reach its own service (item 11), and one service's cleanup must leave the
other service's cohort rule alone (item 12). Asserted through ELBv2 (DescribeRules,
DescribeTags) and the ALB data-plane emulation (``/_sandbox/alb/80/<path>``).
"""
import json

from conftest import GATE_URL, plan

COHORT = {"cohort": {"header": "X-Canary", "values": ["internal"]}}
CANARY = {"X-Canary": "internal"}
HOLD = {"approval": {"timeout": "2m"}}
ADMIN = dict(application="admin", deployment_group="admin-prod", family="admin", container="admin")
ADMIN_GATE_URL = GATE_URL.replace("/_sandbox/alb/8080/", "/_sandbox/alb/8081/")


def W(weight, bake=None):
    return {"weight": weight, **({"bake": bake} if bake else {})}


def admin_groups(sb):
    """(blue, green) of the admin service: blue is behind its PRIMARY task set."""
    ts = [t for t in sb.task_sets(service="admin") if t["status"] == "PRIMARY"]
    blue = ts[0]["target_group"] if ts else "admin-blue"
    return blue, ("admin-green" if blue == "admin-blue" else "admin-blue")


def put_admin_plan(sb, steps):
    """A rule-mode plan for admin: weights on its /admin* rule, health on its own test listener :8081."""
    p = plan(steps, alarms=("admin-5xx",), http=False)
    p["health"]["http"] = [{"url": ADMIN_GATE_URL, "expect_status": 200, "timeout": "2s"}]
    p["traffic"] = {"production_rule_arn": sb.admin_rule()["arn"]}
    sb.put_plan(p, application="admin", deployment_group="admin-prod")


def tags_of(sb, arn):
    desc = sb.elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"]
    return {t["Key"]: t["Value"] for d in desc for t in d.get("Tags") or []}


def cohort_rules(sb):
    """{service tag: rule} of the cohort rules on :80 (every non-default rule but admin's production rule)."""
    out = {}
    for r in sb.rules(80):
        tags = tags_of(sb, r["arn"])
        assert tags.get("hookline:managed") == "cohort", f"a rule on :80 that is not a cohort rule: {r} {tags}"
        out[tags.get("hookline:service")] = dict(r, tags=tags)
    return out


def fields(rule):
    """{field: values} of a rule's conditions (header values under the header's lower-case name)."""
    out = {}
    for c in rule["conditions"]:
        if c["Field"] == "http-header":
            h = c["HttpHeaderConfig"]
            out["http-header " + h["HttpHeaderName"].lower()] = h["Values"]
        elif c["Field"] == "path-pattern":
            out["path-pattern"] = (c.get("PathPatternConfig") or {}).get("Values") or c.get("Values")
        else:
            out[c["Field"]] = c
    return out


def lands_on(sb, path, headers=None):
    st, body = sb.alb(80, path, headers=headers)
    assert "target_group" in body, (path, headers, st, body)
    return body["target_group"]


def wait_approval(sb, did):
    arn = sb.wait_execution(did)["executionArn"]
    token, msg = sb.approval_token(arn, timeout=90)
    assert msg["deployment_id"] == did, msg
    return arn, token


def test_cohort_rule_catches_only_its_own_services_requests(sb):
    """Item 11: web (default action) paused after its cohort step: a request to /admin/x with the
    cohort header still reaches admin's blue; / with the header reaches web's green."""
    web_blue, web_green = sb.prod_groups()
    admin_blue, _ = admin_groups(sb)
    admin_rule = sb.admin_rule()
    assert admin_rule and admin_rule["weights"].get(admin_blue) == 100, admin_rule
    sb.put_plan(plan([COHORT, HOLD, W(100, "1s")]))
    did = sb.deploy("example/web:e2e-shared-11")
    arn, token = wait_approval(sb, did)

    rules = cohort_rules(sb)
    assert set(rules) == {"demo/web"}, rules
    web_rule = rules["demo/web"]
    assert fields(web_rule) == {"http-header x-canary": ["internal"]}, web_rule
    assert web_rule["tags"]["hookline:deployment"] == did, web_rule["tags"]
    assert web_rule["priority"] > admin_rule["priority"], "the cohort rule must come after admin's path rule"
    assert web_rule["weights"].get(web_green) == 100, web_rule

    assert lands_on(sb, "/admin/x", CANARY) == admin_blue, "web's cohort rule took admin's request"
    assert lands_on(sb, "/admin/x") == admin_blue
    assert lands_on(sb, "/", CANARY) == web_green
    assert lands_on(sb, "/") == web_blue

    sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "e2e"}))
    sb.wait_for_status(did, "Succeeded", timeout=120)
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
    assert sb.rules(80) == [], "web's cohort rule left after finalize"
    after = sb.admin_rule()
    assert after and after["arn"] == admin_rule["arn"] and after["weights"].get(admin_blue) == 100, after
    assert lands_on(sb, "/admin/x", CANARY) == admin_blue


def test_two_services_canarying_on_one_listener_keep_each_others_cohort_rules(sb):
    """Item 12 (and 11 in rule mode): web and admin both hold at an approval after their cohort
    steps; rejecting web removes web's cohort rule only; admin's still routes its cohort, then
    admin finishes on its own rule."""
    web_blue, web_green = sb.prod_groups()
    admin_blue, admin_green = admin_groups(sb)
    admin_rule = sb.admin_rule()
    sb.put_plan(plan([COHORT, HOLD, W(100, "1s")]))
    put_admin_plan(sb, [COHORT, HOLD, W(100, "1s")])
    web = sb.deploy("example/web:e2e-shared-12")
    admin = sb.start_deployment("example/admin:e2e-shared-12", **ADMIN)
    _, web_token = wait_approval(sb, web)
    _, admin_token = wait_approval(sb, admin)

    rules = cohort_rules(sb)
    assert set(rules) == {"demo/web", "demo/admin"}, rules
    admin_cohort = rules["demo/admin"]
    assert fields(admin_cohort) == {"path-pattern": ["/admin*"], "http-header x-canary": ["internal"]}, admin_cohort
    assert admin_cohort["priority"] < admin_rule["priority"], "admin's cohort rule must come before its path rule"
    assert admin_cohort["tags"]["hookline:deployment"] == admin, admin_cohort["tags"]
    assert admin_cohort["weights"].get(admin_green) == 100, admin_cohort
    assert lands_on(sb, "/admin/x", CANARY) == admin_green
    assert lands_on(sb, "/admin/x") == admin_blue
    assert lands_on(sb, "/", CANARY) == web_green
    assert lands_on(sb, "/") == web_blue

    # Reject web: its rollback removes its own cohort rule, not admin's.
    sb.sfn.send_task_failure(taskToken=web_token, error="ApprovalRejected", cause="e2e says no")
    sb.wait_for_status(web, "Failed", timeout=120)
    sb.assert_hook_once(web, "BeforeAllowTraffic", "Failed")
    assert sb.listener_weights(80) == {web_blue: 100, web_green: 0}
    rules = cohort_rules(sb)
    assert set(rules) == {"demo/admin"}, f"web's rollback took admin's cohort rule too: {rules}"
    assert rules["demo/admin"]["arn"] == admin_cohort["arn"]
    assert lands_on(sb, "/admin/x", CANARY) == admin_green, "admin's cohort no longer reaches admin's green"
    assert lands_on(sb, "/", CANARY) == web_blue

    # Then admin finishes: weights on its rule end at 100, its cohort rule goes, web is untouched.
    sb.sfn.send_task_success(taskToken=admin_token, output=json.dumps({"approved_by": "e2e"}))
    sb.wait_for_status(admin, "Succeeded", timeout=120)
    reports = [h for h in sb.hook_records(admin) if h["event"] == "BeforeAllowTraffic"]
    assert [h["reports"] for h in reports] == [["Succeeded"]], reports
    assert sb.events(admin, target_id="demo:admin").get("AfterAllowTraffic") == "Succeeded"
    assert sb.rules(80) == [], "admin's cohort rule left after finalize"
    after = sb.admin_rule()
    assert after["arn"] == admin_rule["arn"] and after["weights"].get(admin_green) == 100, after
    assert lands_on(sb, "/admin/x") == admin_green
    assert sb.listener_weights(80) == {web_blue: 100, web_green: 0}
    assert [(t["status"], t["target_group"]) for t in sb.task_sets(service="admin")] == [("PRIMARY", admin_green)]
