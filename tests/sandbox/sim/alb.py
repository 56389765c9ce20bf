"""ALB data-plane emulation over moto's ELBv2 configuration.

``AlbEmulator.request(port, path, headers, query)`` evaluates the listener on
``port`` of the demo load balancer (or the first load balancer that has a
listener on that port; ``lb_name`` picks another load balancer, e.g. ``demo-api``) exactly as configured in moto: non-default rules by
priority (conditions: http-header, path-pattern, host-header,
http-request-method, query-string), then the default action. A weighted
``forward`` picks a target group by weight: ``pick`` (a number in [0,1) used as
the random draw, or a target group name to force) or a seeded RNG
(``SANDBOX_ALB_SEED``, default 42).

The chosen target group's task set (moto ECS, the non-deleted task set whose
load balancer is that group), or for an ECS-native blue/green service the
active service revision serving that group (``revision_for``, sim/ecs/api.py), gives the image; ``version`` is the image tag.
An image whose tag contains ``bad`` answers 500 on every path (``/health``
included). A group without a task set or without registered targets, or
marked unhealthy by fault injection, answers 503 like an ALB with no healthy
targets.
"""
import fnmatch
import os
import random
import threading


# ---------------------------------------------------------------- listener-weight math
# The one place that reads weights out of ELBv2 actions: the ALB emulation, the app-traffic
# loop and the CodeDeploy simulator (trafficWeight, AllowTraffic, rollback, hook-report
# records) all use these. ELB user guide, "Listeners for your Application Load Balancers",
# forward actions: a ``forward`` names either one ``TargetGroupArn`` or a ``ForwardConfig``
# with up to 5 weighted groups; a group's share is its weight over the sum of the weights.

def forward_weights(action):
    """{target group ARN: raw weight} of one ``forward`` action ({} for other action types).
    A plain ``TargetGroupArn`` forward counts as weight 1 (all of the traffic)."""
    if action.get("Type") != "forward":
        return {}
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
    if groups:
        return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
    if action.get("TargetGroupArn"):
        return {action["TargetGroupArn"]: 1}
    return {}


def routing_action(actions):
    """The action that routes (the first forward / fixed-response / redirect by Order), or None."""
    ordered = sorted(actions or [], key=lambda a: a.get("Order", 0))
    return next((a for a in ordered if a.get("Type") in ("forward", "fixed-response", "redirect")), None)


def weight_shares(actions):
    """{target group ARN: percent of the traffic} of an action list's forward (empty when it
    does not forward). All-zero weights give every group 0."""
    a = routing_action(actions)
    raw = forward_weights(a) if a else {}
    total = sum(raw.values())
    return {tg: (100.0 * w / total if total else 0.0) for tg, w in raw.items()}


def action_target_groups(action):
    """Every target group ARN a forward action names (weight 0 included)."""
    return set(forward_weights(action))


class AlbEmulator:
    def __init__(self, elb, ecs, is_unhealthy=lambda tg_arn: False, lb_name="demo", revision_for=None):
        self.elb, self.ecs = elb, ecs
        self.is_unhealthy = is_unhealthy
        self.revision_for = revision_for   # tg ARN -> {"id", "arn", "image", "status"} or None
        self.lb_name = lb_name
        self.rng = random.Random(int(os.environ.get("SANDBOX_ALB_SEED", "42")))
        self.lock = threading.Lock()

    def seed(self, n):
        with self.lock:
            self.rng = random.Random(n)

    def listener(self, port, lb_name=None):
        """(load balancer, listener) on ``port``: of ``lb_name`` only when given, else of the
        default load balancer first, then any other."""
        lbs = self.elb.describe_load_balancers()["LoadBalancers"]
        if lb_name:
            lbs = [lb for lb in lbs if lb["LoadBalancerName"] == lb_name]
        lbs.sort(key=lambda lb: lb["LoadBalancerName"] != self.lb_name)
        for lb in lbs:
            for l in self.elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
                if int(l["Port"]) == int(port):
                    return lb, l
        return None, None

    @staticmethod
    def _cond_ok(c, method, path, headers, query):
        f = c.get("Field")
        low = {k.lower(): v for k, v in headers.items()}
        if f == "http-header":
            cfg = c.get("HttpHeaderConfig") or {}
            v = low.get((cfg.get("HttpHeaderName") or "").lower())
            return v is not None and any(fnmatch.fnmatch(v.lower(), p.lower()) for p in cfg.get("Values") or [])
        if f == "path-pattern":
            vals = (c.get("PathPatternConfig") or {}).get("Values") or c.get("Values") or []
            return any(fnmatch.fnmatchcase(path, p) for p in vals)
        if f == "host-header":
            vals = (c.get("HostHeaderConfig") or {}).get("Values") or c.get("Values") or []
            host = (low.get("host") or "").split(":")[0]
            return any(fnmatch.fnmatch(host.lower(), p.lower()) for p in vals)
        if f == "http-request-method":
            return method.upper() in [(m or "").upper() for m in (c.get("HttpRequestMethodConfig") or {}).get("Values") or []]
        if f == "query-string":
            kvs = (c.get("QueryStringConfig") or {}).get("Values") or []
            return any(query.get(kv.get("Key")) == kv.get("Value") if kv.get("Key") else kv.get("Value") in query.values()
                       for kv in kvs)
        return False

    def evaluate(self, port, method="GET", path="/", headers=None, query=None, pick=None, lb_name=None):
        """-> (status, dict)."""
        headers, query = headers or {}, query or {}
        lb, l = self.listener(port, lb_name)
        if l is None:
            return 404, {"error": f"no listener on port {port}" + (f" of load balancer {lb_name}" if lb_name else "")}
        rules = self.elb.describe_rules(ListenerArn=l["ListenerArn"])["Rules"]
        chosen = None
        for r in sorted((r for r in rules if not r.get("IsDefault")), key=lambda r: int(r["Priority"])):
            if all(self._cond_ok(c, method, path, headers, query) for c in r.get("Conditions") or []):
                chosen = (r["Priority"], r["Actions"])
                break
        if chosen is None:
            chosen = ("default", l["DefaultActions"])
        prio, actions = chosen
        action = routing_action(actions)
        base = {"load_balancer": lb["LoadBalancerName"], "listener_port": int(port), "rule": prio, "path": path}
        if action is None:
            return 503, dict(base, error="no routable action")
        if action["Type"] == "fixed-response":
            fr = action.get("FixedResponseConfig") or {}
            return int(fr.get("StatusCode", 200)), dict(base, fixed_response=fr.get("MessageBody"))
        if action["Type"] == "redirect":
            return 301, dict(base, redirect=action.get("RedirectConfig"))
        weights = forward_weights(action)
        tg = self._pick(weights, pick)
        if tg is None:
            return 503, dict(base, error="all target groups have weight 0")
        name = tg.split("/")[1]
        out = dict(base, target_group=name, target_group_arn=tg,
                   weights={arn.split("/")[1]: w for arn, w in weights.items()})
        ts = self.task_set_for(tg)
        targets = self.elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        if ts is None or not targets or self.is_unhealthy(tg):
            return 503, dict(out, task_set=ts and ts["id"], error="no healthy targets")
        image = ts["image"]
        version = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
        out.update(task_set=ts["id"], task_set_arn=ts["arn"], image=image, version=version)
        return (500 if "bad" in version else 200), out

    def _pick(self, weights, pick):
        """weights: {tg ARN: raw weight} -> the chosen group's ARN (None when all weigh 0)."""
        live = [(arn, w) for arn, w in weights.items() if w > 0]
        if not live:
            return None
        if pick is not None:
            try:
                x = float(pick)
            except ValueError:
                for arn in weights:
                    if arn.split("/")[1] == pick or arn == pick:
                        return arn
                return None
        else:
            with self.lock:
                x = self.rng.random()
        total = sum(w for _, w in live)
        acc = 0.0
        for arn, w in live:
            acc += w / total
            if x < acc:
                return arn
        return live[-1][0]

    def task_set_for(self, tg_arn):
        for cluster in self.ecs.list_clusters()["clusterArns"]:
            arns = self.ecs.list_services(cluster=cluster)["serviceArns"]
            if not arns:
                continue
            for s in self.ecs.describe_services(cluster=cluster, services=arns[:10])["services"]:
                sets = s.get("taskSets") or []
                for t in sorted(sets, key=lambda t: t["status"] != "PRIMARY"):
                    if any(lb.get("targetGroupArn") == tg_arn for lb in t.get("loadBalancers") or []):
                        td = self.ecs.describe_task_definition(taskDefinition=t["taskDefinition"])["taskDefinition"]
                        c = td["containerDefinitions"][0]
                        for lb in t.get("loadBalancers") or []:
                            c = next((x for x in td["containerDefinitions"] if x["name"] == lb.get("containerName")), c)
                        return {"id": t["id"], "arn": t["taskSetArn"], "image": c["image"], "status": t["status"]}
        return self.revision_for(tg_arn) if self.revision_for else None

    def production_weights(self, port=80, lb_name=None):
        """{tg_arn: weight} of the listener's default forward action; when the default action does
        not forward (ALB ``demo-api``: production lives in an ECS-managed rule), of the first rule
        by priority that forwards."""
        lb, l = self.listener(port, lb_name)
        if l is None:
            return {}
        a = routing_action(l["DefaultActions"])
        if a is None or a.get("Type") != "forward":
            rules = self.elb.describe_rules(ListenerArn=l["ListenerArn"])["Rules"]
            for r in sorted((r for r in rules if not r.get("IsDefault")), key=lambda r: int(r["Priority"])):
                ra = routing_action(r["Actions"])
                if ra is not None and ra.get("Type") == "forward":
                    return forward_weights(ra)
        return forward_weights(a) if a else {}
