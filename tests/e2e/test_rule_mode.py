"""Issue 10 item 9: rule mode (``traffic.production_rule_arn``) may not end split.

No AWS document says CodeDeploy's AllowTraffic rewrites a listener *rule*; the simulator runs
with the pessimistic choice (``allow_traffic_scope=default_action``: AllowTraffic moves only the
production listener's default action). In rule mode production is the rule, so only hookline
moves it: a plan must end at weight 100, and one that does not is refused before anything runs.

``web`` gets a production rule for these tests: path ``/*`` on the :80 listener (after the
``admin`` service's ``/admin*`` rule), forwarding to web's current blue. Each test removes it.
"""
import time

import pytest

from conftest import plan

W = lambda w, bake=None: {"weight": w, **({"bake": bake} if bake else {})}  # noqa: E731
RULE_PRIORITY = 50  # after admin's /admin* (10): every other path of :80 is web's


@pytest.fixture
def web_rule(sb):
    """A production rule for web forwarding 100 % to its current blue; the simulator in the
    pessimistic AllowTraffic mode. Both undone afterwards."""
    old_scope = sb._ctl("GET", "/config").get("allow_traffic_scope")
    sb.config(allow_traffic_scope="default_action")
    assert sb._ctl("GET", "/config").get("allow_traffic_scope") == "default_action", \
        "the simulator has no allow_traffic_scope switch yet"
    blue, green = sb.prod_groups()
    tg = {g["TargetGroupName"]: g["TargetGroupArn"]
          for g in sb.elbv2.describe_target_groups(Names=[blue, green])["TargetGroups"]}
    rule = sb.elbv2.create_rule(
        ListenerArn=sb.listener_arn(80), Priority=RULE_PRIORITY,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg[blue]}])["Rules"][0]
    try:
        yield {"arn": rule["RuleArn"], "blue": blue, "green": green}
    finally:
        sb.elbv2.delete_rule(RuleArn=rule["RuleArn"])
        if old_scope:
            sb.config(allow_traffic_scope=old_scope)


def rule_weights(sb, arn):
    (r,) = [r for r in sb.rules(80) if r["arn"] == arn]
    return {g: w for g, w in r["weights"].items() if w}


def rule_plan(steps, arn):
    return dict(plan(steps), traffic={"production_rule_arn": arn})


def test_rule_mode_plan_ending_at_100_moves_the_rule_to_green(sb, web_rule):
    blue, green = web_rule["blue"], web_rule["green"]
    sb.put_plan(rule_plan([W(50, "1s"), W(100)], web_rule["arn"]))
    did = sb.deploy("example/web:e2e-rule-100")
    info = sb.wait_terminal(did, timeout=150)
    assert info["status"] == "Succeeded", info
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
    sb.assert_hook_once(did, "AfterAllowTraffic", "Succeeded")
    # hookline moved the rule; CodeDeploy (default_action scope) moved only the default action
    assert rule_weights(sb, web_rule["arn"]) == {green: 100}
    assert sb.listener_weights(80).get(green) == 100, sb.listener_weights(80)
    assert [r["arn"] for r in sb.rules(80)] == [web_rule["arn"]], "a hookline rule was left behind"
    ts = sb.task_sets()
    assert [(t["status"], t["target_group"]) for t in ts] == [("PRIMARY", green)], ts


def test_rule_mode_plan_ending_at_50_is_refused_before_anything_moves(sb, web_rule):
    """Before the fix the canary shifted the rule to 50, reported Succeeded, CodeDeploy moved the
    default action only and terminated blue: production (the rule) ended split 50/50 with half
    of it on a target group with no tasks. Now the hook refuses the plan: Failed at once, no
    execution, the rule on blue 100 throughout."""
    blue, green = web_rule["blue"], web_rule["green"]
    sb.put_plan(rule_plan([W(10, "1s"), W(50, "1s")], web_rule["arn"]))
    did = sb.deploy("example/web:e2e-rule-50")
    started = time.time()
    info = sb.wait_terminal(did, timeout=150)
    assert info["status"] == "Failed", \
        f"{info['status']}: the rule now forwards {rule_weights(sb, web_rule['arn'])}, listener {sb.listener_weights(80)}"
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Failed")
    assert time.time() - started < 60, "the refusal should come at once, not after a hook timeout"
    assert sb.execution(did) is None, "no canary execution may start for a refused plan"
    assert rule_weights(sb, web_rule["arn"]) == {blue: 100}
    assert sb.listener_weights(80).get(blue) == 100, sb.listener_weights(80)
    assert [r["arn"] for r in sb.rules(80)] == [web_rule["arn"]]
