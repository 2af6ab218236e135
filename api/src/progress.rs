//! Progress output on stderr: a live bar on a terminal, plain step lines otherwise (CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports steps and counts of a long job.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    job: &'static str,
    step: Option<(String, Instant)>,
    last_line: Instant,
}

impl Progress {
    /// A reporter for `job` (`generate`, `ingest`, `link`, …).
    pub fn new(job: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix(job);
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Progress {
            bar,
            job,
            step: None,
            last_line: Instant::now(),
        }
    }

    /// A new step begins; the previous one is reported done with its duration.
    pub fn step(&mut self, name: &str) {
        self.finish_step();
        self.step = Some((name.to_owned(), Instant::now()));
        match &self.bar {
            Some(b) => b.set_message(format!("{name}…")),
            None => eprintln!("[{}] {name}…", self.job),
        }
    }

    /// A count within the current step (rows, accounts); plain output at most every 2 s.
    pub fn count(&mut self, what: &str, n: u64) {
        match &self.bar {
            Some(b) => b.set_message(format!(
                "{} {n} {what}",
                self.step.as_ref().map_or("", |s| s.0.as_str())
            )),
            None => {
                if self.last_line.elapsed() >= Duration::from_secs(2) {
                    eprintln!("[{}]   {n} {what}", self.job);
                    self.last_line = Instant::now();
                }
            }
        }
    }

    fn finish_step(&mut self) {
        if let Some((name, t)) = self.step.take() {
            let line = format!(
                "[{}] {name}: done in {:.2} s",
                self.job,
                t.elapsed().as_secs_f64()
            );
            match &self.bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
    }

    /// Ends the job.
    pub fn finish(mut self) {
        self.finish_step();
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
