"""CodeDeploy ECS blue/green simulator (the only AWS emulation hookline writes).

Speaks CodeDeploy's JSON 1.1 protocol (the router hands it the operation name
and the decoded JSON body) and runs the ECS blue/green lifecycle against the
real moto ECS / ELBv2 / CloudWatch, invoking hooks through the router's Lambda
Invoke path. Three modules:

  sim/codedeploy/api.py        the API surface: request validation, op_* handlers,
                           response shapes (checked against botocore's model in
                           test_sim_spec.py)
  sim/codedeploy/lifecycle.py  the lifecycle engine: one thread per deployment
                           (events, hooks, traffic, waits, alarms, rollback)
  sim/codedeploy/common.py     constants, errors, SimConfig, Deployment, Registry
                           (the state both share)

Listener weights are read with alb.py's functions, shared with the router's
ALB emulation.

Lifecycle (AWS CodeDeploy user guide, "AppSpec 'hooks' section for an Amazon
ECS deployment" and "What happens during an Amazon ECS deployment"):

  BeforeInstall (hook) -> Install -> AfterInstall (hook) -> AllowTestTraffic
  -> AfterAllowTestTraffic (hook) -> BeforeAllowTraffic (hook) -> AllowTraffic
  -> AfterAllowTraffic (hook) -> green PRIMARY -> termination wait -> blue
  task set deleted -> Succeeded.

Every behaviour is a row of SOURCES below with its source: a quoted AWS sentence and its page,
an AWS sample's file, or "assumed"; an assumed behaviour is a switch (SimConfig.CHOICES in
sim/codedeploy/common.py, settable through /_sandbox/config and SANDBOX_<KEY>). The rows are the
table in README.md "Sources" (tests/sandbox/sources.py renders and checks it).

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

from sim.codedeploy.common import (  # noqa: F401 (SimConfig and the constants are re-exported)
    ACCOUNT, EVENTS, HOOK_EVENTS, PREDEFINED_CONFIGS, REGION, TERMINAL, CDError, Deployment, Registry,
    SimConfig, new_deployment_id, now)
from sim.codedeploy.lifecycle import LifecycleEngine

log = logging.getLogger("codedeploy-sim")


HOOKS_PAGE = "CodeDeploy user guide, AppSpec 'hooks' section (docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html)"
API = "CodeDeploy API reference"
SAM_SAFE = "aws/serverless-application-model docs/safe_lambda_deployments.rst"
ROLLBACK_PAGE = "CodeDeploy user guide, Redeploy and roll back a deployment with CodeDeploy (deployments-rollback-and-redeploy.html)"

# The CodeDeploy simulator's behaviours and their sources (tests/sandbox/README.md, "Sources").
SOURCES = [
    {"id": "CD-ORDER", "behaviour": "One lifecycle event at a time, in the order BeforeInstall, Install, AfterInstall, "
     "AllowTestTraffic, AfterAllowTestTraffic, BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic",
     "source": '"In an Amazon ECS deployment, event hooks run in the following order:" (with the run-order '
     'diagram: Start, BeforeInstall, Install, AfterInstall, AllowTestTraffic, AfterAllowTestTraffic, '
     'BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic, End) — ' + HOOKS_PAGE, "switch": None},
    {"id": "CD-INSTALL", "behaviour": "Install creates the replacement (green) task set behind the target group that "
     "is not behind the original one, one target per desired task registered in that group (made-up IPs: moto "
     "registers none); BeforeInstall runs before it exists",
     "source": '"BeforeInstall – Use to run tasks before the replacement task set is created. One target group is '
     'associated with the original task set." / "AfterInstall – Use to run tasks after the replacement task set is '
     'created and one of the target groups is associated with it." — ' + HOOKS_PAGE, "switch": None},
    {"id": "CD-TEST-TRAFFIC", "behaviour": "AllowTestTraffic points the test listener at green before "
     "AfterAllowTestTraffic; without a test listener it is Skipped",
     "source": '"AfterAllowTestTraffic – Use to run tasks after the test listener serves traffic to the replacement '
     'task set." — ' + HOOKS_PAGE + '; "testTrafficRoute: An optional path used by a load balancer to route test '
     'traffic after an Amazon ECS deployment." — ' + API + ", TargetGroupPairInfo", "switch": None},
    {"id": "CD-PROD-UNTOUCHED", "behaviour": "Production stays on blue until AllowTraffic (BeforeAllowTraffic sees "
     "blue 100 %)",
     "source": '"BeforeAllowTraffic – Use to run tasks after the second target group is associated with the '
     'replacement task set, but before traffic is shifted to the replacement task set." — ' + HOOKS_PAGE,
     "switch": None},
    {"id": "CD-HOOK-PAYLOAD", "behaviour": "A hook is invoked with {\"DeploymentId\", \"LifecycleEventHookExecutionId\"} "
     "(an opaque id per hook execution) and must report it with PutLifecycleEventHookExecutionStatus",
     "source": '"The function will receive a deploymentId and lifecycleEventHookExecutionId that should be used with a '
     'call to the CodeDeploy API to report success or failure." — ' + SAM_SAFE + "; sample hook reading "
     "event.DeploymentId / event.LifecycleEventHookExecutionId: aws/serverless-application-model "
     "examples/2016-10-31/lambda_safe_deployments/src/preTrafficHook.js", "switch": None},
    {"id": "CD-HOOK-ARN", "behaviour": "A hook function named by ARN in the AppSpec is invoked by that ARN (the "
     "router maps it to the bare function name)",
     "source": '"The name or ARN of the Lambda function, version, or alias." — Lambda API reference, Invoke '
     '(FunctionName)', "switch": None},
    {"id": "CD-HOOK-ONCE", "behaviour": "Each hook named in the AppSpec is invoked once per deployment (no retry by "
     "CodeDeploy; Lambda's own async retries are the router's)",
     "source": '"Each hook is executed once per deployment." — ' + HOOKS_PAGE, "switch": None},
    {"id": "CD-HOOK-INVOKE", "behaviour": "The hook invoke is asynchronous (Event, 202; Lambda's retries, "
     "duplicates and dead-letter queue apply) — or synchronous (RequestResponse)",
     "source": "assumed", "switch": "hook_invocation"},
    {"id": "CD-ABSENT-HOOK", "behaviour": "A hook event the AppSpec does not name runs nothing and shows Succeeded "
     "(start = end) — or Skipped",
     "source": "assumed", "switch": "absent_hook_event_status"},
    {"id": "CD-REPORT", "behaviour": "PutLifecycleEventHookExecutionStatus takes Succeeded or Failed; Failed fails "
     "the event and the deployment (errorInformation.code HOOK_EXECUTION_FAILURE)",
     "source": '"only Succeeded and Failed can be passed successfully in your API call." — ' + API
     + ', PutLifecycleEventHookExecutionStatus; "The result of a Lambda function that validates a deployment '
     'lifecycle event." — ibid.; ErrorCode enum HOOK_EXECUTION_FAILURE — botocore codedeploy service-2.json',
     "switch": None},
    {"id": "CD-REPORT-ONCE", "behaviour": "The first report of a hook execution is accepted; every later one answers "
     "LifecycleEventAlreadyCompletedException and changes nothing",
     "source": '"An attempt to return the status of an already completed lifecycle event occurred." — ' + API
     + ", LifecycleEventAlreadyCompletedException (an error of PutLifecycleEventHookExecutionStatus)",
     "switch": None},
    {"id": "CD-REPORT-AFTER-END", "behaviour": "A report for a hook still waiting when its deployment ended "
     "(stopped, failed) answers LifecycleEventAlreadyCompletedException — or 200 with no effect",
     "source": "assumed", "switch": "report_after_end"},
    {"id": "CD-REPORT-ID", "behaviour": "A report with an execution id the deployment never issued answers "
     "InvalidLifecycleEventHookExecutionIdException",
     "source": '"A lifecycle event hook is invalid." — ' + API + ", InvalidLifecycleEventHookExecutionIdException",
     "switch": None},
    {"id": "CD-HOOK-TIMEOUT", "behaviour": "A hook not reported within the hook timeout fails the deployment "
     "(errorInformation.code TIMEOUT, event diagnostics ScriptTimedOut); 1 hour by default (hook_timeout_s, a time "
     "scale: the e2e suite uses 90 s)",
     "source": '"timeout: The number of seconds to allow the script to execute before it is considered to have '
     'failed. The default is 3600 seconds (1 hour)." — ' + HOOKS_PAGE + " (the EC2/On-Premises hooks' timeout; "
     "no page gives the ECS hook's; hookline budgets within it)", "switch": None},
    {"id": "CD-CANARY", "behaviour": "AllowTraffic follows the deployment configuration: AllAtOnce, TimeBasedCanary "
     "(two increments), TimeBasedLinear (equal increments), predefined CodeDeployDefault.ECS* and custom configs",
     "source": '"A configuration that shifts traffic from one version of a Lambda function or Amazon ECS task set to '
     'another in two increments." — ' + API + ', TimeBasedCanary; "... in equal increments, with an equal number of '
     'minutes between each increment." — ' + API + ", TimeBasedLinear", "switch": None},
    {"id": "CD-ALLOW-SCOPE", "behaviour": "AllowTraffic rewrites only the production listener's default action "
     "forward to the pair — or the default action and every rule forwarding to it; a weighted ForwardConfig "
     "keeps the old group at weight 0",
     "source": "assumed", "switch": "allow_traffic_scope"},
    {"id": "CD-PROD-LISTENER", "behaviour": "Production traffic is rerouted on the one listener the deployment "
     "group names (prodTrafficRoute.listenerArns)",
     "source": '"listenerArns: The Amazon Resource Name (ARN) of one listener. The listener identifies the route '
     'between a target group and a load balancer. This is an array of strings with a maximum size of one." — '
     + API + ", TrafficRoute", "switch": None},
    {"id": "CD-READY-WAIT", "behaviour": "deploymentReadyOption STOP_DEPLOYMENT: status Ready before rerouting until "
     "ContinueDeployment(READY_WAIT); the wait timing out ends Stopped (green removed, production never moved)",
     "source": '"STOP_DEPLOYMENT: Do not register new instances with a load balancer unless traffic rerouting is '
     'started using ContinueDeployment. If traffic rerouting is not started before the end of the specified wait '
     'period, the deployment status is changed to Stopped." — ' + API + ", DeploymentReadyOption", "switch": None},
    {"id": "CD-TERMINATION-WAIT", "behaviour": "After AfterAllowTraffic green becomes PRIMARY; the blue task set is "
     "deleted after terminationWaitTimeInMinutes (ContinueDeployment TERMINATION_WAIT ends the wait); "
     "instanceTerminationWaitTimeStarted true meanwhile",
     "source": '"For an Amazon ECS deployment, the number of minutes before deleting the original (blue) task set." '
     '— ' + API + ', BlueInstanceTerminationOption; "TERMINATION_WAIT indicates that the traffic is shifted, but '
     'the original target is not terminated." — ' + API + ', ContinueDeployment; "\'true\' as soon as the '
     'termination wait period starts." — ' + API + ", DeploymentInfo.instanceTerminationWaitTimeStarted",
     "switch": None},
    {"id": "CD-TERMINATION-STATUS", "behaviour": "The deployment stays InProgress during the termination wait and is "
     "Succeeded once blue is deleted — or Succeeded as the wait starts",
     "source": "assumed", "switch": "termination_wait_status"},
    {"id": "CD-ROLLBACK-WHEN", "behaviour": "A failure rolls back when the auto-rollback configuration is enabled for "
     "DEPLOYMENT_FAILURE (DEPLOYMENT_STOP_ON_ALARM for an alarm); without it green and the traffic stay as they "
     "are (Failed); before Install nothing is rolled back",
     "source": '"You can configure a deployment group or deployment to automatically roll back when a deployment '
     'fails or when a monitoring threshold you specify is met." — ' + ROLLBACK_PAGE + '; "BeforeInstall ... A '
     'rollback is not possible at this point." — ' + HOOKS_PAGE, "switch": None},
    {"id": "CD-ROLLBACK-RECORD", "behaviour": "A rollback is a new deployment (own id, creator codeDeployRollback, "
     "rollbackInfo both ways)",
     "source": '"These rolled-back deployments are technically new deployments, with new deployment IDs, rather '
     'than restored versions of a previous deployment." — ' + ROLLBACK_PAGE + '; "codeDeployRollback: A rollback '
     'process created the deployment." — ' + API + ", DeploymentInfo.creator", "switch": None},
    {"id": "CD-ROLLBACK-RESTORE", "behaviour": "A rollback reroutes only what CodeDeploy's own AllowTraffic / "
     "AllowTestTraffic changed (production left as it is when AllowTraffic never ran) — or restores the "
     "listeners as they were at deployment start; blue PRIMARY again, green task set deleted",
     "source": "assumed", "switch": "rollback_restore"},
    {"id": "CD-ROLLBACK-HOOKS", "behaviour": "A rollback deployment invokes no hooks (its events Skipped, "
     "AllowTraffic Succeeded) — or invokes the AppSpec's BeforeAllowTraffic / AfterAllowTraffic hooks around "
     "its rerouting",
     "source": "assumed", "switch": "rollback_runs_hooks"},
    {"id": "CD-ALARM", "behaviour": "CloudWatch alarms of the group (or overrideAlarmConfiguration) are polled while "
     "the deployment runs; one in ALARM stops it (ALARM_ACTIVE, DEPLOYMENT_STOP_ON_ALARM); a failed poll stops "
     "it unless ignorePollAlarmFailure",
     "source": '"false: The deployment stops if alarm status information can\'t be retrieved from Amazon '
     'CloudWatch." — ' + API + ', AlarmConfiguration.ignorePollAlarmFailure; "The event type or types that '
     'trigger a rollback. Valid values are DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, or '
     'DEPLOYMENT_STOP_ON_REQUEST." — CloudFormation, AWS::CodeDeploy::DeploymentGroup AutoRollbackConfiguration',
     "switch": None},
    {"id": "CD-STOP", "behaviour": "StopDeployment stops an active deployment (MANUAL_STOP, status Stopped, open "
     "hooks closed); autoRollbackEnabled true rolls back; a completed deployment answers "
     "DeploymentAlreadyCompletedException; the answer is Pending while a rollback runs, else Succeeded",
     "source": '"Indicates, when a deployment is stopped, whether instances that have been updated should be rolled '
     'back to the previous version of the application revision." / "Pending: The stop operation is pending. '
     'Succeeded: The stop operation was successful." / "DeploymentAlreadyCompletedException: The deployment is '
     'already complete." — ' + API + ", StopDeployment", "switch": None},
    {"id": "CD-STOP-DEFAULT", "behaviour": "StopDeployment without autoRollbackEnabled rolls back when the "
     "deployment's auto-rollback configuration lists DEPLOYMENT_STOP_ON_REQUEST — or never",
     "source": "assumed", "switch": "stop_rollback_default"},
    {"id": "CD-LIMIT", "behaviour": "A second CreateDeployment for a group with an active deployment answers "
     "DeploymentLimitExceededException",
     "source": '"The number of allowed deployments was exceeded." — ' + API
     + ", DeploymentLimitExceededException (an error of CreateDeployment)", "switch": None},
    {"id": "CD-APPSPEC-CHECK", "behaviour": "CreateDeployment refuses content that is not an ECS AppSpec with "
     "InvalidRevisionException — or the deployment fails once it runs (INVALID_REVISION)",
     "source": "assumed", "switch": "appspec_validation"},
    {"id": "CD-REVISION", "behaviour": "GetDeployment shows revision.appSpecContent with sha256 only; "
     "GetApplicationRevision returns the content",
     "source": '"sha256: The SHA256 hash value of the revision content." — ' + API + ", AppSpecContent", "switch": None},
    {"id": "CD-TARGET", "behaviour": "One ECS target per deployment, id <cluster>:<service>; GetDeploymentTarget "
     "before it started answers DeploymentNotStartedException; its lifecycleEvents carry status, startTime, "
     "endTime; taskSetsInfo labels Blue/Green with live trafficWeight and target group",
     "source": '"The target list of both types of deployments must have exactly one item." — ' + API
     + ', DeploymentTargetListSizeExceededException; "The specified deployment has not started." — ' + API
     + ', DeploymentNotStartedException; "A label that identifies whether the ECS task set is an original target '
     '(BLUE) or a replacement target (GREEN)." / "The percentage of traffic served by this task set." — ' + API
     + ", ECSTaskSet", "switch": None},
    {"id": "CD-TASKSET-ID", "behaviour": "taskSetsInfo[].identifer is the ECS task set id (ecs-svc/...) — or its ARN",
     "source": "assumed", "switch": "task_set_identifier"},
    {"id": "CD-LIST-ORDER", "behaviour": "ListDeployments returns the ids oldest first — or newest first",
     "source": "assumed", "switch": "list_deployments_order"},
    {"id": "CD-SHAPES", "behaviour": "Every answer's members, types, enums and errors follow botocore's CodeDeploy "
     "model (test_sim_spec.py); anything else answers UnknownOperationException",
     "source": "sample: boto/botocore/botocore/data/codedeploy/2014-10-06/service-2.json", "switch": None},
]


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
        try:
            appspec = self._parse_appspec(content)
            invalid = None
        except CDError as e:
            # CD-APPSPEC-CHECK: refused by CreateDeployment (at_create, default) or by the
            # deployment once it runs (at_deployment)
            if self.cfg.appspec_validation == "at_create":
                raise
            appspec, invalid = None, e.message
        cfg_name = b.get("deploymentConfigName") or g.get("deploymentConfigName") or "CodeDeployDefault.ECSAllAtOnce"
        self.reg.deployment_config(cfg_name)
        for did in self.reg.order:
            d = self.reg.deployments[did]
            if (d.info["applicationName"], d.info["deploymentGroupName"]) == (app["applicationName"], g["deploymentGroupName"]) \
                    and (d.info["status"] not in TERMINAL or d.ctx.get("terminating_after_success")):
                # CD-LIMIT: "The number of allowed deployments was exceeded."
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
        if invalid:
            d.ctx["invalid_revision"] = f"The AppSpec content is not a valid ECS AppSpec: {invalid}"
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
        # CD-LIST-ORDER: the API reference says "A list of deployment IDs." and no order
        order = self.reg.order if self.cfg.list_deployments_order == "oldest_first" else list(reversed(self.reg.order))
        for did in order:
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
            if h["status"] is None and h["closed"] and d.info["status"] in TERMINAL \
                    and self.cfg.report_after_end == "accepted":
                # CD-REPORT-AFTER-END=accepted: answered 200, nothing changes
                return {"lifecycleEventHookExecutionId": eid}
            # CD-REPORT-ONCE: "An attempt to return the status of an already completed lifecycle
            # event occurred." (API reference, LifecycleEventAlreadyCompletedException)
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
            # CD-STOP-DEFAULT: the flag omitted -> the deployment's auto-rollback configuration
            # (group_config) or no rollback
            arc = d.info.get("autoRollbackConfiguration") or {}
            are = self.cfg.stop_rollback_default == "group_config" and bool(arc.get("enabled")) \
                and "DEPLOYMENT_STOP_ON_REQUEST" in (arc.get("events") or [])
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
