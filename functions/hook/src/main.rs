//! `hook`: the lifecycle hook entry, for CodeDeploy and for ECS-native blue/green.
//! Resolves the deployment, loads the plan and starts one state machine execution per hook.

mod ecs;
mod handler;

fn main() -> Result<(), lambda_runtime::Error> {
    hookline::runtime::main(async {
        hookline::runtime::init_logging();
        let deps = handler::Deps::from_env(hookline::Clients::from_env().await);
        hookline::runtime::run_with_deadline(|event, deadline| handler::dispatch_until(&deps, event, Some(deadline)))
            .await
    })
}
