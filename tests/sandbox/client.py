"""Test helpers bound to the hookline sandbox (http://127.0.0.1:4566 by default).

    import sys; sys.path.insert(0, "tests/sandbox")
    from client import Sandbox
    sb = Sandbox()                       # or Sandbox("http://127.0.0.1:14566")
    did = sb.start_deployment("example/web:v2")
    sb.wait_for_status(did, "Succeeded", timeout=120)
    assert sb.listener_weights(80) == {"web-blue": 0, "web-green": 100}

Everything is asserted through AWS APIs (boto3 against the sandbox) or the
router's /_sandbox control API (faults, call counters, ALB data plane).
"""
import json
import os
import time

import boto3
import requests
import yaml
from botocore.config import Config as BotoConfig

from sim.alb import weight_shares
from provision import admin_production_rule, is_admin_production_rule

DEFAULT_ENDPOINT = os.environ.get("SANDBOX_ENDPOINT", "http://127.0.0.1:4566")
TERMINAL = {"Succeeded", "Failed", "Stopped"}
BOTO_NAMES = {"elbv2": "elbv2", "sfn": "stepfunctions", "stepfunctions": "stepfunctions", "lambda": "lambda"}


class Sandbox:
    def __init__(self, endpoint=DEFAULT_ENDPOINT, region="us-east-1", max_attempts=3):
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self._clients = {}
        self._boto_cfg = BotoConfig(retries={"total_max_attempts": max_attempts, "mode": "standard"},
                                    read_timeout=300)
        self.http = requests.Session()

    # ------------------------------------------------------------- clients
    def client(self, name):
        name = BOTO_NAMES.get(name, name)
        if name not in self._clients:
            self._clients[name] = boto3.client(
                name, endpoint_url=self.endpoint, region_name=self.region, aws_access_key_id="sandbox",
                aws_secret_access_key="sandbox", config=self._boto_cfg)
        return self._clients[name]

    ecs = property(lambda s: s.client("ecs"))
    elbv2 = property(lambda s: s.client("elbv2"))
    codedeploy = property(lambda s: s.client("codedeploy"))
    sfn = property(lambda s: s.client("stepfunctions"))
    cloudwatch = property(lambda s: s.client("cloudwatch"))
    ssm = property(lambda s: s.client("ssm"))
    sns = property(lambda s: s.client("sns"))
    lambda_ = property(lambda s: s.client("lambda"))

    def env(self):
        """Environment for a subprocess (hookline CLI, aws CLI) pointed at the sandbox."""
        e = dict(os.environ)
        e.update(AWS_ENDPOINT_URL=self.endpoint, AWS_REGION=self.region, AWS_DEFAULT_REGION=self.region,
                 AWS_ACCESS_KEY_ID="sandbox", AWS_SECRET_ACCESS_KEY="sandbox")
        e.pop("AWS_PROFILE", None)
        return e

    # ------------------------------------------------------------- control API
    def _ctl(self, method, path, body=None):
        r = self.http.request(method, f"{self.endpoint}/_sandbox{path}",
                              data=None if body is None else json.dumps(body), timeout=30)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} /_sandbox{path}: {r.status_code} {r.text}")
        return r.json()

    def health(self):
        return self._ctl("GET", "/health")

    def is_up(self):
        try:
            return self.health().get("router", False)
        except Exception:
            return False

    def calls(self, log=False):
        """{"total": n, "calls": {service: {operation: n}}} (+ "log" list)."""
        return self._ctl("GET", "/calls" + ("?log=1" if log else ""))

    def call_count(self, service, operation=None):
        c = self.calls()["calls"].get(service, {})
        return sum(c.values()) if operation is None else c.get(operation, 0)

    def reset_calls(self):
        return self._ctl("POST", "/calls/reset")

    def inject(self, **spec):
        """POST /_sandbox/faults; returns the stored fault (with its id)."""
        return self._ctl("POST", "/faults", spec)["faults"][0]

    def throttle(self, service, operation=None, count=1):
        return self.inject(service=service, operation=operation, kind="throttle", count=count)

    def error(self, service, operation=None, code=None, status=500, count=None, message=None):
        return self.inject(service=service, operation=operation, kind="error", code=code, status=status,
                           count=count, message=message)

    def latency(self, service, operation=None, latency_ms=1000, count=None):
        return self.inject(service=service, operation=operation, kind="latency", latency_ms=latency_ms, count=count)

    def crash(self, function, count=None, error_type=None):
        return self.inject(function=function, kind="crash", count=count, error_type=error_type)

    def unhealthy(self, target_group):
        return self.inject(kind="unhealthy", target_group=target_group)

    def faults(self):
        return self._ctl("GET", "/faults")["faults"]

    def clear_faults(self, fault_id=None):
        return self._ctl("DELETE", "/faults" + (f"/{fault_id}" if fault_id else ""))

    def config(self, **kw):
        """Simulator timing at run time: hook_timeout_s, termination_wait_s, minute_s, ..."""
        return self._ctl("POST", "/config", kw)

    def traffic(self, enabled=None, **kw):
        """Switch the app-traffic loop (bad version on production -> web-5xx ALARM)."""
        if enabled is not None:
            kw["enabled"] = enabled
        return self._ctl("POST", "/traffic", kw)

    def dns(self):
        """The DNS data plane of the traffic loop (GET /_sandbox/dns): settings, ``ticks``,
        ``totals`` {load balancer name: {requests, target_5xx, elb_5xx}} since the last reset and
        ``last`` (the tick's counts, the answers the resolvers hold, the records as answered).
        Configure it with ``traffic(dns={"clients": 100, "requests_per_client": 2, "reset": True})``."""
        return self._ctl("GET", "/dns")

    def restore_route53_world(self):
        """Put the Route 53 world of hookline's own controller back as provisioning left it
        (provision.provision_route53_demo; tests/sandbox/README.md "Provisioned resources"): every
        service of cluster ``shop`` other than ``shop-web-blue`` deleted (scaled to 0 first),
        ``shop-web-blue`` on the first ``shop-web`` revision with 2 tasks (re-created if gone), the
        records blue 100 / green 0 waited to INSYNC, alarm ``shop-web-5xx`` OK. Returns the world's
        ids and ARNs (as provision.json ``demo.route53``)."""
        import provision
        d = provision.ROUTE53_DEMO
        blue = f"{d['service']}-{d['releases'][0]}"
        arns = self.ecs.list_services(cluster=d["cluster"])["serviceArns"] if self.ecs.describe_clusters(
            clusters=[d["cluster"]])["clusters"] else []
        for arn in arns:
            svc = self.ecs.describe_services(cluster=d["cluster"], services=[arn])["services"][0]
            if svc["status"] != "ACTIVE":
                continue
            if svc["serviceName"] != blue:
                self.ecs.update_service(cluster=d["cluster"], service=arn, desiredCount=0)
                self.ecs.delete_service(cluster=d["cluster"], service=arn, force=True)
            elif not svc["taskDefinition"].endswith(f":task-definition/{d['family']}:1") \
                    or svc["desiredCount"] != d["desired"]:
                self.ecs.update_service(cluster=d["cluster"], service=arn, taskDefinition=f"{d['family']}:1",
                                        desiredCount=d["desired"])
        return provision.provision_route53_demo(self.endpoint)

    def alb(self, port=80, path="/", headers=None, pick=None):
        """Request through the ALB emulation -> (status, body dict)."""
        params = {} if pick is None else {"pick": pick}
        r = self.http.get(f"{self.endpoint}/_sandbox/alb/{port}/{path.lstrip('/')}", headers=headers or {},
                          params=params, timeout=30)
        return r.status_code, r.json()

    # ------------------------------------------------------------- demo app
    def register_task_definition(self, image, family="web", container=None):
        """New revision of ``family`` (copied from its latest revision) with ``image``."""
        td = self.ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                "placementConstraints", "requiresCompatibilities", "cpu", "memory")
        args = {k: td[k] for k in keep if td.get(k)}
        cds = args["containerDefinitions"]
        target = next((c for c in cds if c["name"] == container), cds[0]) if container else cds[0]
        target["image"] = image
        return self.ecs.register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"]

    @staticmethod
    def appspec(task_definition_arn, hooks=("BeforeAllowTraffic", "AfterAllowTraffic"), hook_function="hook",
                container="web", port=80, fmt="yaml"):
        """ECS AppSpec text. ``hooks``: event names (all -> hook_function) or {event: function}."""
        if isinstance(hooks, dict):
            hook_list = [{k: v} for k, v in hooks.items()]
        else:
            hook_list = [{h: hook_function} for h in hooks]
        doc = {"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": task_definition_arn,
            "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port}}}}]}
        if hook_list:
            doc["Hooks"] = hook_list
        return json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc, sort_keys=False)

    def start_deployment(self, image, application="web", deployment_group="web-prod",
                         hooks=("BeforeAllowTraffic", "AfterAllowTraffic"), hook_function="hook",
                         fmt="yaml", description=None, family="web", container="web", **create_kwargs):
        """Register a task definition of ``family`` with ``image`` and CreateDeployment; returns the
        deployment id (``admin``: family and container ``admin``, application ``admin``, group ``admin-prod``)."""
        td = self.register_task_definition(image, family=family)
        content = self.appspec(td, hooks=hooks, hook_function=hook_function, container=container, fmt=fmt)
        kw = dict(applicationName=application, deploymentGroupName=deployment_group,
                  revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}})
        if description:
            kw["description"] = description
        kw.update(create_kwargs)
        return self.codedeploy.create_deployment(**kw)["deploymentId"]

    def deployment(self, deployment_id):
        return self.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]

    def status(self, deployment_id):
        return self.deployment(deployment_id)["status"]

    def wait_for_status(self, deployment_id, statuses="Succeeded", timeout=180, poll=0.5):
        """Wait until the status is one of ``statuses``; AssertionError on timeout or another terminal status."""
        want = {statuses} if isinstance(statuses, str) else set(statuses)
        end = time.time() + timeout
        info = None
        while time.time() < end:
            info = self.deployment(deployment_id)
            if info["status"] in want:
                return info
            if info["status"] in TERMINAL:
                raise AssertionError(f"deployment {deployment_id} ended {info['status']} (wanted {sorted(want)}): "
                                     f"{info.get('errorInformation')}")
            time.sleep(poll)
        raise AssertionError(f"deployment {deployment_id} still {info and info['status']} after {timeout}s "
                             f"(wanted {sorted(want)}); events: {self.events(deployment_id)}")

    def target(self, deployment_id, target_id="demo:web"):
        return self.codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=target_id)[
            "deploymentTarget"]["ecsTarget"]

    def events(self, deployment_id, target_id="demo:web"):
        """{event name: status}."""
        try:
            return {e["lifecycleEventName"]: e["status"] for e in self.target(deployment_id, target_id)["lifecycleEvents"]}
        except Exception as e:
            return {"error": str(e)}

    def wait_for_event(self, deployment_id, event, status="InProgress", timeout=60, poll=0.2):
        end = time.time() + timeout
        while time.time() < end:
            ev = self.events(deployment_id)
            if ev.get(event) == status:
                return ev
            time.sleep(poll)
        raise AssertionError(f"{deployment_id}: {event} not {status} after {timeout}s: {self.events(deployment_id)}")

    def listener_arn(self, port, load_balancer="demo"):
        lb = self.elbv2.describe_load_balancers(Names=[load_balancer])["LoadBalancers"][0]
        for l in self.elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
            if int(l["Port"]) == int(port):
                return l["ListenerArn"]
        raise KeyError(f"no listener on port {port}")

    @staticmethod
    def _weights(actions):
        """{target group name: whole percent} of an action list's forward ({} when it does not forward)."""
        return {arn.split("/")[1]: round(pct) for arn, pct in weight_shares(actions).items()}

    def listener_weights(self, port_or_arn=80, include_zero=True):
        """{target group name: percent} of the listener's default forward action (a group absent = 0)."""
        arn = port_or_arn if str(port_or_arn).startswith("arn:") else self.listener_arn(port_or_arn)
        l = self.elbv2.describe_listeners(ListenerArns=[arn])["Listeners"][0]
        w = self._weights(l["DefaultActions"])
        if include_zero:
            for n in ("web-blue", "web-green"):
                w.setdefault(n, 0)
        return w

    def rules(self, port_or_arn=80, include_admin=False):
        """Non-default rules: [{"arn", "priority", "conditions", "weights"}], without the second demo
        service's production rule (``admin``'s ``/admin*`` path rule, part of the provisioned sandbox
        like the default action) unless ``include_admin``."""
        arn = port_or_arn if str(port_or_arn).startswith("arn:") else self.listener_arn(port_or_arn)
        out = []
        for r in self.elbv2.describe_rules(ListenerArn=arn)["Rules"]:
            if r.get("IsDefault") or (not include_admin and is_admin_production_rule(r)):
                continue
            out.append({"arn": r["RuleArn"], "priority": int(r["Priority"]), "conditions": r["Conditions"],
                        "weights": self._weights(r["Actions"])})
        return sorted(out, key=lambda r: r["priority"])

    def admin_rule(self, port=80):
        """The ``admin`` service's production rule ({"arn", "priority", "conditions", "weights"}), or None."""
        r = admin_production_rule(self.elbv2, self.listener_arn(port))
        return r and {"arn": r["RuleArn"], "priority": int(r["Priority"]), "conditions": r["Conditions"],
                      "weights": self._weights(r["Actions"])}

    def task_sets(self, cluster="demo", service="web"):
        """[{"id", "arn", "status", "image", "target_group"}] of the service's task sets."""
        s = self.ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        out = []
        for t in s.get("taskSets") or []:
            td = self.ecs.describe_task_definition(taskDefinition=t["taskDefinition"])["taskDefinition"]
            out.append({"id": t["id"], "arn": t["taskSetArn"], "status": t["status"],
                        "image": td["containerDefinitions"][0]["image"],
                        "target_group": t["loadBalancers"][0]["targetGroupArn"].split("/")[1]
                        if t.get("loadBalancers") else None})
        return out

    def primary_image(self, cluster="demo", service="web"):
        return next((t["image"] for t in self.task_sets(cluster, service) if t["status"] == "PRIMARY"), None)

    def target_health(self, target_group):
        arn = target_group if target_group.startswith("arn:") else \
            self.elbv2.describe_target_groups(Names=[target_group])["TargetGroups"][0]["TargetGroupArn"]
        return [d["TargetHealth"]["State"] for d in
                self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]]

    def alarm_state(self, name="web-5xx"):
        return self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]

    def set_alarm(self, name="web-5xx", state="ALARM", reason="test"):
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)

    def put_plan(self, plan, application="web", deployment_group="web-prod"):
        self.ssm.put_parameter(Name=f"/hookline/{application}/{deployment_group}", Type="String", Overwrite=True,
                               Value=plan if isinstance(plan, str) else json.dumps(plan))

    def executions(self, name_prefix=None, state_machine="hookline-canary"):
        arn = f"arn:aws:states:{self.region}:123456789012:stateMachine:{state_machine}"
        ex = self.sfn.list_executions(stateMachineArn=arn)["executions"]
        return [e for e in ex if not name_prefix or e["name"].startswith(name_prefix)]

    def put_hook_status(self, deployment_id, execution_id, status):
        return self.codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status)
