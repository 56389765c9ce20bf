//! What `hookline doctor` checks the same way for every controller (hookline's state machines,
//! the plan's alarms, the function roles' permissions) and the report's plumbing; the
//! controllers' own checks (`mod.rs` for CodeDeploy and ECS, `route53.rs`) use it.

use hookline::error::AwsResultExt;
use hookline::plan::Plan;

use super::policy;
use super::report::Check;
use super::rules;
use crate::aws::Aws;
use crate::error::short_error;

pub type Found = Vec<(&'static str, Check)>;

pub fn push(out: &mut Found, group: &'static str, checks: impl IntoIterator<Item = Check>) {
    out.extend(checks.into_iter().map(|c| (group, c)));
}

/// A check that could not be made because a call failed: the error, and what to do.
pub fn unreadable(check: &str, what: &str, e: &hookline::Error) -> Check {
    let text = short_error(e);
    let fix = if text.contains("AccessDenied") || text.contains("not authorized") {
        format!("allow your credentials to {what} (doctor needs read-only access: docs/cli.md, doctor)")
    } else {
        "check the name, region and credentials, then run doctor again".to_string()
    };
    Check::fail(check, format!("cannot {what}: {text}"), fix)
}

// ------------------------------------------------------------------ hookline itself

/// The state machines the hook starts (`<prefix>-canary`, `<prefix>-post-traffic`) exist.
pub async fn state_machine_checks(aws: &Aws, out: &mut Found) {
    for name in ["canary", "post-traffic"] {
        let full = aws.state_machine_name(name);
        let check = match aws.state_machine_arn(name).await {
            Ok(Some(arn)) => Check::ok(format!("state machine {full}"), arn),
            Ok(None) => Check::fail(
                format!("state machine {full}"),
                "not found: the hook cannot start the canary or the post-traffic bake",
                "deploy the hookline stack (infra/template.yaml), or set --state-machine-prefix to its NamePrefix",
            ),
            Err(e) => Check::fail(
                format!("state machine {full}"),
                format!("cannot list state machines: {}", e.0),
                "allow your credentials states:ListStateMachines, then run doctor again",
            ),
        };
        push(out, "hookline", [check]);
    }
}

// ------------------------------------------------------------------ alarms

pub async fn alarm_check(aws: &Aws, plan: &Plan, out: &mut Found) {
    let wanted = &plan.health.alarms;
    let mut found = Vec::new();
    if !wanted.is_empty() {
        match aws.clients.cloudwatch.describe_alarms().set_alarm_names(Some(wanted.clone())).send().await {
            Ok(o) => {
                for a in o.metric_alarms() {
                    found.push((
                        a.alarm_name().unwrap_or_default().to_string(),
                        a.state_value().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    ));
                }
            }
            Err(e) => {
                let e = hookline::Error::from_sdk("DescribeAlarms", e);
                push(
                    out,
                    "alarms",
                    [unreadable("alarms", "describe the plan's alarms (cloudwatch:DescribeAlarms)", &e)],
                );
                return;
            }
        }
    }
    push(out, "alarms", rules::alarm_checks(wanted, &found));
}

/// Whether each function's role allows the calls in `needs` (IAM's policy simulator, else doctor's
/// own evaluator of the role's policies); functions with no call are not checked.
pub async fn role_checks(aws: &Aws, needs: &[policy::Need], partition: &str, account: &str, out: &mut Found) {
    let p = "permissions";
    // The roles: the template's logical ids, as CloudFormation names them.
    let names = match list_roles(aws).await {
        Ok(n) => n,
        Err(e) => {
            push(out, p, [unreadable("function roles", "list IAM roles (iam:ListRoles)", &e)]);
            return;
        }
    };
    let prefix = aws.settings.state_machine_prefix.clone();
    let mut simulator: Option<bool> = None;
    let mut simulator_note = String::new();
    for (function, logical_id) in policy::FUNCTIONS {
        if !needs.iter().any(|n| n.function == function) {
            continue;
        }
        let check = format!("{function} role");
        let role = match policy::role_for(&names, logical_id, &prefix) {
            Ok(r) => r.to_string(),
            Err(candidates) if candidates.is_empty() => {
                push(
                    out,
                    p,
                    [Check::fail(
                        check,
                        format!("no IAM role named {logical_id} or <stack>-{logical_id}-<suffix>"),
                        "deploy the hookline stack (infra/template.yaml) in this account",
                    )],
                );
                continue;
            }
            Err(candidates) => {
                push(
                    out,
                    p,
                    [Check::warn(
                        check,
                        format!("several roles could be {function}'s: {}", candidates.join(", ")),
                        "set --state-machine-prefix to the hookline stack's NamePrefix (its roles are <prefix>-<role>-<suffix>)",
                    )],
                );
                continue;
            }
        };
        let role_arn = format!("arn:{partition}:iam::{account}:role/{role}");
        let mine: Vec<&policy::Need> = needs.iter().filter(|n| n.function == function).collect();
        let mut decisions: Option<Vec<policy::Decision>> = None;
        if simulator != Some(false) {
            match simulate(aws, &role_arn, &mine).await {
                Ok(d) => {
                    simulator = Some(true);
                    decisions = Some(d);
                }
                Err(e) => {
                    simulator = Some(false);
                    simulator_note = short_error(&e);
                }
            }
        }
        let (decisions, how) = match decisions {
            Some(d) => (d, "IAM policy simulator".to_string()),
            None => match role_documents(aws, &role).await {
                Ok(docs) => (
                    mine.iter().map(|n| policy::evaluate(&docs, n.action, &n.resource, &n.context)).collect(),
                    "the role's policies".to_string(),
                ),
                Err(e) => {
                    push(out, p, [unreadable(&check, &format!("read role {role}'s policies"), &e)]);
                    continue;
                }
            },
        };
        let denied: Vec<(&&policy::Need, policy::Decision)> =
            mine.iter().zip(decisions).filter(|(_, d)| *d != policy::Decision::Allowed).collect();
        if denied.is_empty() {
            push(out, p, [Check::ok(check, format!("{role} allows all {} calls ({how})", mine.len()))]);
            continue;
        }
        let mut seen_actions = std::collections::BTreeSet::new();
        let lines: Vec<String> = denied
            .iter()
            .filter(|(n, _)| seen_actions.insert((n.action, n.resource.clone())))
            .map(|(n, d)| {
                let how = if *d == policy::Decision::ExplicitDeny { "explicitly denied" } else { "not allowed" };
                format!("{} on {} ({how}; {})", n.action, n.resource, n.why)
            })
            .collect();
        push(
            out,
            p,
            [Check::fail(
                check,
                format!("{role} cannot make {} of its {} calls ({how}): {}", lines.len(), mine.len(), lines.join("; ")),
                format!("grant them in {role}'s policy ({logical_id} in infra/template.yaml)"),
            )],
        );
    }
    if simulator == Some(false) {
        push(
            out,
            p,
            [Check::ok(
                "how permissions were checked",
                format!(
                    "by reading the roles' policies (doctor's evaluator: Allow/Deny with wildcards, no boundaries or \
                     SCPs); the IAM policy simulator was not available: {simulator_note}"
                ),
            )],
        );
    }
}

/// The partition of a Region's ARNs.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

async fn list_roles(aws: &Aws) -> Result<Vec<String>, hookline::Error> {
    let mut names = Vec::new();
    let mut marker = None;
    loop {
        let o = aws.iam.list_roles().set_marker(marker).send().await.aws("ListRoles")?;
        names.extend(o.roles().iter().map(|r| r.role_name().to_string()));
        marker = o.marker().map(str::to_string);
        if !o.is_truncated() || marker.is_none() {
            return Ok(names);
        }
    }
}

/// The role's identity policies: inline (ListRolePolicies, GetRolePolicy) and attached managed
/// ones (ListAttachedRolePolicies, GetPolicy, GetPolicyVersion of the default version).
pub(super) async fn role_documents(aws: &Aws, role: &str) -> Result<Vec<serde_json::Value>, hookline::Error> {
    let mut docs = Vec::new();
    let inline = aws.iam.list_role_policies().role_name(role).send().await.aws("ListRolePolicies")?;
    for name in inline.policy_names() {
        let got = aws.iam.get_role_policy().role_name(role).policy_name(name).send().await.aws("GetRolePolicy")?;
        docs.extend(policy::parse_document(got.policy_document()));
    }
    let attached =
        aws.iam.list_attached_role_policies().role_name(role).send().await.aws("ListAttachedRolePolicies")?;
    for p in attached.attached_policies() {
        let Some(arn) = p.policy_arn() else { continue };
        let got = aws.iam.get_policy().policy_arn(arn).send().await.aws("GetPolicy")?;
        let Some(version) = got.policy().and_then(|x| x.default_version_id()) else { continue };
        let v =
            aws.iam.get_policy_version().policy_arn(arn).version_id(version).send().await.aws("GetPolicyVersion")?;
        if let Some(text) = v.policy_version().and_then(|x| x.document()) {
            docs.extend(policy::parse_document(text));
        }
    }
    Ok(docs)
}

/// IAM's policy simulator on each need (one call per need: each has its own resource and context).
pub(super) async fn simulate(
    aws: &Aws,
    role_arn: &str,
    needs: &[&policy::Need],
) -> Result<Vec<policy::Decision>, hookline::Error> {
    use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType as D};
    let mut out = Vec::new();
    for n in needs {
        let context: Vec<ContextEntry> = n
            .context
            .iter()
            .map(|(k, v)| {
                ContextEntry::builder()
                    .context_key_name(*k)
                    .context_key_values(*v)
                    .context_key_type(ContextKeyTypeEnum::String)
                    .build()
            })
            .collect();
        let o = aws
            .iam
            .simulate_principal_policy()
            .policy_source_arn(role_arn)
            .action_names(n.action)
            .resource_arns(&n.resource)
            .set_context_entries(Some(context))
            .customize()
            .config_override(
                aws_sdk_iam::config::Config::builder().retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .aws("SimulatePrincipalPolicy")?;
        let decision = match o.evaluation_results().first().map(|r| r.eval_decision()) {
            Some(D::Allowed) => policy::Decision::Allowed,
            Some(D::ExplicitDeny) => policy::Decision::ExplicitDeny,
            _ => policy::Decision::ImplicitDeny,
        };
        out.push(decision);
    }
    Ok(out)
}
