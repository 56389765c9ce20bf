"""CloudWatch metric data as the canary judge reads it: GetMetricData in front of moto.

moto 5.2.5's GetMetricData answers MetricStat queries, but an ``Expression`` query only when the
expression is exactly another query's id (moto/cloudwatch/metric_data_expression_parser.py): no
FILL, no arithmetic, so ``FILL(m, 0)`` or ``errors / requests`` came back empty. The router sends
GetMetricData (rpc-v2-cbor from the Rust SDK, or JSON) here: the MetricStat queries are read from
moto, then the metric math is evaluated the way the CloudWatch user guide describes it
("Metric math syntax and functions",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html), and data
points not yet published (``cw_publication_delay``) are held back.

What the sandbox does NOT do for hookline: it never fills a count with zeros unless the request
asks for FILL; a series with no data point stays empty, as ALB's count metrics are (they are
"only reported when non-zero": the e2e tests put ALB-style counts only for periods that have some).

Switches (``/_sandbox/config``, env at start):
- ``cw_publication_delay`` (SANDBOX_CW_PUBLICATION_DELAY): "0s" (default) or "60s": how long after
  a period ends its data point can be read, in sandbox minutes of ``cw_minute_s`` seconds
  (SANDBOX_CW_MINUTE_S, else SANDBOX_MINUTE_S, else 60) — assumed, see SOURCES.
"""
import datetime as dt
import math
import os
import re
import time

METRIC_MATH_PAGE = "CloudWatch user guide, 'Metric math syntax and functions' " \
                   "(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html)"
ALB_PAGE = "ELB user guide, 'CloudWatch metrics for your Application Load Balancer' " \
           "(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html)"
GMD_PAGE = "CloudWatch API reference, GetMetricData " \
           "(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html)"

SOURCES = [
    {"id": "CW-1", "behaviour": "GetMetricData evaluates metric math Expression queries over the request's MetricStat "
                                "queries (moto 5.2.5 answers only an expression that is another query's id)",
     "source": f"\"You can also perform metric math programmatically, using the GetMetricData API operation\" — "
               f"{METRIC_MATH_PAGE}", "switch": None},
    {"id": "CW-2", "behaviour": "Arithmetic between time series treats a missing value as 0 and drops a data point "
                                "that divides by zero",
     "source": f"\"Missing values in a time series are treated as 0. If the value of a data point causes a function "
               f"to attempt to divide by zero, the data point is dropped.\" — {METRIC_MATH_PAGE}", "switch": None},
    {"id": "CW-3", "behaviour": "FILL(m, v) with a number, REPEAT or LINEAR gives every period of the request's range a value",
     "source": f"\"FILL: Fills the missing values of a time series\" — {METRIC_MATH_PAGE}", "switch": None},
    {"id": "CW-4", "behaviour": "Comparison operators return 0/1 per data point, a missing value in one series "
                                "counting as 0",
     "source": "\"When comparison operators are used between two time series, and only one of the time series has a "
               f"value for a particular time stamp, the function treats the missing value in the other time series as "
               f"0.\" — {METRIC_MATH_PAGE}", "switch": None},
    {"id": "CW-5", "behaviour": "A query with ReturnData false is evaluated but not answered",
     "source": f"\"ReturnData: When used in GetMetricData, this option indicates whether to return the timestamps and "
               f"raw data values of this metric\" — {GMD_PAGE} (MetricDataQuery)", "switch": None},
    {"id": "CW-6", "behaviour": "ALB count metrics have no data point for a period that counted nothing (the e2e "
                                "tests put ALB-style counts only when non-zero)",
     "source": f"\"If there are no requests flowing through the load balancer or no data for a metric, the metric is "
               f"not reported.\"; HTTPCode_Target_5XX_Count \"Reporting criteria: There is a nonzero value\" — "
               f"{ALB_PAGE}", "switch": None},
    {"id": "CW-8", "behaviour": "ABS, CEIL, FLOOR, LOG, LOG10 work per data point; AVG, SUM, MIN, MAX of one "
                                "series are a scalar; PERIOD is a metric's period in seconds",
     "source": "\"The AVG of a single time series returns a scalar representing the average of all the data points "
               "in the metric.\"; PERIOD: \"Returns the period of the metric in seconds.\" — "
               f"{METRIC_MATH_PAGE}", "switch": None},
    {"id": "CW-9", "behaviour": "Results come newest first unless ScanBy is TimestampAscending",
     "source": f"\"TimestampDescending returns the newest data first and paginates when the MaxDatapoints limit is "
               f"reached. TimestampAscending returns the oldest data first\" — {GMD_PAGE} (ScanBy)", "switch": None},
    {"id": "CW-7", "behaviour": "A period's data point can be read only some time after the period ends "
                                "(publication delay: 0s or 60s, in sandbox minutes)",
     "source": "assumed", "switch": "cw_publication_delay"},
]

DELAYS = ("0s", "60s")


def _env_float(name, default):
    v = os.environ.get(name)
    return float(v) if v not in (None, "") else default


class CwConfig:
    CHOICES = {"cw_publication_delay": DELAYS}

    def __init__(self, **kw):
        self.cw_publication_delay = kw.get("cw_publication_delay",
                                           os.environ.get("SANDBOX_CW_PUBLICATION_DELAY") or DELAYS[0])
        self.check("cw_publication_delay", self.cw_publication_delay)
        self.cw_minute_s = _env_float("SANDBOX_CW_MINUTE_S", _env_float("SANDBOX_MINUTE_S", 60.0))

    def check(self, key, value):
        if key in self.CHOICES and value not in self.CHOICES[key]:
            raise ValueError(f"{key}={value!r}: must be one of {', '.join(self.CHOICES[key])}")

    def update(self, doc):
        """Applies the cw_* keys of a /_sandbox/config body (all checked first, then set)."""
        keys = {k: v for k, v in doc.items() if k.startswith("cw_")}
        for k, v in keys.items():
            if k not in ("cw_publication_delay", "cw_minute_s"):
                raise ValueError(f"{k}: unknown CloudWatch setting")
            if k == "cw_minute_s" and not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"cw_minute_s={v!r}: must be a number > 0")
            self.check(k, v)
        for k, v in keys.items():
            setattr(self, k, float(v) if k == "cw_minute_s" else v)

    def delay_seconds(self):
        return int(self.cw_publication_delay.rstrip("s")) / 60.0 * self.cw_minute_s


class MetricMathError(ValueError):
    pass


# ---------------------------------------------------------------- metric math
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|&&|\|\||[-+*/^(),<>]))")


def _tokens(text):
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise MetricMathError(f"unexpected character {text[pos:].lstrip()[:1]!r} in {text!r}")
        num, name, op = m.groups()
        out.append(("num", float(num)) if num else ("name", name) if name else ("op", op))
        pos = m.end()
    return out


class _Eval:
    """Recursive descent over one expression. Values: a float (scalar) or a dict {timestamp: value}."""
    FUNCS = {"ABS": abs, "CEIL": math.ceil, "FLOOR": math.floor, "LOG": math.log, "LOG10": math.log10}
    AGG = {"AVG": lambda v: sum(v) / len(v), "SUM": sum, "MIN": min, "MAX": max}

    def __init__(self, text, series, grid, periods):
        self.toks, self.i = _tokens(text), 0
        self.series, self.grid, self.periods = series, grid, periods
        self.text = text

    def run(self):
        v = self.compare()
        if self.i != len(self.toks):
            raise MetricMathError(f"unexpected {self.toks[self.i][1]!r} in {self.text!r}")
        return v

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, value=None):
        t = self.peek()
        if value is not None and t[1] != value:
            raise MetricMathError(f"expected {value!r} in {self.text!r}")
        self.i += 1
        return t

    def compare(self):
        left = self.additive()
        while self.peek()[1] in ("<", ">", "<=", ">=", "==", "!="):
            op = self.take()[1]
            right = self.additive()
            left = _binary(left, right, {"<": lambda a, b: float(a < b), ">": lambda a, b: float(a > b),
                                         "<=": lambda a, b: float(a <= b), ">=": lambda a, b: float(a >= b),
                                         "==": lambda a, b: float(a == b), "!=": lambda a, b: float(a != b)}[op])
        return left

    def additive(self):
        left = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            right = self.term()
            left = _binary(left, right, (lambda a, b: a + b) if op == "+" else (lambda a, b: a - b))
        return left

    def term(self):
        left = self.power()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            right = self.power()
            left = _binary(left, right, (lambda a, b: a * b) if op == "*" else _divide)
        return left

    def power(self):
        base = self.unary()
        if self.peek()[1] == "^":
            self.take()
            return _binary(base, self.power(), lambda a, b: a ** b)
        return base

    def unary(self):
        if self.peek()[1] == "-":
            self.take()
            return _binary(0.0, self.unary(), lambda a, b: a - b)
        return self.primary()

    def primary(self):
        kind, value = self.take()
        if kind == "num":
            return value
        if value == "(":
            v = self.compare()
            self.take(")")
            return v
        if kind != "name":
            raise MetricMathError(f"unexpected {value!r} in {self.text!r}")
        if self.peek()[1] == "(":
            return self.call(value)
        if value not in self.series:
            raise MetricMathError(f"Unrecognized id {value!r} in {self.text!r}")
        return self.series[value]

    def call(self, fn):
        self.take("(")
        args = []
        if self.peek()[1] != ")":
            while True:
                if fn == "FILL" and args and self.peek() in (("name", "REPEAT"), ("name", "LINEAR")):
                    args.append(self.take()[1])
                else:
                    args.append(self.compare())
                if self.peek()[1] != ",":
                    break
                self.take(",")
        self.take(")")
        if fn == "FILL" and len(args) == 2 and isinstance(args[0], dict):
            return _fill(args[0], args[1], self.grid)
        if fn in self.FUNCS and len(args) == 1:
            f = self.FUNCS[fn]
            return f(args[0]) if not isinstance(args[0], dict) else {t: float(f(v)) for t, v in args[0].items()}
        if fn in self.AGG and len(args) == 1 and isinstance(args[0], dict):
            vals = list(args[0].values())
            return self.AGG[fn](vals) if vals else float("nan")
        if fn == "PERIOD" and len(args) == 1 and isinstance(args[0], dict):
            return float(self.periods.get(id(args[0]), 0))
        raise MetricMathError(f"sandbox: metric math {fn}({len(args)} arguments) is not emulated")


def _divide(a, b):
    return None if b == 0 else a / b


def _binary(left, right, op):
    """CW-2: series with series over the union of timestamps, missing = 0; a None result is dropped."""
    if not isinstance(left, dict) and not isinstance(right, dict):
        r = op(left, right)
        return float("nan") if r is None else r
    stamps = set(left if isinstance(left, dict) else ()) | set(right if isinstance(right, dict) else ())
    out = {}
    for t in stamps:
        a = left.get(t, 0.0) if isinstance(left, dict) else left
        b = right.get(t, 0.0) if isinstance(right, dict) else right
        r = op(a, b)
        if r is not None:
            out[t] = r
    return out


def _fill(series, how, grid):
    """CW-3: every period of the range gets a value: a number (or the other series' value), the last
    value before it (REPEAT), or a line between its neighbours (LINEAR). Before the first value
    REPEAT and LINEAR have nothing to go on and leave the period missing."""
    out = dict(series)
    known = sorted(series)
    for t in grid:
        if t in out:
            continue
        before = [k for k in known if k < t]
        after = [k for k in known if k > t]
        if how == "REPEAT":
            if before:
                out[t] = series[before[-1]]
        elif how == "LINEAR":
            if before and after:
                t0, t1 = before[-1], after[0]
                out[t] = series[t0] + (series[t1] - series[t0]) * (t - t0) / (t1 - t0)
            elif before:
                out[t] = series[before[-1]]
        elif isinstance(how, dict):
            if t in how:
                out[t] = how[t]
        else:
            out[t] = float(how)
    return out


# ---------------------------------------------------------------- GetMetricData
class CloudWatchData:
    def __init__(self, moto_cw, cfg=None, now=time.time):
        self.cw, self.cfg, self.now = moto_cw, cfg or CwConfig(), now

    def get_metric_data(self, params):
        """params: GetMetricData's input as JSON (timestamps in epoch seconds) -> (status, output dict)."""
        queries = params.get("MetricDataQueries") or []
        start, end = float(params["StartTime"]), float(params["EndTime"])
        if start >= end:
            return 400, {"__type": "ValidationError", "message": "The parameter StartTime must be less than EndTime."}
        stats = [q for q in queries if q.get("MetricStat")]
        exprs = [q for q in queries if q.get("Expression") is not None and not q.get("MetricStat")]
        series, periods = {}, {}
        if stats:
            to_moto = [{"Id": q["Id"], "MetricStat": q["MetricStat"], "ReturnData": True} for q in stats]
            got = self.cw.get_metric_data(MetricDataQueries=to_moto,
                                          StartTime=dt.datetime.fromtimestamp(start, dt.timezone.utc),
                                          EndTime=dt.datetime.fromtimestamp(end, dt.timezone.utc))
            readable_until = self.now() - self.cfg.delay_seconds()
            by_id = {q["Id"]: q for q in stats}
            for r in got["MetricDataResults"]:
                period = int(by_id[r["Id"]]["MetricStat"]["Period"])
                s = {}
                for ts, v in zip(r["Timestamps"], r["Values"]):
                    t = ts.timestamp()
                    # CW-7: a period's point is readable once the period is over plus the delay
                    if self.cfg.delay_seconds() > 0 and t + period > readable_until:
                        continue
                    s[t] = float(v)
                series[r["Id"]] = s
                periods[id(s)] = period
            for q in stats:
                series.setdefault(q["Id"], {})
        period = min((int(q["MetricStat"]["Period"]) for q in stats), default=60)
        grid = [start + k * period for k in range(int((end - start) // period))]
        for q in exprs:
            try:
                v = _Eval(q["Expression"], series, grid, periods).run()
            except MetricMathError as e:
                return 400, {"__type": "ValidationError", "message": str(e)}
            if not isinstance(v, dict):
                return 400, {"__type": "ValidationError",
                             "message": f"The expression {q['Expression']!r} must produce a time series"}
            series[q["Id"]] = {t: x for t, x in v.items() if start <= t < end and not math.isnan(x)}
        results = []
        for q in queries:
            if q.get("ReturnData") is False:   # CW-5
                continue
            s = series.get(q["Id"], {})
            stamps = sorted(s, reverse=params.get("ScanBy") != "TimestampAscending")
            results.append({"Id": q["Id"], "Label": q.get("Label") or q["Id"], "Timestamps": stamps,
                            "Values": [s[t] for t in stamps], "StatusCode": "Complete"})
        return 200, {"MetricDataResults": results, "Messages": []}
