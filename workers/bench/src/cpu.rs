//! CPU time by process over a phase of a benchmark, read from /proc (Linux), given
//! as microseconds per event. On a shared 2-core machine a rate moves with every
//! neighbour; the CPU an event costs each process barely does, so it is the figure
//! to compare two versions of a component by.

use std::time::Duration;

/// The processes a benchmark watches, by name.
pub struct CpuMeter {
    processes: Vec<(String, u32)>,
    tick: Duration,
}

/// Each watched process's CPU time at one moment (`None` where unreadable).
pub struct CpuMark(Vec<Option<Duration>>);

impl CpuMeter {
    /// Watches this process as `this`.
    pub fn new(this: &str) -> Self {
        // SAFETY: sysconf only reads a system constant.
        let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
        Self {
            processes: vec![(this.to_owned(), std::process::id())],
            tick: Duration::from_secs(1) / ticks_per_s as u32,
        }
    }

    pub fn watch(&mut self, name: &str, pid: u32) {
        self.processes.push((name.to_owned(), pid));
    }

    pub fn mark(&self) -> CpuMark {
        CpuMark(
            self.processes
                .iter()
                .map(|(_, pid)| cpu_ticks(*pid).map(|t| self.tick * t as u32))
                .collect(),
        )
    }

    /// Microseconds of CPU per event by process between two marks, and their total;
    /// empty where /proc cannot be read.
    pub fn per_event(&self, from: &CpuMark, to: &CpuMark, events: u64) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        let mut total = 0.0;
        for ((name, _), (a, b)) in self.processes.iter().zip(from.0.iter().zip(&to.0)) {
            if let (Some(a), Some(b)) = (a, b) {
                let us = b.saturating_sub(*a).as_secs_f64() * 1e6 / events.max(1) as f64;
                total += us;
                out.insert(name.clone(), round(us).into());
            }
        }
        if !out.is_empty() {
            out.insert("total".into(), round(total).into());
        }
        out.into()
    }
}

fn round(us: f64) -> f64 {
    (us * 10.0).round() / 10.0
}

/// User plus system time of `pid` in clock ticks, all its threads together.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// Fields 14 and 15 of /proc/<pid>/stat, counted after the command name, which is
/// in parentheses and may itself hold spaces or parentheses.
fn parse_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_past_a_command_name_with_spaces() {
        let line = "4242 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 120 35 0 0 20 0 1";
        assert_eq!(parse_stat(line), Some(155));
        assert_eq!(parse_stat("4242 (short) S 1"), None);
    }

    #[test]
    fn time_this_process_spends_shows_per_event() {
        let meter = CpuMeter::new("bench");
        let from = meter.mark();
        let start = cpu_ticks(std::process::id()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // Spin until the kernel has charged at least two ticks to this process.
        while cpu_ticks(std::process::id()).unwrap() < start + 2 {
            assert!(std::time::Instant::now() < deadline, "no CPU time charged");
            std::hint::black_box((0..10_000u64).sum::<u64>());
        }
        let to = meter.mark();
        let report = meter.per_event(&from, &to, 10);
        let tick_us = meter.tick.as_secs_f64() * 1e6;
        assert!(
            report["bench"].as_f64().unwrap() >= 2.0 * tick_us / 10.0,
            "{report}"
        );
        assert_eq!(report["total"], report["bench"]);
    }
}
