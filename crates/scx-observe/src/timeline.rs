//! The time series behind the HTML report: which task ran on each CPU
//! when, each DSQ's depth over time, the kernel log and the scheduler's
//! enable states — kept in bounded memory however long the run.
//!
//! Per CPU, every on-CPU interval of a non-idle task is a [`Seg`]. When a
//! CPU has more than [`LANE_CAP`] segments, neighbours are merged into
//! buckets of a doubling minimum width ([`compact`]); a merged bucket keeps
//! its busy time exactly and names the task with the larger busy time of
//! the two merged parts (an approximation of "the task that ran most").
//! DSQ depth series are thinned the same way, keeping each bucket's maximum
//! and final depth. [`Timeline::lanes`] and [`Timeline::dsq_series`]
//! compact further to a display budget.

use crate::tasks::TaskTable;
use crate::{Event, Sink, Tid};
use std::collections::BTreeMap;

/// Segments kept per CPU before compaction.
pub const LANE_CAP: usize = 200_000;
/// Points kept per DSQ before compaction.
pub const SERIES_CAP: usize = 50_000;
/// Kernel log lines kept.
pub const LOG_CAP: usize = 2_000;

/// A stretch of one CPU's time: `busy` ns of it ran non-idle tasks, mostly
/// `tid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Start.
    pub start: u64,
    /// End.
    pub end: u64,
    /// The task that ran (most).
    pub tid: Tid,
    /// Busy ns within.
    pub busy: u64,
}

/// A DSQ depth sample: from `t` on, the depth peaked at `max` and ended at
/// `last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthPoint {
    /// Time.
    pub t: u64,
    /// Largest depth in the bucket.
    pub max: u32,
    /// Depth at the end of the bucket.
    pub last: u32,
}

/// Merges neighbours so that at most `target` items remain: items are
/// merged while the merged item spans at most `width`, `width` doubling
/// until the count fits. `span` gives an item's `(start, end)`.
pub fn compact<T: Copy>(
    items: &mut Vec<T>,
    target: usize,
    span: impl Fn(&T) -> (u64, u64),
    merge: impl Fn(&T, &T) -> T,
) {
    if items.len() <= target || target == 0 {
        return;
    }
    let (first, last) = (span(&items[0]).0, span(&items[items.len() - 1]).1);
    let mut width = ((last - first) / target as u64).max(1);
    while items.len() > target {
        let mut out: Vec<T> = Vec::with_capacity(items.len() / 2 + 1);
        for it in items.iter() {
            match out.last_mut() {
                Some(cur) if span(it).1 - span(cur).0 <= width => *cur = merge(cur, it),
                _ => out.push(*it),
            }
        }
        *items = out;
        width *= 2;
    }
}

fn merge_seg(a: &Seg, b: &Seg) -> Seg {
    Seg {
        start: a.start,
        end: b.end,
        tid: if a.busy >= b.busy { a.tid } else { b.tid },
        busy: a.busy + b.busy,
    }
}

fn merge_depth(a: &DepthPoint, b: &DepthPoint) -> DepthPoint {
    DepthPoint {
        t: a.t,
        max: a.max.max(b.max),
        last: b.last,
    }
}

#[derive(Clone, Debug, Default)]
struct Lane {
    since: u64,
    segs: Vec<Seg>,
}

/// The collector sink.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    table: TaskTable,
    lanes: Vec<Lane>,
    dsqs: BTreeMap<u64, Vec<DepthPoint>>,
    log: Vec<(u64, String)>,
    log_dropped: u64,
    states: Vec<(u64, &'static str)>,
    last_time: u64,
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// The task table as of the last event.
    pub fn tasks(&self) -> &TaskTable {
        &self.table
    }

    fn lane(&mut self, cpu: u32) -> &mut Lane {
        let i = cpu as usize;
        if self.lanes.len() <= i {
            self.lanes.resize_with(i + 1, Lane::default);
        }
        &mut self.lanes[i]
    }

    /// Ends the running task's segment on `cpu` at `t`.
    fn close(&mut self, cpu: u32, t: u64) {
        let curr = self.table.curr(cpu);
        let idle = curr.is_none_or(|c| self.table.is_idle(c));
        let lane = self.lane(cpu);
        let start = std::mem::replace(&mut lane.since, t);
        if idle || t <= start {
            return;
        }
        lane.segs.push(Seg {
            start,
            end: t,
            tid: curr.unwrap_or_default(),
            busy: t - start,
        });
        if lane.segs.len() > LANE_CAP {
            compact(
                &mut lane.segs,
                LANE_CAP / 2,
                |s| (s.start, s.end),
                merge_seg,
            );
        }
    }

    /// Per-CPU segments up to `end` (running tasks included), compacted to
    /// at most `per_cpu` each.
    pub fn lanes(&self, end: u64, per_cpu: usize) -> Vec<Vec<Seg>> {
        let mut t = self.clone();
        for cpu in 0..t.lanes.len().max(t.table.nr_cpus()) as u32 {
            t.close(cpu, end.max(t.last_time));
        }
        t.lanes
            .into_iter()
            .map(|mut l| {
                compact(&mut l.segs, per_cpu, |s| (s.start, s.end), merge_seg);
                l.segs
            })
            .collect()
    }

    /// Each DSQ's depth series, compacted to at most `points` each.
    pub fn dsq_series(&self, points: usize) -> Vec<(u64, Vec<DepthPoint>)> {
        self.dsqs
            .iter()
            .map(|(id, s)| {
                let mut s = s.clone();
                compact(&mut s, points, |p| (p.t, p.t), merge_depth);
                (*id, s)
            })
            .collect()
    }

    /// Kernel log lines kept, and how many were dropped past [`LOG_CAP`].
    pub fn log(&self) -> (&[(u64, String)], u64) {
        (&self.log, self.log_dropped)
    }

    /// Enable-state changes.
    pub fn states(&self) -> &[(u64, &'static str)] {
        &self.states
    }
}

impl Sink for Timeline {
    fn event(&mut self, time: u64, ev: &Event) {
        self.last_time = self.last_time.max(time);
        match ev {
            Event::Switch { cpu, .. } => self.close(*cpu, time),
            Event::DsqDepth { dsq, depth } => {
                let s = self.dsqs.entry(*dsq).or_default();
                s.push(DepthPoint {
                    t: time,
                    max: *depth,
                    last: *depth,
                });
                if s.len() > SERIES_CAP {
                    compact(s, SERIES_CAP / 2, |p| (p.t, p.t), merge_depth);
                }
            }
            Event::Log { line } => {
                if self.log.len() < LOG_CAP {
                    self.log.push((time, line.clone()));
                } else {
                    self.log_dropped += 1;
                }
            }
            Event::ScxState { state } => self.states.push((time, state)),
            _ => {}
        }
        self.table.apply(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrevState;

    fn seg(start: u64, end: u64, tid: Tid) -> Seg {
        Seg {
            start,
            end,
            tid,
            busy: end - start,
        }
    }

    #[test]
    fn compaction_keeps_busy_time_and_bounds_count() {
        let mut v: Vec<Seg> = (0..1000)
            .map(|i| seg(i * 10, i * 10 + 4, i as Tid % 3))
            .collect();
        let total: u64 = v.iter().map(|s| s.busy).sum();
        compact(&mut v, 100, |s| (s.start, s.end), merge_seg);
        assert!(v.len() <= 100);
        assert_eq!(v.iter().map(|s| s.busy).sum::<u64>(), total);
        assert!(v.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn records_segments_per_cpu() {
        let mut t = Timeline::new();
        for (tid, idle) in [(0, Some(0)), (1, None)] {
            t.event(
                0,
                &Event::TaskNew {
                    tid,
                    pid: tid,
                    tgid: tid,
                    parent: None,
                    comm: "x".into(),
                    prio: 120,
                    kthread: false,
                    idle_cpu: idle,
                },
            );
        }
        let sw = |prev, next| Event::Switch {
            cpu: 0,
            prev,
            prev_state: PrevState::Running,
            next,
        };
        t.event(10, &sw(0, 1));
        t.event(30, &sw(1, 0));
        t.event(40, &sw(0, 1));
        let lanes = t.lanes(100, 10);
        assert_eq!(lanes[0], vec![seg(10, 30, 1), seg(40, 100, 1)]);
    }
}
