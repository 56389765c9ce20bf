"""State machine placeholders (statemachine/*.asl.json) against the
template's DefinitionSubstitutions and the state machine roles."""

import json
import re

import pytest

from conftest import ROOT, contract_placeholders

MACHINES = ["canary", "post-traffic", "release", "rollback"]
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# ${XFunctionArn} -> logical id of the function resource
FUNCTION_OF = {
    "ShiftWeightFunctionArn": "ShiftWeightFunction",
    "ValidateHealthFunctionArn": "ValidateHealthFunction",
    "FinalizeFunctionArn": "FinalizeFunction",
    "RollbackFunctionArn": "RollbackFunction",
    "RegisterTaskdefFunctionArn": "RegisterTaskdefFunction",
}


def definition_text(name):
    path = ROOT / "statemachine" / f"{name}.asl.json"
    assert path.exists(), f"{path} is missing"
    return path.read_text(encoding="utf-8")


def placeholders(name):
    return set(PLACEHOLDER.findall(definition_text(name)))


def machines(template):
    out = {}
    for lid, res in template["Resources"].items():
        if res["Type"] == "AWS::Serverless::StateMachine":
            uri = res["Properties"]["DefinitionUri"]
            m = re.fullmatch(r"\.\./statemachine/([a-z-]+)\.asl\.json", uri)
            assert m, f"{lid}: DefinitionUri {uri}"
            out[m.group(1)] = (lid, res["Properties"])
    return out


def role_statements(template, props):
    role_id = props["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    for pol in role["Policies"]:
        yield from pol["PolicyDocument"]["Statement"]


def as_list(x):
    return x if isinstance(x, list) else [x]


def test_every_machine_is_in_the_template(template):
    assert sorted(machines(template)) == sorted(MACHINES)


def test_contract_placeholders_parse():
    assert contract_placeholders() == {
        "ShiftWeightFunctionArn", "ValidateHealthFunctionArn", "FinalizeFunctionArn",
        "RollbackFunctionArn", "RegisterTaskdefFunctionArn", "ApprovalTopicArn"}


@pytest.mark.parametrize("name", MACHINES)
def test_placeholders_equal_substitutions(template, name):
    """Every ${...} of the definition has a substitution, and the machine
    gets no substitution it does not use (each machine is handed only the
    ARNs it calls, which is also what its role may invoke)."""
    used = placeholders(name)
    assert used <= contract_placeholders(), \
        f"{name}: placeholders outside docs/contracts.md: {sorted(used - contract_placeholders())}"
    lid, props = machines(template)[name]
    subs = set(props.get("DefinitionSubstitutions", {}))
    assert used - subs == set(), f"{lid}: no substitution for {sorted(used - subs)}"
    assert subs - used == set(), f"{lid}: substitutions not used by {name}.asl.json: {sorted(subs - used)}"


@pytest.mark.parametrize("name", MACHINES)
def test_substitution_values_point_at_the_right_resources(template, name):
    lid, props = machines(template)[name]
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        if key == "ApprovalTopicArn":
            assert value == {"Ref": "ApprovalTopic"}
        else:
            assert value == {"Fn::GetAtt": [FUNCTION_OF[key], "Arn"]}, f"{lid}.{key}: {value}"


def test_placeholders_json_agrees_when_present():
    path = ROOT / "statemachine" / "placeholders.json"
    if not path.exists():
        pytest.skip("statemachine/placeholders.json not present")
    declared = json.loads(path.read_text(encoding="utf-8"))
    names = set(declared) if isinstance(declared, (dict, list)) else set()
    used = set().union(*(placeholders(m) for m in MACHINES))
    assert names == contract_placeholders()
    assert used <= names, f"used but not declared in placeholders.json: {sorted(used - names)}"
    if isinstance(declared, dict):
        for key, meta in declared.items():
            if isinstance(meta, dict) and meta.get("kind") == "function":
                assert FUNCTION_OF[key].replace("Function", "") .lower() == \
                    meta["name"].replace("-", ""), f"{key} -> {meta['name']}"


@pytest.mark.parametrize("name", MACHINES)
def test_role_invokes_exactly_the_functions_used(template, name):
    lid, props = machines(template)[name]
    used_fns = {FUNCTION_OF[p] for p in placeholders(name) if p in FUNCTION_OF}
    granted = set()
    for st in role_statements(template, props):
        if "lambda:InvokeFunction" in as_list(st["Action"]):
            for r in as_list(st["Resource"]):
                if "Fn::GetAtt" in r:
                    granted.add(r["Fn::GetAtt"][0])
                else:
                    m = re.fullmatch(r"\$\{(\w+)\.Arn\}:\*", r["Fn::Sub"])
                    assert m, f"{lid}: unexpected invoke resource {r}"
                    granted.add(m.group(1))
    assert granted == used_fns, f"{lid} role may invoke {sorted(granted)}, definition calls {sorted(used_fns)}"


@pytest.mark.parametrize("name", MACHINES)
def test_role_covers_service_integrations(template, name):
    """Tasks call only functions (through placeholders) or SNS publish;
    SNS publish appears exactly when the role may publish to the topic."""
    lid, props = machines(template)[name]
    definition = json.loads(definition_text(name))
    resources = []

    def walk(states):
        for st in states.values():
            if st.get("Type") == "Task":
                resources.append(st["Resource"])
            for branch in st.get("Branches", []):
                walk(branch["States"])
            if "Iterator" in st:
                walk(st["Iterator"]["States"])
            if "ItemProcessor" in st:
                walk(st["ItemProcessor"]["States"])

    walk(definition["States"])
    publishes = False
    for r in resources:
        if PLACEHOLDER.fullmatch(r):
            assert PLACEHOLDER.fullmatch(r).group(1) in FUNCTION_OF, f"{name}: task resource {r}"
        elif r.startswith("arn:aws:states:::sns:publish"):
            publishes = True
        else:
            pytest.fail(f"{name}: task resource {r} has no grant in {lid}'s role")
    may_publish = any("sns:Publish" in as_list(st["Action"]) for st in role_statements(template, props))
    assert publishes == may_publish, f"{lid}: publishes={publishes}, role allows sns:Publish={may_publish}"


@pytest.mark.parametrize("name", MACHINES)
def test_logging_and_names(template, name):
    lid, props = machines(template)[name]
    assert props["Name"] == {"Fn::Sub": f"${{NamePrefix}}-{name}"}
    assert props["Type"] == "STANDARD"
    assert props["Logging"]["Level"] in ("ALL", "ERROR", "FATAL")
    actions = set()
    for st in role_statements(template, props):
        actions |= set(as_list(st["Action"]))
    assert {"logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeLogGroups"} <= actions, \
        f"{lid}: logging enabled but the role cannot deliver logs"
