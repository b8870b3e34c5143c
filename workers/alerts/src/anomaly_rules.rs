//! `anomaly` rules: a counter series judged by the streaming detector
//! (`sightline-anomaly`, the one `sightline anomaly score` runs). At each
//! evaluation the series is read back from the counters at the rule's step over
//! its lookback and fed to a fresh detector, oldest point first; the last
//! complete step is judged. Nothing is kept between evaluations, so the bands
//! are a function of the counters alone: a replay that rebuilds the counters
//! rebuilds the same bands, and a restart or a standby judges as the active
//! evaluator did.

use serde::Serialize;
use sightline_anomaly::{Detector, DetectorConfig, Verdict};
use sightline_counters::{Reader, Window};
use time::OffsetDateTime;

use crate::error::AlertError;
use crate::measure::{fill, labels, series_of};
use crate::rules::{Condition, Rule};
use crate::state::{Labels, Sample};

/// What the detector says of one series at its last complete step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesVerdict {
    pub labels: Labels,
    /// Points the detector has seen; under its warm-up there is no score.
    pub points: u64,
    pub warm: bool,
    /// In [0, 1]; 0 while warming up.
    pub score: f64,
    pub observed: f64,
    pub expected: f64,
    pub low: f64,
    pub high: f64,
    /// The start of the step judged (Unix seconds).
    pub at: i64,
    /// The rule's summary, filled.
    pub sentence: String,
    /// What the summary may say besides the labels (`{observed}`, `{low}`...).
    #[serde(skip)]
    pub notes: Labels,
}

/// Scores below this are the series behaving as usual.
const CALM: f64 = 0.5;
/// Steps an unusual stretch is held at most: past this, what the series does
/// is its new normal.
const SETTLE: u64 = 120;

/// An unusual stretch: the last usual verdict before it, its highest score,
/// and how long it has lasted.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    calm: Verdict,
    peak: f64,
    steps: u64,
}

/// Feeds `points` (step start, value; `None`: no value, e.g. too few requests
/// for a ratio) to a fresh detector from the first point with data, and returns
/// the last verdict with the value it judged, the step's start and the points
/// seen.
///
/// The detector scores a change, and soon explains a lasting one (yesterday's
/// value, the last one): a silent service is surprising for a few minutes, not
/// for its twenty. An alert judges a state. So once a step scores unusual, the
/// stretch is held, at its highest score and with the band of the last usual
/// step, for as long as the series stays outside that band, and at most
/// [`SETTLE`] steps (then it is the new normal). One odd step followed by a
/// usual one is a stretch of one; a step the detector finds surprising but
/// within the last usual band (the return after a stretch) is usual.
pub fn judge(points: &[(i64, Option<f64>)]) -> Option<(Verdict, f64, i64, u64)> {
    let mut detector = Detector::new(DetectorConfig::default());
    let mut last = None;
    let mut calm: Option<Verdict> = None;
    let mut stretch: Option<Stretch> = None;
    let mut seen = 0;
    let mut started = false;
    for &(at, value) in points {
        let Some(v) = value else { continue };
        // Before its first event a series was not there, not at zero.
        started |= v != 0.0;
        if !started {
            continue;
        }
        seen += 1;
        let mut verdict = detector.observe(at, v);
        stretch = stretch.and_then(|s| {
            let away = v < s.calm.low || v > s.calm.high;
            (away && s.steps < SETTLE).then(|| Stretch {
                peak: s.peak.max(verdict.raw_score),
                steps: s.steps + 1,
                ..s
            })
        });
        if stretch.is_none() && verdict.warm {
            if verdict.raw_score < CALM {
                calm = Some(verdict);
            } else if let Some(c) = calm {
                if v < c.low || v > c.high {
                    stretch = Some(Stretch {
                        calm: c,
                        peak: verdict.raw_score,
                        steps: 1,
                    });
                } else {
                    // Surprising to the detector (a return, say), but within
                    // what is usual: not unusual.
                    verdict.raw_score = 0.0;
                }
            }
        }
        if let Some(s) = stretch {
            verdict.raw_score = s.peak;
            (verdict.expected, verdict.low, verdict.high) =
                (s.calm.expected, s.calm.low, s.calm.high);
        }
        last = Some((verdict, v, at, seen));
    }
    last
}

/// `value` as the rule's series is read: a share as a percentage, a count as
/// a number per step.
fn shown(value: f64, ratio: bool) -> String {
    if ratio {
        format!("{:.1}%", value * 100.0)
    } else if value.abs() >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The notes a summary may use: `{observed}`, `{expected}`, `{low}`, `{high}`,
/// `{when}` ("a Tuesday at 14:00 UTC") and `{score}`.
fn notes(verdict: &Verdict, observed: f64, at: i64, ratio: bool) -> Labels {
    let when = OffsetDateTime::from_unix_timestamp(at)
        .map(|t| format!("a {} at {:02}:{:02} UTC", t.weekday(), t.hour(), t.minute()))
        .unwrap_or_default();
    let floor = |v: f64| if v < 0.0 { 0.0 } else { v };
    Labels::from([
        ("observed".to_owned(), shown(observed, ratio)),
        ("expected".to_owned(), shown(floor(verdict.expected), ratio)),
        ("low".to_owned(), shown(floor(verdict.low), ratio)),
        ("high".to_owned(), shown(floor(verdict.high), ratio)),
        ("when".to_owned(), when),
        ("score".to_owned(), format!("{:.2}", verdict.raw_score)),
    ])
}

/// Every series of an `anomaly` rule with its verdict, warming up or not.
pub async fn verdicts(
    counters: &Reader,
    rule: &Rule,
    now: OffsetDateTime,
) -> Result<Vec<SeriesVerdict>, AlertError> {
    let Condition::Anomaly {
        per,
        series,
        denominator,
        min_denominator,
        step,
        lookback,
        ..
    } = &rule.when
    else {
        return Ok(Vec::new());
    };
    let step_s = i64::try_from(step.as_secs()).unwrap_or(i64::MAX).max(1);
    // The step now is still filling: it would look like a drop.
    let end = now.unix_timestamp().div_euclid(step_s) * step_s - 1;
    let end = OffsetDateTime::from_unix_timestamp(end)
        .map_err(|e| AlertError::Invalid(format!("rule {:?}: {e}", rule.name)))?;
    let w = Window::ending_at(end, *lookback)?;
    let per = per.as_deref();
    let mut out = Vec::new();
    for value in series_of(counters, per, w).await? {
        let v = value.as_deref();
        let filled = |selector: &str| fill(selector, per, v);
        let num = counters.count_at(&filled(series), w, step_s).await?.series;
        let points: Vec<(i64, Option<f64>)> = match denominator {
            None => num.iter().map(|&(at, n)| (at, Some(n as f64))).collect(),
            Some(den) => {
                let den = counters.count_at(&filled(den), w, step_s).await?.series;
                num.iter()
                    .zip(den)
                    .map(|(&(at, n), (_, d))| {
                        let enough = d >= *min_denominator && d > 0;
                        (at, enough.then(|| n as f64 / d as f64))
                    })
                    .collect()
            }
        };
        let Some((verdict, observed, at, seen)) = judge(&points) else {
            continue;
        };
        let labels = labels(per, v);
        let notes = notes(&verdict, observed, at, denominator.is_some());
        let mut said = labels.clone();
        said.extend(notes.clone());
        out.push(SeriesVerdict {
            sentence: crate::state::fill_summary(&rule.summary, &said, verdict.raw_score),
            labels,
            points: seen,
            warm: verdict.warm,
            score: verdict.raw_score,
            observed,
            expected: verdict.expected,
            low: verdict.low,
            high: verdict.high,
            at,
            notes,
        });
    }
    Ok(out)
}

/// The samples of an `anomaly` rule: one per warm series, its score.
pub async fn measure(
    counters: &Reader,
    rule: &Rule,
    now: OffsetDateTime,
) -> Result<Vec<Sample>, AlertError> {
    Ok(verdicts(counters, rule, now)
        .await?
        .into_iter()
        .filter(|v| v.warm)
        .map(|v| Sample {
            labels: v.labels,
            value: v.score,
            notes: v.notes,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_is_judged_from_its_first_event_and_a_burst_scores() {
        let step = 60;
        // 30 empty minutes, then two days of about 10 a minute, then 80.
        let mut points: Vec<(i64, Option<f64>)> = (0..30).map(|i| (i * step, Some(0.0))).collect();
        for i in 30..2_900u64 {
            // A deterministic noise of a few events either way.
            let x = i
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let wobble = ((x >> 33) % 7) as f64 - 3.0;
            points.push((i as i64 * step, Some(10.0 + wobble)));
        }
        let (calm, observed, _, seen) = judge(&points).unwrap();
        assert_eq!(seen, 2_870, "leading zeros are not history");
        assert!(calm.warm && calm.raw_score < 0.5, "{calm:?}");
        assert!(
            calm.low <= observed && observed <= calm.high,
            "{calm:?} {observed}"
        );
        for i in 2_900..2_905 {
            points.push((i * step, Some(80.0)));
        }
        let (burst, observed, at, _) = judge(&points).unwrap();
        assert_eq!((observed, at), (80.0, 2_904 * step));
        assert!(burst.raw_score >= 0.9, "{burst:?}");
        let n = notes(&burst, observed, at, false);
        assert_eq!(n["observed"], "80");
        assert_eq!(n["when"], "a Saturday at 00:24 UTC");
        assert!(
            burst.high < 30.0,
            "the usual band, not the burst's: {burst:?}"
        );
    }

    #[test]
    fn a_lasting_drop_is_held_while_it_lasts_and_a_lone_odd_step_is_not() {
        let step = 60;
        let usual = |i: u64| {
            let x = i
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            150.0 + ((x >> 33) % 21) as f64 - 10.0
        };
        let mut points: Vec<(i64, Option<f64>)> = (0..1_000u64)
            .map(|i| (i as i64 * step, Some(usual(i))))
            .collect();
        // Silent for 20 minutes: every one of them is still unusual.
        let mut scores = Vec::new();
        for i in 1_000..1_020u64 {
            points.push((i as i64 * step, Some(0.0)));
            scores.push(judge(&points).unwrap().0.raw_score);
        }
        assert!(scores[0] >= 0.9, "{scores:?}");
        assert!(
            scores.iter().all(|s| *s == scores[0] || *s >= 0.9),
            "held: {scores:?}"
        );
        // Back to usual: the stretch ends.
        points.push((1_020 * step, Some(usual(1_020))));
        let (back, ..) = judge(&points).unwrap();
        assert!(back.raw_score < 0.9, "{back:?}");
        // A lone odd step followed by a usual one is over at once.
        let mut lone: Vec<_> = points[..1_000].to_vec();
        lone.push((1_000 * step, Some(400.0)));
        lone.push((1_001 * step, Some(usual(1_001))));
        let (after, ..) = judge(&lone).unwrap();
        assert!(after.raw_score < 0.9, "{after:?}");
    }

    #[test]
    fn missing_points_are_skipped_and_too_short_a_series_is_not_warm() {
        let points: Vec<(i64, Option<f64>)> = (0..100)
            .map(|i| (i * 60, (i % 2 == 0).then_some(0.01)))
            .collect();
        let (v, _, _, seen) = judge(&points).unwrap();
        assert_eq!(seen, 50);
        assert!(!v.warm && v.raw_score == 0.0);
        assert!(judge(&[(0, None), (60, Some(0.0))]).is_none());
    }

    #[test]
    fn a_share_is_shown_as_a_percentage() {
        assert_eq!(shown(0.081, true), "8.1%");
        assert_eq!(shown(12.0, false), "12");
        assert_eq!(shown(2.46, false), "2.5");
    }
}
