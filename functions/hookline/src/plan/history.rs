//! Step Functions history events: how many the canary and post-traffic executions of a plan can
//! record at most.
//!
//! A Standard workflow execution has a hard quota of 25,000 history events (AWS Step Functions
//! developer guide, "Service quotas", and "Avoid reaching the history quota": when event 25,000
//! is not `ExecutionSucceeded` the execution fails). That failure is outside every Catch: no
//! rollback, no hook report, production possibly split. moto does not enforce it, so the plan
//! validator does, from the counts below: what each state of `statemachine/canary.asl.json`
//! and `statemachine/post-traffic.asl.json` records. `tests/statemachine/test_history.py` runs
//! those definitions and checks every sequence here is at least what an execution records
//! (it reads this file: keep each constant as `pub const NAME: u64 = <sums and products of
//! numbers and the constants above>;`).

use super::model::Plan;

/// AWS's hard quota of events in one execution's history.
pub const HISTORY_QUOTA: u64 = 25_000;
/// What a plan may use. The rest of the quota absorbs transient retries on the happy path
/// (3 events each: about 1,600 retried invocations), which no plan can bound.
pub const HISTORY_LIMIT: u64 = 20_000;
const _: () = assert!(HISTORY_LIMIT < HISTORY_QUOTA);

// --- one state ---------------------------------------------------------------------------------
pub const EXECUTION_STARTED: u64 = 1;
/// `ExecutionSucceeded` or `ExecutionFailed`.
pub const EXECUTION_ENDED: u64 = 1;
/// A Task with a function ARN as Resource: TaskStateEntered, LambdaFunctionScheduled,
/// LambdaFunctionStarted, LambdaFunctionSucceeded|Failed|TimedOut, TaskStateExited.
pub const FUNCTION_TASK: u64 = 5;
/// Each retried invocation adds LambdaFunctionScheduled, LambdaFunctionStarted and its outcome.
pub const FUNCTION_RETRY: u64 = 3;
/// `sns:publish.waitForTaskToken`: TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted,
/// TaskSucceeded|Failed|TimedOut, TaskStateExited.
pub const CALLBACK_TASK: u64 = 6;
pub const CHOICE: u64 = 2;
pub const PASS: u64 = 2;
pub const WAIT: u64 = 2;
/// SucceedStateEntered, SucceedStateExited.
pub const SUCCEED: u64 = 2;
/// FailStateEntered.
pub const FAIL: u64 = 1;
/// The most retries of one non-rollback function task (4 transient + 1 timeout).
pub const FUNCTION_TASK_RETRIES: u64 = 5;
/// The most retries of the Rollback task.
pub const ROLLBACK_TASK_RETRIES: u64 = 6;

// --- sequences of states -----------------------------------------------------------------------
/// ValidateGreen, GreenReady.
pub const READY_FIRST: u64 = FUNCTION_TASK + CHOICE;
/// WaitForGreen, ValidateGreen, GreenReady: one more `health.interval` for green.
pub const READY_ITERATION: u64 = WAIT + FUNCTION_TASK + CHOICE;
/// WaitBake, Bake, BakeDone: one more `health.interval` of bake.
pub const BAKE_ITERATION: u64 = WAIT + FUNCTION_TASK + CHOICE;
/// NextStep, PickStep, StepKind, ShiftWeight, Bake, BakeDone, KeepJudgements, Advance (bake
/// iterations apart).
pub const WEIGHT_STEP: u64 = CHOICE + PASS + CHOICE + FUNCTION_TASK + FUNCTION_TASK + CHOICE + PASS + PASS;
/// JudgementApproval, RequestApproval and its Choice: what a judged weight step adds when its
/// judgement asks an operator (`analysis.on_marginal` / `on_no_data: approval`).
pub const JUDGEMENT_APPROVAL: u64 = PASS + CALLBACK_TASK + CHOICE;
/// NextStep, PickStep, StepKind, RouteCohort, Advance.
pub const COHORT_STEP: u64 = CHOICE + PASS + CHOICE + FUNCTION_TASK + PASS;
/// NextStep, PickStep, StepKind, RequestApproval, ApprovalTimedOut, Advance.
pub const APPROVAL_STEP: u64 = CHOICE + PASS + CHOICE + CALLBACK_TASK + CHOICE + PASS;
/// NextStep, Finalize, Done, ExecutionSucceeded.
pub const CANARY_END: u64 = CHOICE + FUNCTION_TASK + SUCCEED + EXECUTION_ENDED;
/// Bake, BakeDone (the first check of the post-traffic bake).
pub const POST_TRAFFIC_FIRST: u64 = FUNCTION_TASK + CHOICE;
/// Finalize, Done, ExecutionSucceeded.
pub const POST_TRAFFIC_END: u64 = FUNCTION_TASK + SUCCEED + EXECUTION_ENDED;
/// The failure that ends in rollback, counted on top of a complete run: the failing task's
/// retries, a Pass setting `$.error`, Rollback with all its retries, RolledBack, ExecutionFailed.
pub const ROLLBACK_PATH: u64 = FUNCTION_TASK_RETRIES * FUNCTION_RETRY
    + PASS
    + FUNCTION_TASK
    + ROLLBACK_TASK_RETRIES * FUNCTION_RETRY
    + FAIL
    + EXECUTION_ENDED;

/// How many waits of `interval` seconds fit in `seconds` (validate-health answers
/// `wait_seconds` = the interval, or the bake time left when shorter, never less than 1).
fn waits(seconds: u64, interval: u64) -> u64 {
    seconds.div_ceil(interval.max(1))
}

/// The most history events the BeforeAllowTraffic (canary) execution of `plan` can record with
/// checks every `interval` seconds: green's ready loop for the whole ready timeout, every step
/// with its bake loop, finalize, and a rollback with every retry on top.
pub fn canary_events(plan: &Plan, interval: u64) -> u64 {
    use super::step::Step;
    let ready = READY_FIRST + waits(plan.health.ready_timeout_seconds, interval) * READY_ITERATION;
    // A judgement may hand a judged weight step to an operator (validate-health, canary ASL).
    let judged_approval = plan.analysis.as_ref().is_some_and(|a| {
        a.on_marginal == super::analysis::OnMarginal::Approval || a.on_no_data == super::analysis::OnNoData::Approval
    });
    let steps: u64 = plan
        .steps
        .iter()
        .map(|step| match step {
            Step::Weight { weight, bake_seconds } => {
                let asked = judged_approval && *weight < 100 && *bake_seconds > 0;
                WEIGHT_STEP
                    + waits(*bake_seconds, interval) * BAKE_ITERATION
                    + if asked { JUDGEMENT_APPROVAL } else { 0 }
            }
            Step::Cohort { .. } => COHORT_STEP,
            Step::Approval { .. } => APPROVAL_STEP,
        })
        .sum();
    EXECUTION_STARTED + ready + steps + CANARY_END + ROLLBACK_PATH
}

/// The most history events the AfterAllowTraffic (post-traffic) execution can record.
pub fn post_traffic_events(plan: &Plan, interval: u64) -> u64 {
    EXECUTION_STARTED
        + POST_TRAFFIC_FIRST
        + waits(plan.post_traffic.bake_seconds, interval) * BAKE_ITERATION
        + POST_TRAFFIC_END
        + ROLLBACK_PATH
}

/// The larger of the two executions' worst cases, and which one it is.
pub fn worst_events(plan: &Plan, interval: u64) -> (u64, &'static str) {
    let canary = canary_events(plan, interval);
    let post = post_traffic_events(plan, interval);
    if canary >= post {
        (canary, "BeforeAllowTraffic (canary)")
    } else {
        (post, "AfterAllowTraffic (post-traffic)")
    }
}

/// The shortest `health.interval` (seconds) at which both executions fit [`HISTORY_LIMIT`],
/// or `None` when even one check per hook budget does not (too many steps).
pub fn min_interval(plan: &Plan) -> Option<u64> {
    let longest = plan.hook_budget_seconds.max(1);
    // Events only fall as the interval grows: binary search for the first that fits.
    if worst_events(plan, longest).0 > HISTORY_LIMIT {
        return None;
    }
    let (mut lo, mut hi) = (1, longest);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if worst_events(plan, mid).0 <= HISTORY_LIMIT {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}
