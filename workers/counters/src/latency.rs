//! Fixed latency buckets and percentiles read back from them. Bounds grow by 25%
//! per bucket from 0.5 ms, so a percentile read back lies in the bucket of the true
//! value: within 25% of it, at any scale from sub-millisecond to minutes.

/// Upper bound of bucket 0, in milliseconds.
const FIRST_BOUND_MS: f64 = 0.5;
const GROWTH: f64 = 1.25;
/// Buckets with an upper bound; one more (`BOUNDED`) holds everything above
/// the last bound (about 260 s).
pub const BOUNDED: usize = 60;
pub const BUCKETS: usize = BOUNDED + 1;

/// The upper bound of bucket `i` in milliseconds (infinite for the overflow bucket).
pub fn upper_bound(i: usize) -> f64 {
    if i >= BOUNDED {
        f64::INFINITY
    } else {
        FIRST_BOUND_MS * GROWTH.powi(i as i32)
    }
}

fn lower_bound(i: usize) -> f64 {
    if i == 0 {
        0.0
    } else {
        upper_bound(i - 1)
    }
}

/// The bucket of a latency: the first whose upper bound is at or above it.
/// Negative and NaN latencies (bad clocks) count in bucket 0.
pub fn bucket_of(ms: f64) -> usize {
    if ms.is_nan() || ms <= FIRST_BOUND_MS {
        return 0;
    }
    let i = ((ms / FIRST_BOUND_MS).ln() / GROWTH.ln()).ceil() as usize;
    // ln rounding can land one off at an exact bound.
    let i = i.min(BOUNDED);
    if i > 0 && ms <= upper_bound(i - 1) {
        i - 1
    } else if i < BOUNDED && ms > upper_bound(i) {
        i + 1
    } else {
        i
    }
}

/// Percentiles read back from bucket counts (`counts[i]` events in bucket `i`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

impl Percentiles {
    pub fn from_counts(counts: &[u64; BUCKETS]) -> Self {
        let total: u64 = counts.iter().sum();
        let at = |q| quantile(counts, total, q);
        Self {
            count: total,
            p50: at(0.5),
            p90: at(0.9),
            p95: at(0.95),
            p99: at(0.99),
        }
    }
}

/// The `q` quantile, interpolated linearly inside its bucket (the overflow
/// bucket answers its lower bound). `None` without data.
pub fn quantile(counts: &[u64; BUCKETS], total: u64, q: f64) -> Option<f64> {
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0);
    let mut below = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if (below + n) as f64 >= rank {
            let (lo, hi) = (lower_bound(i), upper_bound(i));
            if hi.is_infinite() {
                return Some(lo);
            }
            let within = (rank - below as f64) / n as f64;
            return Some(lo + (hi - lo) * within);
        }
        below += n;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_lands_in_the_bucket_bounding_it() {
        let mut ms = 0.01;
        while ms < 400_000.0 {
            let i = bucket_of(ms);
            assert!(ms <= upper_bound(i), "{ms} above bucket {i}");
            assert!(i == 0 || ms > upper_bound(i - 1), "{ms} belongs below {i}");
            ms *= 1.013;
        }
        for i in 0..BOUNDED {
            assert_eq!(bucket_of(upper_bound(i)), i, "exact bound {i}");
        }
        assert_eq!(bucket_of(-3.0), 0);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(1e12), BOUNDED);
    }

    #[test]
    fn percentiles_read_back_within_one_bucket_of_the_truth() {
        // A skewed distribution: mostly fast, a slow tail.
        let mut samples: Vec<f64> = (0..10_000)
            .map(|i| {
                let x = f64::from(i) / 10_000.0;
                3.0 + 40.0 * x * x * x + if i % 97 == 0 { 900.0 } else { 0.0 }
            })
            .collect();
        let mut counts = [0u64; BUCKETS];
        for &s in &samples {
            counts[bucket_of(s)] += 1;
        }
        samples.sort_by(f64::total_cmp);
        let read = Percentiles::from_counts(&counts);
        assert_eq!(read.count, 10_000);
        for (q, got) in [
            (0.5, read.p50),
            (0.9, read.p90),
            (0.95, read.p95),
            (0.99, read.p99),
        ] {
            let truth = samples[(q * samples.len() as f64).ceil() as usize - 1];
            let got = got.unwrap();
            let b = bucket_of(truth);
            assert!(
                got >= lower_bound(b) && got <= upper_bound(b),
                "p{q}: read {got}, truth {truth} in bucket {b} ({}..{})",
                lower_bound(b),
                upper_bound(b)
            );
        }
        assert_eq!(quantile(&[0; BUCKETS], 0, 0.5), None);
    }
}
