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

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.buckets[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    /// Appends the histogram's lines for the label set `labels` (`k="v",…`).
    fn render(&self, o: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let n = self.buckets.get(i).copied().unwrap_or(0);
            o.push_str(&format!("{name}_bucket{{{labels},le=\"{b}\"}} {n}\n"));
        }
        o.push_str(&format!(
            "{name}_bucket{{{labels},le=\"+Inf\"}} {}\n",
            self.count
        ));
        o.push_str(&format!("{name}_sum{{{labels}}} {}\n", self.sum));
        o.push_str(&format!("{name}_count{{{labels}}} {}\n", self.count));
    }
}

/// The stages of a write batch the writer task times (see `writer` in `serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePhase {
    /// From a write being queued to the writer taking it into a batch.
    Queued,
    /// The batch's transaction, from its start to its commit returning.
    Commit,
    /// Applying the batch to the live graph and scoring it, after the commit.
    Graph,
}

impl WritePhase {
    const ALL: [WritePhase; 3] = [WritePhase::Queued, WritePhase::Commit, WritePhase::Graph];

    fn label(self) -> &'static str {
        match self {
            WritePhase::Queued => "queued",
            WritePhase::Commit => "commit",
            WritePhase::Graph => "graph",
        }
    }
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
    /// Seconds per write batch stage, indexed like [`WritePhase::ALL`].
    write_phases: Mutex<[Histogram; 3]>,
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
            let h = m.entry((method.to_owned(), route.to_owned())).or_default();
            h.observe(seconds);
        }
    }

    /// Records how long one write (`Queued`) or one batch (`Commit`, `Graph`) spent in a stage.
    pub fn observe_write(&self, phase: WritePhase, seconds: f64) {
        if let Ok(mut h) = self.write_phases.lock() {
            h[phase as usize].observe(seconds);
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
                h.render(&mut o, "ringfence_http_request_duration_seconds", &l);
            }
        }
        o.push_str(
            "# HELP ringfence_write_phase_seconds Time writes spend queued for the writer (per write), \
             in their batch's commit and in applying the batch to the graph (per batch).\n",
        );
        o.push_str("# TYPE ringfence_write_phase_seconds histogram\n");
        if let Ok(h) = self.write_phases.lock() {
            for p in WritePhase::ALL {
                let l = format!("phase=\"{}\"", p.label());
                h[p as usize].render(&mut o, "ringfence_write_phase_seconds", &l);
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
