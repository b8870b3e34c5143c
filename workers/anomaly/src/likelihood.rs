//! How unusual the recent surprise is: the average of the last few surprises,
//! against the history of those averages, as the probability of one this high
//! under a normal fitted to the history (in the manner of the anomaly
//! likelihood of Ahmad et al., 2017), on a log scale.

use std::collections::VecDeque;

/// Spread of the history never taken below this (surprises are in usual
/// errors, so a series that never surprises is judged as a little noisy).
const MIN_SPREAD: f64 = 0.05;
/// Tail probabilities below this all score 1.
const SMALLEST_TAIL: f64 = 1e-10;

#[derive(Debug, Clone)]
pub struct Likelihood {
    short: usize,
    history: usize,
    recent: VecDeque<f64>,
    recent_sum: f64,
    averages: VecDeque<f64>,
    sum: f64,
    sum_sq: f64,
}

impl Likelihood {
    pub fn new(short: usize, history: usize) -> Self {
        Self {
            short: short.max(1),
            history: history.max(2),
            recent: VecDeque::new(),
            recent_sum: 0.0,
            averages: VecDeque::new(),
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// The score in [0, 1] of the surprises up to `surprise`, then remembers it.
    pub fn score(&mut self, surprise: f64) -> f64 {
        self.recent.push_back(surprise);
        self.recent_sum += surprise;
        if self.recent.len() > self.short {
            self.recent_sum -= self.recent.pop_front().unwrap_or(0.0);
        }
        let average = self.recent_sum / self.recent.len() as f64;
        let n = self.averages.len() as f64;
        let score = if n < 2.0 {
            0.0
        } else {
            let mean = self.sum / n;
            let spread = (self.sum_sq / n - mean * mean).max(0.0).sqrt();
            let z = (average - mean) / spread.max(MIN_SPREAD);
            let tail = 0.5 * erfc(z / std::f64::consts::SQRT_2);
            ((tail + SMALLEST_TAIL).ln() / SMALLEST_TAIL.ln()).clamp(0.0, 1.0)
        };
        self.averages.push_back(average);
        self.sum += average;
        self.sum_sq += average * average;
        if self.averages.len() > self.history {
            let old = self.averages.pop_front().unwrap_or(0.0);
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        score
    }
}

/// The complementary error function, to about 1e-7 (the Chebyshev fit of
/// Press et al., Numerical Recipes, 6.2).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ans = t * (-x * x + poly).exp();
    if x >= 0.0 {
        ans
    } else {
        2.0 - ans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (1.0, 0.157_299_2),
            (2.0, 0.004_677_735),
            (-1.0, 1.842_700_8),
        ] {
            assert!((erfc(x) - want).abs() < 1e-6, "erfc({x})");
        }
    }

    #[test]
    fn the_usual_scores_low_and_a_lasting_rise_high() {
        let mut l = Likelihood::new(5, 500);
        let usual: Vec<f64> = (0..500)
            .map(|i| 0.5 + 0.4 * ((i * 7 % 11) as f64 / 11.0))
            .collect();
        let mut worst: f64 = 0.0;
        for (i, s) in usual.iter().enumerate() {
            let score = l.score(*s);
            if i > 50 {
                worst = worst.max(score);
            }
        }
        assert!(worst < 0.5, "worst {worst}");
        let risen: Vec<f64> = (0..5).map(|_| l.score(6.0)).collect();
        assert!(risen[4] > 0.9, "{risen:?}");
    }
}
