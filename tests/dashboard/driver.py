"""Sandbox driver for the dashboard browser test (tests/dashboard/test_dashboard.mjs).

Starts the sandbox when it is not up (tests/sandbox/up.sh on SANDBOX_PORT...), reuses the e2e helpers
(tests/e2e/conftest.E2E: clean, deploy, listener weights), and answers one JSON command per stdin line with
one JSON line on stdout. On ``quit`` (or stdin closing) it cleans the sandbox and stops it if it started it.

While a deployment runs, a thread reads the production listener (ELBv2 DescribeListeners) every 200 ms so the
test can compare the dashboard's chart with the weights the listener really had.
"""
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "tests", "sandbox"))

import importlib.util  # noqa: E402

from client import Sandbox  # noqa: E402

# tests/e2e/conftest.py by path: tests/sandbox has a conftest module of its own on sys.path.
_spec = importlib.util.spec_from_file_location("e2e_conftest", os.path.join(ROOT, "tests", "e2e", "conftest.py"))
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)
E2E, HOOK_TIMEOUT_S, TERMINATION_WAIT_S = e2e.E2E, e2e.HOOK_TIMEOUT_S, e2e.TERMINATION_WAIT_S
# The ECS-native e2e helpers (the demo service ``api``, a PAUSE hook) import ``conftest``: the e2e one.
sys.modules.setdefault("conftest", e2e)
import test_ecs_gate  # noqa: E402
import test_ecs_native  # noqa: E402

ECS_ENDED = ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Driver:
    def __init__(self):
        self.started = False
        self.readings = []      # (epoch ms, blue %, green %) of the production listener
        self.groups = None      # (blue, green) target group names of the deployment being read
        self.stop_reading = threading.Event()
        self.lock = threading.Lock()
        self.ecs = None         # (test_ecs_native.Api, its deployment configuration before) once ECS is used

    def up(self):
        probe = Sandbox()
        if not probe.is_up() or not all(probe.health().values()):
            r = subprocess.run(["bash", os.path.join(ROOT, "tests", "sandbox", "up.sh")], cwd=ROOT,
                               stdout=sys.stderr, stderr=sys.stderr)
            if r.returncode != 0:
                raise RuntimeError("tests/sandbox/up.sh failed")
            self.started = True
        self.sb = E2E()
        self.sb.config(hook_timeout_s=HOOK_TIMEOUT_S, termination_wait_s=TERMINATION_WAIT_S, hook_invoke_retries=0)
        self.sb.clean()
        self.reader = threading.Thread(target=self.read_loop, daemon=True)
        self.reader.start()
        env = {k: v for k, v in self.sb.env().items() if k.startswith("AWS_")}
        env.pop("AWS_PROFILE", None)
        return {"ready": True, "env": env, "endpoint": self.sb.endpoint}

    def read_loop(self):
        reader = Sandbox(self.sb.endpoint)
        while not self.stop_reading.is_set():
            groups = self.groups
            if groups:
                try:
                    w = reader.listener_weights(80)
                    with self.lock:
                        self.readings.append((int(time.time() * 1000), w.get(groups[0], 0), w.get(groups[1], 0)))
                except Exception as e:  # keep reading; the test sees the gap
                    print(f"driver: reading the listener: {e}", file=sys.stderr)
            time.sleep(0.2)

    def deploy(self, plan):
        self.sb.put_plan(plan)
        blue, green = self.sb.prod_groups()
        with self.lock:
            self.groups = (blue, green)
            self.readings = []
        did = self.sb.deploy("example/web:v2")
        return {"id": did, "blue": blue, "green": green}

    def ecs_pause(self, image):
        """The ECS-native service ``api`` (cluster ``demo``) with one PAUSE hook at POST_TEST_TRAFFIC_SHIFT
        (tests/e2e/test_ecs_gate.py's ``paused_service``), deployed with ``image``; returns once ECS
        (DescribeServiceDeployments) has the hook AWAITING_ACTION. ``ecs_restore`` puts the service back."""
        api = test_ecs_native.Api(self.sb)
        api.settle()
        if self.ecs is None:
            self.ecs = (api, api.service()["deploymentConfiguration"])
        test_ecs_gate.paused_service(api)
        arn = api.deploy(image)
        hook = test_ecs_gate.awaiting_pause(api, arn)
        blue, green = api.sides(arn)
        return {"arn": arn, "hook_id": hook["hookId"], "blue": blue, "green": green}

    def ecs_deployment(self, arn):
        """The service deployment as DescribeServiceDeployments gives it, and the production rule's weights."""
        api = self.ecs[0]
        d = api.deployment(arn)
        hooks = [{"hook_id": h.get("hookId"), "type": h.get("targetType"), "status": h.get("status")}
                 for h in d.get("lifecycleHookDetails") or []]
        rollback = (d.get("rollback") or {}).get("reason")
        return {"status": d["status"], "rollback_reason": rollback, "hooks": hooks, "weights": api.weights()}

    def ecs_wait(self, arn, timeout):
        self.ecs[0].wait(arn, ECS_ENDED, timeout=timeout)
        return self.ecs_deployment(arn)

    def ecs_restore(self):
        """Stops an unfinished deployment of ``api`` (ECS rollback) and puts its deployment configuration
        back (as tests/e2e/test_ecs_native.py's ``api`` fixture does)."""
        if self.ecs is None:
            return []
        api, configuration = self.ecs
        dirty = []
        for d in api.deployments():
            if d["status"] in ("PENDING", "IN_PROGRESS"):
                dirty.append(f"ECS deployment {d['serviceDeploymentArn']} {d['status']}")
                api.ecs.stop_service_deployment(serviceDeploymentArn=d["serviceDeploymentArn"], stopType="ROLLBACK")
                api.wait(d["serviceDeploymentArn"], ECS_ENDED, timeout=60)
        if api.service()["deploymentConfiguration"] != configuration:
            api.ecs.update_service(cluster="demo", service="api", deploymentConfiguration=configuration)
        self.ecs = None
        return dirty

    def weights(self):
        w = self.sb.listener_weights(80)
        blue, green = self.groups
        return {"blue": w.get(blue, 0), "green": w.get(green, 0), "rules": len(self.sb.rules(80))}

    def handle(self, cmd):
        c = cmd["cmd"]
        if c == "up":
            return self.up()
        if c == "deploy":
            return self.deploy(cmd["plan"])
        if c == "weights":
            return self.weights()
        if c == "readings":
            with self.lock:
                return {"readings": list(self.readings)}
        if c == "status":
            return {"status": self.sb.status(cmd["id"])}
        if c == "wait_status":
            info = self.sb.wait_for_status(cmd["id"], cmd["statuses"], timeout=cmd.get("timeout", 120))
            return {"status": info["status"]}
        if c == "executions":
            return {"executions": [{"name": e["name"], "status": e["status"]}
                                   for e in self.sb.executions(cmd["id"])]}
        if c == "ecs_pause":
            return self.ecs_pause(cmd["image"])
        if c == "ecs_deployment":
            return self.ecs_deployment(cmd["arn"])
        if c == "ecs_wait":
            return self.ecs_wait(cmd["arn"], cmd.get("timeout", 120))
        if c == "clean":
            return {"dirty": self.ecs_restore() + self.sb.clean()}
        raise ValueError(f"unknown command {c!r}")

    def down(self):
        self.stop_reading.set()
        try:
            if hasattr(self, "sb"):
                self.ecs_restore()
                self.sb.clean()
        finally:
            if self.started:
                subprocess.run(["bash", os.path.join(ROOT, "tests", "sandbox", "down.sh")], cwd=ROOT,
                               stdout=sys.stderr, stderr=sys.stderr)


def main():
    d = Driver()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd["cmd"] == "quit":
                break
            try:
                out({"ok": True, **d.handle(cmd)})
            except Exception as e:
                out({"ok": False, "error": f"{type(e).__name__}: {e}"})
    finally:
        d.down()
        out({"ok": True, "bye": True})


if __name__ == "__main__":
    main()
