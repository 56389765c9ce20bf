"""ECS-native blue/green service-deployment simulator (deployment controller ``ECS``,
``deploymentConfiguration.strategy`` ``BLUE_GREEN``), the sandbox's second AWS emulation.

moto 5.2.5 stores ECS services but drops ``deploymentConfiguration`` and has no service
deployments; this simulator owns what moto lacks. Three modules, as for CodeDeploy:

  sim/ecs/api.py        the API surface: which ECS requests it takes (``wants``), request
                    validation, op_* handlers, response shapes (checked against botocore's
                    ``ecs`` model in test_ecs_sim.py)
  sim/ecs/lifecycle.py  the lifecycle engine: one thread per service deployment (stages, hooks,
                    listener rules, targets, bake time, stop, rollback)
  sim/ecs/common.py     constants, errors, EcsConfig, the records and the Registry

The router sends it: ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment; CreateService whose controller is ECS (the default) with strategy
BLUE_GREEN; UpdateService on a service it owns (or one that sets strategy BLUE_GREEN). Those two
are forwarded to moto as well (so moto's DescribeServices, ListServices, ... keep working), and
the router patches ``deploymentConfiguration``, ``currentServiceDeployment`` and
``currentServiceRevisions`` into moto's DescribeServices answers for the simulator's services.

Sources (ECS developer guide): deployment-lifecycle-hooks ("Lifecycle hooks for Amazon ECS service
deployments": stages, hookStatus, rollback re-runs the PRODUCTION_TRAFFIC_SHIFT and
TEST_TRAFFIC_SHIFT hooks, payloads), lambda-lifecycle-hooks (hookStatus / callBackDelay default 30 s /
hookDetails passed back; a function that fails or answers no valid hookStatus rolls back),
blue-green-deployment-how-it-works, stop-service-deployment (PENDING / IN_PROGRESS ->
ROLLBACK_REQUESTED); ECS API reference: CreateService, UpdateService, DescribeServiceDeployments,
ListServiceDeployments, DescribeServiceRevisions, StopServiceDeployment (stopType ROLLBACK),
DeploymentLifecycleHookTimeoutConfiguration (timeoutInMinutes default 1440, action default
ROLLBACK); containers-roadmap #2853 (ECS does not read the production rule's live weights before
it shifts).

Lifecycle: RECONCILE_SERVICE -> PRE_SCALE_UP (hooks) -> SCALE_UP (green targets registered) ->
POST_SCALE_UP (hooks) -> TEST_TRAFFIC_SHIFT (test rule forwards green 100, hooks) ->
POST_TEST_TRAFFIC_SHIFT (hooks) -> PRODUCTION_TRAFFIC_SHIFT (PRE_PRODUCTION_TRAFFIC_SHIFT hooks,
production rule forwards green 100 without reading it first, hooks; LINEAR / CANARY: both hooks at every
step, the step bakes in between) -> POST_PRODUCTION_TRAFFIC_SHIFT
(hooks) -> BAKE_TIME (bakeTimeInMinutes) -> CLEAN_UP (blue targets deregistered, blue revision
inactive) -> SUCCESSFUL. A FAILED hook (or a function error, an invalid answer, a hook timeout
with action ROLLBACK, StopServiceDeployment ROLLBACK) -> ROLLBACK_REQUESTED ->
ROLLBACK_IN_PROGRESS: PRODUCTION_TRAFFIC_SHIFT (production rule back to blue, its hooks invoked
with green weight 0), TEST_TRAFFIC_SHIFT (same for the test rule), CLEAN_UP (green targets
deregistered, moto's service back on the blue task definition) -> ROLLBACK_SUCCESSFUL (or
ROLLBACK_FAILED when a rollback-stage hook fails). Which target group is blue comes from the
source service revision; green is the other of ``targetGroupArn`` /
``advancedConfiguration.alternateTargetGroupArn``, so the groups swap roles every deployment.

Every behaviour and its source is a row of ``SOURCES`` below (and of the table in README.md,
"Sources"); an "assumed" one is a switch (a ``ecs_*`` config key, first choice = default).

Knobs (time scale, not AWS behaviour; env var for up.sh, same key via POST /_sandbox/config):
``ecs_minute_s`` (SANDBOX_ECS_MINUTE_S, else SANDBOX_MINUTE_S, else 60: one "minute" of
bakeTimeInMinutes / timeoutInMinutes), ``ecs_callback_scale`` (SANDBOX_ECS_CALLBACK_SCALE, 1.0:
factor on callBackDelay seconds), ``ecs_callback_min_s`` (SANDBOX_ECS_CALLBACK_MIN_S, 0.1: floor of a
scaled delay). Switches: ``ecs_rollback_restore``, ``ecs_payload_weights``, ``ecs_create_bake``,
``ecs_execution_id``, ``ecs_update_while_active``, ``ecs_create_rollback``, ``ecs_list_order``,
``ecs_deployment_alarms``, ``ecs_step_bake``, ``ecs_step_stage`` (SANDBOX_ECS_<KEY> env vars, see EcsConfig).
"""
import json
import logging

import boto3
from botocore.config import Config as BotoConfig

from sim.ecs.common import (ACCOUNT, ACTIVE, HOOK_STAGES, REGION, STRATEGIES, TERMINAL, Deployment, EcsConfig, EcsError,
                        Registry, Revision, Service, new_id, now)
from sim.ecs.lifecycle import EcsLifecycleEngine

log = logging.getLogger("ecs-sim")

HOOK_PAGE = "ECS API reference, DeploymentLifecycleHook (lifecycleStages)"
LAMBDA_PAGE = "ECS developer guide, Lambda hooks for Amazon ECS service deployments (lambda-lifecycle-hooks)"
LIFECYCLE_PAGE = "ECS developer guide, Lifecycle hooks for Amazon ECS service deployments (deployment-lifecycle-hooks)"
STOP_PAGE = "ECS developer guide, Stopping Amazon ECS service deployments (stop-service-deployment)"
SAMPLE = "sample: aws-samples/sample-amazon-ecs-blue-green-deployment-patterns/ecs-bluegreen-lifecycle-hooks/src/canaryFunction/app.py"
# One row per behaviour of this simulator (format: tests/sandbox/README.md, "Sources").
SOURCES = [
    {"id": "ECS-1", "behaviour": "stages run in the documented order RECONCILE_SERVICE .. CLEAN_UP; PRE_SCALE_UP and "
     "POST_SCALE_UP leave production on blue with no test traffic",
     "source": '"POST_SCALE_UP: The green service revision has started. The blue service revision is handling 100% '
     'of the production traffic. There is no test traffic." — ' + HOOK_PAGE, "switch": None},
    {"id": "ECS-2", "behaviour": "DescribeServiceRevisions: loadBalancers is the service's configured load balancer "
     "(unswapped, the same on every revision); resolvedConfiguration.loadBalancers names the group the revision "
     "serves, for an active revision only",
     "source": '"The resolved configuration for a service revision, which contains the actual resources your service '
     'revision uses, such as which target groups serve traffic." — ECS API reference, ResolvedConfiguration; '
     '"A resolvedConfiguration key ... is only available for an active service revision" — ' + SAMPLE,
     "switch": None},
    {"id": "ECS-3", "behaviour": "hookStatus SUCCEEDED goes on, FAILED rolls back, IN_PROGRESS re-invokes after "
     "callBackDelay (default 30 s)",
     "source": '"IN_PROGRESS – Amazon ECS invokes the function again after a delay. By default, the delay is 30 '
     'seconds." — ' + LAMBDA_PAGE, "switch": None},
    {"id": "ECS-4", "behaviour": "one synchronous invoke per call; a function error, a non-200 answer or no valid "
     "hookStatus rolls back (no retry)",
     "source": '"When Amazon ECS invokes your hook, your function must return a JSON object containing a hookStatus '
     'field. ... If your function doesn\'t return a valid hookStatus, or if it fails, Amazon ECS rolls back the '
     'deployment." — ' + LAMBDA_PAGE, "switch": None},
    {"id": "ECS-5", "behaviour": "every invocation carries a fresh executionId (re-invocations after IN_PROGRESS "
     "included); stable: one per hook and stage", "source": "assumed", "switch": "ecs_execution_id"},
    {"id": "ECS-6", "behaviour": "configured hookDetails are passed on every invocation, and an IN_PROGRESS answer's "
     "hookDetails on the next one (merged over the configured ones)",
     "source": '"Amazon ECS passes this data to your function on every invocation." — ' + LIFECYCLE_PAGE,
     "switch": None},
    {"id": "ECS-7", "behaviour": "RECONCILE_SERVICE is entered but its hooks never run (one ACTIVE revision at a "
     "time, ECS-13)",
     "source": '"RECONCILE_SERVICE: The reconciliation stage that only happens when you start a new service '
     'deployment with more than 1 service revision in an ACTIVE state." — ' + HOOK_PAGE, "switch": None},
    {"id": "ECS-8", "behaviour": "the payload's executionDetails.testTrafficWeights / productionTrafficWeights: empty "
     "(AWS's launch post shows them empty at POST_TEST_TRAFFIC_SHIFT); filled: ECS's requested weights "
     "{revision ARN: percent}. hookline must not rely on them", "source": "assumed", "switch": "ecs_payload_weights"},
    {"id": "ECS-9", "behaviour": "a traffic-shift stage rewrites its rule first, its hooks run after; POST_* hooks "
     "see the shift complete; PRE_PRODUCTION_TRAFFIC_SHIFT hooks run before the production rule moves",
     "source": '"TEST_TRAFFIC_SHIFT: ... The green service revision is migrating from 0% to 100% of test traffic." / '
     '"POST_TEST_TRAFFIC_SHIFT: The test traffic shift is complete. The green service revision handles 100% of the '
     'test traffic." — ' + HOOK_PAGE, "switch": None},
    {"id": "ECS-10", "behaviour": "the production rule is rewritten to green (100, or each LINEAR / CANARY step) "
     "without reading its live weights (whatever hookline set there is overwritten); rules are written as a weighted "
     "ForwardConfig naming both groups",
     "source": '"With ECS native blue/green, the deployment controller manages traffic by adjusting the weights on a '
     'production listener rule that forwards across two target groups" / "have the deployment controller validate '
     'the *current* production listener-rule weighting before it shifts traffic" (a feature request: today it does '
     'not) — aws/containers-roadmap issue #2853', "switch": None},
    {"id": "ECS-11", "behaviour": "a rollback re-invokes the PRODUCTION_TRAFFIC_SHIFT then TEST_TRAFFIC_SHIFT hooks; "
     "a rollback-stage hook that fails ends ROLLBACK_FAILED after the rules were restored",
     "source": '"When a rollback occurs, Amazon ECS runs lifecycle hooks for the following lifecycle stages: '
     'PRODUCTION_TRAFFIC_SHIFT, TEST_TRAFFIC_SHIFT" — ' + LIFECYCLE_PAGE, "switch": None},
    {"id": "ECS-12", "behaviour": "what a rollback restores: own_changes puts back only the rules ECS moved; full "
     "sets both rules to blue 100", "source": "assumed", "switch": "ecs_rollback_restore"},
    {"id": "ECS-13", "behaviour": "UpdateService that needs a new deployment while one is active: supersede: the "
     "newest active deployment is stopped with a rollback (ROLLBACK_REQUESTED, statusReason names the new one; one "
     "already in CLEAN_UP finishes instead) and "
     "the new deployment stays PENDING until it has ended, then deploys from the revision the service runs by then; "
     "reject: InvalidParameterException, nothing changed", "source": "assumed", "switch": "ecs_update_while_active"},
    {"id": "ECS-14", "behaviour": "CreateService of a service with lifecycle hooks runs the stages and invokes the "
     "hooks; the deployment has no source revision; its rules are written to forward to the new revision's group "
     "(the sample's check_service_revision: \"Detect if this is a createService or an updateService\")",
     "source": SAMPLE, "switch": None},
    {"id": "ECS-15", "behaviour": "the CreateService deployment skips BAKE_TIME (no blue to keep); wait: bakes like "
     "any deployment", "source": "assumed", "switch": "ecs_create_bake"},
    {"id": "ECS-16", "behaviour": "a CreateService deployment whose hook fails (no previous revision): "
     "rollback_failed: ends ROLLBACK_FAILED, rules and tasks left as they are; rollback_successful: the new "
     "revision's tasks are stopped (targets deregistered), rules left as they are, ends ROLLBACK_SUCCESSFUL",
     "source": "assumed", "switch": "ecs_create_rollback"},
    {"id": "ECS-17", "behaviour": "StopServiceDeployment (stopType ROLLBACK, the default) moves a PENDING or "
     "IN_PROGRESS deployment to ROLLBACK_REQUESTED, then the rollback runs (it starts where the engine next looks: "
     "between stages, during a wait, or when a hook invocation returns, whose answer is then not acted on)",
     "source": '"IN_PROGRESS - The service deployment moves to the ROLLBACK_REQUESTED state, and then the rollback '
     'operation starts." — ' + STOP_PAGE, "switch": None},
    {"id": "ECS-18", "behaviour": "StopServiceDeployment: a stopType other than ROLLBACK (the model also lists ABORT) "
     "answers InvalidParameterException; a deployment that has ended answers ConflictException",
     "source": '"stopType: How you want Amazon ECS to stop the service. The valid values are ROLLBACK." / '
     '"ConflictException: The request could not be processed because of conflict in the current state of the '
     'resource." — ECS API reference, StopServiceDeployment', "switch": None},
    {"id": "ECS-19", "behaviour": "a hook's timeoutConfiguration: timeoutInMinutes default 1440, action ROLLBACK "
     "(CONTINUE goes on); lifecycleHookDetails[].expiresAt when it times out",
     "source": '"expiresAt: The time when the lifecycle hook times out. If the hook has not been completed by this '
     'time, Amazon ECS takes the timeout action." — ECS API reference, DeploymentLifecycleHookDetail',
     "switch": None},
    {"id": "ECS-20", "behaviour": "strategy LINEAR shifts production in stepPercent increments (default 10.0) with "
     "stepBakeTimeInMinutes (default 6) between them, none after 100; CANARY shifts canaryPercent (default 5.0), "
     "waits canaryBakeTimeInMinutes (default 10), then the rest (hooks at each step: ECS-24)",
     "source": '"Configuration for linear deployment strategy that shifts production traffic in equal percentage '
     'increments with configurable wait times between each step until 100% of traffic is shifted to the new service '
     'revision." — ECS API reference, LinearConfiguration; "Configuration for a canary deployment strategy that '
     'shifts a fixed percentage of traffic to the new service revision, waits for a specified bake time, then shifts '
     'the remaining traffic." — ECS API reference, CanaryConfiguration', "switch": None},
    {"id": "ECS-21", "behaviour": "green's tasks start at SCALE_UP (registered in the green target group, one target "
     "per desired task; the sandbox makes up their IPs, 10.2xx.<n>.<i>) and blue's are gone at CLEAN_UP (its "
     "targets deregistered)",
     "source": '"SCALE_UP: The stage when the green service revision scales up to 100% and launches new tasks. The '
     'green service revision is not serving any traffic at this point." / "CLEAN_UP: The stage when the blue service '
     'revision has completely scaled down to 0 running tasks." — ECS API reference, ServiceDeployment '
     '(lifecycleStage)', "switch": None},
    {"id": "ECS-22", "behaviour": "ListServiceDeployments order: oldest_first or newest_first (hookline must pick a "
     "deployment by its fields, not its place); a service without a BLUE_GREEN / LINEAR / CANARY strategy (moto's "
     "own) lists none", "source": "assumed", "switch": "ecs_list_order"},
    {"id": "ECS-22A", "behaviour": "DescribeServiceDeployments / DescribeServiceRevisions: an unknown ARN comes back "
     "in failures with reason MISSING",
     "source": '"The failure includes the service revision ARN and the reason set to MISSING." — ECS API reference, '
     'DescribeServiceDeployments (failures)', "switch": None},
    {"id": "ECS-23", "behaviour": "deploymentConfiguration.alarms (enable and rollback true): ignore: stored and "
     "echoed only; enforce: an alarm in ALARM during the deployment (checked between stages and during waits) rolls "
     "it back. The circuit breaker is stored and echoed; sandbox tasks never fail, so it never trips",
     "source": "assumed", "switch": "ecs_deployment_alarms"},
    {"id": "ECS-27", "behaviour": "a PAUSE hook (targetType PAUSE) holds its stage: lifecycleHookDetails shows it with "
     "a hookId, status AWAITING_ACTION, expiresAt and timeoutAction until ContinueServiceDeployment (action CONTINUE, the "
     "default, goes on; ROLLBACK rolls back) or its timeout (timeoutConfiguration, action as for Lambda hooks); "
     "ContinueServiceDeployment on a hook not AWAITING_ACTION or a deployment not IN_PROGRESS answers "
     "InvalidParameterException. The HOOK_AWAITING_ACTION EventBridge event is recorded in GET /_sandbox/ecs "
     "(pauseEvents), not delivered (the sandbox has no EventBridge)",
     "source": '"The deployment remains paused until you call ContinueServiceDeployment with the hookId and an action '
     'of CONTINUE or ROLLBACK, or until the configured timeout is reached." / "Amazon ECS emits an EventBridge event '
     'with the detail-type ECS Hook State Change and the event name HOOK_AWAITING_ACTION." — ECS developer guide, '
     'Pause hooks for Amazon ECS service deployments (pause-lifecycle-hooks); "You can continue a deployment that has '
     'a pause hook in AWAITING_ACTION status. The deployment must be in the IN_PROGRESS state." — ECS developer '
     'guide, Continuing service deployments', "switch": None},
    {"id": "ECS-28", "behaviour": "a PAUSE hook at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT is refused "
     "(InvalidParameterException)",
     "source": '"PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages. These '
     'stages are only valid for AWS_LAMBDA hooks." — ' + HOOK_PAGE, "switch": None},
    {"id": "ECS-24", "behaviour": "LINEAR / CANARY: the PRE_PRODUCTION_TRAFFIC_SHIFT hooks run before every production "
     "step (a FAILED answer rolls back before the rule moves again) and the PRODUCTION_TRAFFIC_SHIFT hooks at every "
     "step, after the rule was written; BLUE_GREEN has one step",
     "source": '"PRE_PRODUCTION_TRAFFIC_SHIFT: Occurs before production traffic shift. For linear and canary '
     'deployments, this stage is invoked before every traffic shift step." / "PRODUCTION_TRAFFIC_SHIFT: ... For linear '
     'and canary deployments, this stage is invoked at every traffic shift step." — ' + HOOK_PAGE, "switch": None},
    {"id": "ECS-25", "behaviour": "where a step's bake (stepBakeTimeInMinutes / canaryBakeTimeInMinutes) falls: "
     "hook_then_bake: the next step's PRE_PRODUCTION_TRAFFIC_SHIFT hooks run as soon as the step was taken, then the "
     "bake, then the next shift (a hook judging the step sees it unbaked); bake_then_hook: the bake, then the hooks, "
     "then the shift", "source": "assumed", "switch": "ecs_step_bake"},
    {"id": "ECS-26", "behaviour": "DescribeServiceDeployments' lifecycleStage during a bake between production steps: "
     "bake_time: BAKE_TIME (as after the last step, so a reader cannot take BAKE_TIME for production on green); "
     "production_traffic_shift: PRODUCTION_TRAFFIC_SHIFT", "source": "assumed", "switch": "ecs_step_stage"},
]

SERVICE_DEPLOYMENT_OPS = {"ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions",
                          "StopServiceDeployment", "ContinueServiceDeployment"}
STATUSES = ["PENDING", "SUCCESSFUL", "STOPPED", "STOP_REQUESTED", "IN_PROGRESS", "ROLLBACK_REQUESTED",
            "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"]


def _name(v):
    """A cluster or service given by name or ARN -> its name."""
    return v.rsplit("/", 1)[-1] if isinstance(v, str) and v else v


def _blue_green(body):
    """Whether the body sets a strategy the simulator runs (BLUE_GREEN, LINEAR, CANARY)."""
    dc = body.get("deploymentConfiguration") or {}
    return dc.get("strategy") in STRATEGIES


class EcsSim:
    def __init__(self, moto_url, router_url, config=None):
        self.cfg = config or EcsConfig()
        self.reg = Registry()
        self.engine = EcsLifecycleEngine(self.reg, moto_url, router_url, self.cfg)
        kw = dict(endpoint_url=moto_url, region_name=REGION, aws_access_key_id="sandbox",
                  aws_secret_access_key="sandbox", config=BotoConfig(retries={"max_attempts": 2}))
        self.ecs = boto3.client("ecs", **kw)

    @property
    def router_url(self):
        return self.engine.router_url

    @router_url.setter
    def router_url(self, url):
        self.engine.router_url = url

    # ------------------------------------------------------------ routing
    def _service_by(self, cluster, service):
        cluster, service = _name(cluster) or "default", _name(service)
        with self.reg.lock:
            return next((s for s in self.reg.services.values() if s.cluster == cluster and s.name == service), None)

    def wants(self, op, body):
        """Whether the router hands this ECS request to the simulator (else moto alone)."""
        if op in SERVICE_DEPLOYMENT_OPS:
            return True
        if op == "CreateService":
            ctl = (body.get("deploymentController") or {}).get("type") or "ECS"
            return ctl == "ECS" and _blue_green(body)
        if op == "UpdateService":
            return self._service_by(body.get("cluster"), body.get("service")) is not None or _blue_green(body)
        return False

    def handle(self, op, body, forward=None):
        """-> (status, dict). ``forward()`` sends the original request to moto: (status, dict)."""
        fn = getattr(self, "op_" + op, None)
        if fn is None:
            return 400, {"__type": "InvalidParameterException",
                         "message": f"Operation {op} is not supported by the hookline ECS simulator"}
        try:
            out = fn(body or {}, forward) if op in ("CreateService", "UpdateService") else fn(body or {})
            return 200, out if out is not None else {}
        except EcsError as e:
            return e.status, {"__type": e.code, "message": e.message}
        except Exception as e:  # pragma: no cover - bug guard
            log.exception("ECS simulator error in %s", op)
            return 500, {"__type": "ServerException", "message": f"sandbox ECS simulator: {e}"}

    # ------------------------------------------------------------ validation
    @staticmethod
    def _check_blue_green(dc, lbs):
        for i, h in enumerate(dc.get("lifecycleHooks") or []):
            where = f"deploymentConfiguration.lifecycleHooks[{i}]"
            if (h.get("targetType") or "AWS_LAMBDA") == "AWS_LAMBDA":
                for k in ("hookTargetArn", "roleArn"):
                    if not h.get(k):
                        raise EcsError("InvalidParameterException", f"{where}.{k} is required for an AWS_LAMBDA hook")
            stages = h.get("lifecycleStages") or []
            if not stages:
                raise EcsError("InvalidParameterException", f"{where}.lifecycleStages must name at least one stage")
            if h.get("targetType") == "PAUSE":   # ECS-28
                shift = [s for s in stages if s in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")]
                if shift:
                    raise EcsError("InvalidParameterException",
                                   f"{where}: PAUSE hooks cannot be configured at {', '.join(shift)}")
            bad = [s for s in stages if s not in HOOK_STAGES]
            if bad:
                raise EcsError("InvalidParameterException",
                               f"{where}.lifecycleStages: {bad} not valid; valid: {', '.join(HOOK_STAGES)}")
        if not lbs:
            raise EcsError("InvalidParameterException",
                           "loadBalancers: the sandbox simulates BLUE_GREEN with an Application Load Balancer only")
        adv = lbs[0].get("advancedConfiguration") or {}
        for k in ("alternateTargetGroupArn", "productionListenerRule", "roleArn"):
            if not adv.get(k):
                raise EcsError("InvalidParameterException",
                               f"loadBalancers[0].advancedConfiguration.{k} is required for a BLUE_GREEN deployment")
        if adv["alternateTargetGroupArn"] == lbs[0].get("targetGroupArn"):
            raise EcsError("InvalidParameterException", "loadBalancers[0].advancedConfiguration."
                           "alternateTargetGroupArn must differ from targetGroupArn")

    def _images(self, td_arn):
        td = self.ecs.describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
        return [{"containerName": c["name"], "image": c["image"]} for c in td.get("containerDefinitions") or []]

    def _new_revision(self, svc, td_arn, target_group):
        svc.revision_seq += 1
        arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{svc.cluster}/{svc.name}/{svc.revision_seq:020d}"
        rev = Revision(arn, svc, td_arn, target_group, self._images(td_arn))
        self.reg.revisions[arn] = rev
        return rev

    def _new_deployment(self, svc, source, target):
        arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{svc.cluster}/{svc.name}/{new_id()}"
        d = Deployment(arn, svc, source, target)
        self.reg.deployments[arn] = d
        self.reg.order.append(arn)
        return d

    @staticmethod
    def _moto(forward):
        status, out = forward()
        if status != 200:
            raise EcsError(out.get("__type") or "ServerException", out.get("message") or str(out), status)
        return out

    # ------------------------------------------------------------ CreateService / UpdateService
    def op_CreateService(self, b, forward):
        self._check_blue_green(b.get("deploymentConfiguration") or {}, b.get("loadBalancers") or [])
        out = self._moto(forward)
        s = out["service"]
        with self.reg.lock:
            svc = Service(s["serviceArn"], s["clusterArn"], s["serviceName"], b)
            self.reg.services[svc.arn] = svc
            rev = self._new_revision(svc, s["taskDefinition"], svc.load_balancers[0]["targetGroupArn"])
            svc.current_revision = rev.arn
            d = self._new_deployment(svc, None, rev)   # ECS-14: no source revision
        self.engine.start(d)   # ECS-14: the stages and their hooks run on CreateService too
        return {"service": self.patch_service(s)}

    def op_UpdateService(self, b, forward):
        svc = self._service_by(b.get("cluster"), b.get("service"))
        if svc is None:
            return self._adopt(b, forward)
        dc = dict(svc.deployment_configuration)
        dc.update(b.get("deploymentConfiguration") or {})
        lbs = b.get("loadBalancers") or svc.load_balancers
        if dc.get("strategy") in STRATEGIES:
            self._check_blue_green(dc, lbs)
        cur = self.reg.revisions.get(svc.current_revision)
        new_td = b.get("taskDefinition")
        needs = bool(b.get("forceNewDeployment")) or "loadBalancers" in b or (
            new_td is not None and not self._same_td(new_td, cur.task_definition if cur else None))
        with self.reg.lock:
            active = [self.reg.deployments[a] for a in self.reg.order
                      if self.reg.deployments[a].service is svc and self.reg.deployments[a].status in ACTIVE]
        if needs and active and self.cfg.ecs_update_while_active == "reject":
            raise EcsError("InvalidParameterException",   # ECS-13
                           f"Service deployment {active[0].arn} is {active[0].status}; "
                           "the sandbox does not supersede an active blue/green deployment")
        out = self._moto(forward)
        s = out["service"]
        with self.reg.lock:
            svc.deployment_configuration = dc
            svc.load_balancers = list(lbs)
            if "desiredCount" in b:
                svc.desired = int(b["desiredCount"])
            if b.get("networkConfiguration"):
                svc.network = b["networkConfiguration"]
            if needs and dc.get("strategy") in STRATEGIES:
                lb = svc.load_balancers[0]
                pair = [lb["targetGroupArn"], lb["advancedConfiguration"]["alternateTargetGroupArn"]]
                blue_tg = cur.target_group if cur and cur.target_group in pair else pair[0]
                green_tg = next(t for t in pair if t != blue_tg)
                rev = self._new_revision(svc, s["taskDefinition"], green_tg)
                d = self._new_deployment(svc, cur, rev)
                if active:   # ECS-13 supersede: the newest active one rolls back, this one starts after it
                    old = active[-1]
                    d.after = old
                    # one already cleaning up (blue gone) finishes; the new one starts from its target
                    if old.status in ("PENDING", "IN_PROGRESS") and old.stage != "CLEAN_UP":
                        old.stop, old.status = "ROLLBACK", "ROLLBACK_REQUESTED"
                        old.stop_reason = old.status_reason = f"Service deployment superseded by {d.arn}"
                        old.updated = now()
                        self.reg.cond.notify_all()
                self.engine.start(d)
        return {"service": self.patch_service(s)}

    def _same_td(self, given, current_arn):
        if not current_arn:
            return False
        if given == current_arn:
            return True
        try:
            arn = self.ecs.describe_task_definition(taskDefinition=given)["taskDefinition"]["taskDefinitionArn"]
        except Exception:
            return False
        return arn == current_arn

    def _adopt(self, b, forward):
        """UpdateService that switches an existing (moto-only) service to BLUE_GREEN: the simulator
        owns it from now on, its current task definition as revision 1."""
        cluster = _name(b.get("cluster")) or "default"
        found = self.ecs.describe_services(cluster=cluster, services=[_name(b.get("service"))])["services"]
        if not found:
            return self._moto(forward)   # moto answers ServiceNotFoundException etc.
        old = found[0]
        body = dict(old, **{k: v for k, v in b.items() if k in ("deploymentConfiguration", "loadBalancers",
                                                                    "desiredCount", "networkConfiguration")})
        self._check_blue_green(body.get("deploymentConfiguration") or {}, body.get("loadBalancers") or [])
        with self.reg.lock:
            svc = Service(old["serviceArn"], old["clusterArn"], old["serviceName"], body)
            self.reg.services[svc.arn] = svc
            rev = self._new_revision(svc, old["taskDefinition"], svc.load_balancers[0]["targetGroupArn"])
            svc.current_revision = rev.arn
        return self.op_UpdateService(b, forward)

    # ------------------------------------------------------------ DescribeServices patch
    def patch_service(self, s):
        """moto's Service dict + what moto drops, for a service the simulator owns."""
        svc = self.reg.services.get(s.get("serviceArn"))
        if svc is None:
            return s
        s = dict(s)
        with self.reg.lock:
            s["deploymentConfiguration"] = dict(svc.deployment_configuration)
            s["loadBalancers"] = list(svc.load_balancers)
            mine = [self.reg.deployments[a] for a in self.reg.order if self.reg.deployments[a].service is svc]
            if mine:
                s["currentServiceDeployment"] = mine[-1].arn
            revs = [r for r in self.reg.revisions.values() if r.service is svc and r.active]
            s["currentServiceRevisions"] = [{"arn": r.arn, "requestedTaskCount": svc.desired,
                                             "runningTaskCount": len(r.targets), "pendingTaskCount": 0} for r in revs]
        return s

    def patch_describe_services(self, raw):
        try:
            doc = json.loads(raw)
            doc["services"] = [self.patch_service(s) for s in doc.get("services") or []]
            return json.dumps(doc).encode()
        except Exception:
            log.exception("patching DescribeServices")
            return raw

    # ------------------------------------------------------------ service deployments
    def _deployment_doc(self, d):
        out = {"serviceDeploymentArn": d.arn, "serviceArn": d.service.arn, "clusterArn": d.service.cluster_arn,
               "createdAt": d.created, "updatedAt": d.updated, "status": d.status,
               "targetServiceRevision": self._rev_summary(d, d.target),
               "sourceServiceRevisions": [self._rev_summary(d, d.source)] if d.source else [],
               "deploymentConfiguration": dict(d.config)}
        for k, v in (("startedAt", d.started), ("finishedAt", d.finished), ("stoppedAt", d.stopped),
                     ("statusReason", d.status_reason), ("lifecycleStage", d.stage)):
            if v is not None:
                out[k] = v
        if d.hook_details:
            out["lifecycleHookDetails"] = [dict(h) for h in d.hook_details]
        if d.rollback:
            out["rollback"] = dict(d.rollback)
        return out

    def _rev_summary(self, d, rev):
        running = len(rev.targets)
        out = {"arn": rev.arn, "requestedTaskCount": d.service.desired if rev.active else 0,
               "runningTaskCount": running, "pendingTaskCount": 0}
        if d.source is not None:
            out["requestedTestTrafficWeight"] = float(d.weights["test"].get(rev.arn, 0 if rev is d.target else 100))
            out["requestedProductionTrafficWeight"] = float(
                d.weights["production"].get(rev.arn, 0 if rev is d.target else 100))
        return out

    def _brief(self, d):
        out = {"serviceDeploymentArn": d.arn, "serviceArn": d.service.arn, "clusterArn": d.service.cluster_arn,
               "createdAt": d.created, "targetServiceRevisionArn": d.target.arn, "status": d.status}
        for k, v in (("startedAt", d.started), ("finishedAt", d.finished), ("statusReason", d.status_reason)):
            if v is not None:
                out[k] = v
        return out

    def op_ListServiceDeployments(self, b):
        if not b.get("service"):
            raise EcsError("InvalidParameterException", "service is required")
        statuses = b.get("status") or []
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise EcsError("InvalidParameterException", f"status: {bad} not valid; valid: {', '.join(STATUSES)}")
        mx = b.get("maxResults", 20)
        if not isinstance(mx, int) or not 1 <= mx <= 100:
            raise EcsError("InvalidParameterException", "maxResults must be an integer from 1 to 100")
        cluster = _name(b.get("cluster")) or "default"
        svc = self._service_by(cluster, b["service"])
        if svc is None:
            clusters = self.ecs.describe_clusters(clusters=[cluster])["clusters"]
            if not clusters or clusters[0].get("status") != "ACTIVE":
                raise EcsError("ClusterNotFoundException", "Cluster not found.")
            found = self.ecs.describe_services(cluster=cluster, services=[_name(b["service"])])["services"]
            if not found or found[0].get("status") != "ACTIVE":
                raise EcsError("ServiceNotFoundException", "Service not found.")
            return {"serviceDeployments": []}   # ECS-22
        created = b.get("createdAt") or {}
        with self.reg.lock:
            order = self.reg.order if self.cfg.ecs_list_order == "oldest_first" else reversed(self.reg.order)
            ds = [self.reg.deployments[a] for a in order if self.reg.deployments[a].service is svc]   # ECS-22
            ds = [d for d in ds if (not statuses or d.status in statuses)
                  and ("after" not in created or d.created >= float(created["after"]))
                  and ("before" not in created or d.created <= float(created["before"]))]
            start = 0
            if b.get("nextToken"):
                try:
                    start = int(b["nextToken"])
                except ValueError:
                    raise EcsError("InvalidParameterException", "nextToken is not valid") from None
            page = ds[start:start + mx]
            out = {"serviceDeployments": [self._brief(d) for d in page]}
            if start + mx < len(ds):
                out["nextToken"] = str(start + mx)
        return out

    def op_DescribeServiceDeployments(self, b):
        arns = b.get("serviceDeploymentArns")
        if not isinstance(arns, list) or not arns:
            raise EcsError("InvalidParameterException", "serviceDeploymentArns must list 1 to 20 ARNs")
        if len(arns) > 20:
            raise EcsError("InvalidParameterException", "serviceDeploymentArns: at most 20 ARNs")
        out, failures = [], []
        with self.reg.lock:
            for a in arns:
                d = self.reg.deployments.get(a)
                if d is None:
                    failures.append({"arn": a, "reason": "MISSING"})
                else:
                    out.append(self._deployment_doc(d))
        return {"serviceDeployments": out, "failures": failures}

    def op_DescribeServiceRevisions(self, b):
        arns = b.get("serviceRevisionArns")
        if not isinstance(arns, list) or not arns:
            raise EcsError("InvalidParameterException", "serviceRevisionArns must list 1 to 20 ARNs")
        if len(arns) > 20:
            raise EcsError("InvalidParameterException", "serviceRevisionArns: at most 20 ARNs")
        out, failures = [], []
        with self.reg.lock:
            for a in arns:
                r = self.reg.revisions.get(a)
                if r is None:
                    failures.append({"arn": a, "reason": "MISSING"})
                    continue
                svc = r.service
                doc = {"serviceRevisionArn": r.arn, "serviceArn": svc.arn, "clusterArn": svc.cluster_arn,
                       "taskDefinition": r.task_definition, "launchType": svc.launch_type,
                       "containerImages": [dict(i) for i in r.images], "createdAt": r.created,
                       "guardDutyEnabled": False}
                if svc.load_balancers:
                    # ECS-2: loadBalancers is the service's configured load balancer, the same on
                    # every revision; which group the revision's tasks serve is in
                    # resolvedConfiguration, given for an active revision only.
                    doc["loadBalancers"] = [dict(lb) for lb in svc.load_balancers]
                    if r.active:
                        adv = svc.load_balancers[0].get("advancedConfiguration") or {}
                        resolved = {"targetGroupArn": r.target_group}
                        if adv.get("productionListenerRule"):
                            resolved["productionListenerRule"] = adv["productionListenerRule"]
                        doc["resolvedConfiguration"] = {"loadBalancers": [resolved]}
                if svc.network:
                    doc["networkConfiguration"] = svc.network
                out.append(doc)
        return {"serviceRevisions": out, "failures": failures}

    def op_ContinueServiceDeployment(self, b):
        """ECS-27: answers the PAUSE hook ``hookId`` (AWAITING_ACTION) of an IN_PROGRESS deployment with
        CONTINUE (the default) or ROLLBACK; the engine acts on it (sim/ecs/lifecycle.py ``_run_pause``)."""
        arn, hook_id = b.get("serviceDeploymentArn"), b.get("hookId")
        if not arn or not hook_id:
            raise EcsError("InvalidParameterException", "serviceDeploymentArn and hookId are required")
        action = b.get("action") or "CONTINUE"
        if action not in ("CONTINUE", "ROLLBACK"):
            raise EcsError("InvalidParameterException", f"action {action!r}: valid values are ROLLBACK | CONTINUE")
        with self.reg.lock:
            d = self.reg.deployments.get(arn)
            if d is None:
                raise EcsError("ServiceDeploymentNotFoundException", f"Service deployment {arn} not found.")
            hook = next((h for h in d.hook_details if h.get("hookId") == hook_id), None)
            if d.status != "IN_PROGRESS" or hook is None or hook.get("status") != "AWAITING_ACTION":
                raise EcsError("InvalidParameterException",
                               f"hook {hook_id} of {arn} is not a pause hook in AWAITING_ACTION status of an "
                               f"IN_PROGRESS deployment (deployment {d.status}, hook "
                               f"{hook.get('status') if hook else 'not found'})")
            d.pause_actions[hook_id] = action
            d.updated = now()
            self.reg.cond.notify_all()
        return {"serviceDeploymentArn": arn}

    def op_StopServiceDeployment(self, b):
        arn = b.get("serviceDeploymentArn")
        if not arn:
            raise EcsError("InvalidParameterException", "serviceDeploymentArn is required")
        stop_type = b.get("stopType") or "ROLLBACK"    # ECS-17
        if stop_type != "ROLLBACK":                    # ECS-18: "The valid values are ROLLBACK."
            raise EcsError("InvalidParameterException", f"stopType {stop_type!r}: the valid values are ROLLBACK")
        with self.reg.lock:
            d = self.reg.deployments.get(arn)
            if d is None:
                raise EcsError("ServiceDeploymentNotFoundException", f"Service deployment {arn} not found.")
            if d.status in TERMINAL:
                raise EcsError("ConflictException", f"Service deployment {arn} is {d.status} and cannot be stopped.")
            if d.status in ("PENDING", "IN_PROGRESS"):
                d.stop = stop_type
                d.status = "ROLLBACK_REQUESTED"
                d.status_reason = d.stop_reason = "Service deployment stopped by StopServiceDeployment (stopType ROLLBACK)"
                d.updated = now()
                self.reg.cond.notify_all()
        return {"serviceDeploymentArn": arn}

    # ------------------------------------------------------------ sandbox views
    def revision_for_target_group(self, tg_arn):
        """The active revision whose tasks serve ``tg_arn`` in the form alb.py's task_set_for gives."""
        with self.reg.lock:
            for r in reversed(list(self.reg.revisions.values())):
                if r.active and r.target_group == tg_arn and r.targets:
                    return {"id": r.arn.rsplit("/", 1)[1], "arn": r.arn,
                            "image": r.images[0]["image"] if r.images else "unknown", "status": "ACTIVE"}
        return None

    def snapshot_state(self):
        with self.reg.lock:
            out = []
            for a in self.reg.order:
                d = self.reg.deployments[a]
                out.append({"serviceDeploymentArn": d.arn, "service": f"{d.service.cluster}/{d.service.name}",
                            "status": d.status, "statusReason": d.status_reason, "lifecycleStage": d.stage,
                            "source": d.source.arn if d.source else None, "target": d.target.arn,
                            "sourceTargetGroup": d.source.target_group if d.source else None,
                            "targetTargetGroup": d.target.target_group,
                            "stages": list(d.stages), "invocations": [dict(i) for i in d.invocations],
                            "rollback": d.rollback, "weights": json.loads(json.dumps(d.weights)),
                            "productionSteps": list(d.production_steps),
                            "pauseEvents": list(d.pause_events)})
            return {"config": dict(vars(self.cfg)), "deployments": out}
