//! The `/metrics` endpoint: the metrics authsec records through the `metrics` facade (see
//! [`authsec::telemetry`]) and the gateway's own, in the Prometheus text format.
//!
//! The recorder is process-wide: the first gateway in a process installs it, later ones share
//! it. The exporter's own HTTP listener is not used; the gateway's router serves the scrape.

use std::sync::OnceLock;
use std::time::Duration;

use authsec::http::AuthSecLayer;
use authsec::telemetry;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// `authsec_gateway_upstream_errors_total{kind="unreachable"|"timeout"}`: requests the
/// gateway answered itself with 502 or 504.
pub const UPSTREAM_ERRORS: &str = "authsec_gateway_upstream_errors_total";

/// The Prometheus text format's media type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The process's Prometheus recorder, installed on first use; `None` when another `metrics`
/// recorder was installed first (the embedding application then exports the metrics itself).
/// What is recorded before installation is lost: call it before starting the validator, so
/// that the first JWKS fetch is counted.
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets_for_metric(
                Matcher::Full(telemetry::DECISION_DURATION.to_owned()),
                telemetry::DECISION_DURATION_BUCKETS,
            );
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => {
                    telemetry::describe();
                    metrics::describe_counter!(
                        UPSTREAM_ERRORS,
                        "Requests answered by the gateway with 502 (unreachable) or 504 (timeout)."
                    );
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(target: "authsec::gateway", error = %e, "Prometheus recorder not installed; /metrics answers 503");
                    None
                }
            }
        })
        .as_ref()
}

/// Drains histogram samples into their buckets every `interval` while the returned task runs
/// (the exporter's upkeep, which its HTTP listener would otherwise run).
pub fn spawn_upkeep(interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
    let handle = handle()?.clone();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    }))
}

/// Renders a scrape: sets the gauges read from the layer's validator and console policy, then
/// every metric.
pub fn render(layer: &AuthSecLayer) -> Response {
    let Some(handle) = handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder is installed in this process; export from it\n",
        )
            .into_response();
    };
    telemetry::observe(layer.validator());
    if let Some(remote) = layer.remote_policy() {
        telemetry::observe_policy(remote);
    }
    let mut resp = handle.render().into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    resp
}
