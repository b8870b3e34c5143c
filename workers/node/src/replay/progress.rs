//! The progress of a rebuild: a bar with rate and ETA on a terminal, a log line
//! every few seconds otherwise.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sightline_runtime::consumer::rebuild::Progress;

/// Draws the sum of several sources' progress until dropped.
pub struct Bar {
    task: tokio::task::JoinHandle<()>,
    bar: ProgressBar,
}

impl Bar {
    pub fn start(bars: &MultiProgress, label: &str, sources: Vec<Arc<Progress>>) -> Self {
        let bar = bars.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>9} [{bar:32}] {human_pos}/{human_len} {per_sec} ETA {eta} {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_owned());
        let (drawn, label) = (bar.clone(), label.to_owned());
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut logged = Instant::now();
            loop {
                let (read, total) = sources.iter().fold((0, 0), |(r, t), p| {
                    (
                        r + p.read.load(Ordering::Relaxed),
                        t + p.total.load(Ordering::Relaxed),
                    )
                });
                drawn.set_length(total.max(read));
                drawn.set_position(read);
                if drawn.is_hidden() && logged.elapsed() >= Duration::from_secs(5) {
                    logged = Instant::now();
                    let rate = read as f64 / started.elapsed().as_secs_f64().max(1e-3);
                    tracing::info!(projection = %label, read, total, rate = rate.round(), "rebuilding");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { task, bar }
    }

    pub fn finish(self) {
        self.task.abort();
        self.bar.finish();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.task.abort();
    }
}
