//! hookline's own Route 53 deployments as the CLI lists them: their release records, which
//! `hookline deploy` writes at `<plan prefix>/dns/<deployment id>` (SSM,
//! `hookline::contract::dns_release_parameter`). No controller lists them for us, so `--fqdn`
//! (the newest deployment on a name), `history --fqdn` and the dashboard read the records under
//! that path; each deployment itself is then read through `Lifecycle::describe` like any other.

use hookline::dns::{normalize, ReleaseRecord};
use hookline::error::AwsResultExt;
use hookline::execution::Route;

use crate::error::{fail, R};

/// Where the records are: the SSM client and the plan parameter prefix (`--plan-parameter-prefix`).
/// Not `crate::aws::Aws`, which uses this module to resolve `--fqdn`.
#[derive(Clone, Copy)]
pub struct Records<'a> {
    pub ssm: &'a aws_sdk_ssm::Client,
    pub prefix: &'a str,
}

/// The fqdn a deployment's records are named (`None` for a record whose route is not Route 53's).
pub fn fqdn_of(record: &ReleaseRecord) -> Option<&str> {
    match &record.context.production {
        Route::DnsWeighted { record_name, .. } => Some(record_name),
        _ => None,
    }
}

/// Every release record under `<prefix>/dns/`, newest first. A parameter that is not a record is
/// named on stderr and left out (it is not hookline's, or was written by a newer version).
pub async fn records(at: Records<'_>) -> R<Vec<ReleaseRecord>> {
    let path = hookline::contract::dns_release_parameter(at.prefix, "");
    let path = path.trim_end_matches('/').to_string();
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = at
            .ssm
            .get_parameters_by_path()
            .path(&path)
            .recursive(false)
            .set_next_token(token)
            .send()
            .await
            .aws("GetParametersByPath")?;
        for p in page.parameters() {
            let (name, value) = (p.name().unwrap_or_default(), p.value().unwrap_or_default());
            match serde_json::from_str::<ReleaseRecord>(value) {
                Ok(record) => out.push(record),
                Err(e) => eprintln!("hookline: {name}: not a release record of hookline's Route 53 controller ({e})"),
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.deployment_id.cmp(&a.deployment_id)));
    Ok(out)
}

/// The ids of the `limit` newest deployments on `fqdn` (`None`: on any name), newest first.
pub async fn recent(at: Records<'_>, fqdn: Option<&str>, limit: usize) -> R<Vec<String>> {
    let wanted = fqdn.map(normalize);
    Ok(records(at)
        .await?
        .into_iter()
        .filter(|r| wanted.is_none() || fqdn_of(r).map(normalize) == wanted)
        .take(limit)
        .map(|r| r.deployment_id)
        .collect())
}

/// The newest deployment on `fqdn`, or an error saying there is none.
pub async fn latest(at: Records<'_>, fqdn: &str) -> R<String> {
    recent(at, Some(fqdn), 1).await?.into_iter().next().ok_or_else(|| {
        fail(format!(
            "no hookline deploy on {fqdn} (no release record under {}/dns/ names it: deployed with another \
             --plan-parameter-prefix?)",
            at.prefix.trim_end_matches('/')
        ))
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_ssm::operation::get_parameters_by_path::GetParametersByPathOutput;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::mock;
    use hookline::dns::ReleaseStatus;
    use hookline::execution::DnsRelease;

    use super::*;
    use crate::aws::Aws;

    fn record(id: &str, fqdn: &str, created_at: i64) -> String {
        let release = |name: &str| DnsRelease {
            set_identifier: name.into(),
            load_balancer_arn: format!("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/{name}/1"),
            alias_dns_name: format!("{name}.elb"),
            alias_hosted_zone_id: "Z35".into(),
            region: None,
            role_arn: None,
        };
        let mut context = hookline::testing::context();
        context.production = Route::DnsWeighted {
            hosted_zone_id: "Z1".into(),
            record_name: fqdn.into(),
            record_type: "A".into(),
            blue: Box::new(release("blue")),
            green: Box::new(release("green")),
        };
        let r = ReleaseRecord {
            deployment_id: id.into(),
            environment: "prod".into(),
            status: ReleaseStatus::Succeeded,
            context,
            execution_arn: None,
            remove_old: false,
            created_at,
            ended_at: None,
            services_done: true,
            message: None,
            drain_seconds: None,
            drain_until: None,
            green_task_definition: None,
        };
        serde_json::to_string(&r).expect("serializes")
    }

    fn parameter(id: &str, value: String) -> Parameter {
        Parameter::builder().name(format!("/team/dns/{id}")).value(value).build()
    }

    #[tokio::test]
    async fn the_newest_deployment_on_a_name_is_found_over_every_page_and_other_names_are_left_out() {
        let first = mock!(aws_sdk_ssm::Client::get_parameters_by_path)
            .match_requests(|r| r.path() == Some("/team/dns") && r.next_token().is_none())
            .then_output(|| {
                GetParametersByPathOutput::builder()
                    .parameters(parameter("dns-1", record("dns-1", "web.shop.example.com", 100)))
                    .parameters(parameter("dns-3", record("dns-3", "api.shop.example.com", 300)))
                    .parameters(parameter("junk", "{}".into()))
                    .next_token("p2")
                    .build()
            });
        let second = mock!(aws_sdk_ssm::Client::get_parameters_by_path)
            .match_requests(|r| r.next_token() == Some("p2"))
            .then_output(|| {
                GetParametersByPathOutput::builder()
                    .parameters(parameter("dns-2", record("dns-2", "web.shop.example.com", 200)))
                    .build()
            });
        let mut aws = Aws::with_clients(hookline::testing::mocked_clients(&[&first, &second]));
        aws.settings.plan_parameter_prefix = "/team/".into();
        let at = aws.release_records();
        // Names compare as DNS names: case and the trailing dot do not matter.
        assert_eq!(latest(at, "Web.Shop.Example.com.").await, Ok("dns-2".to_string()));
        assert_eq!(recent(at, None, 10).await.expect("all"), ["dns-3", "dns-2", "dns-1"]);
        let none = latest(at, "www.shop.example.com").await.expect_err("nothing there");
        assert!(none.0.starts_with("no hookline deploy on www.shop.example.com"), "{none:?}");
    }
}
