"""CodeDeploy ECS blue/green simulator (the only AWS emulation hookline writes).

Speaks CodeDeploy's JSON 1.1 protocol (the router hands it the operation name
and the decoded JSON body) and runs the ECS blue/green lifecycle against the
real moto ECS / ELBv2 / CloudWatch, invoking hooks through the router's Lambda
Invoke path. Three modules:

  codedeploy_sim.py        the API surface: request validation, op_* handlers,
                           response shapes (checked against botocore's model in
                           test_sim_spec.py)
  codedeploy_lifecycle.py  the lifecycle engine: one thread per deployment
                           (events, hooks, traffic, waits, alarms, rollback)
  codedeploy_common.py     constants, errors, SimConfig, Deployment, Registry
                           (the state both share)

Listener weights are read with alb.py's functions, shared with the router's
ALB emulation.

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
import hashlib
import json
import logging
import uuid

import yaml

from codedeploy_common import (  # noqa: F401 (SimConfig and the constants are re-exported)
    ACCOUNT, EVENTS, HOOK_EVENTS, PREDEFINED_CONFIGS, REGION, TERMINAL, CDError, Deployment, Registry,
    SimConfig, new_deployment_id, now)
from codedeploy_lifecycle import LifecycleEngine

log = logging.getLogger("codedeploy-sim")


class CodeDeploySim:
    """The API surface: request validation, the op_* handlers and the response shapes
    (checked against botocore's model in test_sim_spec.py). Deployments run in the
    LifecycleEngine."""

    def __init__(self, moto_url, router_url, config=None):
        self.cfg = config or SimConfig()
        self.reg = Registry()
        self.engine = LifecycleEngine(self.reg, moto_url, router_url, self.cfg)

    @property
    def router_url(self):
        return self.engine.router_url

    @router_url.setter
    def router_url(self, url):   # the router learns its port after binding
        self.engine.router_url = url


    def handle(self, op, body):
        """Returns (status, dict). Errors -> 400 {"__type", "message"}."""
        fn = getattr(self, "op_" + op, None)
        if fn is None:
            return 400, {"__type": "UnknownOperationException",
                         "message": f"Operation {op} is not supported by the hookline CodeDeploy simulator"}
        try:
            with self.reg.lock:
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
        if name in self.reg.apps:
            raise CDError("ApplicationAlreadyExistsException", f"The application {name} already exists with the IAM user or AWS account.")
        platform = b.get("computePlatform", "Server")
        if platform not in ("Server", "Lambda", "ECS"):
            raise CDError("InvalidComputePlatformException", f"Invalid compute platform {platform}")
        self.reg.apps[name] = {"applicationId": str(uuid.uuid4()), "applicationName": name,
                           "createTime": now(), "linkedToGitHub": False, "computePlatform": platform}
        return {"applicationId": self.reg.apps[name]["applicationId"]}


    def _app(self, name):
        if not name:
            raise CDError("ApplicationNameRequiredException", "The minimum number of required application names was not specified.")
        if name not in self.reg.apps:
            raise CDError("ApplicationDoesNotExistException", f"The application {name} does not exist with the IAM user or AWS account.")
        return self.reg.apps[name]


    def op_GetApplication(self, b):
        return {"application": dict(self._app(b.get("applicationName")))}


    def op_BatchGetApplications(self, b):
        return {"applicationsInfo": [dict(self._app(n)) for n in b.get("applicationNames", [])]}


    def op_ListApplications(self, b):
        return {"applications": sorted(self.reg.apps)}


    def op_DeleteApplication(self, b):
        name = b.get("applicationName")
        self.reg.apps.pop(name, None)
        for k in [k for k in self.reg.groups if k[0] == name]:
            del self.reg.groups[k]
        return {}

    # ---- deployment configs



    def op_CreateDeploymentConfig(self, b):
        name = b.get("deploymentConfigName")
        if not name:
            raise CDError("DeploymentConfigNameRequiredException", "Deployment config name is required")
        if name in self.reg.configs or name in PREDEFINED_CONFIGS:
            raise CDError("DeploymentConfigAlreadyExistsException", f"Deployment config {name} already exists")
        trc = b.get("trafficRoutingConfig") or {"type": "AllAtOnce"}
        if trc.get("type") not in ("AllAtOnce", "TimeBasedCanary", "TimeBasedLinear"):
            raise CDError("InvalidTrafficRoutingConfigurationException", "Invalid traffic routing configuration type")
        cid = str(uuid.uuid4())
        self.reg.configs[name] = {"deploymentConfigName": name, "deploymentConfigId": cid,
                              "computePlatform": b.get("computePlatform", "ECS"), "createTime": now(),
                              "trafficRoutingConfig": trc}
        return {"deploymentConfigId": cid}


    def op_GetDeploymentConfig(self, b):
        return {"deploymentConfigInfo": dict(self.reg.deployment_config(b.get("deploymentConfigName")))}

    # ---- deployment groups


    def op_CreateDeploymentGroup(self, b):
        app = self._app(b.get("applicationName"))
        name = b.get("deploymentGroupName")
        if not name:
            raise CDError("DeploymentGroupNameRequiredException", "The deployment group name was not specified.")
        key = (app["applicationName"], name)
        if key in self.reg.groups:
            raise CDError("DeploymentGroupAlreadyExistsException", f"The deployment group {name} already exists with the IAM user or AWS account.")
        if not b.get("serviceRoleArn"):
            raise CDError("RoleRequiredException", "The role ID was not specified.")
        cfg_name = b.get("deploymentConfigName") or "CodeDeployDefault.ECSAllAtOnce"
        self.reg.deployment_config(cfg_name)
        if app["computePlatform"] == "ECS":
            self._validate_ecs_group(b, name)
        info = {k: v for k, v in b.items() if k not in ("tags",)}
        info.update({"deploymentGroupId": str(uuid.uuid4()), "deploymentConfigName": cfg_name,
                     "computePlatform": app["computePlatform"]})
        info.setdefault("autoRollbackConfiguration", {"enabled": False})
        info.setdefault("alarmConfiguration", {"enabled": False, "ignorePollAlarmFailure": False, "alarms": []})
        self.reg.groups[key] = info
        return {"deploymentGroupId": info["deploymentGroupId"]}


    def _validate_ecs_group(self, b, name):
        style = b.get("deploymentStyle") or {}
        if style.get("deploymentType") != "BLUE_GREEN" or style.get("deploymentOption") != "WITH_TRAFFIC_CONTROL":
            raise CDError("InvalidDeploymentStyleException",
                          "For ECS deployment group, deploymentType must be BLUE_GREEN and deploymentOption must be WITH_TRAFFIC_CONTROL")
        svcs = b.get("ecsServices") or []
        if len(svcs) != 1 or not svcs[0].get("serviceName") or not svcs[0].get("clusterName"):
            raise CDError("InvalidECSServiceException", "Exactly one ECS service (serviceName, clusterName) is required")
        for (a, g), other in self.reg.groups.items():
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
        g = self.reg.groups.get((app_name, name))
        if g is None:
            raise CDError("DeploymentGroupDoesNotExistException", f"The deployment group {name} does not exist with the IAM user or AWS account.")
        return g


    def op_GetDeploymentGroup(self, b):
        g = self._group(b.get("applicationName"), b.get("deploymentGroupName"))
        return {"deploymentGroupInfo": json.loads(json.dumps(g))}


    def op_ListDeploymentGroups(self, b):
        self._app(b.get("applicationName"))
        return {"applicationName": b["applicationName"],
                "deploymentGroups": sorted(g for a, g in self.reg.groups if a == b["applicationName"])}


    def op_UpdateDeploymentGroup(self, b):
        g = self._group(b.get("applicationName"), b.get("currentDeploymentGroupName"))
        for k, v in b.items():
            if k in ("applicationName", "currentDeploymentGroupName", "newDeploymentGroupName"):
                continue
            g[k] = v
        if b.get("newDeploymentGroupName"):
            self.reg.groups.pop((b["applicationName"], g["deploymentGroupName"]))
            g["deploymentGroupName"] = b["newDeploymentGroupName"]
            self.reg.groups[(b["applicationName"], g["deploymentGroupName"])] = g
        return {"hooksNotCleanedUp": []}


    def op_DeleteDeploymentGroup(self, b):
        self._group(b.get("applicationName"), b.get("deploymentGroupName"))
        self.reg.groups.pop((b["applicationName"], b["deploymentGroupName"]))
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
        self.reg.deployment_config(cfg_name)
        for did in self.reg.order:
            d = self.reg.deployments[did]
            if (d.info["applicationName"], d.info["deploymentGroupName"]) == (app["applicationName"], g["deploymentGroupName"]) \
                    and d.info["status"] not in TERMINAL:
                raise CDError("DeploymentLimitExceededException",
                              f"The Deployment Group '{g['deploymentGroupName']}' already has an active Deployment '{did}'")
        sha = hashlib.sha256(content.encode()).hexdigest()
        t_now = now()
        r = self.reg.revisions.setdefault((app["applicationName"], sha), {
            "content": content, "registerTime": t_now, "firstUsedTime": t_now, "deploymentGroups": []})
        r["lastUsedTime"] = t_now
        if g["deploymentGroupName"] not in r["deploymentGroups"]:
            r["deploymentGroups"].append(g["deploymentGroupName"])
        did = new_deployment_id()
        d = Deployment(did)
        d.appspec = appspec
        arc = b.get("autoRollbackConfiguration") or g.get("autoRollbackConfiguration") or {"enabled": False}
        prev = (g.get("lastSuccessfulDeployment") or {}).get("deploymentId")
        d.info = {
            "applicationName": app["applicationName"], "deploymentGroupName": g["deploymentGroupName"],
            "deploymentConfigName": cfg_name, "deploymentId": did, "status": "Created",
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha}},
            "createTime": t_now, "creator": "user", "description": b.get("description"),
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
        if prev and prev in self.reg.deployments:
            d.info["previousRevision"] = self.reg.deployments[prev].info["revision"]
        if d.info["description"] is None:
            del d.info["description"]
        d.events = [{"lifecycleEventName": e, "status": "Pending"} for e in EVENTS]
        self.reg.add(d)
        g["lastAttemptedDeployment"] = {"deploymentId": did, "status": "Created", "createTime": t_now}
        self.engine.start(d)
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
        d = self.reg.deployments.get(did)
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
        return {"deploymentsInfo": [self._info(self.reg.deployments[i]) for i in ids if i in self.reg.deployments]}


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
        for did in reversed(self.reg.order):
            i = self.reg.deployments[did].info
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
        r = self.reg.revisions.get((app["applicationName"], sha))
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
            "taskSetsInfo": self.engine.task_sets_info(d)}}


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
        self.reg.report_seq += 1
        rec = {"seq": self.reg.report_seq, "status": st, "time": now(), "accepted": accepted}
        if st == "Failed":
            rec["production"] = self.engine.production_state(d)
        h.setdefault("report_log", []).append(rec)
        if not accepted:
            raise CDError("LifecycleEventAlreadyCompletedException",
                          f"The lifecycle event {h['event']} of deployment {did} has already completed.")
        h["status"] = st
        self.reg.cond.notify_all()
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
        self.reg.cond.notify_all()
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
        self.reg.cond.notify_all()
        return {}


    def snapshot_state(self):
        with self.reg.lock:
            return {"report_seq": self.reg.report_seq,
                    "deployments": [{"deploymentId": i, "status": self.reg.deployments[i].info["status"],
                                     "creator": self.reg.deployments[i].info["creator"]} for i in self.reg.order],
                    "hooks": {i: [{"event": h["event"], "status": h["status"], "id": k,
                                   "reports": list(h.get("reports", [])), "closed": h["closed"],
                                   "report_log": json.loads(json.dumps(h.get("report_log", [])))}
                                  for k, h in self.reg.deployments[i].hook_execs.items()] for i in self.reg.order}}
