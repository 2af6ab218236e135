//! Prometheus metrics, kept by hand (counters and a latency histogram per route), rendered in
//! the text exposition format at `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// A monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

/// The service's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by (method, route, status).
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Latency by (method, route).
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    /// Writes applied to the live graph.
    pub graph_writes: Counter,
    /// Completed background re-links.
    pub relinks: Counter,
    /// Write batches whose transaction failed (their writes answered 503).
    pub failed_batches: Counter,
    /// Restarts of the writer task after it panicked.
    pub writer_restarts: Counter,
}

impl Metrics {
    /// Records one request. `route` is the matched route template, never the raw path (ids
    /// would blow up the label space).
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m
                .entry((method.to_owned(), route.to_owned()))
                .or_insert_with(|| Histogram {
                    buckets: vec![0; BUCKETS.len()],
                    ..Histogram::default()
                });
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.buckets[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// The text exposition.
    pub fn render(&self, entities: u64, properties: u64) -> String {
        let mut o = String::new();
        o.push_str("# HELP ringfence_http_requests_total HTTP requests by route and status.\n");
        o.push_str("# TYPE ringfence_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                o.push_str(&format!(
                    "ringfence_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}\n"
                ));
            }
        }
        o.push_str("# HELP ringfence_http_request_duration_seconds HTTP request latency.\n");
        o.push_str("# TYPE ringfence_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for ((method, route), h) in m.iter() {
                let l = format!("method=\"{method}\",route=\"{route}\"");
                for (i, b) in BUCKETS.iter().enumerate() {
                    o.push_str(&format!(
                        "ringfence_http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {}\n",
                        h.buckets[i]
                    ));
                }
                o.push_str(&format!(
                    "ringfence_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}\n",
                    h.count
                ));
                o.push_str(&format!(
                    "ringfence_http_request_duration_seconds_sum{{{l}}} {}\n",
                    h.sum
                ));
                o.push_str(&format!(
                    "ringfence_http_request_duration_seconds_count{{{l}}} {}\n",
                    h.count
                ));
            }
        }
        for (name, help, kind, v) in [
            (
                "ringfence_graph_entities",
                "Entities in the live graph.",
                "gauge",
                entities,
            ),
            (
                "ringfence_graph_properties",
                "Property nodes in the live graph.",
                "gauge",
                properties,
            ),
            (
                "ringfence_graph_writes_total",
                "Writes applied to the live graph.",
                "counter",
                self.graph_writes.get(),
            ),
            (
                "ringfence_graph_relinks_total",
                "Completed re-links.",
                "counter",
                self.relinks.get(),
            ),
            (
                "ringfence_store_failed_batches_total",
                "Write batches whose transaction failed (each write answered 503).",
                "counter",
                self.failed_batches.get(),
            ),
            (
                "ringfence_writer_restarts_total",
                "Restarts of the writer task after a panic.",
                "counter",
                self.writer_restarts.get(),
            ),
        ] {
            o.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        }
        o
    }
}
