#!/usr/bin/env python3
"""`make bench`: cold start, memory, package size and orchestration cost -> BENCHMARKS.md.

Run by `make bench` (after `make build-release venv`) with the repo's .venv Python. Steps:
  1. benches/.venv (Python 3.11 + pinned awslambdaric/boto3) for the baseline hook;
  2. zips: `make package` if any target/lambda/<fn>/bootstrap.zip is missing;
  3. its own sandbox (ports 4620/4621/9020, state .sandbox-bench), stopped at the end;
  4. cold starts, interleaved: each round runs every subject once (Rust hook, Python hook, ...);
  5. a happy canary with zero bakes, per step;
  6. BENCHMARKS.md + benches/results/latest.json.
The benchmark never fails the build on a number: goals are reported as met or missed.

Knobs (environment): BENCH_RUNS (cold runs per subject, default 11, at least 7),
BENCH_VARIANT (jitter-off | opt-s | thin-lto: also build the hook that way into its own
CARGO_TARGET_DIR and measure it against target/release/hook in the same rounds; rev:<commit>: build
the hook of that older commit, from a git worktree, as the *before* of a code change such as SDK
feature trimming, with BENCH_VARIANT_WHAT describing the change),
BENCH_SANDBOX=0 (skip the sandbox parts), BENCH_PACKAGE=0 (never run `make package`),
BENCH_SANDBOX_PORT / _MOTO_PORT / _LAMBDA_PORT / _STATE, BENCH_OUT (default BENCHMARKS.md).
"""

from __future__ import annotations

import atexit
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "benches"
sys.path.insert(0, str(BENCH))
import coldstart  # noqa: E402
import orchestration  # noqa: E402
import tlsproxy  # noqa: E402

FUNCTIONS = ["hook", "register-taskdef", "shift-weight", "validate-health", "finalize", "rollback"]
MB = 1_000_000  # sizes are decimal megabytes (the stricter reading of the goals)

# A profile variant is this tree built another way (its env overrides .cargo/config.toml's [env] and the
# release profile). jitter-off and opt-s were measured as variants before they became the defaults
# (their rows stay in benches/results); jitter-on and opt-3 measure the defaults' other side.
VARIANTS = {
    "jitter-off": {"env": {"AWS_LC_SYS_NO_JITTER_ENTROPY": "1"},
                   "what": "aws-lc-sys built with AWS_LC_SYS_NO_JITTER_ENTROPY=1 (no CPU-jitter entropy "
                           "source at first RNG use)"},
    "jitter-on": {"env": {"AWS_LC_SYS_NO_JITTER_ENTROPY": "0"},
                  "what": "aws-lc-sys with its CPU-jitter entropy source (the default before .cargo/config.toml)"},
    "opt-s": {"env": {"CARGO_PROFILE_RELEASE_OPT_LEVEL": "s"}, "what": "release profile opt-level = \"s\""},
    "opt-3": {"env": {"CARGO_PROFILE_RELEASE_OPT_LEVEL": "3"}, "what": "release profile opt-level = 3 (before)"},
    "thin-lto": {"env": {"CARGO_PROFILE_RELEASE_LTO": "thin", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16"},
                 "what": "release profile lto = \"thin\", codegen-units = 16"},
}

GOALS = {"hook_init_ms": 15.0, "python_ratio": 40.0, "rss_mb": 24.0, "zip_mb": 4.0,
         "elbv2_per_shift": 2, "calls_per_health_check": 4, "transitions_per_step": 8,
         # issue 13: the cold path over HTTPS against Python's, and init above the bare-runtime floor
         "cold_path_ratio": 0.6, "init_over_floor_ms": 2.0}

# The zips of both architectures: arm64 where the template's CodeUri points (make package's default),
# x86_64 beside them.
ARCHES = {"arm64": ("target/lambda", 0xB7), "x86_64": ("target/lambda-x86_64", 0x3E)}  # dir, ELF e_machine
FLOOR = "bench-floor"
# The same echo on a current-thread runtime, as hookline's functions run (hookline::runtime::main).
FLOOR_CT = "bench-floor-current-thread"

LOG_DIR = ROOT / "target" / "bench"
BUILDS: list = []  # build processes we started (own process groups), killed on exit if still running


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


# ---------------------------------------------------------------- machine and load
def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except Exception:
            return "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "kernel": platform.release(),
            "rustc": out(["rustc", "--version"]), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


class LoadMonitor(threading.Thread):
    """Samples the load average and the compilers/test runners that are not ours, every 2 s."""

    WATCH = {"rustc", "cargo", "cc1", "cc1plus", "ld", "ld.lld", "pytest", "cargo-clippy", "clippy-driver"}

    def __init__(self):
        super().__init__(daemon=True)
        self.ours: set = set()  # process groups we started (builds, sandbox)
        self.samples = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(2.0):
            try:
                load1 = float(open("/proc/loadavg").read().split()[0])
            except OSError:
                continue
            others = {}
            for d in os.listdir("/proc"):
                if not d.isdigit():
                    continue
                try:
                    comm = open(f"/proc/{d}/comm").read().strip()
                    if comm not in self.WATCH:
                        continue
                    if os.getpgid(int(d)) in self.ours:
                        continue
                except (OSError, ProcessLookupError):
                    continue
                others[comm] = others.get(comm, 0) + 1
            self.samples.append({"t": time.time(), "load1": load1, "others": others})

    def summary(self):
        if not self.samples:
            return {"samples": 0}
        busy = [s for s in self.samples if s["others"]]
        kinds = {}
        for s in self.samples:
            for k, v in s["others"].items():
                kinds[k] = max(kinds.get(k, 0), v)
        return {"samples": len(self.samples), "load1_max": max(s["load1"] for s in self.samples),
                "load1_median": statistics.median(s["load1"] for s in self.samples),
                "busy_fraction": len(busy) / len(self.samples), "max_concurrent": kinds}


# ---------------------------------------------------------------- setup
def ensure_bench_venv():
    venv = BENCH / ".venv"
    stamp = venv / ".installed"
    req = BENCH / "requirements.txt"
    if stamp.exists() and stamp.stat().st_mtime >= req.stat().st_mtime:
        return venv / "bin" / "python"
    py = shutil.which("python3.11")
    if not py:
        raise RuntimeError("python3.11 not found: the baseline is Python 3.11")
    log("creating benches/.venv (Python 3.11, awslambdaric + boto3)")
    subprocess.run([py, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin/pip"), "install", "--quiet", "--upgrade", "pip"], check=True, timeout=600)
    subprocess.run([str(venv / "bin/pip"), "install", "--quiet", "-r", str(req)], check=True, timeout=900)
    stamp.touch()
    return venv / "bin" / "python"


def run_build(cmd, cwd, env, log_name, monitor, timeout_var):
    """Runs a build in its own process group (killed on exit), its output in target/bench/<log_name>:
    (exit code or "timeout", seconds)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(LOG_DIR / log_name, "w") as out:
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        monitor.ours.add(p.pid)
        BUILDS.append(p)
        try:
            rc = p.wait(timeout=env_int(timeout_var, 3600))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc = "timeout"
    return rc, time.monotonic() - t0


def zip_arch(path: pathlib.Path):
    """The ELF machine of the zip's `bootstrap` (0xB7 aarch64, 0x3E x86-64), or None."""
    try:
        with zipfile.ZipFile(path) as z, z.open("bootstrap") as b:
            head = b.read(20)
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    return int.from_bytes(head[18:20], "little") if head[:4] == b"\x7fELF" else None


def zip_sizes(monitor):
    """`make package` for each architecture whose zips are missing (or of the other architecture)."""
    info = {"ran_package": [], "package_seconds": {}, "package_error": None, "sizes": {}}
    for arch, (rel, machine) in ARCHES.items():
        zips = {f: ROOT / rel / f / "bootstrap.zip" for f in FUNCTIONS}
        missing = [f for f, p in zips.items() if zip_arch(p) != machine]
        if missing and os.environ.get("BENCH_PACKAGE", "1") != "0":
            log(f"{arch} zips missing for {', '.join(missing)}: running `make package ARCH={arch} LAMBDA_DIR={rel}`")
            rc, secs = run_build(["make", "package", f"ARCH={arch}", f"LAMBDA_DIR={rel}"], ROOT, None,
                                 f"package-{arch}.log", monitor, "BENCH_PACKAGE_TIMEOUT_S")
            info["ran_package"].append(arch)
            info["package_seconds"][arch] = secs
            if rc != 0:
                info["package_error"] = f"make package ARCH={arch}: {rc} (see target/bench/package-{arch}.log)"
                log(info["package_error"])
        sizes = {}
        for f, p in zips.items():
            if zip_arch(p) == machine:
                sizes[f] = {"bytes": p.stat().st_size,
                            "built": datetime.datetime.fromtimestamp(p.stat().st_mtime).strftime("%Y-%m-%d %H:%M")}
        info["sizes"][arch] = sizes
    return info


def variant_spec(name):
    """A profile/environment variant, or `rev:<commit>`: the hook of an older commit (a code change's before)."""
    if name in VARIANTS:
        return dict(VARIANTS[name], key=name, rev=None)
    if name.startswith("rev:") and len(name) > 4:
        rev = subprocess.run(["git", "rev-parse", "--short", name[4:] + "^{commit}"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)
        if rev.returncode != 0:
            sys.exit(f"BENCH_VARIANT={name}: not a commit ({rev.stderr.strip()})")
        short = rev.stdout.strip()
        subject = subprocess.run(["git", "log", "-1", "--format=%s", short], cwd=ROOT, capture_output=True,
                                 text=True, timeout=30).stdout.strip()
        what = os.environ.get("BENCH_VARIANT_WHAT") or f"this tree against commit {short} ({subject})"
        return {"env": {}, "what": what, "key": f"rev-{short}", "rev": short}
    sys.exit(f"BENCH_VARIANT={name}: one of {', '.join(VARIANTS)} or rev:<commit>")


def build_variant(spec, monitor):
    """Builds the variant's hook into target/bench-<key> (rev variants: from a worktree of that commit)."""
    target_dir = ROOT / "target" / f"bench-{spec['key']}"
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir), **spec["env"])
    src = ROOT
    if spec["rev"]:
        # Outside this checkout: cargo reads .cargo/config.toml of every parent directory, and this
        # tree's [env] must not leak into an older commit's build.
        src = pathlib.Path(tempfile.gettempdir()) / f"hookline-bench-{spec['key']}"
        if src.exists():
            subprocess.run(["git", "worktree", "remove", "--force", str(src)], cwd=ROOT, timeout=120)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, timeout=120)
        subprocess.run(["git", "worktree", "add", "--detach", str(src), spec["rev"]], cwd=ROOT, check=True,
                       capture_output=True, timeout=300)
    log(f"building variant {spec['key']}: cargo build --release -p hook into {target_dir.relative_to(ROOT)} "
        f"({' '.join(f'{k}={v}' for k, v in spec['env'].items()) or 'from ' + str(src)})")
    rc, secs = run_build(["cargo", "build", "--release", "-p", "hook"], src, env, f"variant-{spec['key']}.log",
                         monitor, "BENCH_VARIANT_TIMEOUT_S")
    if spec["rev"]:
        subprocess.run(["git", "worktree", "remove", "--force", str(src)], cwd=ROOT, timeout=120)
    if rc != 0:
        raise RuntimeError(f"variant build failed ({rc}); see target/bench/variant-{spec['key']}.log")
    return target_dir / "release" / "hook", secs


# ---------------------------------------------------------------- statistics
def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    s = {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values)}
    if len(values) >= 2:
        q = statistics.quantiles(values, n=10, method="inclusive")
        s["p10"], s["p90"] = q[0], q[8]
    return s


def summarize(runs):
    ok = [r for r in runs if r.get("ok")]
    out = {"runs": len(runs), "ok": len(ok),
           "init_ms": stats([r["init_ms"] for r in ok]), "invoke_ms": stats([r["invoke_ms"] for r in ok]),
           "rss_mb": stats([r["rss_kb"] * 1024 / MB for r in ok if r.get("rss_kb")]),
           "answers": sorted({f"{r['answer']}:{r.get('error_type')}" for r in ok}),
           "errors": [r.get("error", "") + " " + r.get("stderr", "")[-300:] for r in runs if not r.get("ok")][:2]}
    calls = [r["calls"] for r in ok if "calls" in r]
    if calls:
        out["calls"] = calls[-1]
        out["calls_consistent"] = all(c == calls[0] for c in calls)
    return out


# ---------------------------------------------------------------- the run
def main():
    started = time.monotonic()
    # Every function process gets Lambda's environment, which names no CA file or directory (this
    # machine's shell sets both, and rustls-native-certs would walk /etc/ssl/certs for the Rust side).
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        os.environ.pop(var, None)
    runs = max(7, env_int("BENCH_RUNS", 11))
    variant = os.environ.get("BENCH_VARIANT", "").strip() or None
    specs = [variant_spec(v.strip()) for v in variant.split(",") if v.strip()] if variant else []
    out_path = ROOT / os.environ.get("BENCH_OUT", "BENCHMARKS.md")
    results = {"machine": machine(), "runs": runs, "variant": variant, "notes": []}
    if os.environ.get("BENCH_NOTE"):  # free text for the report (e.g. how this run deviated)
        results["notes"].append(os.environ["BENCH_NOTE"])
    monitor = LoadMonitor()
    monitor.start()

    sandbox = None
    if os.environ.get("BENCH_SANDBOX", "1") != "0":
        sandbox = orchestration.BenchSandbox(
            port=env_int("BENCH_SANDBOX_PORT", 4620), moto_port=env_int("BENCH_SANDBOX_MOTO_PORT", 4621),
            lambda_port=env_int("BENCH_SANDBOX_LAMBDA_PORT", 9020),
            state=os.environ.get("BENCH_SANDBOX_STATE", ".sandbox-bench"))

    def cleanup():
        coldstart.kill_all()
        for p in BUILDS:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=30)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        if sandbox is not None and sandbox.started:
            log("stopping the bench sandbox")
            sandbox.down()
    atexit.register(cleanup)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))

    missing = [f for f in FUNCTIONS + [FLOOR, FLOOR_CT] if not (ROOT / "target/release" / f).exists()]
    if missing:
        sys.exit(f"release binaries missing ({', '.join(missing)}): run `make build-release` first")
    bench_py = ensure_bench_venv()
    results["python_versions"] = subprocess.run(
        [str(bench_py), "-c", "import sys, boto3, importlib.metadata as m; "
         "print(sys.version.split()[0], boto3.__version__, m.version('awslambdaric'))"],
        capture_output=True, text=True, timeout=60).stdout.split()

    results["package"] = zip_sizes(monitor)
    results["binary_bytes"] = {f: (ROOT / "target/release" / f).stat().st_size for f in FUNCTIONS + [FLOOR, FLOOR_CT]}

    built_variants = []  # (spec, binary, subject kind) of every variant that built
    for spec in specs:
        try:
            variant_bin, secs = build_variant(spec, monitor)
            spec["build_seconds"] = secs
            built_variants.append((spec, variant_bin, f"variant-{spec['key']}"))
        except Exception as e:
            results["notes"].append(f"variant {spec['key']}: {e}")
            log(str(e))
    results["variant_kinds"] = [kind for _, _, kind in built_variants]

    probe = None
    if sandbox is not None:
        log(f"starting the bench sandbox on {sandbox.endpoint} (moto {sandbox.moto_port}, lambda {sandbox.lambda_port})")
        try:
            sandbox.up()
            for name in ("router", "lambda", "moto"):
                pid_file = ROOT / sandbox.state / f"{name}.pid"
                if pid_file.exists():
                    monitor.ours.add(int(pid_file.read_text().strip()))
            log(f"sandbox up in {sandbox.up_seconds:.0f}s")
            results["sandbox_up_seconds"] = sandbox.up_seconds
            results["sandbox_warmup"] = sandbox.warmup_log().strip().splitlines()
            from client import Sandbox
            probe = orchestration.CallsProbe(Sandbox(sandbox.endpoint))
        except Exception as e:
            results["notes"].append(f"sandbox did not start: {e}")
            log(f"sandbox did not start: {e}")
            sandbox.down()
            probe = None

    # ---- cold starts, interleaved
    common = {"AWS_DEFAULT_REGION": "us-east-1"}
    py_env = dict(common, PYTHONPATH=str(BENCH / "python_hook"), PYTHONDONTWRITEBYTECODE="")
    py_cmd = [str(bench_py), "-m", "awslambdaric", "handler.handler"]
    invalid = b"{}"
    real = json.dumps({"DeploymentId": "d-BENCH0000", "LifecycleEventHookExecutionId": "bench-hook-execution"}).encode()
    S = coldstart.Subject
    subjects = [S("floor:hook:invalid", "bare `lambda_runtime` echo (floor)", [str(ROOT / "target/release" / FLOOR)],
                  "hook", invalid, dict(common)),
                S("floor-ct:hook:invalid", "the same echo on a current-thread runtime (floor, one thread)",
                  [str(ROOT / "target/release" / FLOOR_CT)], "hook", invalid, dict(common)),
                S("rust:hook:invalid", "hook (Rust)", [str(ROOT / "target/release/hook")], "hook", invalid, dict(common)),
                S("python:hook:invalid", "hook (Python 3.11 + boto3)", py_cmd, "hook", invalid, dict(py_env),
                  cwd=str(BENCH / "python_hook"))]
    for spec, variant_bin, kind in built_variants:
        subjects.append(S(f"{kind}:hook:invalid", f"hook ({spec['key']})", [str(variant_bin)], "hook", invalid,
                          dict(common)))
    if probe:
        endpoints = [("real", {"AWS_ENDPOINT_URL": sandbox.endpoint})]
        try:
            proxy = tlsproxy.TlsProxy("127.0.0.1", sandbox.port)
            atexit.register(proxy.close)
            endpoints.append(("tls", dict(proxy.client_env(), AWS_ENDPOINT_URL=proxy.url)))
        except Exception as e:
            results["notes"].append(f"no HTTPS front for the real event (openssl?): {e}")
        for ev, ep in endpoints:
            real_env = dict(common, **ep)
            subjects += [S(f"rust:hook:{ev}", "hook (Rust)", [str(ROOT / "target/release/hook")], "hook", real,
                           dict(real_env), calls_probe=probe),
                         S(f"python:hook:{ev}", "hook (Python 3.11 + boto3)", py_cmd, "hook", real,
                           dict(py_env, **real_env), cwd=str(BENCH / "python_hook"), calls_probe=probe)]
            for spec, variant_bin, kind in built_variants:
                subjects.append(S(f"{kind}:hook:{ev}", f"hook ({spec['key']})", [str(variant_bin)], "hook", real,
                                  dict(real_env), calls_probe=probe))
    for f in FUNCTIONS[1:]:
        subjects.append(S(f"rust:{f}:invalid", f, [str(ROOT / "target/release" / f)], f, invalid, dict(common)))

    log(f"cold starts: {len(subjects)} subjects x (1 warm-up + {runs}) runs, interleaved")
    raw = {s.key: [] for s in subjects}
    t_cold = time.monotonic()
    for rnd in range(runs + 1):
        for s in subjects:
            r = coldstart.run_once(s)
            if rnd > 0:  # round 0 only warms the page cache (binaries, Python modules, .pyc)
                raw[s.key].append(r)
            elif not r.get("ok"):
                log(f"warm-up of {s.key} failed: {r.get('error')} {r.get('stderr', '')[-300:]}")
        log(f"round {rnd}/{runs} done")
    results["coldstart_seconds"] = time.monotonic() - t_cold
    results["coldstart"] = {s.key: dict(summarize(raw[s.key]), label=s.label) for s in subjects}
    results["coldstart_raw"] = {k: [{x: r.get(x) for x in ("init_ms", "invoke_ms", "rss_kb", "ok")} for r in v]
                                for k, v in raw.items()}

    # ---- profile of init: where the hook's time above the floor goes (perf stat, strace)
    results["profile"] = profile_init()

    # ---- orchestration
    if probe:
        log("orchestration: happy canary with zero bakes")
        try:
            results["orchestration"] = orchestration.run_canary(sandbox)
        except Exception as e:
            results["notes"].append(f"orchestration failed: {e}")
            log(f"orchestration failed: {e}")

    if sandbox is not None and sandbox.started:
        log("stopping the bench sandbox")
        sandbox.down()
    monitor.stop.set()
    results["load"] = monitor.summary()
    results["bench_seconds"] = time.monotonic() - started

    for spec, _, kind in built_variants:
        save_variant(spec, results, kind)
    results["variants"] = load_variants()

    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "latest.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    out_path.write_text(keep_fleet_section(render(results), out_path))
    log(f"wrote {out_path} in {results['bench_seconds']:.0f}s")


def profile_init(runs=30):
    """`perf stat -r` of the floor and the hook (init up to the first `next`, which fails at once: nothing
    listens on the runtime API's port) with hookline's CA bundle roots and with the SDK's default roots
    (only `SSL_CERT_DIR` set: the directory walk hookline avoids), and the files each opens (strace)."""
    if not shutil.which("perf"):
        return {"error": "perf not installed"}
    env = coldstart.function_env("hook", 9)  # runtime API on port 9: init, then one refused `next`
    env.update(AWS_DEFAULT_REGION="us-east-1", RUST_LOG="off")
    # Lambda sets neither SSL_CERT_FILE nor SSL_CERT_DIR (this machine sets both).
    bundle_env = {k: v for k, v in env.items() if k not in ("SSL_CERT_DIR", "SSL_CERT_FILE")}
    sdk_env = dict(bundle_env, SSL_CERT_DIR="/etc/ssl/certs")
    cases = [("floor", FLOOR, bundle_env), ("floor, current-thread runtime", FLOOR_CT, bundle_env),
             ("hook (the CA bundle file only)", "hook", bundle_env),
             ("hook, only `SSL_CERT_DIR` set (the SDK's directory walk)", "hook", sdk_env)]
    out = {"runs": runs, "cases": []}
    for label, binary, case_env in cases:
        path = str(ROOT / "target/release" / binary)
        p = subprocess.run(["perf", "stat", "-r", str(runs), "-x", ",", "-e", "task-clock,page-faults", path],
                           env=case_env, capture_output=True, text=True, timeout=300)
        stat = {}
        for line in p.stderr.splitlines():
            parts = line.split(",")
            if len(parts) > 3 and parts[2] in ("task-clock", "page-faults"):
                try:
                    stat[parts[2]] = float(parts[0])
                except ValueError:
                    pass
        files = None
        if shutil.which("strace"):
            with tempfile.NamedTemporaryFile("r", suffix=".strace") as tr:
                subprocess.run(["strace", "-f", "-e", "trace=openat", "-o", tr.name, path], env=case_env,
                               capture_output=True, timeout=120)
                opened = [ln for ln in tr.read().splitlines() if "openat(" in ln and "= -1" not in ln]
                files = {"opened": len(opened), "cert_files": sum(1 for ln in opened if "/etc/ssl/" in ln
                                                                  or "/etc/pki/" in ln)}
        out["cases"].append({"label": label, "task_clock_ms": stat.get("task-clock"),
                             "page_faults": stat.get("page-faults"), "files": files})
    return out


def save_variant(spec, results, kind):
    """Keeps a variant's before/after. For rev variants the old commit is *before* and this tree *after*."""
    cs = results["coldstart"]
    key = spec["key"]
    ours, theirs = ROOT / "target/release/hook", ROOT / "target" / f"bench-{key}" / "release" / "hook"
    sides = {"before": ("rust", ours), "after": (kind, theirs)}
    if spec["rev"]:
        sides = {"before": (kind, theirs), "after": ("rust", ours)}
    doc = {"variant": key, "what": spec["what"], "env": spec["env"], "rev": spec["rev"],
           "date": results["machine"]["date"], "runs": results["runs"],
           "build_seconds": spec.get("build_seconds"),
           "built": {side: _mtime(path) for side, (_, path) in sides.items()},
           "binary_bytes": {side: path.stat().st_size for side, (_, path) in sides.items()},
           "load": results.get("load"), "machine": results["machine"]}
    if os.environ.get("BENCH_VARIANT_NOTE"):
        doc["note"] = os.environ["BENCH_VARIANT_NOTE"]
    for event in ("invalid", "real", "tls"):
        pair = {side: cs.get(f"{kind}:hook:{event}") for side, (kind, _) in sides.items()}
        if all(pair.values()):
            doc[event] = pair
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / f"variant-{key}.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")


def _mtime(path):
    try:
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc).strftime("%H:%M UTC")
    except OSError:
        return None


def load_variants():
    out = {}
    for p in sorted((BENCH / "results").glob("variant-*.json")):
        try:
            d = json.loads(p.read_text())
            out[d["variant"]] = d
        except (ValueError, KeyError):
            pass
    return out


# ---------------------------------------------------------------- report
def fmt_stat(s, unit="", digits=1):
    if not s:
        return "—"
    f = f"{{:.{digits}f}}"
    return f"**{f.format(s['median'])}**{unit} ({f.format(s['min'])}–{f.format(s['max'])})"


def met(ok):
    return "✅ met" if ok else "❌ missed"


def keep_fleet_section(text, path):
    """`text` with the fleet section that `make bench-fleet` (benches/fleet.py) wrote between its
    markers in `path` carried over, so a `make bench` run does not erase it."""
    old = path.read_text() if path.exists() else ""
    begin, end = "<!-- fleet:begin", "<!-- fleet:end -->"
    if begin not in old or end not in old:
        return text
    section = old[old.index(begin):old.index(end) + len(end)]
    return text.rstrip("\n") + "\n\n" + section + "\n"


def render(r):
    m = r["machine"]
    cs = r["coldstart"]
    pkg = r["package"]
    orch = r.get("orchestration")
    L = []
    a = L.append
    a("# hookline benchmarks")
    a("")
    a(f"Generated by `make bench` (`benches/run.py`) on {m['date']}; the whole run took "
      f"{r['bench_seconds'] / 60:.1f} min (cold starts {r['coldstart_seconds']:.0f} s"
      + (f", sandbox start {r['sandbox_up_seconds']:.0f} s" if r.get("sandbox_up_seconds") else "")
      + "".join(f", `make package ARCH={k}` {v / 60:.1f} min" for k, v in (pkg.get("package_seconds") or {}).items())
      + "). Do not edit by hand: numbers are regenerated. Timings are never asserted in tests; "
      "the goals below are reported, never enforced.")
    a("")
    a(f"**Machine:** {m['nproc']} cores, {m['cpu']}, {m['memory']} RAM, Linux {m['kernel']}; {m['rustc']}; "
      f"Python baseline {' / '.join(r.get('python_versions') or [])} (Python / boto3 / awslambdaric).")
    ld = r.get("load", {})
    if ld.get("samples"):
        others = ", ".join(f"{k} ×{v}" for k, v in sorted(ld["max_concurrent"].items())) or "none seen"
        a(f"**Concurrent work:** load average (1 min) median {ld['load1_median']:.1f}, max {ld['load1_max']:.1f} "
          f"on {m['nproc']} cores; processes of other work seen in {ld['busy_fraction'] * 100:.0f}% of the "
          f"2-second samples (at most at once: {others}). "
          + ("Builds or tests ran beside part of the run (the bench sandbox's own start, compiling its debug "
             "functions, counts here too), so absolute times may be pessimistic; the interleaving keeps the "
             "comparisons fair." if ld["busy_fraction"] > 0 or ld["load1_max"] > 1.5 else
             "The machine was otherwise quiet."))
    a("")

    # ---- goals
    rh, ph = cs.get("rust:hook:invalid", {}), cs.get("python:hook:invalid", {})
    hook_init = rh.get("init_ms", {}) and rh["init_ms"]["median"]
    py_init = ph.get("init_ms", {}) and ph["init_ms"]["median"]
    ratio = py_init / hook_init if hook_init and py_init else None
    rust_keys = [k for k in cs if k.startswith("rust:")]
    rss_max = max((cs[k]["rss_mb"]["max"] for k in rust_keys if cs[k].get("rss_mb")), default=None)
    sizes_by_arch = pkg.get("sizes", {})
    zip_all = [(s["bytes"] / MB, arch, f) for arch, sizes in sizes_by_arch.items() for f, s in sizes.items()]
    zip_max = max(zip_all, default=None)
    zips_complete = all(len(sizes_by_arch.get(arch, {})) == len(FUNCTIONS) for arch in ARCHES)
    fl = cs.get("floor:hook:invalid", {})
    floor_init = fl.get("init_ms", {}) and fl["init_ms"]["median"]
    rt, pt = cs.get("rust:hook:tls", {}), cs.get("python:hook:tls", {})
    a("## Goals")
    a("")
    a("| goal | measured | |")
    a("|---|---|---|")
    if hook_init:
        a(f"| hook init ≤ {GOALS['hook_init_ms']:.0f} ms (median, release binary, event `{{}}`) | {hook_init:.1f} ms "
          f"(fastest run {rh['init_ms']['min']:.1f} ms) | "
          f"{met(hook_init <= GOALS['hook_init_ms'])} |")
    if rt.get("invoke_ms") and pt.get("invoke_ms"):
        r_inv, p_inv = rt["invoke_ms"]["median"], pt["invoke_ms"]["median"]
        r_sum, p_sum = rt["init_ms"]["median"] + r_inv, pt["init_ms"]["median"] + p_inv
        a(f"| 1. cold path over HTTPS (real event, first SigV4 call through TLS): the hook's first invoke ≤ "
          f"{GOALS['cold_path_ratio']}× Python's (the issue's reading: 1.17× before) | **{r_inv / p_inv:.2f}×** "
          f"({r_inv:.1f} ms vs {p_inv:.1f} ms); init + first invoke {r_sum / p_sum:.2f}× ({r_sum:.1f} ms vs "
          f"{p_sum:.1f} ms) | {met(r_inv / p_inv <= GOALS['cold_path_ratio'])} |")
    fct = cs.get("floor-ct:hook:invalid", {})
    floor_ct_init = fct.get("init_ms", {}) and fct["init_ms"]["median"]
    if hook_init and floor_init:
        # Judged against the canonical echo (`#[tokio::main]`), the issue's floor; the hook runs on a
        # current-thread runtime, so the gap to the same echo on that runtime is shown beside it.
        beside = ""
        if floor_ct_init:
            beside = (f"; against the same echo on a current-thread runtime, as the hook runs: "
                      f"**+{hook_init - floor_ct_init:.1f} ms** (floor {floor_ct_init:.1f} ms)")
        a(f"| 1. hook init ≤ {GOALS['init_over_floor_ms']:.0f} ms above a bare `lambda_runtime` echo binary "
          f"(same profile, same rounds) | **+{hook_init - floor_init:.1f} ms** ({hook_init:.1f} ms vs floor "
          f"{floor_init:.1f} ms){beside} | {met(hook_init - floor_init <= GOALS['init_over_floor_ms'])} |")
    if ratio:
        a(f"| 1. hook init ≥ {GOALS['python_ratio']:.0f}× faster than Python 3.11 + boto3 | **{ratio:.0f}×** "
          f"({py_init:.0f} ms vs {hook_init:.1f} ms) | {met(ratio >= GOALS['python_ratio'])} |")
    if rss_max is not None:
        a(f"| peak RSS ≤ {GOALS['rss_mb']:.0f} MB (every function, worst run) | {rss_max:.1f} MB | "
          f"{met(rss_max <= GOALS['rss_mb'])} |")
    if zip_max is not None:
        per_arch = "; ".join(f"{arch}: largest {max(s['bytes'] for s in sizes.values()) / MB:.2f} MB"
                             for arch, sizes in sizes_by_arch.items() if sizes)
        a(f"| 2. every zip ≤ {GOALS['zip_mb']:.0f} MB, x86_64 and arm64 both built | **{zip_max[0]:.2f} MB** "
          f"(`{zip_max[2]}`, {zip_max[1]}); {per_arch}"
          f"{'' if zips_complete else '; NOT every zip of both architectures was built'} | "
          f"{met(zip_max[0] <= GOALS['zip_mb'] and zips_complete)} |")
    if orch:
        e, h, t = orch["max_elbv2_per_shift"], orch["max_calls_per_health_check"], orch["max_transitions_per_step"]
        if e is not None:
            a(f"| ≤ {GOALS['elbv2_per_shift']} ELBv2 calls per weight shift | {e} (worst step) | "
              f"{met(e <= GOALS['elbv2_per_shift'])} |")
        if h is not None:
            a(f"| ≤ {GOALS['calls_per_health_check']} AWS calls per health check | {h} (worst check) | "
              f"{met(h <= GOALS['calls_per_health_check'])} |")
        if t is not None:
            a(f"| ≤ {GOALS['transitions_per_step']} state transitions per canary step (no bake loop) | {t} "
              f"(worst step) | {met(t <= GOALS['transitions_per_step'])} |")
    else:
        a("| orchestration goals | not measured in this run (see notes) | — |")
    a("")
    for n in r.get("notes", []):
        a(f"> Note: {n}")
        a("")

    # ---- cold starts
    a("## 1. Cold start, memory and size of the six functions")
    a("")
    a(f"Release binaries (`target/release/<fn>`, fat LTO, `opt-level = \"s\"`, `panic = \"abort\"`, stripped, "
      "aws-lc without CPU-jitter entropy: `.cargo/config.toml`), each "
      f"run **{r['runs']} times cold** (a fresh process per run) under the Runtime API harness of "
      "`tests/runtime_api/harness.py`, all subjects interleaved round by round (one extra warm-up round, "
      "discarded, fills the page cache). Cells: **median** (min–max).")
    a("")
    a("- *init*: process start (just before fork/exec) → the function's first `GET /runtime/invocation/next`. "
      "The binaries load their AWS configuration and build their SDK clients before that request "
      "(`aws-config` with the environment's credentials and region providers only, so no STS or IMDS "
      "client is built; the six SDK clients share one HTTPS client whose CA roots are read once).")
    a("- *first invoke*: event handed out → `response`/`error` posted.")
    a("- *peak RSS*: `VmHWM` from `/proc/<pid>/status`, read after the function asked for its second event "
      "(idle after the first invoke), just before it is killed.")
    a("- Event `{}`: every function answers `InvalidInput` without any network call, so this measures "
      "init + runtime + event validation.")
    a("")
    a("| function | init ms | first invoke ms | peak RSS MB | answer | binary MB | zip MB arm64 | zip MB x86_64 |")
    a("|---|---|---|---|---|---|---|---|")
    for f in FUNCTIONS:
        c = cs.get(f"rust:{f}:invalid")
        if not c:
            continue
        zs = []
        for arch in ARCHES:
            z = sizes_by_arch.get(arch, {}).get(f)
            zs.append(f"{z['bytes'] / MB:.2f}" if z else "—")
        a(f"| `{f}` | {fmt_stat(c['init_ms'])} | {fmt_stat(c['invoke_ms'], digits=2)} | "
          f"{fmt_stat(c['rss_mb'])} | {', '.join(c['answers']) or 'FAILED'} | "
          f"{r['binary_bytes'][f] / MB:.1f} | {' | '.join(zs)} |")
    a("")
    built = {arch: sorted({s["built"] for s in sizes.values()}) for arch, sizes in sizes_by_arch.items()}
    a("Zips: `make package ARCH=arm64` (`target/lambda/<fn>/bootstrap.zip`, where the template points) and "
      "`make package ARCH=x86_64 LAMBDA_DIR=target/lambda-x86_64`, cargo-lambda (zig linker) from the same "
      "release profile; "
      + ("built in this run" if pkg.get("ran_package") else "not rebuilt in this run") + " ("
      + "; ".join(f"{arch}: {', '.join(b) or 'missing'}" for arch, b in built.items()) + ")"
      + (f"; {pkg['package_error']}" if pkg.get("package_error") else "")
      + ". The bench rebuilds an architecture's zips when one is missing or of the other architecture; "
      "delete `target/lambda*` to rebuild both. The cold starts above run `target/release/<fn>` (x86_64, "
      "this machine).")
    a("")

    # ---- Python baseline
    a("## 2. The hook against a Python 3.11 + boto3 baseline")
    a("")
    a("`benches/python_hook/handler.py` builds codedeploy, stepfunctions, ssm and elbv2 clients at import, "
      "validates the event like the Rust hook (`InvalidInput` naming the field), then resolves the deployment, "
      "loads the plan and starts the execution, reporting the hook `Failed` on any error. It runs under "
      "`awslambdaric` (`python -m awslambdaric handler.handler`, packages pinned in `benches/requirements.txt`, "
      "installed into `benches/.venv`) against the same harness, in the same rounds as the Rust hook "
      "(Rust run, Python run, Rust run, …). The Rust hook builds six SDK clients at init, sharing one HTTPS "
      "client (the health probes' HTTP client is built on first use, which the hook never makes), the Python "
      "one four.")
    a("")
    a("| event | runtime | init ms | first invoke ms | peak RSS MB | answer |")
    a("|---|---|---|---|---|---|")
    for ev, evlabel in (("invalid", "`{}` (no network)"), ("real", "real: unknown deployment, HTTP"),
                        ("tls", "real: unknown deployment, HTTPS")):
        for kind in ["floor", "floor-ct", "rust", "python"] + (r.get("variant_kinds") or []):
            c = cs.get(f"{kind}:hook:{ev}")
            if c:
                a(f"| {evlabel} | {c['label']} | {fmt_stat(c['init_ms'])} | {fmt_stat(c['invoke_ms'], digits=2)} | "
                  f"{fmt_stat(c['rss_mb'])} | {', '.join(c['answers']) or 'FAILED'} |")
        rc, pc = cs.get(f"rust:hook:{ev}"), cs.get(f"python:hook:{ev}")
        if rc and pc and rc.get("init_ms") and pc.get("init_ms"):
            inv = (pc["invoke_ms"]["median"] / rc["invoke_ms"]["median"]) if rc["invoke_ms"]["median"] else None
            a(f"| {evlabel} | **ratio Python / Rust** | **{pc['init_ms']['median'] / rc['init_ms']['median']:.0f}×** | "
              f"{f'{inv:.1f}×' if inv else '—'} | {pc['rss_mb']['median'] / rc['rss_mb']['median']:.1f}× | |")
    a("")
    rc, pc = cs.get("rust:hook:real"), cs.get("python:hook:real")
    if rc and pc:
        def calls(c):
            return ", ".join(f"`{k}` ×{v}" for k, v in sorted((c.get("calls") or {}).items())) or "none"
        a("The *real* event is `{\"DeploymentId\": \"d-BENCH0000\", \"LifecycleEventHookExecutionId\": …}` with "
          "`AWS_ENDPOINT_URL` at the bench sandbox: a deployment CodeDeploy does not know, so each hook makes its "
          "first SigV4-signed AWS call (`GetDeployment`, answered `DeploymentDoesNotExistException`), reports the "
          "hook `Failed` (`PutLifecycleEventHookExecutionStatus`, also refused) and answers an error — the "
          "failure path of a real invocation. *HTTP* goes straight to the sandbox router; *HTTPS* goes through "
          "a local TLS front (`benches/tlsproxy.py`: RSA-2048 `localhost` certificate from a throw-away CA, "
          "trusted through one file given as `SSL_CERT_FILE` / `AWS_CA_BUNDLE`: the system's CA bundle with "
          "that CA appended, so both parse a full root store as on Lambda), so the first invoke also pays "
          "the TLS stack's first use and a handshake, as against a real AWS endpoint. AWS calls per run, "
          "counted at the router — "
          f"Rust: {calls(rc)}; Python: {calls(pc)}"
          + ("" if rc.get("calls_consistent", True) and pc.get("calls_consistent", True) else
             " (not the same in every run)") + ".")
        a("")

    # ---- orchestration
    a("## 3. Orchestration cost in the sandbox: happy canary, zero bakes")
    a("")
    if orch:
        a(f"Plan (SSM `/hookline/web/web-prod`): `{json.dumps(orch['plan'], separators=(',', ':'))}`. One "
          f"CodeDeploy deployment of `example/web:v2` in the bench's own sandbox (moto {orch.get('moto', '5.2.5')} "
          "Step Functions interpreter, the functions as **debug** binaries under `cargo lambda watch`, already "
          "warm); calls counted at the router. A step spans from its `NextStep` state entered to the next "
          "`NextStep` entered (GetExecutionHistory); a call belongs to the window its router timestamp falls in "
          f"(history timestamps: {orch['history_timestamp_resolution']}). Single run.")
        a("")
        a(f"Canary execution `{orch['status']}` in **{orch['canary_seconds']:.2f} s** "
          f"({orch['transitions_total']} states entered); CreateDeployment → canary start "
          f"{orch['seconds_create_to_canary_start']:.1f} s (simulator lifecycle up to BeforeAllowTraffic + hook); "
          f"whole deployment {orch['deployment_seconds']:.1f} s, final status {orch['final_deployment_status']}.")
        a("")
        a("| window | wall s | transitions | states | AWS calls (by operation, at the router) |")
        a("|---|---|---|---|---|")
        for w in orch["windows"]:
            calls = ", ".join(f"{k} ×{v}" for k, v in sorted(w["calls"].items())) or "—"
            a(f"| {w['name']} | {w['seconds']:.2f} | {w['transitions']} | {' → '.join(w['states'])} | "
              f"{w['n_calls']}: {calls} |")
        a("")
        a("Per task (the function's own calls inside the state's entered → exited interval, the Step Functions "
          "`lambda.Invoke` excluded):")
        a("")
        a("| window | state | wall s | function's AWS calls | ELBv2 calls |")
        a("|---|---|---|---|---|")
        for w in orch["windows"]:
            for t in w["tasks"]:
                calls = ", ".join(f"{k} ×{v}" for k, v in sorted(t["calls"].items())) or "—"
                a(f"| {w['name']} | {t['state']} | {t['seconds']:.2f} | {t['n_calls']}: {calls} | {t['elbv2']} |")
        a("")
        before = ", ".join(f"{k} ×{v}" for k, v in sorted(orch["calls_before_canary"].items())) or "—"
        a(f"Before the canary started (bench's RegisterTaskDefinition/CreateDeployment, the hook's own calls): {before}.")
        a("")
    else:
        a("Not measured in this run (see the notes at the top).")
        a("")

    # ---- levers
    a("## 4. What moves the numbers")
    a("")
    prof = r.get("profile") or {}
    if prof.get("cases"):
        a(f"**Profile of init** (`perf stat -r {prof['runs']}` task-clock and page faults of the process up to "
          "its first `next`, refused at once; `strace -f -e trace=openat` for the files it opens), measured in "
          "this run, in Lambda's environment (neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` set). The SDK loads "
          "the platform's roots with rustls-native-certs, which then walks the OpenSSL certificate directory "
          "(`/etc/ssl/certs` here) besides the bundle; hookline points `SSL_CERT_FILE` at the bundle before its "
          "runtime starts (`functions/hookline/src/tls.rs`), so the SDK reads that one file. The third row is the "
          "same hook binary with only `SSL_CERT_DIR` set, which hookline leaves alone: the directory walk.")
        a("")
        a("| process | task-clock ms | page faults | files opened | of them CA files |")
        a("|---|---|---|---|---|")
        for c in prof["cases"]:
            f = c.get("files") or {}
            tc = f"{c['task_clock_ms']:.2f}" if c.get("task_clock_ms") is not None else "—"
            pf = f"{c['page_faults']:.0f}" if c.get("page_faults") is not None else "—"
            a(f"| {c['label']} | {tc} | {pf} | {f.get('opened', '—')} | {f.get('cert_files', '—')} |")
        a("")
    elif prof.get("error"):
        a(f"Profile of init not taken: {prof['error']}.")
        a("")
    a("The profile behind the 2026-11-30 init changes (`perf record --call-graph dwarf` of 60–80 hook inits up "
      "to the refused `next`, a symbol build of the release profile; shares of the hook's samples): at "
      "a57a93d, building aws-config's default credentials chain constructed an **STS client** for the "
      "web-identity provider (21%, which also paid the first read of the CA bundle) and the default region "
      "chain an **IMDS client** (~5%), although Lambda puts credentials and region in the environment; and "
      "every SDK client's construction-time check built and dropped a **TLS connector** from all the CA roots "
      "(`validate_base_client_config`, seven builds, ~18% with the bundle read). Since then `Clients::from_env` "
      "takes the environment's providers and the clients share one HTTPS client checked once "
      "(`functions/hookline/src/clients.rs`); the read of the bundle stays at init, where Lambda runs an "
      "on-demand function on a full vCPU, instead of moving to the first invocation, which at 128 MB gets a "
      "fraction of one. The functions also run on a current-thread runtime, without the worker threads "
      "`#[tokio::main]` starts (`clone3` and their first allocations, ~3–5%), and build each SDK client when "
      "first used, so init builds only the clients a function's dependencies take (the hook five of six: each "
      "costs its crate's endpoint-partition table and regexes, 60–80 µs timed with `Instant` around each "
      "`Client::new`), and take a `RUST_LOG` of one level (the template's `LogLevel`, `info` by default) as a "
      "level filter, without `EnvFilter`'s directive parser and its regex. Wall-clock A/B with "
      "`coldstart.run_once`, 25–30 rounds: 4.19 → 3.85 ms (shared client), 4.05 → 3.69 ms (current thread), "
      "3.68 → 3.53 ms (clients built when first used), 3.66 → 3.45 ms (level filter); the "
      "`rev-a57a93d` row below measures them together. What remains above the floor: the bundle's PEM parse "
      "(~15% of the samples, once; the first client's construction is ~0.75 ms of which the roots are most), "
      "five partition tables, and page faults and relocations of a 10 MB binary against a 1 MB one "
      "(a non-PIE build, tried and not kept, gained ~0.15 ms at the cost of the executable's ASLR).")
    a("")
    a("Earlier profiles that justified the defaults (kept in the variant table below): `jitter-off` (AWS-LC's "
      "CPU-jitter entropy sampled at the first random number: −38% of the first HTTPS invoke) and `opt-s` "
      "(a third smaller binary, init unchanged), each measured as a variant before it became the default "
      "(`.cargo/config.toml`, `[profile.release]`).")
    a("")
    a("`BENCH_VARIANT=<name> make bench` also builds the hook only (`cargo build --release -p hook`) into its "
      "own `CARGO_TARGET_DIR` (`target/bench-<name>`, so the main `target/` is not invalidated; a first build "
      "there is a full release build of the hook's dependency tree, ~10 min on 2 cores) and measures it in the "
      "same interleaved rounds as `target/release/hook`. Two kinds: a *profile variant* (`jitter-off`, `opt-s`, "
      "`thin-lto`) is this tree built with other settings, so *before* is `target/release/hook` and *after* "
      "the variant; a *code change* is measured with `BENCH_VARIANT=rev:<commit before the change>` (built from a "
      "`git worktree` of that commit; `BENCH_VARIANT_WHAT` describes the change), so *before* is that commit's "
      "hook and *after* is `target/release/hook`. Results are kept in `benches/results/variant-<name>.json` and "
      "shown here on every later run.")
    a("")
    variants = r.get("variants") or {}
    if variants:
        a("Medians, before → after (change), both measured in the same rounds.")
        a("")
        a("| variant | what | measured | init ms, `{}` | init ms, HTTPS event | first invoke ms, HTTP event | "
          "first invoke ms, HTTPS event | peak RSS MB, HTTPS | binary MB |")
        a("|---|---|---|---|---|---|---|---|---|")
        for name, v in variants.items():
            inv, rl, tls = v.get("invalid", {}), v.get("real", {}), v.get("tls", {})
            def pair(d, key, digits=1):
                if not d or not d["before"].get(key) or not d["after"].get(key):
                    return "—"
                b, af = d["before"][key]["median"], d["after"][key]["median"]
                return f"{b:.{digits}f} → **{af:.{digits}f}** ({(af - b) / b * 100:+.0f}%)"
            bb = v.get("binary_bytes", {})
            bin_s = f"{bb['before'] / MB:.1f} → {bb['after'] / MB:.1f}" if bb.get("after") else "—"
            built = v.get("built") or {}
            when = (f" (binaries built {built.get('before')} / {built.get('after')})"
                    if built.get("before") and built.get("after") else "")
            a(f"| `{name}` | {v['what']} | {v['date']}, {v['runs']} runs each{when} | {pair(inv, 'init_ms')} | "
              f"{pair(tls, 'init_ms')} | {pair(rl, 'invoke_ms')} | {pair(tls, 'invoke_ms')} | "
              f"{pair(tls, 'rss_mb')} | {bin_s} |")
        for name, v in variants.items():
            if v.get("note"):
                a("")
                a(f"`{name}`: {v['note']}")
        a("")
    a("Not measured yet, and how to measure each:")
    a("")
    for name, spec in VARIANTS.items():
        if name in variants:
            continue
        a(f"- **{spec['what']}**: `BENCH_VARIANT={name} make bench` (set through the build environment: "
          f"{', '.join(f'`{k}={v}`' for k, v in spec['env'].items())}; no source change).")
    if not any(v.get("rev") for v in variants.values()):
        a("- **A code change** (SDK feature trimming, lazy client construction): "
          "`BENCH_VARIANT=rev:<commit before it> BENCH_VARIANT_WHAT='<the change>' make bench`.")
    a("")

    # ---- method notes
    a("## Method notes")
    a("")
    a("- Harness: `tests/runtime_api/harness.py` (reused as is). The bench adds the `Content-Type: "
      "application/json` header that Lambda's Runtime API sends on `next`: awslambdaric 4.2.2's native client "
      "crashes (SIGSEGV) without it; the Rust runtime does not care.")
    a("- Environment of every run: the harness's (`AWS_REGION=us-east-1`, dummy credentials, "
      "`AWS_ENDPOINT_URL` at a closed port or at the sandbox) plus `AWS_DEFAULT_REGION` (Lambda sets both; boto3 "
      "reads only the latter).")
    a("- The sandbox is the bench's own (ports 4620/4621/9020, state `.sandbox-bench/`), started with "
      "`tests/sandbox/up.sh` and stopped with `tests/sandbox/down.sh`, so a sandbox on 4566 is not disturbed. "
      "Its functions are debug builds run by `cargo lambda watch`: orchestration wall times are those of the "
      "sandbox (moto's interpreter, the router, debug binaries), not of AWS; call and transition counts are "
      "what AWS would see.")
    a("- Ratios are Python median / Rust median: above 1 the Rust hook is faster.")
    a("- Raw numbers (every run): `benches/results/latest.json`.")
    a("")
    return "\n".join(L)


if __name__ == "__main__":
    if sys.argv[1:] == ["--render-only"]:  # re-render BENCHMARKS.md from benches/results/latest.json
        doc = json.loads((BENCH / "results" / "latest.json").read_text())
        doc["variants"] = load_variants()
        if os.environ.get("BENCH_NOTE"):
            doc.setdefault("notes", []).append(os.environ["BENCH_NOTE"])
        out_path = ROOT / os.environ.get("BENCH_OUT", "BENCHMARKS.md")
        out_path.write_text(keep_fleet_section(render(doc), out_path))
    else:
        main()
