//! What a replay reads: the range and subjects as the operator gives them, turned
//! into one rebuild plan per source stream of a projection. Pure, tested without I/O.

use sightline_runtime::consumer::rebuild::{From, Plan, Until};
use sightline_runtime::consumer::{names, Source, WorkerSpec};
use sightline_runtime::versions::Target;
use sightline_runtime::Settings;
use sightline_schemas::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;

/// A range as written: `--from`, `--to`, `--subjects` and `--rate` of `sightline replay`.
#[derive(Debug, Clone, Default)]
pub struct RangeArgs {
    /// `all`, `seq:N` or `time:RFC3339`.
    pub from: String,
    /// `seq:N` or `time:RFC3339`; none: the streams' heads once caught up.
    pub to: Option<String>,
    pub subjects: Vec<String>,
    pub rate: Option<u32>,
    /// Score LOGS again under the configured rules instead of copying FRAUD's
    /// detections (the fraud projection only, the whole of LOGS).
    pub rescore: bool,
}

/// A bad `flag`, saying why.
fn bad(flag: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("{flag}: {why}"))
}

/// The part of the streams a replay reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    pub from: From,
    pub until: Until,
    pub subjects: Vec<String>,
    pub rate: Option<u32>,
    pub rescore: bool,
}

impl Range {
    pub fn parse(args: &RangeArgs) -> Result<Self, Error> {
        let from = match args.from.as_str() {
            "all" => From::All,
            other => match position(other).map_err(|why| bad("--from", why))? {
                Position::Seq(n) => From::Seq(n),
                Position::Time(t) => From::Time(t),
            },
        };
        let until = match args.to.as_deref() {
            None => Until::Head,
            Some(to) => match position(to).map_err(|why| bad("--to", why))? {
                Position::Seq(n) => Until::Seq(n),
                Position::Time(t) => Until::Time(t),
            },
        };
        if let (From::Seq(a), Until::Seq(b)) = (from, until) {
            if b < a {
                return Err(bad("--to", format!("seq:{b} is before --from seq:{a}")));
            }
        }
        if let (From::Time(a), Until::Time(b)) = (from, until) {
            if b < a {
                return Err(bad("--to", "it is before --from"));
            }
        }
        if args.rescore && (from != From::All || until != Until::Head || !args.subjects.is_empty())
        {
            return Err(bad(
                "--rescore",
                "it scores the whole of LOGS (a customer's history is part of every verdict): drop --from, --to and --subjects",
            ));
        }
        Ok(Self {
            from,
            until,
            subjects: args.subjects.clone(),
            rate: args.rate,
            rescore: args.rescore,
        })
    }

    /// What a re-scoring reads: LOGS as the scorer does, and the verdicts on FRAUD.
    fn rescore_plans(&self, settings: &Settings) -> Vec<(Source, Plan)> {
        let plan = |spec: WorkerSpec| Plan {
            spec,
            from: self.from,
            until: self.until,
            batch_size: settings.fraud.batch_size,
            rate: self.rate,
        };
        let mut verdicts = Source::Fraud.spec(names::live(Target::Fraud, Source::Fraud));
        verdicts.filter_subjects = vec![sightline_fraud::project::verdict_subjects()];
        vec![
            (
                Source::Logs,
                plan(sightline_fraud::project::scorer_spec(names::SCORER)),
            ),
            (Source::Fraud, plan(verdicts)),
        ]
    }

    /// The plan of each source `target` is built from, under the live consumer's
    /// name and batch size.
    pub fn plans(&self, target: Target, settings: &Settings) -> Result<Vec<(Source, Plan)>, Error> {
        match (self.rescore, target) {
            (true, Target::Fraud) => return Ok(self.rescore_plans(settings)),
            (true, other) => {
                return Err(bad(
                    "--rescore",
                    format!("only the fraud projection is scored, not {}", other.name()),
                ))
            }
            (false, _) => {}
        }
        let plans: Vec<(Source, Plan)> = target
            .sources()
            .iter()
            .map(|&source| {
                let name = names::live(target, source);
                // The detections store also keeps analysts' verdicts from FRAUD.
                let mut spec = match (target, source) {
                    (Target::Fraud, Source::Fraud) => sightline_fraud::project::store_spec(name),
                    _ => source.spec(name),
                };
                let chosen: Vec<String> = self
                    .subjects
                    .iter()
                    .filter(|s| reads(&spec, s))
                    .cloned()
                    .collect();
                if !chosen.is_empty() {
                    spec.filter_subjects = chosen;
                }
                let plan = Plan {
                    spec,
                    from: self.from,
                    until: self.until,
                    batch_size: batch_size(target, settings),
                    rate: self.rate,
                };
                (source, plan)
            })
            .collect();
        for subject in &self.subjects {
            if !plans
                .iter()
                .any(|(_, p)| p.spec.filter_subjects.contains(subject))
            {
                return Err(Error::config(format!(
                    "--subjects {subject}: {} reads none of it (it reads {})",
                    target.name(),
                    target
                        .sources()
                        .iter()
                        .map(|s| s.spec("").filter_subjects.join(" "))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )));
            }
        }
        Ok(plans)
    }
}

fn batch_size(target: Target, settings: &Settings) -> usize {
    match target {
        Target::Search => settings.search.batch_size,
        Target::Counters => settings.counters.batch_size,
        Target::Fraud => settings.consumer.batch_size,
    }
}

/// Whether `subject` (a filter) lies within what `spec` reads.
fn reads(spec: &WorkerSpec, subject: &str) -> bool {
    spec.filter_subjects.iter().any(|f| {
        let prefix = f.trim_end_matches('>');
        subject.starts_with(prefix) || subject == f
    })
}

enum Position {
    Seq(u64),
    Time(OffsetDateTime),
}

/// A position as written, or why it is not one.
fn position(text: &str) -> Result<Position, String> {
    if let Some(n) = text.strip_prefix("seq:") {
        let n: u64 = n
            .parse()
            .map_err(|e| format!("{text:?}: seq:N takes a stream sequence: {e}"))?;
        if n == 0 {
            return Err(format!("{text:?}: stream sequences start at 1"));
        }
        return Ok(Position::Seq(n));
    }
    if let Some(t) = text.strip_prefix("time:") {
        let t = OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| format!("{text:?}: time: takes an RFC 3339 time: {e}"))?;
        return Ok(Position::Time(t));
    }
    Err(format!("{text:?}: expected all, seq:N or time:RFC3339"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(from: &str, to: Option<&str>, subjects: &[&str]) -> RangeArgs {
        RangeArgs {
            from: from.into(),
            to: to.map(Into::into),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            rate: None,
            rescore: false,
        }
    }

    #[test]
    fn a_rescore_reads_logs_as_the_scorer_and_only_verdicts_from_fraud() {
        let settings = Settings::default();
        let rescore = RangeArgs {
            rescore: true,
            ..args("all", None, &[])
        };
        let range = Range::parse(&rescore).unwrap();
        let plans = range.plans(Target::Fraud, &settings).unwrap();
        assert_eq!(plans[0].0, Source::Logs);
        assert_eq!(
            plans[0].1.spec.filter_subjects.len(),
            3,
            "payments, logins, page views"
        );
        assert_eq!(plans[1].1.spec.filter_subjects, ["fraud.verdict.>"]);
        let err = range
            .plans(Target::Search, &settings)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--rescore"), "{err}");
        let partial = RangeArgs {
            rescore: true,
            ..args("seq:5", None, &[])
        };
        let err = Range::parse(&partial).unwrap_err().to_string();
        assert!(err.contains("whole of LOGS"), "{err}");
    }

    #[test]
    fn ranges_parse_and_bad_ones_name_the_flag() {
        let r = Range::parse(&args("seq:5", Some("seq:9"), &[])).unwrap();
        assert_eq!((r.from, r.until), (From::Seq(5), Until::Seq(9)));
        let r = Range::parse(&args("time:2026-11-01T00:00:00Z", None, &[])).unwrap();
        assert!(matches!(r.from, From::Time(t) if t.unix_timestamp() == 1_793_491_200));
        for (from, to, flag) in [
            ("seq:x", None, "--from"),
            ("yesterday", None, "--from"),
            ("seq:0", None, "--from"),
            ("all", Some("time:soon"), "--to"),
        ] {
            let e = Range::parse(&args(from, to, &[])).unwrap_err().to_string();
            assert!(e.starts_with(flag), "{e}");
        }
        assert!(Range::parse(&args("seq:9", Some("seq:5"), &[])).is_err());
    }

    #[test]
    fn subjects_narrow_the_source_that_reads_them() {
        let settings = Settings::default();
        let r = Range::parse(&args("all", None, &["logs.transaction.>"])).unwrap();
        let plans = r.plans(Target::Search, &settings).unwrap();
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].1.spec.filter_subjects, ["logs.transaction.>"]);
        assert_eq!(plans[0].1.spec.consumer, "indexer");
        assert_eq!(plans[1].1.spec.consumer, "indexer-fraud");
        assert_eq!(plans[1].1.spec.filter_subjects.len(), 1);
        assert_ne!(plans[1].1.spec.filter_subjects, ["logs.transaction.>"]);
        let e = r.plans(Target::Fraud, &settings).unwrap_err().to_string();
        assert!(
            e.contains("logs.transaction.>") && e.contains("fraud"),
            "{e}"
        );
        let plans = Range::parse(&args("all", None, &[]))
            .unwrap()
            .plans(Target::Fraud, &settings)
            .unwrap();
        assert_eq!(plans[0].1.spec.consumer, "fraud-store");
    }
}
