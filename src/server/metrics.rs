//! Prometheus metrics: requests by route and status, request latency, and
//! the store's commit batch sizes.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::directory::DirectoryResult;
use crate::directory::fleet::FleetGauge;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::directory::store::BATCH_BUCKETS;
use crate::directory::store::CommitStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// A SAML sign-in's outcome: `ok`, or the rule that refused it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInLabels {
    pub result: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub sign_ins: Family<SignInLabels, Counter>,
    /// SCIM requests without a valid token: logged without their bodies,
    /// and counted here so a flood shows.
    pub scim_unauthenticated: Counter,
    /// The clusters' node gauges, read at most once every `FLEET_FRESH`.
    pub fleet: FleetCache,
}

/// How long the clusters' node gauges are kept: every scrape meanwhile
/// gets them, so that `/metrics` costs the same however many scrape it
/// and however large the fleet (Prometheus scrapes every 15 s or more).
pub const FLEET_FRESH: Duration = Duration::from_secs(10);

/// The clusters' node gauges, kept for `FLEET_FRESH` and read by one
/// request at a time: one store reader at most, never every one (16
/// scrapes at once, each reading 2,000 nodes, once held every reader and
/// stalled SCIM requests for 18 s).
#[derive(Default)]
pub struct FleetCache {
    kept: Mutex<Option<(tokio::time::Instant, Arc<Vec<FleetGauge>>)>>,
    /// Held while reading; those that come meanwhile get what was kept.
    reading: tokio::sync::Mutex<()>,
    /// Reads since the start: `roster_metrics_fleet_reads_total`.
    reads: AtomicU64,
}

impl FleetCache {
    fn kept(&self, fresh_only: bool) -> Option<Arc<Vec<FleetGauge>>> {
        let kept = self.kept.lock().ok()?;
        let (at, gauges) = kept.as_ref()?;
        (!fresh_only || at.elapsed() < FLEET_FRESH).then(|| gauges.clone())
    }

    /// The gauges: those kept while fresh, else read by `read` (by one
    /// caller; the others meanwhile get the last ones kept, or wait for
    /// the first read).
    pub async fn gauges<F, Fut>(&self, read: F) -> Arc<Vec<FleetGauge>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = DirectoryResult<Vec<FleetGauge>>>,
    {
        if let Some(g) = self.kept(true) {
            return g;
        }
        let _one = match self.reading.try_lock() {
            Ok(guard) => guard,
            Err(_) => match self.kept(false) {
                Some(g) => return g,
                None => self.reading.lock().await,
            },
        };
        if let Some(g) = self.kept(true) {
            return g;
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let gauges = match read().await {
            Ok(g) => Arc::new(g),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the clusters' nodes for /metrics");
                return self.kept(false).unwrap_or_default();
            }
        };
        if let Ok(mut kept) = self.kept.lock() {
            *kept = Some((tokio::time::Instant::now(), gauges.clone()));
        }
        gauges
    }

    /// How many times the gauges were read.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// What `/metrics` shows besides its registry: counters kept elsewhere.
pub struct Extra<'a> {
    pub commits: CommitStats,
    pub scim_log_dropped: u64,
    pub fleet: &'a [FleetGauge],
    pub feed_wakeups: u64,
    /// Reports of new nodes refused at their cluster's cap.
    pub node_reports_dropped: u64,
    /// Long polls answered at once, over a cap.
    pub long_polls_refused: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        registry.register(
            "roster_http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "roster_http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let sign_ins = Family::<SignInLabels, Counter>::default();
        registry.register(
            "roster_saml_sign_ins",
            "SAML sign-ins at the ACS by result (ok, or the check that refused them)",
            sign_ins.clone(),
        );
        let scim_unauthenticated = Counter::default();
        registry.register(
            "roster_scim_unauthenticated",
            "SCIM requests refused for want of a valid token (401); the provisioning log keeps no body for them",
            scim_unauthenticated.clone(),
        );
        Metrics {
            sign_ins,
            scim_unauthenticated,
            registry: Mutex::new(registry),
            requests,
            latency,
            fleet: FleetCache::default(),
        }
    }

    /// The text exposition format, with the store's commit statistics.
    pub fn render(&self, extra: Extra<'_>) -> String {
        let Extra {
            commits,
            scim_log_dropped,
            fleet,
            feed_wakeups,
            node_reports_dropped,
            long_polls_refused,
        } = extra;
        let mut out = String::new();
        if let Ok(reg) = self.registry.lock() {
            let _ = encode(&mut out, &reg);
        }
        // encode() ends with "# EOF"; the store's histogram goes before it.
        if let Some(stripped) = out.strip_suffix("# EOF\n") {
            out = stripped.to_string();
        }
        let _ = writeln!(
            out,
            "# HELP roster_store_commit_batch_size Write jobs committed per transaction (group commit)."
        );
        let _ = writeln!(out, "# TYPE roster_store_commit_batch_size histogram");
        let mut cumulative = 0;
        for (bound, n) in BATCH_BUCKETS.iter().zip(commits.batch_buckets.iter()) {
            cumulative += n;
            let _ = writeln!(
                out,
                "roster_store_commit_batch_size_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "roster_store_commit_batch_size_bucket{{le=\"+Inf\"}} {}",
            commits.commits
        );
        let _ = writeln!(out, "roster_store_commit_batch_size_sum {}", commits.jobs);
        let _ = writeln!(
            out,
            "roster_store_commit_batch_size_count {}",
            commits.commits
        );
        let _ = writeln!(
            out,
            "# HELP roster_scim_log_dropped Provisioning-log entries dropped because the write queue was full."
        );
        let _ = writeln!(out, "# TYPE roster_scim_log_dropped counter");
        let _ = writeln!(out, "roster_scim_log_dropped_total {scim_log_dropped}");
        let _ = writeln!(
            out,
            "# HELP roster_feed_wakeups Change-feed long polls woken by a commit that touched their cluster."
        );
        let _ = writeln!(out, "# TYPE roster_feed_wakeups counter");
        let _ = writeln!(out, "roster_feed_wakeups_total {feed_wakeups}");
        let counters = [
            (
                "roster_node_reports_dropped",
                "Reports of new nodes refused because their cluster had as many nodes as it may keep (--max-nodes-per-cluster).",
                node_reports_dropped,
            ),
            (
                "roster_feed_long_polls_refused",
                "Change-feed long polls answered at once with 429 because the long polls of their org or of the server were at their cap.",
                long_polls_refused,
            ),
            (
                "roster_metrics_fleet_reads",
                "Reads of the clusters' nodes for /metrics (each serves the scrapes of the next 10 seconds).",
                self.fleet.reads(),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name}_total {value}");
        }
        // What the clusters' agents last reported (`roster cluster status`).
        type Pick = fn(&FleetGauge) -> usize;
        let families: [(&str, &str, Pick); 5] = [
            (
                "roster_cluster_nodes",
                "Nodes whose agent has reported.",
                |g| g.nodes,
            ),
            (
                "roster_cluster_nodes_behind",
                "Nodes with changes to the cluster yet to apply.",
                |g| g.behind,
            ),
            (
                "roster_cluster_nodes_stale",
                "Nodes not heard from for two minutes.",
                |g| g.stale,
            ),
            (
                "roster_cluster_nodes_failing",
                "Nodes whose agent's last pass failed.",
                |g| g.failing,
            ),
            (
                "roster_cluster_nodes_held",
                "Nodes holding back a mass removal.",
                |g| g.held,
            ),
        ];
        for (name, help, pick) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for g in fleet {
                let _ = writeln!(
                    out,
                    "{name}{{org=\"{}\",cluster=\"{}\"}} {}",
                    g.org,
                    g.cluster,
                    pick(g)
                );
            }
        }
        out.push_str("# EOF\n");
        out
    }
}
