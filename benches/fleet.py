"""`make bench-fleet`: many canaries at once (issue 13 goals 3 and 4) -> the fleet section of BENCHMARKS.md.

Starts its own sandbox (ports 4820/4821/9220, state /tmp/sbx-fleet) with SANDBOX_SERVICES=25 (services
``web``, ``web-2`` .. ``web-25``, tests/sandbox/provision.py), starts one CodeDeploy deployment per
service at once, waits for all, and reports:

- whether every deployment succeeded and every invariant holds: each hook execution answered exactly
  once (one accepted report, Succeeded), production on one side (each service's :80 listener forwards
  to one target group), no hookline rule left on it;
- AWS calls per API per deployment (the router's ``/_sandbox/calls?log=1``, the functions' and Step
  Functions' calls only: the bench's own calls carry principal ``operator`` and are left out) and the
  peak calls per second per API over sliding 1 s windows;
- from the per-health-check counts, the rates at a 30 s health interval and AWS's documented API
  rate quotas (``QUOTAS`` below, each with its source), how many concurrent deployments one account
  and Region sustains, and which quota binds first (goal 3: >= 200);
- goal 4: state transitions and Lambda invocations per bake minute at 30 s, and the history events a
  30 min bake at 30 s costs against the 25,000-event quota, from a canary execution's history.

Numbers are reported, never asserted: the script exits 0 whatever they are (1 only if it could not
measure). ``--render-only`` re-renders the section from ``benches/results/fleet.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import time
from collections import Counter, defaultdict

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "benches"
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))
sys.path.insert(0, str(BENCH))

import orchestration  # noqa: E402  (BenchSandbox)
import provision  # noqa: E402  (service_names)

SERVICES = int(os.environ.get("FLEET_SERVICES", "25"))
# A scaled model of a 30 s health interval: every duration of a real plan divided by 30.
MODEL_INTERVAL_S = 1.0
TARGET_INTERVAL_S = 30.0
SCALE = TARGET_INTERVAL_S / MODEL_INTERVAL_S
GOAL_CONCURRENT = 200
LONG_BAKE_S = 30 * 60
HISTORY_QUOTA = 25_000
CANARY = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary"
POST_TRAFFIC = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-post-traffic"
MARK_BEGIN = "<!-- fleet:begin (benches/fleet.py, make bench-fleet) -->"
MARK_END = "<!-- fleet:end -->"


def fleet_plan(alarm):
    return {"steps": [{"weight": 10, "bake": "3s"}, {"weight": 50, "bake": "3s"}, {"weight": 100, "bake": "2s"}],
            "health": {"interval": f"{MODEL_INTERVAL_S:g}s", "alarms": [alarm], "ready_timeout": "30s"},
            "hook_budget": "10m"}


# AWS's documented rate quotas (default, per account and Region, us-east-1). "sustained" is what the
# fleet may use continuously (a token bucket's refill rate, or a TPS quota); "burst" the bucket size.
# "checked": the figure was read in the cited page during this bench's writing; False = taken from the
# cited page's table as known to the author, the excerpt seen did not show it: re-check before relying.
QUOTAS = {
    "elbv2.describe": {
        "what": "ELBv2 Describe* (non-mutating actions share one bucket)", "burst": 40, "sustained": 10,
        "checked": True,
        "source": "https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html"},
    "elbv2.mutate": {
        "what": "ELBv2 ModifyListener / ModifyRule (mutating actions)", "burst": 20, "sustained": 2,
        "checked": False,
        "source": "https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html"},
    "codedeploy.GetDeployment": {
        "what": "CodeDeploy GetDeployment", "burst": None, "sustained": None, "checked": False,
        "note": "the CodeDeploy quotas page lists resource quotas, no per-API rate: not counted as binding",
        "source": "https://docs.aws.amazon.com/codedeploy/latest/userguide/limits.html"},
    "codedeploy.PutLifecycleEventHookExecutionStatus": {
        "what": "CodeDeploy PutLifecycleEventHookExecutionStatus", "burst": None, "sustained": None,
        "checked": False, "note": "no per-API rate documented (see GetDeployment)",
        "source": "https://docs.aws.amazon.com/codedeploy/latest/userguide/limits.html"},
    "states.StartExecution": {
        "what": "Step Functions StartExecution (Standard, us-east-1)", "burst": 1300, "sustained": 300,
        "checked": False,
        "source": "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
                  "#service-limits-api-action-throttling-general"},
    "states.transitions": {
        "what": "Step Functions StateTransition (Standard, us-east-1)", "burst": 5000, "sustained": 5000,
        "checked": False,
        "note": "new accounts start lower (the page: 'New AWS accounts have reduced state transition quotas')",
        "source": "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
                  "#service-limits-api-state-throttling"},
    "monitoring.DescribeAlarms": {
        "what": "CloudWatch DescribeAlarms", "burst": None, "sustained": 9, "checked": True,
        "note": "9 TPS, adjustable; read in the page's table (an earlier revision, docs.aws.amazon.com/ja_jp)",
        "source": "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html"},
    "monitoring.GetMetricData": {
        "what": "CloudWatch GetMetricData", "burst": None, "sustained": 50, "checked": True,
        "source": "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html"},
    "lambda.concurrency": {
        "what": "Lambda concurrent executions", "burst": None, "sustained": 1000, "checked": True,
        "source": "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"},
    "states.history": {
        "what": "Step Functions execution history events (hard quota)", "burst": None, "sustained": 25000,
        "checked": True, "note": "'Maximum execution history size: 25,000 events' (Standard Workflows)",
        "source": "https://docs.aws.amazon.com/step-functions/latest/dg/limits.html"},
}


class FleetSandbox(orchestration.BenchSandbox):
    def env(self):
        e = super().env()
        e["SANDBOX_SERVICES"] = str(SERVICES)
        return e


def op_of(c):
    if c["service"] == "lambda" and c.get("function"):
        return f"lambda.Invoke({c['function']})"
    return f"{c['service']}.{c['operation']}"


def quota_group(op):
    """The quota a call counts against (None: no rate quota this bench models)."""
    svc, _, name = op.partition(".")
    if svc == "elasticloadbalancing":
        return "elbv2.describe" if name.startswith("Describe") else "elbv2.mutate"
    if op in ("codedeploy.GetDeployment", "codedeploy.PutLifecycleEventHookExecutionStatus",
              "states.StartExecution", "monitoring.DescribeAlarms", "monitoring.GetMetricData"):
        return op
    return None


def peak_per_second(times):
    """The most calls in any 1 s window (t - 1, t] ending at a call."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 1.0:  # the window (t - 1, t]: 1 s wide
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def history(direct, arn):
    events, kw = [], {"executionArn": arn, "maxResults": 1000}
    while True:
        page = direct.get_execution_history(**kw)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kw["nextToken"] = page["nextToken"]


def attribute_events(events):
    """[(state name or None, event)]: each history event charged to the state last entered."""
    out, current = [], None
    for e in events:
        if e["type"].endswith("StateEntered"):
            current = e["stateEnteredEventDetails"]["name"]
        out.append((current, e))
    return out


def bake_loop_costs(events):
    """Per health check of the bake loop (Bake task + BakeDone choice + WaitBake wait), measured:
    checks, transitions and history events per check, Lambda invocations per check, and the events
    outside the loop (the rest of the execution)."""
    loop = ("Bake", "BakeDone", "WaitBake")
    att = attribute_events(events)
    entered = Counter(e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered"))
    checks = entered["Bake"]
    loop_events = sum(1 for s, _ in att if s in loop)
    loop_transitions = sum(entered[s] for s in loop)
    loop_invokes = sum(1 for s, e in att if s == "Bake" and e["type"] in ("TaskScheduled", "LambdaFunctionScheduled"))
    # A full check (Bake, BakeDone, then WaitBake): each state's events per entry, summed. The last check
    # of a step leaves the loop without WaitBake, so the plain average would undercount a long bake.
    per_entry = {st: sum(1 for s, _ in att if s == st) / entered[st] for st in loop if entered[st]}
    return {"checks": checks, "waits": entered["WaitBake"], "transitions_per_check": float(len(per_entry)),
            "events_per_check": sum(per_entry.values()), "events_per_state_entry": per_entry,
            "invokes_per_check": loop_invokes / checks, "loop_events": loop_events,
            "loop_transitions": loop_transitions,
            "events_total": len(events), "events_outside_loop": len(events) - loop_events,
            "transitions_total": sum(entered.values()), "states_entered": dict(entered)}


def check_invariants(sb, elb, did, names, cd_state):
    problems = []
    info = sb.deployment(did)
    if info["status"] != "Succeeded":
        problems.append(f"status {info['status']}: {info.get('errorInformation')}")
    for h in cd_state["hooks"].get(did, []):
        accepted = [r for r in h["report_log"] if r["accepted"]]
        if len(accepted) != 1 or accepted[0]["status"] != "Succeeded":
            problems.append(f"hook {h['event']}: accepted reports {[r['status'] for r in accepted]}")
    if not cd_state["hooks"].get(did):
        problems.append("no hook execution recorded")
    lb = elb.describe_load_balancers(Names=[names["load_balancer"]])["LoadBalancers"][0]["LoadBalancerArn"]
    prod = next(l for l in elb.describe_listeners(LoadBalancerArn=lb)["Listeners"] if l["Port"] == 80)
    for rule in elb.describe_rules(ListenerArn=prod["ListenerArn"])["Rules"]:
        if names["service"] == "web" and provision.is_admin_production_rule(rule):
            continue  # the admin service's own path rule on the shared :80 listener (provision_admin)
        if not rule.get("IsDefault"):
            problems.append(f"rule left on :80: priority {rule['Priority']}")
            continue
        groups = [g for a in rule["Actions"] if a["Type"] == "forward"
                  for g in ((a.get("ForwardConfig") or {}).get("TargetGroups")
                            or [{"TargetGroupArn": a.get("TargetGroupArn"), "Weight": 1}])
                  if (g.get("Weight") is None or g.get("Weight", 0) > 0)]
        if len(groups) != 1:
            problems.append(f"production split: {groups}")
    return problems


def run(sandbox):
    from client import Sandbox

    sb = Sandbox(sandbox.endpoint)
    # Step Functions through the router (moto checks signatures once IAM is on; the router re-signs the
    # operator's key): these reads carry principal "operator" and are made after the calls were read.
    direct = sb.sfn
    elb = sb.client("elbv2")
    fleet = [provision.service_names(i) for i in range(1, SERVICES + 1)]
    for n in fleet:
        sb.ssm.put_parameter(Name=n["plan_parameter"], Type="String", Overwrite=True,
                             Value=json.dumps(fleet_plan(n["alarm"])))
    # Task definitions first (not part of the burst), then every CreateDeployment at once.
    tds = {n["service"]: sb.register_task_definition("example/web:v2", family=n["family"]) for n in fleet}
    sb.reset_calls()

    def create(n):
        content = sb.appspec(tds[n["service"]], container=n["container"])
        return sb.codedeploy.create_deployment(
            applicationName=n["application"], deploymentGroupName=n["deployment_group"],
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}})["deploymentId"]

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(fleet)) as pool:
        dids = list(pool.map(create, fleet))
    by_did = dict(zip(dids, fleet))
    # Wait through the simulator's own state (/_sandbox/codedeploy: not an AWS call, never counted).
    deadline = time.monotonic() + float(os.environ.get("FLEET_TIMEOUT_S", "900"))
    terminal = {"Succeeded", "Failed", "Stopped"}
    while time.monotonic() < deadline:
        st = {d["deploymentId"]: d["status"] for d in sb._ctl("GET", "/codedeploy")["deployments"]}
        if all(st.get(d) in terminal for d in dids):
            break
        time.sleep(1.0)
    t_done = time.time()
    log = sb.calls(log=True).get("log", [])
    cd_state = sb._ctl("GET", "/codedeploy")
    counted = [c for c in log if c.get("principal") != "operator" and t0 <= c["t"]]
    problems = {by_did[d]["service"]: check_invariants(sb, elb, d, by_did[d], cd_state) for d in dids}
    # Executions of these deployments (moto directly: not counted).
    executions = {}
    for sm in (CANARY, POST_TRAFFIC):
        for page in direct.get_paginator("list_executions").paginate(stateMachineArn=sm):
            for e in page["executions"]:
                for d in dids:
                    if e["name"].startswith(d):
                        executions.setdefault(d, []).append(e["executionArn"])
    transitions, canary_costs = {}, []
    for d, arns in executions.items():
        total = 0
        for arn in arns:
            ev = history(direct, arn)
            total += sum(1 for e in ev if e["type"].endswith("StateEntered"))
            if ":hookline-canary:" in arn:
                canary_costs.append(bake_loop_costs(ev))
        transitions[d] = total
    hook_invocations = sum(len(cd_state["hooks"].get(d, [])) for d in dids)
    raw = (dids, by_did, counted, problems, transitions, canary_costs, t0, t_done, hook_invocations)
    pathlib.Path(os.environ.get("FLEET_RAW", "/tmp/fleet-raw.json")).write_text(json.dumps(raw, default=str))
    return analyse(*raw)


def analyse(dids, by_did, counted, problems, transitions, canary_costs, t0, t_done, hook_invocations):
    n = len(dids)
    per_op = Counter(op_of(c) for c in counted)
    peaks = {}
    for op in per_op:
        peaks[op] = peak_per_second([c["t"] for c in counted if op_of(c) == op])
    group_peaks = {}
    for g in {quota_group(op) for op in per_op} - {None}:
        group_peaks[g] = peak_per_second([c["t"] for c in counted if quota_group(op_of(c)) == g])
    # Health checks: validate-health invocations (ValidateGreen + every Bake). Per check, the calls the
    # function makes are the calls of the whole run minus the other tasks' ones; measured directly as
    # the calls whose principal is validate-health.
    vh = [c for c in counted if c.get("principal") == "validate-health"]
    checks = sum(1 for c in counted if op_of(c) == "lambda.Invoke(validate-health)")
    per_check = {op: k / checks for op, k in Counter(op_of(c) for c in vh).items()} if checks else {}
    other = Counter(op_of(c) for c in counted if c.get("principal") != "validate-health")
    # The deployment-status read repeated by every task: GetDeployment by principal.
    gd_by_principal = Counter(c.get("principal") for c in counted if op_of(c) == "codedeploy.GetDeployment")
    invokes_by_fn = Counter(c.get("function") for c in counted if c["service"] == "lambda" and c.get("function"))
    invokes_by_fn["hook"] += hook_invocations  # CodeDeploy's own invocations of the hook
    return {"services": n, "seconds": t_done - t0, "deployments": dids,
            "succeeded": sum(1 for d in dids if not problems[by_did[d]["service"]]),
            "problems": {k: v for k, v in problems.items() if v},
            "calls_total": len(counted), "per_op": dict(per_op), "peaks": peaks, "group_peaks": group_peaks,
            "health_checks": checks, "per_check": per_check, "other_calls": dict(other),
            "get_deployment_by_principal": dict(gd_by_principal), "invokes_by_function": dict(invokes_by_fn),
            "transitions_per_deployment": transitions, "canary_costs": canary_costs,
            "principals": dict(Counter(c.get("principal") for c in counted))}


def model(r):
    """Rates per deployment at a 30 s interval and the concurrent deployments each quota sustains."""
    n = r["services"]
    plan_bake_s = sum(int(s["bake"].rstrip("s")) for s in fleet_plan("x")["steps"])
    # The deployment's length at the 30 s scale: its bakes, each check scaled by 30.
    d30 = plan_bake_s * SCALE
    checks_per_dep = r["health_checks"] / n
    rate = defaultdict(float)   # calls/s per deployment at 30 s, by quota group
    for op, k in r["per_check"].items():
        g = quota_group(op)
        if g:
            rate[g] += k / TARGET_INTERVAL_S
    for op, k in r["other_calls"].items():
        g = quota_group(op)
        if g:
            rate[g] += (k / n) / d30
    costs = r["canary_costs"]
    tpc = max(c["transitions_per_check"] for c in costs)
    outside_transitions = max(c["transitions_total"] - c["loop_transitions"] for c in costs)
    post = max(r["transitions_per_deployment"].values()) - max(c["transitions_total"] for c in costs)
    rate["states.transitions"] = tpc / TARGET_INTERVAL_S + (outside_transitions + max(post, 0)) / d30
    # Lambda concurrency: invocations/s x duration. A 30 s check's validate-health call lasts well under
    # a second; take 1 s per invocation (pessimistic for warm functions) plus the hook's own.
    inv = sum(r["invokes_by_function"].values()) / n
    rate["lambda.concurrency"] = inv / d30 * 1.0
    sustained = {}
    for g, q in QUOTAS.items():
        if g in rate and q.get("sustained") and rate[g] > 0:
            sustained[g] = q["sustained"] / rate[g]
    binding = min(sustained, key=sustained.get)
    # The Describe* calls that are not the health data itself (DescribeTargetHealth per check): the
    # one-off reads of the hook, every shift and finalize. Without them, the Describe* ceiling would be:
    per_check_describe = sum(k for op, k in r["per_check"].items() if quota_group(op) == "elbv2.describe")
    oneoff_describe = {op: k / n for op, k in r["other_calls"].items() if quota_group(op) == "elbv2.describe"}
    ceiling_no_oneoff = (QUOTAS["elbv2.describe"]["sustained"] / (per_check_describe / TARGET_INTERVAL_S)
                         if per_check_describe else None)
    # Steady state inside long bakes: only the per-check calls count (one-offs amortize to nothing).
    bake_rate = defaultdict(float)
    for op, k in r["per_check"].items():
        if quota_group(op):
            bake_rate[quota_group(op)] += k / TARGET_INTERVAL_S
    bake_ceiling = {g: QUOTAS[g]["sustained"] / v for g, v in bake_rate.items() if QUOTAS[g].get("sustained") and v}
    bake_binding = min(bake_ceiling, key=bake_ceiling.get) if bake_ceiling else None
    return {"bake_ceiling": bake_ceiling, "bake_binding": bake_binding, "oneoff_describe": oneoff_describe,
            "describe_ceiling_without_oneoffs": ceiling_no_oneoff, "d30_s": d30,
            "checks_per_deployment": checks_per_dep, "rate": dict(rate), "sustained": sustained,
            "binding": binding, "max_concurrent": math.floor(sustained[binding])}


def goal4(r):
    c = max(r["canary_costs"], key=lambda x: x["events_per_check"])
    per_min = 60.0 / TARGET_INTERVAL_S
    checks_30m = LONG_BAKE_S / TARGET_INTERVAL_S
    events_30m = checks_30m * c["events_per_check"] + c["events_outside_loop"]
    return {"transitions_per_check": c["transitions_per_check"], "events_per_check": c["events_per_check"],
            "invokes_per_check": c["invokes_per_check"],
            "transitions_per_bake_minute": c["transitions_per_check"] * per_min,
            "invokes_per_bake_minute": c["invokes_per_check"] * per_min,
            "checks_30m": checks_30m, "events_outside_loop": c["events_outside_loop"],
            "events_30m": events_30m, "margin": HISTORY_QUOTA / events_30m, "measured": c}


def fmt_ops(d, scale=1.0, nd=2):
    return ", ".join(f"{k} ×{v * scale:.{nd}f}".rstrip("0").rstrip(".") for k, v in sorted(d.items()))


def render(doc):
    r, m, g4 = doc["result"], doc["model"], doc["goal4"]
    n = r["services"]
    # The per-check Describe* rate per deployment at 30 s (DescribeTargetHealth: the health data itself).
    per_check_rate = sum(k for op, k in r["per_check"].items()
                         if quota_group(op) == "elbv2.describe") / TARGET_INTERVAL_S
    ok3 = m["max_concurrent"] >= GOAL_CONCURRENT and r["succeeded"] == n
    ok4 = g4["events_30m"] * 2 <= HISTORY_QUOTA
    lines = [MARK_BEGIN, "## 5. Fleet scale and orchestration (`make bench-fleet`)", "",
             f"Generated by `benches/fleet.py` on {doc['date']} at commit `{doc['commit']}`; "
             f"machine: {doc['machine']}. "
             f"{n} services (`SANDBOX_SERVICES={n}`: `web`, `web-2` … `web-{n}`, each with its own ALB, target "
             f"groups, CodeDeploy application/group, alarm and plan), one deployment each, all created at once in "
             f"the bench's own sandbox (ports 4820/4821/9220); the functions are debug builds under `cargo lambda "
             f"watch` on this machine, so wall times are the sandbox's, counts are what AWS would see. Plan (a "
             f"30 s interval scaled to {MODEL_INTERVAL_S:g} s): `{json.dumps(fleet_plan('<alarm>'))}`.", "",
             "| goal | measured | |", "|---|---|---|",
             f"| 3. ≥ {GOAL_CONCURRENT} concurrent deployments at a 30 s health interval, without throttling "
             f"(and {n} at once in the sandbox: all succeed, every invariant holds) | **{m['max_concurrent']}** "
             f"(binding: {QUOTAS[m['binding']]['what']}); {r['succeeded']}/{n} succeeded with every invariant | "
             f"{'✅ met' if ok3 else '❌ missed'} |",
             f"| 4. a 30 min bake at 30 s fits the 25,000-event history quota with margin (≤ half) | "
             f"**{g4['events_30m']:.0f}** events ({g4['margin']:.0f}× under the quota); "
             f"{g4['transitions_per_bake_minute']:.1f} transitions and {g4['invokes_per_bake_minute']:.1f} Lambda "
             f"invocations per bake minute | {'✅ met' if ok4 else '❌ missed'} |", ""]
    if r["problems"]:
        lines += ["Invariant problems: " + "; ".join(f"`{k}`: {v}" for k, v in sorted(r["problems"].items())), ""]
    lines += [f"### Goal 3: calls per API, {n} deployments at once ({r['seconds']:.0f} s wall)", "",
              "Counted at the router: the functions' and Step Functions' calls (principals "
              f"{', '.join(f'`{p}`' for p in sorted(map(str, r['principals'])))}); the bench's own are left out. "
              "Peak: the most calls of that API in any 1 s window.", "",
              "| API | calls | per deployment | peak calls/s (all) | peak per deployment |", "|---|---|---|---|---|"]
    for op, k in sorted(r["per_op"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| `{op}` | {k} | {k / n:.1f} | {r['peaks'][op]} | {r['peaks'][op] / n:.2f} |")
    lines += ["", f"Health checks: {r['health_checks']} `validate-health` invocations ({r['health_checks'] / n:.1f} "
              f"per deployment); per check: {fmt_ops(r['per_check'])}.", "",
              "Rates per deployment at a 30 s interval (per-check calls ÷ 30 s, plus every other call spread over "
              f"the deployment's bakes scaled ×{SCALE:g} = {m['d30_s']:.0f} s) against each quota's sustained "
              "rate (a bucket's refill rate):", "",
              "| quota | sustained | burst | per deployment at 30 s | concurrent deployments | source |",
              "|---|---|---|---|---|---|"]
    for g, s in sorted(m["sustained"].items(), key=lambda kv: kv[1]):
        q = QUOTAS[g]
        mark = "" if q["checked"] else " (figure not re-read this run)"
        unit = "concurrent" if g == "lambda.concurrency" else "/s"
        lines.append(f"| {q['what']}{' **(binding)**' if g == m['binding'] else ''} | {q['sustained']} {unit} | "
                     f"{q.get('burst') or '—'} | {m['rate'][g]:.4f} | {s:,.0f} | [{g}]({q['source']}){mark} |")
    for g, q in QUOTAS.items():
        if q.get("sustained") is not None and g not in m["sustained"] and g != "states.history":
            if_each = q["sustained"] * TARGET_INTERVAL_S
            lines.append(f"| {q['what']} | {q['sustained']} /s | {q.get('burst') or '—'} | 0 | not called by this "
                         f"plan; a `metrics` gate calls it once per check: {if_each:,.0f} if every plan had one "
                         f"| [{g}]({q['source']}) |")
        if q.get("sustained") is None:
            lines.append(f"| {q['what']} | — | — | {m['rate'].get(g, 0):.4f} | not limited by a documented rate | "
                         f"[{g}]({q['source']}): {q.get('note', '')} |")
    if m.get("bake_binding"):
        lines += ["", "In long bakes (the steady state, one-off calls amortized away) the per-check calls alone "
                  "allow: " + ", ".join(f"{QUOTAS[g]['what']} {v:,.0f}" for g, v in
                                        sorted(m["bake_ceiling"].items(), key=lambda kv: kv[1]))
                  + f" concurrent deployments at 30 s; binding: {QUOTAS[m['bake_binding']]['what']}."]
    lines += ["", f"Burst: the {n} deployments created at once peaked at "
              + ", ".join(f"{g} {v}/s" for g, v in sorted(r["group_peaks"].items()))
              + f" ({r['group_peaks'].get('elbv2.describe', 0) / n:.2f} ELBv2 Describe* calls/s per deployment at "
              f"the peak: {GOAL_CONCURRENT} deployments started in the same second would ask about "
              f"{r['group_peaks'].get('elbv2.describe', 0) / n * GOAL_CONCURRENT:.0f}/s of a bucket of "
              f"{QUOTAS['elbv2.describe']['burst']}: staggered starts, or the SDK's retries on throttling, absorb a "
              "burst; the table above is the sustained rate).",
              "", "Findings (what is left, and why):", "",
              "- Reduced since the first run of this bench (`aa13fca`: 159, ELBv2 Describe* one-offs 7.1 per "
              "deployment): the AfterAllowTraffic hook reuses the canary execution's context and plan (succeeded, or "
              "still running after its Finalize answered) "
              "(GetDeploymentTarget only: no second GetDeployment, GetDeploymentGroup, DescribeTargetGroups or "
              "plan GetParameter), and the post-traffic finalize skips the cohort-rule lookup the canary's "
              "finalize already made before its Succeeded report (DescribeRules, DescribeTags).",
              "- ELBv2 Describe* per deployment: one `DescribeTargetHealth` per health check (the health data "
              "itself) and one-off reads: " + fmt_ops(m["oneoff_describe"]) + ". The `DescribeListeners` before "
              "each `ModifyListener` stays: it is the drift check (an operator who put production back on blue, "
              "or weight on a third target group, fails the step instead of being overwritten into a split) and "
              "the source of the actions kept around the forward (authentication, stickiness). The "
              "`DescribeTargetGroups` is the one name-to-ARN lookup of the deployment, the `DescribeRules` the "
              "one cohort-rule cleanup (leftovers of an earlier deployment included). Reaching "
              f"{GOAL_CONCURRENT} on this bucket needs the one-offs at ≤ "
              f"{(QUOTAS['elbv2.describe']['sustained'] / GOAL_CONCURRENT - per_check_rate) * m['d30_s']:.1f} per "
              f"deployment (today {sum(m['oneoff_describe'].values()):.2f}); without any one-off the Describe* "
              f"ceiling would be {m['describe_ceiling_without_oneoffs']:,.0f} concurrent deployments at 30 s.",
              f"- ELBv2 mutating: `ModifyListener` ×{r['per_op'].get('elasticloadbalancing.ModifyListener', 0) / n:.1f}"
              " per deployment, one per weight step of the plan: the floor for this plan. The mutating bucket's "
              "figure was not re-read in the page this run: check it before quoting the ceiling.",
              f"- `codedeploy.GetDeployment` ×{r['per_op'].get('codedeploy.GetDeployment', 0) / n:.1f} per "
              "deployment, by principal: "
              + fmt_ops({str(k): v / n for k, v in r["get_deployment_by_principal"].items()})
              + ": the status read before every shift and in every health check is how a console stop is seen "
              "within one health interval; CodeDeploy documents no rate quota for it, so it does not bound the "
              "ceiling and stays.",
              "- `states.DescribeExecution` ×"
              f"{r['per_op'].get('states.DescribeExecution', 0) / n:.1f} per deployment comes from the hook "
              "(`hook_executions`: at each hook event both events' executions, since a late or duplicate "
              "invocation may carry either event's id, and a deployment whose BeforeAllowTraffic hook is not "
              "hookline's has only the second); its Step Functions API quota is not modeled by this bench.",
              "", "### Goal 4: orchestration cost per bake minute", "",
              f"From the canary executions' histories (moto's interpreter; the worst of {n}): the bake loop "
              f"(Bake task + BakeDone + WaitBake) costs **{g4['transitions_per_check']:.1f}** state transitions, "
              f"**{g4['events_per_check']:.1f}** history events and **{g4['invokes_per_check']:.1f}** Lambda "
              f"invocation per health check; at 30 s (2 checks a minute): **{g4['transitions_per_bake_minute']:.1f}"
              f"** transitions and **{g4['invokes_per_bake_minute']:.1f}** invocations per bake minute. A 30 min "
              f"bake = {g4['checks_30m']:.0f} checks × {g4['events_per_check']:.1f} + {g4['events_outside_loop']} "
              f"events outside the loop (the rest of the measured execution) = **{g4['events_30m']:.0f}** events "
              f"of the 25,000 quota ({g4['margin']:.0f}× margin).", "", MARK_END]
    return "\n".join(lines) + "\n"


def write_section(text, path):
    """Replace the fleet section between its markers (or append it): `make bench`'s sections are kept."""
    old = path.read_text() if path.exists() else ""
    if MARK_BEGIN in old and MARK_END in old:
        head, rest = old.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        new = head + text + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def machine():
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--from-raw", action="store_true",
                    help="re-analyse the last run's raw calls and histories (FLEET_RAW) without a sandbox")
    a = ap.parse_args()
    out = BENCH / "results" / "fleet.json"
    if a.render_only:
        doc = json.loads(out.read_text())
    elif a.from_raw:
        doc = json.loads(out.read_text())
        raw = pathlib.Path(os.environ.get("FLEET_RAW", "/tmp/fleet-raw.json"))
        doc["result"] = analyse(*json.loads(raw.read_text()))
        doc["model"], doc["goal4"] = model(doc["result"]), goal4(doc["result"])
        out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    else:
        sandbox = FleetSandbox(port=4820, moto_port=4821, lambda_port=9220, state="/tmp/sbx-fleet")
        try:
            sandbox.up()
            result = run(sandbox)
        finally:
            sandbox.down()
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        doc = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "commit": commit, "machine": machine(), "result": result}
        doc["model"], doc["goal4"] = model(result), goal4(result)
        out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    write_section(render(doc), ROOT / "BENCHMARKS.md")
    print(render(doc))


if __name__ == "__main__":
    main()
