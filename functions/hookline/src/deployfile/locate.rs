//! Where a key of the deployment file is written (line and column), for problems found after
//! parsing (a weight out of range, a bake shorter than the TTL, a template naming nothing).
//!
//! serde_yaml gives a position only with its errors, so the file is read a second time by a
//! deserializer that walks down the key path and fails on purpose at the node it looks for:
//! serde_yaml stamps that error with the node's position (`Error::location()`). No YAML is
//! parsed here by hand.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::plan::Location;

/// One step of a key path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A key path such as `canary.strategy[1].wait`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// Parses the dotted form (`a.b[0].c`); keys never contain `.` or `[` in a deployment file.
    pub fn parse(text: &str) -> KeyPath {
        let mut segments = Vec::new();
        for part in text.split('.').filter(|p| !p.is_empty()) {
            let (key, mut rest) = match part.find('[') {
                Some(at) => (&part[..at], &part[at..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_string()));
            }
            while let Some(inner) = rest.strip_prefix('[') {
                let Some(end) = inner.find(']') else { break };
                match inner[..end].parse() {
                    Ok(i) => segments.push(Segment::Index(i)),
                    Err(_) => segments.push(Segment::Key(inner[..end].to_string())),
                }
                rest = &inner[end + 1..];
            }
        }
        KeyPath(segments)
    }

    pub fn key(mut self, key: &str) -> KeyPath {
        self.0.push(Segment::Key(key.to_string()));
        self
    }

    pub fn index(mut self, i: usize) -> KeyPath {
        self.0.push(Segment::Index(i));
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if n == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// The message of the error the walk raises on purpose; anything else is a real parse error.
const FOUND: &str = "hookline-locate: found";

/// The position of `path` in `text`: the key itself when `at_key` (an unknown or misplaced key),
/// its value otherwise. A path that goes further than the file does (a missing key) gives the
/// position of the deepest mapping or sequence that exists. `None` only for text serde_yaml
/// cannot read at all (then the parse error already has its own position).
pub fn locate(text: &str, path: &KeyPath, at_key: bool) -> Option<Location> {
    let de = serde_yaml::Deserializer::from_str(text);
    match (Walk { rest: &path.0, at_key }).deserialize(de) {
        Ok(()) => None,
        // serde_yaml prefixes the message with the path it was at.
        Err(e) if e.to_string().contains(FOUND) => {
            e.location().map(|l| Location { line: l.line(), column: l.column() })
        }
        Err(_) => None,
    }
}

struct Walk<'p> {
    rest: &'p [Segment],
    at_key: bool,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

fn found<E: de::Error>() -> E {
    E::custom(FOUND)
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    // A scalar is the end of the walk: it is the node looked for, or the deepest one there is.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(found())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(found())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(found())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(found())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(found())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(found())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(found())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Segment::Key(want), rest)) = self.rest.split_first() else {
            return Err(found()); // this mapping is the node (or the deepest there is)
        };
        let stop_at_key = self.at_key && rest.is_empty();
        while let Some(matched) = map.next_key_seed(KeyMatch { want, stop: stop_at_key })? {
            if matched {
                return map.next_value_seed(Walk { rest, at_key: self.at_key });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(found()) // the key is not there: the mapping is the deepest node
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Segment::Index(want), rest)) = self.rest.split_first() else {
            return Err(found());
        };
        for _ in 0..*want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(found());
            }
        }
        match seq.next_element_seed(Walk { rest, at_key: self.at_key })? {
            Some(()) => Ok(()),
            None => Err(found()),
        }
    }
}

/// Reads a mapping key: `true` when it is the one looked for. With `stop`, the walk ends on the
/// key itself, so the error carries the key's position.
struct KeyMatch<'w> {
    want: &'w str,
    stop: bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        if key == self.want && self.stop {
            return Err(found());
        }
        Ok(key == self.want)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "canary:\n  group: private\n  strategy:\n    - weight: 10\n      wait: 70\n    - weight: 60\n      wait: 50\nservice:\n  name: web\n";

    fn at(path: &str, at_key: bool) -> Option<(usize, usize)> {
        locate(TEXT, &KeyPath::parse(path), at_key).map(|l| (l.line, l.column))
    }

    #[test]
    fn finds_values_and_keys_by_path() {
        assert_eq!(at("canary.group", false), Some((2, 10)));
        assert_eq!(at("canary.group", true), Some((2, 3)));
        assert_eq!(at("canary.strategy[1].wait", false), Some((7, 13)));
        assert_eq!(at("canary.strategy[1].wait", true), Some((7, 7)));
        assert_eq!(at("service.name", false), Some((9, 9)));
    }

    #[test]
    fn a_missing_key_points_at_the_deepest_node_there_is() {
        // `service` exists, `cluster` does not: the service mapping starts at line 9.
        assert_eq!(at("service.cluster", false), Some((9, 3)));
        assert_eq!(at("canary.strategy[5].wait", false), Some((4, 5)));
    }

    #[test]
    fn paths_print_and_parse_back() {
        let p = KeyPath::default().key("canary").key("strategy").index(1).key("wait");
        assert_eq!(p.to_string(), "canary.strategy[1].wait");
        assert_eq!(KeyPath::parse("canary.strategy[1].wait"), p);
    }
}
