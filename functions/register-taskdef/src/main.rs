//! `register-taskdef`: registers a task definition revision with a new image and creates the CodeDeploy deployment with its AppSpec (the `release` entry).

mod handler;

fn main() -> Result<(), lambda_runtime::Error> {
    hookline::runtime::main(async {
        hookline::runtime::init_logging();
        let deps = handler::Deps::from_env(hookline::Clients::from_env().await);
        hookline::runtime::run(|event| handler::handle(&deps, event)).await
    })
}
