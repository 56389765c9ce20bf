"""hookline's own Route 53 controller end to end (issue 22, docs/route53-controller.md): the real
``hookline`` binary and state machines in the sandbox, on the world the sandbox provisions for it
(hosted zone ``shop.example.com``, weighted alias records ``blue`` / ``green`` of
``web.shop.example.com``, load balancers ``r53-private-blue|green`` tagged CanaryGroup=private,
cluster ``shop`` with blue's service ``shop-web-blue``, alarm ``shop-web-5xx``).

The deployment file is ``deployfiles/shop.deploy.yml``; each test writes its variant into a
directory of its own and runs ``hookline deploy -e shop -d DIR``. State is read through AWS APIs
only: Route 53 ListResourceRecordSets (the records' weights), ECS DescribeServices (desired and
running counts), Step Functions (the execution's status), and the sandbox's call counter for
"nothing changed".
"""
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import sm_arn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "debug", "hookline")
BASE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deployfiles", "shop.deploy.yml")
ENV = "shop"
# Operation name prefixes of calls that change something (AWS's verbs), as test_doctor.py counts them.
MUTATING = ("Create", "Put", "Modify", "Delete", "Update", "Register", "Deregister", "Start", "Stop", "Set",
            "Add", "Remove", "Tag", "Untag", "Attach", "Detach", "Send", "Publish", "Invoke", "Continue",
            "Reroute", "Rollback", "Change")


def base_text():
    with open(BASE_FILE) as f:
        return f.read()


def write_file(directory, text, env=ENV):
    path = os.path.join(str(directory), f"{env}.deploy.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def hookline(sb, *args, timeout=600):
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} missing: run `cargo build -p hookline-cli` (make e2e builds it)")
    return subprocess.run([BIN, *args], env=sb.env(), capture_output=True, text=True, timeout=timeout)


def line_of(text, needle):
    """The 1-based line of the first ``needle`` in ``text`` (expected positions come from the text)."""
    at = text.index(needle)
    return text[:at].count("\n") + 1


def mutating_calls(sb):
    calls = sb.calls()["calls"]
    made = sorted(f"{svc}.{op}" for svc, ops in calls.items() for op in ops)
    return [c for c in made if c.split(".", 1)[1].startswith(MUTATING) and not c.startswith("sqs.")], made


# Ten bad files: (what is wrong, text to replace, its replacement, the key the error names, the text
# on the line the error points at). Each is one mistake a team makes in the format.
BAD_FILES = [
    ("a bake shorter than the TTL + grace", "      wait: 70\n", "      wait: 50\n",
     "canary.strategy[0].wait", "wait: 50"),
    ("a misspelt key", "    - weight: 50\n      wait: 70\n", "    - wieght: 50\n      wait: 70\n",
     "canary.strategy[0]", "wieght: 50"),
    ("a required key missing", '  cluster: "{{project}}"\n', "",
     "service.cluster", "  project: shop"),
    ("an unknown template", 'fqdn: "web.{{project}}.example.com"', 'fqdn: "web.{{prject}}.example.com"',
     "service.fqdn", "{{prject}}"),
    ("both releases the same tag", "    green: green\n", "    green: blue\n",
     "canary.releases.green", "green: blue"),
    ("a weight above 100", "    - weight: 50\n", "    - weight: 150\n",
     "canary.strategy[0].weight", "weight: 150"),
    ("no task to run", "    desired: 2\n", "    desired: 0\n",
     "canary.scale.desired", "desired: 0"),
    ("a soft memory limit above the hard one", "      memory: 512\n", "      memory: 512\n      memory_reservation: 1024\n",
     "service.containers[0].memory_reservation", "memory_reservation: 1024"),
    ("an approval after a weight no step has", "    - after_weight: 50\n", "    - after_weight: 30\n",
     "hookline.approvals[0].after_weight", "after_weight: 30"),
    ("a version YAML reads as a number", 'version: "2.0.0"', "version: 2.10",
     "service.version", "version: 2.10"),
]


def test_ten_bad_deployment_files_are_refused_naming_file_line_and_key_and_nothing_changes(sb, world, tmp_path):
    assert len(BAD_FILES) == 10
    sb.reset_calls()
    for i, (what, old, new, key, needle) in enumerate(BAD_FILES):
        text = base_text()
        assert old in text, f"{what}: {old!r} not in the base file"
        text = text.replace(old, new, 1)
        directory = tmp_path / f"bad{i}"
        directory.mkdir()
        path = write_file(directory, text)
        r = hookline(sb, "deploy", "-e", ENV, "-d", str(directory), timeout=60)
        assert r.returncode == 1, f"{what}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        lines = r.stdout.splitlines()
        line = line_of(text, needle)
        pattern = re.compile(rf"^{re.escape(path)}:{line}:\d+: {re.escape(key)}(\.\w+)?: \S")
        assert any(pattern.match(ln) for ln in lines), \
            f"{what}: no line `{path}:{line}:COL: {key}: ...` in:\n{r.stdout}\n{r.stderr}"
        assert f"{path}: " in r.stderr and "problem" in r.stderr, r.stderr
        problems = [ln for ln in lines if ln.startswith(f"{path}:")]
        if what == "a weight above 100":
            # One mistake, one problem: not also "the last weight step must be 100" or an approval
            # placed against the mistyped weight.
            assert len(problems) == 1, f"{what}: {problems}"
        assert "dns-" not in r.stdout, f"{what}: a deployment was started: {r.stdout}"
    mutating, made = mutating_calls(sb)
    assert mutating == [], f"bad files changed something: {mutating} (all calls: {made})"
    assert world.weights() == (100, 0)
    assert world.service("green") is None


# ------------------------------------------------------------------ the DNS world, through AWS APIs
ZONE = "shop.example.com."
FQDN = "web.shop.example.com."
CLUSTER = "shop"
SERVICE = {"blue": "shop-web-blue", "green": "shop-web-green"}
LOAD_BALANCER = {"blue": "r53-private-blue", "green": "r53-private-green"}
ALARM = "shop-web-5xx"
BLUE_TASK_DEFINITION = "shop-web:1"
DESIRED = 2
CANARY = "hookline-canary"


class DnsWorld:
    """The Route 53 controller's world in the sandbox, read (and, between tests, put back) through
    boto3: the two weighted alias records, the releases' ECS services, the alarm."""

    def __init__(self, sb):
        self.sb = sb
        self.r53 = sb.client("route53")
        self.ecs = sb.client("ecs")
        self.elb = sb.client("elbv2")
        zones = self.r53.list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"]
        zone = [z for z in zones if z["Name"] == ZONE]
        assert zone, f"no hosted zone {ZONE} in the sandbox (tests/sandbox provisions it)"
        self.zone_id = zone[0]["Id"].rsplit("/", 1)[-1]

    def records(self):
        """{SetIdentifier: record} of the fqdn's weighted records."""
        out, kw = {}, {"HostedZoneId": self.zone_id, "StartRecordName": FQDN, "StartRecordType": "A"}
        while True:
            page = self.r53.list_resource_record_sets(**kw)
            for r in page["ResourceRecordSets"]:
                if r["Name"] == FQDN and r["Type"] == "A" and "SetIdentifier" in r:
                    out[r["SetIdentifier"]] = r
            if not page.get("IsTruncated") or page.get("NextRecordName") != FQDN:
                return out
            kw.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"],
                      StartRecordIdentifier=page.get("NextRecordIdentifier"))

    def weights(self):
        """(blue's weight, green's weight); None for a release without a record."""
        r = self.records()
        return tuple(r[k]["Weight"] if k in r else None for k in ("blue", "green"))

    def service(self, release):
        """The release's ECS service (DescribeServices), or None when there is none that is not INACTIVE."""
        found = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE[release]])["services"]
        return next((s for s in found if s["status"] != "INACTIVE"), None)

    def wait_service(self, release, predicate, what, timeout=90):
        end = time.time() + timeout
        while True:
            s = self.service(release)
            if predicate(s):
                return s
            if time.time() > end:
                raise AssertionError(f"{SERVICE[release]}: not {what} after {timeout}s: {summary(s)}")
            time.sleep(0.5)

    def reset(self):
        """Blue live (records blue 100 / green 0, its service at 2 tasks), green without a service,
        the alarm OK: the world as provisioned (the sandbox client's restore), whatever the previous
        test left; waited until the services have settled."""
        self.sb.restore_route53_world()
        self.wait_service("green", lambda s: s is None, "gone")
        self.wait_service("blue", stable(DESIRED), f"stable at {DESIRED}")
        assert self.weights() == (100, 0), self.weights()


def summary(s):
    if s is None:
        return "no service"
    return {k: s.get(k) for k in ("status", "desiredCount", "runningCount", "pendingCount", "taskDefinition")} \
        | {"deployments": len(s.get("deployments", []))}


def stable(desired):
    """ACTIVE, `desired` tasks wanted and running, one deployment (the services_stable waiter's test)."""
    return lambda s: s is not None and s["status"] == "ACTIVE" and s["desiredCount"] == desired \
        and s["runningCount"] == desired and len(s["deployments"]) == 1


class WeightWalk:
    """Polls the two records every 0.25 s in its own thread; the distinct consecutive (blue, green)
    weights it saw."""

    def __init__(self, world):
        self.world, self.seen, self.since, self._stop = world, [], [], threading.Event()
        # When green's service was first seen with tasks, and then first seen wanting none.
        self.green_up_at = self.green_down_at = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        world = DnsWorld(self.world.sb)  # boto3 clients are not shared across threads
        while not self._stop.is_set():
            w = world.weights()
            if not self.seen or self.seen[-1] != w:
                self.seen.append(w)
                self.since.append(time.time())
            green = world.service("green")
            wanted = green["desiredCount"] if green else 0
            if wanted > 0 and self.green_up_at is None:
                self.green_up_at = time.time()
            elif wanted == 0 and self.green_up_at is not None and self.green_down_at is None:
                self.green_down_at = time.time()
            self._stop.wait(0.25)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(5)

    def wait_for(self, weights, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if self.seen and self.seen[-1] == weights:
                return
            time.sleep(0.2)
        raise AssertionError(f"records never at blue/green {weights} after {timeout}s: walked {self.seen}")


@pytest.fixture
def world(sb):
    w = DnsWorld(sb)
    w.reset()
    yield w
    # Nothing of a DNS deployment left running, whatever the test did.
    for e in sb.sfn.list_executions(stateMachineArn=sm_arn(CANARY), statusFilter="RUNNING")["executions"]:
        if e["name"].startswith("dns-"):
            sb.sfn.stop_execution(executionArn=e["executionArn"], error="E2ECleanup")
    w.reset()


def deploy_file(tmp_path, strategy, approval=None, version="2.0.0"):
    """The base file with `strategy` [(weight, wait)], one approval after `approval` (or none), and
    `version` (a tag with `bad` answers 5xx)."""
    text = base_text()
    steps = "".join(f"    - weight: {w}\n      wait: {s}\n" for w, s in strategy)
    text = re.sub(r"  strategy:\n(    .*\n)+", "  strategy:\n" + steps, text)
    text = text.replace('version: "2.0.0"', f'version: "{version}"')
    if approval is None:
        text = re.sub(r"  approvals:\n(    .*\n)+", "", text)
    else:
        text = text.replace("after_weight: 50", f"after_weight: {approval}")
    directory = tmp_path / "deploy"
    directory.mkdir()
    write_file(directory, text)
    return str(directory)


def start(sb, directory, *extra):
    r = hookline(sb, "deploy", "-e", ENV, "-d", directory, *extra, timeout=120)
    assert r.returncode == 0, f"hookline deploy: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    ids = [ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith("dns-")]
    assert ids, f"hookline deploy printed no deployment id:\n{r.stdout}\n{r.stderr}"
    return ids[-1]


def canary_execution(sb, deployment_id, timeout=60):
    return sb.wait_execution(deployment_id, "BeforeAllowTraffic", timeout=timeout)["executionArn"]


# A DNS canary's bakes are at least the records' TTL + grace (70 s): the scenarios below take one to
# four minutes each (`-m "not slow"` leaves them out).
SLOW = pytest.mark.slow

# Ready (green's service stable: seconds in the sandbox) + every bake (70 s) + the end's TTL wait.
STEP_TIMEOUT_S = 150


@SLOW
def test_a_dns_canary_with_an_approval_walks_the_weights_and_ends_on_green(sb, world, tmp_path):
    directory = deploy_file(tmp_path, [(50, 70)], approval=50)
    # The DNS data plane's clients resolve the name and send requests: the observed split.
    sb.traffic(True, dns={"enabled": True, "reset": True})
    with WeightWalk(world) as walk:
        deployment_id = start(sb, directory)
        arn = canary_execution(sb, deployment_id)
        walk.wait_for((50, 50), STEP_TIMEOUT_S)
        # Green is stable with its targets before any weight moves.
        green = world.service("green")
        assert stable(DESIRED)(green), summary(green)
        sb.approval_token(arn, timeout=STEP_TIMEOUT_S)
        assert world.weights() == (50, 50), "the approval waits at the step's weights"
        r = hookline(sb, "status", "--fqdn", FQDN, timeout=60)
        assert r.returncode == 0 and deployment_id in r.stdout, f"{r.stdout}\n{r.stderr}"
        # After a 70 s bake at 50 the last check read both load balancers' requests.
        assert re.search(r"observed green \d+\.\d% of \d+ requests \(set 50%\)", r.stdout), r.stdout
        r = hookline(sb, "approve", deployment_id, timeout=60)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        done = sb.wait_execution_done(arn, timeout=2 * STEP_TIMEOUT_S)
        assert done["status"] == "SUCCEEDED", done
        world.wait_service("blue", lambda s: s is not None and s["desiredCount"] == 0 and s["runningCount"] == 0,
                           "scaled to 0")
    assert walk.seen == [(100, 0), (50, 50), (0, 100)], f"records walked {walk.seen}"
    assert stable(DESIRED)(world.service("green")), summary(world.service("green"))
    r = hookline(sb, "status", deployment_id, timeout=60)
    assert r.returncode == 0 and "Succeeded" in r.stdout, f"{r.stdout}\n{r.stderr}"
    # After finalize the status names the last step, never one past the count ("step 4/3").
    step = re.search(r"^step\s+(\d+)/(\d+)", r.stdout, re.M)
    assert step and step.group(1) == step.group(2), r.stdout


# The records' TTL (60 s, a load balancer alias's) + the default resolver grace (10 s): resolvers
# that fetched green's answer just before DNS went back keep sending users there that long, so green
# keeps its tasks until then (docs/route53-controller.md, "What the controller must do").
TTL_PLUS_GRACE_S = 70


def assert_back_on_blue(sb, world, walk, arn):
    done = sb.wait_execution_done(arn, timeout=STEP_TIMEOUT_S)
    assert done["status"] in ("FAILED", "ABORTED"), done
    walk.wait_for((100, 0), 30)
    world.wait_service("green", lambda s: s is None or (s["desiredCount"] == 0 and s["runningCount"] == 0),
                       "scaled to 0", timeout=TTL_PLUS_GRACE_S + 60)
    time.sleep(0.6)  # one more look of the walker
    assert walk.seen == [(100, 0), (50, 50), (100, 0)], f"records walked {walk.seen}"
    assert walk.green_down_at is not None, "the walker never saw green's service wanting 0 tasks"
    blue = world.service("blue")
    assert stable(DESIRED)(blue), f"blue must keep serving: {summary(blue)}"
    # Every rollback path drains (docs/route53-controller.md decision 23); both are seen by the same
    # 0.25 s poll: each up to one poll late.
    drained = walk.green_down_at - walk.since[-1]
    assert drained >= TTL_PLUS_GRACE_S - 0.5, \
        f"green scaled to 0 {drained:.1f}s after DNS went back to blue, before the TTL + grace ({TTL_PLUS_GRACE_S}s)"
    return done


@SLOW
def test_b_an_alarm_during_a_bake_puts_dns_back_on_blue_and_scales_green_to_zero(sb, world, tmp_path):
    # Green's image tag has `bad`: its targets pass health checks and answer 5xx to requests, so the
    # DNS data plane's clients that resolve to green raise shop-web-5xx once green has a weight.
    directory = deploy_file(tmp_path, [(50, 70)], version="2.0.0-bad")
    sb.traffic(True, dns={"enabled": True, "reset": True})
    with WeightWalk(world) as walk:
        # --wait follows the deployment like `watch` and exits with its outcome: 1, Failed.
        r = hookline(sb, "deploy", "-e", ENV, "-d", directory, "--wait", timeout=2 * STEP_TIMEOUT_S)
        assert r.returncode == 1, f"hookline deploy --wait: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        deployment_id = r.stdout.splitlines()[0].strip()
        assert deployment_id.startswith("dns-"), r.stdout
        assert "ROLLBACK  DNS back to blue 100%" in r.stdout, r.stdout
        assert r.stdout.rstrip().splitlines()[-1].startswith(f"{deployment_id} Failed"), r.stdout
        arn = canary_execution(sb, deployment_id)
        done = assert_back_on_blue(sb, world, walk, arn)
    failures = [e for e, _ in sb.task_failures(arn)]
    assert "HealthCheckFailed" in failures, f"the canary must fail on its health gate: {failures}"
    assert done["status"] == "FAILED", done
    r = hookline(sb, "status", deployment_id, timeout=60)
    assert r.returncode == 0 and "Failed" in r.stdout, f"{r.stdout}\n{r.stderr}"


@SLOW
def test_c_hookline_rollback_mid_canary_puts_dns_back_on_blue_and_scales_green_to_zero(sb, world, tmp_path):
    directory = deploy_file(tmp_path, [(50, 70)])
    with WeightWalk(world) as walk:
        deployment_id = start(sb, directory)
        arn = canary_execution(sb, deployment_id)
        walk.wait_for((50, 50), STEP_TIMEOUT_S)
        r = hookline(sb, "rollback", deployment_id, "--yes", "--reason", "e2e rollback", timeout=120)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert_back_on_blue(sb, world, walk, arn)


@SLOW
def test_c3_hookline_rollback_during_an_approval_aborts_the_execution_and_frees_the_next_deploy(sb, world, tmp_path):
    """`hookline rollback` while the canary waits in RequestApproval (a `.waitForTaskToken` task): the
    execution ABORTED at once (row SFN-STOP of tests/sandbox/README.md: moto left it RUNNING until the
    approval's timeout), DNS back on blue, green scaled to 0, and the next `hookline deploy` is not
    refused as a canary still running."""
    directory = deploy_file(tmp_path, [(50, 70)], approval=50)
    with WeightWalk(world) as walk:
        deployment_id = start(sb, directory)
        arn = canary_execution(sb, deployment_id)
        walk.wait_for((50, 50), STEP_TIMEOUT_S)
        sb.approval_token(arn, timeout=STEP_TIMEOUT_S)
        r = hookline(sb, "rollback", deployment_id, "--yes", "--reason", "e2e rollback during the approval",
                     timeout=120)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert sb.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
        assert sb.running_executions() == [], sb.running_executions()
        assert_back_on_blue(sb, world, walk, arn)
    following_dir = tmp_path / "following"
    following_dir.mkdir()
    following = start(sb, deploy_file(following_dir, [(50, 70)], version="2.0.1"))
    assert following != deployment_id
    r = hookline(sb, "rollback", following, "--yes", "--reason", "e2e cleanup", timeout=120)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"


@SLOW
def test_c2_after_a_rollback_green_keeps_its_tasks_while_resolvers_still_cache_it(sb, world, tmp_path):
    directory = deploy_file(tmp_path, [(50, 70)])
    with WeightWalk(world) as walk:
        deployment_id = start(sb, directory)
        arn = canary_execution(sb, deployment_id)
        walk.wait_for((50, 50), STEP_TIMEOUT_S)
        r = hookline(sb, "rollback", deployment_id, "--yes", "--reason", "e2e rollback", timeout=120)
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert_back_on_blue(sb, world, walk, arn)
    back_at = walk.since[-1]
    # Both are seen by the same 0.25 s poll: each up to one poll late.
    assert walk.green_down_at - back_at >= TTL_PLUS_GRACE_S - 0.5, \
        f"green scaled to 0 {walk.green_down_at - back_at:.1f}s after DNS went back to blue: cached answers " \
        f"still send users to green for the TTL + grace ({TTL_PLUS_GRACE_S}s)"
    # ...and not forever: `hookline rollback` returned after the drain, green's tasks are gone.
    green = world.service("green")
    assert green is None or (green["desiredCount"] == 0 and green["runningCount"] == 0), summary(green)


def test_d_undeploy_removes_the_idle_release_and_refuses_the_live_one(sb, world, tmp_path):
    # Green idle with a service of its own (as a finished rollback leaves it: weight 0, scaled down).
    tg = world.elb.describe_target_groups(Names=[LOAD_BALANCER["green"]])["TargetGroups"][0]["TargetGroupArn"]
    world.ecs.create_service(cluster=CLUSTER, serviceName=SERVICE["green"], taskDefinition=BLUE_TASK_DEFINITION,
                             desiredCount=1, loadBalancers=[{"targetGroupArn": tg, "containerName": "web",
                                                             "containerPort": 8080}])
    world.wait_service("green", stable(1), "stable at 1")
    directory = deploy_file(tmp_path, [(50, 70)])

    r = hookline(sb, "undeploy", "-e", ENV, "-d", directory, "--release", "blue", timeout=120)
    assert r.returncode != 0, f"undeploy of the live release must be refused:\n{r.stdout}\n{r.stderr}"
    assert "CanaryRelease=blue takes the traffic" in r.stderr, f"the refusal must name the live release: {r.stderr}"
    assert world.weights() == (100, 0)
    assert stable(DESIRED)(world.service("blue")), summary(world.service("blue"))

    r = hookline(sb, "undeploy", "-e", ENV, "-d", directory, timeout=180)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    world.wait_service("green", lambda s: s is None, "removed")
    records = world.records()
    assert "green" not in records, f"green's record left: {records.get('green')}"
    assert records["blue"]["Weight"] == 100
    assert stable(DESIRED)(world.service("blue")), summary(world.service("blue"))
