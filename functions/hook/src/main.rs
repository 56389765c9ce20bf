//! `hook`: the CodeDeploy lifecycle hook entry. Resolves the deployment,
//! loads the plan and starts one state machine execution per hook.

mod handler;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hookline::runtime::init_logging();
    let deps = handler::Deps::from_env(hookline::Clients::from_env().await);
    hookline::runtime::run(|event| handler::handle(&deps, event)).await
}
