"""The CodeDeploy simulator's lifecycle engine: one thread per deployment runs the ECS blue/green
lifecycle against moto (events, hooks, test and production traffic, the ready and termination
waits, alarms, stop, rollback). The API surface (sim/codedeploy/api.py) creates deployments and
signals stops/continues through the shared Registry; this module never answers API calls.
Every behaviour has a row (id CD-*) with its AWS source or its switch in codedeploy_sim.SOURCES.
Listener weights are read with alb.py's functions (one place for the weight math)."""
import base64
import json
import logging
import secrets
import threading
from urllib.parse import quote

import boto3
import requests
from botocore.config import Config as BotoConfig

from sim.alb import action_target_groups, weight_shares
from sim.codedeploy.common import EVENTS, REGION, TERMINAL, Abort, Deployment, new_deployment_id, now

log = logging.getLogger("codedeploy-sim")


class LifecycleEngine:
    def __init__(self, registry, moto_url, router_url, config):
        self.reg = registry
        self.router_url = router_url
        self.cfg = config             # the SimConfig object /_sandbox/config changes at run time
        self.ip_counter = 0
        kw = dict(endpoint_url=moto_url, region_name=REGION, aws_access_key_id="sandbox",
                  aws_secret_access_key="sandbox",
                  config=BotoConfig(retries={"max_attempts": 2, "mode": "standard"}))
        self.ecs = boto3.client("ecs", **kw)
        self.elb = boto3.client("elbv2", **kw)
        self.cw = boto3.client("cloudwatch", **kw)
        self.http = requests.Session()

    def start(self, d):
        """Run deployment ``d`` in its own thread."""
        d.thread = threading.Thread(target=self._run, args=(d,), name=f"deploy-{d.id}", daemon=True)
        d.thread.start()


    def _set_status(self, d, status):
        with self.reg.lock:
            d.info["status"] = status
            g = self.reg.groups.get((d.info["applicationName"], d.info["deploymentGroupName"]))
            if g and not d.is_rollback:
                g["lastAttemptedDeployment"] = {"deploymentId": d.id, "status": status,
                                                "createTime": d.info["createTime"]}
                if status in TERMINAL:
                    g["lastAttemptedDeployment"]["endTime"] = now()
                if status == "Succeeded":
                    g["lastSuccessfulDeployment"] = dict(g["lastAttemptedDeployment"])
            ov = {k: 0 for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}
            ts = {"Created": "Pending", "Queued": "Pending", "InProgress": "InProgress", "Ready": "Ready",
                  "Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Failed"}[status]
            ov[ts] = 1
            d.info["deploymentOverview"] = ov
            d.target_status = ts if status != "Stopped" else "Failed"
            d.target_updated = now()
            if status in TERMINAL:
                d.info["completeTime"] = now()
            self.reg.cond.notify_all()


    def _ev(self, d, name, status):
        with self.reg.lock:
            e = d.event(name)
            if status == "InProgress":
                e["startTime"] = now()
            elif "startTime" not in e:
                e["startTime"] = now()
            if status not in ("InProgress", "Pending"):
                e["endTime"] = now()
            e["status"] = status
            d.target_updated = now()


    def _wait(self, d, timeout, pred):
        """Wait until pred() or timeout; raises Abort on stop/alarm. Returns pred()."""
        deadline = now() + timeout
        next_alarm = 0
        with self.reg.lock:
            while True:
                if d.stop:
                    raise Abort("Stopped", d.stop["code"], d.stop["message"],
                                 "DEPLOYMENT_STOP_ON_REQUEST" if d.stop["rollback"] else None)
                if pred():
                    return True
                t_now = now()
                if t_now >= deadline:
                    return False
                if t_now >= next_alarm:
                    self.reg.lock.release()
                    try:
                        self._check_alarms(d)
                    finally:
                        self.reg.lock.acquire()
                    next_alarm = t_now + self.cfg.alarm_poll_s
                    continue
                self.reg.cond.wait(min(deadline - t_now, max(0.05, next_alarm - t_now)))


    def _check_alarms(self, d):
        # CD-ALARM: "false: The deployment stops if alarm status information can't be retrieved from
        # Amazon CloudWatch." (API reference, AlarmConfiguration.ignorePollAlarmFailure)
        g = self.reg.groups.get((d.info["applicationName"], d.info["deploymentGroupName"])) or {}
        ac = d.info.get("overrideAlarmConfiguration") or g.get("alarmConfiguration") or {}
        names = [a["name"] for a in ac.get("alarms") or []]
        if not ac.get("enabled") or not names:
            return
        try:
            alarms = self.cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
        except Exception:
            if ac.get("ignorePollAlarmFailure"):
                return
            raise Abort("Stopped", "ALARM_ACTIVE", "Unable to poll alarms", "DEPLOYMENT_STOP_ON_ALARM")
        firing = [a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM"]
        if firing:
            raise Abort("Stopped", "ALARM_ACTIVE",
                         f"One or more alarms have been activated according to the Amazon CloudWatch metrics you selected: {', '.join(firing)}",
                         "DEPLOYMENT_STOP_ON_ALARM")


    def _run(self, d):
        # CD-ORDER: "In an Amazon ECS deployment, event hooks run in the following order:" (AppSpec
        # 'hooks' section, run-order diagram): BeforeInstall, Install, AfterInstall, AllowTestTraffic,
        # AfterAllowTestTraffic, BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic
        c = d.ctx
        reached_install = False
        try:
            self._set_status(d, "InProgress")
            with self.reg.lock:
                d.info["startTime"] = now()
            if d.appspec is None:
                # CD-APPSPEC-CHECK (appspec_validation=at_deployment): the revision is refused
                # once the deployment runs instead of by CreateDeployment
                raise Abort("Failed", "INVALID_REVISION", d.ctx.get("invalid_revision", "invalid AppSpec"), None)
            self._resolve(d)
            self._hook(d, "BeforeInstall")
            self._ev(d, "Install", "InProgress")
            reached_install = True
            try:
                self._install(d)
            except Abort:
                raise
            except Exception as e:
                log.exception("install failed")
                self._ev(d, "Install", "Failed")
                raise Abort("Failed", "ECS_UPDATE_ERROR", f"Install failed: {e}", "DEPLOYMENT_FAILURE")
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
        except Abort as a:
            self._end(d, a, reached_install)
        except Exception as e:  # bug guard: never leave a deployment hanging
            log.exception("deployment %s crashed", d.id)
            self._end(d, Abort("Failed", "INTERNAL_ERROR", f"simulator error: {e}", "DEPLOYMENT_FAILURE"),
                      reached_install)


    def _resolve(self, d):
        g = self.reg.groups[(d.info["applicationName"], d.info["deploymentGroupName"])]
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
            raise Abort("Failed", "ECS_UPDATE_ERROR", f"ECS service {c['cluster']}:{c['service']} not found", None)
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
        with self.reg.lock:
            d.target_updated = now()


    def _snapshot(self, listener):
        l = self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]
        rules = {r["RuleArn"]: r["Actions"] for r in self.elb.describe_rules(ListenerArn=listener)["Rules"]
                 if not r.get("IsDefault")}
        return {"default": l["DefaultActions"], "rules": rules}


    def _hook(self, d, name):
        # CD-HOOK-ONCE: "Each hook is executed once per deployment." (AppSpec 'hooks' section);
        # CD-HOOK-TIMEOUT: hook_timeout_s, 1 h by default (the AppSpec page's default script timeout;
        # no page states the ECS hook's); CD-REPORT: Failed fails the deployment
        fn = d.appspec["hooks"].get(name)
        if not fn:
            # CD-ABSENT-HOOK: "If an event hook is not present, no operation is executed for that
            # event" (AppSpec 'hooks' section); the status it then shows is a switch.
            self._ev(d, name, self.cfg.absent_hook_event_status)
            return
        eid = base64.b64encode(secrets.token_bytes(48)).decode()
        with self.reg.lock:
            d.hook_execs[eid] = {"event": name, "status": None, "closed": False, "function": fn}
        self._ev(d, name, "InProgress")
        self._invoke_hook(d, eid, fn)
        h = d.hook_execs[eid]
        try:
            done = self._wait(d, self.cfg.hook_timeout_s, lambda: h["status"] is not None)
        except Abort:
            raise
        with self.reg.lock:
            if not done:
                h["closed"] = True
                self._ev(d, name, "Failed")
                # LifecycleErrorCode enum (botocore model): ScriptTimedOut, not "Timeout"
                d.event(name)["diagnostics"] = {"errorCode": "ScriptTimedOut", "scriptName": fn,
                                                "message": "The hook timed out", "logTail": ""}
                raise Abort("Failed", "TIMEOUT",
                             f"The deployment failed because the {name} lifecycle event hook timed out",
                             "DEPLOYMENT_FAILURE")
            if h["status"] == "Failed":
                self._ev(d, name, "Failed")
                d.event(name)["diagnostics"] = {"errorCode": "ScriptFailed", "scriptName": fn,
                                                "message": "The hook reported Failed", "logTail": ""}
                raise Abort("Failed", "HOOK_EXECUTION_FAILURE",
                             f"The deployment failed because a specified lifecycle event hook ({name}) failed. "
                             "Check the hook function's logs.", "DEPLOYMENT_FAILURE")
            self._ev(d, name, "Succeeded")


    def _invoke_hook(self, d, eid, fn):
        """ONE Invoke through the router (CD-HOOK-INVOKE, switch ``hook_invocation``): ``event``
        (default) is an asynchronous invoke (``X-Amz-Invocation-Type: Event``, Lambda answers 202):
        "CodeDeploy invokes the hook function asynchronously" (aws/serverless-application-model,
        docs/safe_lambda_deployments.rst, written for Lambda deployments; no page says so for ECS).
        Lambda's own async behaviour (retries after a function error, duplicate deliveries, the
        dead-letter queue) is emulated by the router's Invoke path, not here (Lambda developer
        guide, "Asynchronous invocation"). ``request_response`` is a synchronous invoke: no
        retries, no dead-letter queue; CodeDeploy still only learns the outcome from
        PutLifecycleEventHookExecutionStatus or the hook timeout."""
        sync = self.cfg.hook_invocation == "request_response"
        payload = json.dumps({"DeploymentId": d.id, "LifecycleEventHookExecutionId": eid})
        url = f"{self.router_url}/2015-03-31/functions/{quote(fn, safe='')}/invocations"
        try:
            r = self.http.post(url, data=payload, timeout=60, headers={
                "Content-Type": "application/json", "X-Sandbox-Internal": "codedeploy",
                "X-Amz-Invocation-Type": "RequestResponse" if sync else "Event",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=sandbox/20260101/{REGION}/lambda/aws4_request"})
            log.info("hook %s for %s (%s) invoked (%s): %s %s", fn, d.id, d.hook_execs[eid]["event"],
                     "RequestResponse" if sync else "Event", r.status_code, r.text[:300])
            if r.status_code != (200 if sync else 202):
                # CodeDeploy then only learns through the hook timeout, like a lost event
                log.warning("hook %s invoke answered %s: %s", fn, r.status_code, r.text[:300])
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
        with self.reg.lock:
            self.ip_counter += 1
            n = self.ip_counter
        c["green_targets"] = [{"Id": f"10.{(n // 250) % 250 + 1}.{n % 250}.{i + 10}", "Port": c["port"]}
                              for i in range(c["desired"])]
        self.elb.register_targets(TargetGroupArn=c["green_tg"], Targets=c["green_targets"])


    def _route_test(self, d):
        # CD-TEST-TRAFFIC: "AfterAllowTestTraffic – Use to run tasks after the test listener serves
        # traffic to the replacement task set." (AppSpec 'hooks' section)
        c = d.ctx
        self.elb.modify_listener(ListenerArn=c["test_listener"],
                                 DefaultActions=[{"Type": "forward", "TargetGroupArn": c["green_tg"]}])
        c["test_routed"] = True


    def _ready_wait(self, d):
        # CD-READY-WAIT: "STOP_DEPLOYMENT: Do not register new instances with a load balancer unless
        # traffic rerouting is started using ContinueDeployment. ..." (API reference, DeploymentReadyOption)
        """deploymentReadyOption STOP_DEPLOYMENT: status Ready until ContinueDeployment(READY_WAIT)
        or waitTimeInMinutes pass (then Stopped). CONTINUE_DEPLOYMENT reroutes at once."""
        bg = d.info.get("blueGreenDeploymentConfiguration") or {}
        ro = bg.get("deploymentReadyOption") or {}
        if ro.get("actionOnTimeout", "CONTINUE_DEPLOYMENT") != "STOP_DEPLOYMENT":
            return
        self._set_status(d, "Ready")
        wait_min = float(ro.get("waitTimeInMinutes") or 0)
        if not self._wait(d, wait_min * self.cfg.minute_s, lambda: d.continue_ready):
            raise Abort("Stopped", "TIMEOUT",
                         "The deployment timed out while waiting for the replacement task set to be rerouted",
                         "READY_TIMEOUT")
        self._set_status(d, "InProgress")


    def _allow_traffic(self, d):
        # CD-CANARY: TimeBasedCanary "shifts traffic ... in two increments", TimeBasedLinear "in equal
        # increments" (API reference, TimeBasedCanary / TimeBasedLinear)
        cfg = self.reg.deployment_config(d.info["deploymentConfigName"])["trafficRoutingConfig"]
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
        """One AllowTraffic increment (CD-ALLOW-SCOPE: allow_traffic_scope decides default action only or rules too).
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
            # "For an Amazon ECS deployment, the number of minutes before deleting the original
            # (blue) task set." (API reference, BlueInstanceTerminationOption)
            with self.reg.lock:
                d.info["instanceTerminationWaitTimeStarted"] = True
            if self.cfg.termination_wait_status == "Succeeded":
                # CD-TERMINATION-STATUS=Succeeded: the deployment is Succeeded (and ended) while
                # the blue task set waits for deletion; the group takes no new deployment until
                # the task set is gone (the sandbox's own limit, so two deployments never share it)
                with self.reg.lock:
                    c["terminating_after_success"] = True
                self._set_status(d, "Succeeded")
                self._close_hooks(d)
                with self.reg.lock:
                    self.reg.cond.wait_for(lambda: d.continue_termination, timeout=wait)
                    c["terminating"] = True
                self._delete_task_set(c, c["blue_ts"])
                self._deregister_all(c["blue_tg"])
                with self.reg.lock:
                    c["terminating_after_success"] = False
                    self.reg.cond.notify_all()
                return
            # CD-TERMINATION-STATUS=InProgress (default): InProgress until the task set is deleted
            self._wait(d, wait, lambda: d.continue_termination)
            # once deletion starts no rollback is possible
            with self.reg.lock:
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
        with self.reg.lock:
            for h in d.hook_execs.values():
                h["closed"] = True
            for e in d.events:
                if e["status"] == "InProgress":
                    e["status"] = "Failed"
                    e["endTime"] = now()
                elif e["status"] == "Pending":
                    e["status"] = "Skipped"
            self.reg.cond.notify_all()


    def _end(self, d, a, reached_install):
        # CD-ROLLBACK-WHEN: "You can configure a deployment group or deployment to automatically roll
        # back when a deployment fails or when a monitoring threshold you specify is met." (user guide,
        # Redeploy and roll back a deployment); "BeforeInstall ... A rollback is not possible at this
        # point." (AppSpec 'hooks' section)
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
        with self.reg.lock:
            d.info["errorInformation"] = {"code": a.code, "message": a.message}
            if do_rb:
                rb = self._create_rollback_record(d, a)
                d.info["rollbackInfo"] = {"rollbackDeploymentId": rb.id,
                                          "rollbackMessage": f"Automatic rollback triggered: {a.message}"}
        self._set_status(d, a.status)
        if do_rb:
            self._rollback(d, rb)


    def _create_rollback_record(self, d, a):
        # CD-ROLLBACK-RECORD: "These rolled-back deployments are technically new deployments, with new
        # deployment IDs, rather than restored versions of a previous deployment." (user guide, Redeploy
        # and roll back a deployment)
        rb = Deployment(new_deployment_id())
        rb.is_rollback = True
        rb.appspec = d.appspec
        rb.ctx = d.ctx
        rb.info = json.loads(json.dumps(d.info))
        for k in ("errorInformation", "rollbackInfo", "completeTime", "previousRevision"):
            rb.info.pop(k, None)
        rb.info.update({"deploymentId": rb.id, "creator": "codeDeployRollback", "status": "InProgress",
                        "createTime": now(), "startTime": now(),
                        "instanceTerminationWaitTimeStarted": False,
                        "rollbackInfo": {"rollbackTriggeringDeploymentId": d.id,
                                         "rollbackMessage": f"Rollback of {d.id}: {a.message}"}})
        if "previousRevision" in d.info:
            rb.info["revision"] = d.info["previousRevision"]
        rb.events = [{"lifecycleEventName": e, "status": "Pending"} for e in EVENTS]
        rb.target_status = "InProgress"
        self.reg.add(rb)
        return rb


    def _rollback(self, d, rb):
        c = d.ctx
        ok = True
        hooks_ok = True
        if self.cfg.rollback_runs_hooks == "yes":
            hooks_ok = self._rollback_hook(rb, "BeforeAllowTraffic")
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
        if self.cfg.rollback_runs_hooks == "yes" and hooks_ok:
            hooks_ok = self._rollback_hook(rb, "AfterAllowTraffic")
        rerouted = ok
        ok = ok and hooks_ok
        with self.reg.lock:
            t_now = now()
            for e in rb.events:
                if e["status"] != "Pending":
                    continue   # a hook event the rollback ran (rollback_runs_hooks=yes)
                e.update({"status": "Succeeded" if (e["lifecycleEventName"] == "AllowTraffic" and rerouted)
                          else "Skipped", "startTime": t_now, "endTime": t_now})
            rb.info["status"] = "Succeeded" if ok else "Failed"
            rb.info["completeTime"] = t_now
            rb.info["deploymentOverview"] = {"Pending": 0, "InProgress": 0, "Succeeded": 1 if ok else 0,
                                             "Failed": 0 if ok else 1, "Skipped": 0, "Ready": 0}
            rb.target_status = rb.info["status"]
            rb.target_updated = t_now
            self.reg.cond.notify_all()


    def _rollback_hook(self, rb, name):
        """CD-ROLLBACK-HOOKS=yes: the rollback deployment invokes the AppSpec's hook for ``name``
        (same payload, its own deployment id and execution id) and waits for its report up to
        the hook timeout. Returns whether it was reported Succeeded; the rerouting happens
        either way (the rollback deployment then ends Failed)."""
        fn = (rb.appspec or {}).get("hooks", {}).get(name)
        if not fn:
            return True
        eid = base64.b64encode(secrets.token_bytes(48)).decode()
        with self.reg.lock:
            rb.hook_execs[eid] = {"event": name, "status": None, "closed": False, "function": fn}
        self._ev(rb, name, "InProgress")
        self._invoke_hook(rb, eid, fn)
        h = rb.hook_execs[eid]
        with self.reg.lock:
            self.reg.cond.wait_for(lambda: h["status"] is not None, timeout=self.cfg.hook_timeout_s)
            h["closed"] = True
        ok = h["status"] == "Succeeded"
        self._ev(rb, name, "Succeeded" if ok else "Failed")
        return ok

    def _restore_snapshot(self, c):
        """rollback_restore=snapshot: listeners and pre-existing rules as at deployment start."""
        for lst, snap in (c.get("snapshot") or {}).items():
            self.elb.modify_listener(ListenerArn=lst, DefaultActions=snap["default"])
            existing = {r["RuleArn"] for r in self.elb.describe_rules(ListenerArn=lst)["Rules"]}
            for rule_arn, actions in snap["rules"].items():
                if rule_arn in existing:
                    self.elb.modify_rule(RuleArn=rule_arn, Actions=actions)


    def _reroute_own_changes(self, d):
        """rollback_restore=own_changes (CD-ROLLBACK-RESTORE): undo only CodeDeploy's own traffic changes.
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


    def production_state(self, d):
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


    def task_sets_info(self, d):
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
            # CD-TASKSET-ID: "A unique ID of an ECSTaskSet." (API reference, ECSTaskSet) does
            # not say which one: the task set id (default) or its ARN
            ident = ts["id"] if self.cfg.task_set_identifier == "id" else arn
            out.append({"identifer": ident, "desiredCount": desired, "pendingCount": 0,
                        "runningCount": ts.get("runningCount", desired), "status": ts["status"],
                        "trafficWeight": float(weights.get(tg, 0.0)),
                        "targetGroup": {"name": tg.split("/")[1]}, "taskSetLabel": label})
        return out
