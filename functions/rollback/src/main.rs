//! `rollback`: restores production to blue 100%, removes cohort rules and reports the hook `Failed`; from the console it also stops the deployment and its executions; from the hook function's dead-letter queue (SQS) it answers hooks whose every invocation failed.

mod handler;

fn main() -> Result<(), lambda_runtime::Error> {
    hookline::runtime::main(async {
        hookline::runtime::init_logging();
        let deps = handler::Deps::from_env(hookline::Clients::from_env().await);
        hookline::runtime::run(|event| handler::dispatch(&deps, event)).await
    })
}
