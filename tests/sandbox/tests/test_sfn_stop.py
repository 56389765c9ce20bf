"""SFN-STOP (tests/sandbox/sim/stepfunctions.py): StopExecution on an execution waiting for a task
token. moto runs in-process (`mock_aws`, executing state machines as the sandbox does); the test
with the patch asserts AWS's behaviour, the `gap` test pins moto's own, so a moto upgrade that
fixes it shows up here."""
import json
import os
import sys
import time

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from sim import stepfunctions  # noqa: E402

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"

# hookline's RequestApproval in miniature: publish the token to SNS, wait for it (an hour).
DEFINITION = {
    "StartAt": "RequestApproval",
    "States": {
        "RequestApproval": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
            "Parameters": {"TopicArn": "${Topic}", "Message": {"task_token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 3600,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "AfterApproval"}],
            "Next": "AfterApproval",
        },
        "AfterApproval": {"Type": "Pass", "End": True},
    },
}


def waiting_execution():
    """An execution of the miniature, once it waits in RequestApproval."""
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = json.dumps(DEFINITION).replace("${Topic}", topic)
    machine = sfn.create_state_machine(name="approval", definition=definition, roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=execution)["events"]
        if any(e["type"] == "TaskSubmitted" for e in events):
            return sfn, execution
        time.sleep(0.05)
    pytest.fail(f"the execution never reached RequestApproval: {[e['type'] for e in events]}")


@pytest.fixture
def moto_sfn():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def patched():
    stepfunctions.install()
    yield
    stepfunctions.uninstall()


def test_stop_execution_ends_a_task_token_wait(moto_sfn, patched):
    sfn, execution = waiting_execution()
    stopped = sfn.stop_execution(executionArn=execution)
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "ABORTED"
    assert described["stopDate"] == stopped["stopDate"]
    assert "error" not in described and "cause" not in described
    machine = described["stateMachineArn"]
    assert sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"] == []
    # The woken task's Catch does not run the next state: the history ends ExecutionAborted.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
        if types[-1] == "ExecutionAborted":
            break
        time.sleep(0.05)
    # Nothing between the wait and the abort: the woken wait is not recorded as a timeout.
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
                     "ExecutionAborted"], types
    final = sfn.describe_execution(executionArn=execution)
    assert final["status"] == "ABORTED" and final["stopDate"] == stopped["stopDate"], final


def test_gap_moto_leaves_a_stopped_task_token_wait_running(moto_sfn):
    """moto 5.2 without the patch: StopExecution answers 200 without the stopDate AWS requires in
    its response, and the execution stays RUNNING."""
    sfn, execution = waiting_execution()
    stopped = sfn.stop_execution(executionArn=execution)
    assert "stopDate" not in stopped
    time.sleep(1)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
