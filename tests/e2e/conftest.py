"""End-to-end fixtures: the real sandbox (tests/sandbox/up.sh) on http://127.0.0.1:4566.

The session fixture starts the sandbox when it is not up (and stops it at the end
only then). Every test gets ``sb`` (an ``E2E`` helper around ``tests/sandbox/client.Sandbox``)
and leaves the sandbox clean even when it fails: no deployment in progress, no running
hookline execution, no fault, alarm OK, production on one side.

Concurrent runs (pytest-xdist, ``make e2e``): every worker runs its own sandbox, so the tests keep
the demo's fixed names (``web`` on :80, ``api``, ``admin``). Worker ``gw0`` uses the sandbox of
the environment (SANDBOX_PORT, SANDBOX_MOTO_PORT, SANDBOX_LAMBDA_PORT, SANDBOX_STATE, defaults
4566 / 4567 / 9000 / .sandbox); worker ``gwN`` the same ports + 2N and state ``<SANDBOX_STATE>-gwN``
(``worker_sandbox_env``), set before ``client`` reads them. What the run aggregates is brought
together: the fault-matrix cells and chaos results through xdist's worker output to the controller,
which prints and writes the table; the IAM usage of every worker's sandbox is read by
test_zz_iam_usage.py once every other test of the run has ended (``wait_for_the_rest_of_the_run``).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "sandbox"))
WORKER = os.environ.get("PYTEST_XDIST_WORKER")          # "gw3" in an xdist worker, else None
# Where the workers of one xdist run leave what the run aggregates (tests ended, sandboxes used).
RUN_DIR = os.path.join(tempfile.gettempdir(), "hookline-e2e-" + os.environ.get("PYTEST_XDIST_TESTRUNUID", "solo"))


def worker_sandbox_env(environ, worker):
    """The SANDBOX_* variables of xdist worker ``worker`` (``gwN``): ``gw0`` keeps the environment's
    sandbox, ``gwN`` takes every port + 2N (up.sh's default runtime-API proxy port, lambda + 1, follows)
    and the state directory ``<SANDBOX_STATE>-gwN``."""
    n = int(worker[2:])
    if n == 0:
        return {}
    out = {}
    for var, default in (("SANDBOX_PORT", 4566), ("SANDBOX_MOTO_PORT", 4567), ("SANDBOX_LAMBDA_PORT", 9000)):
        out[var] = str(int(environ.get(var) or default) + 2 * n)
    if environ.get("SANDBOX_RUNTIME_PROXY_PORT"):
        out["SANDBOX_RUNTIME_PROXY_PORT"] = str(int(environ["SANDBOX_RUNTIME_PROXY_PORT"]) + 2 * n)
    out["SANDBOX_STATE"] = f"{environ.get('SANDBOX_STATE') or '.sandbox'}-{worker}"
    out["SANDBOX_ENDPOINT"] = f"http://127.0.0.1:{out['SANDBOX_PORT']}"
    return out


if WORKER:
    os.environ.update(worker_sandbox_env(os.environ, WORKER))

from client import DEFAULT_ENDPOINT, TERMINAL, Sandbox  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"
STATE_MACHINES = ("hookline-canary", "hookline-post-traffic", "hookline-release", "hookline-rollback")
MATRIX_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault-matrix.txt")
# the plans' HTTP gate: the ALB emulation's test listener on this sandbox (SANDBOX_ENDPOINT)
GATE_URL = DEFAULT_ENDPOINT.rstrip("/") + "/_sandbox/alb/8080/health"
# Simulator timing for the suite: a hook nobody reports fails the deployment (TIMEOUT) after
# HOOK_TIMEOUT_S instead of an hour, so a hung hook shows up as a test failure, not a hang.
HOOK_TIMEOUT_S = 90
TERMINATION_WAIT_S = 1


def sm_arn(name):
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def exec_arn(sm, name):
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{sm}:{name}"


def plan(steps, interval="1s", alarms=("web-5xx",), http=True, post_bake="1s", budget="10m", **health):
    """A plan with second-scale timings (the sandbox's HTTP gate on the test listener)."""
    h = {"interval": interval, "alarms": list(alarms)}
    if http:
        h["http"] = [{"url": GATE_URL, "expect_status": 200, "timeout": "2s"}]
    h.update(health)
    return {"steps": steps, "health": h, "post_traffic": {"bake": post_bake}, "hook_budget": budget}


class WeightRecorder:
    """Polls the production listener every ``period`` s in its own thread and records the
    distinct consecutive green percentages (and rules count) it sees."""

    def __init__(self, endpoint, green, period=0.1, port=80):
        self.sb = Sandbox(endpoint)
        self.green = green
        self.period = period
        self.port = port
        self.seen = []          # distinct consecutive (green %, blue %) pairs
        self.reads = []         # (t, green %, blue %)
        self.errors = []
        self._stop = threading.Event()
        self._arn = self.sb.listener_arn(port)
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                w = self.sb.listener_weights(self._arn)
                g = w.get(self.green, 0)
                b = sum(v for k, v in w.items() if k != self.green)
                self.reads.append((time.time(), g, b))
                if not self.seen or self.seen[-1] != (g, b):
                    self.seen.append((g, b))
            except Exception as e:  # keep polling; report at the end
                self.errors.append(repr(e))
            self._stop.wait(self.period)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(10)
        return self

    def green_sequence(self):
        return [g for g, _ in self.seen]

    def first_read(self, predicate, after=0.0):
        """Time of the first read at/after ``after`` with predicate(green, blue)."""
        for t, g, b in self.reads:
            if t >= after and predicate(g, b):
                return t
        return None


class E2E(Sandbox):
    """Sandbox client plus the helpers the scenarios share."""

    # ------------------------------------------------------------- simulator state
    def cd_state(self):
        return self._ctl("GET", "/codedeploy")

    def hook_records(self, deployment_id):
        """[{"event", "status", "reports": [statuses...], "closed"}] for the deployment's hooks."""
        return self.cd_state()["hooks"].get(deployment_id, [])

    def hook_report(self, deployment_id, event):
        recs = [h for h in self.hook_records(deployment_id) if h["event"] == event]
        assert len(recs) == 1, f"{deployment_id}: {event} invoked {len(recs)} times: {recs}"
        return recs[0]

    def assert_hook_once(self, deployment_id, event, status):
        """The hook was reported exactly once (one PutLifecycleEventHookExecutionStatus call) with ``status``."""
        h = self.hook_report(deployment_id, event)
        assert h["status"] == status and h["reports"] == [status], \
            f"{deployment_id} {event}: status {h['status']}, report attempts {h['reports']} (wanted once {status})"
        # and CodeDeploy's own view agrees
        ev = self.events(deployment_id)
        assert ev.get(event) == status, f"{deployment_id}: lifecycle events {ev}"

    # ------------------------------------------------------------- sides
    def prod_groups(self):
        """(blue, green) target group names for the next deployment: blue = behind the PRIMARY task set."""
        ts = [t for t in self.task_sets() if t["status"] == "PRIMARY"]
        blue = ts[0]["target_group"] if ts else "web-blue"
        return blue, ("web-green" if blue == "web-blue" else "web-blue")

    def one_side(self):
        """True when production forwards 100 % to one group (default action) and there is no weighted rule."""
        w = self.listener_weights(80)
        return sorted(w.values()) == [0, 100] or list(w.values()) == [100]

    def green_share(self, green):
        return self.listener_weights(80).get(green, 0)

    # ------------------------------------------------------------- executions
    def execution(self, deployment_id, event="BeforeAllowTraffic"):
        sm = "hookline-canary" if event == "BeforeAllowTraffic" else "hookline-post-traffic"
        arn = exec_arn(sm, f"{deployment_id}-{event}")
        try:
            return self.sfn.describe_execution(executionArn=arn)
        except self.sfn.exceptions.ExecutionDoesNotExist:
            return None

    def wait_execution(self, deployment_id, event="BeforeAllowTraffic", timeout=60, poll=0.2):
        end = time.time() + timeout
        while time.time() < end:
            e = self.execution(deployment_id, event)
            if e:
                return e
            time.sleep(poll)
        raise AssertionError(f"no {event} execution for {deployment_id} after {timeout}s "
                             f"(events {self.events(deployment_id)})")

    def wait_execution_done(self, arn, timeout=60, poll=0.2):
        end = time.time() + timeout
        while time.time() < end:
            e = self.sfn.describe_execution(executionArn=arn)
            if e["status"] != "RUNNING":
                return e
            time.sleep(poll)
        raise AssertionError(f"execution {arn} still RUNNING after {timeout}s")

    def history(self, arn):
        out, tok = [], None
        while True:
            kw = {"executionArn": arn, "maxResults": 1000}
            if tok:
                kw["nextToken"] = tok
            r = self.sfn.get_execution_history(**kw)
            out += r["events"]
            tok = r.get("nextToken")
            if not tok:
                return out

    def entered(self, arn, state):
        return sum(1 for e in self.history(arn) if e["type"].endswith("StateEntered")
                   and e.get("stateEnteredEventDetails", {}).get("name") == state)

    def wait_state(self, arn, state, count=1, timeout=60, poll=0.1):
        """Wait until ``state`` was entered ``count`` times (returns the history)."""
        end = time.time() + timeout
        while time.time() < end:
            h = self.history(arn)
            n = sum(1 for e in h if e["type"].endswith("StateEntered")
                    and e.get("stateEnteredEventDetails", {}).get("name") == state)
            if n >= count:
                return h
            st = self.sfn.describe_execution(executionArn=arn)["status"]
            if st != "RUNNING":
                raise AssertionError(f"{arn} ended {st} before entering {state} x{count}")
            time.sleep(poll)
        raise AssertionError(f"{arn}: {state} not entered x{count} after {timeout}s")

    def states_entered(self, arn):
        return [e["stateEnteredEventDetails"]["name"] for e in self.history(arn)
                if e["type"].endswith("StateEntered")]

    def task_failures(self, arn):
        """[(error, cause)] of the execution's failed Lambda tasks (retried or caught)."""
        out = []
        for e in self.history(arn):
            d = e.get("lambdaFunctionFailedEventDetails") or e.get("taskFailedEventDetails")
            if e["type"] in ("LambdaFunctionFailed", "TaskFailed") and d:
                out.append((d.get("error"), (d.get("cause") or "")[:200]))
        return out

    def approval_token(self, arn, timeout=60, poll=0.2):
        """The task token of the waiting approval (GetExecutionHistory taskScheduledEventDetails.parameters)."""
        end = time.time() + timeout
        while time.time() < end:
            for e in reversed(self.history(arn)):
                d = e.get("taskScheduledEventDetails")
                if e["type"] == "TaskScheduled" and d and "waitForTaskToken" in d.get("resource", ""):
                    params = json.loads(d["parameters"])
                    msg = params.get("Message")
                    if isinstance(msg, str):
                        msg = json.loads(msg)
                    return msg["task_token"], msg
            st = self.sfn.describe_execution(executionArn=arn)["status"]
            if st != "RUNNING":
                raise AssertionError(f"{arn} ended {st} without an approval request: {self.states_entered(arn)}")
            time.sleep(poll)
        raise AssertionError(f"{arn}: no approval request after {timeout}s")

    def running_executions(self):
        out = []
        for sm in STATE_MACHINES:
            try:
                out += self.sfn.list_executions(stateMachineArn=sm_arn(sm), statusFilter="RUNNING")["executions"]
            except Exception:
                pass
        return out

    # ------------------------------------------------------------- deployments
    def active_deployments(self):
        return [d["deploymentId"] for d in self.cd_state()["deployments"] if d["status"] not in TERMINAL]

    def deploy(self, image, **kw):
        return self.start_deployment(image, **kw)

    def wait_terminal(self, deployment_id, timeout=120):
        return self.wait_for_status(deployment_id, TERMINAL, timeout=timeout)

    def clean(self, why=""):
        """Bring the sandbox back to a clean state; returns a list of what had to be cleaned."""
        dirty = []
        self.clear_faults()
        for did in self.active_deployments():
            dirty.append(f"deployment {did} in progress")
            try:
                self.codedeploy.stop_deployment(deploymentId=did, autoRollbackEnabled=True)
            except Exception as e:
                dirty.append(f"stop {did}: {e}")
        end = time.time() + 60
        while self.active_deployments() and time.time() < end:
            time.sleep(0.3)
        for e in self.running_executions():
            # give executions of ended deployments a moment to notice on their own
            pass
        end = time.time() + 15
        while self.running_executions() and time.time() < end:
            time.sleep(0.3)
        for e in self.running_executions():
            dirty.append(f"execution {e['name']} still RUNNING")
            try:
                self.sfn.stop_execution(executionArn=e["executionArn"], error="E2ECleanup")
            except Exception:
                pass
        if self.alarm_state("web-5xx") != "OK":
            self.set_alarm("web-5xx", "OK", reason="e2e cleanup")
        dirty += self.clean_admin()
        if not self.one_side():
            dirty.append(f"production split {self.listener_weights(80)}")
            blue, _ = self.prod_groups()
            arn = self.listener_arn(80)
            tg = self.elbv2.describe_target_groups(Names=[blue])["TargetGroups"][0]["TargetGroupArn"]
            self.elbv2.modify_listener(ListenerArn=arn, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        for r in self.rules(80):
            dirty.append(f"rule left on :80 {r['conditions']}")
            self.elbv2.delete_rule(RuleArn=r["arn"])
        self.traffic(False)
        self.clear_faults()
        return dirty

    def clean_admin(self):
        """The second demo service (``admin``, production on the ``/admin*`` rule of :80): alarm OK,
        its rule forwarding to one side only (its PRIMARY task set's group). Its deployments are
        stopped with the others; its cohort rules go with every other rule left on :80."""
        dirty = []
        if self.alarm_state("admin-5xx") != "OK":
            self.set_alarm("admin-5xx", "OK", reason="e2e cleanup")
        rule = self.admin_rule()
        if rule and sorted(rule["weights"].values()) not in ([0, 100], [100]):
            dirty.append(f"admin production rule split {rule['weights']}")
            ts = [t for t in self.task_sets(service="admin") if t["status"] == "PRIMARY"]
            blue = ts[0]["target_group"] if ts else "admin-blue"
            tg = self.elbv2.describe_target_groups(Names=[blue])["TargetGroups"][0]["TargetGroupArn"]
            self.elbv2.modify_rule(RuleArn=rule["arn"], Actions=[{"Type": "forward", "TargetGroupArn": tg}])
        return dirty


@pytest.fixture(scope="session")
def sandbox_session():
    probe = Sandbox()
    started = False
    env = dict(os.environ)
    if not probe.is_up() or not all(probe.health().values()):
        port = DEFAULT_ENDPOINT.rstrip("/").rsplit(":", 1)[-1]
        if port.isdigit():
            env.setdefault("SANDBOX_PORT", port)
        r = subprocess.run(["bash", os.path.join(ROOT, "tests", "sandbox", "up.sh")], cwd=ROOT, env=env)
        assert r.returncode == 0, f"tests/sandbox/up.sh failed (see {sandbox_state_dir()}/*.log)"
        started = True
    record_run("sandbox", sandbox_state_dir())
    sb = E2E()
    old = sb._ctl("GET", "/config")
    sb.config(hook_timeout_s=HOOK_TIMEOUT_S, termination_wait_s=TERMINATION_WAIT_S, hook_invoke_retries=0)
    sb.clean()
    yield sb
    try:
        sb.clean()
        sb.config(**{k: old[k] for k in ("hook_timeout_s", "termination_wait_s", "hook_invoke_retries",
                                         "hook_retry_delay_s") if k in old})
    finally:
        if started:
            subprocess.run(["bash", os.path.join(ROOT, "tests", "sandbox", "down.sh")], cwd=ROOT, env=env)


@pytest.fixture
def sb(sandbox_session):
    """The sandbox, clean before and after the test (teardown cleans even after a failure)."""
    s = sandbox_session
    s.clean()
    s.config(hook_timeout_s=HOOK_TIMEOUT_S, termination_wait_s=TERMINATION_WAIT_S, hook_invoke_retries=0)
    reports_before = s.cd_state().get("report_seq", 0)
    yield s
    dirty = s.clean()
    s.config(hook_timeout_s=HOOK_TIMEOUT_S, termination_wait_s=TERMINATION_WAIT_S, hook_invoke_retries=0)
    if dirty:
        print(f"e2e teardown cleaned: {dirty}")
    bad = failed_report_violations(s.cd_state(), reports_before)
    assert not bad, "production was not blue 100 % without a hookline rule when a hook was reported Failed:\n  " \
        + "\n  ".join(bad)


def failed_report_violations(cd_state, after_seq=0):
    """Every Failed hook report (PutLifecycleEventHookExecutionStatus) numbered after ``after_seq`` at
    whose moment the simulator saw production not entirely on blue: a forward of the production
    listener that references the deployment's groups giving blue less than 100 %, or a rule tagged
    hookline:managed that forwards to the deployment's groups or names the deployment in a tag."""
    out = []
    for did, hooks in (cd_state.get("hooks") or {}).items():
        for h in hooks:
            for r in h.get("report_log") or []:
                if r.get("seq", 0) <= after_seq or r.get("status") != "Failed":
                    continue
                where = f"{did} {h['event']} Failed report #{r['seq']} ({'accepted' if r.get('accepted') else 'rejected'})"
                p = r.get("production") or {"error": "no production record"}
                if "error" in p:
                    out.append(f"{where}: {p['error']}")
                    continue
                groups = {p.get("blue"), p.get("green")} - {None}
                for f in p.get("forwards") or []:
                    if f["weights"].get(p["blue"], 0) != 100:
                        out.append(f"{where}: {f['rule'] if f['rule'] == 'default' else 'rule ' + str(f['priority'])}"
                                   f" forwarded {f['weights']} (blue is {p['blue']})")
                for m in p.get("managed_rules") or []:
                    if set(m.get("target_groups") or []) & groups or any(did in str(v) for v in m["tags"].values()):
                        out.append(f"{where}: hookline rule at priority {m['priority']} {m['tags']} -> {m['target_groups']}")
    return out


@pytest.fixture
def recorder(sb):
    recs = []

    def make(green, period=0.1):
        r = WeightRecorder(sb.endpoint, green, period=period).start()
        recs.append(r)
        return r

    yield make
    for r in recs:
        r.stop()


# ------------------------------------------------------------------ what the run aggregates
def sandbox_state_dir():
    """This process's sandbox state directory (SANDBOX_STATE, as up.sh resolves it)."""
    state = os.environ.get("SANDBOX_STATE") or os.path.join(ROOT, ".sandbox")
    return state if os.path.isabs(state) else os.path.join(ROOT, state)


def record_run(kind, line):
    """Appends ``line`` to the run's ``kind`` record (one file per worker; nothing outside xdist)."""
    if WORKER:
        os.makedirs(RUN_DIR, exist_ok=True)
        with open(os.path.join(RUN_DIR, f"{kind}-{WORKER}"), "a") as f:
            f.write(line + "\n")


def run_records(kind):
    """Every line the workers of this run appended to their ``kind`` record."""
    out = []
    if os.path.isdir(RUN_DIR):
        for name in sorted(os.listdir(RUN_DIR)):
            if name.startswith(kind + "-"):
                with open(os.path.join(RUN_DIR, name)) as f:
                    out += [line.rstrip("\n") for line in f if line.strip()]
    return out


def sandbox_state_dirs():
    """The state directories of every sandbox this run used: every worker's under xdist, else this one's."""
    return sorted(set(run_records("sandbox"))) if WORKER else [sandbox_state_dir()]


def pytest_runtest_logfinish(nodeid, location):
    record_run("ended", nodeid)


def wait_for_the_rest_of_the_run(session, module, timeout=1800, poll=2):
    """Under xdist, waits until every test of the session outside ``module`` (a file name) has ended on
    some worker: a check over the whole run (test_zz_iam_usage.py) runs after everything else, as it does
    in one process by its file name. xdist hands out tests in collection order and never takes one back,
    so ``module``'s tests, collected last, wait only for tests already given to the workers."""
    if not WORKER:
        return
    want = {item.nodeid for item in session.items if os.path.basename(str(item.fspath)) != module}
    end = time.time() + timeout
    missing = want - set(run_records("ended"))
    while missing and time.time() < end:
        time.sleep(poll)
        missing = want - set(run_records("ended"))
    assert not missing, f"{len(missing)} tests of the run had not ended after {timeout}s: {sorted(missing)[:5]}"


# ------------------------------------------------------------------ fault matrix report
MATRIX = {}


def record_cell(state, fault, outcome, ok, order=None):
    """One cell of the fault-matrix table; ``order`` (the cell's place in its suite) orders rows and
    columns, whichever worker ran it."""
    MATRIX[(state, fault)] = (outcome, ok, len(MATRIX) if order is None else order)


def pytest_sessionstart(session):
    MATRIX.clear()


def render_matrix():
    if not MATRIX:
        return ""
    states = []
    faults = []
    for s, f in sorted(MATRIX, key=lambda k: MATRIX[k][2]):
        if s not in states:
            states.append(s)
        if f not in faults:
            faults.append(f)
    cell = {k: (("" if ok else "FAIL: ") + o) for k, (o, ok, _) in MATRIX.items()}
    w0 = max(len("state"), *(len(s) for s in states))
    ws = [max(len(f), *(len(cell.get((s, f), "-")) for s in states)) for f in faults]
    line = "+" + "+".join("-" * (w + 2) for w in [w0] + ws) + "+"
    out = [line, "| " + " | ".join(x.ljust(w) for x, w in zip(["state"] + faults, [w0] + ws)) + " |", line]
    for s in states:
        out.append("| " + " | ".join(x.ljust(w) for x, w in
                                     zip([s] + [cell.get((s, f), "-") for f in faults], [w0] + ws)) + " |")
    out.append(line)
    return "\n".join(out)


def pytest_sessionfinish(session, exitstatus):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # an xdist worker: hand the cells and schedules to the controller, which prints and writes them
        workeroutput["fault_matrix"] = json.dumps([[s, f, *v] for (s, f), v in MATRIX.items()])
        workeroutput["chaos"] = json.dumps(chaos_played())
        return
    for d in WORKER_RUN_DIRS:
        shutil.rmtree(d, ignore_errors=True)
    text = render_matrix()
    if text:
        with open(MATRIX_FILE, "w") as f:
            f.write("hookline fault matrix (state x fault -> outcome)\n" + text + "\n")


# Chaos schedules played by the workers of this run (the controller's copy; a single process reads test_chaos).
CHAOS_FROM_WORKERS = []
WORKER_RUN_DIRS = set()   # the workers' RUN_DIR, removed by the controller at the end


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_setupnodes(config, specs):
    """Off a terminal (CI's log) xdist writes its workers' status as lines ("bringing up nodes...",
    twice); the run prints what it printed in one process."""
    trdist = config.pluginmanager.getplugin("terminaldistreporter")
    if trdist is not None and not getattr(trdist, "_isatty", True):
        trdist.ensure_show_status = lambda: None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: a worker ended; keep its fault-matrix cells and chaos schedules."""
    WORKER_RUN_DIRS.add(os.path.join(tempfile.gettempdir(), "hookline-e2e-" + node.workerinput["testrunuid"]))
    out = getattr(node, "workeroutput", None) or {}
    for s, f, outcome, ok, order in json.loads(out.get("fault_matrix", "[]")):
        MATRIX[(s, f)] = (outcome, ok, order)
    CHAOS_FROM_WORKERS.extend(json.loads(out.get("chaos", "[]")))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = render_matrix()
    if text:
        terminalreporter.section("hookline fault matrix (state x fault -> outcome)")
        terminalreporter.write_line(text)
    chaos = chaos_summary()
    if chaos:
        terminalreporter.section("hookline randomized fault schedules")
        for line in chaos:
            terminalreporter.write_line(line)


# ------------------------------------------------------------------ chaos summary (test_chaos.py)
def chaos_played():
    """The CodeDeploy schedules played in this process, with their seed (test_chaos.RESULTS)."""
    mod = sys.modules.get("test_chaos")
    results = getattr(mod, "RESULTS", None) if mod else None
    return [dict(r, seed=r.get("seed", mod.SEED)) for r in results or [] if r.get("controller") == "codedeploy"]


def chaos_summary():
    """Lines summarizing the CodeDeploy randomized fault schedules played in this session (empty if none)."""
    results = sorted(chaos_played() + CHAOS_FROM_WORKERS, key=lambda r: r["index"])
    if not results:
        return []
    bad = sum(1 for r in results if r["violations"])
    lines = [f"{len(results)} schedules, seed {results[0]['seed']}, {bad} with invariant violations, "
             f"{sum(r['seconds'] for r in results):.0f} s of deployments"]
    for r in results:
        lines.append(f"  #{r['index']:<4} {r['status']:<9} {r['seconds']:>6.1f}s  {' '.join(r['actions']) or '-'}"
                     + (f"  VIOLATIONS: {r['violations']}" if r["violations"] else ""))
    return lines


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: waits real AWS durations (Route 53's 60 s TTL in every DNS "
                                       "bake); make e2e runs them, deselect with -m 'not slow'")
