//! The expected CPU share of each task: an ideal weighted fair scheduler
//! (generalised processor sharing with a one-CPU cap per task) run over the
//! same runnable sets the simulated kernel had.
//!
//! At every instant, the contenders are the runnable (waiting or running)
//! tasks that are neither idle tasks nor RT/stop-class tasks, and the
//! capacity is the number of CPUs not running an RT/stop task. The
//! capacity is divided among the contenders in proportion to their load
//! weights (`sched_prio_to_weight[]` of their prio), no task getting more
//! than one CPU: the heaviest tasks whose proportional share would exceed
//! one CPU get exactly one, and the rest is re-divided among the others
//! ("water-filling"). Integrating each task's allocation over time gives
//! its *raw expected CPU time*. [`crate::metrics`] then scales the raw
//! figures so they add up to the CPU time the contenders really got; that
//! separates *how* the scheduler divided the CPU from *how much* it lost to
//! overhead and idling.

use crate::Tid;

/// Divides `capacity` CPUs among `(task, weight)` contenders, at most one
/// CPU each, in proportion to weight. Returns `(task, CPUs)` in the order
/// the tasks were given.
pub fn water_fill(contenders: &[(Tid, u32)], capacity: f64) -> Vec<(Tid, f64)> {
    let mut order: Vec<usize> = (0..contenders.len()).collect();
    // Heaviest first; ties by task id so the result is deterministic.
    order.sort_by_key(|&i| (std::cmp::Reverse(contenders[i].1), contenders[i].0));
    let mut alloc = vec![0.0; contenders.len()];
    let mut cap = capacity.max(0.0);
    let mut weight: f64 = contenders.iter().map(|c| f64::from(c.1)).sum();
    for (k, &i) in order.iter().enumerate() {
        let w = f64::from(contenders[i].1);
        if cap <= 0.0 || weight <= 0.0 {
            break;
        }
        if w * cap / weight >= 1.0 {
            alloc[i] = 1.0;
            cap -= 1.0;
            weight -= w;
            continue;
        }
        for &j in &order[k..] {
            alloc[j] = f64::from(contenders[j].1) * cap / weight;
        }
        break;
    }
    contenders
        .iter()
        .zip(alloc)
        .map(|(c, a)| (c.0, a))
        .collect()
}

/// The running integration of the fluid model.
#[derive(Clone, Debug, Default)]
pub struct FairShare {
    last_t: u64,
    dirty: bool,
    alloc: Vec<(Tid, f64)>,
}

impl FairShare {
    /// Marks the contender set or capacity as changed (allocations are
    /// recomputed at the next [`FairShare::advance`]).
    pub fn invalidate(&mut self) {
        self.dirty = true;
    }

    /// True if allocations must be recomputed before the next advance.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Replaces the allocations (from [`water_fill`]).
    pub fn set_alloc(&mut self, alloc: Vec<(Tid, f64)>) {
        self.alloc = alloc;
        self.dirty = false;
    }

    /// Time of the last advance.
    pub fn last_t(&self) -> u64 {
        self.last_t
    }

    /// Current allocations.
    pub fn alloc(&self) -> &[(Tid, f64)] {
        &self.alloc
    }

    /// Credits every contender with its allocation × (t − last advance).
    pub fn advance(&mut self, t: u64, mut credit: impl FnMut(Tid, f64)) {
        let dt = t.saturating_sub(self.last_t) as f64;
        if dt > 0.0 {
            for &(tid, a) in &self.alloc {
                if a > 0.0 {
                    credit(tid, a * dt);
                }
            }
        }
        self.last_t = self.last_t.max(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approx(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn proportional_when_oversubscribed() {
        // 3 equal tasks on 2 CPUs: 2/3 each.
        let a = water_fill(&[(1, 1024), (2, 1024), (3, 1024)], 2.0);
        assert!(a.iter().all(|x| approx(x.1, 2.0 / 3.0)));
    }

    #[test]
    fn heavy_task_capped_at_one_cpu() {
        // Weights 8:1:1 on 2 CPUs: the heavy task gets 1 CPU, the other two
        // split the second.
        let a = water_fill(&[(1, 8000), (2, 1000), (3, 1000)], 2.0);
        assert!(approx(a[0].1, 1.0));
        assert!(approx(a[1].1, 0.5) && approx(a[2].1, 0.5));
    }

    #[test]
    fn undersubscribed_everyone_gets_a_cpu() {
        let a = water_fill(&[(1, 15), (2, 88761)], 4.0);
        assert!(approx(a[0].1, 1.0) && approx(a[1].1, 1.0));
        assert!(water_fill(&[(1, 1024)], 0.0)[0].1 == 0.0);
    }

    #[test]
    fn integrates_over_time() {
        let mut f = FairShare::default();
        f.set_alloc(vec![(7, 0.5)]);
        let mut got = 0.0;
        f.advance(1000, |t, ns| {
            assert_eq!(t, 7);
            got += ns;
        });
        assert!(approx(got, 500.0));
    }
}
