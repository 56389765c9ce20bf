//! The deployment file's templates: `{{project}}`, `{{name}}`, `{{version}}`, `{{fqdn}}`,
//! `{{account_id}}`, `{{region}}`. Plain substitution, no expressions: a name that is not one
//! of these is an error (a typo must not reach a task definition as text).

/// Every template name, in the order the service defines them.
pub const NAMES: [&str; 6] = ["account_id", "region", "project", "name", "version", "fqdn"];

/// The values known so far. `service.project` may use `{{account_id}}` and `{{region}}`;
/// `service.name` also `{{project}}`; `service.version` also `{{name}}`; `service.fqdn` also
/// `{{version}}`; every other value all six.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: Vec<(&'static str, String)>,
}

impl Vars {
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Vars {
        self.values.push((name, value.into()));
        self
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    fn known(&self) -> String {
        let names: Vec<String> = self.values.iter().map(|(n, _)| format!("{{{{{n}}}}}")).collect();
        names.join(", ")
    }
}

/// Replaces every `{{name}}` (spaces inside the braces allowed) in `text`.
pub fn render(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("a template closed by }}}}, got {text:?} (an unclosed {{{{)"));
        };
        let name = after[..end].trim();
        match vars.get(name) {
            Some(value) => out.push_str(value),
            None if NAMES.contains(&name) => {
                return Err(format!(
                    "{{{{{name}}}}} is not available here (this value may use {}), got {text:?}",
                    vars.known()
                ))
            }
            None => {
                return Err(format!(
                    "a known template ({{{{project}}}}, {{{{name}}}}, {{{{version}}}}, {{{{fqdn}}}}, \
                     {{{{account_id}}}}, {{{{region}}}}), got {{{{{name}}}}} in {text:?}"
                ))
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vars {
        Vars::default()
            .with("account_id", "123456789012")
            .with("region", "eu-west-1")
            .with("project", "shop")
            .with("name", "web")
            .with("version", "1.4.2")
            .with("fqdn", "web.shop.example.com")
    }

    #[test]
    fn renders_every_template() {
        assert_eq!(
            render("{{account_id}}.dkr.ecr.{{region}}.amazonaws.com/{{name}}:{{version}}", &all()).unwrap(),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2"
        );
        assert_eq!(render("https://{{ fqdn }}/{{project}}", &all()).unwrap(), "https://web.shop.example.com/shop");
        assert_eq!(render("no templates { here }", &all()).unwrap(), "no templates { here }");
    }

    #[test]
    fn unknown_unavailable_and_unclosed_templates_are_errors() {
        let e = render("{{nmae}}", &all()).unwrap_err();
        assert!(e.contains("got {{nmae}}"), "{e}");
        let early = Vars::default().with("account_id", "1").with("region", "r");
        let e = render("{{name}}-api", &early).unwrap_err();
        assert!(e.contains("{{name}} is not available here"), "{e}");
        assert!(e.contains("{{account_id}}, {{region}}"), "{e}");
        let e = render("web-{{name", &all()).unwrap_err();
        assert!(e.contains("unclosed"), "{e}");
    }
}
