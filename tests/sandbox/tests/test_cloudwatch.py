"""sim/cloudwatch.py: GetMetricData's metric math and publication delay over what moto returns."""
import datetime as dt

import pytest

from sim.cloudwatch import SOURCES, CloudWatchData, CwConfig

T0 = 1_800_000_000  # a minute boundary


class FakeMoto:
    """moto's GetMetricData for MetricStat queries: {id: {epoch: value}} as given."""

    def __init__(self, data):
        self.data, self.calls = data, []

    def get_metric_data(self, MetricDataQueries, StartTime, EndTime):
        self.calls.append(MetricDataQueries)
        out = []
        for q in MetricDataQueries:
            pts = sorted(self.data.get(q["Id"], {}).items())
            out.append({"Id": q["Id"], "Timestamps": [dt.datetime.fromtimestamp(t, dt.timezone.utc) for t, _ in pts],
                        "Values": [v for _, v in pts]})
        return {"MetricDataResults": out}


def stat(qid, metric="RequestCount", period=60, ret=False):
    return {"Id": qid, "ReturnData": ret, "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB",
                                                                    "MetricName": metric}, "Period": period,
                                                         "Stat": "Sum"}}


def expr(qid, text):
    return {"Id": qid, "Expression": text, "ReturnData": True}


def run(data, queries, start=T0, end=T0 + 300, cfg=None, now=None):
    cw = CloudWatchData(FakeMoto(data), cfg or CwConfig(), now=(lambda: now) if now else (lambda: T0 + 10_000))
    return cw.get_metric_data({"StartTime": start, "EndTime": end, "MetricDataQueries": queries,
                               "ScanBy": "TimestampAscending"})


def answer(out, qid):
    (r,) = [r for r in out[1]["MetricDataResults"] if r["Id"] == qid]
    return dict(zip(r["Timestamps"], r["Values"]))


def test_fill_gives_every_period_of_the_range_a_zero_when_the_count_has_no_data_point():
    out = run({}, [stat("raw"), expr("e", "FILL(raw, 0)")])
    assert out[0] == 200
    assert answer(out, "e") == {T0 + 60 * k: 0.0 for k in range(5)}
    assert [r["Id"] for r in out[1]["MetricDataResults"]] == ["e"], "ReturnData false is not answered"


def test_a_ratio_treats_missing_errors_as_zero_and_drops_division_by_zero():
    data = {"errors": {T0 + 60: 2.0}, "requests": {T0: 100.0, T0 + 60: 50.0, T0 + 180: 10.0}}
    out = run(data, [stat("errors", "HTTPCode_Target_5XX_Count"), stat("requests"),
                     expr("rate", "FILL(errors, 0) / FILL(requests, 0)")])
    # T0+120 and T0+240: 0/0 dropped
    assert answer(out, "rate") == {T0: 0.0, T0 + 60: 0.04, T0 + 180: 0.0}
    out = run(data, [stat("errors"), stat("requests"), expr("rate", "100 * errors / requests")])
    assert answer(out, "rate") == {T0: 0.0, T0 + 60: 4.0, T0 + 180: 0.0}


def test_comparisons_repeat_and_functions():
    data = {"a": {T0: 1.0, T0 + 120: 3.0}, "b": {T0 + 60: 2.0}}
    out = run(data, [stat("a"), stat("b"), expr("c", "a > b"), expr("r", "FILL(a, REPEAT)"),
                     expr("l", "FILL(a, LINEAR)"), expr("m", "a - AVG(a)"), expr("n", "-a + ABS(-2)")])
    assert answer(out, "c") == {T0: 1.0, T0 + 60: 0.0, T0 + 120: 1.0}
    assert answer(out, "r") == {T0: 1.0, T0 + 60: 1.0, T0 + 120: 3.0, T0 + 180: 3.0, T0 + 240: 3.0}
    assert answer(out, "l")[T0 + 60] == 2.0
    assert answer(out, "m") == {T0: -1.0, T0 + 120: 1.0}
    assert answer(out, "n") == {T0: 1.0, T0 + 120: -1.0}


def test_a_bad_expression_is_a_validation_error():
    status, body = run({}, [stat("a"), expr("e", "a / nope")])
    assert status == 400 and body["__type"] == "ValidationError" and "nope" in body["message"]
    status, body = run({}, [stat("a"), expr("e", "SEARCH('x')")])
    assert status == 400


def test_publication_delay_holds_back_the_last_periods():
    cfg = CwConfig()
    cfg.update({"cw_publication_delay": "60s", "cw_minute_s": 60})
    data = {"a": {T0 + 60 * k: 1.0 for k in range(5)}}
    # now = T0+300: periods ending after T0+240 are not readable yet (the last one)
    out = run(data, [stat("a", ret=True)], cfg=cfg, now=T0 + 300)
    assert sorted(answer(out, "a")) == [T0 + 60 * k for k in range(4)]
    cfg.update({"cw_publication_delay": "0s"})
    out = run(data, [stat("a", ret=True)], cfg=cfg, now=T0 + 300)
    assert len(answer(out, "a")) == 5
    with pytest.raises(ValueError):
        cfg.update({"cw_publication_delay": "30s"})
    # scaled: one sandbox minute of 1 s
    cfg.update({"cw_publication_delay": "60s", "cw_minute_s": 1})
    assert cfg.delay_seconds() == 1.0


def test_every_assumed_behaviour_is_a_switch():
    ids = [s["id"] for s in SOURCES]
    assert len(ids) == len(set(ids))
    for s in SOURCES:
        assert s["source"] != "assumed" or s["switch"] in CwConfig.CHOICES, s
