//! One step's traffic change. Safe under retries: the live weights are read
//! once, compared with what the previous step left (drift fails with nothing
//! modified) and with the target (no call when already there).

use std::sync::Arc;

use hookline::execution::{now_epoch, RolloutState};
use hookline::lifecycle::{ensure_active, Lifecycle};
use hookline::plan::Step;
use hookline::runtime::parse_event;
use hookline::traffic::{Cohort, RouterFactory, Weights};
use hookline::{Clients, Error, Result};
use serde_json::Value;
use tracing::{info, info_span, Instrument};

/// `{"context", "state", "step"}` from the canary state machine.
pub use hookline::contract::ShiftWeightInput as Input;

/// What shift-weight needs: the deployment controller and the production routes, built once in `main`.
pub struct Deps {
    pub lifecycle: Arc<dyn Lifecycle>,
    pub routers: Arc<dyn RouterFactory>,
}

impl Deps {
    /// The AWS adapters.
    pub fn new(clients: &Clients) -> Deps {
        Deps { lifecycle: Arc::new(clients.lifecycle()), routers: Arc::new(clients.routers()) }
    }
}

/// Applies `step` and returns the new rollout state (written to `$.state`).
pub async fn handle(deps: &Deps, event: Value) -> Result<RolloutState> {
    let input: Input = parse_event(event)?;
    // Bad input changes nothing and costs no AWS call.
    match &input.step {
        Step::Approval { .. } => {
            return Err(Error::invalid("step.kind", "weight or cohort (approvals are handled by the state machine)"));
        }
        Step::Weight { weight, .. } if !(1..=100).contains(weight) => {
            return Err(Error::invalid("step.weight", format!("an integer from 1 to 100, got {weight}")));
        }
        _ => {}
    }
    let span = info_span!("shift-weight", deployment_id = %input.context.deployment_id);
    async {
        ensure_active(deps.lifecycle.as_ref(), &input.context.deployment_id).await?;
        let router = deps.routers.router(&input.context);
        let mut state = input.state.clone();
        match &input.step {
            Step::Weight { weight, bake_seconds } => {
                let previous = Weights::green(input.state.weight);
                let change = router.set_weights(Weights::green(*weight), Some(previous)).await?;
                info!(from = %previous, to = %Weights::green(*weight), ?change, "production weights set");
                state.weight = *weight;
                state.bake_until = Some(now_epoch() + i64::try_from(*bake_seconds).unwrap_or(i64::MAX / 2));
            }
            Step::Cohort { header, values } => {
                let change = router.add_cohort(&Cohort { header: header.clone(), values: values.clone() }).await?;
                info!(header = %header, ?values, ?change, "cohort rule in place");
                state.bake_until = None;
            }
            Step::Approval { .. } => return Err(Error::invalid("step.kind", "weight or cohort")),
        }
        Ok(state)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests;
