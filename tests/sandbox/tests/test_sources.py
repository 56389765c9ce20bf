"""The source table (tests/sandbox/README.md "Sources"): every simulator behaviour has a row with
its source, the README shows exactly the rows the modules declare, and every assumed behaviour is
a switch whose choices /_sandbox/config accepts (tests/sandbox/sources.py)."""
import os

import pytest
import requests

import sources


@pytest.fixture(scope="module")
def registry():
    rows, pending, problems = sources.collect()
    switches = sources.config_classes(problems)
    return rows, pending, problems, switches


def test_every_row_has_a_source_and_every_assumed_row_a_switch(registry):
    rows, pending, problems, switches = registry
    assert not problems, problems
    assert not sources.validate(rows, switches), sources.validate(rows, switches)
    assert any(r["simulator"] == "codedeploy" for r in rows)
    for r in rows:
        if r["source"] == "assumed":
            key = r["switch"]
            assert key in switches and len(switches[key][1]) >= 2, r


def test_the_readme_table_is_the_rendered_registry(registry):
    rows, pending, problems, switches = registry
    table = sources.render(rows, switches, pending)
    got = sources.readme_table()
    assert got is not None, "tests/sandbox/README.md lacks the sources markers (section '## Sources')"
    assert got == table, "README table is stale: run .venv/bin/python tests/sandbox/sources.py --write-readme"
    # the one table sits in the section "## Sources"
    text = open(sources.README, encoding="utf-8").read()
    section = text.split("\n## Sources\n", 1)
    assert len(section) == 2 and sources.BEGIN in section[1].split("\n## ", 1)[0]
    for r in rows:
        assert f"| {r['id']} |" in got


def test_every_switch_choice_is_accepted_by_its_config_class(registry, monkeypatch):
    rows, pending, problems, switches = registry
    assumed = sources.assumed_switches(rows, switches)
    assert assumed, "no assumed switch found"
    for sim, key, choices in assumed:
        cls = switches[key][0]
        assert cls().__dict__[key] == choices[0] or getattr(cls(), key) == choices[0], (key, "default is the first")
        for choice in choices:
            assert getattr(cls(**{key: choice}), key) == choice
            cls().check(key, choice)
            monkeypatch.setenv("SANDBOX_" + key.upper(), choice)   # the env var at sandbox start
            assert getattr(cls(), key) == choice, f"SANDBOX_{key.upper()}={choice} not read"
            monkeypatch.delenv("SANDBOX_" + key.upper())
        with pytest.raises(ValueError, match=key):
            cls().check(key, "no-such-choice")


def test_every_switch_choice_is_accepted_by_the_config_endpoint(registry, sandbox):
    """The router's POST /_sandbox/config takes every choice of every assumed switch (GET shows it)
    and refuses anything else with 400 naming the key, changing nothing."""
    rows, pending, problems, switches = registry
    sb, c, stub = sandbox
    url = sb.url + "/_sandbox/config"
    for sim, key, choices in sources.assumed_switches(rows, switches):
        for choice in list(choices[1:]) + [choices[0]]:
            r = requests.post(url, json={key: choice}, timeout=10)
            assert r.status_code == 200, (key, choice, r.text)
            assert requests.get(url, timeout=10).json().get(key) == choice, (key, choice)
        r = requests.post(url, json={key: "no-such-choice"}, timeout=10)
        assert r.status_code == 400 and key in r.text, (key, r.status_code, r.text)
        assert requests.get(url, timeout=10).json().get(key) == choices[0]


def test_every_config_switch_is_a_row(registry):
    """A switch no row explains would be a behaviour without a source."""
    rows, pending, problems, switches = registry
    named = {r.get("switch") for r in rows}
    pending_sims = {p.split(":", 1)[0] for p in pending}
    missing = []
    for key, (cls, _) in switches.items():
        sim = sources.simulator_of(cls.__module__)
        if key not in named and sim not in pending_sims:
            missing.append(f"{cls.__module__}.{cls.__name__}.CHOICES[{key!r}]")
    assert not missing, missing


@pytest.mark.parametrize("sim", sorted(sources.SIMULATORS))
def test_each_simulator_declares_its_sources(registry, sim):
    rows, pending, problems, switches = registry
    mine = [p for p in pending if p.startswith(sim + ":")]
    if mine:
        pytest.skip(f"pending (reported in the README under the table): {mine[0]}")
    assert any(r["simulator"] == sim for r in rows), f"{sim}: no row"


def test_the_validator_catches_bad_rows():
    switches = {"two": (object, ("a", "b")), "one": (object, ("a",))}
    good = {"id": "X-OK", "behaviour": "b", "source": '"A sentence." — Some page', "switch": None, "module": "m"}
    bad = [
        dict(good, id="X-OK"),                                             # duplicate id
        dict(good, id="lower"),                                            # malformed id
        dict(good, id="X-NOPAGE", source='"A sentence."'),                 # quote without its page
        dict(good, id="X-BELIEF", source="CodeDeploy does this"),          # our own belief
        dict(good, id="X-NOSWITCH", source="assumed"),                     # assumed without a switch
        dict(good, id="X-UNKNOWN", source="assumed", switch="nope"),       # switch that does not exist
        dict(good, id="X-ONE", source="assumed", switch="one"),            # switch with one choice
        {"id": "X-FIELDS", "module": "m"},                                 # fields missing
    ]
    problems = sources.validate([good] + bad, switches)
    for rid, what in [("X-OK", "twice"), ("lower", "id must"), ("X-NOPAGE", "source must"),
                      ("X-BELIEF", "source must"), ("X-NOSWITCH", "must be a switch"),
                      ("X-UNKNOWN", "no config key"), ("X-ONE", "fewer than 2"), ("X-FIELDS", "behaviour missing"),
                      ("X-FIELDS", "switch missing")]:
        assert any(p.startswith(f"m: {rid}:") and what in p for p in problems), (rid, what, problems)
    assert not sources.validate([good, dict(good, id="X-SAMPLE", source="sample: aws-samples/repo/dir/file.py"),
                                 dict(good, id="X-SW", source="assumed", switch="two")], switches)


def test_a_module_without_sources_or_failing_to_import_is_reported_not_crashed(monkeypatch):
    monkeypatch.setattr(sources, "SIMULATORS", dict(sources.SIMULATORS, alb=("sim.alb",)))
    real = sources.declaring_modules
    monkeypatch.setattr(sources, "declaring_modules", lambda: real() + ["no_such_simulator_module"])
    rows, pending, problems = sources.collect()
    assert any(p.startswith("alb: no SOURCES list yet in sim/alb.py") for p in pending), pending
    assert any("no_such_simulator_module" in p and "import failed" in p for p in problems), problems
    assert any(r["simulator"] == "codedeploy" for r in rows)
    assert "Not yet in the table: alb:" in sources.render(rows, sources.config_classes(), pending)


def test_the_command_line_check_fails_on_a_stale_readme(tmp_path, monkeypatch):
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n\n## Sources\n\n{sources.BEGIN}\n| old |\n{sources.END}\n")
    monkeypatch.setattr(sources, "README", str(stale))
    assert sources.main(["--check"]) == 1
    sources.write_readme(sources.render(*(lambda r: (r[0], sources.config_classes(), r[1]))(sources.collect())),
                         path=str(stale))
    assert sources.readme_table(str(stale)).startswith("| id | simulator | behaviour | source | switch |")
    assert sources.main(["--check"]) == 0
    assert os.path.exists(sources.README)
