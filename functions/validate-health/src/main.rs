//! `validate-health`: the health gate: green's targets, task set, alarms and HTTP probes, plus the bake clock and the hook budget.

mod handler;

fn main() -> Result<(), lambda_runtime::Error> {
    hookline::runtime::main(async {
        hookline::runtime::init_logging();
        let deps = handler::Deps::new(&hookline::Clients::from_env().await);
        hookline::runtime::run(|event| handler::handle(&deps, event)).await
    })
}
