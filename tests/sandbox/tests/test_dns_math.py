"""The DNS data plane's math (sim/dns.py) with an injected clock: which record answers a query
(DNS-WEIGHT, DNS-WEIGHT-ZERO, DNS-EVALUATE-HEALTH, DNS-ALL-UNHEALTHY), how long a resolver keeps
an answer (DNS-ALIAS-TTL, DNS-RESOLVER-CACHE), and what a population of caching clients sends
after a weight change: the lag of DNS, then convergence within one TTL."""
import random

import pytest

from sim.dns import ELB_ALIAS_TTL_S, DnsConfig, DnsPlane, Record, Resolver, candidates, weighted_answer


def shares(records):
    return {r.set_id: round(share, 6) for r, share in candidates(records)}


def test_share_is_weight_over_the_sum_of_the_weights():
    assert shares([Record("blue", 1, "b"), Record("green", 255, "g")]) == {"blue": round(1 / 256, 6),
                                                                          "green": round(255 / 256, 6)}
    assert shares([Record("blue", 50, "b"), Record("green", 50, "g")]) == {"blue": 0.5, "green": 0.5}
    assert shares([]) == {} and weighted_answer([], 0.3) is None


def test_weight_zero_is_never_answered_while_a_nonzero_record_is_healthy():
    recs = [Record("blue", 100, "b"), Record("green", 0, "g")]
    assert shares(recs) == {"blue": 1.0}
    assert {weighted_answer(recs, x / 100).set_id for x in range(100)} == {"blue"}


def test_an_unhealthy_alias_is_skipped_for_a_healthy_one_even_of_weight_zero():
    # DNS-EVALUATE-HEALTH + DNS-WEIGHT-ZERO: blue (100) unhealthy -> the zero-weight green answers
    assert shares([Record("blue", 100, "b", healthy=False), Record("green", 0, "g")]) == {"green": 1.0}
    # an unhealthy nonzero record among healthy nonzero ones: the rest share by weight
    assert shares([Record("a", 30, "a"), Record("b", 30, "b", healthy=False), Record("c", 10, "c")]) == {
        "a": 0.75, "c": 0.25}


def test_when_no_record_is_healthy_all_count_as_healthy():
    assert shares([Record("blue", 90, "b", healthy=False), Record("green", 10, "g", healthy=False)]) == {
        "blue": 0.9, "green": 0.1}
    # every weight 0: equal shares
    assert shares([Record("blue", 0, "b"), Record("green", 0, "g")]) == {"blue": 0.5, "green": 0.5}


def test_weighted_answer_follows_the_draw():
    recs = [Record("blue", 75, "b"), Record("green", 25, "g")]
    assert weighted_answer(recs, 0.0).set_id == "blue"
    assert weighted_answer(recs, 0.7499).set_id == "blue"
    assert weighted_answer(recs, 0.75).set_id == "green"
    assert weighted_answer(recs, 0.9999).set_id == "green"
    rng = random.Random(1)
    got = sum(weighted_answer(recs, rng.random()).set_id == "green" for _ in range(20000))
    assert 0.23 < got / 20000 < 0.27


def test_a_resolver_keeps_its_answer_for_the_ttl_then_asks_again():
    blue = [Record("blue", 100, "lb-blue")]
    green = [Record("green", 100, "lb-green")]
    r = Resolver()
    assert r.lookup(1000.0, blue, 0.5) == "lb-blue" and r.expires_at == 1000.0 + ELB_ALIAS_TTL_S
    assert r.lookup(1059.9, green, 0.5) == "lb-blue"          # cached: the new records are not asked
    assert r.lookup(1060.0, green, 0.5) == "lb-green"         # expired: asked again
    assert r.lookup(1060.1, blue, 0.5, cache="none") == "lb-blue"   # dns_resolver_cache none: every request


def test_the_ttl_is_the_records_own_for_a_non_alias_record():
    r = Resolver()
    r.lookup(0.0, [Record("x", 1, "203.0.113.7", ttl=300)], 0.1)
    assert r.expires_at == 300


def population_share(plane, t, records, cache="ttl"):
    sent = plane.tick(t, records, 1, cache)
    return sent.get("lb-green", 0) / sum(sent.values())


def test_after_a_weight_change_the_observed_share_lags_then_converges_within_one_ttl():
    """40 clients (the sandbox default) and 2000 (the law of large numbers) whose first expiries are
    spread over one TTL: right after blue 100 -> 50/50 green gets a small part of its 50 %, half a TTL
    later about a quarter, one TTL later (+ one tick) its 50 % +- sampling noise."""
    before = [Record("blue", 100, "lb-blue"), Record("green", 0, "lb-green")]
    after = [Record("blue", 50, "lb-blue"), Record("green", 50, "lb-green")]
    for clients, tol in ((2000, 0.04), (40, 0.2)):
        plane = DnsPlane(clients=clients, seed=3, now=0.0)
        for t in range(0, 120):                        # two TTLs on blue 100: every client holds blue
            assert population_share(plane, float(t), before) == 0.0
        changed = 120.0
        lag = [population_share(plane, changed + s, after) for s in range(0, 61)]
        assert lag[0] < 0.05, lag[:3]                  # just after the change: almost all still on blue
        if clients >= 1000:
            assert 0.04 < lag[6] < 0.07                # 10 % of the clients re-resolved, half of them to green
            assert 0.2 < lag[30] < 0.3                 # half a TTL: ~25 %
        assert all(a <= b + tol / 2 for a, b in zip(lag, lag[1:])), "the share must grow, not jump around"
        assert abs(lag[60] - 0.5) < tol, lag[60]       # one TTL on: every client re-resolved once


def test_no_cache_follows_the_records_at_once():
    after = [Record("blue", 50, "lb-blue"), Record("green", 50, "lb-green")]
    plane = DnsPlane(clients=500, seed=5, now=0.0)
    plane.tick(0.0, [Record("blue", 100, "lb-blue")], 1)
    assert abs(population_share(plane, 1.0, after, cache="none") - 0.5) < 0.07


def test_clients_first_expiries_are_spread_over_one_ttl():
    plane = DnsPlane(clients=40, seed=1, now=100.0)
    plane.tick(100.0, [Record("blue", 100, "lb-blue")], 1)
    expiries = sorted(r.expires_at for r in plane.resolvers)
    # the first client's answer is fresh (a full TTL), the others' were fetched before: spread over one TTL
    assert expiries[-1] == 100.0 + ELB_ALIAS_TTL_S and expiries[0] == 100.0 + ELB_ALIAS_TTL_S / 40
    gaps = {round(b - a, 6) for a, b in zip(expiries, expiries[1:])}
    assert gaps == {round(ELB_ALIAS_TTL_S / 40, 6)}
    with pytest.raises(ValueError, match="clients"):
        plane.resize(0, 0.0)


def test_dns_switches():
    assert DnsConfig().dns_resolver_cache == "ttl" and DnsConfig().dns_pending_answers == "previous"
    with pytest.raises(ValueError, match="dns_resolver_cache"):
        DnsConfig().update({"dns_resolver_cache": "forever"})
    with pytest.raises(ValueError, match="dns_nope"):
        DnsConfig().update({"dns_nope": "x"})


def test_clients_stay_spread_over_the_ttl_however_the_ticks_fall():
    """Each client asks again at its own expiry, not at the tick that counts its requests: after two
    hours of irregular ticks (1-1.3 s, now and then a stall of up to 5 s) each of the 40 clients
    refreshes at the same moment of the TTL as in the first minute, 40 distinct moments. (Taking the
    tick's time as the query's put clients whose expiries fell between the same two ticks in step
    for good: about 10 distinct moments after one hour, 4 after six.)"""
    rng = random.Random(1)
    plane = DnsPlane(clients=40, seed=3, now=0.0)
    blue = [Record("blue", 100, "lb-blue")]
    t, first = 0.0, None

    def phases():
        return [round(r.expires_at % ELB_ALIAS_TTL_S, 6) for r in plane.resolvers]
    while t < 2 * 3600:
        t += 1.0 + rng.random() * 0.3 + (rng.random() < 0.01) * rng.random() * 5
        plane.tick(t, blue)
        if first is None and t > ELB_ALIAS_TTL_S:
            first = phases()
    assert len(set(first)) == 40, first
    assert phases() == first


def test_a_resolver_keeps_its_moments_one_ttl_apart_through_a_pause_and_without_a_cache():
    blue = [Record("blue", 100, "lb-blue")]
    r = Resolver()
    r.lookup(0.0, blue, 0.5)
    r.lookup(60.4, blue, 0.5)                   # a tick after the expiry: kept one TTL from the expiry
    assert r.expires_at == 120.0
    r.lookup(500.0, blue, 0.5)                  # the loop was off: its moments go on (480, 540), not 500 + TTL
    assert r.expires_at == 540.0
    for t in (530.0, 541.0, 599.5, 600.2):      # dns_resolver_cache none: a query per request, same moments
        r.lookup(t, blue, 0.5, cache="none")
    assert r.expires_at == 660.0


def test_clients_are_spread_over_the_ttl_when_the_traffic_starts_long_after_the_population():
    """The router makes its population when it starts and the traffic loop may first run minutes
    later (the e2e tests turn it on per test): the clients' moments are still spread over one TTL.
    (All 40 asked at the first tick and refreshed together: seen by test_dns_observed_split.py.)"""
    plane = DnsPlane(clients=40, seed=1, now=0.0)
    plane.tick(1000.0, [Record("blue", 100, "lb-blue")], 1)
    expiries = sorted(r.expires_at for r in plane.resolvers)
    assert 1000.0 < expiries[0] and expiries[-1] <= 1000.0 + ELB_ALIAS_TTL_S
    assert sorted(round(e % ELB_ALIAS_TTL_S, 6) for e in expiries) == \
        [round(i * ELB_ALIAS_TTL_S / 40, 6) for i in range(40)]


def test_restart_empties_every_cache_and_spreads_the_expiries_from_now():
    plane = DnsPlane(clients=40, seed=1, now=0.0)
    plane.tick(1.0, [Record("green", 100, "lb-green")], 1)
    plane.restart(40, 500.0)
    assert plane.cached() == {None: 40}
    assert plane.tick(500.5, [Record("blue", 100, "lb-blue")], 1) == {"lb-blue": 40}
    assert sorted(round(r.expires_at - 500.0, 6) for r in plane.resolvers) == \
        sorted([round(ELB_ALIAS_TTL_S, 6)] + [round(i * ELB_ALIAS_TTL_S / 40, 6) for i in range(1, 40)])
