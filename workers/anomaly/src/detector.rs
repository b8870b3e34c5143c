//! The detector: one per series, fed points in time order, each answered at
//! once from what came before it (no look-ahead).
//!
//! Every point is predicted by a few simple forecasters (the last value, the
//! value a day and a week earlier moved by how the series has drifted since),
//! and the one that has erred least lately gives the expected value and the
//! band. How far the point is from it, in units of that forecaster's usual
//! error, is the point's surprise; the score says how unusual the recent
//! surprise is against the series' own history of surprises, so a noisy series
//! and a quiet one are judged on their own terms, and a new normal stops
//! scoring once it is the usual.

use crate::likelihood::Likelihood;
use crate::season::{Season, DAY, WEEK};

/// The one configuration, for every series.
#[derive(Debug, Clone, Copy)]
pub struct DetectorConfig {
    /// Points seen before any score: the detector says it is warming up.
    pub warmup: u64,
    /// Weight of each new error in a forecaster's usual error.
    pub error_alpha: f64,
    /// Surprises averaged before they are judged (a lasting change scores,
    /// one odd point less).
    pub short: usize,
    /// Surprises the recent ones are judged against.
    pub history: usize,
    /// Points after a detection that are not reported again: one change is
    /// one anomaly, however long it takes the detector to get used to it.
    pub quiet: u64,
    /// The score a detection starts the quiet period at.
    pub detection: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            warmup: 150,
            error_alpha: 0.03,
            short: 6,
            history: 2_000,
            quiet: 100,
            detection: 0.5,
        }
    }
}

/// What the detector says of one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// In [0, 1]: how unusual the series is now, against its own history;
    /// 0 during the quiet period after a detection (one change, one report).
    pub score: f64,
    /// The score before the quiet period: what a live alert, which debounces
    /// with its own `for`, judges by.
    pub raw_score: f64,
    /// The value expected, and the band it usually stays within.
    pub expected: f64,
    pub low: f64,
    pub high: f64,
    /// False while warming up: no score yet.
    pub warm: bool,
}

/// How far either side of one period earlier a seasonal point may be matched
/// (seconds): a daily job that runs a little late is still the daily job.
const SEASON_REACH: i64 = 40 * 60;
/// Weight of each new point in the level.
const LEVEL_ALPHA: f64 = 0.1;
/// How wide the band is, in usual errors of the forecaster.
const BAND: f64 = 3.0;
/// Surprises above this are taken as this (one wild point must not blind the
/// history of surprises for long).
const MAX_SURPRISE: f64 = 50.0;

/// A forecaster and how much it has erred lately.
#[derive(Debug, Clone, Copy, Default)]
struct Forecast {
    /// Mean absolute error, exponentially weighted; `None` until it has erred once.
    error: Option<f64>,
}

impl Forecast {
    fn learn(&mut self, predicted: Option<f64>, actual: f64, alpha: f64) {
        if let Some(p) = predicted {
            let e = (actual - p).abs();
            self.error = Some(match self.error {
                Some(old) => old + alpha * (e - old),
                None => e,
            });
        }
    }
}

#[derive(Debug, Clone)]
pub struct Detector {
    config: DetectorConfig,
    seen: u64,
    last: Option<f64>,
    /// Mean absolute value, for a floor under the usual errors.
    magnitude: f64,
    day: Season,
    week: Season,
    /// The recent level: an exponentially weighted mean.
    level: Option<f64>,
    forecasts: [Forecast; 4],
    likelihood: Likelihood,
    quiet_left: u64,
}

impl Detector {
    pub fn new(config: DetectorConfig) -> Self {
        Self {
            config,
            seen: 0,
            last: None,
            magnitude: 0.0,
            day: Season::new(DAY),
            week: Season::new(WEEK),
            level: None,
            forecasts: [Forecast::default(); 4],
            likelihood: Likelihood::new(config.short, config.history),
            quiet_left: 0,
        }
    }

    /// The verdict on `value` at `at` (Unix seconds), then learns from it.
    /// Points are expected in time order.
    pub fn observe(&mut self, at: i64, value: f64) -> Verdict {
        let predicted = [
            self.last,
            self.level,
            self.day.predict(at),
            self.week.predict(at),
        ];
        let best = (0..predicted.len())
            .filter(|&i| predicted[i].is_some() && self.forecasts[i].error.is_some())
            .min_by(|&a, &b| {
                let error = |i: usize| self.forecasts[i].error.unwrap_or(f64::INFINITY);
                error(a).total_cmp(&error(b))
            });
        let floor = 1e-9 + 1e-3 * self.magnitude;
        let (expected, usual) = match best {
            Some(i) => (
                predicted[i].unwrap_or(value),
                self.forecasts[i].error.unwrap_or(0.0).max(floor),
            ),
            None => (self.last.unwrap_or(value), floor),
        };
        // A point any forecaster explains is no surprise: the least surprise
        // among them, each in its own usual error.
        let near = [
            self.last,
            self.level,
            self.day.nearest(at, value, SEASON_REACH),
            self.week.nearest(at, value, SEASON_REACH),
        ];
        let surprise = (0..near.len())
            .filter_map(|i| {
                let p = near[i]?;
                let e = self.forecasts[i].error?.max(floor);
                Some((value - p).abs() / e)
            })
            .reduce(f64::min)
            .unwrap_or(0.0)
            .min(MAX_SURPRISE);
        let score = self.likelihood.score(surprise);

        for (f, p) in self.forecasts.iter_mut().zip(predicted) {
            f.learn(p, value, self.config.error_alpha);
        }
        self.day.learn(at, value);
        self.week.learn(at, value);
        self.last = Some(value);
        self.level = Some(self.level.map_or(value, |l| l + LEVEL_ALPHA * (value - l)));
        self.seen += 1;
        self.magnitude += (value.abs() - self.magnitude) / (self.seen.min(1_000) as f64);

        let warm = self.seen > self.config.warmup;
        let mut reported = if warm { score } else { 0.0 };
        if self.quiet_left > 0 {
            self.quiet_left -= 1;
            reported = 0.0;
        } else if reported >= self.config.detection {
            self.quiet_left = self.config.quiet;
        }
        Verdict {
            score: reported,
            raw_score: if warm { score } else { 0.0 },
            expected,
            low: expected - BAND * usual,
            high: expected + BAND * usual,
            warm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: impl IntoIterator<Item = f64>, step: i64) -> Vec<Verdict> {
        let mut d = Detector::new(DetectorConfig::default());
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| d.observe(i as i64 * step, v))
            .collect()
    }

    /// A small deterministic noise in [-1, 1].
    fn noise(i: usize) -> f64 {
        let x = (i as u64)
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
    }

    #[test]
    fn nothing_scores_while_warming_up() {
        let v = run((0..100).map(|i| if i == 50 { 1e6 } else { noise(i) }), 300);
        assert!(v.iter().all(|p| !p.warm && p.score == 0.0));
    }

    #[test]
    fn a_spike_scores_high_and_steady_noise_does_not() {
        let values = (0..2_000).map(|i| 100.0 + noise(i) + if i == 1_500 { 40.0 } else { 0.0 });
        let v = run(values, 300);
        let spike = v[1_500].score;
        let calm = v[500..1_490].iter().map(|p| p.score).fold(0.0, f64::max);
        assert!(spike > 0.5, "spike {spike}");
        assert!(calm < 0.5, "calm {calm}");
        assert!(v[1_400].low < 100.0 && v[1_400].high > 100.0);
    }

    #[test]
    fn a_new_level_stops_scoring_once_it_is_the_usual() {
        let values = (0..3_000).map(|i| noise(i) + if i >= 1_000 { 30.0 } else { 0.0 });
        let v = run(values, 300);
        assert!(v[1_000..1_010].iter().any(|p| p.score > 0.5), "the shift");
        let later = v[1_500..].iter().map(|p| p.score).fold(0.0, f64::max);
        assert!(later < 0.5, "later {later}");
    }

    #[test]
    fn a_daily_cycle_is_expected_once_learned() {
        // Five-minute points, a strong daily wave; day four is like the others.
        let step = 300;
        let per_day = 288;
        let wave = |i: usize| {
            100.0 * (2.0 * std::f64::consts::PI * (i % per_day) as f64 / per_day as f64).sin()
                + noise(i)
        };
        let v = run((0..per_day * 5).map(wave), step);
        let day4 = &v[per_day * 3..per_day * 4];
        let worst = day4.iter().map(|p| p.score).fold(0.0, f64::max);
        assert!(worst < 0.5, "worst {worst}");
        let i = per_day * 3 + 72;
        let band = (v[i].low, v[i].high);
        assert!(band.0 < wave(i) && wave(i) < band.1, "{band:?}");
        assert!(band.1 - band.0 < 20.0, "a narrow band: {band:?}");
    }
}
