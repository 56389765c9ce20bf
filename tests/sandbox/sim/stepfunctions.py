"""Step Functions: where moto's ASL interpreter (moto.stepfunctions.parser) deviates from AWS, the
sandbox patches it in the moto process (tests/sandbox/moto_server.py calls `install()`).

StopExecution on an execution waiting in a `.waitForTaskToken` task (hookline's RequestApproval,
statemachine/canary.asl.json): AWS stops the execution ("Stops an execution." — Step Functions API
reference, StopExecution, https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html;
its response's stopDate is "The date the execution is stopped."). moto 5.2 marks the program
stopped, but its status (DescribeExecution, ListExecutions) is only written when the interpreter's
thread returns, and that thread blocks on the task token until the task's TimeoutSeconds: the
execution stays RUNNING for the approval's whole timeout after a 200 from StopExecution.
"""
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

SOURCES = [
    {
        "id": "SFN-STOP",
        "behaviour": "StopExecution ends a running execution at once whatever state it is in, a "
        "`.waitForTaskToken` task included (moto 5.2 leaves it RUNNING until the task's timeout and "
        "answers without stopDate): the response carries the stopDate, DescribeExecution answers "
        "ABORTED, the waiting task is woken, nothing after it runs and the history ends with ExecutionAborted",
        "source": '"Stops an execution."; stopDate: "The date the execution is stopped." — Step '
        "Functions API reference, StopExecution "
        "(https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html)",
        "switch": None,
    },
]

_INSTALLED = {}


def _stop_at_once(self, stop_date, error, cause):
    """moto's Execution.stop, then what it leaves undone: wake every task-token wait of the
    execution (its frames share one callback pool), so the interpreter's thread sees the stopped
    program and returns, and write ABORTED now, as AWS's StopExecution does, rather than when that
    thread gets round to it.

    moto reads the woken wait as the task's timeout: the history would get a TaskTimedOut (read by
    `hookline status` as an approval that timed out) and the Catch's events. The task did not time
    out, so from the stop on the execution's history (its frames share one event manager) records
    only moto's own ExecutionAborted."""
    worker = self.exec_worker
    env = worker.env if worker is not None else None
    if env is None or self.exec_status != ExecutionStatus.RUNNING:
        _INSTALLED["stop"](self, stop_date=stop_date, error=error, cause=cause)
        return
    manager = env.event_manager
    record = manager.add_event

    def only_the_abort(context, event_type, *args, **kwargs):
        if event_type == HistoryEventType.ExecutionAborted:
            return record(context, event_type, *args, **kwargs)
        return context.source_event_id

    manager.add_event = only_the_abort
    _INSTALLED["stop"](self, stop_date=stop_date, error=error, cause=cause)
    for endpoint in list(env.callback_pool_manager._pool.values()):
        endpoint.interrupt_all()
    # moto's StopExecution passes "" for an absent error/cause; AWS answers neither then.
    self.exec_status = ExecutionStatus.ABORTED
    self.stop_date = stop_date
    self.error = error or None
    self.cause = cause or None


def _error_unless_stopped(self, error):
    """moto's Environment.set_error, except on a stopped program: the woken task-token wait ends
    in an error (moto reads the wake-up as the task's timeout), which must not turn the aborted
    execution into a failed one (moto's set_error, unlike set_stop and set_ended, does not check
    that the program is still running)."""
    if isinstance(self.program_state(), ProgramStopped):
        return
    _INSTALLED["set_error"](self, error)


def _reflect_keeping_the_stop_date(self):
    """moto's status reflection when the interpreter's thread returns, except that a stopped
    execution keeps the stopDate its StopExecution answered (moto writes the thread's end time)."""
    stopped_at = self.execution.stop_date if self.execution.exec_status == ExecutionStatus.ABORTED else None
    _INSTALLED["reflect"](self)
    if stopped_at is not None:
        self.execution.stop_date = stopped_at


def install():
    """Patch moto's Step Functions in this process (idempotent)."""
    if "stop" not in _INSTALLED:
        _INSTALLED["stop"] = Execution.stop
        _INSTALLED["set_error"] = Environment.set_error
        _INSTALLED["reflect"] = BaseExecutionWorkerCommunication._reflect_execution_status
        Execution.stop = _stop_at_once
        Environment.set_error = _error_unless_stopped
        BaseExecutionWorkerCommunication._reflect_execution_status = _reflect_keeping_the_stop_date


def uninstall():
    """Undo `install()` (the sandbox tests show moto's own behaviour with it)."""
    if "stop" in _INSTALLED:
        Execution.stop = _INSTALLED.pop("stop")
        Environment.set_error = _INSTALLED.pop("set_error")
        BaseExecutionWorkerCommunication._reflect_execution_status = _INSTALLED.pop("reflect")
