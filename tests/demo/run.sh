#!/usr/bin/env bash
# make demo: a full canary in the local sandbox, then a bad release that rolls back.
#
#   1. start the sandbox (tests/sandbox/up.sh) unless one is already up on the port
#   2. hookline doctor on both demo services (web: CodeDeploy, api: ECS-native): everything hookline
#      relies on is in place, read-only; then show the plan (hookline plan validate / preview) and store it
#   3. deploy v2: watch the live timeline, approve the approval step with `hookline approve`
#   4. deploy a bad v3: the app-traffic loop puts web-5xx into ALARM once v3 takes traffic,
#      the bake gate fails and hookline rolls back to blue 100%
#   5. ECS-native mode (no CodeDeploy): `aws ecs update-service` on the `api` service; ECS calls the
#      hook at POST_TEST_TRAFFIC_SHIFT, hookline moves the production listener rule 10% -> approval ->
#      50% -> 100% and answers ECS IN_PROGRESS until done; same CLI, addressed by --cluster/--service
#   6. hookline's own controller (no CodeDeploy, no ECS blue/green): `hookline deploy -e demo -d tests/demo`
#      reads tests/demo/demo.deploy.yml, creates green's service on the idle load balancer release and
#      moves users by the Route 53 weights of web.shop.example.com (25% -> 100%, each bake at least the
#      records' TTL); the sandbox's simulated clients resolve the name through caching resolvers, so
#      status shows the observed split next to the set weight
#   7. summary (hookline history, final weights), then stop the sandbox (also on Ctrl-C/failure)
#
# Ports and state directory follow up.sh: SANDBOX_PORT (4566), SANDBOX_MOTO_PORT,
# SANDBOX_LAMBDA_PORT, SANDBOX_STATE. Needs `make build venv` first (make demo does it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PORT="${SANDBOX_PORT:-4566}"
export AWS_ENDPOINT_URL="http://127.0.0.1:${PORT}" SANDBOX_ENDPOINT="http://127.0.0.1:${PORT}"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox
unset AWS_PROFILE HOOKLINE_STATE_MACHINE_PREFIX
PY="$ROOT/.venv/bin/python"
export PATH="$ROOT/target/debug:$PATH"   # the hookline CLI (cargo build -p hookline-cli)
HOOKLINE=hookline
PLAN=tests/demo/plan.yaml

bold() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
show() { printf '$ %s\n' "$*"; "$@"; }
sbpy() { "$PY" - "$@" <<<"import sys; sys.path.insert(0, 'tests/sandbox')
from client import Sandbox
sb = Sandbox()
$SBPY"; }

[ -x "$PY" ] || { echo "demo: $PY missing; run 'make venv' (make demo does)" >&2; exit 1; }
[ -x "$ROOT/target/debug/hookline" ] || { echo "demo: building the hookline CLI"; cargo build -p hookline-cli; }

STARTED=0
WATCH_PID=""
DASHBOARD_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$WATCH_PID" ] && kill -0 "$WATCH_PID" 2>/dev/null; then kill "$WATCH_PID" 2>/dev/null || true; fi
    if [ -n "$DASHBOARD_PID" ] && kill -0 "$DASHBOARD_PID" 2>/dev/null; then kill -INT "$DASHBOARD_PID" 2>/dev/null || true; fi
    if [ "$STARTED" = 1 ]; then
        bold "stopping the sandbox"
        bash tests/sandbox/down.sh || true
    else
        echo "(the sandbox was already running before the demo; left running: make sandbox-down stops it)"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

bold "1. the local AWS sandbox on $AWS_ENDPOINT_URL"
if curl -sf "$AWS_ENDPOINT_URL/_sandbox/health" 2>/dev/null | grep -q '"lambda": true'; then
    echo "already running: using it"
else
    STARTED=1
    bash tests/sandbox/up.sh
fi

# The web page (hookline dashboard) for the rest of the demo: DASHBOARD_PORT (7788; a free one if taken).
DASHBOARD_URL=""
start_dashboard() { # port -> sets DASHBOARD_URL and DASHBOARD_PID, fails when the dashboard exited
    local log="${SANDBOX_STATE:-$ROOT/.sandbox}/dashboard.log"
    mkdir -p "$(dirname "$log")"
    "$HOOKLINE" dashboard --port "$1" >"$log" 2>&1 &
    DASHBOARD_PID=$!
    for _ in $(seq 1 50); do
        DASHBOARD_URL=$(grep -o 'http://127.0.0.1:[0-9]*/' "$log" 2>/dev/null | head -1 || true)
        [ -z "$DASHBOARD_URL" ] || return 0
        kill -0 "$DASHBOARD_PID" 2>/dev/null || { DASHBOARD_PID=""; return 1; }
        sleep 0.1
    done
    kill -INT "$DASHBOARD_PID" 2>/dev/null || true
    DASHBOARD_PID=""
    return 1
}
start_dashboard "${DASHBOARD_PORT:-7788}" || start_dashboard 0 || true
if [ -n "$DASHBOARD_URL" ]; then
    bold "dashboard: open $DASHBOARD_URL to watch, approve or roll back in a browser"
else
    echo "demo: hookline dashboard did not start (see its log); going on without it" >&2
fi

bold "2. hookline doctor: is each demo service ready for hookline? (read-only checks)"
# The sandbox runs the functions under their binary names: the hook function is `hook`.
show "$HOOKLINE" doctor --application web --group web-prod --hook-function hook
echo
show "$HOOKLINE" doctor --cluster demo --service api --hook-function hook

bold "2b. the rollout plan"
show "$HOOKLINE" plan validate "$PLAN"
show "$HOOKLINE" plan preview "$PLAN"
SBPY="sb.put_plan(open('$PLAN').read()); sb.set_alarm('web-5xx', 'OK'); sb.traffic(True, interval_ms=500)
print('plan stored in SSM /hookline/web/web-prod; app-traffic loop on (a bad version on :80 raises web-5xx)')" sbpy

deploy() { # image -> deployment id
    SBPY="print(sb.start_deployment('$1', description='make demo: $1'))" sbpy
}

# Runs `hookline watch` in the background; approves when the canary waits for approval.
watch_and_approve() { # deployment id -> watch's exit code
    local did="$1" approved=0 rc
    "$HOOKLINE" watch "$did" --timeout 5m &
    WATCH_PID=$!
    while kill -0 "$WATCH_PID" 2>/dev/null; do
        if [ "$approved" = 0 ] && grep -q 'WAITING since' <<<"$("$HOOKLINE" status "$did" 2>/dev/null || true)"; then
            sleep 1
            echo
            show "$HOOKLINE" status "$did" | sed 's/^/    /'
            echo
            show "$HOOKLINE" approve "$did"
            echo
            approved=1
        fi
        sleep 1
    done
    rc=0
    wait "$WATCH_PID" || rc=$?
    WATCH_PID=""
    return "$rc"
}

bold "3. deploy v2 (example/web:v2): canary 10% -> approval -> 50% -> 100%"
V2=$(deploy example/web:v2)
echo "CodeDeploy deployment $V2 created (new task definition revision, AppSpec hooks -> the hook function)"
echo "$ hookline watch $V2"
V2_RC=0
watch_and_approve "$V2" || V2_RC=$?
echo "hookline watch exited $V2_RC (0 = Succeeded)"

bold "4. deploy a bad v3 (example/web:v3-bad): it answers 500, the web-5xx alarm fires during the 10% bake"
V3=$(deploy example/web:v3-bad)
echo "CodeDeploy deployment $V3 created"
echo "$ hookline watch $V3"
V3_RC=0
watch_and_approve "$V3" || V3_RC=$?
echo "hookline watch exited $V3_RC (1 = Failed: rolled back)"

bold "5. ECS-native: the same plan format on Amazon ECS's own blue/green controller (service api, no CodeDeploy)"
show "$HOOKLINE" plan validate --controller ecs tests/demo/ecs-plan.yaml
show "$HOOKLINE" plan push tests/demo/ecs-plan.yaml --cluster demo --service api
# One sandbox minute of ECS time per second: bakeTimeInMinutes=1 bakes 1 s, the hook timeout
# (1440 minutes) is 24 min, which the plan's 10m hook budget plus the rollback reserve fits.
API_TD=$(SBPY="sb.config(ecs_minute_s=1); sb.set_alarm('api-5xx', 'OK')
td = sb.client('ecs').register_task_definition(family='api', networkMode='awsvpc', requiresCompatibilities=['FARGATE'],
    cpu='256', memory='512', containerDefinitions=[{'name': 'api', 'image': 'example/api:v2', 'essential': True,
    'portMappings': [{'containerPort': 80}]}])['taskDefinition']
print(td['family'] + ':' + str(td['revision']))" sbpy)
echo "registered task definition $API_TD (example/api:v2)"
echo "$ aws ecs update-service --cluster demo --service api --task-definition $API_TD"
SBPY="sb.client('ecs').update_service(cluster='demo', service='api', taskDefinition='$API_TD')" sbpy
# The newest deployment by createdAt: AWS documents no order for ListServiceDeployments (the sandbox's
# is a switch, oldest first by default), and the service's creation deployment is listed too.
API=$(SBPY="ds = sb.client('ecs').list_service_deployments(cluster='demo', service='api')['serviceDeployments']
print(max(ds, key=lambda d: d['createdAt'])['serviceDeploymentArn'])" sbpy)
echo "ECS service deployment $API (ECS invokes hookline's hook at POST_TEST_TRAFFIC_SHIFT)"
echo "$ hookline watch --cluster demo --service api"
API_RC=0
watch_and_approve "$API" || API_RC=$?
echo "hookline watch exited $API_RC (0 = SUCCESSFUL)"
show "$HOOKLINE" history --cluster demo --service api --limit 1

bold "6. hookline's own controller: a DNS canary of shop-web between two load balancers (Route 53 weights)"
show "$HOOKLINE" plan preview tests/demo/demo.deploy.yml
# The simulated clients of the sandbox's DNS data plane resolve web.shop.example.com and send requests:
# each load balancer's RequestCount is the split users really see (resolvers cache answers for the TTL).
SBPY="sb.traffic(True, dns={'enabled': True, 'reset': True})" sbpy
echo "$ hookline deploy -e demo -d tests/demo"
DNS=$("$HOOKLINE" deploy -e demo -d tests/demo)
echo "$DNS"
echo "$ hookline watch $DNS"
DNS_RC=0
"$HOOKLINE" watch "$DNS" || DNS_RC=$?
echo "hookline watch exited $DNS_RC (0 = Succeeded)"
show "$HOOKLINE" history --fqdn web.shop.example.com --limit 1

bold "7. summary"
show "$HOOKLINE" history --application web --group web-prod --limit 3
echo
SBPY="w = sb.listener_weights(80, include_zero=False)
status, body = sb.alb(80, '/')
print('production listener :80 now:', ', '.join(f'{k} {v}%' for k, v in w.items()), '-> serving', body.get('image'), '(HTTP', str(status) + ')')
print('alarm web-5xx:', sb.alarm_state('web-5xx'))
rule = sb.client('ecs').describe_services(cluster='demo', services=['api'])['services'][0]['loadBalancers'][0]['advancedConfiguration']['productionListenerRule']
fwd = [a for a in sb.client('elbv2').describe_rules(RuleArns=[rule])['Rules'][0]['Actions'] if a['Type'] == 'forward'][0]
groups = (fwd.get('ForwardConfig') or {}).get('TargetGroups') or [{'TargetGroupArn': fwd['TargetGroupArn'], 'Weight': 1}]
total = sum(g.get('Weight', 1) for g in groups) or 1
print('ECS api production rule now:', ', '.join(g['TargetGroupArn'].split('/')[1] + ' ' + str(round(100 * g.get('Weight', 1) / total)) + '%' for g in groups))
r53 = sb.client('route53')
zone = r53.list_hosted_zones_by_name(DNSName='shop.example.com')['HostedZones'][0]['Id']
records = [r for r in r53.list_resource_record_sets(HostedZoneId=zone)['ResourceRecordSets'] if r['Name'] == 'web.shop.example.com.']
print('Route 53 web.shop.example.com now:', ', '.join(r['SetIdentifier'] + ' ' + str(r['Weight']) for r in sorted(records, key=lambda r: r['SetIdentifier'])))
ecs = sb.client('ecs')
for svc in ecs.describe_services(cluster='shop', services=['shop-web-blue', 'shop-web-green'])['services']:
    print(f\"ECS {svc['serviceName']}: desired {svc['desiredCount']}, running {svc['runningCount']}\")
sb.traffic(False)" sbpy
echo
printf '%-12s %-22s %-10s %s\n' DEPLOYMENT IMAGE OUTCOME "WATCH EXIT"
printf '%-12s %-22s %-10s %s\n' "$V2" example/web:v2 "$(SBPY="print(sb.status('$V2'))" sbpy)" "$V2_RC"
printf '%-12s %-22s %-10s %s\n' "$V3" example/web:v3-bad "$(SBPY="print(sb.status('$V3'))" sbpy)" "$V3_RC"
API_STATUS=$(SBPY="print(sb.client('ecs').describe_service_deployments(serviceDeploymentArns=['$API'])['serviceDeployments'][0]['status'])" sbpy)
printf '%-12s %-22s %-10s %s\n' "${API##*/}" example/api:v2 "$API_STATUS" "$API_RC"
printf '%-12s %-22s %-10s %s\n' "$DNS" shop-web:2.0.0 "$([ "$DNS_RC" = 0 ] && echo Succeeded || echo Failed)" "$DNS_RC"
if [ "$V2_RC" != 0 ] || [ "$V3_RC" != 1 ] || [ "$API_RC" != 0 ] || [ "$API_STATUS" != SUCCESSFUL ] || [ "$DNS_RC" != 0 ]; then
    echo "demo: unexpected outcome (wanted v2 Succeeded, v3 Failed, api v2 SUCCESSFUL, shop-web 2.0.0 Succeeded)" >&2
    exit 1
fi
echo
echo "demo done: v2 rolled out through the canary, v3 was caught by its alarm and rolled back,"
echo "api v2 rolled out through the same kind of plan under ECS's own blue/green controller, and"
echo "shop-web 2.0.0 moved users between two load balancers by Route 53 weights under hookline's own controller."
[ -z "$DASHBOARD_URL" ] || echo "(the dashboard at $DASHBOARD_URL stops with the demo)"
