//! The deployment file of hookline's own controller (docs/route53-controller.md): one YAML file
//! per environment, `<environment>.deploy.yml`, in the format of the ECS canary-release CLI
//! (`canary` and `service` sections, the keys as that format writes them) plus hookline's
//! optional `hookline` section. Plain Rust, no AWS types: the caller reads the file and gives
//! the account and Region the templates need.
//!
//! [`DeployFile::parse`] reads the file (serde, unknown keys rejected with their path), renders
//! the templates, checks the meaning (every problem, not the first), and maps the `canary`
//! strategy and the `hookline` section onto a validated [`Plan`]. Every problem names the
//! file, line, column and key (`prod.deploy.yml:12:13: canary.strategy[1].wait: ...`).

mod locate;
mod template;
mod wire;

use std::fmt;

use serde_json::{json, Map, Value};

pub use locate::{KeyPath, Segment};

use crate::plan::{self, Controller, Location, Plan};
use template::Vars;
use wire::{Text, WireContainer, WireFile, WireHookline, WireRelease, WireService};

/// The format's default for `canary.scale.wait`, in seconds.
pub const DEFAULT_SCALE_WAIT_SECONDS: u64 = 60;
/// The format's default for `canary.scale.desired`.
pub const DEFAULT_DESIRED: u32 = 2;
/// The format's default for `container.cpu` and `container.memory`.
pub const DEFAULT_CONTAINER_CPU: u32 = 128;
pub const DEFAULT_CONTAINER_MEMORY: u32 = 128;
/// The format's default container name.
pub const DEFAULT_CONTAINER_NAME: &str = "default";
/// The format's default image (written there with a capital A, "Amazonaws.com"; DNS names are
/// case-insensitive and ECR writes it in lower case).
pub const DEFAULT_IMAGE: &str = "{{account_id}}.dkr.ecr.{{region}}.amazonaws.com/{{name}}:{{version}}";
/// The TTL Route 53 answers an alias record to a load balancer with: "Values other than 60
/// seconds (the TTL for load balancers) will change the effect of the values that you specify
/// for Weight." (Route 53 API reference, ResourceRecordSet, TTL). Alias records have no TTL of
/// their own ("If you're creating or updating an alias resource record set, omit TTL"), so a
/// plan may state a longer one (resolvers that keep answers longer) but never a shorter one.
pub const ALIAS_TTL_SECONDS: u64 = 60;
/// hookline's default resolver grace: how long past the TTL a step's bake must still run, so
/// the health gate judges green at least that long under its full share. A decision, not an
/// AWS fact (docs/route53-controller.md "Decisions").
pub const DEFAULT_RESOLVER_GRACE_SECONDS: u64 = 10;

/// What the templates need from outside the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// `{{account_id}}`: the account the service is deployed to.
    pub account_id: String,
    /// `{{region}}`: the Region given on the command line (`--region`).
    pub region: String,
}

/// The file name `hookline deploy -e <environment> -d <dir>` looks for: `<environment>.deploy.yml`.
/// The environment becomes part of a path, so it is a plain name (letters, digits, `-`, `_`).
pub fn file_name(environment: &str) -> Result<String, String> {
    let ok = !environment.is_empty()
        && environment.len() <= 64
        && environment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(format!("{environment}.deploy.yml"))
    } else {
        Err(format!("an environment name (letters, digits, - and _, at most 64), got {environment:?}"))
    }
}

/// A parsed, rendered and validated deployment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployFile {
    /// The file's name as given to [`DeployFile::parse`] (problems and notes start with it).
    pub file: String,
    pub canary: Canary,
    pub service: Service,
    pub dns: Dns,
    /// Remove blue's service after a success (`hookline.remove_old`; the CLI's `--remove-old`).
    pub remove_old: bool,
    /// The rollout plan the canary state machine walks.
    pub plan: Plan,
    /// The strategy ended below 100 and hookline added the final `weight 100` step.
    pub final_step_added: bool,
    /// Keys the format documents without defining them, read and not used (printed as notes).
    pub ignored: Vec<FileProblem>,
}

/// The `canary` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    /// The value of the load balancers' `CanaryGroup` tag.
    pub group: String,
    pub releases: Releases,
    pub scale: Scale,
    /// The steps as written (the plan has them as weight/bake steps).
    pub strategy: Vec<StrategyStep>,
}

/// The two values of the `CanaryRelease` tag in the group, and where each release is when the
/// file places it (`canary.releases.<name>` as a mapping).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Releases {
    pub blue: String,
    pub green: String,
    /// `canary.releases.blue`'s own Region, cluster and role (all `None`: as the file's defaults).
    pub blue_at: ReleasePlacement,
    pub green_at: ReleasePlacement,
}

impl Releases {
    /// The placement the file gives the release tagged `tag` (`None`: not one of the two).
    pub fn placement_of(&self, tag: &str) -> Option<&ReleasePlacement> {
        if tag == self.blue {
            Some(&self.blue_at)
        } else if tag == self.green {
            Some(&self.green_at)
        } else {
            None
        }
    }
}

/// Where one release lives when it is not where the file's defaults say: its load balancer,
/// target group, ECS service and metrics in `region` (else `--region`), its service in `cluster`
/// (else `service.cluster`), every call on them made as `role_arn` (else the caller's own
/// credentials). Route 53 is global: the records are always written by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleasePlacement {
    pub region: Option<String>,
    pub cluster: Option<String>,
    pub role_arn: Option<String>,
}

/// `canary.scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    /// How long green may take to be stable and healthy (the plan's `health.ready_timeout`).
    pub wait_seconds: u64,
    /// Green's desired task count.
    pub desired: u32,
}

/// One `canary.strategy` item: green's share in percent, and the seconds to wait (bake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrategyStep {
    pub weight: u8,
    pub wait_seconds: u64,
}

/// The `service` section, templates rendered and defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub project: String,
    pub name: String,
    pub cluster: String,
    pub fqdn: String,
    pub version: String,
    pub scheduling_strategy: Option<String>,
    pub platform_version: Option<String>,
    pub placement_constraints: Vec<PlacementConstraint>,
    pub placement_strategies: Vec<PlacementStrategy>,
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementConstraint {
    pub kind: String,
    pub expression: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementStrategy {
    pub kind: String,
    pub field: Option<String>,
}

/// One `service.containers` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub cpu: u32,
    pub memory: u32,
    pub memory_reservation: Option<u32>,
    pub port_mappings: Vec<PortMapping>,
    pub entry_point: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub command: Vec<String>,
    pub dns_search_domains: Vec<String>,
    pub disable_networking: Option<bool>,
    pub dns_servers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: String,
}

/// `hookline.dns`: what the TTL-aware bakes and the measured split need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dns {
    pub ttl_seconds: u64,
    pub resolver_grace_seconds: u64,
    /// The observed share (RequestCount) must reach this percent of the set weight before a
    /// step's bake counts; `None`: reported, not required.
    pub min_observed_percent: Option<u8>,
}

impl Dns {
    /// The shortest bake a weight step may have: the TTL plus the resolver grace.
    pub fn min_bake_seconds(&self) -> u64 {
        self.ttl_seconds + self.resolver_grace_seconds
    }

    /// The TTL-aware bake rule on one weight step's bake: `None` when `bake_seconds` is at least
    /// the TTL plus the resolver grace, else what was expected and found. The deployment file's
    /// check and `hookline doctor`'s (with the TTL the records carry in Route 53) both use it.
    pub fn short_bake(&self, bake_seconds: u64) -> Option<String> {
        (bake_seconds < self.min_bake_seconds()).then(|| {
            format!(
                "at least {} (the records' TTL {}s + the resolver grace {}s, hookline.dns): resolvers keep the \
                 previous answer up to the TTL, so a shorter bake judges green before it has its weight's share, \
                 got {bake_seconds}",
                self.min_bake_seconds(),
                self.ttl_seconds,
                self.resolver_grace_seconds,
            )
        })
    }
}

/// The weights of the two weighted alias records for green's share in percent (0 to 100): the
/// two add up to 100, inside Route 53's 0 to 255, so the share is exact, and green at 100 puts
/// blue at 0 ("If you want to stop sending traffic to a resource, you can change the weight for
/// that record to 0": Route 53 developer guide, "Weighted routing").
pub fn record_weights(green_percent: u8) -> RecordWeights {
    let green = green_percent.min(100);
    RecordWeights { blue: 100 - green, green }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordWeights {
    pub blue: u8,
    pub green: u8,
}

/// One problem (or note) in a deployment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub file: String,
    /// The key's path, e.g. `canary.strategy[1].wait`.
    pub key: String,
    /// Where the key (or its value) is written; `None` only when the text is not YAML at all
    /// and the parser gave no position.
    pub location: Option<Location>,
    /// What was expected there, and what was found.
    pub expected: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(l) => write!(f, "{}:{}:{}: {}: {}", self.file, l.line, l.column, self.key, self.expected),
            None => write!(f, "{}: {}: {}", self.file, self.key, self.expected),
        }
    }
}

/// Every problem found in a deployment file, in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployFileErrors(pub Vec<FileProblem>);

impl fmt::Display for DeployFileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(FileProblem::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for DeployFileErrors {}

impl From<DeployFileErrors> for crate::Error {
    fn from(errs: DeployFileErrors) -> Self {
        match errs.0.as_slice() {
            [one] => crate::Error::invalid(one.key.clone(), one.to_string()),
            _ => crate::Error::invalid("deployment file", errs.to_string()),
        }
    }
}

/// Collects problems with their key paths; positions are looked up once, at the end.
struct Problems<'t> {
    text: &'t str,
    file: &'t str,
    found: Vec<(KeyPath, bool, String)>,
}

impl<'t> Problems<'t> {
    fn add(&mut self, key: KeyPath, expected: impl Into<String>) {
        self.found.push((key, false, expected.into()));
    }

    fn add_at_key(&mut self, key: KeyPath, expected: impl Into<String>) {
        self.found.push((key, true, expected.into()));
    }

    fn into_problems(self) -> Vec<FileProblem> {
        let mut out: Vec<FileProblem> = self
            .found
            .into_iter()
            .map(|(key, at_key, expected)| FileProblem {
                file: self.file.to_string(),
                location: locate::locate(self.text, &key, at_key),
                key: key.to_string(),
                expected,
            })
            .collect();
        // Stable: problems of one key keep the order they were found in.
        out.sort_by_key(|p| p.location.map_or((usize::MAX, usize::MAX), |l| (l.line, l.column)));
        out
    }

    /// Renders one template value, recording a problem (and returning the text as written).
    fn render(&mut self, key: KeyPath, text: &Text, vars: &Vars) -> String {
        match template::render(&text.0, vars) {
            Ok(v) => v,
            Err(e) => {
                self.add(key, e);
                text.0.clone()
            }
        }
    }

    /// Renders and requires a non-empty value.
    fn required(&mut self, key: KeyPath, text: &Text, vars: &Vars) -> String {
        let v = self.render(key.clone(), text, vars);
        if v.trim().is_empty() {
            self.add(key, "a non-empty string");
        }
        v
    }

    fn duration(&mut self, key: KeyPath, text: Option<&str>, default: u64) -> u64 {
        match text {
            None => default,
            Some(t) => match humantime::parse_duration(t.trim()) {
                Ok(d) => d.as_secs() + u64::from(d.subsec_nanos() > 0),
                Err(e) => {
                    self.add(key, format!("a duration like \"90s\", \"5m\" or \"1h\", got {t:?} ({e})"));
                    default
                }
            },
        }
    }
}

/// Where each plan step comes from, to name the file's key in the plan's problems.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Strategy(usize),
    Approval(usize),
    Final,
}

impl DeployFile {
    /// Parses `text`, the content of the file named `file`, for the account and Region of `ctx`.
    pub fn parse(file: &str, text: &str, ctx: &Context) -> Result<DeployFile, DeployFileErrors> {
        let wire = read(file, text)?;
        let mut p = Problems { text, file, found: Vec::new() };
        let root = KeyPath::default();

        let mut ignored = Vec::new();
        let mut ignore = |key: KeyPath, present: bool| {
            if present {
                ignored.push(FileProblem {
                    file: file.to_string(),
                    location: locate::locate(text, &key, true),
                    key: key.to_string(),
                    expected: "documented by the deployment file format without a definition; hookline ignores it"
                        .to_string(),
                });
            }
        };
        ignore(root.clone().key("service").key("policies"), wire.service.policies.is_some());
        ignore(root.clone().key("target_group"), wire.target_group.is_some());
        ignore(root.clone().key("listener"), wire.listener.is_some());

        let (service, vars) = service(&mut p, &wire.service, ctx);
        let canary_key = root.clone().key("canary");
        let group = p.required(canary_key.clone().key("group"), &wire.canary.group, &vars);
        let releases_key = canary_key.clone().key("releases");
        let (blue, blue_at) =
            release(&mut p, releases_key.clone().key("blue"), "blue", &wire.canary.releases.blue, &vars);
        let (green, green_at) =
            release(&mut p, releases_key.clone().key("green"), "green", &wire.canary.releases.green, &vars);
        if !blue.is_empty() && blue == green {
            let green_key = match &wire.canary.releases.green {
                WireRelease::Placed(placed) if placed.tag.is_some() => releases_key.clone().key("green").key("tag"),
                _ => releases_key.clone().key("green"),
            };
            p.add(green_key, format!("a CanaryRelease tag other than blue's, got {green:?}"));
        }
        let scale_key = canary_key.clone().key("scale");
        let scale_wait = wire.canary.scale.as_ref().and_then(|s| s.wait);
        let wait_seconds = scale_wait.unwrap_or(DEFAULT_SCALE_WAIT_SECONDS);
        if wait_seconds == 0 {
            p.add(scale_key.clone().key("wait"), "at least 1 (seconds green may take to be stable and healthy)");
        }
        let desired = wire.canary.scale.as_ref().and_then(|s| s.desired).unwrap_or(u64::from(DEFAULT_DESIRED));
        let desired = match u32::try_from(desired) {
            Ok(d) if d >= 1 => d,
            _ => {
                p.add(scale_key.key("desired"), format!("an integer from 1 to {}, got {desired}", u32::MAX));
                DEFAULT_DESIRED
            }
        };

        let hookline = wire.hookline.as_ref();
        let dns = dns(&mut p, hookline);
        let strategy_key = canary_key.key("strategy");
        if wire.canary.strategy.is_empty() {
            p.add(strategy_key.clone(), "at least one step (weight, wait)");
        }
        for (i, step) in wire.canary.strategy.iter().enumerate() {
            if let Some(problem) = dns.short_bake(step.wait) {
                p.add(strategy_key.clone().index(i).key("wait"), problem);
            }
        }

        let (plan_json, origins, final_step_added) = plan_document(&mut p, &wire, hookline, &dns, &vars);
        let plan = match Plan::from_json_for(&plan_json.to_string(), Controller::Route53) {
            Ok(plan) => Some(plan),
            Err(errs) => {
                for problem in errs.0 {
                    let (key, at_key, note) = plan_key(&problem, &origins, scale_wait.is_some());
                    // The plan's messages may name its own steps ("bake 10m of steps[3]"): say
                    // which plan step this key became, so the two names can be matched.
                    let step = problem.field.split_once(']').map(|(head, _)| format!("{head}]"));
                    let step = step.filter(|s| s.starts_with("steps[") && problem.expected.contains(s.as_str()));
                    let step = step.map(|s| format!("(plan {s}) ")).unwrap_or_default();
                    let expected = format!("{note}{step}{}", problem.expected);
                    if at_key {
                        p.add_at_key(key, expected);
                    } else {
                        p.add(key, expected);
                    }
                }
                None
            }
        };

        let problems = p.into_problems();
        match plan {
            Some(plan) if problems.is_empty() => Ok(DeployFile {
                file: file.to_string(),
                canary: Canary {
                    group,
                    releases: Releases { blue, green, blue_at, green_at },
                    scale: Scale { wait_seconds, desired },
                    strategy: wire
                        .canary
                        .strategy
                        .iter()
                        .map(|s| StrategyStep {
                            // Validated by the plan: 1 to 100.
                            weight: u8::try_from(s.weight).unwrap_or(100),
                            wait_seconds: s.wait,
                        })
                        .collect(),
                },
                service,
                dns,
                remove_old: hookline.and_then(|h| h.remove_old).unwrap_or(false),
                plan,
                final_step_added,
                ignored,
            }),
            _ => Err(DeployFileErrors(problems)),
        }
    }
}

/// The first pass: serde over the whole file, the first structural problem with its position.
fn read(file: &str, text: &str) -> Result<WireFile, DeployFileErrors> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut key = KeyPath::default();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => key.0.push(Segment::Index(*index)),
                serde_path_to_error::Segment::Map { key: k } => key.0.push(Segment::Key(k.clone())),
                serde_path_to_error::Segment::Enum { variant } => key.0.push(Segment::Key(variant.clone())),
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = e.inner().to_string();
        // serde names a missing key in its message; the path stops at the mapping it belongs to.
        let missing = message.find("missing field `").map(|at| &message[at + "missing field `".len()..]);
        if let Some(missing) = missing.and_then(|m| m.split('`').next()) {
            key.0.push(Segment::Key(missing.to_string()));
        }
        let location = e.inner().location().map(|l| Location { line: l.line(), column: l.column() });
        let name = key.to_string();
        DeployFileErrors(vec![FileProblem {
            file: file.to_string(),
            key: if name.is_empty() { "(file)".to_string() } else { name },
            location,
            expected: plain_message(&message),
        }])
    })
}

/// serde_yaml's message without its position (the problem has it) and the path it repeats.
fn plain_message(msg: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(at) => {
            let rest = &msg[at + " at line ".len()..];
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            let rest =
                rest.strip_prefix(" column ").map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
            format!("{}{rest}", &msg[..at])
        }
        None => msg.to_string(),
    };
    let msg = match msg.split_once(": ") {
        Some((head, rest)) if !head.is_empty() && !head.contains(' ') => rest.to_string(),
        _ => msg,
    };
    let mut msg = msg;
    for (wire_name, said) in [
        ("struct WireFile", "a deployment file (canary, service, hookline)"),
        ("struct WireCanary", "a canary section"),
        ("struct WireReleases", "a releases object (blue, green)"),
        ("struct WirePlacedRelease", "a release object (tag, region, cluster, role_arn)"),
        ("struct WireScale", "a scale object (wait, desired)"),
        ("struct WireStrategyStep", "a strategy step (weight, wait)"),
        ("struct WireService", "a service section"),
        ("struct WirePlacementConstraint", "a placement constraint (type, expression)"),
        ("struct WirePlacementStrategy", "a placement strategy (type, field)"),
        ("struct WireContainer", "a container"),
        ("struct WirePortMapping", "a port mapping (container_port, host_port, protocol)"),
        ("struct WireEnvironment", "an environment variable (name, value)"),
        ("struct WireHookline", "a hookline section"),
        ("struct WireApproval", "an approval (after_weight, timeout, on_timeout)"),
        ("struct WirePostTraffic", "a post_traffic object (bake)"),
        ("struct WireDns", "a dns object (ttl, resolver_grace, min_observed_percent)"),
    ] {
        msg = msg.replace(wire_name, said);
    }
    msg
}

/// The `service` section: templates in the order the format defines them, then everything else.
fn service(p: &mut Problems<'_>, s: &WireService, ctx: &Context) -> (Service, Vars) {
    let key = KeyPath::default().key("service");
    let vars = Vars::default().with("account_id", ctx.account_id.clone()).with("region", ctx.region.clone());
    let project = p.required(key.clone().key("project"), &s.project, &vars);
    let vars = vars.with("project", project.clone());
    let name = p.required(key.clone().key("name"), &s.name, &vars);
    // A value whose template failed is reported once, not again for its format.
    if !name.contains("{{") && !ecs_name(&name) {
        p.add(
            key.clone().key("name"),
            format!("an ECS service name: up to 255 letters, numbers, underscores and hyphens, got {name:?}"),
        );
    }
    let vars = vars.with("name", name.clone());
    let version = p.required(key.clone().key("version"), &s.version, &vars);
    let vars = vars.with("version", version.clone());
    let fqdn = p.required(key.clone().key("fqdn"), &s.fqdn, &vars);
    if !fqdn.is_empty() && !fqdn.contains("{{") && !domain_name(&fqdn) {
        p.add(
            key.clone().key("fqdn"),
            format!("a domain name (labels of 1 to 63 letters, digits, - or _, 253 at most), got {fqdn:?}"),
        );
    }
    let vars = vars.with("fqdn", fqdn.clone());
    let cluster = p.required(key.clone().key("cluster"), &s.cluster, &vars);

    let scheduling_strategy = s.scheduling_strategy.as_ref().map(|t| {
        let k = key.clone().key("scheduling_strategy");
        let v = p.render(k.clone(), t, &vars);
        if !matches!(v.as_str(), "REPLICA" | "DAEMON") {
            p.add(k, format!("REPLICA or DAEMON, got {v:?}"));
        }
        v
    });
    let platform_version = s.platform_version.as_ref().map(|t| p.render(key.clone().key("platform_version"), t, &vars));
    let placement_constraints = s
        .placement_constraints
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let k = key.clone().key("placement_constraints").index(i);
            let kind = p.render(k.clone().key("type"), &c.kind, &vars);
            if !matches!(kind.as_str(), "distinctInstance" | "memberOf") {
                p.add(k.clone().key("type"), format!("distinctInstance or memberOf, got {kind:?}"));
            }
            let expression = c.expression.as_ref().map(|e| p.render(k.key("expression"), e, &vars));
            PlacementConstraint { kind, expression }
        })
        .collect();
    let placement_strategies = s
        .placement_strategies
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let k = key.clone().key("placement_strategies").index(i);
            let kind = p.render(k.clone().key("type"), &c.kind, &vars);
            if !matches!(kind.as_str(), "random" | "spread" | "binpack") {
                p.add(k.clone().key("type"), format!("random, spread or binpack, got {kind:?}"));
            }
            let field = c.field.as_ref().map(|f| p.render(k.key("field"), f, &vars));
            PlacementStrategy { kind, field }
        })
        .collect();

    let containers_key = key.clone().key("containers");
    if s.containers.is_empty() {
        p.add(containers_key.clone(), "at least one container");
    }
    let containers: Vec<Container> =
        s.containers.iter().enumerate().map(|(i, c)| container(p, containers_key.clone().index(i), c, &vars)).collect();
    for (i, c) in containers.iter().enumerate() {
        if containers[..i].iter().any(|earlier| earlier.name == c.name) {
            p.add(
                containers_key.clone().index(i).key("name"),
                format!("a name no other container has, got {:?}", c.name),
            );
        }
    }
    let service = Service {
        project,
        name,
        cluster,
        fqdn,
        version,
        scheduling_strategy,
        platform_version,
        placement_constraints,
        placement_strategies,
        containers,
    };
    (service, vars)
}

fn container(p: &mut Problems<'_>, key: KeyPath, c: &WireContainer, vars: &Vars) -> Container {
    let name = match &c.name {
        Some(t) => p.required(key.clone().key("name"), t, vars),
        None => DEFAULT_CONTAINER_NAME.to_string(),
    };
    if !name.contains("{{") && !ecs_name(&name) {
        p.add(
            key.clone().key("name"),
            format!("a container name: up to 255 letters, numbers, underscores and hyphens, got {name:?}"),
        );
    }
    let image = match &c.image {
        Some(t) => p.required(key.clone().key("image"), t, vars),
        None => template::render(DEFAULT_IMAGE, vars).unwrap_or_else(|e| {
            p.add(key.clone().key("image"), e);
            String::new()
        }),
    };
    let mut small = |k: &str, v: Option<u64>, default: Option<u32>| -> Option<u32> {
        match v {
            None => default,
            Some(n) => match u32::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => {
                    p.add(key.clone().key(k), format!("an integer up to {}, got {n}", u32::MAX));
                    default
                }
            },
        }
    };
    let cpu = small("cpu", c.cpu, Some(DEFAULT_CONTAINER_CPU)).unwrap_or(DEFAULT_CONTAINER_CPU);
    let memory = small("memory", c.memory, Some(DEFAULT_CONTAINER_MEMORY)).unwrap_or(DEFAULT_CONTAINER_MEMORY);
    let memory_reservation = small("memory_reservation", c.memory_reservation, None);
    if let Some(r) = memory_reservation {
        // "If you specify both, memory must be greater than memoryReservation." (Amazon ECS API
        // reference, ContainerDefinition, memoryReservation)
        if r >= memory {
            p.add(
                key.clone().key("memory_reservation"),
                format!("less than memory ({memory}): ECS requires memory greater than memoryReservation, got {r}"),
            );
        }
    }
    let port_mappings = c
        .port_mappings
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let k = key.clone().key("port_mappings").index(i);
            let container_port = u16::try_from(m.container_port).ok().filter(|p| *p >= 1).unwrap_or_else(|| {
                p.add(k.clone().key("container_port"), format!("a port from 1 to 65535, got {}", m.container_port));
                0
            });
            let host_port = u16::try_from(m.host_port.unwrap_or(0)).unwrap_or_else(|_| {
                p.add(k.clone().key("host_port"), format!("a port from 0 to 65535, got {}", m.host_port.unwrap_or(0)));
                0
            });
            let protocol = match &m.protocol {
                None => "tcp".to_string(),
                Some(t) => {
                    let v = p.render(k.clone().key("protocol"), t, vars);
                    if !matches!(v.as_str(), "tcp" | "udp") {
                        p.add(k.key("protocol"), format!("tcp or udp, got {v:?}"));
                    }
                    v
                }
            };
            PortMapping { container_port, host_port, protocol }
        })
        .collect();
    let mut list = |k: &str, items: &[Text]| -> Vec<String> {
        items.iter().enumerate().map(|(i, t)| p.render(key.clone().key(k).index(i), t, vars)).collect()
    };
    let entry_point = list("entry_point", &c.entry_point);
    let command = list("command", &c.command);
    let dns_search_domains = list("dns_search_domains", &c.dns_search_domains);
    let dns_servers = list("dns_servers", &c.dns_servers);
    let environment = c
        .environment
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let k = key.clone().key("environment").index(i);
            (p.required(k.clone().key("name"), &e.name, vars), p.render(k.key("value"), &e.value, vars))
        })
        .collect();
    Container {
        name,
        image,
        cpu,
        memory,
        memory_reservation,
        port_mappings,
        entry_point,
        environment,
        command,
        dns_search_domains,
        disable_networking: c.disable_networking,
        dns_servers,
    }
}

/// "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed."
/// (Amazon ECS API reference: CreateService `serviceName`, ContainerDefinition `name`)
/// `canary.releases.<name>`: its tag value (a mapping's `tag`, by default the name itself) and
/// its placement, each value rendered and checked.
fn release(
    p: &mut Problems<'_>,
    key: KeyPath,
    name: &str,
    wire: &WireRelease,
    vars: &Vars,
) -> (String, ReleasePlacement) {
    let placed = match wire {
        WireRelease::Tag(tag) => return (p.required(key, tag, vars), ReleasePlacement::default()),
        WireRelease::Placed(placed) => placed,
    };
    let tag = match &placed.tag {
        Some(tag) => p.required(key.clone().key("tag"), tag, vars),
        None => name.to_string(),
    };
    let region = placed.region.as_ref().map(|r| {
        let region = p.render(key.clone().key("region"), r, vars);
        if !region.contains("{{") && !region_code(&region) {
            p.add(key.clone().key("region"), format!("an AWS Region code like eu-west-1, got {region:?}"));
        }
        region
    });
    let cluster = placed.cluster.as_ref().map(|c| {
        let cluster = p.required(key.clone().key("cluster"), c, vars);
        if !cluster.contains("{{") && !ecs_cluster(&cluster) {
            p.add(
                key.clone().key("cluster"),
                format!(
                    "an ECS cluster name (up to 255 letters, numbers, underscores and hyphens) or cluster ARN, \
                     got {cluster:?}"
                ),
            );
        }
        cluster
    });
    let role_arn = placed.role_arn.as_ref().map(|r| {
        let role = p.render(key.clone().key("role_arn"), r, vars);
        if !role.contains("{{") && !iam_role_arn(&role) {
            p.add(
                key.clone().key("role_arn"),
                format!("an IAM role ARN (arn:aws:iam::<12-digit account id>:role/<name>), got {role:?}"),
            );
        }
        role
    });
    (tag, ReleasePlacement { region, cluster, role_arn })
}

/// A Region code as AWS writes them: `us-east-1`, `eu-west-1`, `us-gov-west-1`, `ap-southeast-2`
/// (letters-separated words, then a number).
fn region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0)
}

/// An ECS cluster name, or a cluster ARN (`arn:<partition>:ecs:<region>:<account>:cluster/<name>`).
fn ecs_cluster(cluster: &str) -> bool {
    match cluster.strip_prefix("arn:") {
        Some(rest) => rest.split(':').nth(4).and_then(|r| r.strip_prefix("cluster/")).is_some_and(ecs_name),
        None => ecs_name(cluster),
    }
}

/// An IAM role ARN: `arn:<partition>:iam::<12-digit account id>:role/<optional path/><name>`, the
/// name up to 64 of letters, digits and `+=,.@_-` ("Role names ... Maximum length of 64",
/// IAM API reference, CreateRole, RoleName: `[\w+=,.@-]+`).
fn iam_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else { return false };
    let name = resource.strip_prefix("role/").and_then(|r| r.rsplit('/').next());
    *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && name.is_some_and(|n| {
            !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        })
}

fn ecs_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn domain_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn dns(p: &mut Problems<'_>, hookline: Option<&WireHookline>) -> Dns {
    let key = KeyPath::default().key("hookline").key("dns");
    let wire = hookline.and_then(|h| h.dns.as_ref());
    let ttl_seconds = p.duration(key.clone().key("ttl"), wire.and_then(|d| d.ttl.as_deref()), ALIAS_TTL_SECONDS);
    if ttl_seconds < ALIAS_TTL_SECONDS {
        p.add(
            key.clone().key("ttl"),
            format!(
                "at least {ALIAS_TTL_SECONDS}s: the records are alias records to load balancers, which Route 53 \
                 answers with the load balancer's TTL (60 seconds), got {ttl_seconds}s"
            ),
        );
    }
    let resolver_grace_seconds = p.duration(
        key.clone().key("resolver_grace"),
        wire.and_then(|d| d.resolver_grace.as_deref()),
        DEFAULT_RESOLVER_GRACE_SECONDS,
    );
    let min_observed_percent = wire.and_then(|d| d.min_observed_percent).and_then(|v| match u8::try_from(v) {
        Ok(v) if (1..=100).contains(&v) => Some(v),
        _ => {
            p.add(key.clone().key("min_observed_percent"), format!("an integer from 1 to 100, got {v}"));
            None
        }
    });
    Dns { ttl_seconds, resolver_grace_seconds, min_observed_percent }
}

/// The plan as the plan's parser reads it (docs/design.md "The plan"), built from the strategy,
/// the approvals placed after the step whose weight they name, and the `hookline` section.
fn plan_document(
    p: &mut Problems<'_>,
    wire: &WireFile,
    hookline: Option<&WireHookline>,
    dns: &Dns,
    vars: &Vars,
) -> (Value, Vec<Origin>, bool) {
    let hookline_key = KeyPath::default().key("hookline");
    let approvals = hookline.map(|h| h.approvals.as_slice()).unwrap_or_default();
    // A weight out of 1–100 has its own problem (the plan's); approvals are placed against the
    // strategy once it is valid, not against a mistyped weight.
    let weights_valid = wire.canary.strategy.iter().all(|s| (1..=100).contains(&s.weight));
    for (j, a) in approvals.iter().enumerate() {
        let placed = a.after_weight == 0 || wire.canary.strategy.iter().any(|s| s.weight == a.after_weight);
        if !placed && weights_valid {
            let weights: Vec<String> = wire.canary.strategy.iter().map(|s| s.weight.to_string()).collect();
            p.add(
                hookline_key.clone().key("approvals").index(j).key("after_weight"),
                format!(
                    "0 (before the first step) or the weight of a canary.strategy step ({}), got {}",
                    weights.join(", "),
                    a.after_weight
                ),
            );
        }
    }
    let approval_step = |a: &wire::WireApproval| {
        let mut o = Map::new();
        if let Some(t) = &a.timeout {
            o.insert("timeout".into(), json!(t));
        }
        if let Some(t) = &a.on_timeout {
            o.insert("on_timeout".into(), json!(t));
        }
        json!({ "approval": o })
    };

    let mut steps = Vec::new();
    let mut origins = Vec::new();
    for (j, a) in approvals.iter().enumerate().filter(|(_, a)| a.after_weight == 0) {
        steps.push(approval_step(a));
        origins.push(Origin::Approval(j));
    }
    for (i, s) in wire.canary.strategy.iter().enumerate() {
        steps.push(json!({ "weight": s.weight, "bake": format!("{}s", s.wait) }));
        origins.push(Origin::Strategy(i));
        for (j, a) in approvals.iter().enumerate().filter(|(_, a)| a.after_weight != 0 && a.after_weight == s.weight) {
            steps.push(approval_step(a));
            origins.push(Origin::Approval(j));
        }
    }
    // DNS stays split until a step sets green to 100: the canary takes it there itself, under
    // its gates, with the shortest bake the TTL allows (docs/route53-controller.md "Decisions").
    let last = wire.canary.strategy.last().map(|s| s.weight);
    let final_step_added = matches!(last, Some(w) if w < 100);
    if final_step_added {
        steps.push(json!({ "weight": 100, "bake": format!("{}s", dns.min_bake_seconds()) }));
        origins.push(Origin::Final);
    }

    let mut doc = Map::new();
    doc.insert("steps".into(), Value::Array(steps));
    let mut health = match hookline.and_then(|h| h.health.as_ref()) {
        Some(h) => rendered_json(p, hookline_key.clone().key("health"), h, vars),
        None => json!({}),
    };
    let scale_wait = wire.canary.scale.as_ref().and_then(|s| s.wait);
    if let Value::Object(h) = &mut health {
        match (scale_wait, h.contains_key("ready_timeout")) {
            (Some(_), true) => p.add_at_key(
                hookline_key.clone().key("health").key("ready_timeout"),
                "absent when canary.scale.wait is set: both say how long green may take to be stable and healthy",
            ),
            (_, true) => {}
            (wait, false) => {
                let wait = wait.unwrap_or(DEFAULT_SCALE_WAIT_SECONDS);
                h.insert("ready_timeout".into(), json!(format!("{wait}s")));
            }
        }
    }
    doc.insert("health".into(), health);
    if let Some(min) = dns.min_observed_percent {
        doc.insert("dns".into(), json!({ "min_observed_percent": min }));
    }
    if let Some(h) = hookline {
        if let Some(a) = &h.analysis {
            doc.insert("analysis".into(), rendered_json(p, hookline_key.clone().key("analysis"), a, vars));
        }
        if let Some(b) = &h.hook_budget {
            doc.insert("hook_budget".into(), json!(b));
        }
        if let Some(t) = &h.post_traffic {
            let mut o = Map::new();
            if let Some(b) = &t.bake {
                o.insert("bake".into(), json!(b));
            }
            doc.insert("post_traffic".into(), Value::Object(o));
        }
    }
    (Value::Object(doc), origins, final_step_added)
}

/// A `hookline` subsection as JSON for the plan's parser, its strings' templates rendered.
fn rendered_json(p: &mut Problems<'_>, key: KeyPath, value: &serde_yaml::Value, vars: &Vars) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::String(s) => match template::render(s, vars) {
            Ok(v) => Value::String(v),
            Err(e) => {
                p.add(key, e);
                Value::String(s.clone())
            }
        },
        Y::Sequence(items) => Value::Array(
            items.iter().enumerate().map(|(i, v)| rendered_json(p, key.clone().index(i), v, vars)).collect(),
        ),
        Y::Mapping(m) => {
            let mut o = Map::new();
            for (k, v) in m {
                let name = match k {
                    Y::String(s) => s.clone(),
                    other => match serde_yaml::to_string(other) {
                        Ok(s) => s.trim().to_string(),
                        Err(e) => e.to_string(),
                    },
                };
                let child = rendered_json(p, key.clone().key(&name), v, vars);
                o.insert(name, child);
            }
            Value::Object(o)
        }
        Y::Tagged(t) => rendered_json(p, key, &t.value, vars),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

/// The file's key for one of the plan parser's problems: `steps[k]` is a strategy step or an
/// approval, everything else lives under `hookline`. Returns the key, whether the problem is
/// about the key itself (unknown keys), and a note that prefixes the message.
fn plan_key(problem: &plan::Problem, origins: &[Origin], ready_from_scale: bool) -> (KeyPath, bool, &'static str) {
    let at_key = problem.expected.starts_with("unknown field");
    let field = problem.field.as_str();
    let hookline = || KeyPath::default().key("hookline");
    if field == "steps" {
        return (KeyPath::default().key("canary").key("strategy"), false, "");
    }
    if field == "health.ready_timeout" && ready_from_scale {
        return (KeyPath::default().key("canary").key("scale").key("wait"), false, "as health.ready_timeout: ");
    }
    let Some(rest) = field.strip_prefix("steps[") else {
        return (hookline().0.into_iter().chain(KeyPath::parse(field).0).collect::<Vec<_>>().into(), at_key, "");
    };
    let (index, rest) = rest.split_once(']').unwrap_or((rest, ""));
    let origin = index.parse::<usize>().ok().and_then(|k| origins.get(k).copied());
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    match origin {
        Some(Origin::Strategy(i)) => {
            let step = KeyPath::default().key("canary").key("strategy").index(i);
            match rest {
                "weight" => (step.key("weight"), false, ""),
                "bake" => (step.key("wait"), false, ""),
                _ => (step, at_key, ""),
            }
        }
        Some(Origin::Approval(j)) => {
            let approval = hookline().key("approvals").index(j);
            match rest.strip_prefix("approval.") {
                Some(sub) => (approval.key(sub), at_key, ""),
                None => (approval, at_key, ""),
            }
        }
        Some(Origin::Final) | None => (
            KeyPath::default().key("canary").key("strategy"),
            false,
            "the final step hookline adds (weight 100, bake TTL + resolver grace): ",
        ),
    }
}

impl From<Vec<Segment>> for KeyPath {
    fn from(segments: Vec<Segment>) -> Self {
        KeyPath(segments)
    }
}

#[cfg(test)]
mod tests;
