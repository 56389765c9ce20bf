"""Each function binary, fed malformed events through a Lambda Runtime API,
answers with an errorType from the contract's set (docs/design.md), never a Rust type name.

`make test` runs the debug binaries `make build` produces (the ones the sandbox and e2e run);
`make test-runtime-api-release` the release ones (panic = "abort", what Lambda runs). What is
asserted does not depend on the profile: a handler that panicked would fail here under either
(release: the process aborts, no answer; debug: lambda_runtime answers with the panic payload's
Rust type name as errorType, which is neither InvalidInput nor free of `::`)."""

from __future__ import annotations

import os
import pathlib
import queue

import pytest

from harness import RuntimeApi, start_function

ROOT = pathlib.Path(__file__).resolve().parents[2]
FUNCTIONS = ["hook", "register-taskdef", "shift-weight", "validate-health", "finalize", "rollback"]
DESIGN_ERROR_TYPES = {"InvalidInput", "HealthCheckFailed", "DeploymentStopped", "Throttled", "AwsTransient", "AwsPermanent"}

# (payload, a field the message must name)
MALFORMED = [
    (b"{not json", "event"),
    (b"", "event"),
    (b"[1, 2, 3]", "event"),
    (b'"just a string"', "event"),
]
# One wrong-typed field per function, so the message must name that field.
WRONG_FIELD = {
    "hook": (b'{"DeploymentId": 5, "LifecycleEventHookExecutionId": "x"}', "DeploymentId"),
    "register-taskdef": (b'{"application": "web", "deployment_group": "web-prod", "image": ["x"]}', "image"),
    "shift-weight": (b'{"context": {"deployment_id": 1}, "state": {}, "step": {}}', "context"),
    "validate-health": (b'{"gate": "sideways"}', "gate"),
    "finalize": (b'{"context": "nope", "plan": {}, "state": {}}', "context"),
    "rollback": (b'{"deployment_id": 42}', "deployment_id"),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_malformed_events_answer_invalid_input(name):
    # RUNTIME_API_PROFILE: the directory under target/ whose binaries to run: debug (`make build`,
    # the default) or release (`make build-release`).
    profile = os.environ.get("RUNTIME_API_PROFILE", "debug")
    binary = ROOT / "target" / profile / name
    assert binary.exists(), f"build first: make {'build' if profile == 'debug' else 'build-release'} ({binary})"
    api = RuntimeApi()
    cases = MALFORMED + [WRONG_FIELD[name]]
    for payload, _ in cases:
        api.events.put(payload)
    proc = start_function(str(binary), name, api)
    try:
        for payload, field in cases:
            try:
                answer = api.answers.get(timeout=20)
            except queue.Empty:
                proc.kill()
                pytest.fail(f"{name} gave no answer to {payload!r}; stderr: {proc.stderr.read().decode(errors='replace')[-2000:]}")
            assert answer["kind"] == "error", f"{name} accepted {payload!r}: {answer}"
            body = answer["body"]
            assert body["errorType"] in DESIGN_ERROR_TYPES, f"{name} {payload!r}: {body}"
            assert body["errorType"] == "InvalidInput", f"{name} {payload!r}: {body}"
            assert field in body["errorMessage"], f"{name} {payload!r}: message does not name {field}: {body}"
            assert "::" not in body["errorType"]
    finally:
        proc.kill()
        proc.wait()
        api.close()
