"""Definitions shared by the ECS service-deployment simulator's API surface (sim/ecs/api.py) and its
lifecycle engine (sim/ecs/lifecycle.py): constants, errors, the run-time knobs and switches
(EcsConfig), the records (service, service revision, service deployment) and the registry that
holds them. Every behaviour and its source is a row of SOURCES in sim/ecs/api.py."""
import os
import secrets
import string
import threading
import time

ACCOUNT = "123456789012"
REGION = "us-east-1"
# ECS developer guide, "Lifecycle hooks for Amazon ECS service deployments"; botocore's
# ServiceDeploymentLifecycleStage enum (the order is the guide's).
STAGES = ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
          "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME",
          "CLEAN_UP"]
# Stages a hook may name (botocore's DeploymentLifecycleHookStage enum): no SCALE_UP, BAKE_TIME or
# CLEAN_UP, plus PRE_PRODUCTION_TRAFFIC_SHIFT, which is not a ServiceDeploymentLifecycleStage (ECS-9).
HOOK_STAGES = ["RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
               "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]
# "When a rollback occurs, Amazon ECS runs lifecycle hooks for the following lifecycle stages:
# PRODUCTION_TRAFFIC_SHIFT, TEST_TRAFFIC_SHIFT" (deployment-lifecycle-hooks), in that order.
ROLLBACK_STAGES = ["PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"]
ACTIVE = {"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
TERMINAL = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
DEFAULT_CALLBACK_DELAY_S = 30          # lambda-lifecycle-hooks: "By default, the delay is 30 seconds"
DEFAULT_HOOK_TIMEOUT_MIN = 1440        # API_DeploymentLifecycleHookTimeoutConfiguration: default 1440
ROLLBACK_RESTORES = ("own_changes", "full")
# Strategies whose deployments the simulator runs (botocore's DeploymentStrategy less ROLLING, which
# has no lifecycle hooks). LINEAR and CANARY run the BLUE_GREEN stages far enough to invoke the hooks
# and roll back on FAILED; their production steps are not walked (production shifts 0 -> 100 at once).
STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
# Switches (first = default); see SOURCES in sim/ecs/api.py.
PAYLOAD_WEIGHTS = ("empty", "filled")
CREATE_BAKES = ("skip", "wait")
EXECUTION_IDS = ("fresh", "stable")
UPDATE_WHILE_ACTIVE = ("supersede", "reject")           # ECS-13
CREATE_ROLLBACKS = ("rollback_failed", "rollback_successful")   # ECS-16
LIST_ORDERS = ("oldest_first", "newest_first")          # ECS-22
DEPLOYMENT_ALARMS = ("ignore", "enforce")               # ECS-23


class EcsError(Exception):
    """An ECS API error: JSON 1.1 ``{"__type", "message"}``; ServerException is HTTP 500, the rest 400."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class RollbackNeeded(Exception):
    """Raised inside the engine: the deployment rolls back (hook FAILED / timed out, stop ROLLBACK)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def now():
    return time.time()


def new_id(n=22):
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _env_float(names, default):
    for name in names:
        v = os.environ.get(name)
        if v not in (None, ""):
            return float(v)
    return default


class EcsConfig:
    """Knobs (time scale; not AWS behaviour) and switches (where AWS documents nothing; the first
    choice is the default and the pessimistic one: ECS does the least for hookline)."""
    CHOICES = {"ecs_rollback_restore": ROLLBACK_RESTORES, "ecs_payload_weights": PAYLOAD_WEIGHTS,
               "ecs_create_bake": CREATE_BAKES, "ecs_execution_id": EXECUTION_IDS,
               "ecs_update_while_active": UPDATE_WHILE_ACTIVE, "ecs_create_rollback": CREATE_ROLLBACKS,
               "ecs_list_order": LIST_ORDERS, "ecs_deployment_alarms": DEPLOYMENT_ALARMS}
    ENV = {k: "SANDBOX_" + k.upper() for k in CHOICES}
    KNOBS = ("ecs_minute_s", "ecs_callback_scale", "ecs_callback_min_s", "ecs_task_start_s", "ecs_health_check_s")

    def __init__(self, **kw):
        # length of a "minute" (bakeTimeInMinutes, timeoutConfiguration.timeoutInMinutes)
        self.ecs_minute_s = float(kw.get("ecs_minute_s", _env_float(["SANDBOX_ECS_MINUTE_S", "SANDBOX_MINUTE_S"], 60)))
        # factor on a hook's callBackDelay seconds, and a floor so a scaled delay never busy-loops
        self.ecs_callback_scale = float(kw.get("ecs_callback_scale", _env_float(["SANDBOX_ECS_CALLBACK_SCALE"], 1.0)))
        self.ecs_callback_min_s = float(kw.get("ecs_callback_min_s", _env_float(["SANDBOX_ECS_CALLBACK_MIN_S"], 0.1)))
        # plain (rolling) services, sim/ecs/rolling.py: how long a task is PENDING before it runs, and how
        # long its target then reads 'initial' before it passes the load balancer's health checks
        self.ecs_task_start_s = float(kw.get("ecs_task_start_s", _env_float(["SANDBOX_ECS_TASK_START_S"], 1.0)))
        self.ecs_health_check_s = float(kw.get("ecs_health_check_s", _env_float(["SANDBOX_ECS_HEALTH_CHECK_S"], 1.0)))
        for k, choices in self.CHOICES.items():
            setattr(self, k, kw.get(k, os.environ.get(self.ENV[k]) or choices[0]))
        for k in self.CHOICES:
            self.check(k, getattr(self, k))

    def check(self, key, value):
        if key in self.CHOICES and value not in self.CHOICES[key]:
            raise ValueError(f"{key}={value!r}: must be one of {', '.join(self.CHOICES[key])}")
        if key in self.KNOBS:
            try:
                if float(value) < 0:
                    raise ValueError
            except (TypeError, ValueError):
                raise ValueError(f"{key}={value!r}: must be a number >= 0") from None

    def update(self, doc):
        """Validate every key first, then apply (so a bad key changes nothing)."""
        for k in (*self.KNOBS, *self.CHOICES):
            if k in doc:
                self.check(k, doc[k])
        for k in self.KNOBS:
            if k in doc:
                setattr(self, k, float(doc[k]))
        for k in self.CHOICES:
            if k in doc:
                setattr(self, k, doc[k])


class Service:
    """A BLUE_GREEN service the simulator owns (moto stores it too, without deploymentConfiguration)."""

    def __init__(self, arn, cluster_arn, name, body):
        self.arn, self.cluster_arn, self.name = arn, cluster_arn, name
        self.cluster = cluster_arn.rsplit("/", 1)[1]
        self.deployment_configuration = dict(body.get("deploymentConfiguration") or {})
        self.load_balancers = list(body.get("loadBalancers") or [])
        self.desired = int(body.get("desiredCount", 1) or 0)
        self.launch_type = body.get("launchType") or "FARGATE"
        self.network = body.get("networkConfiguration")
        self.current_revision = None     # ARN of the revision serving production
        self.revision_seq = 0


class Revision:
    def __init__(self, arn, service, task_definition, target_group, images):
        self.arn, self.service, self.task_definition = arn, service, task_definition
        self.target_group = target_group  # the target group this revision's tasks are registered in
        self.images = images              # [{"containerName", "image"}]
        self.created = now()
        self.targets = []                 # registered target ids
        self.active = True


class Deployment:
    def __init__(self, arn, service, source, target):
        self.arn, self.service = arn, service
        self.id = arn.rsplit("/", 1)[1]
        self.source, self.target = source, target    # Revision (source may be None) / Revision
        self.status = "PENDING"
        self.status_reason = None
        self.stage = None
        self.created = self.updated = now()
        self.started = self.finished = self.stopped = None
        self.config = dict(service.deployment_configuration)
        self.rollback = None                          # {"reason", "startedAt", "serviceRevisionArn"}
        self.stop = None                              # None | "ROLLBACK"
        self.stop_reason = None                       # why the stop was requested (ECS-13, ECS-17)
        self.after = None                             # Deployment this one waits for (ECS-13 supersede)
        self.weights = {"test": {}, "production": {}}  # ECS's own requested weights {revision ARN: %}
        self.shifted = {"test": False, "production": False}
        self.hook_details = []                        # DeploymentLifecycleHookDetail of the current stage
        self.invocations = []                         # every hook invocation (GET /_sandbox/ecs)
        self.stages = []                              # [{"stage", "at", "rollback"}]
        self.thread = None


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.services = {}          # service ARN -> Service
        self.revisions = {}         # revision ARN -> Revision
        self.deployments = {}       # deployment ARN -> Deployment
        self.order = []             # deployment ARNs in creation order
        self.ip_seq = 0             # made-up task IPs (ECS-21), unique across services
