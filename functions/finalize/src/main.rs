//! `finalize`: ends a hook successfully: removes cohort rules, records the release, reports `Succeeded`.

mod handler;

fn main() -> Result<(), lambda_runtime::Error> {
    hookline::runtime::main(async {
        hookline::runtime::init_logging();
        let deps = handler::Deps::from_env(hookline::Clients::from_env().await);
        hookline::runtime::run(|event| handler::handle(&deps, event)).await
    })
}
