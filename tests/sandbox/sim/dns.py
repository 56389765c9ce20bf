"""The DNS data plane of the app-traffic loop (issue 22): simulated clients resolve a weighted
name through caching resolvers, so each load balancer's RequestCount shows the lag of DNS.

Route 53 (moto, through sim/route53.py) holds the records; nothing in moto answers DNS queries.
This module is the part of Route 53's data plane hookline's own controller meets, plus the
clients' resolvers:

- ``weighted_answer``: which record of a weighted set answers one query (the one place of the
  math): share = weight / sum of weights over the candidates; records of weight 0 only when
  every nonzero record is unhealthy; an alias record with EvaluateTargetHealth whose load
  balancer is unhealthy is skipped while another candidate is healthy; no healthy record at
  all: every record counts as healthy (rows DNS-WEIGHT .. DNS-ALL-UNHEALTHY).
- ``Resolver``: one client's caching resolver: an answer is kept for its TTL (an alias record
  to a load balancer answers with the load balancer's TTL, 60 s), then asked again at the expiry
  (the client's requests are continuous; a tick only counts them), so each client keeps its place
  in the TTL (``dns_resolver_cache``: ``ttl``, the default, or ``none``: a query per request).
- ``DnsPlane``: a population of clients (``clients``, default 40), each with its own resolver,
  whose first expiries are spread over one TTL so the population refreshes continuously; each
  tick every client sends ``requests_per_client`` requests to the load balancer its cached
  answer names. ``tick(now, view)`` returns the requests per load balancer.
- While a Route 53 change is PENDING, ``dns_pending_answers`` says what the name servers
  answer: ``previous`` (default) the records as they were before the change, ``new`` the new
  ones at once.

The router (router.py ``_dns_tick``) reads the records and the load balancers' health once per
tick into a ``ZoneView``, calls ``tick`` and publishes ``AWS/ApplicationELB`` RequestCount and
HTTPCode_Target_5XX_Count per load balancer.

Switches (``/_sandbox/config``, env ``SANDBOX_DNS_RESOLVER_CACHE`` / ``SANDBOX_DNS_PENDING_ANSWERS``
at start): ``dns_resolver_cache`` ("ttl" | "none"), ``dns_pending_answers`` ("previous" | "new").
"""
import math
import os
import random
import threading

SIMULATOR = "route53"
WEIGHTED_PAGE = "Route 53 developer guide, Weighted routing " \
                "(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html)"
# Route 53 developer guide, "How Amazon Route 53 chooses records when health checking is configured"
# (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html):
# its English sections on zero weights and on all-unhealthy sets were not in the search results, its
# Chinese edition's were, and are quoted as written (with an English rendering).
CHOOSES_PAGE_CN = "the same page's Chinese edition " \
                  "(https://docs.amazonaws.cn/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html)"
RRSET_PAGE = "Amazon Route 53 API reference, ResourceRecordSet " \
             "(https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html)"
ALIAS_PAGE = "Amazon Route 53 API reference, AliasTarget " \
             "(https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html)"
GET_CHANGE_PAGE = "Amazon Route 53 API reference, GetChange " \
                  "(https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html)"
ALB_METRICS_PAGE = "ELB user guide, CloudWatch metrics for your Application Load Balancer " \
                   "(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html)"

# Route 53 answers an alias record to a load balancer with the load balancer's TTL: "Values other
# than 60 seconds (the TTL for load balancers) will change the effect of the values that you
# specify for Weight." (RRSET_PAGE, TTL). AWS offers no other value, so the sandbox has no knob.
ELB_ALIAS_TTL_S = 60.0

SOURCES = [
    {"id": "DNS-WEIGHT", "behaviour": "A query of a weighted name is answered with one record, chosen with probability "
                                      "weight / sum of the weights of the records that may answer",
     "source": "\"Amazon Route 53 sends traffic to a resource based on the weight that you assign to the record as a "
               "proportion of the total weight for all records in the group\" — " + WEIGHTED_PAGE, "switch": None},
    {"id": "DNS-WEIGHT-ZERO", "behaviour": "A record of weight 0 is not answered while a record of nonzero weight is "
                                           "healthy; when every nonzero record is unhealthy the zero-weight records "
                                           "are considered (equal shares)",
     "source": "\"If you want to stop sending traffic to a resource, you can change the weight for that record to 0.\" "
               "— " + WEIGHTED_PAGE + "; \"Route 53 最初仅考虑非零加权记录(如果有)。\" / \"如果权重大于 0 的所有记录的运行状况都不良,"
               "Route 53 会考虑零权重的记录。\" (Route 53 first considers only the nonzero weighted records; if every "
               "record with a weight above 0 is unhealthy, it considers the zero-weight records) — " + CHOOSES_PAGE_CN,
     "switch": None},
    {"id": "DNS-EVALUATE-HEALTH", "behaviour": "An alias record with EvaluateTargetHealth whose load balancer is "
                                               "unhealthy (a target group with targets has no healthy one, or a target "
                                               "group has no registered target) is skipped; Route 53 chooses among "
                                               "the other records by the same rule",
     "source": "\"For an Application or Network Load Balancer to be considered healthy, every target group that "
               "contains targets must contain at least one healthy target. If any target group contains only "
               "unhealthy targets, the load balancer is considered unhealthy, and Route 53 routes queries to other "
               "resources. A target group that has no registered targets is considered unhealthy.\" — " + ALIAS_PAGE
               + " (EvaluateTargetHealth)", "switch": None},
    {"id": "DNS-ALL-UNHEALTHY", "behaviour": "When no record of the set is healthy, every record counts as healthy and "
                                             "the weights decide",
     "source": "\"在这种情况下,Route 53 将认为该组中所有记录的运行状况都良好,并根据路由策略和为每个记录指定的值选择记录。\" "
               "(when every record of a group is unhealthy, Route 53 considers all of them healthy and chooses by the "
               "routing policy and each record's values) — " + CHOOSES_PAGE_CN,
     "switch": None},
    {"id": "DNS-ALIAS-TTL", "behaviour": "An answer from an alias record to a load balancer carries a TTL of 60 s (the "
                                         "load balancer's); a record with its own TTL carries that",
     "source": "\"If you're creating or updating an alias resource record set, omit TTL. Amazon Route 53 uses the "
               "value of TTL for the alias target.\" and \"Values other than 60 seconds (the TTL for load balancers) "
               "will change the effect of the values that you specify for Weight.\" — " + RRSET_PAGE + " (TTL)",
     "switch": None},
    {"id": "DNS-RESOLVER-CACHE", "behaviour": "Each client's resolver keeps an answer for its TTL and asks again only "
                                              "when it has expired, at the expiry (ttl); none: a query per request. "
                                              "Clients' first expiries are spread over one TTL and stay so",
     "source": "assumed", "switch": "dns_resolver_cache"},
    {"id": "DNS-PENDING-ANSWERS", "behaviour": "While a change is PENDING the name servers answer the records as they "
                                               "were before it (previous), or the new records at once (new); INSYNC: "
                                               "the new records",
     "source": "assumed", "switch": "dns_pending_answers"},
    {"id": "DNS-REQUEST-COUNT", "behaviour": "Each load balancer's RequestCount (AWS/ApplicationELB, dimension "
                                             "LoadBalancer app/<name>/<id>, Sum, in the load balancer's Region) counts the requests its clients sent "
                                             "it in the tick, published only when nonzero; HTTPCode_Target_5XX_Count "
                                             "those a target answered 5xx (an image tag containing 'bad'); a load "
                                             "balancer with no target to send a request to (none registered, or "
                                             "only ones in their initial checks) answers 503 itself "
                                             "(HTTPCode_ELB_5XX_Count) and counts no request",
     "source": "\"RequestCount: The number of requests processed over IPv4 and IPv6. This metric is only incremented "
               "for requests where the load balancer node was able to choose a target.\" — " + ALB_METRICS_PAGE,
     "switch": None},
    {"id": "DNS-ALB-FAIL-OPEN", "behaviour": "A load balancer sends a client's request to the healthy targets of the "
                                            "listener's target group; to all its targets when every one is unhealthy; "
                                            "with no healthy or unhealthy target it answers 503 itself",
     "source": "\"If a target group contains only unhealthy registered targets, the load balancer routes requests to "
               "all those targets, regardless of their health status.\" — ELB user guide, Health checks for "
               "Application Load Balancer target groups (https://docs.aws.amazon.com/elasticloadbalancing/latest/"
               "application/target-group-health-checks.html)", "switch": None},
]

RESOLVER_CACHES = ("ttl", "none")
PENDING_ANSWERS = ("previous", "new")


class DnsConfig:
    """Switches of the DNS data plane (first choice = default)."""
    CHOICES = {"dns_resolver_cache": RESOLVER_CACHES, "dns_pending_answers": PENDING_ANSWERS}
    ENV = {k: "SANDBOX_" + k.upper() for k in CHOICES}

    def __init__(self, **kw):
        for k, choices in self.CHOICES.items():
            setattr(self, k, kw.get(k, os.environ.get(self.ENV[k]) or choices[0]))
            self.check(k, getattr(self, k))

    def check(self, key, value):
        if key in self.CHOICES and value not in self.CHOICES[key]:
            raise ValueError(f"{key}={value!r}: must be one of {', '.join(self.CHOICES[key])}")

    def update(self, doc):
        """Applies the dns_* keys of a /_sandbox/config body (all checked first, then set)."""
        keys = {k: v for k, v in doc.items() if k.startswith("dns_")}
        for k, v in keys.items():
            if k not in self.CHOICES:
                raise ValueError(f"{k}: unknown DNS setting (known: {', '.join(self.CHOICES)})")
            self.check(k, v)
        for k, v in keys.items():
            setattr(self, k, v)


# ---------------------------------------------------------------- the math
class Record:
    """One weighted record as the data plane sees it: ``target`` is what a client connects to
    (a load balancer name, or the record's value), ``healthy`` whether Route 53 counts it healthy
    (always True without EvaluateTargetHealth), ``ttl`` the answer's TTL in seconds."""
    __slots__ = ("set_id", "weight", "target", "healthy", "ttl")

    def __init__(self, set_id, weight, target, healthy=True, ttl=ELB_ALIAS_TTL_S):
        self.set_id, self.weight, self.target, self.healthy, self.ttl = set_id, int(weight), target, healthy, ttl

    def __repr__(self):
        return f"Record({self.set_id!r}, {self.weight}, {self.target!r}, healthy={self.healthy}, ttl={self.ttl})"


def candidates(records):
    """[(record, share)] of the records that may answer a query now, shares summing to 1
    (DNS-WEIGHT, DNS-WEIGHT-ZERO, DNS-EVALUATE-HEALTH, DNS-ALL-UNHEALTHY); [] for no record."""
    if not records:
        return []
    healthy = [r for r in records if r.healthy]
    pool = healthy or list(records)            # DNS-ALL-UNHEALTHY: none healthy -> all count as healthy
    nonzero = [r for r in pool if r.weight > 0]
    if nonzero:                                # DNS-WEIGHT-ZERO: zero weights only when no nonzero is healthy
        total = float(sum(r.weight for r in nonzero))
        return [(r, r.weight / total) for r in nonzero]
    return [(r, 1.0 / len(pool)) for r in pool]


def weighted_answer(records, draw):
    """The record answering one query, ``draw`` a number in [0, 1); None when there is no record."""
    acc = 0.0
    shares = candidates(records)
    for r, share in shares:
        acc += share
        if draw < acc:
            return r
    return shares[-1][0] if shares else None


class Resolver:
    """One client's caching resolver (DNS-RESOLVER-CACHE). ``first_expiry``: a moment its answers
    expire at, one TTL apart (a client of a population that was already running holds an answer
    fetched earlier; DnsPlane spreads these over one TTL); None: its first query's."""
    __slots__ = ("answer", "expires_at", "first_expiry")

    def __init__(self, first_expiry=None):
        self.answer, self.expires_at, self.first_expiry = None, 0.0, first_expiry

    def lookup(self, now, records, draw, cache="ttl"):
        """The target this client connects to now: its cached answer until it expires, else a new
        answer from ``records`` cached for the answer's TTL. None when the name has no record."""
        if cache == "ttl" and self.answer is not None and now < self.expires_at:
            return self.answer
        rec = weighted_answer(records, draw)
        if rec is None:
            self.answer = None
            return None
        first = self.answer is None and self.expires_at == 0.0
        self.answer = rec.target
        if first:
            # a client of a population that was already running: its moments are first_expiry's,
            # whenever the traffic loop first runs (now, or long after the population was made)
            has_moments = self.first_expiry is not None and self.first_expiry <= now + rec.ttl
            self.expires_at = self.first_expiry if has_moments else now + rec.ttl
        if now >= self.expires_at:
            # A client's requests are continuous; the traffic loop only counts them per tick. Its query
            # after an expiry is its first request after it, so the new answer is kept one TTL from the
            # expiry, not from the tick that counted it (and a loop that was off, or a population
            # without a cache, keeps each client's moments one TTL apart): otherwise every expiry
            # slips to a tick, and clients whose expiries fall between the same two ticks, or all of
            # them after a pause, are in step for good (after an hour of 1 s ticks 40 clients refreshed
            # in about 10 bursts instead of continuously).
            self.expires_at += (math.floor((now - self.expires_at) / rec.ttl) + 1) * rec.ttl
        return self.answer


class DnsPlane:
    """A population of clients, each with its own resolver (see module doc)."""

    def __init__(self, clients=40, seed=None, now=0.0, ttl=ELB_ALIAS_TTL_S):
        self.lock = threading.Lock()
        self.rng = random.Random(int(os.environ.get("SANDBOX_DNS_SEED", "7")) if seed is None else seed)
        self.ttl = ttl
        self.resolvers = []
        self.resize(clients, now)

    def resize(self, clients, now):
        """``clients`` resolvers; new ones expire spread over one TTL from ``now`` (the first at once)."""
        clients = int(clients)
        if clients < 1:
            raise ValueError(f"clients: expected an integer >= 1, got {clients}")
        with self.lock:
            self.resolvers = self.resolvers[:clients]
            n0 = len(self.resolvers)
            for i in range(n0, clients):
                self.resolvers.append(Resolver(first_expiry=now + self.ttl * (i - n0) / max(1, clients - n0)))

    def restart(self, clients, now):
        """The clients start over (POST /_sandbox/traffic {"dns": {"restart": true}}): no answer
        cached, each asks at its next request and keeps the answer until a moment spread over one
        TTL from ``now``, as when the router made them. A test's population then holds no answer
        of the previous test's records."""
        with self.lock:
            self.resolvers = []
        self.resize(clients, now)

    def tick(self, now, records, requests_per_client=1, cache="ttl"):
        """{target: requests} sent this tick by every client (targets None = no answer)."""
        out = {}
        with self.lock:
            for res in self.resolvers:
                if cache == "none":   # a query per request
                    for _ in range(requests_per_client):
                        t = res.lookup(now, records, self.rng.random(), cache)
                        out[t] = out.get(t, 0) + 1
                    continue
                t = res.lookup(now, records, self.rng.random(), cache)
                out[t] = out.get(t, 0) + requests_per_client
        return out

    def cached(self):
        """{target: clients} of the answers the resolvers hold now."""
        with self.lock:
            out = {}
            for r in self.resolvers:
                out[r.answer] = out.get(r.answer, 0) + 1
            return out
