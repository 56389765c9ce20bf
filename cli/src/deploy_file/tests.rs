use std::path::{Path, PathBuf};

use clap::Parser;

use super::*;
use crate::verbs::plan::{PlanArgs, PlanCommand};
use crate::verbs::{Cli, Command};

const PROD: &str = include_str!("../../../functions/hookline/src/deployfile/fixtures/prod.deploy.yml");
const SEED: &str = include_str!("../../../functions/hookline/src/deployfile/fixtures/seed.deploy.yml");

fn ctx() -> Context {
    Context { account_id: "123456789012".into(), region: "eu-west-1".into() }
}

#[test]
fn the_environment_names_the_file_in_the_directory_and_f_overrides_it() {
    assert_eq!(file_of(Some("prod"), None, None), Ok(PathBuf::from("prod.deploy.yml")));
    assert_eq!(file_of(Some("prod"), None, Some(Path::new("deploy"))), Ok(PathBuf::from("deploy/prod.deploy.yml")));
    assert_eq!(file_of(Some("prod"), Some(Path::new("x/other.yml")), None), Ok(PathBuf::from("x/other.yml")));
    // The environment becomes part of a path: never `..` or a slash, even with -f.
    for bad in ["../etc", "a/b", "", "prod.v2"] {
        let e = file_of(Some(bad), None, None).unwrap_err().0;
        assert!(e.starts_with("-e/--env: an environment name"), "{bad:?}: {e}");
        assert!(file_of(Some(bad), Some(Path::new("f.yml")), None).is_err(), "{bad:?} with -f");
    }
    assert!(file_of(None, None, None).unwrap_err().0.contains("-e ENV"));
}

#[test]
fn deployment_files_are_told_from_plans_by_their_name() {
    assert!(is_deploy_file(Path::new("prod.deploy.yml")));
    assert!(is_deploy_file(Path::new("dir/Prod.DEPLOY.yaml")));
    assert!(!is_deploy_file(Path::new("prod.plan.yaml")));
    assert!(!is_deploy_file(Path::new("deploy.yml")), "a plan named deploy.yml stays a plan");
}

#[test]
fn account_ids_are_twelve_digits() {
    assert_eq!(check_account_id("123456789012"), Ok("123456789012".into()));
    for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
        assert!(check_account_id(bad).unwrap_err().0.starts_with("--account-id: an AWS account id"), "{bad:?}");
    }
    // The stand-in used to check a file before any AWS call has the real one's shape.
    assert!(check_account_id(CHECK_ACCOUNT_ID).is_ok());
}

#[test]
fn preview_shows_the_records_weights_at_each_step_and_marks_the_added_final_step() {
    let text = SEED.replace("wait: 50", "wait: 70");
    let d = parse(Path::new("dev.deploy.yml"), &text, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert!(d.final_step_added);
    let out = preview(&d);
    let steps: Vec<&str> = out.lines().filter(|l| l.contains("records green")).collect();
    assert_eq!(steps.len(), 3, "{out}");
    assert!(steps[0].ends_with("records green 10 / blue 90 (INSYNC), bake 1m 10s"), "{out}");
    assert!(steps[1].ends_with("records green 60 / blue 40 (INSYNC), bake 1m 10s"), "{out}");
    assert!(
        steps[2].contains("records green 100 / blue 0 (INSYNC), bake 1m 10s   (added: the strategy ends below 100"),
        "{out}"
    );
    // scale.wait 60s, then the three bakes: 60 + 3 * 70 = 270s.
    assert!(out.contains("worst case 4m 30s against the deployment budget"), "{out}");
    assert!(out.contains("green's service: 2 tasks stable, targets healthy (up to 1m; scale.wait)"), "{out}");
    assert_eq!(
        valid_summary(Path::new("dev.deploy.yml"), &d),
        "dev.deploy.yml: valid deployment file (shop-web 1.4.2 of private in shop-cluster, fqdn \
         shop-web.example.com; 3 steps, weights 10 60 100 (100 added); worst case 4m 30s of the 55m budget)"
    );
}

#[test]
fn preview_of_the_full_example_has_the_approval_the_post_bake_and_remove_old() {
    let d = parse(Path::new("prod.deploy.yml"), PROD, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!d.final_step_added);
    let out = preview(&d);
    assert!(!out.contains("added:"), "{out}");
    assert!(out.contains("wait for approval, up to 30m (then roll back)"), "{out}");
    assert!(out.contains("post-traffic bake at 100%"), "{out}");
    assert!(out.contains("blue's service scaled to 0, then removed (remove_old)"), "{out}");
    assert!(out.contains("TTL 60s + resolver grace 30s"), "{out}");
}

#[test]
fn problems_print_as_the_library_writes_them() {
    let errs = parse(Path::new("dev.deploy.yml"), SEED, &ctx()).expect_err("the seed's 50s wait");
    let text = errs.to_string();
    assert!(text.starts_with("dev.deploy.yml:15:13: canary.strategy[1].wait: at least 70"), "{text}");
}

#[test]
fn plan_validate_and_preview_take_a_deployment_file_by_name_or_environment() {
    let source = |args: &[&str]| match Cli::try_parse_from(args.iter().copied()).map(|c| c.command) {
        Ok(Command::Plan(PlanArgs {
            command: PlanCommand::Validate { source, .. } | PlanCommand::Preview { source, .. },
        })) => source.deploy_file(),
        other => panic!("{other:?}"),
    };
    assert_eq!(source(&["hookline", "plan", "validate", "prod.deploy.yml"]), Ok(Some("prod.deploy.yml".into())));
    assert_eq!(
        source(&["hookline", "plan", "preview", "-e", "prod", "-d", "ops"]),
        Ok(Some("ops/prod.deploy.yml".into()))
    );
    assert_eq!(source(&["hookline", "plan", "validate", "--env", "qa"]), Ok(Some("qa.deploy.yml".into())));
    assert_eq!(source(&["hookline", "plan", "validate", "prod.plan.yaml"]), Ok(None), "a plan stays a plan");
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|_| ());
    assert!(parse(&["hookline", "plan", "validate"]).is_err(), "a file or -e is required");
    assert!(parse(&["hookline", "plan", "validate", "p.yaml", "-e", "prod"]).is_err(), "one or the other");
    assert!(parse(&["hookline", "plan", "validate", "-d", "ops", "p.deploy.yml"]).is_err(), "-d goes with -e");
}

#[test]
fn deploy_and_undeploy_need_an_environment_and_take_a_file_or_a_directory() {
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
    match parse(&["hookline", "deploy", "-e", "prod", "--remove-old", "--wait", "--region", "eu-west-1"]) {
        Ok(Command::Deploy(a)) => {
            assert_eq!(a.file.path(), Ok(PathBuf::from("prod.deploy.yml")));
            assert!(a.remove_old && a.wait);
        }
        other => panic!("{other:?}"),
    }
    match parse(&["hookline", "deploy", "-e", "prod", "-f", "x.yml"]) {
        Ok(Command::Deploy(a)) => assert_eq!(a.file.path(), Ok(PathBuf::from("x.yml"))),
        other => panic!("{other:?}"),
    }
    match parse(&["hookline", "undeploy", "-e", "prod", "-d", "ops", "--release", "green"]) {
        Ok(Command::Undeploy(a)) => {
            assert_eq!(a.file.path(), Ok(PathBuf::from("ops/prod.deploy.yml")));
            assert_eq!(a.release.as_deref(), Some("green"));
        }
        other => panic!("{other:?}"),
    }
    assert!(parse(&["hookline", "deploy", "-f", "x.yml"]).is_err(), "-e is required");
    assert!(parse(&["hookline", "deploy", "-e", "p", "-f", "x.yml", "-d", "ops"]).is_err(), "-f or -d");
    assert!(parse(&["hookline", "deploy", "-e", "p", "--interval", "2s"]).is_err(), "--interval goes with --wait");
}

#[test]
fn the_readme_minimal_deployment_file_is_valid() {
    let readme = include_str!("../../../README.md");
    let at = readme.find("A minimal deployment file").expect("README section");
    let block = &readme[at..];
    let start = block.find("```yaml\n").expect("yaml block") + "```yaml\n".len();
    let text = &block[start..start + block[start..].find("```").expect("end of block")];
    let d = parse(Path::new("prod.deploy.yml"), text, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.service.fqdn, "web.shop.example.com");
    assert!(d.final_step_added);
}

#[test]
fn every_verb_on_a_deployment_takes_fqdn_for_the_newest_deploy_on_a_name() {
    use crate::address::Address;
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
    let address = |args: &[&str]| match parse(args) {
        Ok(Command::Status(a)) => a.deployment.address(),
        Ok(Command::Watch(a)) => a.deployment.address(),
        Ok(Command::Approve(a)) => a.deployment.address(),
        Ok(Command::Rollback(a)) => a.deployment.address(),
        other => panic!("{other:?}"),
    };
    let fqdn = Ok(Address::Fqdn("web.shop.example.com".into()));
    assert_eq!(address(&["hookline", "status", "--fqdn", "web.shop.example.com"]), fqdn);
    assert_eq!(address(&["hookline", "watch", "--fqdn", "web.shop.example.com"]), fqdn);
    assert_eq!(address(&["hookline", "approve", "--fqdn", "web.shop.example.com"]), fqdn);
    assert_eq!(address(&["hookline", "rollback", "--fqdn", "web.shop.example.com", "--yes"]), fqdn);
    assert_eq!(
        address(&["hookline", "status", "dns-20261206-084016-abcd"]),
        Ok(Address::Id("dns-20261206-084016-abcd".into()))
    );
    assert!(parse(&["hookline", "status", "dns-1", "--fqdn", "web"]).is_err(), "an id or a name");
    assert!(parse(&["hookline", "status", "--cluster", "c", "--service", "s", "--fqdn", "web"]).is_err());
    match parse(&["hookline", "history", "--fqdn", "web.shop.example.com"]) {
        Ok(Command::History(a)) => assert_eq!(a.fqdn.as_deref(), Some("web.shop.example.com")),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["hookline", "history", "--fqdn", "w", "--application", "a", "--group", "g"]).is_err());
    assert!(parse(&["hookline", "history"]).is_err(), "a target or a name is required");
}
