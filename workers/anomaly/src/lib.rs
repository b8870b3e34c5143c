//! Streaming anomaly detection on time series: each point in, at once, the
//! value expected, the band it usually stays within and a score in [0, 1] of
//! how unusual the series is now, learned online with no look-ahead, one
//! configuration for every series. `nab` reads and writes the Numenta Anomaly
//! Benchmark's files, so the detector can be scored by NAB's own scorer.

mod detector;
mod likelihood;
pub mod nab;
mod season;

pub use detector::{Detector, DetectorConfig, Verdict};
