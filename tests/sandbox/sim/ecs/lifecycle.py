"""The ECS service-deployment simulator's lifecycle engine: one thread per service deployment runs
the BLUE_GREEN stages against moto (ELBv2 listener rules, target registrations, ECS service task
definition), invokes the Lambda hooks synchronously through the router's Invoke path, waits,
stops and rolls back. The API surface (sim/ecs/api.py) creates deployments and signals stops through
the shared Registry; this module never answers API calls. Every behaviour and its source is
a row of SOURCES in sim/ecs/api.py."""
import json
import logging
import threading
import uuid
from urllib.parse import quote

import boto3
import requests
from botocore.config import Config as BotoConfig

from sim.alb import weight_shares
from sim.ecs.common import (DEFAULT_CALLBACK_DELAY_S, DEFAULT_HOOK_TIMEOUT_MIN, REGION, ROLLBACK_STAGES, STAGES, TERMINAL,
                        RollbackNeeded, new_id, now)

log = logging.getLogger("ecs-sim")


class EcsLifecycleEngine:
    def __init__(self, registry, moto_url, router_url, config):
        self.reg = registry
        self.router_url = router_url
        self.cfg = config
        kw = dict(endpoint_url=moto_url, region_name=REGION, aws_access_key_id="sandbox",
                  aws_secret_access_key="sandbox", config=BotoConfig(retries={"max_attempts": 2, "mode": "standard"}))
        self.ecs = boto3.client("ecs", **kw)
        self.elb = boto3.client("elbv2", **kw)
        self.cloudwatch = boto3.client("cloudwatch", **kw)
        self.http = requests.Session()

    def start(self, d):
        d.thread = threading.Thread(target=self._run, args=(d,), name=f"ecs-deploy-{d.id}", daemon=True)
        d.thread.start()

    # ------------------------------------------------------------ state
    def _status(self, d, status, reason=None):
        with self.reg.lock:
            d.status = status
            if reason:
                d.status_reason = reason
            d.updated = now()
            if status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
                d.finished = now()
            if status == "STOPPED":
                d.stopped = d.finished = now()
            self.reg.cond.notify_all()

    def _stage(self, d, stage, rollback=False):
        with self.reg.lock:
            d.stage = stage
            d.updated = now()
            d.hook_details = []
            d.stages.append({"stage": stage, "at": now(), "rollback": rollback})
            self.reg.cond.notify_all()

    def _check_stop(self, d):
        """A stop request or (ECS-23, enforce) a deployment alarm in ALARM: the rollback starts now."""
        if d.stop == "ROLLBACK":
            raise RollbackNeeded(d.stop_reason or "Service deployment stopped by StopServiceDeployment (stopType ROLLBACK)")
        alarm = self._alarm_firing(d)
        if alarm:
            raise RollbackNeeded(f"CloudWatch alarm {alarm} is in ALARM state")

    def _alarm_firing(self, d):
        """ECS-23: with ecs_deployment_alarms=enforce, the name of a deploymentConfiguration.alarms
        alarm (enable and rollback true) in state ALARM, else None."""
        alarms = d.config.get("alarms") or {}
        if self.cfg.ecs_deployment_alarms != "enforce" or not alarms.get("enable") or not alarms.get("rollback"):
            return None
        names = list(alarms.get("alarmNames") or [])
        if not names:
            return None
        try:
            found = self.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
        except Exception as e:  # unreadable alarms do not fail the deployment; logged
            log.warning("deployment %s: DescribeAlarms: %s", d.arn, e)
            return None
        return next((a["AlarmName"] for a in found if a.get("StateValue") == "ALARM"), None)

    def _wait(self, d, seconds, stoppable=True):
        """Sleep ``seconds`` (scaled already); a stop request ends the wait at once (raises)."""
        deadline = now() + seconds
        while True:
            if stoppable:
                self._check_stop(d)   # not under the lock: it may read the alarms (ECS-23)
            left = deadline - now()
            if left <= 0:
                return
            with self.reg.lock:
                self.reg.cond.wait(min(left, 0.5))

    # ------------------------------------------------------------ run
    def _supersede_wait(self, d):
        """ECS-13 supersede: wait for the deployment this one replaced to end, then deploy from
        whatever revision the service runs by then (the old source after its rollback, or the old
        target when it ended SUCCESSFUL first)."""
        with self.reg.lock:
            while d.after.status not in TERMINAL:
                self.reg.cond.wait(0.5)
            cur = self.reg.revisions.get(d.service.current_revision)
            if cur is not None and cur is not d.source:
                lb = self._lb(d)
                pair = [lb.get("targetGroupArn"), self._adv(d).get("alternateTargetGroupArn")]
                d.source = cur
                d.target.target_group = next((t for t in pair if t and t != cur.target_group), d.target.target_group)
        try:   # the old deployment's rollback set the service back to its source task definition
            self.ecs.update_service(cluster=d.service.cluster, service=d.service.name,
                                    taskDefinition=d.target.task_definition)
        except Exception as e:
            log.warning("deployment %s: moto update_service: %s", d.arn, e)

    def _run(self, d):
        try:
            if d.after is not None:
                self._supersede_wait(d)
            with self.reg.lock:
                d.started = now()
            self._status(d, "IN_PROGRESS")
            for stage in STAGES:
                self._check_stop(d)
                self._stage(d, stage)
                if stage == "PRODUCTION_TRAFFIC_SHIFT":
                    # ECS-9, ECS-20, ECS-24: PRE_PRODUCTION_TRAFFIC_SHIFT hooks before every step (reported
                    # as lifecycleStage PRODUCTION_TRAFFIC_SHIFT, not a ServiceDeploymentLifecycleStage),
                    # the rule rewritten, PRODUCTION_TRAFFIC_SHIFT hooks at every step, the step bakes.
                    self._do_production_traffic_shift(d)
                    continue
                getattr(self, "_do_" + stage.lower())(d)
                if stage != "RECONCILE_SERVICE":   # ECS-7
                    self._hooks(d, stage)
            self._status(d, "SUCCESSFUL", "Service deployment completed successfully.")
        except RollbackNeeded as r:
            self._rollback(d, r.reason)
        except Exception as e:  # bug guard: never leave a deployment hanging
            log.exception("ECS service deployment %s crashed", d.arn)
            self._rollback(d, f"sandbox simulator error: {e}")

    # ------------------------------------------------------------ stages
    def _lb(self, d):
        return (d.service.load_balancers or [{}])[0]

    def _adv(self, d):
        return self._lb(d).get("advancedConfiguration") or {}

    def _do_reconcile_service(self, d):
        pass

    def _do_pre_scale_up(self, d):
        pass

    def _do_scale_up(self, d):
        """Green tasks start: made-up IP targets registered in the green target group (ECS-21)."""
        self._register(d.target, d.service)
        with self.reg.lock:
            d.weights["test"] = self._weights(d, green=0)
            d.weights["production"] = self._weights(d, green=0)

    def _do_post_scale_up(self, d):
        pass

    def _do_test_traffic_shift(self, d):
        rule = self._adv(d).get("testListenerRule")
        if rule:
            self._forward(rule, self._blue_tg(d), d.target.target_group, green=100)
            with self.reg.lock:
                d.shifted["test"] = True
        with self.reg.lock:
            d.weights["test"] = self._weights(d, green=100)

    def _do_post_test_traffic_shift(self, d):
        pass

    def production_steps(self, d):
        """[(green percent, bake seconds after the step)] of the production shift (ECS-20): BLUE_GREEN
        all at once; LINEAR stepPercent increments with stepBakeTimeInMinutes between them (none after
        100); CANARY canaryPercent, canaryBakeTimeInMinutes, then the rest. Defaults from botocore's
        LinearConfiguration / CanaryConfiguration (10.0 / 6, 5.0 / 10)."""
        strategy, minute = d.config.get("strategy"), self.cfg.ecs_minute_s
        if strategy == "LINEAR":
            lc = d.config.get("linearConfiguration") or {}
            step = float(lc.get("stepPercent") or 10.0)
            bake = float(lc.get("stepBakeTimeInMinutes", 6)) * minute
            out, p = [], step
            while p < 100 - 1e-9:
                out.append((p, bake))
                p += step
            return out + [(100.0, 0.0)]
        if strategy == "CANARY":
            cc = d.config.get("canaryConfiguration") or {}
            pct = float(cc.get("canaryPercent") or 5.0)
            if pct >= 100:
                return [(100.0, 0.0)]
            return [(pct, float(cc.get("canaryBakeTimeInMinutes", 10)) * minute), (100.0, 0.0)]
        return [(100.0, 0.0)]

    def _do_production_traffic_shift(self, d):
        """The production rule moves to green in steps (one for BLUE_GREEN; LINEAR / CANARY, ECS-20),
        each step written without reading the rule's live weights first (ECS-10, containers-roadmap
        #2853): whatever hookline set there is overwritten. Before every step the
        PRE_PRODUCTION_TRAFFIC_SHIFT hooks run, at every step the PRODUCTION_TRAFFIC_SHIFT hooks (ECS-24,
        DeploymentLifecycleHook). Where a step's bake falls relative to the next step's
        PRE_PRODUCTION_TRAFFIC_SHIFT hooks is the switch ecs_step_bake (ECS-25); what lifecycleStage
        reads during a bake between steps is ecs_step_stage (ECS-26)."""
        rule = self._adv(d).get("productionListenerRule")
        pending_bake = 0.0
        for pct, bake in self.production_steps(d):
            self._hooks(d, "PRE_PRODUCTION_TRAFFIC_SHIFT")
            if pending_bake > 0:      # hook_then_bake: the previous step bakes after this hook
                self._step_bake(d, pending_bake)
                pending_bake = 0.0
            green = int(round(pct))
            if rule:
                self._forward(rule, self._blue_tg(d), d.target.target_group, green=green)
                with self.reg.lock:
                    d.shifted["production"] = True
            with self.reg.lock:
                d.weights["production"] = self._weights(d, green=green)
                d.production_steps.append({"green": green, "at": now()})
            self._hooks(d, "PRODUCTION_TRAFFIC_SHIFT")
            if bake > 0:
                if self.cfg.ecs_step_bake == "hook_then_bake":
                    pending_bake = bake
                else:
                    self._step_bake(d, bake)

    def _step_bake(self, d, seconds):
        """A step's bake (stepBakeTimeInMinutes / canaryBakeTimeInMinutes, scaled); lifecycleStage
        reads ecs_step_stage during it (ECS-26), PRODUCTION_TRAFFIC_SHIFT again after."""
        if self.cfg.ecs_step_stage == "bake_time":
            with self.reg.lock:
                d.stage = "BAKE_TIME"
                d.updated = now()
        self._wait(d, seconds)
        with self.reg.lock:
            d.stage = "PRODUCTION_TRAFFIC_SHIFT"
            d.updated = now()

    def _do_post_production_traffic_shift(self, d):
        pass

    def _do_bake_time(self, d):
        if d.source is None and self.cfg.ecs_create_bake == "skip":   # ECS-15: no blue to keep at creation
            return
        minutes = d.config.get("bakeTimeInMinutes") or 0
        self._wait(d, float(minutes) * self.cfg.ecs_minute_s)

    def _do_clean_up(self, d):
        """Blue's tasks are gone: its targets deregistered, the revision inactive; the service's
        current revision is green."""
        if d.source is not None:
            self._deregister(d.source)
        with self.reg.lock:
            if d.source is not None:
                d.source.active = False
            d.service.current_revision = d.target.arn
            d.weights["test"] = {d.target.arn: 100}
            d.weights["production"] = {d.target.arn: 100}

    # ------------------------------------------------------------ rollback
    def _rollback(self, d, reason):
        with self.reg.lock:
            if d.status != "ROLLBACK_REQUESTED":
                self._status(d, "ROLLBACK_REQUESTED", reason)
            if d.source is not None:
                d.rollback = {"reason": reason, "startedAt": now(), "serviceRevisionArn": d.source.arn}
        if d.source is None:
            # ECS-16: a failed creation has no previous revision to roll back to. rollback_failed:
            # the rules and the new revision's tasks are left as they are; rollback_successful: the
            # new revision's tasks are stopped (targets deregistered), the rules left as they are.
            if self.cfg.ecs_create_rollback == "rollback_successful":
                self._deregister(d.target)
                with self.reg.lock:
                    d.target.active = False
                self._status(d, "ROLLBACK_SUCCESSFUL", f"{reason}; the new service revision's tasks were stopped")
            else:
                self._status(d, "ROLLBACK_FAILED", f"{reason}; no previous service revision to roll back to")
            return
        self._status(d, "ROLLBACK_IN_PROGRESS", reason)
        ok = True
        try:
            restore_all = self.cfg.ecs_rollback_restore == "full"
            adv = self._adv(d)
            for stage in ROLLBACK_STAGES:
                self._stage(d, stage, rollback=True)
                kind = "production" if stage == "PRODUCTION_TRAFFIC_SHIFT" else "test"
                rule = adv.get("productionListenerRule" if kind == "production" else "testListenerRule")
                if rule and (d.shifted[kind] or restore_all):
                    self._forward(rule, d.source.target_group, d.target.target_group, green=0)
                    with self.reg.lock:
                        d.shifted[kind] = False
                with self.reg.lock:
                    d.weights[kind] = self._weights(d, green=0)
                try:
                    self._hooks(d, stage, rollback=True)
                except RollbackNeeded as e:
                    ok = False
                    with self.reg.lock:
                        d.status_reason = f"{reason}; rollback hook failed: {e.reason}"
            self._stage(d, "CLEAN_UP", rollback=True)
            self._deregister(d.target)
            with self.reg.lock:
                d.target.active = False
                d.service.current_revision = d.source.arn
            try:   # the service runs the source revision again
                self.ecs.update_service(cluster=d.service.cluster, service=d.service.name,
                                        taskDefinition=d.source.task_definition)
            except Exception as e:
                log.warning("rollback of %s: moto update_service: %s", d.arn, e)
        except Exception as e:
            log.exception("rollback of %s crashed", d.arn)
            ok = False
            with self.reg.lock:
                d.status_reason = f"{reason}; rollback error: {e}"
        self._status(d, "ROLLBACK_SUCCESSFUL" if ok else "ROLLBACK_FAILED")

    # ------------------------------------------------------------ hooks
    def _hooks(self, d, stage, rollback=False):
        hooks = [h for h in d.config.get("lifecycleHooks") or [] if stage in (h.get("lifecycleStages") or [])]
        for h in hooks:
            kind = h.get("targetType") or "AWS_LAMBDA"
            if kind == "AWS_LAMBDA":
                self._run_hook(d, h, stage, rollback)
            elif kind == "PAUSE" and not rollback:
                self._run_pause(d, h, stage)

    def _run_pause(self, d, hook, stage):
        """ECS-27: hold the stage until ContinueServiceDeployment answers the hook (CONTINUE: return;
        ROLLBACK: raise RollbackNeeded) or its timeout takes its action."""
        tc = hook.get("timeoutConfiguration") or {}
        timeout_s = float(tc.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MIN) * self.cfg.ecs_minute_s
        action = tc.get("action") or "ROLLBACK"
        hook_id = "ecs-pause-" + new_id(43)
        started = now()
        detail = {"hookId": hook_id, "targetType": "PAUSE", "status": "AWAITING_ACTION",
                  "expiresAt": started + timeout_s, "timeoutAction": action}
        with self.reg.lock:
            d.hook_details.append(detail)
            d.pause_events.append({"detail-type": "ECS Hook State Change", "eventName": "HOOK_AWAITING_ACTION",
                                   "hookId": hook_id, "lifecycleStage": stage, "at": started})
            self.reg.cond.notify_all()
        while True:
            with self.reg.lock:
                answer = d.pause_actions.get(hook_id)
            if answer == "CONTINUE":
                detail["status"] = "SUCCEEDED"
                return
            if answer == "ROLLBACK":
                detail["status"] = "FAILED"
                raise RollbackNeeded(f"Pause hook {hook_id} at {stage}: ContinueServiceDeployment action ROLLBACK")
            left = started + timeout_s - now()
            if left <= 0:
                detail["status"] = "TIMED_OUT"
                if action == "CONTINUE":
                    return
                raise RollbackNeeded(f"Pause hook {hook_id} at {stage} timed out")
            self._wait(d, min(left, 0.2))

    def _run_hook(self, d, hook, stage, rollback):
        """Invoke one hook until it answers SUCCEEDED (return) or FAILED / times out with action
        ROLLBACK (raise RollbackNeeded). IN_PROGRESS: invoke again after callBackDelay with the
        answer's hookDetails merged in (lambda-lifecycle-hooks)."""
        tc = hook.get("timeoutConfiguration") or {}
        timeout_s = float(tc.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MIN) * self.cfg.ecs_minute_s
        action = tc.get("action") or "ROLLBACK"
        fn = hook["hookTargetArn"]
        started = now()
        detail = {"hookId": str(uuid.uuid4()), "targetType": "AWS_LAMBDA", "targetArn": fn, "status": "IN_PROGRESS",
                  "expiresAt": started + timeout_s, "timeoutAction": action}
        with self.reg.lock:
            d.hook_details.append(detail)
        details = dict(hook.get("hookDetails") or {})
        execution_id = str(uuid.uuid4())
        while True:
            filled = self.cfg.ecs_payload_weights == "filled"   # ECS-8
            if self.cfg.ecs_execution_id == "fresh":            # ECS-5
                execution_id = str(uuid.uuid4())
            payload = {"executionId": execution_id, "lifecycleStage": stage, "resourceArn": d.arn,
                       "executionDetails": {"serviceArn": d.service.arn, "targetServiceRevisionArn": d.target.arn,
                                            "testTrafficWeights": dict(d.weights["test"]) if filled else {},
                                            "productionTrafficWeights":
                                                dict(d.weights["production"]) if filled else {}}}
            if details:
                payload["hookDetails"] = dict(details)
            outcome, answer = self._invoke(fn, payload)
            rec = {"n": len(d.invocations) + 1, "at": now(), "stage": stage, "rollback": rollback, "function": fn,
                   "payload": payload, "answer": answer, "outcome": outcome}
            if outcome == "FAILED" and not rollback:
                # The production listener as the FAILED answer arrived, before this simulator acts on it:
                # what the tests' "FAILED only when production is blue 100%" check reads (a client-side
                # poller can only read before or after the hook's own last write).
                rec["production"] = self.production_at_answer(d)
            with self.reg.lock:
                d.invocations.append(rec)
                d.updated = now()
            if not rollback:
                self._check_stop(d)   # ECS-18: a stop during an invocation wins over its answer
            if outcome == "SUCCEEDED":
                detail["status"] = "SUCCEEDED"
                return
            if outcome == "FAILED":
                detail["status"] = "FAILED"
                raise RollbackNeeded(f"Lifecycle hook {fn} at {stage} answered FAILED")
            if isinstance(answer.get("hookDetails"), dict):
                details.update(answer["hookDetails"])
            delay = answer.get("callBackDelay")
            if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
                delay = DEFAULT_CALLBACK_DELAY_S
            wait_s = max(self.cfg.ecs_callback_min_s, float(delay) * self.cfg.ecs_callback_scale)
            left = started + timeout_s - now()
            if wait_s >= left:
                self._wait(d, max(0.0, left), stoppable=not rollback)
                detail["status"] = "TIMED_OUT"
                rec["timed_out"] = True
                if action == "CONTINUE":
                    return
                raise RollbackNeeded(f"Lifecycle hook {fn} at {stage} timed out")
            self._wait(d, wait_s, stoppable=not rollback)

    def _invoke(self, fn, payload):
        """ONE synchronous Invoke (RequestResponse) through the router (ECS-4) -> (outcome, answer).
        outcome: SUCCEEDED | FAILED | IN_PROGRESS. A function error, a non-200 answer, or an
        answer without a valid hookStatus is FAILED ("If your function doesn't return a valid
        hookStatus, or if it fails, Amazon ECS rolls back the deployment", lambda-lifecycle-hooks)."""
        url = f"{self.router_url}/2015-03-31/functions/{quote(fn, safe='')}/invocations"
        try:
            r = self.http.post(url, data=json.dumps(payload), timeout=960, headers={
                "Content-Type": "application/json", "X-Sandbox-Internal": "ecs",
                "X-Amz-Invocation-Type": "RequestResponse",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=sandbox/20260101/{REGION}/lambda/aws4_request"})
        except Exception as e:
            log.warning("hook %s invoke failed: %s", fn, e)
            return "FAILED", {"sandboxError": f"invoke failed: {e}"}
        try:
            answer = r.json()
        except ValueError:
            answer = {"sandboxRaw": r.text[:2000]}
        if not isinstance(answer, dict):
            answer = {"sandboxRaw": answer}
        if r.status_code != 200 or r.headers.get("X-Amz-Function-Error"):
            answer = dict(answer, sandboxStatus=r.status_code,
                          sandboxFunctionError=r.headers.get("X-Amz-Function-Error"))
            return "FAILED", answer
        hs = answer.get("hookStatus")
        if hs not in ("SUCCEEDED", "FAILED", "IN_PROGRESS"):
            return "FAILED", answer
        return hs, answer

    # ------------------------------------------------------------ ELB / targets
    def _weights(self, d, green):
        if d.source is None:
            return {d.target.arn: green}
        return {d.source.arn: 100 - green, d.target.arn: green}

    def _blue_tg(self, d):
        """The group production leaves: the source revision's; None at creation (ECS-14: the rule is
        written to forward to the new revision's group alone, there is nothing to shift from)."""
        return d.source.target_group if d.source is not None else None

    def _forward(self, rule_arn, blue_tg, green_tg, green):
        if blue_tg == green_tg:   # creation without an alternate group: nothing to weigh against
            blue_tg = None
        if blue_tg is None:
            self.elb.modify_rule(RuleArn=rule_arn, Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": green_tg, "Weight": 100}]}}])
            return
        self.elb.modify_rule(RuleArn=rule_arn, Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": blue_tg, "Weight": 100 - green}, {"TargetGroupArn": green_tg, "Weight": green}]}}])

    def production_at_answer(self, d):
        """{"weights": {group: percent} of the production rule, "others": [ARNs of the listener's other
        non-default rules]}, or {"error": ...} when it cannot be read."""
        rule = self._adv(d).get("productionListenerRule")
        if not rule:
            return {"error": "no production listener rule"}
        listener = rule.replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]
        try:
            rules = self.elb.describe_rules(ListenerArn=listener)["Rules"]
        except Exception as e:  # recorded, and the test reports it as a violation
            return {"error": f"DescribeRules: {e}"}
        own = [r for r in rules if r["RuleArn"] == rule]
        return {"weights": weight_shares(own[0]["Actions"]) if own else {},
                "others": [r["RuleArn"] for r in rules if r["RuleArn"] != rule and not r.get("IsDefault")]}

    def rule_shares(self, rule_arn):
        """{target group ARN: percent} of a listener rule's forward (for tests and GET /_sandbox/ecs)."""
        rules = self.elb.describe_rules(RuleArns=[rule_arn])["Rules"]
        return weight_shares(rules[0]["Actions"]) if rules else {}

    def _register(self, rev, svc):
        port = int((svc.load_balancers or [{}])[0].get("containerPort") or 80)
        with self.reg.lock:   # one sequence for every service: two services may share a group
            self.reg.ip_seq += 1
            base = self.reg.ip_seq
        ids = [f"10.{200 + (base // 250) % 50}.{base % 250}.{i + 10}" for i in range(max(1, svc.desired))]
        self.elb.register_targets(TargetGroupArn=rev.target_group, Targets=[{"Id": i, "Port": port} for i in ids])
        rev.targets = [(i, port) for i in ids]

    def _deregister(self, rev):
        if rev.targets:
            self.elb.deregister_targets(TargetGroupArn=rev.target_group,
                                        Targets=[{"Id": i, "Port": p} for i, p in rev.targets])
            rev.targets = []
