//! Deployment files of hookline's own Route 53 controller (docs/route53-controller.md) on the
//! command line: which file `-e ENV [-f FILE | -d DIR]` names, the account and Region its
//! templates render with, its problems printed one per line (`file:line:col: key: message`, the
//! library's [`FileProblem`]s as they are), and its preview. The parser, the templates and the
//! mapping onto a plan are the library's (`hookline::deployfile`); nothing here reads YAML.

use std::path::{Path, PathBuf};

use clap::Args;
use hookline::deployfile::{record_weights, Context, DeployFile, DeployFileErrors, FileProblem};
use hookline::plan::{human, Step};

use crate::aws::Aws;
use crate::error::{fail, R};
use crate::output::emit;

/// How a verb names a deployment file: `-e ENV` reads `<DIR>/<ENV>.deploy.yml` (DIR `.` unless
/// `-d`), `-f FILE` reads that file instead.
#[derive(Debug, Clone, Args)]
pub struct DeployFileArgs {
    /// The environment: its file is <dir>/<env>.deploy.yml (letters, digits, - and _).
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    pub env: String,
    /// The deployment file itself (instead of <dir>/<env>.deploy.yml).
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "dir")]
    pub file: Option<PathBuf>,
    /// Where <env>.deploy.yml is.
    #[arg(short = 'd', long = "dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl DeployFileArgs {
    /// The file these arguments name (checked: the environment is a plain name).
    pub fn path(&self) -> R<PathBuf> {
        file_of(Some(&self.env), self.file.as_deref(), self.dir.as_deref())
    }
}

/// The deployment file named by an environment and/or a file: `-f FILE` as given (the environment,
/// when given, must still be a plain name: it names the deployment), else `<dir>/<env>.deploy.yml`
/// with `dir` `.` by default.
pub fn file_of(env: Option<&str>, file: Option<&Path>, dir: Option<&Path>) -> R<PathBuf> {
    let name = env.map(|env| hookline::deployfile::file_name(env).map_err(|e| fail(format!("-e/--env: {e}"))));
    let name = name.transpose()?;
    match (name, file) {
        (_, Some(file)) => Ok(file.to_path_buf()),
        // Without -d the file is named as the operator would type it (`prod.deploy.yml`, not `./prod...`).
        (Some(name), None) => Ok(dir.map_or_else(|| PathBuf::from(&name), |dir| dir.join(&name))),
        (None, None) => Err(fail("name the deployment file: -e ENV (reads <dir>/<env>.deploy.yml) or -f FILE")),
    }
}

/// Is `path` a deployment file (`*.deploy.yml` / `*.deploy.yaml`) rather than a plan?
pub fn is_deploy_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    name.ends_with(".deploy.yml") || name.ends_with(".deploy.yaml")
}

/// The file's text, or an error naming it.
pub fn read(path: &Path) -> R<String> {
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read deployment file {}: {e}", path.display())))
}

/// An AWS account id stands in for the real one while a file is only checked: account ids are
/// always 12 digits, so every rendered value has the length and characters it will have, and a
/// bad file is refused before any AWS call (the caller's identity included).
pub const CHECK_ACCOUNT_ID: &str = "000000000000";

/// Parses `text` (the file at `path`) for `ctx`; problems name the file as the operator wrote it.
pub fn parse(path: &Path, text: &str, ctx: &Context) -> Result<DeployFile, DeployFileErrors> {
    DeployFile::parse(&path.display().to_string(), text, ctx)
}

/// The account id for `{{account_id}}`: `--account-id` when given, else the caller's (STS
/// GetCallerIdentity, read-only).
pub async fn account_id(aws: &Aws, given: Option<&str>) -> R<String> {
    if let Some(id) = given {
        return check_account_id(id);
    }
    use hookline::error::AwsResultExt;
    let out = aws.sts.get_caller_identity().send().await.aws("GetCallerIdentity")?;
    out.account().map(str::to_string).ok_or_else(|| fail("STS GetCallerIdentity returned no account id"))
}

/// `--account-id`: 12 digits ("An AWS account ID is a 12-digit number", AWS Account Management
/// reference guide, "View AWS account identifiers").
pub fn check_account_id(id: &str) -> R<String> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id.to_string())
    } else {
        Err(fail(format!("--account-id: an AWS account id (12 digits), got {id:?}")))
    }
}

/// Prints a bad file's problems, one per line on stdout, and their count on stderr.
pub fn print_problems(path: &Path, errs: &DeployFileErrors) {
    emit(&errs.to_string());
    let n = errs.0.len();
    eprintln!("{}: {n} problem{}", path.display(), if n == 1 { "" } else { "s" });
}

/// Prints the keys the format documents without defining them (read, not used), on stderr in the
/// problems' form so editors jump to them.
pub fn print_notes(notes: &[FileProblem]) {
    for note in notes {
        eprintln!("{note}");
    }
}

/// The one-line verdict of a valid deployment file.
pub fn valid_summary(path: &Path, d: &DeployFile) -> String {
    let weights: Vec<String> = d.plan.steps.iter().filter_map(weight_of).map(|w| w.to_string()).collect();
    format!(
        "{}: valid deployment file ({} {} of {} in {}, fqdn {}; {} steps, weights {}{}; worst case {} of the {} budget)",
        path.display(),
        d.service.name,
        d.service.version,
        d.canary.group,
        d.service.cluster,
        d.service.fqdn,
        d.plan.step_count,
        weights.join(" "),
        if d.final_step_added { " (100 added)" } else { "" },
        human(d.plan.worst_case_seconds()),
        human(d.plan.hook_budget_seconds)
    )
}

fn weight_of(step: &Step) -> Option<u8> {
    match step {
        Step::Weight { weight, .. } => Some(*weight),
        _ => None,
    }
}

/// The deployment as a timeline: green's service, each step with the two records' weights and
/// its bake (the added final 100 step marked), the end, against the budget.
pub fn preview(d: &DeployFile) -> String {
    let mut out = Vec::new();
    let releases = &d.canary.releases;
    out.push(format!(
        "service {} {} in cluster {}; records {} (weighted alias, TTL {}s + resolver grace {}s)",
        d.service.name,
        d.service.version,
        d.service.cluster,
        d.service.fqdn,
        d.dns.ttl_seconds,
        d.dns.resolver_grace_seconds
    ));
    out.push(format!(
        "load balancers: CanaryGroup={}, releases CanaryRelease={} and {} (the one at weight 0 or without a record \
         is green)",
        d.canary.group, releases.blue, releases.green
    ));
    for (tag, at) in [(&releases.blue, &releases.blue_at), (&releases.green, &releases.green_at)] {
        if *at != hookline::deployfile::ReleasePlacement::default() {
            out.push(format!(
                "release {tag}: Region {}, cluster {}, {}",
                at.region.as_deref().unwrap_or("(--region)"),
                at.cluster.as_deref().unwrap_or(&d.service.cluster),
                at.role_arn.as_deref().map_or("the caller's credentials".to_string(), |r| format!("as role {r}"))
            ));
        }
    }
    out.push(format!("health gate: {}", d.plan.health.describe()));
    if let Some(min) = d.dns.min_observed_percent {
        out.push(format!("observed split: a bake counts once green's share reaches {min}% of its weight"));
    }
    out.push(String::new());
    out.push(format!("{:>4}  {:>10}  {:>10}  {}", "STEP", "STARTS BY", "ENDS BY", "WHAT (worst case)"));
    let mut t = 0u64;
    let ready = d.plan.health.ready_timeout_seconds;
    out.push(format!(
        "{:>4}  {:>10}  {:>10}  green's service: {} task{} stable, targets healthy (up to {}; scale.wait)",
        "-",
        at(t),
        at(t + ready),
        d.canary.scale.desired,
        if d.canary.scale.desired == 1 { "" } else { "s" },
        human(ready)
    ));
    t += ready;
    let last = d.plan.steps.len().saturating_sub(1);
    for (i, step) in d.plan.steps.iter().enumerate() {
        let span = step.worst_case_seconds();
        let what = match step {
            Step::Weight { weight, bake_seconds } => {
                let w = record_weights(*weight);
                let added = if d.final_step_added && i == last {
                    "   (added: the strategy ends below 100; the shortest bake the TTL allows)"
                } else {
                    ""
                };
                format!("records green {} / blue {} (INSYNC), bake {}{added}", w.green, w.blue, human(*bake_seconds))
            }
            other => other.describe(),
        };
        out.push(format!("{:>4}  {:>10}  {:>10}  {what}", i + 1, at(t), at(t + span)));
        t += span;
    }
    let post = d.plan.post_traffic.bake_seconds;
    if post > 0 {
        out.push(format!(
            "{:>4}  {:>10}  {:>10}  post-traffic bake at 100% ({})",
            "-",
            at(t),
            at(t + post),
            human(post)
        ));
        t += post;
    }
    let end = if d.remove_old { ", then removed (remove_old)" } else { "" };
    out.push(format!("{:>4}  {:>10}  {:>10}  end: green at 100; blue's service scaled to 0{end}", "-", at(t), at(t)));
    out.push(String::new());
    let budget = d.plan.hook_budget_seconds;
    let fits = if t <= budget {
        format!("fits, {} to spare", human(budget - t))
    } else {
        format!("DOES NOT FIT by {}", human(t - budget))
    };
    out.push(format!("worst case {} against the deployment budget {} ({fits})", human(t), human(budget)));
    out.push(
        "failure, rejection or rollback: records back to blue 100 / green 0 at once, then green scaled to 0".into(),
    );
    out.join("\n")
}

fn at(seconds: u64) -> String {
    if seconds == 0 {
        "0s".into()
    } else {
        human(seconds)
    }
}

#[cfg(test)]
mod tests;
