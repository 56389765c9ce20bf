"""Issue 12: the canary judge in the sandbox. Blue's and green's latency series are put into
CloudWatch (moto) with PutMetricData under the dimensions ALB metrics carry (`TargetGroup`,
`LoadBalancer`); the plan's `analysis` judges green against blue at the end of the 10% bake
(validate-health, one GetMetricData call). Asserted through AWS APIs: the deployment's status,
production's weights, the execution's history (the judgement and the rollback's error).

Periods: ALB metrics have one value a minute, so a plan judging `AWS/ApplicationELB` needs
`min_samples` minutes of bake. To keep the suite in seconds the fast cases judge the same series
shape as a custom metric with 1-second periods (`version_dimension: TargetGroup`, a namespace of
their own per test so earlier tests' data never mixes in); `test_judge_alb_metric_resolved_from_the_context`
judges a real `AWS/ApplicationELB` metric whose dimensions validate-health resolves itself
(3 one-minute periods after ALB's 2-minute lag: about 7 minutes).

Issue 20: a 5XX judge is an error rate (`expression: errors / requests` over two named inputs),
and the 5XX counts are put the way ALB reports them: only for a second that had errors (ALB count
metrics: "Reporting criteria: There is a nonzero value"), so a green without errors has no 5XX data
point at all. The sandbox evaluates the metric math (`tests/sandbox/sim/cloudwatch.py`: moto 5.2.5 has
none) and, with `cw_publication_delay`, holds back the newest periods.
"""
import datetime as dt
import json
import os
import random
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import plan

W = lambda w, bake=None: {"weight": w, **({"bake": bake} if bake else {})}  # noqa: E731


def dims(sb, green):
    """(LoadBalancer value, {side name: TargetGroup value}) as ALB metrics carry them."""
    lb = sb.elbv2.describe_load_balancers(Names=["demo"])["LoadBalancers"][0]["LoadBalancerArn"]
    tgs = sb.elbv2.describe_target_groups(Names=["web-blue", "web-green"])["TargetGroups"]
    resource = lambda arn: arn.split(":", 5)[5]  # noqa: E731
    return resource(lb).split("/", 1)[1], {t["TargetGroupName"]: resource(t["TargetGroupArn"]) for t in tgs}


def metrics_client(sb):
    """CloudWatch without botocore's request compression: the sandbox router checks SigV4 over
    the body it receives and rejects gzip-compressed PutMetricData bodies (SignatureDoesNotMatch);
    AWS accepts them. Open: tests/sandbox/README.md."""
    return boto3.client("cloudwatch", endpoint_url=sb.endpoint, region_name=sb.region, aws_access_key_id="sandbox",
                        aws_secret_access_key="sandbox", config=Config(disable_request_compression=True))


def put_series(sb, namespace, metric, dimensions, values, start, step_s):
    """One datum per ``step_s`` seconds from ``start`` (epoch seconds), in PutMetricData calls of 150."""
    cloudwatch = metrics_client(sb)
    data = [{"MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
             "Timestamp": dt.datetime.fromtimestamp(start + i * step_s, dt.timezone.utc), "Value": v,
             "Unit": "Seconds"} for i, v in enumerate(values)]
    for i in range(0, len(data), 150):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[i:i + 150])


def latencies(n, scale, seed):
    rnd = random.Random(seed)
    return [round(rnd.uniform(0.090, 0.110) * scale, 6) for _ in range(n)]


def judged_plan(blue_tg, green_tg, lb, namespace, run, on_no_data="rollback", bake="15s"):
    p = plan([W(10, bake), W(100)])
    p["analysis"] = {
        "min_samples": 10,
        "on_no_data": on_no_data,
        "metrics": [{
            "name": "TargetResponseTime",
            "namespace": namespace,
            "metric": "TargetResponseTime",
            "dimensions": {"LoadBalancer": lb, "Run": run},
            "version_dimension": "TargetGroup",
            "blue": blue_tg,
            "green": green_tg,
            # moto 5.2.5's GetMetricData computes Sum/Average/Minimum/Maximum/SampleCount only
            # (percentiles come back empty): tests/sandbox/README.md
            "statistic": "Average",
            "period": "1s",
            "direction": "increase",
            "tolerance": 0.1,
            "critical": True,
        }],
    }
    return p


def deploy_judged(sb, scale_green, n_per_side=400, on_no_data="rollback", image="example/web:e2e-judge"):
    """Puts both series (1 s apart, from now on), the plan, and starts the deployment."""
    blue, green = sb.prod_groups()
    lb, tg = dims(sb, green)
    # A namespace and a `Run` dimension of its own: moto 5.2.5's GetMetricData ignores the namespace
    # of a query with dimensions (tests/sandbox/README.md), so earlier tests' series would mix in.
    # Dimensions in the order validate-health sends them (the plan's, by name, then the version
    # dimension): moto matches dimension lists by order (its Dimension.__lt__ is broken).
    run = uuid.uuid4().hex[:8]
    namespace = f"E2E/Judge/{run}"
    now = int(time.time())
    put_series(sb, namespace, "TargetResponseTime", {"LoadBalancer": lb, "Run": run, "TargetGroup": tg[blue]},
               latencies(n_per_side, 1.0, 1), now, 1)
    put_series(sb, namespace, "TargetResponseTime", {"LoadBalancer": lb, "Run": run, "TargetGroup": tg[green]},
               latencies(n_per_side, scale_green, 2), now, 1)
    sb.put_plan(judged_plan(tg[blue], tg[green], lb, namespace, run, on_no_data=on_no_data))
    assert sb.listener_weights(80)[blue] == 100
    return sb.deploy(image), blue, green


def bake_outputs(sb, arn):
    """validate-health's answers in the execution's history that carry a judgement."""
    out = []
    for e in sb.history(arn):
        d = e.get("lambdaFunctionSucceededEventDetails") or e.get("taskSucceededEventDetails")
        if d and d.get("output"):
            o = json.loads(d["output"])
            if isinstance(o, dict) and "judgement" in o:
                out.append(o["judgement"])
    return out


def failure_causes(sb, arn, error):
    """The whole causes of the execution's failed Lambda tasks with ``error``."""
    out = []
    for e in sb.history(arn):
        d = e.get("lambdaFunctionFailedEventDetails") or e.get("taskFailedEventDetails")
        if e["type"] in ("LambdaFunctionFailed", "TaskFailed") and d and d.get("error") == error:
            out.append(d.get("cause") or "")
    return out


def assert_rolled_back(sb, did, arn, blue, green, *words, timeout=120):
    sb.wait_for_status(did, "Failed", timeout=timeout)
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Failed")
    assert sb.listener_weights(80) == {blue: 100, green: 0}
    assert sb.rules(80) == []
    e = sb.wait_execution_done(arn)
    assert e["status"] == "FAILED", e["status"]
    causes = failure_causes(sb, arn, "HealthCheckFailed")
    assert causes, sb.task_failures(arn)
    for w in words:
        assert any(w in c for c in causes), (w, causes)
    return causes


def test_judge_green_40_percent_slower_rolls_back_naming_the_metric(sb):
    did, blue, green = deploy_judged(sb, 1.4)
    arn = sb.wait_execution(did)["executionArn"]
    causes = assert_rolled_back(sb, did, arn, blue, green, "canary judgement at 10% failed",
                                "critical metric failed: TargetResponseTime High: +", "(CI +", "p=")
    effect = causes[0].split("High: +", 1)[1].split("%", 1)[0]
    assert 30 <= int(effect) <= 50, causes[0]


def test_judge_unchanged_green_passes_with_the_judgement_in_the_history(sb):
    did, blue, green = deploy_judged(sb, 1.0)
    sb.wait_for_status(did, "Succeeded", timeout=120)
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
    assert sb.listener_weights(80) == {blue: 0, green: 100}
    arn = sb.execution(did)["executionArn"]
    (j,) = bake_outputs(sb, arn)
    assert (j["outcome"], j["action"], j["step"], j["weight"]) == ("Pass", "continue", 0, 10), j
    (m,) = j["metrics"]
    assert m["name"] == "TargetResponseTime" and m["verdict"] == "Pass", m
    assert m["baseline_n"] >= 10 and m["canary_n"] >= 10, m
    assert set(m) >= {"u", "p_value", "hodges_lehmann", "ci", "relative_effect"}, m
    assert j["window"][1] - j["window"][0] == 15, j


def test_judge_too_few_samples_is_no_data_and_rolls_back_by_default(sb):
    # 3 values a side: fewer than min_samples (10) whatever the window holds
    did, blue, green = deploy_judged(sb, 2.0, n_per_side=3)
    arn = sb.wait_execution(did)["executionArn"]
    assert_rolled_back(sb, did, arn, blue, green, "no data: rolled back (analysis.on_no_data: rollback)",
                       "critical metric without enough data")


def test_judge_too_few_samples_passes_only_when_the_plan_says_so(sb):
    did, blue, green = deploy_judged(sb, 2.0, n_per_side=3, on_no_data="pass")
    sb.wait_for_status(did, "Succeeded", timeout=120)
    arn = sb.execution(did)["executionArn"]
    (j,) = bake_outputs(sb, arn)
    assert (j["outcome"], j["action"]) == ("NoData", "continue"), j
    assert "NOT judged" in j["note"] and "on_no_data: pass" in j["note"], j


@pytest.mark.skipif(os.environ.get("E2E_SLOW") != "1", reason="about 7 minutes: E2E_SLOW=1 runs it")
def test_judge_alb_metric_resolved_from_the_context(sb):
    """`AWS/ApplicationELB` with nothing but the metric's name: validate-health finds the series
    under blue's and green's `TargetGroup` and the production load balancer's `LoadBalancer`."""
    blue, green = sb.prod_groups()
    lb, tg = dims(sb, green)
    now = int(time.time())
    # one value a minute for the next 10 minutes, green +40 %; dimensions in validate-health's order
    for side, scale, seed in ((blue, 1.0, 3), (green, 1.4, 4)):
        put_series(sb, "AWS/ApplicationELB", "TargetResponseTime", {"TargetGroup": tg[side], "LoadBalancer": lb},
                   latencies(10, scale, seed), now - now % 60, 60)
    # 3 whole minutes after ALB's 2-minute lag, wherever the bake starts: 6m (the validator says so)
    p = plan([W(10, "6m"), W(100)], budget="15m")
    p["analysis"] = {"min_samples": 3, "metrics": [
        {"metric": "TargetResponseTime", "direction": "increase", "tolerance": 0.1, "critical": True}]}
    sb.put_plan(p)
    sb.config(hook_timeout_s=900)
    did = sb.deploy("example/web:e2e-judge-alb")
    arn = sb.wait_execution(did)["executionArn"]
    assert_rolled_back(sb, did, arn, blue, green, "TargetResponseTime Average High: +", timeout=600)


def test_judge_no_data_with_approval_asks_an_operator_then_goes_on(sb):
    """`on_no_data: approval`: the canary's approval state asks (SNS message with the judgement's
    approval step, timing out with the hook budget); approved, the canary goes on to 100%."""
    did, blue, green = deploy_judged(sb, 2.0, n_per_side=3, on_no_data="approval")
    arn = sb.wait_execution(did)["executionArn"]
    token, msg = sb.approval_token(arn, timeout=90)
    assert msg["step"]["kind"] == "approval" and msg["step"]["on_timeout"] == "rollback", msg
    assert 0 < msg["step"]["timeout_seconds"] <= 600, msg  # what is left of the plan's 10m budget
    assert sb.green_share(green) == 10
    sb.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "e2e"}))
    sb.wait_for_status(did, "Succeeded", timeout=120)
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
    assert sb.listener_weights(80) == {blue: 0, green: 100}
    (j,) = bake_outputs(sb, arn)
    assert (j["outcome"], j["action"]) == ("NoData", "approval"), j


# ---------------------------------------------------------------- issue 20: error rates on counts
def put_counts(sb, namespace, metric, dimensions, counts, start):
    """One count a second from ``start``, put the way ALB reports a count metric: a second that
    counted nothing has no data point ("Reporting criteria: There is a nonzero value", ELB user
    guide, CloudWatch metrics for your Application Load Balancer)."""
    cloudwatch = metrics_client(sb)
    data = [{"MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
             "Timestamp": dt.datetime.fromtimestamp(start + i, dt.timezone.utc), "Value": float(c), "Unit": "Count"}
            for i, c in enumerate(counts) if c]
    for i in range(0, len(data), 150):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[i:i + 150])
    return len(data)


def rate_plan(blue_tg, green_tg, lb, namespace, run, lag=None):
    p = plan([W(10, "15s"), W(100)])
    metric = {
        "name": "5xx-rate",
        "namespace": namespace,
        "dimensions": {"LoadBalancer": lb, "Run": run},
        "version_dimension": "TargetGroup",
        "blue": blue_tg,
        "green": green_tg,
        "expression": "errors / requests",
        "using": {"errors": {"metric": "HTTPCode_Target_5XX_Count", "statistic": "Sum"},
                  "requests": {"metric": "RequestCount", "statistic": "Sum"}},
        "period": "1s",
        "direction": "increase",
        "tolerance": 0.5,
        "critical": True,
    }
    if lag:
        metric["lag"] = lag
    p["analysis"] = {"min_samples": 10, "metrics": [metric]}
    return p


def deploy_rated(sb, green_error_share, n=400, lag=None, image="example/web:e2e-judge-rate"):
    """Blue takes 90 requests a second with 0-2 errors, green 10 with errors at ``green_error_share``
    (0: none, so no 5XX data point at all); the plan judges 5XX per request."""
    blue, green = sb.prod_groups()
    lb, tg = dims(sb, green)
    run = uuid.uuid4().hex[:8]
    namespace = f"E2E/Judge/{run}"
    now = int(time.time())
    rnd = random.Random(7)
    blue_errors = [rnd.choice((0, 0, 1, 2)) for _ in range(n)]
    green_errors = [sum(rnd.random() < green_error_share for _ in range(10)) for _ in range(n)]
    for side, requests, errors in ((blue, 90, blue_errors), (green, 10, green_errors)):
        d = {"LoadBalancer": lb, "Run": run, "TargetGroup": tg[side]}
        put_counts(sb, namespace, "RequestCount", d, [requests] * n, now)
        put_counts(sb, namespace, "HTTPCode_Target_5XX_Count", d, errors, now)
    sb.put_plan(rate_plan(tg[blue], tg[green], lb, namespace, run, lag=lag))
    assert sb.listener_weights(80)[blue] == 100
    return sb.deploy(image), blue, green, sum(green_errors)


def test_judge_5xx_rate_passes_a_green_without_errors(sb):
    did, blue, green, green_errors = deploy_rated(sb, 0.0)
    assert green_errors == 0  # green's 5XX count has no data point at all
    sb.wait_for_status(did, "Succeeded", timeout=120)
    sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
    assert sb.listener_weights(80) == {blue: 0, green: 100}
    (j,) = bake_outputs(sb, sb.execution(did)["executionArn"])
    assert (j["outcome"], j["action"]) == ("Pass", "continue"), j
    (m,) = j["metrics"]
    assert m["name"] == "5xx-rate" and m["verdict"] == "Pass", m
    # every second of the window is a sample on both sides: green's rate is 0, not missing
    assert m["baseline_n"] == m["canary_n"] == j["window"][1] - j["window"][0] == 15, j


def test_judge_5xx_rate_higher_than_blues_rolls_back(sb):
    did, blue, green, _ = deploy_rated(sb, 0.2)
    arn = sb.wait_execution(did)["executionArn"]
    assert_rolled_back(sb, did, arn, blue, green, "canary judgement at 10% failed",
                       "critical metric failed: 5xx-rate High: +")


def test_judge_window_ends_the_lag_before_the_bake_with_a_publication_delay(sb):
    """`cw_publication_delay` 60s at 1 s a sandbox minute: the newest second is not readable when
    the bake ends; the plan's `lag: 2s` ends the window 2 s before the bake, on whole seconds."""
    sb.config(cw_publication_delay="60s", cw_minute_s=1)
    try:
        did, blue, green, _ = deploy_rated(sb, 0.0, lag="2s")
        sb.wait_for_status(did, "Succeeded", timeout=120)
        sb.assert_hook_once(did, "BeforeAllowTraffic", "Succeeded")
        (j,) = bake_outputs(sb, sb.execution(did)["executionArn"])
        assert j["window"][1] - j["window"][0] == 13, j
        (m,) = j["metrics"]
        assert (m["verdict"], m["baseline_n"], m["canary_n"]) == ("Pass", 13, 13), m
    finally:
        sb.config(cw_publication_delay="0s")
