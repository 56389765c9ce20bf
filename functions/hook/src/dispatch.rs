//! The dispatch of an invocation to its controller's entry: ECS's hook payload (`lifecycleStage`,
//! `resourceArn`) to [`crate::ecs`], anything else to [`crate::codedeploy`]. Dispatch depends on
//! the entries, never the reverse: what they share (the dependencies) is [`crate::deps`].

use hookline::lifecycle::EcsNative;
use hookline::Result;
use serde::Serialize;
use serde_json::Value;

use crate::deps::Deps;

/// What an invocation answers Lambda with.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Reply {
    /// CodeDeploy's invocation: the execution, or how the hook was answered.
    CodeDeploy(crate::codedeploy::Reply),
    /// An ECS-native hook's answer (its `hookStatus` and more): ECS reads it from the return value.
    Ecs(Value),
}

/// Serves both controllers; see the module documentation.
#[cfg(test)]
pub async fn dispatch(deps: &Deps, event: Value) -> Result<Reply> {
    dispatch_until(deps, event, None).await
}

/// Serves both controllers (see the module documentation) within the invocation's deadline: an ECS
/// answer is given before it (ECS takes a function that times out as FAILED and rolls back).
pub async fn dispatch_until(deps: &Deps, event: Value, deadline: Option<tokio::time::Instant>) -> Result<Reply> {
    if EcsNative::is_invocation(&event) {
        return Ok(Reply::Ecs(crate::ecs::handle_until(deps, event, deadline).await));
    }
    Ok(Reply::CodeDeploy(crate::codedeploy::handle(deps, event).await?))
}
