use super::*;
use crate::deployfile::Context;
use crate::dns::LoadBalancerRelease;
use crate::execution::ExecutionDocument;
use crate::ports::RunStatus;
use crate::testing::{ExecutionsCall, FakeDiscovery, FakeExecutions, FakePlanStore, FakeServices};

const MACHINE: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:hookline-canary";
const FQDN: &str = "shop-web.shop.example.com";
const CLUSTER: &str = "shop-eu-west-1";
/// 2026-12-06T08:40:16Z
const NOW: i64 = 1_796_546_416;

fn file() -> DeployFile {
    let text = include_str!("../../deployfile/fixtures/prod.deploy.yml");
    DeployFile::parse(
        "prod.deploy.yml",
        text,
        &Context { account_id: "123456789012".into(), region: "eu-west-1".into() },
    )
    .expect("the fixture parses")
}

fn lb(release: &str) -> LoadBalancerRelease {
    LoadBalancerRelease {
        release: release.into(),
        load_balancer_arn: format!(
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/r53-private-{release}/1"
        ),
        dns_name: format!("r53-private-{release}.elb.amazonaws.com"),
        canonical_hosted_zone_id: "Z32O12XQLNTSW2".into(),
        target_group_arn: Some(format!(
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/r53-private-{release}/2"
        )),
        target_group_name: Some(format!("r53-private-{release}")),
        region: None,
        role_arn: None,
    }
}

struct World {
    discovery: FakeDiscovery,
    services: FakeServices,
    plans: FakePlanStore,
    executions: FakeExecutions,
}

impl World {
    /// Blue at 100 with its service running, green at 0 with no service.
    fn new(blue_weight: u8, green_weight: u8) -> World {
        World {
            discovery: FakeDiscovery::default()
                .with_load_balancer("private", lb("blue"))
                .with_load_balancer("private", lb("green"))
                .with_zone("Z1", "shop.example.com.")
                .with_zone("Z0", "example.com.")
                .with_record("Z1", FQDN, "blue", blue_weight)
                .with_record("Z1", FQDN, "green", green_weight),
            services: FakeServices::default().with(CLUSTER, "shop-web-blue", 2, "arn:td/shop-web:1"),
            plans: FakePlanStore::default(),
            executions: FakeExecutions::default(),
        }
    }

    fn reach(&self) -> Reach<'_> {
        Reach { discovery: &self.discovery, services: &self.services, plans: &self.plans, executions: &self.executions }
    }
}

fn request(file: &DeployFile) -> DeployRequest<'_> {
    DeployRequest {
        file,
        environment: "prod",
        canary_state_machine_arn: MACHINE,
        plan_parameter_prefix: "/hookline",
        region: None,
        remove_old: false,
        now: NOW,
        salt: 0xbeef,
    }
}

#[tokio::test]
async fn deploy_puts_the_new_version_on_the_idle_release_and_starts_the_canary() {
    let world = World::new(100, 0);
    let file = file();
    let deployed = deploy(world.reach(), &request(&file)).await.expect("deployed");
    assert_eq!(deployed.deployment_id, "dns-20261206-084016-beef");
    assert_eq!((deployed.blue.as_str(), deployed.green.as_str()), ("blue", "green"));
    assert_eq!(deployed.green_service.service, "shop-web-green");

    // The task definition from the file's containers, like blue's; green's service behind green's target group.
    let registered = world.services.registered();
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].family, "shop-web");
    assert_eq!(registered[0].like.as_deref(), Some("arn:td/shop-web:1"));
    assert_eq!(world.services.changes(), vec![format!("create {CLUSTER}/shop-web-green 3")]);
    let (_, spec) = world.services.specs().remove(0);
    assert_eq!((spec.container_name.as_str(), spec.container_port), ("web", 8080));
    assert!(spec.target_group_arn.ends_with("targetgroup/r53-private-green/2"), "{}", spec.target_group_arn);
    assert_eq!(spec.like.map(|s| s.service), Some("shop-web-blue".into()));

    // The execution: named after the id, its document a Route 53 context.
    let starts = world.executions.starts();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0].1, "dns-20261206-084016-beef-BeforeAllowTraffic");
    let doc: ExecutionDocument = serde_json::from_str(&starts[0].2).expect("document");
    let Route::DnsWeighted { hosted_zone_id, record_name, blue, green, .. } = &doc.context.production else {
        panic!("not a DNS route: {:?}", doc.context.production)
    };
    assert_eq!((hosted_zone_id.as_str(), record_name.as_str()), ("Z1", FQDN));
    assert_eq!((blue.set_identifier.as_str(), green.set_identifier.as_str()), ("blue", "green"));
    assert_eq!(green.alias_dns_name, "r53-private-green.elb.amazonaws.com");
    assert_eq!(doc.context.hook.as_ref().map(|h| h.kind), Some(Controller::Route53));
    assert_eq!(doc.context.green.service.as_ref().map(|s| s.service.as_str()), Some("shop-web-green"));
    assert_eq!(doc.context.blue.service.as_ref().map(|s| s.service.as_str()), Some("shop-web-blue"));
    assert_eq!(doc.context.green.task_set_arn, None);
    assert_eq!(doc.state.started_at, NOW);
    assert_eq!(doc.plan, file.plan);

    // The record: in progress, with the execution.
    let text = world.plans.get("/hookline/dns/dns-20261206-084016-beef").expect("record written");
    let record: ReleaseRecord = serde_json::from_str(&text).expect("record");
    assert_eq!(record.status, ReleaseStatus::InProgress);
    assert_eq!(record.execution_arn.as_deref(), Some(deployed.execution_arn.as_str()));
    assert_eq!(record.context, doc.context);
}

#[tokio::test]
async fn green_is_whichever_release_is_idle() {
    let world = World::new(0, 100);
    let file = file();
    let deployed = deploy(world.reach(), &request(&file)).await.expect("deployed");
    assert_eq!((deployed.blue.as_str(), deployed.green.as_str()), ("green", "blue"));
    // blue's service (the release named blue) is the idle one now: updated in place.
    assert_eq!(world.services.changes(), vec![format!("update {CLUSTER}/shop-web-blue 3")]);
}

#[tokio::test]
async fn a_split_group_or_a_running_canary_is_refused_and_nothing_changes() {
    let world = World::new(50, 50);
    let file = file();
    let err = deploy(world.reach(), &request(&file)).await.unwrap_err().to_string();
    assert!(err.contains("CanaryGroup=private") && err.contains("weight 50"), "{err}");
    assert!(world.services.changes().is_empty() && world.services.registered().is_empty());
    assert!(world.executions.starts().is_empty() && world.plans.writes().is_empty());

    let world = World::new(100, 0);
    let first = deploy(world.reach(), &request(&file)).await.expect("first");
    let mut second = request(&file);
    second.salt = 1;
    let err = deploy(world.reach(), &second).await.unwrap_err().to_string();
    assert!(err.contains(&first.deployment_id), "{err}");
    assert_eq!(world.executions.starts().len(), 1);
    assert_eq!(world.services.changes().len(), 1);
}

#[tokio::test]
async fn release_tags_other_than_the_files_are_refused() {
    let world = World::new(100, 0);
    let mut file = file();
    file.canary.releases.green = "2".into();
    let err = deploy(world.reach(), &request(&file)).await.unwrap_err();
    assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "canary.releases"), "{err}");
    assert!(world.services.changes().is_empty());
}

#[tokio::test]
async fn a_start_that_fails_scales_green_back_and_marks_the_record() {
    let world = World::new(100, 0);
    world.executions.fail(ExecutionsCall::Start, crate::testing::denied("StartExecution"));
    let file = file();
    assert!(deploy(world.reach(), &request(&file)).await.is_err());
    assert_eq!(
        world.services.changes(),
        vec![format!("create {CLUSTER}/shop-web-green 3"), format!("scale {CLUSTER}/shop-web-green 0")]
    );
    let record: ReleaseRecord =
        serde_json::from_str(&world.plans.get("/hookline/dns/dns-20261206-084016-beef").expect("record")).unwrap();
    assert_eq!((record.status, record.services_done), (ReleaseStatus::Failed, true));
    assert!(record.message.unwrap_or_default().contains("StartExecution"));
}

#[tokio::test]
async fn a_running_canary_of_other_records_does_not_block() {
    let world = World::new(100, 0);
    let mut other = crate::testing::dns_context();
    other.deployment_id = "dns-20261206-000000-0000".into();
    let doc = ExecutionDocument { context: other, plan: crate::testing::plan(), state: RolloutState::default() };
    world.executions.insert(
        MACHINE,
        "dns-20261206-000000-0000-BeforeAllowTraffic",
        RunStatus::Running,
        Some(&serde_json::to_string(&doc).unwrap()),
    );
    let file = file();
    deploy(world.reach(), &request(&file)).await.expect("other records: deployed");
}

#[tokio::test]
async fn undeploy_removes_the_idle_release_and_refuses_the_live_one() {
    let world = World::new(100, 0);
    let world = World {
        services: FakeServices::default().with(CLUSTER, "shop-web-blue", 2, "td:1").with(
            CLUSTER,
            "shop-web-green",
            0,
            "td:2",
        ),
        ..world
    };
    let file = file();
    let err = undeploy(world.reach(), &world.discovery, &file, Some("blue"), None).await.unwrap_err().to_string();
    assert!(err.contains("CanaryRelease=blue takes the traffic") && err.contains("undeploy green"), "{err}");
    assert!(world.services.changes().is_empty());
    assert_eq!(world.discovery.record("Z1", FQDN, "green"), Some(0));

    let done = undeploy(world.reach(), &world.discovery, &file, None, None).await.expect("undeployed");
    assert_eq!((done.release.as_str(), done.service_deleted, done.record_deleted), ("green", true, true));
    assert_eq!(world.services.changes(), vec![format!("delete {CLUSTER}/shop-web-green")]);
    assert_eq!(world.services.get(CLUSTER, "shop-web-blue").map(|s| s.desired), Some(2));
    assert_eq!(world.discovery.record("Z1", FQDN, "green"), None);
    assert_eq!(world.discovery.record("Z1", FQDN, "blue"), Some(100));
    // Again: nothing left to remove, and the group still has its live release.
    let again = undeploy(world.reach(), &world.discovery, &file, Some("green"), None).await.expect("idempotent");
    assert_eq!((again.service_deleted, again.record_deleted), (false, false));
}

#[tokio::test]
async fn a_release_in_its_own_region_is_found_there_and_its_placement_is_in_the_record() {
    let role = "arn:aws:iam::123456789012:role/hookline-release";
    let placed_green = LoadBalancerRelease {
        region: Some("us-west-2".into()),
        load_balancer_arn: "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/west/9".into(),
        ..lb("green")
    };
    let world = World::new(100, 0);
    // The group's green in the caller's Region (left behind) is not the file's green, which is in us-west-2.
    let world = World { discovery: world.discovery.with_load_balancer("private", placed_green), ..world };
    let mut file = file();
    file.canary.releases.green_at = crate::deployfile::ReleasePlacement {
        region: Some("us-west-2".into()),
        cluster: Some("shop-west".into()),
        role_arn: Some(role.into()),
    };
    deploy(world.reach(), &request(&file)).await.expect("deployed");
    assert_eq!(
        world.discovery.asked_at(),
        vec![Placement::default(), Placement::new(Some("us-west-2"), Some(role))],
        "one search per placement"
    );
    let registered = world.services.registered();
    assert_eq!(registered[0].like_at, Placement::default(), "blue's task definition is read where blue is");
    assert_eq!(world.services.changes(), vec!["create shop-west/shop-web-green 3".to_string()]);
    let text = world.plans.get("/hookline/dns/dns-20261206-084016-beef").expect("record written");
    let record: ReleaseRecord = serde_json::from_str(&text).expect("record");
    let green = record.context.green.service.as_ref().expect("green's service");
    assert_eq!(
        (green.cluster.as_str(), green.region.as_deref(), green.role_arn.as_deref()),
        ("shop-west", Some("us-west-2"), Some(role))
    );
    let blue = record.context.blue.service.as_ref().expect("blue's service");
    assert_eq!((blue.cluster.as_str(), blue.placement()), (CLUSTER, Placement::default()));
    let Route::DnsWeighted { blue, green, .. } = &record.context.production else { panic!("not a DNS route") };
    assert_eq!(green.placement(), Placement::new(Some("us-west-2"), Some(role)));
    assert!(green.load_balancer_arn.contains(":us-west-2:"), "{}", green.load_balancer_arn);
    assert_eq!(blue.placement(), Placement::default());
}
