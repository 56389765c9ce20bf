"""The observed split of hookline's own Route 53 controller (issue 22 acceptance: "The observed
split is shown and differs from the set weight while resolvers still cache (a test asserts the lag
is visible, then converges)"; docs/route53-controller.md decision 22).

One DNS canary with a single step to green 100 and a bake of a little over three minutes, the
sandbox's DNS data plane on (tests/sandbox/sim/dns.py: 40 clients, one request each per tick,
each through its own resolver that keeps an answer for the records' TTL, 60 s, the clients'
expiries spread over one TTL). While it bakes, `hookline status --json` is read every few seconds:
its health verdict carries validate-health's `observed` (both load balancers' RequestCount over the
last whole minute next to the set weight). The test asserts, from those readings:

- the lag: over the minutes after INSYNC, blue still gets the requests of the clients that hold its
  cached answer, about half a TTL of traffic in all, although its weight is 0;
- the convergence: every minute that starts a TTL after INSYNC counts green's requests only;
- what hookline showed is CloudWatch's RequestCount of both load balancers (GetMetricData).

Why a step to 100 and not 50: a 50 % step's observed share is a weighted pick per client, so with
40 clients it is noisy. Over one minute each client holds one answer for part of it and another for
the rest (it asks again once per TTL), so green's share has a variance of p(1-p) x 2/3 / 40: a
standard deviation of 6.5 percentage points at p = 0.5. A tolerance that never flakes (4 sigma,
+-26 points) would hide the lag itself (at most 25 points in the minute of the change). At 100 the
pick has no variance (blue's weight 0 is never answered while green is healthy, row DNS-WEIGHT-ZERO),
so what is left is the lag alone, and the tolerance can be zero.
"""
import datetime as dt
import json
import time

from test_dns_canary import (  # noqa: F401 (world: the DNS world fixture)
    DESIRED, LOAD_BALANCER, SLOW, WeightWalk, canary_execution, deploy_file, hookline, stable, start, summary,
    world)

# The records' TTL: an alias to a load balancer is answered with the load balancer's 60 s (row
# DNS-ALIAS-TTL); the sandbox's resolvers keep an answer that long (DNS-RESOLVER-CACHE).
TTL_S = 60
# The observed split's window: validate-health reads the last whole minute (OBSERVED_SPLIT_PERIOD_SECONDS).
MINUTE_S = 60
# The bake at 100: the converged minute starts at most TTL + one minute after INSYNC and is read
# once it has ended, so TTL + 2 minutes, + a few checks (every 2 s) to read it after its last tick.
BAKE_S = TTL_S + 2 * MINUTE_S + 10
# The data plane's population (the sandbox's default, set explicitly: the bounds below follow from it).
CLIENTS = 40
# The lag, in seconds of traffic: each client keeps blue's answer from INSYNC until its own expiry,
# and the expiries are spread evenly over one TTL, so blue keeps on average TTL / 2 (29.25-30.75 s
# for 40 clients 1.5 s apart, depending on where INSYNC falls between two of them) of every
# client's requests. The bounds are half of that either side: they
# absorb what the test does not know exactly (when INSYNC happened: between shift-weight's start and
# its end, a few seconds, taken on the side that makes each bound harder to meet; the ticks of about
# a second that count requests) and fail for no cache (0 s: every request after INSYNC goes to green)
# or for clients in step (0..60 s depending on where INSYNC falls among them).
LAG_MIN_S, LAG_MAX_S = TTL_S / 4, 3 * TTL_S / 4
# A client asks again at the first tick after its expiry: a minute starting this long after INSYNC
# counts no request from an answer fetched before it.
TICK_SLACK_S = 2
# A window read this long after its end has every tick of it in CloudWatch (a tick publishes its
# counts when it ends): what hookline showed must then be CloudWatch's sums exactly.
COMPLETE_AFTER_S = 5


def observed_while_running(sb, deployment_id, arn, timeout):
    """{window start: observed} as `hookline status --json` showed it while the execution ran, the
    latest reading of each window (a window is read by every check of its following minute), each
    with `at` (the check's time)."""
    seen = {}
    end = time.time() + timeout
    while time.time() < end:
        r = hookline(sb, "status", deployment_id, "--json", timeout=60)
        assert r.returncode == 0, f"hookline status --json: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        health = json.loads(r.stdout).get("health") or {}
        o = health.get("observed")
        if o:
            o = dict(o, at=health["at"])
            prev = seen.get(o["window"][0])
            if prev is None or prev["at"] <= o["at"]:
                seen[o["window"][0]] = o
        if sb.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return seen
        time.sleep(4)
    raise AssertionError(f"{arn} still running after {timeout}s; observed {seen}")


def shift_times(sb, arn):
    """(entered, exited) epoch seconds of the execution's one ShiftWeight state: INSYNC of the step's
    change lies between them (shift-weight returns once GetChange says INSYNC)."""
    entered = [e["timestamp"].timestamp() for e in sb.history(arn) if e["type"] == "TaskStateEntered"
               and e["stateEnteredEventDetails"]["name"] == "ShiftWeight"]
    exited = [e["timestamp"].timestamp() for e in sb.history(arn) if e["type"] == "TaskStateExited"
              and e["stateExitedEventDetails"]["name"] == "ShiftWeight"]
    assert len(entered) == len(exited) == 1, (entered, exited)
    return entered[0], exited[0]


def lag_seconds(windows, insync):
    """Blue's requests after ``insync``, in seconds of traffic: per window, blue's count less the part
    of the window before ``insync`` (all of it blue's: the clients had no other answer), over the
    window's requests per second (the clients send at a steady rate, one request per tick each)."""
    lag = 0.0
    for o in windows:
        start, end = o["window"]
        total = o["blue_requests"] + o["green_requests"]
        assert total > 0, f"a minute without requests: {o}"
        before = total * min(1.0, max(0.0, insync - start) / (end - start))
        lag += (o["blue_requests"] - before) / (total / (end - start))
    return lag


def request_counts(sb, window):
    """(blue's, green's) RequestCount Sum over ``window`` from CloudWatch (GetMetricData)."""
    elb, cw = sb.client("elbv2"), sb.client("cloudwatch")
    queries = []
    for release in ("blue", "green"):
        arn = elb.describe_load_balancers(Names=[LOAD_BALANCER[release]])["LoadBalancers"][0]["LoadBalancerArn"]
        queries.append({"Id": release, "MetricStat": {"Metric": {
            "Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount",
            "Dimensions": [{"Name": "LoadBalancer", "Value": arn.split(":loadbalancer/", 1)[1]}]},
            "Period": MINUTE_S, "Stat": "Sum"}})
    start, end = (dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in window)
    out = {r["Id"]: sum(r["Values"]) for r in cw.get_metric_data(
        MetricDataQueries=queries, StartTime=start, EndTime=end)["MetricDataResults"]}
    return out["blue"], out["green"]


@SLOW
def test_the_observed_split_lags_the_set_weight_while_resolvers_cache_then_converges(sb, world, tmp_path):
    directory = deploy_file(tmp_path, [(100, BAKE_S)])
    # The clients start over on blue 100 (none still caching the previous test's records), then the
    # deployment starts at the next whole minute: the minute of the change counts this test's
    # requests from its start, blue's before INSYNC (what lag_seconds takes out).
    sb.traffic(True, dns={"enabled": True, "reset": True, "restart": True, "clients": CLIENTS,
                          "requests_per_client": 1})
    time.sleep(MINUTE_S - time.time() % MINUTE_S)
    with WeightWalk(world) as walk:
        deployment_id = start(sb, directory)
        arn = canary_execution(sb, deployment_id)
        observed = observed_while_running(sb, deployment_id, arn, timeout=BAKE_S + 180)
    done = sb.sfn.describe_execution(executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert walk.seen == [(100, 0), (0, 100)], f"records walked {walk.seen}"
    entered, exited = shift_times(sb, arn)
    at_100 = sorted((o for o in observed.values() if o["set_weight"] == 100), key=lambda o: o["window"][0])
    shown = [(o["window"], o["green_percent"], o["blue_requests"], o["green_requests"]) for o in at_100]

    # The lag: the minutes between INSYNC and a TTL after it. Taken with INSYNC at the end of
    # ShiftWeight it is at its smallest, with INSYNC at its start at its largest.
    lagging = [o for o in at_100 if o["window"][1] > entered and o["window"][0] < exited + TTL_S + TICK_SLACK_S]
    assert lagging, f"no minute after the change was shown: {shown}"
    low, high = lag_seconds(lagging, exited), lag_seconds(lagging, entered)
    print(f"INSYNC in [{entered:.1f}, {exited:.1f}]; blue kept {low:.1f}..{high:.1f}s of traffic after it; shown {shown}")
    assert low >= LAG_MIN_S, \
        f"blue kept {low:.1f}s of traffic after INSYNC at weight 0 (expected about TTL/2 = {TTL_S / 2:.0f}s " \
        f"while resolvers cache its answer): {shown}"
    assert high <= LAG_MAX_S, f"blue kept {high:.1f}s of traffic after INSYNC (expected about {TTL_S / 2:.0f}s): {shown}"
    # ... and the status showed green below its set weight for it.
    assert any(o["green_percent"] is not None and o["green_percent"] < 100 for o in lagging
               if o["window"][1] > exited), shown

    # The convergence: a minute that starts once every client asked again counts green only. The
    # tolerance is zero: at 100 / 0 the weighted pick always answers green (see the module doc).
    converged = [o for o in at_100 if o["window"][0] >= exited + TTL_S + TICK_SLACK_S]
    assert converged, f"no whole minute a TTL after INSYNC was shown during the {BAKE_S}s bake: {shown}"
    for o in converged:
        assert o["blue_requests"] == 0 and o["green_requests"] > 0 and o["green_percent"] == 100.0, shown

    # What hookline showed is both load balancers' RequestCount in CloudWatch.
    complete = [o for o in at_100 if o["at"] >= o["window"][1] + COMPLETE_AFTER_S]
    assert len(complete) >= 2, f"too few windows read after their end: {shown}"
    for o in complete:
        assert request_counts(sb, o["window"]) == (o["blue_requests"], o["green_requests"]), (o, shown)

    world.wait_service("blue", lambda s: s is not None and s["desiredCount"] == 0 and s["runningCount"] == 0,
                       "scaled to 0")
    assert stable(DESIRED)(world.service("green")), summary(world.service("green"))
