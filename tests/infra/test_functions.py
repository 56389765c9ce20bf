"""The template's Lambda functions against the workspace's binaries."""

import pathlib

import yaml

from conftest import ROOT, workspace_binaries

CONTRACT_ENV = {
    # docs/contracts.md "Function environment" (AWS_ENDPOINT_URL is sandbox-only,
    # RUST_LOG comes from Globals).
    "hook": {"CANARY_STATE_MACHINE_ARN", "POST_TRAFFIC_STATE_MACHINE_ARN", "PLAN_PARAMETER_PREFIX"},
    "rollback": {"CANARY_STATE_MACHINE_ARN", "POST_TRAFFIC_STATE_MACHINE_ARN", "PLAN_PARAMETER_PREFIX"},
    "finalize": {"PLAN_PARAMETER_PREFIX"},
    "register-taskdef": {"HOOK_FUNCTION_NAME"},
    "shift-weight": {"PLAN_PARAMETER_PREFIX"},
    "validate-health": {"PLAN_PARAMETER_PREFIX"},
}


def functions(template):
    """{binary name: (logical id, properties)} from FunctionName ${NamePrefix}-<bin>."""
    out = {}
    for lid, res in template["Resources"].items():
        if res["Type"] not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        name = res["Properties"]["FunctionName"]["Fn::Sub"]
        assert name.startswith("${NamePrefix}-"), f"{lid}: FunctionName {name}"
        binary = name[len("${NamePrefix}-"):]
        assert binary not in out, f"two functions for binary {binary}"
        out[binary] = (lid, res["Properties"])
    return out


def test_one_function_per_binary_and_vice_versa(template):
    bins = workspace_binaries()
    fns = functions(template)
    assert len(bins) == 6, f"expected the six binaries of docs/contracts.md, found {sorted(bins)}"
    missing = set(bins) - set(fns)
    extra = set(fns) - set(bins)
    assert not missing, f"binaries without a function in infra/template.yaml: {sorted(missing)}"
    assert not extra, f"functions in infra/template.yaml without a binary: {sorted(extra)}"


def test_code_uri_is_the_cargo_lambda_zip(template):
    for binary, (lid, props) in functions(template).items():
        assert props["CodeUri"] == f"../target/lambda/{binary}/bootstrap.zip", \
            f"{lid}: CodeUri must be what `make package` produces for {binary}"
        assert "Metadata" not in template["Resources"][lid] or \
            "BuildMethod" not in template["Resources"][lid]["Metadata"], \
            f"{lid}: CodeUri zips and BuildMethod are exclusive"


def test_runtime_handler_architecture(template):
    g = template["Globals"]["Function"]
    params = template["Parameters"]
    assert params["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    # Graviton by default, as `make package` builds (ARCH ?= arm64): the two must agree.
    assert params["Architecture"]["Default"] == "arm64"
    makefile = (pathlib.Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "\nARCH ?= arm64\n" in makefile
    for binary, (lid, props) in functions(template).items():
        assert props.get("Runtime", g.get("Runtime")) == "provided.al2023", lid
        assert props.get("Handler", g.get("Handler")) == "bootstrap", lid
        assert props.get("Architectures", g.get("Architectures")) == [{"Ref": "Architecture"}], lid


def test_environment_matches_contract(template):
    g_env = set(template["Globals"]["Function"]["Environment"]["Variables"])
    assert g_env == {"RUST_LOG"}
    for binary, (lid, props) in functions(template).items():
        env = set(props.get("Environment", {}).get("Variables", {}))
        assert env == CONTRACT_ENV[binary], f"{lid}: environment {sorted(env)} != {sorted(CONTRACT_ENV[binary])}"


def test_state_machine_arns_in_environment_name_the_machines(template):
    """The hook/rollback environment builds ARNs from names (to avoid a
    dependency cycle); they must name the machines the template creates."""
    names = {res["Properties"]["Name"]["Fn::Sub"] for res in template["Resources"].values()
             if res["Type"] == "AWS::Serverless::StateMachine"}
    for binary in ("hook", "rollback"):
        _, props = functions(template)[binary]
        for var, machine in (("CANARY_STATE_MACHINE_ARN", "canary"),
                             ("POST_TRAFFIC_STATE_MACHINE_ARN", "post-traffic")):
            arn = props["Environment"]["Variables"][var]["Fn::Sub"]
            assert arn == ("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
                           f"stateMachine:${{NamePrefix}}-{machine}"), f"{binary} {var}: {arn}"
            assert f"${{NamePrefix}}-{machine}" in names


def test_hook_is_asynchronously_safe(template):
    _, props = functions(template)["hook"]
    assert props.get("DeadLetterQueue") or props.get("EventInvokeConfig", {}).get("DestinationConfig"), \
        "CodeDeploy invokes the hook asynchronously: it needs a DLQ or an on-failure destination"


def test_appspec_hooks_name_the_default_hook_function(template):
    with open(ROOT / "appspec" / "appspec.yaml", encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    default = template["Parameters"]["NamePrefix"]["Default"] + "-hook"
    for h in spec["Hooks"]:
        assert list(h.values()) == [default]
    outputs = template["Outputs"]
    assert outputs["HookFunctionName"]["Value"] == {"Ref": functions(template)["hook"][0]}
