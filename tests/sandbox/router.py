"""hookline sandbox front router: one AWS endpoint (default http://127.0.0.1:4566).

- CodeDeploy (``X-Amz-Target: CodeDeploy_20141006.*``, or rpc-v2-cbor) -> the
  in-process CodeDeploy ECS blue/green simulator (sim/codedeploy/api.py).
- ECS service deployments (ListServiceDeployments, DescribeServiceDeployments,
  DescribeServiceRevisions, StopServiceDeployment; CreateService / UpdateService of a
  BLUE_GREEN service with controller ECS) -> the ECS simulator (sim/ecs/api.py), which also
  stores the service in moto; moto's DescribeServices answers get what moto drops.
- Route 53 ChangeResourceRecordSets / GetChange -> the Route 53 simulator (sim/route53.py: change
  status, the batch validation moto skips; moto stays the store); other Route 53 calls -> moto.
- Lambda Invoke (``/2015-03-31/functions/<name|ARN>/invocations``) ->
  ``cargo lambda watch`` with the bare function name; its HTTP 500
  ``{"errorType","errorMessage"}`` becomes AWS's 200 + ``X-Amz-Function-Error: Unhandled``.
- everything else -> moto server; rpc-v2-cbor requests (Rust
  aws-sdk-cloudwatch) are translated to JSON 1.0 for moto and back.
- ``/_sandbox/...``: call counters, fault injection, ALB data plane, app
  traffic loop, simulator config (see README.md).

Run: python tests/sandbox/router.py --port 4566 --moto-url http://127.0.0.1:4567 --lambda-url http://127.0.0.1:9000
"""
import argparse
import copy
import datetime
import http.client
import json
import logging
import math
import os
import re
import sys
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402
from requests.structures import CaseInsensitiveDict  # noqa: E402

import awsproto  # noqa: E402
from sim import dns as dns_mod  # noqa: E402
from sim import iam  # noqa: E402
from sim.alb import AlbEmulator, forward_weights, routing_action  # noqa: E402
from sim.cloudwatch import CloudWatchData  # noqa: E402
from sim.codedeploy.api import CodeDeploySim, SimConfig  # noqa: E402
from sim.dns import DnsConfig, DnsPlane, Record as DnsRecord  # noqa: E402
from sim.ecs.api import EcsConfig, EcsSim  # noqa: E402
from sim.ecs.rolling import RollingSim, answers_5xx  # noqa: E402
from sim.lambda_emul import FUNCTION_FAULT_KINDS, LambdaEmulator, load_template  # noqa: E402
from sim.route53 import MOTO_AUTH_BODY, Route53Config, Route53Sim  # noqa: E402

log = logging.getLogger("router")
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade", "te",
       "trailer", "expect"}
ECS_TASK_SET_OPS = {"DescribeServices", "DescribeTaskSets", "CreateTaskSet", "UpdateTaskSet", "DeleteTaskSet"}
FAULT_KINDS = {"throttle", "error", "latency", "crash", "unhealthy"}
# The DNS data plane's settings (POST /_sandbox/traffic {"dns": {...}}): the Route 53 demo's name
# (provision.py ROUTE53_DEMO), its alarm, 40 clients sending one request each per tick.
DNS_DEFAULTS = {"enabled": True, "fqdn": "web.shop.example.com", "alarm": "shop-web-5xx", "clients": 40,
                "requests_per_client": 1, "set_alarm": False, "ticks": 0, "last": None, "totals": {}}
ELB_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.elb\.amazonaws\.com$")   # <name>-<n>.<region>.elb.amazonaws.com
DNS_SETTABLE = ("enabled", "fqdn", "alarm", "clients", "requests_per_client")


def caller_of(req):
    """Who signed ``req``, as a fault's ``caller`` names it: the function whose role's key signed it
    (``validate-health``), ``operator`` (the public key: the CLI, a test harness), ``stepfunctions``
    (the state machines' own calls), or None (unsigned, unknown key). Set by IAM's ``authorize``."""
    p = getattr(req, "principal", None) or {}
    return p.get("function") or p.get("name")


class Faults:
    """Run-time fault injection. A fault matches by service (+ operation) or by function, and
    optionally by ``caller`` (who signed the request: a function's role, or ``operator``), so that
    a fault meant for a function is not taken by the CLI's or a test harness's own call."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, spec):
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}")
        f = {"id": spec.get("id") or uuid.uuid4().hex[:12], "kind": kind,
             "service": awsproto.normalize_service(spec.get("service")),
             "operation": spec.get("operation"), "function": spec.get("function"),
             "target_group": spec.get("target_group"),
             "count": spec.get("count"), "status": spec.get("status"), "code": spec.get("code"),
             "message": spec.get("message"), "latency_ms": int(spec.get("latency_ms", 0) or 0),
             "error_type": spec.get("error_type"), "caller": spec.get("caller"), "hits": 0}
        if f["function"]:
            f["service"] = "lambda"
            f["operation"] = f["operation"] or "Invoke"
        if kind == "crash" and not f["function"]:
            raise ValueError("crash needs 'function'")
        if kind == "unhealthy" and not f["target_group"]:
            raise ValueError("unhealthy needs 'target_group'")
        if kind in ("throttle", "error", "latency") and not f["service"]:
            raise ValueError(f"{kind} needs 'service'")
        if kind == "latency" and f["latency_ms"] <= 0:
            raise ValueError("latency needs latency_ms > 0")
        if f["count"] is not None:
            f["count"] = int(f["count"])
            if f["count"] <= 0:
                raise ValueError("count must be > 0 (omit it for a permanent fault)")
        with self.lock:
            self.items.append(f)
        return dict(f)

    def list(self):
        with self.lock:
            return [dict(f) for f in self.items]

    def clear(self, fid=None):
        with self.lock:
            before = len(self.items)
            self.items = [f for f in self.items if fid is not None and f["id"] != fid]
            return before - len(self.items)

    def take(self, req, skip_kinds=(), only_kinds=None):
        """First matching request fault (consuming one count), or None. Function faults (crash,
        latency on a Lambda Invoke) are taken per delivery by lambda_emul, API faults by _handle."""
        with self.lock:
            for f in self.items:
                if f["kind"] == "unhealthy" or f["kind"] in skip_kinds:
                    continue
                if only_kinds is not None and f["kind"] not in only_kinds:
                    continue
                if f["service"] and f["service"] != req.service:
                    continue
                if f["operation"] and f["operation"].lower() != (req.operation or "").lower():
                    continue
                if f["function"] and f["function"] != req.function:
                    continue
                if f["caller"] and f["caller"] != caller_of(req):
                    continue
                f["hits"] += 1
                out = dict(f)
                if f["count"] is not None:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.items.remove(f)
                return out
        return None

    def unhealthy(self, tg_arn):
        if not tg_arn:
            return False
        name = tg_arn.split("/")[1] if "/" in tg_arn else tg_arn
        with self.lock:
            for f in self.items:
                if f["kind"] == "unhealthy" and f["target_group"] in (tg_arn, name):
                    f["hits"] += 1
                    return True
        return False


class Sandbox:
    def __init__(self, port=4566, moto_url="http://127.0.0.1:4567", lambda_url="http://127.0.0.1:9000",
                 host="127.0.0.1", sim_config=None, app_traffic=None, ecs_config=None, r53_config=None,
                 dns_config=None):
        self.port, self.host = port, host
        self.moto_url, self.lambda_url = moto_url.rstrip("/"), lambda_url.rstrip("/")
        self.url = f"http://{host}:{port}"
        self.faults = Faults()
        self.calls_lock = threading.Lock()
        self.calls = defaultdict(lambda: defaultdict(int))
        self.call_log = []
        # IAM (sim/iam.py): who calls (access key -> function role), the template's policies, operator signing
        # of every client that uses the public key "sandbox" (installed before any client is created).
        self.iam = iam.Enforcer(os.environ.get("SANDBOX_CREDENTIALS_DIR", ""), self._deployment_group_of)
        iam.install_operator_signing(boto3._get_default_session(), self.iam)
        self.sim = CodeDeploySim(self.moto_url, self.url, sim_config or SimConfig())
        kw = dict(endpoint_url=self.moto_url, region_name="us-east-1", aws_access_key_id="sandbox",
                  aws_secret_access_key="sandbox", config=BotoConfig(retries={"max_attempts": 2}))
        self.elb = boto3.client("elbv2", **kw)
        self.ecs = boto3.client("ecs", **kw)
        self.cw = boto3.client("cloudwatch", **kw)
        # GetMetricData's metric math and publication delay in front of moto (sim/cloudwatch.py)
        self.cw_data = CloudWatchData(self.cw)
        # Route 53 change status and the batch validation moto skips, moto as the store (sim/route53.py)
        self.r53 = Route53Sim(boto3.client("route53", **kw), r53_config or Route53Config())
        # ECS-native blue/green (sim/ecs/api.py); its revisions serve target groups without task sets
        self.ecs_sim = EcsSim(self.moto_url, self.url, ecs_config or EcsConfig())
        # plain (rolling) ECS services whose tasks run and register in their target groups (sim/ecs/rolling.py)
        self._clients_kw = kw
        self._clients = {("elbv2", "us-east-1"): self.elb, ("ecs", "us-east-1"): self.ecs,
                         ("cloudwatch", "us-east-1"): self.cw}
        self._clients_lock = threading.Lock()
        self.rolling = RollingSim(self.client, self.ecs_sim.cfg, self.ecs_sim.reg)
        self.alb = AlbEmulator(self.elb, self.ecs, is_unhealthy=self.faults.unhealthy,
                               revision_for=lambda tg: (self.ecs_sim.revision_for_target_group(tg)
                                                        or self.rolling.serving_for_target_group(tg)))
        # the DNS data plane of the traffic loop: clients resolving a weighted name through caching
        # resolvers (sim/dns.py)
        self.dns_cfg = dns_config or DnsConfig()
        self.dns_plane = DnsPlane(clients=DNS_DEFAULTS["clients"])
        # Lambda's own behaviour around cargo-lambda: timeouts, async retries and duplicates,
        # dead-letter queue, SQS event source mapping (sim/lambda_emul.py, from infra/template.yaml).
        self.lambda_emul = LambdaEmulator(self.cargo_lambda_invoke, self.take_function_fault,
                                          sqs=boto3.client("sqs", **kw), spec=load_template(),
                                          sqs_for=self.function_sqs)
        self._function_sqs = {}
        self.traffic = {"enabled": False, "interval_ms": 1000, "alarm": "web-5xx", "port": 80,
                        "set_alarm": False, "ticks": 0, "last": None, "dns": copy.deepcopy(DNS_DEFAULTS)}
        if app_traffic is None:
            app_traffic = os.environ.get("SANDBOX_APP_TRAFFIC", "0") == "1"
        self.traffic["enabled"] = app_traffic
        self.traffic_cv = threading.Condition()
        self.httpd = None
        self._stop = False

    def client(self, service, region="us-east-1"):
        """The router's own boto3 client of moto for ``service`` in ``region`` (cached)."""
        with self._clients_lock:
            c = self._clients.get((service, region))
            if c is None:
                c = self._clients[(service, region)] = boto3.client(service, **dict(self._clients_kw,
                                                                                     region_name=region))
            return c

    # ------------------------------------------------------------ lifecycle
    def start(self):
        sb = self

        class Handler(_Handler):
            sandbox = sb

        self.httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self.sim.router_url = self.url
        self.ecs_sim.router_url = self.url
        threading.Thread(target=self.httpd.serve_forever, daemon=True, name="router").start()
        threading.Thread(target=self._traffic_loop, daemon=True, name="app-traffic").start()
        threading.Thread(target=self._rolling_loop, daemon=True, name="ecs-rolling").start()
        self.lambda_emul.start()
        return self

    def stop(self):
        self._stop = True
        self.lambda_emul.stop()
        with self.traffic_cv:
            self.traffic_cv.notify_all()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    # ------------------------------------------------------------ Lambda
    def take_function_fault(self, fn):
        return self.faults.take(awsproto.Req(service="lambda", operation="Invoke", function=fn),
                                only_kinds=FUNCTION_FAULT_KINDS)

    def function_sqs(self, fn):
        """An SQS client acting as fn's execution role, through this router (so IAM enforcement sees
        the call), when the sandbox has role credentials (SANDBOX_CREDENTIALS_DIR/<fn>.env, written by
        provisioning); None otherwise (lambda_emul then uses the router's own client)."""
        cred_dir = os.environ.get("SANDBOX_CREDENTIALS_DIR")
        path = os.path.join(cred_dir, f"{fn}.env") if cred_dir else None
        if not path or not os.path.exists(path):
            return None
        with open(path) as f:
            env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        key = env.get("AWS_ACCESS_KEY_ID")
        if not key or not env.get("AWS_SECRET_ACCESS_KEY"):
            raise ValueError(f"{path}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required")
        cached = self._function_sqs.get(fn)
        if cached and cached[0] == key:
            return cached[1]
        client = boto3.client("sqs", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=key,
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                              aws_session_token=env.get("AWS_SESSION_TOKEN"),
                              config=BotoConfig(retries={"max_attempts": 2}))
        self._function_sqs[fn] = (key, client)
        return client

    def cargo_lambda_invoke(self, fn, body):
        """One synchronous invoke in cargo-lambda, in the Invoke API's form: its HTTP 500
        {"errorType","errorMessage"} becomes 200 + X-Amz-Function-Error: Unhandled."""
        req = awsproto.Req(service="lambda", operation="Invoke", function=fn)
        path = f"/2015-03-31/functions/{fn}/invocations"
        try:
            status, rh, rb = _Handler._forward(None, self.lambda_url, "POST", path,  # uses no handler state
                                               {"Content-Type": "application/json"}, body, timeout=900)
        except OSError as e:
            return awsproto.error_response(req, 502, "ServiceException",
                                           f"sandbox: cargo-lambda not reachable at {self.lambda_url}: {e}")
        h = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        if status == 200:
            return 200, h, rb
        try:
            doc = json.loads(rb)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "errorType" in doc:
            h["X-Amz-Function-Error"] = "Unhandled"
            return 200, h, rb
        text = rb.decode("utf-8", "replace")
        if status == 404 or "missing function" in text.lower() or "not found" in text.lower():
            return awsproto.error_response(req, 404, "ResourceNotFoundException",
                                           f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{fn} ({text[:200]})")
        h["X-Amz-Function-Error"] = "Unhandled"
        return 200, h, _json({"errorType": "Runtime.Unknown", "errorMessage": text[:1000] or f"HTTP {status}"})

    def _deployment_group_of(self, deployment_id):
        """(application, deployment group) of a deployment: the resource IAM checks GetDeployment on."""
        status, out = self.sim.handle("GetDeployment", {"deploymentId": deployment_id})
        info = out.get("deploymentInfo") if status == 200 else None
        return (info["applicationName"], info["deploymentGroupName"]) if info else None

    # ------------------------------------------------------------ counters
    def count(self, req):
        with self.calls_lock:
            self.calls[req.service][req.operation] += 1
            self.call_log.append({"t": time.time(), "service": req.service, "operation": req.operation,
                                  **iam.log_fields(req),
                                  **({"function": req.function} if req.function else {})})
            if len(self.call_log) > 20000:
                del self.call_log[:10000]

    def calls_doc(self, with_log=False):
        with self.calls_lock:
            doc = {"total": sum(sum(v.values()) for v in self.calls.values()),
                   "calls": {s: dict(ops) for s, ops in self.calls.items()}}
            if with_log:
                doc["log"] = list(self.call_log)
        return doc

    def reset_calls(self):
        with self.calls_lock:
            self.calls.clear()
            self.call_log.clear()

    # ------------------------------------------------------------ app traffic
    def _traffic_loop(self):
        while not self._stop:
            with self.traffic_cv:
                self.traffic_cv.wait(self.traffic["interval_ms"] / 1000.0)
            if self._stop:
                return
            if not self.traffic["enabled"]:
                continue
            try:
                self._traffic_tick()
            except Exception as e:
                self.traffic["last"] = f"error: {e}"

    def _rolling_loop(self):
        """The plain ECS services' scheduler (sim/ecs/rolling.py): tasks start, register, stop."""
        while not self._stop:
            time.sleep(0.2)
            try:
                self.rolling.reconcile()
            except Exception:
                log.exception("rolling ECS services")

    def _traffic_tick(self):
        if self.traffic["dns"].get("enabled"):
            try:
                self._dns_tick(time.time())
            except Exception as e:
                self.traffic["dns"]["last"] = f"error: {e}"
                log.exception("DNS data plane")
        self._alb_tick()

    # ------------------------------------------------------------ DNS data plane (sim/dns.py)
    @staticmethod
    def _dns_name(name):
        n = (name or "").lower().rstrip(".")
        return n[len("dualstack."):] if n.startswith("dualstack.") else n

    def target_states(self, tg_arn):
        """[(target id, state)] of a target group as DescribeTargetHealth answers it through the router:
        moto's, each plain-service task's own state (sim/ecs/rolling.py), fault injection's 'unhealthy'."""
        out = []
        down = self.faults.unhealthy(tg_arn)
        elb = self.client("elbv2", tg_arn.split(":")[3])
        for d in elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]:
            tid = d["Target"]["Id"]
            mine = self.rolling.target_health(tg_arn, tid)
            state = mine[0] if mine else d["TargetHealth"]["State"]
            out.append((tid, "unhealthy" if down and state == "healthy" else state))
        return out

    def _dns_view(self, fqdn):
        """(records, load balancers): the weighted records of ``fqdn`` the name servers answer now, as
        sim/dns.py Records (target = load balancer name, healthy per EvaluateTargetHealth), and
        {name: {"dimension", "groups": {tg ARN: [(target id, state)]}, "weights": {tg ARN: weight}}}."""
        raw = self.r53.answered_records(fqdn, self.dns_cfg.dns_pending_answers)
        # the load balancers of every Region a record's alias names (a release may live in another Region)
        regions = {"us-east-1"} | {m.group(1) for r in raw for m in [ELB_REGION.search(
            self._dns_name((r.get("AliasTarget") or {}).get("DNSName")))] if m}
        lbs = {self._dns_name(lb["DNSName"]): lb for region in sorted(regions)
               for lb in self.client("elbv2", region).describe_load_balancers()["LoadBalancers"]}
        info, records = {}, []
        for r in raw:
            if r.get("Weight") is None or r.get("Type") not in ("A", "AAAA", "CNAME"):
                continue
            alias = r.get("AliasTarget")
            lb = lbs.get(self._dns_name(alias.get("DNSName"))) if alias else None
            if lb is None:   # a record that names no load balancer of the sandbox: nothing serves it
                target, healthy, ttl = (alias or {}).get("DNSName") or r.get("SetIdentifier"), True, \
                    float(r.get("TTL") or 60)
            else:
                target = lb["LoadBalancerName"]
                if target not in info:
                    region = lb["LoadBalancerArn"].split(":")[3]
                    listeners = self.client("elbv2", region).describe_listeners(
                        LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
                    action = next((routing_action(x["DefaultActions"]) for x in listeners if int(x["Port"]) == 80),
                                  None)
                    weights = forward_weights(action) if action else {}
                    info[target] = {"dimension": lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1],
                                    "region": region, "weights": weights,
                                    "groups": {tg: self.target_states(tg) for tg in weights}}
                groups = info[target]["groups"]
                # DNS-EVALUATE-HEALTH: every group with targets has a healthy one; a group without targets is unhealthy
                lb_healthy = bool(groups) and all(any(s == "healthy" for _, s in ts) for ts in groups.values())
                healthy = lb_healthy if alias.get("EvaluateTargetHealth") else True
                ttl = dns_mod.ELB_ALIAS_TTL_S   # DNS-ALIAS-TTL
            records.append(DnsRecord(r.get("SetIdentifier"), r["Weight"], target, healthy, ttl))
        return records, info

    def _dns_tick(self, now):
        d = self.traffic["dns"]
        if len(self.dns_plane.resolvers) != int(d["clients"]):
            self.dns_plane.resize(int(d["clients"]), now)
        records, lbs = self._dns_view(d["fqdn"])
        sent = self.dns_plane.tick(now, records, int(d["requests_per_client"]), self.dns_cfg.dns_resolver_cache)
        stats = {}
        for target, n in sent.items():
            st = stats.setdefault(target or "(no answer)", {"requests": 0, "target_5xx": 0, "elb_5xx": 0})
            lb = lbs.get(target)
            if lb is None:
                st["elb_5xx"] += n if target else 0
                continue
            # the listener's forward splits by target group weight; a group routes to its healthy targets,
            # to all of them when none is healthy (fail open); no target at all: the load balancer's own 503
            pool = []
            live = {tg: w for tg, w in lb["weights"].items() if w > 0}
            total_w = sum(live.values())
            for tg, w in live.items():
                targets = lb["groups"].get(tg) or []
                # ALB-FAIL-OPEN: only unhealthy targets -> all of them
                up = [tid for tid, s in targets if s == "healthy"] or [tid for tid, s in targets if s == "unhealthy"]
                share = n * w / total_w if total_w else 0
                for tid in up:
                    pool.append((tg, tid, share / len(up)))
            if not pool:
                st["elb_5xx"] += n
                continue
            st["requests"] += n
            for tg, tid, share in pool:
                if answers_5xx(self._target_image(tg, tid)):
                    st["target_5xx"] += share
        for st in stats.values():
            st["target_5xx"] = int(round(st["target_5xx"]))
        self._dns_publish(now, lbs, stats)
        bad = sorted(k for k, st in stats.items() if st["target_5xx"] > 0)
        alarm = d.get("alarm")
        if alarm:
            if bad:
                a = self.cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
                if a and a[0]["StateValue"] != "ALARM":
                    self.cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM",
                                            StateReason=f"sandbox DNS traffic: 5xx from {', '.join(bad)}")
                d["set_alarm"] = True
            elif d.get("set_alarm"):
                self.cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="sandbox DNS traffic: no 5xx")
                d["set_alarm"] = False
        totals = d.setdefault("totals", {})
        for k, st in stats.items():
            tot = totals.setdefault(k, {"requests": 0, "target_5xx": 0, "elb_5xx": 0})
            for m in tot:
                tot[m] += st[m]
        d["ticks"] = d.get("ticks", 0) + 1
        d["last"] = {"at": now, "sent": stats, "cached": {k or "(no answer)": v for k, v in self.dns_plane.cached().items()},
                     "records": [{"set_identifier": r.set_id, "weight": r.weight, "load_balancer": r.target,
                                  "healthy": r.healthy, "ttl": r.ttl} for r in records]}

    def _target_image(self, tg, target_id):
        with self.rolling.lock:
            for svc in self.rolling.services.values():
                for dep in svc.deployments:
                    for k in dep.tasks:
                        if k.ip == target_id and any(lb.get("targetGroupArn") == tg for lb in svc.load_balancers):
                            return k.image
        ts = self.alb.task_set_for(tg) if tg.split(":")[3] == "us-east-1" else None
        return ts["image"] if ts else ""

    def _dns_publish(self, now, lbs, stats):
        """DNS-REQUEST-COUNT: the tick's counts as ALB metrics, only the nonzero ones (CW-6)."""
        ts = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        data = defaultdict(list)   # ALB metrics live in the load balancer's Region
        for name, st in stats.items():
            lb = lbs.get(name)
            if lb is None:
                continue
            dims = [{"Name": "LoadBalancer", "Value": lb["dimension"]}]
            for metric, key in (("RequestCount", "requests"), ("HTTPCode_Target_5XX_Count", "target_5xx"),
                                ("HTTPCode_ELB_5XX_Count", "elb_5xx")):
                if st[key] > 0:
                    data[lb["region"]].append({"MetricName": metric, "Dimensions": dims, "Timestamp": ts,
                                               "Value": float(st[key]), "Unit": "Count"})
        for region, items in data.items():
            self.client("cloudwatch", region).put_metric_data(Namespace="AWS/ApplicationELB", MetricData=items)

    def _alb_tick(self):
        t = self.traffic
        weights = self.alb.production_weights(t["port"], t.get("load_balancer"))
        bad = []
        for tg, w in weights.items():
            if w <= 0:
                continue
            ts = self.alb.task_set_for(tg)
            if ts and "bad" in ts["image"].rsplit(":", 1)[-1]:
                bad.append(tg.split("/")[1])
        t["ticks"] += 1
        t["last"] = {"weights": {k.split("/")[1]: v for k, v in weights.items()}, "bad_groups": bad}
        if bad:
            a = self.cw.describe_alarms(AlarmNames=[t["alarm"]])["MetricAlarms"]
            if a and a[0]["StateValue"] != "ALARM":
                self.cw.set_alarm_state(AlarmName=t["alarm"], StateValue="ALARM",
                                        StateReason=f"sandbox app traffic: 5xx from {', '.join(bad)}")
                t["set_alarm"] = True
        elif t["set_alarm"]:
            self.cw.set_alarm_state(AlarmName=t["alarm"], StateValue="OK",
                                    StateReason="sandbox app traffic: no 5xx")
            t["set_alarm"] = False


def _json(obj):
    return json.dumps(obj, default=str).encode()


def _signed_region(headers):
    """The Region a SigV4 request was signed for (Credential=<key>/<date>/<region>/<service>/aws4_request)."""
    m = re.search(r"Credential=[^/]+/\d+/([^/]+)/", headers.get("Authorization") or "")
    return m.group(1) if m else "us-east-1"


def _check_dns_traffic(doc):
    """The problem with a POST /_sandbox/traffic "dns" object, or None."""
    if not isinstance(doc, dict):
        return "dns: expected an object"
    unknown = sorted(set(doc) - set(DNS_SETTABLE) - {"reset", "restart"})
    if unknown:
        return f"dns: unknown key(s) {unknown}; known: enabled, fqdn, alarm, clients, requests_per_client, reset, " \
               "restart"
    for k in ("reset", "restart"):
        if k in doc and not isinstance(doc[k], bool):
            return f"dns.{k}: expected true or false"
    for k in ("clients", "requests_per_client"):
        if k in doc and (not isinstance(doc[k], int) or isinstance(doc[k], bool) or not 1 <= doc[k] <= 10000):
            return f"dns.{k}: expected an integer from 1 to 10000, got {doc[k]!r}"
    if "fqdn" in doc and (not isinstance(doc["fqdn"], str) or not doc["fqdn"]):
        return "dns.fqdn: expected a name"
    if "enabled" in doc and not isinstance(doc["enabled"], bool):
        return "dns.enabled: expected true or false"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sandbox: Sandbox = None
    server_version = "hookline-sandbox"
    # TCP_NODELAY: http.server sends a response's headers and body in two writes, and under Nagle's
    # algorithm the body waited for the client's delayed ACK (up to 40 ms a call: 48 ms median for a
    # GetDeployment that takes 13 ms without the stall). AWS endpoints have no such stall.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet default access log
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, headers, body):
        self.send_response(status)
        for k, v in (headers or {}).items():
            if k.lower() not in HOP and k.lower() not in ("server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status, obj):
        self._send(status, {"Content-Type": "application/json"}, _json(obj))

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _handle(self):
        t0 = time.time()
        body = self._body()
        headers = CaseInsensitiveDict(self.headers.items())
        path = self.path
        sb = self.sandbox
        try:
            if path.startswith("/_sandbox"):
                return self._control(path, body)
            if path.startswith("/moto-api"):
                return self._send(*self._forward(sb.moto_url, self.command, path, headers, body))
            req = awsproto.classify(self.command, path, headers, body)
            denied = sb.iam.authorize(req, headers, body)   # IAM: the caller's role (sim/iam.py)
            if not headers.get("X-Sandbox-Internal"):
                sb.count(req)
            if denied:
                return self._send(*denied)
            fault = sb.faults.take(req, skip_kinds=FUNCTION_FAULT_KINDS if req.operation == "Invoke" else ())
            if fault:
                if fault["kind"] == "latency":
                    time.sleep(fault["latency_ms"] / 1000.0)
                else:
                    log.info("fault %s on %s.%s", fault["kind"], req.service, req.operation)
                    return self._send(*self._fault_response(req, fault))
            resp = self._dispatch(req, headers, body)
            log.info("%s %s.%s%s -> %s (%.0f ms)", self.command, req.service, req.operation,
                     f" [{req.function}]" if req.function else "", resp[0], (time.time() - t0) * 1000)
            self._send(*resp)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:
            log.exception("router error on %s %s", self.command, path)
            try:
                self._send_json(500, {"__type": "InternalFailure", "message": f"sandbox router: {e}"})
            except Exception:
                pass

    # ------------------------------------------------------------ dispatch
    def _dispatch(self, req, headers, body):
        sb = self.sandbox
        if req.service == "codedeploy" or req.target_prefix == "CodeDeploy_20141006":
            if req.protocol == "cbor":
                jbody = awsproto.cbor_request_to_json(req, body)
            else:
                jbody = body
            try:
                data = json.loads(jbody or b"{}")
            except ValueError:
                return awsproto.error_response(req, 400, "SerializationException", "malformed JSON")
            status, out = sb.sim.handle(req.operation, data)
            if req.protocol == "cbor":
                return status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                                "x-amzn-RequestId": str(uuid.uuid4())}, \
                    awsproto.json_response_to_cbor(req, status, _json(out))
            h = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
            if status >= 300:
                h["x-amzn-ErrorType"] = out.get("__type", "")
            return status, h, _json(out)
        if req.service == "ecs" and req.protocol == "json":
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                data = None
            region = _signed_region(headers)
            if isinstance(data, dict) and not sb.ecs_sim.wants(req.operation, data) \
                    and sb.rolling.wants(req.operation, data, region):
                status, out = sb.rolling.handle(req.operation, data, lambda: self._forward_json(headers, body), region)
                h = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
                return status, h, _json(out)
            if isinstance(data, dict) and sb.ecs_sim.wants(req.operation, data):
                if req.operation == "UpdateService":   # a plain service switched to blue/green changes owner
                    sb.rolling.forget(data.get("cluster"), data.get("service"), region)
                def forward():
                    st, _, rb = self._forward(sb.moto_url, self.command, self.path, headers, body)
                    try:
                        return st, json.loads(rb or b"{}")
                    except ValueError:
                        return 500, {"__type": "ServerException", "message": rb.decode("utf-8", "replace")[:500]}
                status, out = sb.ecs_sim.handle(req.operation, data, forward)
                h = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
                return status, h, _json(out)
        if req.service == "lambda" and req.operation == "Invoke":
            return self._invoke(req, headers, body)
        if sb.r53.wants(req):
            return sb.r53.handle(req, body)
        if req.operation == "GetMetricData" and req.protocol in ("cbor", "json") \
                and awsproto.normalize_service(req.service) in ("cloudwatch", "monitoring"):
            return self._get_metric_data(req, body)
        if req.protocol == "cbor":
            prefix, ver = awsproto.SERVICE_JSON.get(req.service, (req.target_prefix, "1.0"))
            h = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "accept", "smithy-protocol",
                                                                     "x-amz-target")}
            h["Content-Type"] = f"application/x-amz-json-{ver}"
            h["X-Amz-Target"] = f"{prefix}.{req.operation}"
            status, rh, rb = self._forward(sb.moto_url, "POST", "/", h, awsproto.cbor_request_to_json(req, body))
            out = awsproto.json_response_to_cbor(req, status, rb)
            return status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                            "x-amzn-RequestId": rh.get("x-amzn-RequestId", str(uuid.uuid4()))}, out
        if req.service == "route53" and not body:
            body = MOTO_AUTH_BODY   # else moto's signature check fails (sim/route53.py); _forward re-signs
        if req.operation in ("DescribeTargetHealth", "DescribeServices"):
            sb.rolling.reconcile()   # plain services' due tasks are registered before moto answers
        status, rh, rb = self._forward(sb.moto_url, self.command, self.path, headers, body)
        if req.service == "ecs" and status == 200 and req.operation in ECS_TASK_SET_OPS:
            rb = self._patch_task_sets(req, body, rb)
        if req.service == "ecs" and status == 200 and req.operation == "DescribeServices":
            rb = sb.ecs_sim.patch_describe_services(rb)
            rb = self._patch_rolling_services(rb)
        if req.service == "ecs" and status == 200 and req.operation == "ListServices":
            rb = self._hide_deleted_services(rb)
        if req.operation == "DescribeTargetHealth" and status == 200:
            tg = req.params.get("TargetGroupArn")
            if tg is None and req.protocol == "json":
                tg = json.loads(body or b"{}").get("TargetGroupArn")
            rb = self._patch_target_health(tg, rb)
            if sb.faults.unhealthy(tg):
                rb = re.sub(rb"<State>healthy</State>",
                            b"<State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason>"
                            b"<Description>Health checks failed</Description>", rb)
        return status, rh, rb

    def _forward_json(self, headers, body):
        """The current request sent to moto as it came: (status, JSON answer)."""
        st, _, rb = self._forward(self.sandbox.moto_url, self.command, self.path, headers, body)
        try:
            return st, json.loads(rb or b"{}")
        except ValueError:
            return 500, {"__type": "ServerException", "message": rb.decode("utf-8", "replace")[:500]}

    def _patch_rolling_services(self, rb):
        """DescribeServices: the plain services' counts, status and deployments (sim/ecs/rolling.py)."""
        try:
            doc = json.loads(rb)
            doc["services"] = [self.sandbox.rolling.patch_service(s) for s in doc.get("services") or []]
            return json.dumps(doc, default=str).encode()
        except Exception:
            log.exception("patching DescribeServices (rolling)")
            return rb

    def _hide_deleted_services(self, rb):
        """ListServices: a plain service that is DRAINING or INACTIVE is not listed (ECS-R9; moto lists it)."""
        try:
            doc = json.loads(rb)
            doc["serviceArns"] = [a for a in doc.get("serviceArns") or [] if self.sandbox.rolling.listed(a)]
            return json.dumps(doc).encode()
        except Exception:
            log.exception("patching ListServices (rolling)")
            return rb

    def _patch_target_health(self, tg, rb):
        """DescribeTargetHealth (query XML): each plain-service task's target state (ECS-R2)."""
        rolling = self.sandbox.rolling

        def member(m):
            block = m.group(0)
            tid = re.search(rb"<Id>([^<]+)</Id>", block)
            state = rolling.target_health(tg, tid.group(1).decode()) if tid else None
            if not state or state[0] == "healthy":
                return block
            st, reason, desc = state
            new = (f"<TargetHealth><State>{st}</State><Reason>{reason}</Reason>"
                   f"<Description>{desc}</Description></TargetHealth>").encode()
            return re.sub(rb"<TargetHealth>.*?</TargetHealth>", lambda _: new, block, flags=re.S)
        try:
            return re.sub(rb"<member>.*?</member>", member, rb, flags=re.S)
        except Exception:
            log.exception("patching DescribeTargetHealth (rolling)")
            return rb

    def _get_metric_data(self, req, body):
        """GetMetricData through sim/cloudwatch.py (metric math, publication delay), in the caller's protocol,
        from the Region the request is signed for (metrics are regional)."""
        jbody = awsproto.cbor_request_to_json(req, body) if req.protocol == "cbor" else body
        sb = self.sandbox
        region = _signed_region(self.headers)
        data = sb.cw_data if region == "us-east-1" else \
            CloudWatchData(sb.client("cloudwatch", region), sb.cw_data.cfg)   # one config for every Region
        status, out = data.get_metric_data(json.loads(jbody or b"{}"))
        if req.protocol == "cbor":
            return status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                            "x-amzn-RequestId": str(uuid.uuid4())}, awsproto.json_response_to_cbor(req, status, _json(out))
        return status, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}, _json(out)

    def _patch_task_sets(self, req, body, rb):
        """moto 5.2.5 leaves computedDesiredCount/runningCount/pendingCount out of task sets;
        fill them as ECS would once the tasks run: ceil(service desiredCount * scale%)."""
        try:
            doc = json.loads(rb)
            sets = []
            if req.operation == "DescribeServices":
                for svc in doc.get("services") or []:
                    for t in svc.get("taskSets") or []:
                        sets.append((t, svc.get("desiredCount", 0)))
            else:
                ts = doc.get("taskSets") or ([doc["taskSet"]] if doc.get("taskSet") else [])
                if not ts:
                    return rb
                desired = {}
                for t in ts:
                    key = (t.get("clusterArn"), t.get("serviceArn"))
                    if key not in desired:
                        svc = self.sandbox.ecs.describe_services(cluster=key[0], services=[key[1]])["services"]
                        desired[key] = svc[0].get("desiredCount", 0) if svc else 0
                    sets.append((t, desired[key]))
            for t, desired in sets:
                if "computedDesiredCount" not in t:
                    pct = float((t.get("scale") or {}).get("value", 100.0))
                    n = int(math.ceil(desired * pct / 100.0))
                    t.update(computedDesiredCount=n, runningCount=n, pendingCount=0)
            return json.dumps(doc).encode()
        except Exception:
            log.exception("patching task sets")
            return rb

    def _forward(self, base, method, path, headers, body, timeout=120):
        if self is not None and base == self.sandbox.moto_url:   # IAM: operator / role signature for moto
            headers = self.sandbox.iam.sign_for_moto(method, base + path, headers, body)
        u = urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        try:
            h = {k: v for k, v in headers.items() if k.lower() not in HOP}
            h["Content-Length"] = str(len(body))
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k: v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def _invoke(self, req, headers, body):
        """Lambda Invoke through lambda_emul: sync under the function's timeout, Event = 202 and
        background deliveries (retries, duplicates, dead-letter queue), DryRun = 204. up.sh's
        warm-up (first `cargo run`) is exempt from the timeout."""
        itype = headers.get("X-Amz-Invocation-Type", "RequestResponse")
        warmup = headers.get("X-Sandbox-Internal") == "warmup"
        return self.sandbox.lambda_emul.invoke(req.function, body, itype, enforce_timeout=not warmup)

    def _fault_response(self, req, f):
        if f["kind"] == "crash":
            rid = str(uuid.uuid4())
            et = f.get("error_type") or "Runtime.ExitError"
            msg = f.get("message") or f"RequestId: {rid} Error: Runtime exited with error: signal: aborted (core dumped)"
            return 200, {"Content-Type": "application/json", "X-Amz-Function-Error": "Unhandled",
                         "X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": rid}, \
                _json({"errorType": et, "errorMessage": msg})
        if f["kind"] == "throttle":
            status, code = awsproto.default_throttle_code(req)
            return awsproto.error_response(req, int(f.get("status") or status), f.get("code") or code,
                                           f.get("message") or "Rate exceeded")
        # error
        status = int(f.get("status") or 500)
        code = f.get("code") or ("InternalFailure" if req.protocol != "rest" else "ServiceException")
        return awsproto.error_response(req, status, code, f.get("message") or f"sandbox injected {code}")

    # ------------------------------------------------------------ control API
    def _control(self, path, body):
        sb = self.sandbox
        u = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        p = u.path.rstrip("/") or "/"
        m = self.command
        try:
            doc = json.loads(body) if body and m in ("POST", "PUT") and not p.startswith("/_sandbox/alb/") else {}
        except ValueError:
            return self._send_json(400, {"error": "body must be JSON"})
        if p == "/_sandbox/health":
            ok_moto = ok_lambda = False
            try:
                ok_moto = self._forward(sb.moto_url, "GET", "/moto-api/", {}, b"", timeout=2)[0] < 500
            except OSError:
                pass
            try:
                import socket
                u = urlsplit(sb.lambda_url)
                socket.create_connection((u.hostname, u.port), timeout=2).close()
                ok_lambda = True
            except OSError:
                pass
            return self._send_json(200, {"router": True, "moto": ok_moto, "lambda": ok_lambda})
        if p == "/_sandbox/calls" and m == "GET":
            return self._send_json(200, sb.calls_doc(q.get("log") in ("1", "true")))
        if p == "/_sandbox/calls/reset" and m == "POST":
            sb.reset_calls()
            return self._send_json(200, {"reset": True})
        if p == "/_sandbox/faults":
            if m == "GET":
                return self._send_json(200, {"faults": sb.faults.list()})
            if m == "POST":
                specs = doc if isinstance(doc, list) else [doc]
                try:
                    added = [sb.faults.add(s) for s in specs]
                except (ValueError, TypeError) as e:
                    return self._send_json(400, {"error": str(e)})
                return self._send_json(200, {"faults": added})
            if m == "DELETE":
                return self._send_json(200, {"cleared": sb.faults.clear()})
        if p.startswith("/_sandbox/faults/") and m == "DELETE":
            return self._send_json(200, {"cleared": sb.faults.clear(p.rsplit("/", 1)[1])})
        if p.startswith("/_sandbox/alb/"):
            rest = u.path[len("/_sandbox/alb/"):]
            port, _, sub = rest.partition("/")
            lb_name = None
            if not port.isdigit():   # /_sandbox/alb/<load balancer name>/<listener port>/<path>
                lb_name = port
                port, _, sub = sub.partition("/")
            if not port.isdigit():
                return self._send_json(400, {"error": "use /_sandbox/alb/[<load balancer name>/]<listener port>/<path>"})
            if "seed" in q:
                sb.alb.seed(int(q["seed"]))
            hdrs = {k: v for k, v in self.headers.items()}
            qq = {k: v for k, v in q.items() if k not in ("pick", "seed")}
            status, out = sb.alb.evaluate(int(port), m, "/" + sub, hdrs, qq, q.get("pick"), lb_name=lb_name)
            return self._send_json(status, out)
        if p == "/_sandbox/traffic":
            if m == "POST":
                dns = doc.get("dns")
                if dns is not None:
                    err = _check_dns_traffic(dns)
                    if err:
                        return self._send_json(400, {"error": err})
                    if dns.get("reset"):
                        sb.traffic["dns"].update(totals={}, ticks=0, last=None)
                    sb.traffic["dns"].update({k: v for k, v in dns.items() if k in DNS_SETTABLE})
                    if dns.get("restart"):
                        sb.dns_plane.restart(int(sb.traffic["dns"]["clients"]), time.time())
                for k in ("enabled", "interval_ms", "alarm", "port", "load_balancer"):
                    if k in doc:
                        sb.traffic[k] = doc[k]
                with sb.traffic_cv:
                    sb.traffic_cv.notify_all()
            return self._send_json(200, sb.traffic)
        if p == "/_sandbox/config":
            cfg = sb.sim.cfg
            if m == "POST":
                try:
                    for k in SimConfig.CHOICES:
                        if k in doc:
                            cfg.check(k, doc[k])
                    sb.ecs_sim.cfg.update(doc)   # ecs_* keys (sim/ecs/api.py)
                    sb.cw_data.cfg.update(doc)   # cw_* keys (sim/cloudwatch.py)
                    sb.r53.cfg.update(doc)       # r53_* keys (sim/route53.py)
                    sb.dns_cfg.update(doc)       # dns_* keys (sim/dns.py)
                except ValueError as e:
                    return self._send_json(400, {"error": str(e)})
                for k in ("hook_timeout_s", "termination_wait_s", "minute_s", "alarm_poll_s",
                          "hook_invoke_retries", "hook_retry_delay_s", *SimConfig.CHOICES):
                    if k in doc:
                        setattr(cfg, k, doc[k])
            return self._send_json(200, dict(vars(cfg), **vars(sb.ecs_sim.cfg), **vars(sb.cw_data.cfg),
                                             **vars(sb.r53.cfg), **vars(sb.dns_cfg)))
        if p == "/_sandbox/lambda":
            if m == "POST":
                try:
                    sb.lambda_emul.cfg.update(doc)
                except ValueError as e:
                    return self._send_json(400, {"error": str(e)})
            return self._send_json(200, sb.lambda_emul.snapshot())
        if p == "/_sandbox/lambda/redeliver" and m == "POST":
            eid = doc.get("event_id") if isinstance(doc, dict) else None
            if not isinstance(eid, str) or not eid:
                return self._send_json(400, {"error": "event_id (string) is required"})
            try:
                return self._send_json(200, {"event_id": eid, "delivery": sb.lambda_emul.redeliver(eid)})
            except KeyError:
                return self._send_json(404, {"error": f"event_id {eid} is not a recorded async event"})
        if p == "/_sandbox/codedeploy":
            return self._send_json(200, sb.sim.snapshot_state())
        if p == "/_sandbox/ecs":
            return self._send_json(200, dict(sb.ecs_sim.snapshot_state(), services=sb.rolling.snapshot()))
        if p == "/_sandbox/dns":
            return self._send_json(200, sb.traffic["dns"])
        return self._send_json(404, {"error": f"unknown sandbox path {p}"})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4566)
    ap.add_argument("--moto-url", default="http://127.0.0.1:4567")
    ap.add_argument("--lambda-url", default="http://127.0.0.1:9000")
    a = ap.parse_args()
    logging.basicConfig(level=os.environ.get("SANDBOX_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sb = Sandbox(a.port, a.moto_url, a.lambda_url, a.host)
    sb.start()
    log.info("sandbox router on %s (moto %s, lambda %s)", sb.url, sb.moto_url, sb.lambda_url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sb.stop()


if __name__ == "__main__":
    main()
