//! `sightline replay`: rebuilds projections into new versions and switches to them
//! (see `sightline_node::replay`); prints what each did as JSON.

use std::process::ExitCode;

use sightline_node::replay::{self, Range, RangeArgs};
use sightline_runtime::versions::Target;
use sightline_runtime::{Settings, Shutdown};

use crate::cli::{ReplayArgs, ReplayTarget};

pub async fn run(args: ReplayArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let range = Range::parse(&RangeArgs {
        from: args.from,
        to: args.to,
        subjects: args.subjects,
        rate: args.rate,
        rescore: args.rescore,
    })?;
    let targets = match args.projection {
        ReplayTarget::Search => vec![Target::Search],
        ReplayTarget::Fraud => vec![Target::Fraud],
        ReplayTarget::Counters => vec![Target::Counters],
        ReplayTarget::All => Target::ALL.to_vec(),
    };
    if args.dry_run {
        println!("{}", replay::dry_run(&targets, &range, settings).await?);
        return Ok(ExitCode::SUCCESS);
    }
    let shutdown = Shutdown::on_signals();
    let (summary, mut errors) =
        replay::replay(&targets, &range, args.keep_old, settings, shutdown).await?;
    println!("{summary}");
    match errors.len() {
        0 => Ok(ExitCode::SUCCESS),
        1 => Err(errors.remove(0).into()),
        n => {
            let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::bail!("{n} replays failed: {}", all.join("; "))
        }
    }
}
