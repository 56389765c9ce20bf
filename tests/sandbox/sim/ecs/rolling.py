"""Plain ECS services (deployment controller ``ECS``, rolling update) whose tasks run: the services
hookline's own controller (issue 22, docs/route53-controller.md) creates, updates, scales and
deletes, each behind its release's target group.

moto 5.2.5 stores such a service but runs nothing: CreateService answers runningCount 0 for ever
(pendingCount = desiredCount, one PRIMARY deployment IN_PROGRESS), UpdateService sets runningCount
to the new desiredCount at once and never adds a deployment for a new task definition, DeleteService
marks the service INACTIVE at once, CreateService over an ACTIVE service of the same name replaces
it, and no target is ever registered. The router sends CreateService (controller ECS, no blue/green
strategy: sim/ecs/api.py takes those), and UpdateService / DeleteService of a service created so,
here; each is forwarded to moto (the store) and the simulator keeps the tasks:

- a new task is PENDING for ``ecs_task_start_s`` (knob, default 1 s), then RUNNING, registered in
  each target group of the service's ``loadBalancers`` (ip targets ``10.1xx.<n>.<i>``, the
  container port) where it reads ``initial`` until it has passed ``ecs_health_check_s`` (knob,
  default 1 s) of health checks, then ``healthy``;
- an image whose tag contains ``unhealthy`` fails the load balancer's health checks (the target
  stays ``unhealthy``, reason Target.ResponseCodeMismatch); an image whose tag contains ``bad``
  passes them and answers 5xx to requests (router.py's traffic loops: the sandbox app's
  convention, alb.py);
- a new task definition (or forceNewDeployment) starts a new PRIMARY deployment; the previous
  ones become ACTIVE and lose their tasks as the new ones turn healthy, within
  ``minimumHealthyPercent`` (default 100) and ``maximumPercent`` (default 200); a deployment left
  without tasks is removed, so ``deployments`` has one entry again when the rollout is done;
- desiredCount down stops tasks (targets deregistered); DeleteService refuses a service scaled
  above 0 unless ``force``, then the service is DRAINING until its tasks are stopped, INACTIVE
  after; CreateService of a name that is ACTIVE or DRAINING fails; UpdateService of a service
  that is not ACTIVE answers ServiceNotActiveException;
- DescribeServices answers runningCount / pendingCount / desiredCount / status / deployments
  from the simulator, so boto3's ``services_stable`` waiter (one deployment, runningCount ==
  desiredCount) and the AWS SDK's equivalents see what AWS would; DescribeTargetHealth answers
  each task's target state (router.py).

Not emulated: the target group's deregistration delay (a stopped task's target goes at once), task
failures and the deployment circuit breaker, placement, capacity. Rows ECS-R* of the source table.
"""
import math
import threading

from sim.ecs.common import EcsError, now

SIMULATOR = "ecs"
DELETE_PAGE = "ECS API reference, DeleteService (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html)"
ROLLING_PAGE = "ECS developer guide, Deploy Amazon ECS services by replacing tasks " \
               "(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html)"
UPDATE_PAGE = "ECS API reference, UpdateService (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html)"
TARGET_HEALTH_PAGE = "ELB API reference, TargetHealth " \
                     "(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html)"
NOT_ACTIVE_PAGE = "ECS API reference, ServiceNotActiveException " \
                  "(https://docs.aws.amazon.com/botocore/latest/reference/services/ecs/client/exceptions/ServiceNotActiveException.html)"

SOURCES = [
    {"id": "ECS-R1", "behaviour": "A plain (rolling, controller ECS) service's tasks start: PENDING, then RUNNING "
                                  "after ecs_task_start_s (knob), registered in the service's target groups as ip "
                                  "targets on the container port; runningCount / pendingCount count them",
     "source": "\"When you create a service which uses the rolling update (ECS) deployment type, the Amazon ECS "
               "service scheduler replaces the currently running tasks with new tasks.\" — " + ROLLING_PAGE,
     "switch": None},
    {"id": "ECS-R2", "behaviour": "A registered target is 'initial' (Elb.InitialHealthChecking) until it passed "
                                  "health checks (ecs_health_check_s, knob), then 'healthy'; an image tag containing "
                                  "'unhealthy' fails them ('unhealthy', Target.ResponseCodeMismatch)",
     "source": "\"Elb.InitialHealthChecking - The load balancer is still sending the target the minimum number of "
               "health checks required to determine its health status.\" / \"Target.ResponseCodeMismatch - The "
               "health checks did not return an expected HTTP code.\" — " + TARGET_HEALTH_PAGE + " (Reason)",
     "switch": None},
    {"id": "ECS-R3", "behaviour": "UpdateService with a new task definition (or forceNewDeployment) adds a PRIMARY "
                                  "deployment; the old ones become ACTIVE and their tasks stop as new ones turn "
                                  "healthy, keeping ceil(desired x minimumHealthyPercent / 100) healthy (default 100) "
                                  "and at most floor(desired x maximumPercent / 100) tasks (default 200); a deployment "
                                  "without tasks is removed",
     "source": "\"The minimumHealthyPercent represents the lower limit on the number of tasks that should be running "
               "and healthy for a service during a rolling deployment ... This value is rounded up.\" and \"The "
               "maximumPercent represents the upper limit on the number of tasks that should be running for a service "
               "during a rolling deployment ... This value is rounded down.\" — " + ROLLING_PAGE, "switch": None},
    {"id": "ECS-R4", "behaviour": "DescribeServices: runningCount, pendingCount, desiredCount, status and one entry "
                                  "per live deployment (PRIMARY first, rolloutState COMPLETED once its tasks all run "
                                  "healthy), so the services_stable waiter (one deployment, runningCount == "
                                  "desiredCount) holds only when the rollout is done (moto: runningCount 0 after "
                                  "CreateService, desiredCount at once after UpdateService)",
     "source": "sample: boto/botocore/botocore/data/ecs/2014-11-13/waiters-2.json", "switch": None},
    {"id": "ECS-R5", "behaviour": "desiredCount lowered (0 included) stops tasks and deregisters their targets",
     "source": "\"You can add to or subtract from the number of instantiations of a task definition in a service by "
               "specifying the cluster that the service is running in and a new desiredCount parameter.\" — "
               + UPDATE_PAGE, "switch": None},
    {"id": "ECS-R6", "behaviour": "DeleteService of a service scaled above 0 without force answers "
                                  "InvalidParameterException; accepted, the service is DRAINING while tasks remain "
                                  "(they stop, targets deregistered), then INACTIVE",
     "source": "\"If the service is actively maintaining tasks, you can't delete it, and you must update the service "
               "to a desired task count of zero.\" and \"When you delete a service, if there are still running tasks "
               "that require cleanup, the service status moves from ACTIVE to DRAINING ... After all tasks have "
               "transitioned to either STOPPING or STOPPED status, the service status moves from DRAINING to "
               "INACTIVE.\" — " + DELETE_PAGE, "switch": None},
    {"id": "ECS-R7", "behaviour": "CreateService of a name that is ACTIVE or DRAINING in the cluster answers "
                                  "InvalidParameterException \"Creation of service was not idempotent.\" (moto "
                                  "replaces the service); an INACTIVE name may be created again",
     "source": "\"If you attempt to create a new service with the same name as an existing service in either ACTIVE "
               "or DRAINING status, you receive an error.\" — " + DELETE_PAGE, "switch": None},
    {"id": "ECS-R8", "behaviour": "UpdateService of a DRAINING or INACTIVE service answers "
                                  "ServiceNotActiveException; nothing changes",
     "source": "\"ServiceNotActiveException: The specified service isn't active. You can't update a service that's "
               "inactive. If you have previously deleted a service, you can re-create it with CreateService.\" — "
               + NOT_ACTIVE_PAGE, "switch": None},
    {"id": "ECS-R9", "behaviour": "ListServices leaves out a plain service that is DRAINING or INACTIVE; "
                                  "DescribeServices still shows it (moto lists it)",
     "source": "\"When you delete a service, if there are still running tasks that require cleanup, the service "
               "status moves from ACTIVE to DRAINING, and the service is no longer visible in the console or in the "
               "ListServices API operation.\" and \"Services in the DRAINING or INACTIVE status can still be viewed "
               "with the DescribeServices API operation.\" — " + DELETE_PAGE, "switch": None},
]

BLUE_GREEN_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")


def _name(v):
    return v.rsplit("/", 1)[-1] if isinstance(v, str) and v else v


def image_tag(image):
    """The tag of an image reference ('latest' without one)."""
    last = (image or "").rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def fails_health_checks(image):
    return "unhealthy" in image_tag(image)


def answers_5xx(image):
    return "bad" in image_tag(image)


class Task:
    """A task: PENDING until the scheduler found it due (``running_at``) and registered it, RUNNING
    after (so a RUNNING task of a service with a load balancer is always registered)."""
    __slots__ = ("ip", "port", "image", "running_at", "healthy_at", "registered", "running")

    def __init__(self, ip, port, image, running_at, healthy_at):
        self.ip, self.port, self.image = ip, port, image
        self.running_at, self.healthy_at = running_at, healthy_at
        self.registered = self.running = False

    def state(self, t=None):
        """PENDING | RUNNING."""
        return "RUNNING" if self.running else "PENDING"

    def health(self, t):
        """The target's state: None (not registered), initial, healthy, unhealthy."""
        if not self.registered:
            return None
        if t < self.healthy_at:
            return "initial"
        return "unhealthy" if fails_health_checks(self.image) else "healthy"


class RDeployment:
    def __init__(self, dep_id, task_definition, image, launch_type, network):
        self.id, self.task_definition, self.image = dep_id, task_definition, image
        self.launch_type, self.network = launch_type, network
        self.created = self.updated = now()
        self.tasks = []
        self.status = "PRIMARY"


class RService:
    def __init__(self, arn, cluster_arn, name, body):
        self.arn, self.cluster_arn, self.name = arn, cluster_arn, name
        self.region = arn.split(":")[3]
        self.cluster = cluster_arn.rsplit("/", 1)[1]
        self.load_balancers = list(body.get("loadBalancers") or [])
        self.desired = int(body.get("desiredCount") or 0)
        dc = body.get("deploymentConfiguration") or {}
        self.min_pct = int(dc.get("minimumHealthyPercent", 100))
        self.max_pct = int(dc.get("maximumPercent", 200))
        self.status = "ACTIVE"
        self.deployments = []     # newest (PRIMARY) first
        self.seq = 0


class RollingSim:
    """See the module doc. ``client(service, region)``: a boto3 client of moto in that Region (a
    service's tasks register in its own Region's target groups); ``cfg``: EcsConfig (knobs
    ecs_task_start_s, ecs_health_check_s); ``reg``: the ECS registry (its ip sequence)."""

    def __init__(self, client, cfg, reg, clock=now):
        self.client, self.cfg, self.reg = client, cfg, reg
        self.clock = clock
        self.lock = threading.RLock()
        self.services = {}        # (Region, cluster name, service name) -> RService
        self.ip_seq = 0

    # ------------------------------------------------------------ routing
    def _get(self, cluster, service, region):
        return self.services.get((region, _name(cluster) or "default", _name(service)))

    def wants(self, op, body, region="us-east-1"):
        if op == "CreateService":
            ctl = (body.get("deploymentController") or {}).get("type") or "ECS"
            strategy = (body.get("deploymentConfiguration") or {}).get("strategy")
            return ctl == "ECS" and strategy not in BLUE_GREEN_STRATEGIES
        if op in ("UpdateService", "DeleteService"):
            return self._get(body.get("cluster"), body.get("service"), region) is not None
        return False

    def forget(self, cluster, service, region="us-east-1"):
        """The ECS-native simulator took the service over (UpdateService to BLUE_GREEN)."""
        with self.lock:
            svc = self.services.pop((region, _name(cluster) or "default", _name(service)), None)
            if svc:
                for d in svc.deployments:
                    self._stop(svc, d, list(d.tasks))

    def handle(self, op, body, forward, region="us-east-1"):
        try:
            return 200, getattr(self, "op_" + op)(body, forward, region)
        except EcsError as e:
            return e.status, {"__type": e.code, "message": e.message}

    @staticmethod
    def _moto(forward):
        status, out = forward()
        if status != 200:
            raise EcsError(out.get("__type") or "ServerException", out.get("message") or str(out), status)
        return out

    # ------------------------------------------------------------ operations
    def op_CreateService(self, b, forward, region):
        cluster, name = _name(b.get("cluster")) or "default", b.get("serviceName")
        with self.lock:
            mine = self._get(cluster, name, region)
            if mine is not None and mine.status in ("ACTIVE", "DRAINING"):
                raise EcsError("InvalidParameterException", "Creation of service was not idempotent.")   # ECS-R7
            if mine is None and name:
                found = self.client("ecs", region).describe_services(cluster=cluster, services=[name]).get(
                    "services") or []
                if found and found[0].get("status") in ("ACTIVE", "DRAINING"):
                    raise EcsError("InvalidParameterException", "Creation of service was not idempotent.")
            s = self._moto(forward)["service"]
            svc = RService(s["serviceArn"], s["clusterArn"], s["serviceName"], b)
            self.services[(svc.region, svc.cluster, svc.name)] = svc
            self._new_deployment(svc, s.get("taskDefinition"), b.get("launchType") or s.get("launchType"),
                                 b.get("networkConfiguration"))
            self.reconcile()
            return {"service": self.patch_service(s)}

    def op_UpdateService(self, b, forward, region):
        with self.lock:
            svc = self._get(b.get("cluster"), b.get("service"), region)
            if svc.status != "ACTIVE":   # ECS-R8
                raise EcsError("ServiceNotActiveException", "The specified service isn't active. You can't update a "
                               "service that's inactive. If you have previously deleted a service, you can re-create it "
                               "with CreateService.")
            if "desiredCount" in b and (not isinstance(b["desiredCount"], int) or b["desiredCount"] < 0):
                raise EcsError("InvalidParameterException", "desiredCount must be an integer >= 0")
            s = self._moto(forward)["service"]
            if "desiredCount" in b:
                svc.desired = int(b["desiredCount"])
            dc = b.get("deploymentConfiguration") or {}
            svc.min_pct = int(dc.get("minimumHealthyPercent", svc.min_pct))
            svc.max_pct = int(dc.get("maximumPercent", svc.max_pct))
            if b.get("loadBalancers") is not None:
                svc.load_balancers = list(b["loadBalancers"])
            primary = svc.deployments[0] if svc.deployments else None
            new_td = s.get("taskDefinition")
            if primary is None or b.get("forceNewDeployment") or (
                    b.get("taskDefinition") is not None and new_td != primary.task_definition) \
                    or b.get("loadBalancers") is not None:
                self._new_deployment(svc, new_td, primary.launch_type if primary else s.get("launchType"),
                                     b.get("networkConfiguration") or (primary.network if primary else None))
            self.reconcile()
            return {"service": self.patch_service(s)}

    def op_DeleteService(self, b, forward, region):
        with self.lock:
            svc = self._get(b.get("cluster"), b.get("service"), region)
            if svc.status != "ACTIVE":
                return {"service": self.patch_service(self._moto(forward)["service"])}
            if svc.desired > 0 and not b.get("force"):   # ECS-R6
                raise EcsError("InvalidParameterException", "The service cannot be stopped while it is scaled above 0.")
            s = self._moto(forward)["service"]
            svc.desired = 0
            svc.status = "DRAINING"
            self.reconcile()
            return {"service": self.patch_service(s)}

    # ------------------------------------------------------------ the scheduler
    def _image(self, svc, td_arn):
        try:
            td = self.client("ecs", svc.region).describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
        except Exception:
            return "unknown"
        containers = td.get("containerDefinitions") or []
        want = (svc.load_balancers or [{}])[0].get("containerName")
        c = next((c for c in containers if c.get("name") == want), containers[0] if containers else {})
        return c.get("image") or "unknown"

    def _new_deployment(self, svc, td_arn, launch_type, network):
        svc.seq += 1
        d = RDeployment(f"ecs-svc/{abs(hash((svc.arn, svc.seq, now()))) % 10**19:019d}", td_arn,
                        self._image(svc, td_arn), launch_type, network)
        for old in svc.deployments:
            old.status = "ACTIVE"
            old.updated = d.created
        svc.deployments.insert(0, d)
        return d

    def _start(self, svc, d, n, t):
        port = int((svc.load_balancers or [{}])[0].get("containerPort") or 80)
        for _ in range(n):
            with self.reg.lock:   # the ECS registry's sequence: unique across both simulators' services
                self.reg.ip_seq += 1
                k = self.reg.ip_seq
            ip = f"10.{100 + (k // 250) % 100}.{k % 250}.{10 + (k // 25000) % 200}"
            running = t + float(self.cfg.ecs_task_start_s)
            d.tasks.append(Task(ip, port, d.image, running, running + float(self.cfg.ecs_health_check_s)))
        d.updated = t

    def _stop(self, svc, d, tasks):
        for task in tasks:
            if task.registered:
                for lb in svc.load_balancers:
                    if lb.get("targetGroupArn"):
                        try:
                            self.client("elbv2", svc.region).deregister_targets(TargetGroupArn=lb["targetGroupArn"],
                                                        Targets=[{"Id": task.ip, "Port": task.port}])
                        except Exception:   # the group was deleted: nothing left to deregister
                            pass
                task.registered = False
            if task in d.tasks:
                d.tasks.remove(task)
        if tasks:
            d.updated = now()

    def reconcile(self):
        """One pass of the scheduler over every service (called on each API call and by the router's
        ticker): start, register, stop tasks as ECS-R1 .. ECS-R6 say."""
        t = self.clock()
        with self.lock:
            for svc in list(self.services.values()):
                if svc.status == "INACTIVE":
                    continue
                self._reconcile(svc, t)

    def _reconcile(self, svc, t):
        desired = 0 if svc.status == "DRAINING" else svc.desired
        for d in svc.deployments:          # due tasks run, registered first (ECS-R1)
            for task in d.tasks:
                if not task.running and t >= task.running_at:
                    for lb in svc.load_balancers:
                        if lb.get("targetGroupArn"):
                            self.client("elbv2", svc.region).register_targets(TargetGroupArn=lb["targetGroupArn"],
                                                      Targets=[{"Id": task.ip, "Port": task.port}])
                    task.registered = bool(svc.load_balancers)
                    task.running = True
        primary, olds = (svc.deployments[0], svc.deployments[1:]) if svc.deployments else (None, [])
        if primary is None:
            return
        max_total = max(desired, int(math.floor(desired * svc.max_pct / 100.0)))
        min_healthy = int(math.ceil(desired * svc.min_pct / 100.0))
        total = sum(len(d.tasks) for d in svc.deployments)
        if len(primary.tasks) > desired:   # ECS-R5: scale down, the least ready first
            extra = sorted(primary.tasks, key=lambda k: (k.health(t) == "healthy", k.running_at))
            self._stop(svc, primary, extra[:len(primary.tasks) - desired])
        elif len(primary.tasks) < desired:   # ECS-R3: up to maximumPercent
            self._start(svc, primary, max(0, min(desired - len(primary.tasks), max_total - total)), t)
        # ECS-R3: old tasks stop as long as minimumHealthyPercent stays healthy; the ones not
        # healthy count for nothing and stop first
        healthy = sum(1 for d in svc.deployments for k in d.tasks if k.health(t) == "healthy")
        spare = healthy - min_healthy
        for d in olds:
            for task in sorted(d.tasks, key=lambda k: k.health(t) == "healthy"):
                if task.health(t) != "healthy":
                    self._stop(svc, d, [task])
                elif spare > 0:
                    self._stop(svc, d, [task])
                    spare -= 1
        svc.deployments = [primary] + [d for d in olds if d.tasks]
        if svc.status == "DRAINING" and not any(d.tasks for d in svc.deployments):
            svc.status = "INACTIVE"   # ECS-R6

    # ------------------------------------------------------------ views
    def patch_service(self, s):
        """moto's Service dict with the simulator's counts, status and deployments (ECS-R4)."""
        arn = s.get("serviceArn") or ""
        region = arn.split(":")[3] if arn.count(":") >= 5 else "us-east-1"
        svc = self.services.get((region, _name(s.get("clusterArn")) or "default", s.get("serviceName")))
        if svc is None or svc.arn != arn:
            return s
        self.reconcile()   # what is due has happened before anyone reads it
        t = self.clock()
        s = dict(s)
        with self.lock:
            running = pending = 0
            deps = []
            for i, d in enumerate(svc.deployments):
                r = sum(1 for k in d.tasks if k.state(t) == "RUNNING")
                p = len(d.tasks) - r
                running, pending = running + r, pending + p
                desired = (0 if svc.status != "ACTIVE" else svc.desired) if i == 0 else len(d.tasks)
                done = i == 0 and len(svc.deployments) == 1 and r == desired and \
                    all(k.health(t) in (None, "healthy") if not svc.load_balancers else k.health(t) == "healthy"
                        for k in d.tasks)
                deps.append({"id": d.id, "status": d.status, "taskDefinition": d.task_definition,
                             "desiredCount": desired, "pendingCount": p, "runningCount": r, "failedTasks": 0,
                             "createdAt": d.created, "updatedAt": d.updated,
                             "launchType": d.launch_type or "EC2",
                             "rolloutState": "COMPLETED" if done else "IN_PROGRESS",
                             "rolloutStateReason": f"ECS deployment {d.id} " + ("completed." if done else "in progress."),
                             **({"networkConfiguration": d.network} if d.network else {})})
            s.update(runningCount=running, pendingCount=pending, status=svc.status, deployments=deps,
                     desiredCount=0 if svc.status != "ACTIVE" else svc.desired,
                     loadBalancers=list(svc.load_balancers))
            if svc.deployments:
                s["taskDefinition"] = svc.deployments[0].task_definition
        return s

    def listed(self, service_arn):
        """Whether ListServices shows the service: not when the simulator has it DRAINING or INACTIVE (ECS-R9)."""
        with self.lock:
            return not any(s.arn == service_arn and s.status != "ACTIVE" for s in self.services.values())

    def target_health(self, tg_arn, ip):
        """(state, reason, description) of a task's target in ``tg_arn``, or None when no task of
        the simulator has that ip (ECS-R2)."""
        self.reconcile()
        t = self.clock()
        with self.lock:
            for svc in self.services.values():
                if not any(lb.get("targetGroupArn") == tg_arn for lb in svc.load_balancers):
                    continue
                for d in svc.deployments:
                    for k in d.tasks:
                        if k.ip == ip:
                            h = k.health(t)
                            if h == "initial":
                                return ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
                            if h == "unhealthy":
                                return ("unhealthy", "Target.ResponseCodeMismatch",
                                        "Health checks failed with these codes: [500]")
                            if h == "healthy":
                                return ("healthy", None, None)
        return None

    def serving_for_target_group(self, tg_arn):
        """What alb.py's task_set_for gives for a group served by a plain service: the newest
        deployment with a healthy task there ({"id", "arn", "image", "status"}), or None."""
        t = self.clock()
        with self.lock:
            for svc in self.services.values():
                if not any(lb.get("targetGroupArn") == tg_arn for lb in svc.load_balancers):
                    continue
                for d in svc.deployments:
                    if any(k.health(t) == "healthy" for k in d.tasks):
                        return {"id": d.id, "arn": f"{svc.arn}#{d.id}", "image": d.image, "status": d.status}
        return None

    def snapshot(self):
        t = self.clock()
        with self.lock:
            return {(f"{c}/{n}" if r == "us-east-1" else f"{r}/{c}/{n}"): {"status": s.status, "desired": s.desired, "deployments": [
                {"id": d.id, "status": d.status, "taskDefinition": d.task_definition, "image": d.image,
                 "tasks": [{"ip": k.ip, "state": k.state(t), "health": k.health(t)} for k in d.tasks]}
                for d in s.deployments]} for (r, c, n), s in self.services.items()}
