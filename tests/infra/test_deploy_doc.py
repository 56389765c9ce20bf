"""docs/deploy.md against the files its commands name: templates exist,
every --parameter-overrides key is a parameter of that template, every
hookline parameter is explained, every stack output it names exists."""

import re

import pytest

from conftest import ROOT, load_template

DOC = ROOT / "docs" / "deploy.md"


def doc():
    return DOC.read_text(encoding="utf-8")


def commands():
    """Shell commands from the ```bash blocks, continuation lines joined."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", doc(), re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        out.extend(line.strip() for line in joined.splitlines() if line.strip())
    return out


def deploy_commands():
    for cmd in commands():
        m = re.search(r"--template-file (\S+)", cmd)
        if m:
            yield cmd, m.group(1)


def test_deploy_commands_found():
    files = [f for _, f in deploy_commands()]
    assert sorted(set(files)) == ["infra/ecs-native-service-example.yaml", "infra/ecs-service-example.yaml",
                                  "infra/pipeline.yaml", "infra/template.yaml"]


@pytest.mark.parametrize("cmd,path", list(deploy_commands()))
def test_parameter_overrides_exist(cmd, path):
    assert (ROOT / path).exists(), path
    params = load_template(path.split("/", 1)[1])["Parameters"]
    overrides = cmd.split("--parameter-overrides", 1)[1].split(" --", 1)[0] if "--parameter-overrides" in cmd else ""
    keys = re.findall(r"(?:^|\s)([A-Za-z0-9]+)=", overrides)
    assert keys, f"{path}: no parameters in {cmd[:80]}"
    unknown = set(keys) - set(params)
    assert not unknown, f"{path}: docs/deploy.md passes unknown parameters {sorted(unknown)}"
    for k in keys:
        allowed = params[k].get("AllowedValues")
        value = re.search(rf"(?:^|\s){k}=(\S*)", overrides).group(1).strip("'")
        if allowed:
            assert value in [str(a) for a in allowed], f"{path}: {k}={value} not in {allowed}"
    if path == "infra/template.yaml":
        assert set(keys) == set(params), f"the hookline deploy command omits {sorted(set(params) - set(keys))}"
        assert "sam deploy" in cmd and "CAPABILITY_IAM" in cmd


def test_every_hookline_parameter_explained():
    params = load_template("template.yaml")["Parameters"]
    text = doc()
    for p, spec in params.items():
        row = re.search(rf"^\| `{p}` \| (.*?) \|", text, re.M)
        assert row, f"docs/deploy.md does not explain parameter {p}"
        default = str(spec.get("Default", ""))
        assert row.group(1) == (f"`{default}`" if default else "empty"), f"{p}: documented default {row.group(1)}"


def test_outputs_named_exist():
    outputs = set(load_template("template.yaml")["Outputs"])
    named = set(re.findall(r"OutputKey=='(\w+)'", doc()))
    named |= {o for o in re.findall(r"`(\w+(?:Arn|Name|Url))`", doc()) if o[0].isupper()}
    params = set()
    for name in ("template.yaml", "pipeline.yaml", "ecs-service-example.yaml", "ecs-native-service-example.yaml"):
        params |= set(load_template(name)["Parameters"])
    hookline_like = {o for o in named - params if "StateMachine" in o or o.startswith(("Hook", "Approval"))}
    assert hookline_like <= outputs, f"unknown hookline outputs {sorted(hookline_like - outputs)}"
    example_outputs = set(load_template("ecs-service-example.yaml")["Outputs"])
    for o in ("TaskExecutionRoleArn", "TaskRoleArn"):
        assert o in example_outputs


def test_package_paths_match_template():
    text = doc()
    assert "make package" in text
    assert "../target/lambda/<name>/bootstrap.zip" in text
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    # make package writes LAMBDA_DIR/<name>/bootstrap.zip, target/lambda unless told otherwise: the CodeUris.
    assert "cargo lambda build --release --target" in makefile
    assert '--lambda-dir "$(LAMBDA_DIR)" --output-format zip' in makefile
    assert "\nLAMBDA_DIR ?= target/lambda\n" in makefile


def test_machine_and_function_names_match_template():
    t = load_template("template.yaml")
    prefix = t["Parameters"]["NamePrefix"]["Default"]
    text = doc()
    for name in re.findall(r"execution:(hookline-[a-z-]+):", text):
        assert name in {f"{prefix}-canary", f"{prefix}-post-traffic"}
    for fn in re.findall(r"`(hookline-[a-z-]+)`", text):
        assert fn in {f"{prefix}-{n}" for n in ("hook", "register-taskdef", "shift-weight", "validate-health",
                                               "finalize", "rollback", "canary", "post-traffic", "release",
                                               "approvals", "hook-failures")}, fn
