//! What `hookline doctor` prints: one line per check, grouped, and the same as JSON.

use serde::Serialize;

/// A check's outcome. `Warn` does not fail the command unless `--strict` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One check: what was checked, what was found, and (when it is not ok) what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub status: Status,
    /// Short name of the check, e.g. `lifecycle hook POST_TEST_TRAFFIC_SHIFT`.
    pub check: String,
    /// What was found.
    pub detail: String,
    /// What to do about it (absent when the check holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(check: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { status: Status::Ok, check: check.into(), detail: detail.into(), fix: None }
    }

    pub fn warn(check: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { status: Status::Warn, check: check.into(), detail: detail.into(), fix: Some(fix.into()) }
    }

    pub fn fail(check: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { status: Status::Fail, check: check.into(), detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// The groups, in the order they are printed.
pub const GROUPS: [&str; 7] = ["hookline", "configuration", "traffic", "alarms", "plan", "permissions", "metrics"];

/// Checks of one group.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    pub checks: Vec<Check>,
}

/// Everything `doctor` found for one service (`--json` prints this).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `CodeDeploy web/web-prod` or `ECS demo/api`.
    pub target: String,
    /// `codedeploy` or `ecs`.
    pub controller: String,
    /// True when no check failed (and, with `--strict`, none warned): the exit code is 0.
    pub ok: bool,
    pub strict: bool,
    pub counts: Counts,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
}

impl Report {
    /// Groups `checks` (`(group, check)`) in [`GROUPS`] order, counting outcomes.
    pub fn new(target: String, controller: &str, strict: bool, checks: Vec<(&'static str, Check)>) -> Report {
        let mut counts = Counts::default();
        for (_, c) in &checks {
            match c.status {
                Status::Ok => counts.ok += 1,
                Status::Warn => counts.warn += 1,
                Status::Fail => counts.fail += 1,
            }
        }
        let groups = GROUPS
            .iter()
            .filter_map(|g| {
                let mine: Vec<Check> = checks.iter().filter(|(name, _)| name == g).map(|(_, c)| c.clone()).collect();
                (!mine.is_empty()).then(|| Group { name: g.to_string(), checks: mine })
            })
            .collect();
        let ok = counts.fail == 0 && (!strict || counts.warn == 0);
        Report { target, controller: controller.to_string(), ok, strict, counts, groups }
    }

    /// 0 when every check holds (warnings allowed unless `--strict`), else 1.
    pub fn exit_code(&self) -> u8 {
        if self.ok {
            0
        } else {
            1
        }
    }

    /// The human form: a header, then per group one line per check (`ok`/`warn`/`FAIL`, the check,
    /// what was found), with what to do on the next line; a summary last.
    pub fn render(&self) -> String {
        let mut out = vec![format!("hookline doctor: {}", self.target)];
        for g in &self.groups {
            out.push(String::new());
            out.push(g.name.clone());
            for c in &g.checks {
                out.push(format!("  {:<4}  {}: {}", c.status.word(), c.check, c.detail));
                if let Some(fix) = &c.fix {
                    out.push(format!("        -> {fix}"));
                }
            }
        }
        out.push(String::new());
        let verdict = if self.ok {
            "ready for hookline"
        } else if self.counts.fail == 0 {
            "warnings fail with --strict"
        } else {
            "not ready for hookline"
        };
        out.push(format!("{} ok, {} warn, {} FAIL: {verdict}", self.counts.ok, self.counts.warn, self.counts.fail));
        out.join("\n")
    }
}
