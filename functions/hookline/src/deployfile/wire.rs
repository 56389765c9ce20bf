//! The deployment file as written: the `canary` and `service` sections with the keys of the
//! ECS canary-release CLI's format (docs/route53-controller.md has the table), and hookline's own
//! `hookline` section. Unknown keys are rejected by serde with their path; keys the format
//! documents without defining them (`service.policies`, top-level `target_group` and
//! `listener`) are read and reported as ignored.

use std::fmt;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

/// The same `post_traffic` object as a plan's.
pub(super) use crate::plan::wire::WirePostTraffic;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireFile {
    pub canary: WireCanary,
    pub service: WireService,
    pub hookline: Option<WireHookline>,
    /// Documented by the format as a section title with no definition.
    #[serde(default, deserialize_with = "present")]
    pub target_group: Option<()>,
    /// Documented by the format as a section title with no definition.
    #[serde(default, deserialize_with = "present")]
    pub listener: Option<()>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireCanary {
    pub group: Text,
    pub releases: WireReleases,
    pub scale: Option<WireScale>,
    pub strategy: Vec<WireStrategyStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireReleases {
    pub blue: WireRelease,
    pub green: WireRelease,
}

/// `canary.releases.<name>`: the `CanaryRelease` tag value as the format writes it, or a mapping
/// that also places the release (its own Region, cluster and role; docs/route53-controller.md
/// "Across Regions").
#[derive(Debug)]
pub(super) enum WireRelease {
    Tag(Text),
    Placed(WirePlacedRelease),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WirePlacedRelease {
    /// Default: the release's name in the file (`blue`, `green`).
    pub tag: Option<Text>,
    pub region: Option<Text>,
    pub cluster: Option<Text>,
    pub role_arn: Option<Text>,
}

impl<'de> Deserialize<'de> for WireRelease {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<WireRelease, D::Error> {
        de.deserialize_any(ReleaseVisitor)
    }
}

struct ReleaseVisitor;

impl<'de> Visitor<'de> for ReleaseVisitor {
    type Value = WireRelease;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CanaryRelease tag value, or a release object (tag, region, cluster, role_arn)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<WireRelease, E> {
        TextVisitor.visit_str(v).map(WireRelease::Tag)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireRelease, E> {
        TextVisitor.visit_i64(v).map(WireRelease::Tag)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireRelease, E> {
        TextVisitor.visit_u64(v).map(WireRelease::Tag)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<WireRelease, E> {
        TextVisitor.visit_bool(v).map(WireRelease::Tag)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireRelease, E> {
        TextVisitor.visit_f64(v).map(WireRelease::Tag)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<WireRelease, A::Error> {
        WirePlacedRelease::deserialize(de::value::MapAccessDeserializer::new(map)).map(WireRelease::Placed)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireScale {
    pub wait: Option<u64>,
    pub desired: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireStrategyStep {
    pub weight: i64,
    pub wait: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireService {
    pub project: Text,
    pub name: Text,
    pub cluster: Text,
    pub fqdn: Text,
    pub version: Text,
    pub scheduling_strategy: Option<Text>,
    pub platform_version: Option<Text>,
    #[serde(default)]
    pub placement_constraints: Vec<WirePlacementConstraint>,
    #[serde(default)]
    pub placement_strategies: Vec<WirePlacementStrategy>,
    pub containers: Vec<WireContainer>,
    /// Listed by the format's `service` example with no definition.
    #[serde(default, deserialize_with = "present")]
    pub policies: Option<()>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WirePlacementConstraint {
    #[serde(rename = "type")]
    pub kind: Text,
    pub expression: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WirePlacementStrategy {
    #[serde(rename = "type")]
    pub kind: Text,
    pub field: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireContainer {
    pub name: Option<Text>,
    pub image: Option<Text>,
    pub cpu: Option<u64>,
    pub memory: Option<u64>,
    pub memory_reservation: Option<u64>,
    #[serde(default)]
    pub port_mappings: Vec<WirePortMapping>,
    #[serde(default)]
    pub entry_point: Vec<Text>,
    #[serde(default)]
    pub environment: Vec<WireEnvironment>,
    #[serde(default)]
    pub command: Vec<Text>,
    #[serde(default)]
    pub dns_search_domains: Vec<Text>,
    pub disable_networking: Option<bool>,
    #[serde(default)]
    pub dns_servers: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WirePortMapping {
    pub container_port: u64,
    pub host_port: Option<u64>,
    pub protocol: Option<Text>,
}

/// CloudFormation's `KeyValuePair` (`Name`, `Value`), in the file's snake case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireEnvironment {
    pub name: Text,
    pub value: Text,
}

/// hookline's additions, all optional. `health` and `analysis` are the plan's own sections
/// (docs/design.md "The plan"), checked by the plan's parser.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireHookline {
    pub health: Option<serde_yaml::Value>,
    pub analysis: Option<serde_yaml::Value>,
    #[serde(default)]
    pub approvals: Vec<WireApproval>,
    pub hook_budget: Option<String>,
    pub post_traffic: Option<WirePostTraffic>,
    pub dns: Option<WireDns>,
    pub remove_old: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireApproval {
    pub after_weight: i64,
    pub timeout: Option<String>,
    pub on_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireDns {
    pub ttl: Option<String>,
    pub resolver_grace: Option<String>,
    pub min_observed_percent: Option<i64>,
}

/// `Some` whenever the key is written, even with an empty (null) value: a key that is ignored
/// must still be noted.
fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<()>, D::Error> {
    de::IgnoredAny::deserialize(de).map(|_| Some(()))
}

/// A string value the file may also write as a YAML integer or boolean: the format's own
/// example writes `blue: 1` for a tag value. A float is refused: `version: 1.10` read as a
/// number would become "1.1".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Text, D::Error> {
        de.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
        Err(E::invalid_type(Unexpected::Float(v), &"a string (quote it: as a YAML number 1.10 would be 1.1)"))
    }
}
