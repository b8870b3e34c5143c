//! One read of a stream for several projections: a [`Fanout`] is a projection
//! made of several, so the projections of one process that read the same stream take each
//! message from the bus once, decode it once, and apply each batch side by side.
//! The bus's work per event grows with every consumer it delivers to; sharing one
//! is the cheapest delivery there is.

use futures::future::join_all;

use super::projection::{Outcome, Position, Projection, Record};
use super::WorkerSpec;
use crate::error::{Error, ErrorKind};

/// Cursor projections (see [`Projection::durable_watermark`]) fed the same
/// batches. Each skips what its own watermark already covers, so the fan-out stands
/// at the lowest of their positions and none applies anything twice; a part whose
/// version was rebuilt through a floor is first moved up to it (see
/// [`Projection::raise_part`]), so it applies nothing the rebuild left out. Projections of
/// different types share one as variants of an enum that implements [`Projection`].
pub struct Fanout<P> {
    /// Each part's consumer name (its role: see [`super::WorkerSpec::parts`]) and
    /// projection.
    parts: Vec<(String, P)>,
}

impl<P> Fanout<P> {
    pub fn new(parts: Vec<(String, P)>) -> Self {
        Self { parts }
    }

    pub fn into_parts(self) -> impl Iterator<Item = P> {
        self.parts.into_iter().map(|(_, p)| p)
    }
}

/// The indices in `batch` of the records `role` applies: all but those replayed
/// from the DLQ for other consumers. `None` when that is every record.
fn addressed_to<T>(batch: &[Record<T>], role: &str) -> Option<Vec<usize>> {
    let for_role = |r: &Record<T>| {
        r.replay_for
            .as_deref()
            .is_none_or(|to| WorkerSpec::reads_for(to, role))
    };
    if batch.iter().all(for_role) {
        return None;
    }
    Some((0..batch.len()).filter(|&i| for_role(&batch[i])).collect())
}

/// Applies to `part` the records of `batch` at `only` (all of them when `None`),
/// reporting what it refused by index in the whole batch.
async fn apply_some<P: Projection>(
    part: &mut P,
    batch: &[Record<P::Item>],
    only: Option<Vec<usize>>,
) -> Result<Outcome, Error>
where
    P::Item: Clone,
{
    let Some(only) = only else {
        return part.apply(batch).await;
    };
    let some: Vec<_> = only.iter().map(|&i| batch[i].clone()).collect();
    let mut outcome = part.apply(&some).await?;
    for (index, _) in &mut outcome.rejected {
        *index = only[*index];
    }
    Ok(outcome)
}

/// The lower of two positions: where a reader serving both must start.
pub fn lower(a: Position, b: Position) -> Result<Position, Error> {
    match (a, b) {
        (Position::Untracked, _) | (_, Position::Untracked) => Err(Error::Config(
            "only projections with a durable watermark can share a consumer".into(),
        )),
        (Position::Start, _) | (_, Position::Start) => Ok(Position::Start),
        (Position::After(x), Position::After(y)) => Ok(Position::After(x.min(y))),
    }
}

/// Both outcomes: a record either side refused goes to the DLQ once, with every
/// reason given for it.
fn merged(mut a: Outcome, b: Outcome) -> Outcome {
    for (index, reason) in b.rejected {
        match a.rejected.iter_mut().find(|(i, _)| *i == index) {
            Some((_, first)) => {
                first.push_str("; ");
                first.push_str(&reason);
            }
            None => a.rejected.push((index, reason)),
        }
    }
    a.rejected.sort_by_key(|(i, _)| *i);
    a
}

/// The worse of two results: a fatal error before a transient one, so a failure
/// the runtime would retry never hides one that must stop it.
fn worse(a: Result<(), Error>, b: Result<(), Error>) -> Result<(), Error> {
    match (a, b) {
        (Err(a), Err(b)) if a.kind() == ErrorKind::Transient => Err(b),
        (Err(a), _) => Err(a),
        (Ok(()), b) => b,
    }
}

impl<P: Projection> Projection for Fanout<P>
where
    P::Item: Clone,
{
    type Item = P::Item;

    async fn position(&mut self) -> Result<Position, Error> {
        let mut lowest = None;
        for (_, part) in &mut self.parts {
            let at = part.position().await?;
            lowest = Some(match lowest {
                None => lower(at, at)?,
                Some(low) => lower(low, at)?,
            });
        }
        lowest.ok_or_else(|| Error::Config("a fan-out of no projections".into()))
    }

    /// Every part applies the whole batch at once (but for DLQ replays meant for
    /// others). When one fails, the runtime retries the batch: the others skip it
    /// then, by their watermarks.
    async fn apply(&mut self, batch: &[Record<P::Item>]) -> Result<Outcome, Error> {
        let results = join_all(self.parts.iter_mut().map(|(role, p)| {
            let only = addressed_to(batch, role);
            apply_some(p, batch, only)
        }))
        .await;
        let mut outcome = Outcome::default();
        let mut failed = Ok(());
        for result in results {
            match result {
                Ok(o) => outcome = merged(outcome, o),
                Err(e) => failed = worse(failed, Err(e)),
            }
        }
        failed.map(|()| outcome)
    }

    fn durable_watermark(&self) -> bool {
        self.parts.iter().all(|(_, p)| p.durable_watermark())
    }

    fn parts(&self) -> usize {
        self.parts.len()
    }

    fn saved_through(&self, part: usize) -> Option<u64> {
        self.parts.get(part).and_then(|(_, p)| p.saved_through(0))
    }

    async fn idle(&mut self) -> Result<bool, Error> {
        let results = join_all(self.parts.iter_mut().map(|(_, p)| p.idle())).await;
        let mut saved = false;
        let mut failed = Ok(());
        for result in results {
            match result {
                Ok(s) => saved |= s,
                Err(e) => failed = worse(failed, Err(e)),
            }
        }
        failed.map(|()| saved)
    }

    async fn pass(&mut self, through: u64) -> Result<(), Error> {
        let results = join_all(self.parts.iter_mut().map(|(_, p)| p.pass(through))).await;
        results.into_iter().fold(Ok(()), worse)
    }

    async fn raise_part(&mut self, part: usize, floor: u64) -> Result<(), Error> {
        let Some((_, p)) = self.parts.get_mut(part) else {
            return Err(Error::Config(format!("no part {part} to raise")));
        };
        match p.position().await? {
            Position::After(w) if w >= floor => Ok(()),
            _ => p.pass(floor).await,
        }
    }

    async fn follow_part(&mut self, part: usize, version: u64) -> Result<(), Error> {
        match self.parts.get_mut(part) {
            Some((_, p)) => p.follow(version).await,
            None => Err(Error::Config(format!("no part {part} to follow a version"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fanout_starts_where_the_part_behind_stands() {
        use Position::*;
        assert_eq!(lower(After(7), After(3)).unwrap(), After(3));
        assert_eq!(lower(After(7), Start).unwrap(), Start);
        assert_eq!(lower(Start, After(2)).unwrap(), Start);
        assert!(lower(Untracked, After(2)).is_err());
    }

    #[test]
    fn a_record_refused_by_both_is_dead_lettered_once_with_both_reasons() {
        let a = Outcome {
            rejected: vec![(4, "index: too big".into())],
        };
        let b = Outcome {
            rejected: vec![(1, "counters: bad".into()), (4, "counters: bad".into())],
        };
        let out = merged(a, b);
        assert_eq!(
            out.rejected,
            vec![
                (1, "counters: bad".to_string()),
                (4, "index: too big; counters: bad".to_string())
            ]
        );
    }

    /// A part that notes what it applied and refuses one sequence.
    struct Noting {
        applied: Vec<u64>,
        refuses: u64,
        /// The watermark, moved by `pass` alone.
        at: Option<u64>,
    }

    #[derive(Clone)]
    struct Seq;

    impl super::super::Decode for Seq {
        fn decode(
            _: &str,
            _: Option<&async_nats::HeaderMap>,
            _: &[u8],
        ) -> Result<Self, sightline_schemas::EventError> {
            Ok(Seq)
        }
    }

    impl Projection for Noting {
        type Item = Seq;

        async fn position(&mut self) -> Result<Position, Error> {
            Ok(self.at.map_or(Position::Start, Position::After))
        }

        fn durable_watermark(&self) -> bool {
            true
        }

        async fn pass(&mut self, through: u64) -> Result<(), Error> {
            self.at = Some(through);
            Ok(())
        }

        async fn apply(&mut self, batch: &[Record<Seq>]) -> Result<Outcome, Error> {
            self.applied.extend(batch.iter().map(|r| r.stream_seq));
            let refused = batch.iter().position(|r| r.stream_seq == self.refuses);
            Ok(Outcome {
                rejected: refused.map(|i| (i, "refused".into())).into_iter().collect(),
            })
        }
    }

    #[tokio::test]
    async fn a_dlq_replay_is_applied_only_by_the_parts_it_is_for() {
        let record = |stream_seq, replay_for: Option<&str>| Record {
            stream_seq,
            delivered: 1,
            item: Seq,
            replay_for: replay_for.map(str::to_string),
        };
        let batch = [
            record(1, None),
            record(2, Some("counters")),
            record(3, None),
            record(4, Some("indexer+counters")),
        ];
        let part = |refuses| Noting {
            applied: Vec::new(),
            refuses,
            at: None,
        };
        let mut fanout = Fanout::new(vec![
            ("indexer".to_string(), part(4)),
            ("counters".to_string(), part(0)),
        ]);
        let outcome = fanout.apply(&batch).await.unwrap();
        // The indexer refused its third record: the batch's fourth.
        assert_eq!(outcome.rejected, vec![(3, "refused".to_string())]);
        let applied: Vec<Vec<u64>> = fanout.into_parts().map(|p| p.applied).collect();
        assert_eq!(applied, vec![vec![1, 3, 4], vec![1, 2, 3, 4]]);
    }

    #[tokio::test]
    async fn a_part_below_its_floor_is_raised_to_it_and_no_other() {
        let part = |at| Noting {
            applied: Vec::new(),
            refuses: 0,
            at,
        };
        let mut fanout = Fanout::new(vec![
            ("counters".to_string(), part(Some(20))),
            ("indexer".to_string(), part(Some(5))),
            ("fraud".to_string(), part(None)),
        ]);
        for i in 0..3 {
            fanout.raise_part(i, 10).await.unwrap();
        }
        assert_eq!(fanout.position().await.unwrap(), Position::After(10));
        let at: Vec<_> = fanout.into_parts().map(|p| p.at).collect();
        assert_eq!(at, vec![Some(20), Some(10), Some(10)]);
    }

    #[test]
    fn a_dlq_replay_reaches_the_workers_of_the_roles_it_names() {
        let shared = super::super::Source::Logs
            .spec("")
            .shared_by(&["indexer", "counters"]);
        assert_eq!(shared.consumer, "indexer+counters");
        assert!(shared.answers_to("counters"));
        assert!(shared.answers_to("indexer+counters"));
        assert!(!shared.answers_to("fraud"));
        // Letters written by a shared consumer reach its roles run apart too.
        let alone = super::super::Source::Logs.spec("counters");
        assert!(alone.answers_to("indexer+counters"));
        assert!(!alone.answers_to("indexer"));
        // A role is a whole part of the name, not a piece of another consumer's.
        assert!(!WorkerSpec::reads_for("indexer+counters+fraud", "index"));
        assert!(!WorkerSpec::reads_for("indexer-fraud", "indexer"));
        assert!(!WorkerSpec::reads_for("fraud-store", "fraud"));
    }

    #[test]
    fn a_fatal_failure_wins_over_a_transient_one() {
        let transient = || Err(Error::store(ErrorKind::Transient, "redis down"));
        let fatal = || Err(Error::Config("bad".into()));
        assert_eq!(
            worse(transient(), fatal()).unwrap_err().kind(),
            ErrorKind::Config
        );
        assert_eq!(
            worse(fatal(), transient()).unwrap_err().kind(),
            ErrorKind::Config
        );
        assert_eq!(
            worse(Ok(()), transient()).unwrap_err().kind(),
            ErrorKind::Transient
        );
        assert!(worse(Ok(()), Ok(())).is_ok());
    }
}
