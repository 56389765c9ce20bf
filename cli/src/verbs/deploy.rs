//! `hookline deploy` / `hookline undeploy`: the entry of hookline's own Route 53 controller
//! (docs/route53-controller.md). Thin: read the deployment file, check it completely, then hand
//! it to the library's flows (`hookline::flows::dns_release::{deploy, undeploy}`), which do the
//! work over the ports. A bad file changes nothing in AWS: it is checked before any call, the caller's identity
//! included (see [`crate::deploy_file::CHECK_ACCOUNT_ID`]).

use std::time::Duration;

use hookline::deployfile::{Context, DeployFile};
use hookline::flows::dns_release::{self, DeployRequest, Reach};

use crate::aws::Aws;
use crate::deploy_file::{self as df, DeployFileArgs};
use crate::error::{fail, R};
use crate::output::emit;

/// `hookline deploy`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub file: DeployFileArgs,
    /// Remove the old release's service after a success (the file's `hookline.remove_old`).
    #[arg(long)]
    pub remove_old: bool,
    /// Follow the deployment like `hookline watch` until it ends; exit code as `watch`'s.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: poll interval.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration, requires = "wait")]
    pub interval: Duration,
}

/// `hookline undeploy`'s arguments.
#[derive(Debug, clap::Args)]
pub struct UndeployArgs {
    #[command(flatten)]
    pub file: DeployFileArgs,
    /// The release (its CanaryRelease tag value) whose service and record to remove (default: the
    /// idle one, at weight 0 or without a record). The one taking traffic is refused.
    #[arg(long, value_name = "TAG")]
    pub release: Option<String>,
}

/// Reads and checks the file `args` name for the account deployed to; `Ok(Err(exit code))` when
/// it has problems (printed, one per line; no AWS call made).
pub async fn checked(aws: &Aws, args: &DeployFileArgs) -> R<Result<DeployFile, u8>> {
    let path = args.path()?;
    let text = df::read(&path)?;
    // First with a stand-in account id (same length and characters): a bad file stops here,
    // before any AWS call.
    let stand_in = Context { account_id: df::CHECK_ACCOUNT_ID.into(), region: aws.region.clone() };
    if let Err(errs) = df::parse(&path, &text, &stand_in) {
        df::print_problems(&path, &errs);
        return Ok(Err(1));
    }
    let ctx = Context { account_id: df::account_id(aws, None).await?, region: aws.region.clone() };
    match df::parse(&path, &text, &ctx) {
        Err(errs) => {
            df::print_problems(&path, &errs);
            Ok(Err(1))
        }
        Ok(file) => {
            df::print_notes(&file.ignored);
            Ok(Ok(file))
        }
    }
}

/// `hookline deploy`: prints the deployment id (`dns-...`); with `--wait`, follows it (exit code
/// as `watch`'s), else 0 once started. A bad file: its problems, exit 1, nothing changed.
pub async fn run_deploy(aws: &Aws, args: &DeployArgs) -> R<u8> {
    let file = match checked(aws, &args.file).await? {
        Ok(file) => file,
        Err(code) => return Ok(code),
    };
    let id = start(aws, &args.file.env, &file, args.remove_old).await?;
    emit(&id);
    if !args.wait {
        return Ok(0);
    }
    let outcome = super::watch::follow(aws, &id, args.interval, None).await?;
    Ok(outcome.exit_code())
}

/// `hookline undeploy`: removes a release's service and record, refusing the one taking traffic.
pub async fn run_undeploy(aws: &Aws, args: &UndeployArgs) -> R<u8> {
    let file = match checked(aws, &args.file).await? {
        Ok(file) => file,
        Err(code) => return Ok(code),
    };
    let removed = remove(aws, &file, args.release.as_deref()).await?;
    emit(&removed);
    Ok(0)
}

/// The ports the flows reach, over the CLI's clients.
struct Ports {
    discovery: hookline::aws::ReleaseFinder,
    services: hookline::aws::EcsServices,
    plans: hookline::aws::ParameterStore,
    executions: hookline::aws::StepFunctions,
}

impl Ports {
    fn of(aws: &Aws) -> Ports {
        Ports {
            discovery: aws.clients.release_discovery(),
            services: aws.clients.services(),
            plans: aws.clients.plans(),
            executions: aws.clients.executions(),
        }
    }

    fn reach(&self) -> Reach<'_> {
        Reach { discovery: &self.discovery, services: &self.services, plans: &self.plans, executions: &self.executions }
    }
}

/// Starts the deployment ([`hookline::flows::dns_release::deploy`]); its id.
async fn start(aws: &Aws, env: &str, file: &DeployFile, remove_old: bool) -> R<String> {
    let canary = aws.require_state_machine("canary").await?;
    let mut salt = [0u8; 4];
    getrandom::getrandom(&mut salt).map_err(|e| fail(format!("cannot draw the deployment id's salt: {e}")))?;
    let ports = Ports::of(aws);
    let request = DeployRequest {
        file,
        environment: env,
        canary_state_machine_arn: &canary,
        plan_parameter_prefix: &aws.settings.plan_parameter_prefix,
        // The clients already call --region: the functions the canary runs run there too.
        region: None,
        remove_old,
        now: hookline::execution::now_epoch(),
        salt: u32::from_le_bytes(salt),
    };
    let deployed = dns_release::deploy(ports.reach(), &request).await?;
    eprintln!(
        "{} {} → release {} ({}/{}, {}), {} keeps the traffic; canary {}",
        file.service.name,
        file.service.version,
        deployed.green,
        deployed.green_service.cluster,
        deployed.green_service.service,
        deployed.task_definition_arn.rsplit('/').next().unwrap_or(&deployed.task_definition_arn),
        deployed.blue,
        deployed.execution_arn.rsplit(':').next().unwrap_or(&deployed.execution_arn),
    );
    Ok(deployed.deployment_id)
}

/// Removes a release ([`hookline::flows::dns_release::undeploy`]); what was removed.
async fn remove(aws: &Aws, file: &DeployFile, release: Option<&str>) -> R<String> {
    let ports = Ports::of(aws);
    let gone = dns_release::undeploy(ports.reach(), &ports.discovery, file, release, None).await?;
    let service = format!("{}/{}", gone.service.cluster, gone.service.service);
    Ok(format!(
        "undeployed release {}: service {service} {}, its weighted record {}",
        gone.release,
        if gone.service_deleted { "deleted" } else { "already gone" },
        if gone.record_deleted { "deleted" } else { "already gone" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../../functions/hookline/src/deployfile/fixtures/seed.deploy.yml");

    fn args_for(dir: &std::path::Path) -> DeployFileArgs {
        DeployFileArgs { env: "dev".into(), file: None, dir: Some(dir.to_path_buf()) }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("hookline-deploy-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[tokio::test]
    async fn a_bad_file_is_refused_before_any_aws_call_and_a_good_one_then_asks_who_deploys() {
        // No mocked answer and no credentials: any AWS call would be an error, not a refused file.
        let aws = Aws::with_clients(hookline::testing::mocked_clients(&[]));
        let dir = temp_dir("bad");
        std::fs::write(dir.join("dev.deploy.yml"), SEED).expect("write");
        assert!(matches!(checked(&aws, &args_for(&dir)).await, Ok(Err(1))), "the seed's 50s wait is refused");

        let dir = temp_dir("good");
        std::fs::write(dir.join("dev.deploy.yml"), SEED.replace("wait: 50", "wait: 70")).expect("write");
        match checked(&aws, &args_for(&dir)).await {
            Err(e) => assert!(e.0.contains("GetCallerIdentity"), "{e:?}"),
            Ok(_) => panic!("a good file needs the caller's account id (STS), which is not reachable here"),
        }
    }

    /// A release record of hookline's Route 53 controller, as `deploy` writes it.
    pub fn release_record(id: &str) -> String {
        let record = hookline::dns::ReleaseRecord {
            deployment_id: id.into(),
            environment: "prod".into(),
            status: hookline::dns::ReleaseStatus::InProgress,
            context: hookline::testing::context(),
            execution_arn: None,
            remove_old: false,
            created_at: 1_796_546_416,
            ended_at: None,
            services_done: false,
            message: None,
            drain_seconds: None,
            drain_until: None,
            green_task_definition: None,
        };
        serde_json::to_string(&record).expect("a record serializes")
    }

    #[tokio::test]
    async fn dns_deployments_are_read_under_the_cli_plan_parameter_prefix() {
        use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
        use aws_sdk_ssm::types::Parameter;
        use aws_smithy_mocks::mock;
        const ID: &str = "dns-20261206-084016-abcd";
        let record = mock!(aws_sdk_ssm::Client::get_parameter)
            .match_requests(|r| r.name() == Some("/team-a/dns/dns-20261206-084016-abcd"))
            .then_output(|| {
                GetParameterOutput::builder().parameter(Parameter::builder().value(release_record(ID)).build()).build()
            });
        let mut aws = Aws::with_clients(hookline::testing::mocked_clients(&[&record]));
        aws.settings.plan_parameter_prefix = "/team-a".into();
        let info = aws.deployment(ID).await.expect("read from /team-a/dns/...");
        assert_eq!(info.controller, hookline::plan::Controller::Route53);
        assert_eq!(super::super::status::shown(&info), "InProgress");
        assert_eq!(record.num_calls(), 1);
    }

    #[tokio::test]
    async fn the_weights_of_a_dns_deployment_are_its_two_records() {
        use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
        use aws_sdk_route53::types::{AliasTarget, ResourceRecordSet, RrType};
        use aws_smithy_mocks::mock;
        use hookline::execution::{DnsRelease, Route};
        let record = |id: &str, weight: i64| {
            let alias =
                AliasTarget::builder().hosted_zone_id("Z35").dns_name(format!("{id}.elb")).evaluate_target_health(true);
            ResourceRecordSet::builder()
                .name("web.shop.example.com.")
                .r#type(RrType::A)
                .set_identifier(id)
                .weight(weight)
                .alias_target(alias.build().expect("alias"))
                .build()
                .expect("record")
        };
        let listed = mock!(aws_sdk_route53::Client::list_resource_record_sets)
            .match_requests(|r| r.hosted_zone_id() == Some("Z1"))
            .then_output(move || {
                ListResourceRecordSetsOutput::builder()
                    .resource_record_sets(record("blue", 90))
                    .resource_record_sets(record("green", 10))
                    .is_truncated(false)
                    .max_items(100)
                    .build()
                    .expect("output")
            });
        let aws = Aws::with_clients(hookline::testing::mocked_clients(&[&listed]));
        let release = |name: &str| DnsRelease {
            set_identifier: name.into(),
            load_balancer_arn: format!("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/r53-{name}/1"),
            alias_dns_name: format!("{name}.elb"),
            alias_hosted_zone_id: "Z35".into(),
            region: None,
            role_arn: None,
        };
        let mut ctx = hookline::testing::context();
        ctx.production = Route::DnsWeighted {
            hosted_zone_id: "Z1".into(),
            record_name: "web.shop.example.com".into(),
            record_type: "A".into(),
            blue: Box::new(release("blue")),
            green: Box::new(release("green")),
        };
        let weights = aws.router(&ctx).weights().await.expect("both records read");
        assert_eq!(weights.to_string(), "blue 90% / green 10%");
        assert_eq!(listed.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_missing_file_is_an_error_naming_it() {
        let aws = Aws::with_clients(hookline::testing::mocked_clients(&[]));
        let dir = temp_dir("missing");
        let err = checked(&aws, &args_for(&dir)).await.expect_err("no file");
        assert!(err.0.starts_with("cannot read deployment file ") && err.0.contains("dev.deploy.yml"), "{err:?}");
    }
}
