"""appspec/appspec.yaml and appspec/taskdef.json against the structure AWS
documents for ECS deployments (CodeDeploy user guide, "AppSpec file
structure for Amazon ECS deployments"; CodePipeline "CodeDeployToECS"
action reference)."""

import json

import yaml

from conftest import ROOT

ECS_HOOK_EVENTS = {"BeforeInstall", "AfterInstall", "AfterAllowTestTraffic",
                   "BeforeAllowTraffic", "AfterAllowTraffic"}
TARGET_SERVICE_PROPERTIES = {"TaskDefinition", "LoadBalancerInfo", "PlatformVersion",
                             "NetworkConfiguration", "CapacityProviderStrategy"}


def load_appspec():
    with open(ROOT / "appspec" / "appspec.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_taskdef():
    with open(ROOT / "appspec" / "taskdef.json", encoding="utf-8") as f:
        return json.load(f)


def target_service(appspec):
    resources = appspec["Resources"]
    assert isinstance(resources, list) and len(resources) == 1, \
        "an ECS AppSpec has exactly one resource"
    (entry,) = resources
    assert list(entry) == ["TargetService"], f"the resource must be named TargetService, got {list(entry)}"
    return entry["TargetService"]


def test_version_is_0_0():
    raw = (ROOT / "appspec" / "appspec.yaml").read_text(encoding="utf-8")
    spec = load_appspec()
    # YAML reads 0.0 as a float; AWS documents the literal "version: 0.0".
    assert spec["version"] in (0.0, "0.0")
    assert any(line.strip().startswith("version: 0.0") for line in raw.splitlines())
    assert set(spec) <= {"version", "Resources", "Hooks"}, f"unknown top-level keys {set(spec)}"


def test_exactly_one_ecs_target_service():
    svc = target_service(load_appspec())
    assert svc["Type"] == "AWS::ECS::Service"
    props = svc["Properties"]
    assert set(props) <= TARGET_SERVICE_PROPERTIES, f"unknown properties {set(props) - TARGET_SERVICE_PROPERTIES}"
    assert props["TaskDefinition"] == "<TASK_DEFINITION>", \
        "CodeDeployToECS replaces the literal <TASK_DEFINITION>"
    lbi = props["LoadBalancerInfo"]
    assert set(lbi) == {"ContainerName", "ContainerPort"}
    assert isinstance(lbi["ContainerName"], str) and lbi["ContainerName"]
    assert isinstance(lbi["ContainerPort"], int) and 0 < lbi["ContainerPort"] < 65536


def test_hooks_are_ecs_lifecycle_events_and_point_at_hookline():
    hooks = load_appspec()["Hooks"]
    assert isinstance(hooks, list) and hooks
    names = []
    for h in hooks:
        assert isinstance(h, dict) and len(h) == 1, f"each hook is one 'Event: function' pair, got {h}"
        (event, fn), = h.items()
        assert event in ECS_HOOK_EVENTS, f"{event} is not an ECS lifecycle event"
        assert isinstance(fn, str) and fn
        names.append(event)
    assert len(names) == len(set(names)), "an event is hooked twice"
    assert {"BeforeAllowTraffic", "AfterAllowTraffic"} <= set(names)
    # The function the default hookline stack creates (FunctionName
    # ${NamePrefix}-hook, NamePrefix default "hookline").
    for h in hooks:
        assert list(h.values()) == ["hookline-hook"]


def test_taskdef_placeholders_and_shape():
    td = load_taskdef()
    raw = (ROOT / "appspec" / "taskdef.json").read_text(encoding="utf-8")
    assert "<IMAGE1_NAME>" in raw
    assert td["executionRoleArn"] == "<EXECUTION_ROLE_ARN>"
    assert td["requiresCompatibilities"] == ["FARGATE"]
    assert td["networkMode"] == "awsvpc"
    assert td["cpu"] and td["memory"], "Fargate needs task-level cpu and memory"
    images = [c["image"] for c in td["containerDefinitions"]]
    assert images.count("<IMAGE1_NAME>") == 1, "exactly one container takes the pipeline's image"


def test_container_name_and_port_match_appspec():
    lbi = target_service(load_appspec())["Properties"]["LoadBalancerInfo"]
    containers = {c["name"]: c for c in load_taskdef()["containerDefinitions"]}
    assert lbi["ContainerName"] in containers, \
        f"AppSpec ContainerName {lbi['ContainerName']} is not a container of taskdef.json ({list(containers)})"
    c = containers[lbi["ContainerName"]]
    ports = [p["containerPort"] for p in c.get("portMappings", [])]
    assert lbi["ContainerPort"] in ports, f"ContainerPort {lbi['ContainerPort']} not mapped by {c['name']} ({ports})"
    assert c["image"] == "<IMAGE1_NAME>", "the load-balanced container is the one that gets the new image"


def test_placeholders_are_all_filled_by_the_pipeline():
    """Every <PLACEHOLDER> in the templates is either filled by CodePipeline
    (<IMAGE1_NAME>, <TASK_DEFINITION>) or by the example build's sed."""
    import re

    pipeline = (ROOT / "infra" / "pipeline.yaml").read_text(encoding="utf-8")
    for name in ("taskdef.json", "appspec.yaml"):
        text = (ROOT / "appspec" / name).read_text(encoding="utf-8")
        for ph in set(re.findall(r"<([A-Z0-9_]+)>", text)):
            if ph in ("IMAGE1_NAME", "TASK_DEFINITION"):
                continue
            assert f"s|<{ph}>|" in pipeline, f"<{ph}> in appspec/{name} is never replaced by infra/pipeline.yaml"
