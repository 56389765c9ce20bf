"""The fleet's naming (provision.service_names / fleet_size / fleet_plan): service 1 is exactly today's
``web`` (every e2e test depends on those names), the others never collide with it or with each other."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import provision  # noqa: E402


def test_service_one_is_todays_web():
    assert provision.service_names(1) == {
        "service": "web", "family": "web", "container": "web", "load_balancer": "demo", "blue": "web-blue",
        "green": "web-green", "application": "web", "deployment_group": "web-prod", "alarm": "web-5xx",
        "plan_parameter": "/hookline/web/web-prod"}
    assert provision.service_names() == provision.service_names(1)


def test_service_k_has_its_own_names():
    n = provision.service_names(7)
    assert n == {"service": "web-7", "family": "web-7", "container": "web", "load_balancer": "demo-web-7",
                 "blue": "web-7-blue", "green": "web-7-green", "application": "web-7",
                 "deployment_group": "web-7-prod", "alarm": "web-7-5xx", "plan_parameter": "/hookline/web-7/web-7-prod"}


def test_fleet_names_never_collide():
    fleet = [provision.service_names(i) for i in range(1, 201)]
    for key in fleet[0]:
        if key == "container":
            continue
        values = [n[key] for n in fleet]
        assert len(set(values)) == len(values), key
    # ELBv2 limits load balancer and target group names to 32 characters.
    assert max(len(n[k]) for n in fleet for k in ("load_balancer", "blue", "green")) <= 32
    # The api and admin services keep their own names.
    assert not {"api", "admin"} & {n["application"] for n in fleet}


@pytest.mark.parametrize("bad", [0, -1, "2", 1.0, True, None])
def test_service_index_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="service index"):
        provision.service_names(bad)


def test_fleet_size():
    assert provision.fleet_size({}) == 1
    assert provision.fleet_size({"SANDBOX_SERVICES": "25"}) == 25
    for bad in ("0", "x", "-3"):
        with pytest.raises(SystemExit, match="SANDBOX_SERVICES"):
            provision.fleet_size({"SANDBOX_SERVICES": bad})


def test_fleet_plan_targets_the_services_own_alarm():
    web = provision.service_names(1)
    assert provision.fleet_plan(provision.DEMO_PLAN, web) is provision.DEMO_PLAN
    plan = provision.fleet_plan(provision.DEMO_PLAN, provision.service_names(3))
    assert plan["health"]["alarms"] == ["web-3-5xx"]
    assert "http" not in plan["health"]
    assert plan["steps"] == provision.DEMO_PLAN["steps"]
    assert provision.DEMO_PLAN["health"]["alarms"] == ["web-5xx"]  # the demo's own plan untouched
