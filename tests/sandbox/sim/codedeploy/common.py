"""Definitions shared by the CodeDeploy simulator's API surface (sim/codedeploy/api.py) and its
lifecycle engine (sim/codedeploy/lifecycle.py): constants, errors, the run-time switches
(SimConfig), a deployment's record and the registry that holds them all."""
import os
import random
import string
import threading
import time

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


class Abort(Exception):
    """Raised inside the lifecycle worker to end a deployment."""

    def __init__(self, status, code, message, rollback_event):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.rollback_event = rollback_event  # DEPLOYMENT_FAILURE | DEPLOYMENT_STOP_ON_REQUEST | ...


def now():
    return time.time()


def new_deployment_id():
    return "d-" + "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(9))


def _env_float(name, default):
    v = os.environ.get(name)
    return float(v) if v not in (None, "") else default


def _env_choice(name, choices):
    v = os.environ.get(name) or choices[0]
    if v not in choices:
        raise ValueError(f"{name}={v!r}: must be one of {', '.join(choices)}")
    return v


class SimConfig:
    """Run-time knobs (time scale, not AWS behaviour) and switches.

    A switch is a behaviour no AWS page or sample states (source "assumed" in the source table,
    tests/sandbox/README.md "Sources"): a key of CHOICES with its choices, the first one the
    default and the pessimistic one for hookline (CodeDeploy does the least for it). Each is
    settable at run time through ``POST /_sandbox/config`` and at start through the environment
    variable ``SANDBOX_<KEY>`` (upper case). tests/e2e/test_assumed_switches.py runs the
    end-to-end invariants under every choice."""
    CHOICES = {
        # CD-ALLOW-SCOPE: which production forwards AllowTraffic rewrites
        "allow_traffic_scope": ("default_action", "listener_rules"),
        # CD-ROLLBACK-RESTORE: what a rollback puts back on the listeners
        "rollback_restore": ("own_changes", "snapshot"),
        # CD-HOOK-INVOKE: invocation type of a hook (AWS states "asynchronously" for Lambda
        # deployments only)
        "hook_invocation": ("event", "request_response"),
        # CD-ABSENT-HOOK: status of a hook event the AppSpec does not name
        "absent_hook_event_status": ("Succeeded", "Skipped"),
        # CD-REPORT-AFTER-END: a report for a hook whose deployment already ended
        "report_after_end": ("already_completed", "accepted"),
        # CD-TERMINATION-STATUS: deployment status during the blue task set's termination wait
        "termination_wait_status": ("InProgress", "Succeeded"),
        # CD-STOP-DEFAULT: StopDeployment without autoRollbackEnabled
        "stop_rollback_default": ("group_config", "no_rollback"),
        # CD-LIST-ORDER: order of ListDeployments ids
        "list_deployments_order": ("oldest_first", "newest_first"),
        # CD-TASKSET-ID: what taskSetsInfo[].identifer holds
        "task_set_identifier": ("id", "arn"),
        # CD-APPSPEC-CHECK: when an AppSpec that is not an ECS AppSpec is refused
        "appspec_validation": ("at_create", "at_deployment"),
        # CD-ROLLBACK-HOOKS: whether a rollback deployment invokes the AppSpec's traffic hooks
        "rollback_runs_hooks": ("no", "yes"),
    }

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
        for k, choices in self.CHOICES.items():
            setattr(self, k, kw.get(k, _env_choice("SANDBOX_" + k.upper(), choices)))
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
        self.target_updated = now()
        self.hook_execs = {}          # exec id -> {"event", "status", "closed"}
        self.stop = None              # None | {"rollback": bool, "code", "message"}
        self.continue_ready = False
        self.continue_termination = False
        self.ctx = {}                 # cluster, service, blue/green tg + ts, listeners, snapshots
        self.is_rollback = False
        self.thread = None

    def event(self, name):
        return next(e for e in self.events if e["lifecycleEventName"] == name)


class Registry:
    """The simulator's state, shared by the API surface and the lifecycle engine: applications,
    deployment groups and configs, revisions, deployments (in creation order), one lock and the
    condition every wait in the engine sleeps on."""

    def __init__(self):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.apps = {}
        self.groups = {}
        self.configs = {}
        self.revisions = {}
        self.deployments = {}
        self.order = []
        self.report_seq = 0           # numbers every PutLifecycleEventHookExecutionStatus (report_log)

    def deployment_config(self, name):
        if name in PREDEFINED_CONFIGS:
            return {"deploymentConfigName": name, "deploymentConfigId": name, "computePlatform": "ECS",
                    "createTime": 0.0, "trafficRoutingConfig": PREDEFINED_CONFIGS[name]}
        if name in self.configs:
            return self.configs[name]
        raise CDError("DeploymentConfigDoesNotExistException", f"No deployment configuration found for name: {name}")

    def add(self, d):
        self.deployments[d.id] = d
        self.order.append(d.id)
