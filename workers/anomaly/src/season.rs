//! A seasonal forecaster: the value one period earlier, moved by how the series
//! has drifted against it lately. Points are kept by their time slot, so gaps
//! in a series do not shift the phase.

/// Seconds in a day and in a week.
pub const DAY: i64 = 86_400;
pub const WEEK: i64 = 7 * DAY;

/// Slots a period is cut into at most (a week of 30-second points).
const MAX_SLOTS: i64 = 20_160;
/// Weight of each new difference in the drift.
const DRIFT_ALPHA: f64 = 0.05;

#[derive(Debug, Clone)]
pub struct Season {
    period: i64,
    /// Seconds per slot, fixed once two points show the series' step.
    width: Option<i64>,
    first: Option<i64>,
    /// Per slot: the slot's start (Unix seconds) and its latest value.
    slots: Vec<Option<(i64, f64)>>,
    /// How much the series sits above its value one period earlier, lately.
    drift: f64,
}

impl Season {
    pub fn new(period: i64) -> Self {
        Self {
            period,
            width: None,
            first: None,
            slots: Vec::new(),
            drift: 0.0,
        }
    }

    fn start(&self, at: i64) -> Option<(usize, i64)> {
        let width = self.width?;
        let start = at.div_euclid(width) * width;
        let slot = start.div_euclid(width).rem_euclid(self.slots.len() as i64);
        Some((slot as usize, start))
    }

    /// The value one period before `at`, when it was seen.
    fn earlier(&self, at: i64) -> Option<f64> {
        let (slot, start) = self.start(at - self.period)?;
        match self.slots[slot] {
            Some((s, v)) if s == start => Some(v),
            _ => None,
        }
    }

    /// The forecast for `at`, when a value one period earlier is known.
    pub fn predict(&self, at: i64) -> Option<f64> {
        self.earlier(at).map(|v| v + self.drift)
    }

    /// Of the values seen within `reach` seconds of one period before `at`,
    /// the one closest to `value`, moved by the drift.
    pub fn nearest(&self, at: i64, value: f64, reach: i64) -> Option<f64> {
        let width = self.width?;
        let slots = (reach + width - 1) / width;
        (-slots..=slots)
            .filter_map(|k| self.earlier(at + k * width))
            .map(|v| v + self.drift)
            .min_by(|a, b| (a - value).abs().total_cmp(&(b - value).abs()))
    }

    pub fn learn(&mut self, at: i64, value: f64) {
        if self.width.is_none() {
            match self.first {
                Some(first) if at > first => {
                    let width = (at - first).max(self.period / MAX_SLOTS).max(1);
                    self.width = Some(width);
                    self.slots = vec![None; (self.period / width).max(1) as usize];
                }
                _ => {
                    self.first = Some(at);
                    return;
                }
            }
        }
        if let Some(before) = self.earlier(at) {
            self.drift += DRIFT_ALPHA * ((value - before) - self.drift);
        }
        if let Some((slot, start)) = self.start(at) {
            self.slots[slot] = Some((start, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_a_period_earlier_is_the_forecast_and_gaps_keep_the_phase() {
        let mut s = Season::new(DAY);
        let hour = 3_600;
        for h in 0..24 {
            // Hour 5 missing from the first day.
            if h != 5 {
                s.learn(h * hour, h as f64);
            }
        }
        assert_eq!(s.predict(DAY + 3 * hour), Some(3.0));
        assert_eq!(s.predict(DAY + 5 * hour), None, "not seen a day earlier");
        // The second day runs 10 above the first: the forecast follows.
        for h in 0..12 {
            s.learn(DAY + h * hour, h as f64 + 10.0);
        }
        let next = s.predict(2 * DAY + 3 * hour).unwrap();
        assert!(next > 13.0 + 3.0 && next < 23.0, "{next}");
    }
}
