//! `shift-weight`: moves production traffic to the weight of one canary step (or adds the cohort rule), after checking the live weights are where the previous step left them.

mod handler;

fn main() -> Result<(), lambda_runtime::Error> {
    hookline::runtime::main(async {
        hookline::runtime::init_logging();
        let deps = handler::Deps::new(&hookline::Clients::from_env().await);
        hookline::runtime::run(|event| handler::handle(&deps, event)).await
    })
}
