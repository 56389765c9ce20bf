use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataInput, GetMetricDataOutput};
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_cloudwatch::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};

use super::*;
use crate::judge::{Outcome, Verdict};
use crate::plan::Plan;
use crate::testing::{context, Sent, LISTENER};

const PLAN: &str = r#"{"steps":[{"weight":10,"bake":"10m"},{"weight":100}],"analysis":{"min_samples":5,"metrics":[
  {"metric":"TargetResponseTime","direction":"increase","tolerance":0.1,"critical":true},
  {"name":"errors","namespace":"Shop","metric":"Errors","dimensions":{"Service":"web"},
   "version_dimension":"Version","blue":"v1","green":"v2","statistic":"Maximum","period":"1m",
   "direction":"increase","tolerance":0.5}]}}"#;

fn analysis() -> Analysis {
    Plan::parse(PLAN).unwrap_or_else(|e| panic!("{e}")).analysis.expect("analysis")
}

fn result(id: &str, values: &[f64]) -> MetricDataResult {
    MetricDataResult::builder().id(id).set_values(Some(values.to_vec())).build()
}

fn dims(q: &MetricDataQuery) -> Vec<(String, String)> {
    let metric = q.metric_stat().and_then(|s| s.metric()).expect("metric");
    metric.dimensions().iter().map(|d| (d.name().unwrap_or("").into(), d.value().unwrap_or("").into())).collect()
}

#[tokio::test]
async fn both_sides_of_every_metric_in_one_get_metric_data_call() {
    let sent: Sent<GetMetricDataInput> = Sent::default();
    let rule = mock!(Client::get_metric_data).match_requests(sent.recorder()).then_output(|| {
        GetMetricDataOutput::builder()
            .metric_data_results(result("m0_blue", &[1.0, 2.0]))
            .metric_data_results(result("m0_green", &[3.0]))
            .metric_data_results(result("m1_blue", &[]))
            .metric_data_results(result("m1_green", &[4.0, 5.0]))
            .build()
    });
    let source = CloudWatchMetrics {
        client: crate::aws::Placed::only(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule])),
    };
    let queries = queries(&analysis(), &context()).expect("queries");
    let series = source.series(&queries, 1_000, 1_600).await.expect("series");
    assert_eq!(series, vec![vec![1.0, 2.0], vec![3.0], vec![], vec![4.0, 5.0]]);

    let request = sent.only();
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(request.start_time().map(|t| t.secs()), Some(1_000));
    assert_eq!(request.end_time().map(|t| t.secs()), Some(1_600));
    let qs = request.metric_data_queries();
    let ids: Vec<&str> = qs.iter().filter_map(|q| q.id()).collect();
    assert_eq!(ids, ["m0_blue", "m0_green", "m1_blue", "m1_green"]);
    let stat = qs[0].metric_stat().expect("stat");
    assert_eq!((stat.stat(), stat.period()), (Some("Average"), Some(60)));
    assert_eq!(stat.metric().and_then(|m| m.namespace()), Some("AWS/ApplicationELB"));
    assert_eq!(stat.metric().and_then(|m| m.metric_name()), Some("TargetResponseTime"));
    let lb = ("LoadBalancer".to_string(), "app/demo/50dc6c495c0c9188".to_string());
    assert_eq!(dims(&qs[0]), vec![("TargetGroup".into(), "targetgroup/web-blue/6d0ecf831eec9f09".into()), lb.clone()]);
    assert_eq!(dims(&qs[1]), vec![("TargetGroup".into(), "targetgroup/web-green/1e2f3a4b5c6d7e8f".into()), lb]);
    assert_eq!(qs[2].metric_stat().and_then(|s| s.stat()), Some("Maximum"));
    assert_eq!(dims(&qs[2]), vec![("Service".into(), "web".into()), ("Version".into(), "v1".into())]);
    assert_eq!(dims(&qs[3]), vec![("Service".into(), "web".into()), ("Version".into(), "v2".into())]);
    assert!(qs.iter().all(|q| q.return_data() == Some(true)));
}

#[tokio::test]
async fn a_query_continued_on_the_next_page_is_read_whole() {
    let sent: Sent<GetMetricDataInput> = Sent::default();
    let first = mock!(Client::get_metric_data).match_requests(|r| r.next_token().is_none()).then_output(|| {
        GetMetricDataOutput::builder().metric_data_results(result("m0_blue", &[1.0, 2.0])).next_token("page-2").build()
    });
    let second = mock!(Client::get_metric_data)
        .match_requests({
            let record = sent.recorder();
            move |r| r.next_token() == Some("page-2") && record(r)
        })
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(result("m0_blue", &[3.0]))
                .metric_data_results(result("m0_green", &[4.0]))
                .metric_data_results(result("m1_blue", &[5.0]))
                .metric_data_results(result("m1_green", &[6.0]))
                .build()
        });
    let source = CloudWatchMetrics {
        client: crate::aws::Placed::only(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&first, &second])),
    };
    let queries = queries(&analysis(), &context()).expect("queries");
    let series = source.series(&queries, 0, 600).await.expect("series");
    assert_eq!(series, vec![vec![1.0, 2.0, 3.0], vec![4.0], vec![5.0], vec![6.0]]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    assert_eq!(sent.only().metric_data_queries().len(), 4, "the next page repeats the same queries");
}

#[tokio::test]
async fn an_aws_error_is_classified_not_swallowed() {
    let denied = mock!(Client::get_metric_data).then_error(|| {
        aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError::generic(crate::testing::access_denied())
    });
    let source = CloudWatchMetrics {
        client: crate::aws::Placed::only(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&denied])),
    };
    let queries = queries(&analysis(), &context()).expect("queries");
    let err = source.series(&queries, 0, 600).await.expect_err("denied");
    assert!(matches!(err, Error::AwsPermanent { operation: "GetMetricData", .. }), "{err:?}");
}

/// Series served from memory, in query order.
struct Served(Vec<Vec<f64>>);

#[async_trait]
impl MetricsSource for Served {
    async fn series(&self, _: &[SeriesQuery], _: i64, _: i64) -> Result<Vec<Vec<f64>>> {
        Ok(self.0.clone())
    }
}

fn latency(n: u32, scale: f64) -> Vec<f64> {
    (0..n).map(|i| (0.100 + f64::from(i) * 0.001) * scale).collect()
}

#[tokio::test]
async fn forty_percent_slower_green_fails_naming_the_metric() {
    let served = Served(vec![latency(10, 1.0), latency(10, 1.4), vec![1.0; 10], vec![1.0; 10]]);
    let j = judge_window(&served, &analysis(), &context(), 0, 600).await.expect("judged");
    assert_eq!(j.outcome, Outcome::Fail);
    assert_eq!(j.metrics[0].verdict, Verdict::High);
    assert!(j.reason.starts_with("critical metric failed: TargetResponseTime Average High: +"), "{}", j.reason);
}

#[tokio::test]
async fn unchanged_green_passes_and_too_few_samples_is_no_data() {
    let same = Served(vec![latency(10, 1.0), latency(10, 1.0), vec![1.0; 10], vec![1.0; 10]]);
    let j = judge_window(&same, &analysis(), &context(), 0, 600).await.expect("judged");
    assert_eq!((j.outcome, j.score), (Outcome::Pass, Some(100.0)));
    let few = Served(vec![latency(3, 1.0), latency(3, 2.0), vec![], vec![]]);
    let j = judge_window(&few, &analysis(), &context(), 0, 600).await.expect("judged");
    assert_eq!(j.outcome, Outcome::NoData);
}

#[tokio::test]
async fn a_source_answering_the_wrong_number_of_series_is_an_error() {
    let short = Served(vec![vec![1.0]]);
    assert!(judge_window(&short, &analysis(), &context(), 0, 600).await.is_err());
}

#[test]
fn alb_dimensions_come_from_the_arns() {
    let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/6d0ecf831eec9f09";
    assert_eq!(
        alb_dimensions(tg, LISTENER).expect("dims"),
        vec![
            ("TargetGroup".to_string(), "targetgroup/web-blue/6d0ecf831eec9f09".to_string()),
            ("LoadBalancer".to_string(), "app/demo/50dc6c495c0c9188".to_string())
        ]
    );
    let err = alb_dimensions(tg, "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/x/1").expect_err("bad");
    assert!(err.to_string().contains("context.production.listener_arn"), "{err}");
    assert!(alb_dimensions("not-an-arn", LISTENER).is_err());
}

/// An error rate on ALB metrics, with the latency metric before it (so the rate is metric 1).
const RATE_PLAN: &str = r#"{"steps":[{"weight":10,"bake":"13m"},{"weight":100}],"analysis":{"metrics":[
  {"metric":"TargetResponseTime","direction":"increase","tolerance":0.1},
  {"name":"5xx-rate","expression":"errors / requests","using":{
    "errors":{"metric":"HTTPCode_Target_5XX_Count","statistic":"Sum"},
    "requests":{"metric":"RequestCount","statistic":"Sum"}},"direction":"increase","tolerance":0.5}]}}"#;

#[tokio::test]
async fn a_ratio_reads_its_inputs_unreturned_and_answers_with_the_filled_expression() {
    let sent: Sent<GetMetricDataInput> = Sent::default();
    let rule = mock!(Client::get_metric_data).match_requests(sent.recorder()).then_output(|| {
        GetMetricDataOutput::builder()
            .metric_data_results(result("m0_blue", &[0.1]))
            .metric_data_results(result("m0_green", &[0.1]))
            .metric_data_results(result("m1_blue", &[0.01, 0.02]))
            .metric_data_results(result("m1_green", &[0.0, 0.0]))
            .build()
    });
    let source = CloudWatchMetrics {
        client: crate::aws::Placed::only(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule])),
    };
    let analysis = Plan::parse(RATE_PLAN).unwrap_or_else(|e| panic!("{e}")).analysis.expect("analysis");
    let queries = queries(&analysis, &context()).expect("queries");
    let series = source.series(&queries, 36_060, 36_660).await.expect("series");
    assert_eq!(series[3], vec![0.0, 0.0]);

    let request = sent.only();
    let qs = request.metric_data_queries();
    let ids: Vec<&str> = qs.iter().filter_map(|q| q.id()).collect();
    assert_eq!(
        ids,
        [
            "m0_blue",
            "m0_green",
            "m1_blue_errors",
            "m1_blue_requests",
            "m1_blue",
            "m1_green_errors",
            "m1_green_requests",
            "m1_green"
        ]
    );
    // The inputs are read per side, not returned; the expression answers, counting a minute
    // without a 5XX data point ("only reported when non-zero") as 0 errors.
    let by_id = |id: &str| qs.iter().find(|q| q.id() == Some(id)).expect(id);
    for id in ["m1_blue_errors", "m1_blue_requests", "m1_green_errors", "m1_green_requests"] {
        assert_eq!(by_id(id).return_data(), Some(false), "{id}");
        assert_eq!(by_id(id).metric_stat().and_then(|s| s.stat()), Some("Sum"), "{id}");
        assert_eq!(by_id(id).metric_stat().and_then(|s| s.period()), Some(60), "{id}");
    }
    assert_eq!(
        by_id("m1_green_errors").metric_stat().and_then(|s| s.metric()).and_then(|m| m.metric_name()),
        Some("HTTPCode_Target_5XX_Count")
    );
    assert_eq!(dims(by_id("m1_green_requests"))[0].1, "targetgroup/web-green/1e2f3a4b5c6d7e8f");
    assert_eq!(by_id("m1_blue").expression(), Some("FILL(m1_blue_errors, 0) / FILL(m1_blue_requests, 0)"));
    assert_eq!(by_id("m1_green").expression(), Some("FILL(m1_green_errors, 0) / FILL(m1_green_requests, 0)"));
    assert!(by_id("m1_green").metric_stat().is_none());
    assert_eq!((by_id("m1_green").return_data(), by_id("m0_green").return_data()), (Some(true), Some(true)));
}

#[tokio::test]
async fn a_count_without_data_points_is_zero_errors_and_passes() {
    // A custom count judged as is (missing: zero): green's error count has no data point in any
    // minute (nothing counted), blue had a few errors. Taken as returned it was NoData (rollback).
    let plan = r#"{"steps":[{"weight":10,"bake":"10m"},{"weight":100}],"analysis":{"min_samples":5,"metrics":[
      {"name":"errors","namespace":"Shop","metric":"Errors","missing":"zero","dimensions":{"Service":"web"},
       "version_dimension":"Version","blue":"v1","green":"v2","statistic":"Maximum","direction":"increase",
       "tolerance":0.5,"critical":true}]}}"#;
    let analysis = Plan::parse(plan).unwrap_or_else(|e| panic!("{e}")).analysis.expect("analysis");
    let served = Served(vec![vec![1.0, 2.0], vec![]]);
    let j = judge_window(&served, &analysis, &context(), 36_000, 36_600).await.expect("judged");
    assert_eq!(j.outcome, Outcome::Pass, "{}", j.reason);
    assert_eq!((j.metrics[0].baseline_n, j.metrics[0].canary_n), (10, 10));
    // and the query asks CloudWatch to fill too
    let q = &queries(&analysis, &context()).expect("queries")[1];
    assert_eq!((q.id.as_str(), q.expression.as_deref()), ("m0_green", Some("FILL(m0_green_raw, 0)")));
    assert_eq!(q.inputs[0].id, "m0_green_raw");
    // A window too short for a period reads nothing and is NoData.
    let j = judge_window(&Served(vec![]), &analysis, &context(), 36_000, 36_000).await.expect("judged");
    assert_eq!(j.outcome, Outcome::NoData);
}

#[test]
fn the_bake_window_ends_lag_before_the_bake_on_minute_boundaries() {
    let plan = Plan::parse(RATE_PLAN).unwrap_or_else(|e| panic!("{e}"));
    let state = crate::execution::RolloutState {
        index: 0,
        weight: 10,
        started_at: 0,
        bake_until: Some(36_810), // a 13m bake from 10:00:30 to 10:13:30
        judgements: vec![],
    };
    assert_eq!(bake_window(&plan, &state), Some([36_060, 36_660]));
}

#[tokio::test]
async fn the_observed_split_reads_both_load_balancers_request_counts_over_the_last_whole_minute() {
    let source = crate::testing::FakeMetrics::default()
        .with_series("requests_blue", vec![70.0, 10.0])
        .with_series("requests_green", vec![20.0]);
    let ctx = crate::testing::dns_context();
    // 08:40:16 → the minute 08:39:00–08:40:00.
    let split = observed_split(&source, &ctx, 1_796_546_416, 50).await.unwrap().expect("a DNS route");
    assert_eq!(split.window, [1_796_546_340, 1_796_546_400]);
    assert_eq!((split.blue_requests, split.green_requests, split.green_percent), (80.0, 20.0, Some(20.0)));
    assert_eq!(split.set_weight, 50);
    assert_eq!(
        source.windows(),
        vec![(vec!["requests_blue".into(), "requests_green".into()], 1_796_546_340, 1_796_546_400)]
    );
    let crate::execution::Route::DnsWeighted { blue, green, .. } = &ctx.production else { panic!("DNS route") };
    let q = observed_split_queries(blue, green).unwrap();
    assert_eq!(q[1].inputs[0].metric_name, "RequestCount");
    assert_eq!(q[1].inputs[0].dimensions, vec![("LoadBalancer".to_string(), "app/r53-private-green/1".to_string())]);
    // A listener's weights are the split: nothing read.
    assert_eq!(observed_split(&source, &crate::testing::context(), 0, 50).await.unwrap(), None);
    assert_eq!(source.windows().len(), 1);
}

#[tokio::test]
async fn a_minute_without_requests_is_zero_requests_and_no_share() {
    let source = crate::testing::FakeMetrics::default();
    let split = observed_split(&source, &crate::testing::dns_context(), 1_796_546_416, 10).await.unwrap().unwrap();
    assert_eq!(split.green_percent, None);
    // Written as 0, not -0 (an empty f64 sum is -0.0).
    assert_eq!(serde_json::to_value(&split).unwrap()["blue_requests"].to_string(), "0.0");
}

#[tokio::test]
async fn releases_in_two_regions_are_read_with_one_request_in_each() {
    let sent: Sent<GetMetricDataInput> = Sent::default();
    let rule = mock!(Client::get_metric_data).match_requests(sent.recorder()).then_output(|| {
        GetMetricDataOutput::builder()
            .metric_data_results(result("requests_blue", &[70.0]))
            .metric_data_results(result("requests_green", &[30.0]))
            .build()
    });
    let source = CloudWatchMetrics {
        client: crate::aws::Placed::only(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&rule])),
    };
    let mut ctx = crate::testing::dns_context();
    let crate::execution::Route::DnsWeighted { green, .. } = &mut ctx.production else { panic!("DNS route") };
    green.region = Some("eu-west-1".into());
    let split = observed_split(&source, &ctx, 1_796_546_416, 50).await.unwrap().expect("a DNS route");
    assert_eq!((split.blue_requests, split.green_requests), (70.0, 30.0));
    // CloudWatch is regional: blue's query in the caller's Region, green's in eu-west-1, apart.
    assert_eq!(rule.num_calls(), 2);
    let ids: Vec<Vec<String>> = sent
        .all()
        .iter()
        .map(|r| r.metric_data_queries().iter().filter_map(|q| q.id().map(str::to_string)).collect())
        .collect();
    assert_eq!(ids, vec![vec!["requests_blue".to_string()], vec!["requests_green".to_string()]]);
}
