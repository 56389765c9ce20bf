"""Every suppressed cfn-lint rule and every skipped checkov check carries
its reason in the template."""

import re

import pytest

from conftest import INFRA, TEMPLATES, load_template


def metadata_blocks(t):
    yield "template", t.get("Metadata", {})
    for lid, res in t.get("Resources", {}).items():
        yield lid, res.get("Metadata", {})


@pytest.mark.parametrize("name", TEMPLATES)
def test_cfn_lint_suppressions_have_reasons(name):
    t = load_template(name)
    for where, md in metadata_blocks(t):
        ignored = md.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
        reasons = md.get("cfn-lint-reasons", {})
        for rule in ignored:
            assert len(str(reasons.get(rule, "")).strip()) > 20, \
                f"{name} {where}: cfn-lint {rule} suppressed without a reason in cfn-lint-reasons"
        assert set(reasons) <= set(ignored), f"{name} {where}: reasons for rules not suppressed"


@pytest.mark.parametrize("name", TEMPLATES)
def test_checkov_skips_have_reasons(name):
    t = load_template(name)
    for where, md in metadata_blocks(t):
        for skip in md.get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), f"{name} {where}: {skip}"
            assert len(str(skip.get("comment", "")).strip()) > 20, \
                f"{name} {where}: checkov {skip['id']} skipped without a reason"
    text = (INFRA / name).read_text(encoding="utf-8")
    for m in re.finditer(r"checkov:skip=([A-Z0-9_]+)(:?)(.*)", text):
        assert m.group(2) == ":" and len(m.group(3).strip()) > 20, \
            f"{name}: inline checkov:skip={m.group(1)} without a reason"
