"""CodeDeploy ECS blue/green simulator (the only AWS emulation hookline writes).

Speaks CodeDeploy's JSON 1.1 protocol (the router hands it the operation name
and the decoded JSON body) and runs the ECS blue/green lifecycle against the
real moto ECS / ELBv2 / CloudWatch, invoking hooks through the router's Lambda
Invoke path.

Lifecycle (AWS CodeDeploy user guide, "AppSpec 'hooks' section for an Amazon
ECS deployment" and "What happens during an Amazon ECS deployment"):

  BeforeInstall (hook) -> Install -> AfterInstall (hook) -> AllowTestTraffic
  -> AfterAllowTestTraffic (hook) -> BeforeAllowTraffic (hook) -> AllowTraffic
  -> AfterAllowTraffic (hook) -> green PRIMARY -> termination wait -> blue
  task set deleted -> Succeeded.

UNCONFIRMED choices (no AWS page states them; all are listed in README.md):

U1  A lifecycle event whose hook is absent from the AppSpec is reported
    ``Succeeded`` (start == end), not ``Skipped``. AllowTestTraffic without a
    test listener is ``Skipped``.
U2  Hooks are invoked as ONE asynchronous Lambda invoke (``X-Amz-Invocation-
    Type: Event``, answer 202) through the router; CodeDeploy learns the outcome
    only through PutLifecycleEventHookExecutionStatus or the hook timeout.
    Lambda's async retries, duplicate deliveries and dead-letter queue belong to
    the router's Invoke path (``SANDBOX_ASYNC_*``). ``hook_invoke_retries`` /
    ``hook_retry_delay_s`` are accepted and ignored (moved there).
    Every report is logged on the hook execution (``report_log``); a ``Failed``
    report also records the production listener at that moment (forwards that
    reference the deployment's groups, rules tagged ``hookline:managed``).
U3  Deployment status stays ``InProgress`` during the termination wait (with
    ``instanceTerminationWaitTimeStarted: true``) and becomes ``Succeeded``
    once the blue task set is deleted.
U4  PutLifecycleEventHookExecutionStatus on a deployment that has already
    ended (Stopped/Failed/Succeeded) for a hook that was still waiting answers
    ``LifecycleEventAlreadyCompletedException``: ending a deployment closes its
    open hook executions (the InProgress event is marked ``Failed`` on
    failure/stop, remaining ``Pending`` events ``Skipped``).
U5  AllowTraffic rewrites the production listener's forwards that reference
    the deployment's target groups into a weighted ``ForwardConfig`` with both
    groups (old group kept at weight 0, as CodeDeploy is reported to do). AWS
    documents only that CodeDeploy "reroutes traffic from the original task
    set to the new one" through the production listener (CodeDeploy user
    guide, "Set up a load balancer, target groups, and listeners for
    CodeDeploy Amazon ECS deployments"; API reference, TargetGroupPairInfo:
    ``prodTrafficRoute.listenerArns`` names listeners, never rules), so which
    forwards it rewrites is a switch, ``allow_traffic_scope``:
      ``default_action`` (DEFAULT, pessimistic): only the listener's default
        action; rules are never touched (a rule-mode service stays wherever
        hookline left it).
      ``listener_rules``: the default action and every rule.
    Rollback is the switch ``rollback_restore``:
      ``own_changes`` (DEFAULT, pessimistic): CodeDeploy reroutes only what
        its own AllowTraffic changed: if AllowTraffic ran, those forwards go
        back to the original group at 100 (green kept at 0); if it never ran
        the production listener is left exactly as it is (hookline's shifts
        and rules are not repaired). The test listener goes back to blue if
        AllowTestTraffic moved it.
      ``snapshot``: the listener actions and rules are restored exactly as
        they were when the deployment started (rules created during the
        deployment are left alone).
    The test listener is pointed at green with a plain ``forward``.
U6  A rollback deployment runs no hooks; its lifecycle events are
    ``Skipped`` except ``AllowTraffic`` (``Succeeded``). It gets ``creator:
    codeDeployRollback``, the triggering deployment's revision and
    ``rollbackInfo.rollbackTriggeringDeploymentId``.
U7  StopDeployment without ``autoRollbackEnabled`` rolls back when the
    effective auto-rollback configuration is enabled and lists
    ``DEPLOYMENT_STOP_ON_REQUEST``. StopDeployment answers ``Pending`` when a
    rollback will run, ``Succeeded`` otherwise; the status becomes
    ``Stopped`` asynchronously (normally within milliseconds).
U8  The ready wait (``deploymentReadyOption`` STOP_DEPLOYMENT /
    CONTINUE_DEPLOYMENT with ``waitTimeInMinutes``) sits after
    AfterAllowTestTraffic and before BeforeAllowTraffic, with status
    ``Ready``.  Timing out with STOP_DEPLOYMENT ends ``Stopped`` (green
    removed, production never moved).
U9  A failure without automatic rollback leaves green and the traffic as they
    are (status Failed); before Install nothing exists to roll back.
U10 Only one active deployment per group: a second CreateDeployment answers
    ``DeploymentLimitExceededException``.
U11 CreateDeployment parses the AppSpec at once and answers
    ``InvalidRevisionException`` for content that is not an ECS AppSpec.
U12 ``taskSetsInfo[].identifer`` is the ECS task set id (``ecs-svc/...``).
U13 ListDeployments returns ids newest first.
U14 Green targets are registered by the simulator (moto does not) with
    made-up IPs 10.<n>.<m>.<i> on the container port, one per desired task.

Time scaling for tests (not AWS behaviour): ``hook_timeout_s`` (default
3600), ``termination_wait_s`` (overrides ``terminationWaitTimeInMinutes``),
``minute_s`` (length of a "minute" in canary/linear intervals and the ready
wait, default 60), ``alarm_poll_s``.
"""
import base64
import hashlib
import json
import logging
import os
import random
import secrets
import string
import threading
import time
import uuid
from urllib.parse import quote

import boto3
import requests
import yaml
from botocore.config import Config as BotoConfig

from alb import action_target_groups, weight_shares

log = logging.getLogger("codedeploy-sim")

ACCOUNT = "123456789012"
REGION = "us-east-1"
EVENTS = ["BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic",
          "AfterAllowTestTraffic", "BeforeAllowTraffic", "AllowTraffic",
          "AfterAllowTraffic"]
HOOK_EVENTS = {"BeforeInstall", "AfterInstall", "AfterAllowTestTraffic",
               "BeforeAllowTraffic", "AfterAllowTraffic"}
PREDEFINED_CONFIGS = {
    "CodeDeployDefault.ECSAllAtOnce": {"type": "AllAtOnce"},
    "CodeDeployDefault.ECSCanary10Percent5Minutes":
        {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5}},
    "CodeDeployDefault.ECSCanary10Percent15Minutes":
        {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 15}},
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes":
        {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 1}},
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes":
        {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 3}},
}
TERMINAL = {"Succeeded", "Failed", "Stopped"}


class CDError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class _Abort(Exception):
    """Raised inside the lifecycle worker to end a deployment."""

    def __init__(self, status, code, message, rollback_event):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.rollback_event = rollback_event  # DEPLOYMENT_FAILURE | DEPLOYMENT_STOP_ON_REQUEST | ...


def _now():
    return time.time()


def _new_deployment_id():
    return "d-" + "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(9))


def _env_float(name, default):
    v = os.environ.get(name)
    return float(v) if v not in (None, "") else default


ALLOW_TRAFFIC_SCOPES = ("default_action", "listener_rules")
ROLLBACK_RESTORES = ("own_changes", "snapshot")


def _env_choice(name, choices):
    v = os.environ.get(name) or choices[0]
    if v not in choices:
        raise ValueError(f"{name}={v!r}: must be one of {', '.join(choices)}")
    return v


class SimConfig:
    # Switches where AWS documents nothing (U5); the first choice is the default and the
    # pessimistic one (CodeDeploy does the least for hookline).
    CHOICES = {"allow_traffic_scope": ALLOW_TRAFFIC_SCOPES, "rollback_restore": ROLLBACK_RESTORES}

    def __init__(self, **kw):
        self.hook_timeout_s = kw.get("hook_timeout_s", _env_float("SANDBOX_HOOK_TIMEOUT_S", 3600))
        tw = kw.get("termination_wait_s", os.environ.get("SANDBOX_TERMINATION_WAIT_S"))
        self.termination_wait_s = float(tw) if tw not in (None, "") else None
        self.minute_s = kw.get("minute_s", _env_float("SANDBOX_MINUTE_S", 60))
        self.alarm_poll_s = kw.get("alarm_poll_s", _env_float("SANDBOX_ALARM_POLL_S", 1))
        # MOVED: hooks are one async invoke; Lambda's async retries are the router's Invoke path
        # (SANDBOX_ASYNC_RETRIES / SANDBOX_ASYNC_RETRY_DELAY_S). Still accepted (and ignored) so
        # existing /_sandbox/config callers keep working.
        self.hook_invoke_retries = int(kw.get("hook_invoke_retries", _env_float("SANDBOX_HOOK_RETRIES", 0)))
        self.hook_retry_delay_s = kw.get("hook_retry_delay_s", _env_float("SANDBOX_HOOK_RETRY_DELAY_S", 1))
        self.allow_traffic_scope = kw.get("allow_traffic_scope",
                                          _env_choice("SANDBOX_ALLOW_TRAFFIC_SCOPE", ALLOW_TRAFFIC_SCOPES))
        self.rollback_restore = kw.get("rollback_restore", _env_choice("SANDBOX_ROLLBACK_RESTORE", ROLLBACK_RESTORES))
        for k, choices in self.CHOICES.items():
            self.check(k, getattr(self, k))

    def check(self, key, value):
        """Raises ValueError naming the key when ``value`` is not one of its choices."""
        if key in self.CHOICES and value not in self.CHOICES[key]:
            raise ValueError(f"{key}={value!r}: must be one of {', '.join(self.CHOICES[key])}")


class Deployment:
    def __init__(self, did):
        self.id = did
        self.info = {}
        self.appspec = None
        self.events = []              # list of LifecycleEvent dicts (single ECS target)
        self.target_status = "Pending"
        self.target_updated = _now()
        self.hook_execs = {}          # exec id -> {"event", "status", "closed"}
        self.stop = None              # None | {"rollback": bool, "code", "message"}
        self.continue_ready = False
        self.continue_termination = False
        self.ctx = {}                 # cluster, service, blue/green tg + ts, listeners, snapshots
        self.is_rollback = False
        self.thread = None

    def event(self, name):
        return next(e for e in self.events if e["lifecycleEventName"] == name)


class CodeDeploySim:
    def __init__(self, moto_url, router_url, config=None):
        self.moto_url = moto_url
        self.router_url = router_url
        self.cfg = config or SimConfig()
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.apps = {}
        self.groups = {}
        self.configs = {}
        self.revisions = {}
        self.deployments = {}
        self.order = []
        self.ip_counter = 0
        self.report_seq = 0           # numbers every PutLifecycleEventHookExecutionStatus (report_log)
        kw = dict(endpoint_url=moto_url, region_name=REGION, aws_access_key_id="sandbox",
                  aws_secret_access_key="sandbox",
                  config=BotoConfig(retries={"max_attempts": 2, "mode": "standard"}))
        self.ecs = boto3.client("ecs", **kw)
        self.elb = boto3.client("elbv2", **kw)
        self.cw = boto3.client("cloudwatch", **kw)
        self.http = requests.Session()

    # ------------------------------------------------------------------ API
    def handle(self, op, body):
        """Returns (status, dict). Errors -> 400 {"__type", "message"}."""
        fn = getattr(self, "op_" + op, None)
        if fn is None:
            return 400, {"__type": "UnknownOperationException",
                         "message": f"Operation {op} is not supported by the hookline CodeDeploy simulator"}
        try:
            with self.lock:
                out = fn(body or {})
            return 200, out if out is not None else {}
        except CDError as e:
            return e.status, {"__type": e.code, "message": e.message}
        except Exception as e:  # pragma: no cover - bug guard
            log.exception("simulator error in %s", op)
            return 500, {"__type": "InternalFailure", "message": str(e)}

    # ---- applications
    def op_CreateApplication(self, b):
        name = b.get("applicationName")
        if not name:
            raise CDError("ApplicationNameRequiredException", "The minimum number of required application names was not specified.")
        if name in self.apps:
            raise CDError("ApplicationAlreadyExistsException", f"The application {name} already exists with the IAM user or AWS account.")
        platform = b.get("computePlatform", "Server")
        if platform not in ("Server", "Lambda", "ECS"):
            raise CDError("InvalidComputePlatformException", f"Invalid compute platform {platform}")
        self.apps[name] = {"applicationId": str(uuid.uuid4()), "applicationName": name,
                           "createTime": _now(), "linkedToGitHub": False, "computePlatform": platform}
        return {"applicationId": self.apps[name]["applicationId"]}

    def _app(self, name):
        if not name:
            raise CDError("ApplicationNameRequiredException", "The minimum number of required application names was not specified.")
        if name not in self.apps:
            raise CDError("ApplicationDoesNotExistException", f"The application {name} does not exist with the IAM user or AWS account.")
        return self.apps[name]

    def op_GetApplication(self, b):
        return {"application": dict(self._app(b.get("applicationName")))}

    def op_BatchGetApplications(self, b):
        return {"applicationsInfo": [dict(self._app(n)) for n in b.get("applicationNames", [])]}

    def op_ListApplications(self, b):
        return {"applications": sorted(self.apps)}

    def op_DeleteApplication(self, b):
        name = b.get("applicationName")
        self.apps.pop(name, None)
        for k in [k for k in self.groups if k[0] == name]:
            del self.groups[k]
        return {}

    # ---- deployment configs
    def _config(self, name):
        if name in PREDEFINED_CONFIGS:
            return {"deploymentConfigName": name, "deploymentConfigId": name, "computePlatform": "ECS",
                    "createTime": 0.0, "trafficRoutingConfig": PREDEFINED_CONFIGS[name]}
        if name in self.configs:
            return self.configs[name]
        raise CDError("DeploymentConfigDoesNotExistException", f"No deployment configuration found for name: {name}")

    def op_CreateDeploymentConfig(self, b):
        name = b.get("deploymentConfigName")
        if not name:
            raise CDError("DeploymentConfigNameRequiredException", "Deployment config name is required")
        if name in self.configs or name in PREDEFINED_CONFIGS:
            raise CDError("DeploymentConfigAlreadyExistsException", f"Deployment config {name} already exists")
        trc = b.get("trafficRoutingConfig") or {"type": "AllAtOnce"}
        if trc.get("type") not in ("AllAtOnce", "TimeBasedCanary", "TimeBasedLinear"):
            raise CDError("InvalidTrafficRoutingConfigurationException", "Invalid traffic routing configuration type")
        cid = str(uuid.uuid4())
        self.configs[name] = {"deploymentConfigName": name, "deploymentConfigId": cid,
                              "computePlatform": b.get("computePlatform", "ECS"), "createTime": _now(),
                              "trafficRoutingConfig": trc}
        return {"deploymentConfigId": cid}

    def op_GetDeploymentConfig(self, b):
        return {"deploymentConfigInfo": dict(self._config(b.get("deploymentConfigName")))}

    # ---- deployment groups
    def op_CreateDeploymentGroup(self, b):
        app = self._app(b.get("applicationName"))
        name = b.get("deploymentGroupName")
        if not name:
            raise CDError("DeploymentGroupNameRequiredException", "The deployment group name was not specified.")
        key = (app["applicationName"], name)
        if key in self.groups:
            raise CDError("DeploymentGroupAlreadyExistsException", f"The deployment group {name} already exists with the IAM user or AWS account.")
        if not b.get("serviceRoleArn"):
            raise CDError("RoleRequiredException", "The role ID was not specified.")
        cfg_name = b.get("deploymentConfigName") or "CodeDeployDefault.ECSAllAtOnce"
        self._config(cfg_name)
        if app["computePlatform"] == "ECS":
            self._validate_ecs_group(b, name)
        info = {k: v for k, v in b.items() if k not in ("tags",)}
        info.update({"deploymentGroupId": str(uuid.uuid4()), "deploymentConfigName": cfg_name,
                     "computePlatform": app["computePlatform"]})
        info.setdefault("autoRollbackConfiguration", {"enabled": False})
        info.setdefault("alarmConfiguration", {"enabled": False, "ignorePollAlarmFailure": False, "alarms": []})
        self.groups[key] = info
        return {"deploymentGroupId": info["deploymentGroupId"]}

    def _validate_ecs_group(self, b, name):
        style = b.get("deploymentStyle") or {}
        if style.get("deploymentType") != "BLUE_GREEN" or style.get("deploymentOption") != "WITH_TRAFFIC_CONTROL":
            raise CDError("InvalidDeploymentStyleException",
                          "For ECS deployment group, deploymentType must be BLUE_GREEN and deploymentOption must be WITH_TRAFFIC_CONTROL")
        svcs = b.get("ecsServices") or []
        if len(svcs) != 1 or not svcs[0].get("serviceName") or not svcs[0].get("clusterName"):
            raise CDError("InvalidECSServiceException", "Exactly one ECS service (serviceName, clusterName) is required")
        for (a, g), other in self.groups.items():
            for s in other.get("ecsServices") or []:
                if s == svcs[0]:
                    raise CDError("InvalidECSServiceException",
                                  f"ECS service {s['clusterName']}:{s['serviceName']} is already associated with deployment group {g}")
        pairs = ((b.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList")) or []
        if len(pairs) != 1:
            raise CDError("InvalidLoadBalancerInfoException", "Exactly one targetGroupPairInfo is required for ECS")
        pair = pairs[0]
        if len(pair.get("targetGroups") or []) != 2:
            raise CDError("InvalidTargetGroupPairException", "A target group pair needs exactly two target groups")
        if len(((pair.get("prodTrafficRoute") or {}).get("listenerArns")) or []) != 1:
            raise CDError("InvalidTargetGroupPairException", "prodTrafficRoute needs exactly one listener")
        bg = b.get("blueGreenDeploymentConfiguration") or {}
        tw = (bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}).get("terminationWaitTimeInMinutes")
        if tw is not None and not (0 <= int(tw) <= 2880):
            raise CDError("InvalidBlueGreenDeploymentConfigurationException", "terminationWaitTimeInMinutes must be 0..2880")

    def _group(self, app_name, name):
        self._app(app_name)
        if not name:
            raise CDError("DeploymentGroupNameRequiredException", "The deployment group name was not specified.")
        g = self.groups.get((app_name, name))
        if g is None:
            raise CDError("DeploymentGroupDoesNotExistException", f"The deployment group {name} does not exist with the IAM user or AWS account.")
        return g

    def op_GetDeploymentGroup(self, b):
        g = self._group(b.get("applicationName"), b.get("deploymentGroupName"))
        return {"deploymentGroupInfo": json.loads(json.dumps(g))}

    def op_ListDeploymentGroups(self, b):
        self._app(b.get("applicationName"))
        return {"applicationName": b["applicationName"],
                "deploymentGroups": sorted(g for a, g in self.groups if a == b["applicationName"])}

    def op_UpdateDeploymentGroup(self, b):
        g = self._group(b.get("applicationName"), b.get("currentDeploymentGroupName"))
        for k, v in b.items():
            if k in ("applicationName", "currentDeploymentGroupName", "newDeploymentGroupName"):
                continue
            g[k] = v
        if b.get("newDeploymentGroupName"):
            self.groups.pop((b["applicationName"], g["deploymentGroupName"]))
            g["deploymentGroupName"] = b["newDeploymentGroupName"]
            self.groups[(b["applicationName"], g["deploymentGroupName"])] = g
        return {"hooksNotCleanedUp": []}

    def op_DeleteDeploymentGroup(self, b):
        self._group(b.get("applicationName"), b.get("deploymentGroupName"))
        self.groups.pop((b["applicationName"], b["deploymentGroupName"]))
        return {"hooksNotCleanedUp": []}

    # ---- deployments
    def op_CreateDeployment(self, b):
        app = self._app(b.get("applicationName"))
        g = self._group(b["applicationName"], b.get("deploymentGroupName"))
        rev = b.get("revision")
        if not rev:
            raise CDError("RevisionRequiredException", "The revision ID was not specified.")
        if rev.get("revisionType") != "AppSpecContent":
            raise CDError("InvalidRevisionException",
                          "The sandbox simulator supports revisionType AppSpecContent only")
        content = (rev.get("appSpecContent") or {}).get("content")
        if not content:
            raise CDError("InvalidRevisionException", "appSpecContent.content is required")
        appspec = self._parse_appspec(content)
        cfg_name = b.get("deploymentConfigName") or g.get("deploymentConfigName") or "CodeDeployDefault.ECSAllAtOnce"
        self._config(cfg_name)
        for did in self.order:
            d = self.deployments[did]
            if (d.info["applicationName"], d.info["deploymentGroupName"]) == (app["applicationName"], g["deploymentGroupName"]) \
                    and d.info["status"] not in TERMINAL:
                raise CDError("DeploymentLimitExceededException",
                              f"The Deployment Group '{g['deploymentGroupName']}' already has an active Deployment '{did}'")
        sha = hashlib.sha256(content.encode()).hexdigest()
        now = _now()
        r = self.revisions.setdefault((app["applicationName"], sha), {
            "content": content, "registerTime": now, "firstUsedTime": now, "deploymentGroups": []})
        r["lastUsedTime"] = now
        if g["deploymentGroupName"] not in r["deploymentGroups"]:
            r["deploymentGroups"].append(g["deploymentGroupName"])
        did = _new_deployment_id()
        d = Deployment(did)
        d.appspec = appspec
        arc = b.get("autoRollbackConfiguration") or g.get("autoRollbackConfiguration") or {"enabled": False}
        prev = (g.get("lastSuccessfulDeployment") or {}).get("deploymentId")
        d.info = {
            "applicationName": app["applicationName"], "deploymentGroupName": g["deploymentGroupName"],
            "deploymentConfigName": cfg_name, "deploymentId": did, "status": "Created",
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha}},
            "createTime": now, "creator": "user", "description": b.get("description"),
            "ignoreApplicationStopFailures": bool(b.get("ignoreApplicationStopFailures", False)),
            "autoRollbackConfiguration": arc, "updateOutdatedInstancesOnly": False,
            "deploymentStyle": g.get("deploymentStyle"),
            "blueGreenDeploymentConfiguration": g.get("blueGreenDeploymentConfiguration"),
            "loadBalancerInfo": g.get("loadBalancerInfo"), "computePlatform": app["computePlatform"],
            "deploymentOverview": {"Pending": 1, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0, "Ready": 0},
            "deploymentStatusMessages": [], "instanceTerminationWaitTimeStarted": False,
            "fileExistsBehavior": "DISALLOW",
        }
        if b.get("overrideAlarmConfiguration"):
            d.info["overrideAlarmConfiguration"] = b["overrideAlarmConfiguration"]
        if prev and prev in self.deployments:
            d.info["previousRevision"] = self.deployments[prev].info["revision"]
        if d.info["description"] is None:
            del d.info["description"]
        d.events = [{"lifecycleEventName": e, "status": "Pending"} for e in EVENTS]
        self.deployments[did] = d
        self.order.append(did)
        g["lastAttemptedDeployment"] = {"deploymentId": did, "status": "Created", "createTime": now}
        d.thread = threading.Thread(target=self._run, args=(d,), name=f"deploy-{did}", daemon=True)
        d.thread.start()
        return {"deploymentId": did}

    def _parse_appspec(self, content):
        try:
            spec = yaml.safe_load(content)
            res = spec["Resources"][0]
            ts = next(iter(res.values()))
            props = ts["Properties"]
            if ts.get("Type") != "AWS::ECS::Service":
                raise ValueError("Type must be AWS::ECS::Service")
            if not props.get("TaskDefinition"):
                raise ValueError("TaskDefinition missing")
            lbi = props.get("LoadBalancerInfo") or {}
            if not lbi.get("ContainerName") or lbi.get("ContainerPort") is None:
                raise ValueError("LoadBalancerInfo.ContainerName/ContainerPort missing")
            hooks = {}
            for h in spec.get("Hooks") or []:
                for k, v in h.items():
                    if k not in HOOK_EVENTS:
                        raise ValueError(f"unknown hook event {k}")
                    hooks[k] = v
            return {"props": props, "hooks": hooks}
        except (KeyError, IndexError, TypeError, StopIteration, ValueError, yaml.YAMLError) as e:
            raise CDError("InvalidRevisionException", f"The AppSpec content is not a valid ECS AppSpec: {e}")

    def _dep(self, did):
        if not did:
            raise CDError("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        d = self.deployments.get(did)
        if d is None:
            if not did.startswith("d-"):
                raise CDError("InvalidDeploymentIdException", f"Specified DeploymentId is not in the valid format: {did}")
            raise CDError("DeploymentDoesNotExistException", f"The deployment {did} could not be found.")
        return d

    def _info(self, d):
        info = json.loads(json.dumps(d.info))
        return {k: v for k, v in info.items() if v is not None}

    def op_GetDeployment(self, b):
        return {"deploymentInfo": self._info(self._dep(b.get("deploymentId")))}

    def op_BatchGetDeployments(self, b):
        ids = b.get("deploymentIds") or []
        if len(ids) > 25:
            raise CDError("BatchLimitExceededException", "The maximum number of names or IDs allowed for this request (25) was exceeded.")
        return {"deploymentsInfo": [self._info(self.deployments[i]) for i in ids if i in self.deployments]}

    def op_ListDeployments(self, b):
        app, grp = b.get("applicationName"), b.get("deploymentGroupName")
        if app:
            self._app(app)
        if grp:
            if not app:
                raise CDError("ApplicationNameRequiredException", "The minimum number of required application names was not specified.")
            self._group(app, grp)
        statuses = b.get("includeOnlyStatuses") or []
        tr = b.get("createTimeRange") or {}
        out = []
        for did in reversed(self.order):
            i = self.deployments[did].info
            if app and i["applicationName"] != app:
                continue
            if grp and i["deploymentGroupName"] != grp:
                continue
            if statuses and i["status"] not in statuses:
                continue
            if tr.get("start") and i["createTime"] < tr["start"]:
                continue
            if tr.get("end") and i["createTime"] > tr["end"]:
                continue
            out.append(did)
        return {"deployments": out}

    def op_GetApplicationRevision(self, b):
        app = self._app(b.get("applicationName"))
        rev = b.get("revision")
        if not rev:
            raise CDError("RevisionRequiredException", "The revision ID was not specified.")
        sha = (rev.get("appSpecContent") or {}).get("sha256")
        if not sha and (rev.get("appSpecContent") or {}).get("content"):
            sha = hashlib.sha256(rev["appSpecContent"]["content"].encode()).hexdigest()
        r = self.revisions.get((app["applicationName"], sha))
        if r is None:
            raise CDError("RevisionDoesNotExistException", "The named revision does not exist with the IAM user or AWS account.")
        return {"applicationName": app["applicationName"],
                "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": r["content"], "sha256": sha}},
                "revisionInfo": {"deploymentGroups": list(r["deploymentGroups"]), "registerTime": r["registerTime"],
                                 "firstUsedTime": r["firstUsedTime"], "lastUsedTime": r["lastUsedTime"]}}

    def op_ListDeploymentTargets(self, b):
        d = self._dep(b.get("deploymentId"))
        if not d.ctx.get("cluster"):
            raise CDError("DeploymentNotStartedException", "The specified deployment has not started.")
        return {"targetIds": [f"{d.ctx['cluster']}:{d.ctx['service']}"]}

    def op_BatchGetDeploymentTargets(self, b):
        d = self._dep(b.get("deploymentId"))
        return {"deploymentTargets": [self._target(d) for t in b.get("targetIds") or []
                                      if t == f"{d.ctx.get('cluster')}:{d.ctx.get('service')}"]}

    def op_GetDeploymentTarget(self, b):
        d = self._dep(b.get("deploymentId"))
        tid = b.get("targetId")
        if not tid:
            raise CDError("DeploymentTargetIdRequiredException", "A deployment target ID was not provided.")
        if not d.ctx.get("cluster"):
            raise CDError("DeploymentNotStartedException", "The specified deployment has not started.")
        if tid != f"{d.ctx['cluster']}:{d.ctx['service']}":
            raise CDError("DeploymentTargetDoesNotExistException", f"The provided target ID {tid} does not belong to the deployment.")
        return {"deploymentTarget": self._target(d)}

    def _target(self, d):
        c = d.ctx
        return {"deploymentTargetType": "ECSTarget", "ecsTarget": {
            "deploymentId": d.id, "targetId": f"{c['cluster']}:{c['service']}",
            "targetArn": c.get("service_arn") or f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{c['cluster']}/{c['service']}",
            "lastUpdatedAt": d.target_updated, "status": d.target_status,
            "lifecycleEvents": json.loads(json.dumps(d.events)),
            "taskSetsInfo": self._task_sets_info(d)}}

    def _task_sets_info(self, d):
        c = d.ctx
        try:
            weights = self._live_weights(c["prod_listener"], [c["blue_tg"], c.get("green_tg")]) if c.get("prod_listener") else {}
            svc = self.ecs.describe_services(cluster=c["cluster"], services=[c["service"]])["services"][0]
        except Exception:
            log.exception("task sets info")
            return []
        out = []
        for ts in svc.get("taskSets") or []:
            arn = ts["taskSetArn"]
            if arn == c.get("blue_ts"):
                label, tg = "Blue", c["blue_tg"]
            elif arn == c.get("green_ts"):
                label, tg = "Green", c["green_tg"]
            else:
                continue
            desired = ts.get("computedDesiredCount", svc.get("desiredCount", 1))
            out.append({"identifer": ts["id"], "desiredCount": desired, "pendingCount": 0,
                        "runningCount": ts.get("runningCount", desired), "status": ts["status"],
                        "trafficWeight": float(weights.get(tg, 0.0)),
                        "targetGroup": {"name": tg.split("/")[1]}, "taskSetLabel": label})
        return out

    def op_PutLifecycleEventHookExecutionStatus(self, b):
        did = b.get("deploymentId")
        if not did:
            raise CDError("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        d = self._dep(did)
        if d.info.get("computePlatform") not in ("ECS", "Lambda"):
            raise CDError("UnsupportedActionForDeploymentTypeException", "This action is only supported for Lambda and ECS deployments.")
        st = b.get("status")
        if st not in ("Succeeded", "Failed"):
            raise CDError("InvalidLifecycleEventHookExecutionStatusException",
                          f"The lifecycle event hook execution status {st!r} is invalid; use Succeeded or Failed.")
        eid = b.get("lifecycleEventHookExecutionId")
        h = d.hook_execs.get(eid)
        if h is None:
            raise CDError("InvalidLifecycleEventHookExecutionIdException",
                          f"The lifecycle event hook execution ID {eid} is invalid for deployment {did}.")
        h.setdefault("reports", []).append(st)  # every attempt, accepted or not (tests count them)
        accepted = h["status"] is None and not h["closed"]
        self.report_seq += 1
        rec = {"seq": self.report_seq, "status": st, "time": _now(), "accepted": accepted}
        if st == "Failed":
            rec["production"] = self._production_state(d)
        h.setdefault("report_log", []).append(rec)
        if not accepted:
            raise CDError("LifecycleEventAlreadyCompletedException",
                          f"The lifecycle event {h['event']} of deployment {did} has already completed.")
        h["status"] = st
        self.cond.notify_all()
        return {"lifecycleEventHookExecutionId": eid}

    def op_StopDeployment(self, b):
        d = self._dep(b.get("deploymentId"))
        if d.info["status"] in TERMINAL:
            raise CDError("DeploymentAlreadyCompletedException", f"The deployment {d.id} is already completed.")
        if d.is_rollback:
            raise CDError("UnsupportedActionForDeploymentTypeException", "A rollback deployment cannot be stopped.")
        are = b.get("autoRollbackEnabled")
        if are is None:
            arc = d.info.get("autoRollbackConfiguration") or {}
            are = bool(arc.get("enabled")) and "DEPLOYMENT_STOP_ON_REQUEST" in (arc.get("events") or [])
        d.stop = {"rollback": bool(are), "code": "MANUAL_STOP",
                  "message": "The deployment was stopped by the user" if not are else
                  "The deployment was stopped by the user and rolled back"}
        self.cond.notify_all()
        if are:
            return {"status": "Pending", "statusMessage": "Stopping deployment and rolling back"}
        return {"status": "Succeeded", "statusMessage": "Deployment stopped"}

    def op_ContinueDeployment(self, b):
        d = self._dep(b.get("deploymentId"))
        wt = b.get("deploymentWaitType") or "READY_WAIT"
        if wt not in ("READY_WAIT", "TERMINATION_WAIT"):
            raise CDError("InvalidDeploymentWaitTypeException", f"Invalid deployment wait type {wt}")
        if d.info["status"] in TERMINAL:
            raise CDError("DeploymentAlreadyCompletedException", f"The deployment {d.id} is already completed.")
        if wt == "READY_WAIT":
            if d.info["status"] != "Ready":
                raise CDError("DeploymentIsNotInReadyStateException", f"The deployment {d.id} is not in the Ready state.")
            d.continue_ready = True
        else:
            if not d.info.get("instanceTerminationWaitTimeStarted"):
                raise CDError("InvalidDeploymentStatusException", f"The deployment {d.id} is not waiting for termination.")
            d.continue_termination = True
        self.cond.notify_all()
        return {}

    # -------------------------------------------------------------- lifecycle
    def _set_status(self, d, status):
        with self.lock:
            d.info["status"] = status
            g = self.groups.get((d.info["applicationName"], d.info["deploymentGroupName"]))
            if g and not d.is_rollback:
                g["lastAttemptedDeployment"] = {"deploymentId": d.id, "status": status,
                                                "createTime": d.info["createTime"]}
                if status in TERMINAL:
                    g["lastAttemptedDeployment"]["endTime"] = _now()
                if status == "Succeeded":
                    g["lastSuccessfulDeployment"] = dict(g["lastAttemptedDeployment"])
            ov = {k: 0 for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}
            ts = {"Created": "Pending", "Queued": "Pending", "InProgress": "InProgress", "Ready": "Ready",
                  "Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Failed"}[status]
            ov[ts] = 1
            d.info["deploymentOverview"] = ov
            d.target_status = ts if status != "Stopped" else "Failed"
            d.target_updated = _now()
            if status in TERMINAL:
                d.info["completeTime"] = _now()
            self.cond.notify_all()

    def _ev(self, d, name, status):
        with self.lock:
            e = d.event(name)
            if status == "InProgress":
                e["startTime"] = _now()
            elif "startTime" not in e:
                e["startTime"] = _now()
            if status not in ("InProgress", "Pending"):
                e["endTime"] = _now()
            e["status"] = status
            d.target_updated = _now()

    def _wait(self, d, timeout, pred):
        """Wait until pred() or timeout; raises _Abort on stop/alarm. Returns pred()."""
        deadline = _now() + timeout
        next_alarm = 0
        with self.lock:
            while True:
                if d.stop:
                    raise _Abort("Stopped", d.stop["code"], d.stop["message"],
                                 "DEPLOYMENT_STOP_ON_REQUEST" if d.stop["rollback"] else None)
                if pred():
                    return True
                now = _now()
                if now >= deadline:
                    return False
                if now >= next_alarm:
                    self.lock.release()
                    try:
                        self._check_alarms(d)
                    finally:
                        self.lock.acquire()
                    next_alarm = now + self.cfg.alarm_poll_s
                    continue
                self.cond.wait(min(deadline - now, max(0.05, next_alarm - now)))

    def _check_alarms(self, d):
        g = self.groups.get((d.info["applicationName"], d.info["deploymentGroupName"])) or {}
        ac = d.info.get("overrideAlarmConfiguration") or g.get("alarmConfiguration") or {}
        names = [a["name"] for a in ac.get("alarms") or []]
        if not ac.get("enabled") or not names:
            return
        try:
            alarms = self.cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
        except Exception:
            if ac.get("ignorePollAlarmFailure"):
                return
            raise _Abort("Stopped", "ALARM_ACTIVE", "Unable to poll alarms", "DEPLOYMENT_STOP_ON_ALARM")
        firing = [a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM"]
        if firing:
            raise _Abort("Stopped", "ALARM_ACTIVE",
                         f"One or more alarms have been activated according to the Amazon CloudWatch metrics you selected: {', '.join(firing)}",
                         "DEPLOYMENT_STOP_ON_ALARM")

    def _run(self, d):
        c = d.ctx
        reached_install = False
        try:
            self._set_status(d, "InProgress")
            with self.lock:
                d.info["startTime"] = _now()
            self._resolve(d)
            self._hook(d, "BeforeInstall")
            self._ev(d, "Install", "InProgress")
            reached_install = True
            try:
                self._install(d)
            except _Abort:
                raise
            except Exception as e:
                log.exception("install failed")
                self._ev(d, "Install", "Failed")
                raise _Abort("Failed", "ECS_UPDATE_ERROR", f"Install failed: {e}", "DEPLOYMENT_FAILURE")
            self._ev(d, "Install", "Succeeded")
            self._hook(d, "AfterInstall")
            if c.get("test_listener"):
                self._ev(d, "AllowTestTraffic", "InProgress")
                self._route_test(d)
                self._ev(d, "AllowTestTraffic", "Succeeded")
            else:
                self._ev(d, "AllowTestTraffic", "Skipped")
            self._hook(d, "AfterAllowTestTraffic")
            self._ready_wait(d)
            self._hook(d, "BeforeAllowTraffic")
            self._ev(d, "AllowTraffic", "InProgress")
            self._allow_traffic(d)
            self._ev(d, "AllowTraffic", "Succeeded")
            self._hook(d, "AfterAllowTraffic")
            self._promote(d)
        except _Abort as a:
            self._end(d, a, reached_install)
        except Exception as e:  # bug guard: never leave a deployment hanging
            log.exception("deployment %s crashed", d.id)
            self._end(d, _Abort("Failed", "INTERNAL_ERROR", f"simulator error: {e}", "DEPLOYMENT_FAILURE"),
                      reached_install)

    def _resolve(self, d):
        g = self.groups[(d.info["applicationName"], d.info["deploymentGroupName"])]
        svc = g["ecsServices"][0]
        pair = g["loadBalancerInfo"]["targetGroupPairInfoList"][0]
        c = d.ctx
        c["cluster"], c["service"] = svc["clusterName"], svc["serviceName"]
        c["prod_listener"] = pair["prodTrafficRoute"]["listenerArns"][0]
        c["test_listener"] = ((pair.get("testTrafficRoute") or {}).get("listenerArns") or [None])[0]
        names = [t["name"] for t in pair["targetGroups"]]
        tgs = {t["TargetGroupName"]: t["TargetGroupArn"]
               for t in self.elb.describe_target_groups(Names=names)["TargetGroups"]}
        s = self.ecs.describe_services(cluster=c["cluster"], services=[c["service"]])["services"]
        if not s or s[0].get("status") != "ACTIVE":
            raise _Abort("Failed", "ECS_UPDATE_ERROR", f"ECS service {c['cluster']}:{c['service']} not found", None)
        s = s[0]
        c["service_arn"] = s["serviceArn"]
        c["desired"] = max(1, int(s.get("desiredCount") or 1))
        c["net"] = s.get("networkConfiguration")
        primary = next((t for t in s.get("taskSets") or [] if t["status"] == "PRIMARY"), None)
        blue_tg = None
        if primary:
            c["blue_ts"] = primary["taskSetArn"]
            c["net"] = c["net"] or primary.get("networkConfiguration")
            lbs = primary.get("loadBalancers") or []
            blue_tg = lbs[0]["targetGroupArn"] if lbs else None
        if blue_tg not in tgs.values():
            blue_tg = tgs[names[0]]
        c["blue_tg"] = blue_tg
        c["green_tg"] = next(a for a in tgs.values() if a != blue_tg)
        c["snapshot"] = {lst: self._snapshot(lst) for lst in (c["prod_listener"], c["test_listener"]) if lst}
        with self.lock:
            d.target_updated = _now()

    def _snapshot(self, listener):
        l = self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]
        rules = {r["RuleArn"]: r["Actions"] for r in self.elb.describe_rules(ListenerArn=listener)["Rules"]
                 if not r.get("IsDefault")}
        return {"default": l["DefaultActions"], "rules": rules}

    def _hook(self, d, name):
        fn = d.appspec["hooks"].get(name)
        if not fn:
            self._ev(d, name, "Succeeded")  # U1
            return
        eid = base64.b64encode(secrets.token_bytes(48)).decode()
        with self.lock:
            d.hook_execs[eid] = {"event": name, "status": None, "closed": False, "function": fn}
        self._ev(d, name, "InProgress")
        self._invoke_hook(d, eid, fn)
        h = d.hook_execs[eid]
        try:
            done = self._wait(d, self.cfg.hook_timeout_s, lambda: h["status"] is not None)
        except _Abort:
            raise
        with self.lock:
            if not done:
                h["closed"] = True
                self._ev(d, name, "Failed")
                # LifecycleErrorCode enum (botocore model): ScriptTimedOut, not "Timeout"
                d.event(name)["diagnostics"] = {"errorCode": "ScriptTimedOut", "scriptName": fn,
                                                "message": "The hook timed out", "logTail": ""}
                raise _Abort("Failed", "TIMEOUT",
                             f"The deployment failed because the {name} lifecycle event hook timed out",
                             "DEPLOYMENT_FAILURE")
            if h["status"] == "Failed":
                self._ev(d, name, "Failed")
                d.event(name)["diagnostics"] = {"errorCode": "ScriptFailed", "scriptName": fn,
                                                "message": "The hook reported Failed", "logTail": ""}
                raise _Abort("Failed", "HOOK_EXECUTION_FAILURE",
                             f"The deployment failed because a specified lifecycle event hook ({name}) failed. "
                             "Check the hook function's logs.", "DEPLOYMENT_FAILURE")
            self._ev(d, name, "Succeeded")

    def _invoke_hook(self, d, eid, fn):
        """ONE asynchronous Invoke (``X-Amz-Invocation-Type: Event``, Lambda answers 202) through
        the router, as CodeDeploy invokes hook functions (U2). Lambda's own async behaviour
        (retries after a function error, duplicate deliveries, the dead-letter queue) is
        emulated by the router's Invoke path, not here (Lambda developer guide, "Asynchronous
        invocation": Lambda queues the event and retries twice on function errors)."""
        payload = json.dumps({"DeploymentId": d.id, "LifecycleEventHookExecutionId": eid})
        url = f"{self.router_url}/2015-03-31/functions/{quote(fn, safe='')}/invocations"
        try:
            r = self.http.post(url, data=payload, timeout=60, headers={
                "Content-Type": "application/json", "X-Sandbox-Internal": "codedeploy",
                "X-Amz-Invocation-Type": "Event",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=sandbox/20260101/{REGION}/lambda/aws4_request"})
            log.info("hook %s for %s (%s) invoked (Event): %s %s", fn, d.id, d.hook_execs[eid]["event"],
                     r.status_code, r.text[:300])
            if r.status_code != 202:
                # CodeDeploy then only learns through the hook timeout, like a lost event
                log.warning("hook %s async invoke answered %s (expected 202): %s", fn, r.status_code, r.text[:300])
        except Exception as e:
            log.warning("hook %s async invoke failed: %s", fn, e)

    def _install(self, d):
        c, props = d.ctx, d.appspec["props"]
        lbi = props["LoadBalancerInfo"]
        c["container"], c["port"] = lbi["ContainerName"], int(lbi["ContainerPort"])
        net = None
        avc = (props.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration")
        if avc:
            net = {"awsvpcConfiguration": {"subnets": avc.get("Subnets") or [],
                                           "securityGroups": avc.get("SecurityGroups") or [],
                                           "assignPublicIp": avc.get("AssignPublicIp", "DISABLED")}}
        net = net or c.get("net") or {"awsvpcConfiguration": {"subnets": ["subnet-sandbox"],
                                                              "securityGroups": ["sg-sandbox"]}}
        kw = dict(cluster=c["cluster"], service=c["service"], externalId=d.id,
                  taskDefinition=props["TaskDefinition"],
                  loadBalancers=[{"targetGroupArn": c["green_tg"], "containerName": c["container"],
                                  "containerPort": c["port"]}],
                  launchType="FARGATE", networkConfiguration=net,
                  scale={"unit": "PERCENT", "value": 100.0})
        if props.get("PlatformVersion"):
            kw["platformVersion"] = props["PlatformVersion"]
        if props.get("CapacityProviderStrategy"):
            kw.pop("launchType")
            kw["capacityProviderStrategy"] = [{"capacityProvider": s["CapacityProvider"],
                                               "weight": int(s.get("Weight", 1)), "base": int(s.get("Base", 0))}
                                              for s in props["CapacityProviderStrategy"]]
        try:
            ts = self.ecs.create_task_set(**kw)["taskSet"]
        except Exception:
            # moto quirk: CreateTaskSet may store the task set and then answer 500.
            ts = next((t for t in self.ecs.describe_task_sets(cluster=c["cluster"], service=c["service"])["taskSets"]
                       if t.get("externalId") == d.id), None)
            if ts is None:
                raise
        c["green_ts"] = ts["taskSetArn"]
        with self.lock:
            self.ip_counter += 1
            n = self.ip_counter
        c["green_targets"] = [{"Id": f"10.{(n // 250) % 250 + 1}.{n % 250}.{i + 10}", "Port": c["port"]}
                              for i in range(c["desired"])]
        self.elb.register_targets(TargetGroupArn=c["green_tg"], Targets=c["green_targets"])

    def _route_test(self, d):
        c = d.ctx
        self.elb.modify_listener(ListenerArn=c["test_listener"],
                                 DefaultActions=[{"Type": "forward", "TargetGroupArn": c["green_tg"]}])
        c["test_routed"] = True

    def _ready_wait(self, d):
        """deploymentReadyOption STOP_DEPLOYMENT: status Ready until ContinueDeployment(READY_WAIT)
        or waitTimeInMinutes pass (then Stopped). CONTINUE_DEPLOYMENT reroutes at once."""
        bg = d.info.get("blueGreenDeploymentConfiguration") or {}
        ro = bg.get("deploymentReadyOption") or {}
        if ro.get("actionOnTimeout", "CONTINUE_DEPLOYMENT") != "STOP_DEPLOYMENT":
            return
        self._set_status(d, "Ready")
        wait_min = float(ro.get("waitTimeInMinutes") or 0)
        if not self._wait(d, wait_min * self.cfg.minute_s, lambda: d.continue_ready):
            raise _Abort("Stopped", "TIMEOUT",
                         "The deployment timed out while waiting for the replacement task set to be rerouted",
                         "READY_TIMEOUT")
        self._set_status(d, "InProgress")

    def _allow_traffic(self, d):
        cfg = self._config(d.info["deploymentConfigName"])["trafficRoutingConfig"]
        t = cfg.get("type", "AllAtOnce")
        if t == "TimeBasedCanary":
            p = cfg["timeBasedCanary"]
            self._set_prod_weights(d, int(p["canaryPercentage"]))
            self._wait(d, float(p["canaryInterval"]) * self.cfg.minute_s, lambda: False)
        elif t == "TimeBasedLinear":
            p = cfg["timeBasedLinear"]
            w = int(p["linearPercentage"])
            while w < 100:
                self._set_prod_weights(d, w)
                self._wait(d, float(p["linearInterval"]) * self.cfg.minute_s, lambda: False)
                w += int(p["linearPercentage"])
        self._set_prod_weights(d, 100)

    def _forward_to(self, d, green_w):
        c = d.ctx
        return {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": c["blue_tg"], "Weight": 100 - green_w},
            {"TargetGroupArn": c["green_tg"], "Weight": green_w}],
            "TargetGroupStickinessConfig": {"Enabled": False}}}

    def _rewrite_prod(self, d, green_w, default=True, rule_arns=None):
        """Point the production listener's forwards that reference the deployment's groups at
        green_w % green. Which forwards: the default action (if default), plus the rules when rule_arns is
        "all" (AllowTraffic in listener_rules scope) or the rules whose ARN is in rule_arns
        (rollback of what AllowTraffic changed). Returns {"default": bool, "rules": [arns]} changed."""
        c = d.ctx
        tgs = {c["blue_tg"], c["green_tg"]}
        fwd = self._forward_to(d, green_w)

        def rewrite(actions):
            out, changed = [], False
            for a in actions:
                if a.get("Type") == "forward" and action_target_groups(a) & tgs:
                    out.append(dict(fwd, **({"Order": a["Order"]} if "Order" in a else {})))
                    changed = True
                else:
                    out.append(a)
            return out, changed

        done = {"default": False, "rules": []}
        l = self.elb.describe_listeners(ListenerArns=[c["prod_listener"]])["Listeners"][0]
        acts, ch = rewrite(l["DefaultActions"])
        if ch and default:
            self.elb.modify_listener(ListenerArn=c["prod_listener"], DefaultActions=acts)
            done["default"] = True
        if not rule_arns:
            return done
        for r in self.elb.describe_rules(ListenerArn=c["prod_listener"])["Rules"]:
            if r.get("IsDefault") or (rule_arns != "all" and r["RuleArn"] not in rule_arns):
                continue
            acts, ch = rewrite(r["Actions"])
            if ch:
                self.elb.modify_rule(RuleArn=r["RuleArn"], Actions=acts)
                done["rules"].append(r["RuleArn"])
        return done

    def _set_prod_weights(self, d, green_w):
        """One AllowTraffic increment (U5: allow_traffic_scope decides default action only or rules too).
        Remembers what it changed so an own_changes rollback reroutes exactly that."""
        c = d.ctx
        scope = "all" if self.cfg.allow_traffic_scope == "listener_rules" else None
        own = c.setdefault("allow_traffic_changed", {"default": False, "rules": []})
        c["allow_traffic_ran"] = True
        done = self._rewrite_prod(d, green_w, True, scope)
        own["default"] = own["default"] or done["default"]
        own["rules"] += [r for r in done["rules"] if r not in own["rules"]]

    def _live_weights(self, listener, tgs):
        """{tg ARN: percent} of the listener's default action (every group of tgs present)."""
        l = self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]
        w = {t: 0.0 for t in tgs if t}
        w.update(weight_shares(l["DefaultActions"]))
        return w

    def _promote(self, d):
        c = d.ctx
        self.ecs.update_service_primary_task_set(cluster=c["cluster"], service=c["service"],
                                                 primaryTaskSet=c["green_ts"])
        c["promoted"] = True
        bg = d.info.get("blueGreenDeploymentConfiguration") or {}
        term = bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        wait = self.cfg.termination_wait_s
        if wait is None:
            wait = float(term.get("terminationWaitTimeInMinutes") or 0) * 60
        if c.get("blue_ts") and term.get("action", "TERMINATE") == "TERMINATE":
            with self.lock:
                d.info["instanceTerminationWaitTimeStarted"] = True
            self._wait(d, wait, lambda: d.continue_termination)
            # once deletion starts no rollback is possible
            with self.lock:
                d.ctx["terminating"] = True
            self._delete_task_set(c, c["blue_ts"])
            self._deregister_all(c["blue_tg"])
        self._set_status(d, "Succeeded")
        self._close_hooks(d)

    def _delete_task_set(self, c, ts_arn):
        try:
            self.ecs.delete_task_set(cluster=c["cluster"], service=c["service"], taskSet=ts_arn, force=True)
        except Exception as e:
            log.warning("delete task set %s: %s", ts_arn, e)

    def _deregister_all(self, tg):
        try:
            targets = [t["Target"] for t in self.elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]]
            if targets:
                self.elb.deregister_targets(TargetGroupArn=tg, Targets=targets)
        except Exception as e:
            log.warning("deregister %s: %s", tg, e)

    def _close_hooks(self, d):
        with self.lock:
            for h in d.hook_execs.values():
                h["closed"] = True
            for e in d.events:
                if e["status"] == "InProgress":
                    e["status"] = "Failed"
                    e["endTime"] = _now()
                elif e["status"] == "Pending":
                    e["status"] = "Skipped"
            self.cond.notify_all()

    def _end(self, d, a, reached_install):
        c = d.ctx
        if c.get("terminating"):
            # stop arrived while the blue task set was being deleted: too late to roll back
            self._set_status(d, "Succeeded")
            self._close_hooks(d)
            return
        self._close_hooks(d)
        arc = d.info.get("autoRollbackConfiguration") or {}
        events = arc.get("events") or []
        if a.rollback_event == "DEPLOYMENT_STOP_ON_REQUEST":
            do_rb = True   # StopDeployment(autoRollbackEnabled) already decided
        elif a.rollback_event == "READY_TIMEOUT":
            do_rb = True   # production never moved; remove green
        else:
            do_rb = bool(arc.get("enabled")) and a.rollback_event in events
        do_rb = do_rb and reached_install and bool(c.get("green_ts") or c.get("snapshot"))
        with self.lock:
            d.info["errorInformation"] = {"code": a.code, "message": a.message}
            if do_rb:
                rb = self._create_rollback_record(d, a)
                d.info["rollbackInfo"] = {"rollbackDeploymentId": rb.id,
                                          "rollbackMessage": f"Automatic rollback triggered: {a.message}"}
        self._set_status(d, a.status)
        if do_rb:
            self._rollback(d, rb)

    def _create_rollback_record(self, d, a):
        rb = Deployment(_new_deployment_id())
        rb.is_rollback = True
        rb.appspec = d.appspec
        rb.ctx = d.ctx
        rb.info = json.loads(json.dumps(d.info))
        for k in ("errorInformation", "rollbackInfo", "completeTime", "previousRevision"):
            rb.info.pop(k, None)
        rb.info.update({"deploymentId": rb.id, "creator": "codeDeployRollback", "status": "InProgress",
                        "createTime": _now(), "startTime": _now(),
                        "instanceTerminationWaitTimeStarted": False,
                        "rollbackInfo": {"rollbackTriggeringDeploymentId": d.id,
                                         "rollbackMessage": f"Rollback of {d.id}: {a.message}"}})
        if "previousRevision" in d.info:
            rb.info["revision"] = d.info["previousRevision"]
        rb.events = [{"lifecycleEventName": e, "status": "Pending"} for e in EVENTS]
        rb.target_status = "InProgress"
        self.deployments[rb.id] = rb
        self.order.append(rb.id)
        return rb

    def _rollback(self, d, rb):
        c = d.ctx
        ok = True
        try:
            if self.cfg.rollback_restore == "snapshot":
                self._restore_snapshot(c)
            else:
                self._reroute_own_changes(d)
            if c.get("promoted") and c.get("blue_ts"):
                self.ecs.update_service_primary_task_set(cluster=c["cluster"], service=c["service"],
                                                         primaryTaskSet=c["blue_ts"])
            if c.get("green_ts"):
                self._delete_task_set(c, c["green_ts"])
                self._deregister_all(c["green_tg"])
        except Exception as e:
            ok = False
            log.exception("rollback of %s failed", d.id)
            rb.info["errorInformation"] = {"code": "ECS_UPDATE_ERROR", "message": f"Rollback failed: {e}"}
        with self.lock:
            now = _now()
            for e in rb.events:
                e.update({"status": "Succeeded" if (e["lifecycleEventName"] == "AllowTraffic" and ok) else "Skipped",
                          "startTime": now, "endTime": now})
            rb.info["status"] = "Succeeded" if ok else "Failed"
            rb.info["completeTime"] = now
            rb.info["deploymentOverview"] = {"Pending": 0, "InProgress": 0, "Succeeded": 1 if ok else 0,
                                             "Failed": 0 if ok else 1, "Skipped": 0, "Ready": 0}
            rb.target_status = rb.info["status"]
            rb.target_updated = now
            self.cond.notify_all()

    def _restore_snapshot(self, c):
        """rollback_restore=snapshot: listeners and pre-existing rules as at deployment start."""
        for lst, snap in (c.get("snapshot") or {}).items():
            self.elb.modify_listener(ListenerArn=lst, DefaultActions=snap["default"])
            existing = {r["RuleArn"] for r in self.elb.describe_rules(ListenerArn=lst)["Rules"]}
            for rule_arn, actions in snap["rules"].items():
                if rule_arn in existing:
                    self.elb.modify_rule(RuleArn=rule_arn, Actions=actions)

    def _reroute_own_changes(self, d):
        """rollback_restore=own_changes (U5): undo only CodeDeploy's own traffic changes.
        AllowTraffic ran -> the forwards it rewrote go back to the original group at 100;
        it never ran -> production is left exactly as it is. AllowTestTraffic ran -> the
        test listener forwards to blue again."""
        c = d.ctx
        own = c.get("allow_traffic_changed") or {}
        if c.get("allow_traffic_ran"):
            self._rewrite_prod(d, 0, own.get("default", False), own.get("rules") or None)
        if c.get("test_routed") and c.get("test_listener"):
            self.elb.modify_listener(ListenerArn=c["test_listener"],
                                     DefaultActions=[{"Type": "forward", "TargetGroupArn": c["blue_tg"]}])

    # ------------------------------------------------------------- sandbox
    def _production_state(self, d):
        """The production listener as it is now, for a Failed hook report: the weights (percent, by
        target group name) of every forward that references the deployment's groups, per rule or
        default action, and every rule tagged hookline:managed (with its tags and groups)."""
        c = d.ctx
        if not c.get("prod_listener") or not c.get("blue_tg"):
            return {"error": "deployment not resolved yet (no listener or groups known)"}
        name = lambda arn: arn.split("/")[1] if "/" in arn else arn  # noqa: E731
        tgs = {c["blue_tg"], c.get("green_tg")} - {None}
        try:
            lst = c["prod_listener"]
            l = self.elb.describe_listeners(ListenerArns=[lst])["Listeners"][0]
            rules = [r for r in self.elb.describe_rules(ListenerArn=lst)["Rules"] if not r.get("IsDefault")]
            forwards = []
            for rule, prio, actions in [("default", "default", l["DefaultActions"])] + \
                    [(r["RuleArn"], int(r["Priority"]), r["Actions"]) for r in rules]:
                if any(action_target_groups(a) & tgs for a in actions):
                    forwards.append({"rule": rule, "priority": prio,
                                     "weights": {name(t): w for t, w in weight_shares(actions).items()}})
            tags = {}
            arns = [r["RuleArn"] for r in rules]
            for i in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
                for td in self.elb.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]:
                    tags[td["ResourceArn"]] = {t["Key"]: t.get("Value", "") for t in td.get("Tags") or []}
            managed = [{"arn": r["RuleArn"], "priority": int(r["Priority"]), "tags": tags[r["RuleArn"]],
                        "target_groups": sorted(name(t) for a in r["Actions"] for t in action_target_groups(a))}
                       for r in rules if "hookline:managed" in tags.get(r["RuleArn"], {})]
            return {"listener": lst, "blue": name(c["blue_tg"]), "green": name(c["green_tg"]) if c.get("green_tg") else None,
                    "forwards": forwards, "managed_rules": managed}
        except Exception as e:
            log.exception("reading production for a Failed report of %s", d.id)
            return {"error": f"could not read the production listener: {e}"}

    def snapshot_state(self):
        with self.lock:
            return {"report_seq": self.report_seq,
                    "deployments": [{"deploymentId": i, "status": self.deployments[i].info["status"],
                                     "creator": self.deployments[i].info["creator"]} for i in self.order],
                    "hooks": {i: [{"event": h["event"], "status": h["status"], "id": k,
                                   "reports": list(h.get("reports", [])), "closed": h["closed"],
                                   "report_log": json.loads(json.dumps(h.get("report_log", [])))}
                                  for k, h in self.deployments[i].hook_execs.items()] for i in self.order}}
