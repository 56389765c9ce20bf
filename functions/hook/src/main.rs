//! `hook`: the lifecycle hook entry, for CodeDeploy and for ECS-native blue/green.
//! Each controller's entry translates its invocation into the hook's start
//! (`hookline::flows::hook_start`: find or start one state machine execution per hook) and the
//! start's outcome into its answer.

mod codedeploy;
mod deps;
mod dispatch;
mod ecs;

fn main() -> Result<(), lambda_runtime::Error> {
    hookline::runtime::main(async {
        hookline::runtime::init_logging();
        let deps = deps::deps_from_env(&hookline::Clients::from_env().await);
        hookline::runtime::run_with_deadline(|event, deadline| dispatch::dispatch_until(&deps, event, Some(deadline)))
            .await
    })
}
