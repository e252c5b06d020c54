//! `scx_flatcg` (tools/sched_ext/scx_flatcg{.bpf.c,.c,.h}): hierarchical
//! cgroup `cpu.weight` control, flattened.
//!
//! Each cgroup's share of the machine is the product, over its ancestry,
//! of its weight divided by the sum of its *active* siblings' weights: its
//! hierarchical weight `hweight` (fixed point, [`FCG_HWEIGHT_ONE`] = 1.0).
//! Instead of scheduling level by level, cgroups compete directly by cgroup
//! vtime (`cvtime`), each charged `cgrp_slice_ns / hweight` per slice it
//! gets. `hweight`s are cached per generation (`hweight_gen`), bumped
//! whenever the active set or a weight changes.
//!
//! BPF side, by callback:
//! * `runnable`/`quiescent`: a cgroup's first runnable task activates it
//!   and its inactive ancestors (`nr_active`, parents' `child_weight_sum`);
//!   the last one deactivates them.
//! * `select_cpu`: default selection; an idle CPU gets the task directly
//!   and its cgroup is charged afterwards in `stopping` (`bypassed_at`).
//! * `enqueue`: tasks whose affinity is narrower than the machine bypass
//!   cgroup scheduling (per-CPU kthreads → local DSQ, others →
//!   `FALLBACK_DSQ`); others go to their cgroup's DSQ (id = cgroup id), by
//!   per-cgroup task vtime (`tvtime_now`, at most one slice of idle credit)
//!   or FIFO with `-f`; the cgroup is put on the cvtime-ordered tree.
//! * `dispatch`: keep consuming the CPU's current cgroup until its slice
//!   expires or it runs dry; then account the actual usage against the
//!   slice charged up front (`cvtime_delta`), try `FALLBACK_DSQ`, and pop
//!   the lowest-cvtime cgroup from the tree (up to 1024 tries), consume a
//!   task from it, charge it a slice up front, cap its banked budget and put
//!   it back.
//! * `running`/`stopping`: task vtime as scx_simple, per cgroup.
//! * `cgroup_init/exit/move/set_weight`, `init_task`, `init`.
//!
//! The BPF rbtree of `cgv_node`s is a `BTreeMap` keyed by `(cvtime,
//! insertion sequence)`: `bpf_rbtree_add()` puts a node after the nodes
//! with an equal key, and `bpf_rbtree_first()` is the leftmost, so ties pop
//! in insertion order, deterministically. The node stash
//! (`cgv_node_stash`, a hash map in BPF) holds each cgroup's node while it
//! is off the tree. BPF integer semantics are kept: unsigned wrapping, and
//! division by zero yields 0.
//!
//! Loader: `-s SLICE_US` (float), `-i INTERVAL` (float seconds, default
//! 2), `-d` (only echoed), `-f`, `-v`, `-h`. Before loading it prints
//! `slice=%.1lfms intv=%.1lfs dump_cgrps=%d` without a newline; every
//! interval a block of counters (deltas since the previous block, except
//! `BAD remove`) with the CPU utilisation computed from `/proc/stat`'s
//! first line as the real loader does (USER_HZ fields; `idle` is the fourth
//! field; here busy and idle come from [`Kernel::cpu_busy_ns`]). Its
//! `seq`, previous counters, previous `/proc/stat` sums, interval and
//! `dump_cgrps` live outside the `restart:` label, so they survive a
//! restart, while the skeleton's knobs (`-s`, `-f`) fall back to their
//! defaults. A zero or negative `-i` (which makes the real loader print in
//! a tight loop, `nanosleep()` failing at once) is refused as a usage
//! error.

use crate::getopt::{getopt, strtod};
use crate::tool::{uei_ecode_restart, with_sched, Tool, ToolError};
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_kernel::Kernel;
use scx_machine::clock::Ns;
use std::cell::Cell;
use std::collections::BTreeMap;

/// `FCG_HWEIGHT_ONE`: hierarchical weight 1.0.
pub const FCG_HWEIGHT_ONE: u64 = 1 << 16;
/// `FALLBACK_DSQ`.
pub const FALLBACK_DSQ: u64 = 0;
/// `CGROUP_MAX_RETRIES`.
const CGROUP_MAX_RETRIES: u32 = 1024;
/// `max_entries` of `cgv_node_stash`.
const STASH_MAX_ENTRIES: usize = 16384;
/// `USER_HZ`: the unit of `/proc/stat`.
const USER_HZ_NS: u64 = 10_000_000;

const HELP: &str = "A flattened cgroup hierarchy sched_ext scheduler.

See the top-level comment in .bpf.c for more details.

Usage: %s [-s SLICE_US] [-i INTERVAL] [-f] [-v]

  -s SLICE_US   Override slice duration
  -i INTERVAL   Report interval
  -f            Use FIFO scheduling instead of weighted vtime scheduling
  -v            Print libbpf debug messages
  -h            Display this help and exit
";

/// `enum fcg_stat_idx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Stat {
    Act,
    Deact,
    Local,
    Global,
    HwtUpdates,
    HwtCache,
    HwtSkip,
    HwtRace,
    EnqSkip,
    EnqRace,
    CnsKeep,
    CnsExpire,
    CnsEmpty,
    CnsGone,
    PncNoCgrp,
    PncNext,
    PncEmpty,
    PncGone,
    PncRace,
    PncFail,
    BadRemoval,
}

/// `FCG_NR_STATS`.
pub const FCG_NR_STATS: usize = 21;

/// Counter values indexed by [`Stat`].
pub type Stats = [u64; FCG_NR_STATS];

/// The rodata the loader fills in, plus `ops.hotplug_seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// `nr_cpus` (the loader sets the number of possible CPUs).
    pub nr_cpus: u32,
    /// `cgrp_slice_ns`.
    pub cgrp_slice_ns: u64,
    /// `fifo_sched`.
    pub fifo_sched: bool,
    /// `ops.hotplug_seq`, set by `SCX_OPS_OPEN()` from sysfs.
    pub hotplug_seq: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            nr_cpus: 32,
            cgrp_slice_ns: SCX_SLICE_DFL,
            fifo_sched: false,
            hotplug_seq: 0,
        }
    }
}

/// `struct fcg_cgrp_ctx` (cgroup storage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgrpCtx {
    /// `nr_active`: active children (or 1 for an active leaf).
    pub nr_active: u32,
    /// `nr_runnable`: runnable tasks in this very cgroup.
    pub nr_runnable: u32,
    /// `queued`: the cgroup is (being) put on the tree.
    pub queued: u32,
    /// `weight`: `cpu.weight`.
    pub weight: u32,
    /// `hweight`: hierarchical weight, [`FCG_HWEIGHT_ONE`] = 1.0.
    pub hweight: u32,
    /// `child_weight_sum`: weights of the active children.
    pub child_weight_sum: u64,
    /// `hweight_gen`: generation `hweight` was computed at.
    pub hweight_gen: u64,
    /// `cvtime_delta`: usage corrections not yet applied to the node.
    pub cvtime_delta: i64,
    /// `tvtime_now`: the cgroup's task vtime clock.
    pub tvtime_now: u64,
}

/// `struct fcg_cpu_ctx` (per-CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuCtx {
    /// `cur_cgid`: the cgroup this CPU is serving (0 = none).
    pub cur_cgid: u64,
    /// `cur_at`: when it started serving it.
    pub cur_at: u64,
}

/// `struct fcg_task_ctx` (task storage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskCtx {
    /// `bypassed_at`: `sum_exec_runtime` when the task bypassed cgroup
    /// scheduling (0 = it did not).
    pub bypassed_at: u64,
}

/// `struct cgv_node`: a cgroup's place in the cvtime tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgvNode {
    /// `cvtime`.
    pub cvtime: u64,
    /// `cgid`.
    pub cgid: u64,
}

/// `cgv_tree`: the BPF rbtree ordered by `cgv_node_less()`.
#[derive(Clone, Debug, Default)]
pub struct CgvTree {
    nodes: BTreeMap<(u64, u64), u64>,
    seq: u64,
}

impl CgvTree {
    /// `bpf_rbtree_add()`: after any node with the same cvtime.
    pub fn add(&mut self, n: CgvNode) {
        self.seq += 1;
        self.nodes.insert((n.cvtime, self.seq), n.cgid);
    }

    /// `bpf_rbtree_first()` + `bpf_rbtree_remove()`.
    pub fn pop_first(&mut self) -> Option<CgvNode> {
        let ((cvtime, _), cgid) = self.nodes.pop_first()?;
        Some(CgvNode { cvtime, cgid })
    }

    /// Number of cgroups on the tree.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True if no cgroup is on the tree.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Nodes in tree order.
    pub fn iter(&self) -> impl Iterator<Item = CgvNode> + '_ {
        self.nodes
            .iter()
            .map(|(&(cvtime, _), &cgid)| CgvNode { cvtime, cgid })
    }
}

/// The BPF side of scx_flatcg.
pub struct Flatcg {
    /// Knobs.
    pub knobs: Knobs,
    /// `stats`: per-CPU counters.
    pub stats: PerCpu<Stats>,
    /// `cgrp_ctx`, by cgroup id.
    pub cgrps: BTreeMap<u64, CgrpCtx>,
    /// `cgv_tree`.
    pub tree: CgvTree,
    /// `cgv_node_stash`, by cgroup id: the node while it is off the tree.
    pub stash: BTreeMap<u64, Option<CgvNode>>,
    /// `cpu_ctx`.
    pub cpuc: PerCpu<CpuCtx>,
    /// `task_ctx`.
    pub tctx: TaskStorage<TaskCtx>,
    /// `cvtime_now`.
    pub cvtime_now: u64,
    /// `hweight_gen` (data, starts at 1).
    pub hweight_gen: u64,
}

fn div_round_up(dividend: u64, divisor: u64) -> u64 {
    dividend
        .wrapping_add(divisor)
        .wrapping_sub(1)
        .checked_div(divisor)
        .unwrap_or(0)
}

/// BPF division: dividing by zero yields zero.
fn bpf_div(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(0)
}

fn vtime_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// `x ?: 1` for a hierarchical weight divisor.
fn hweight_or_one(h: u32) -> u64 {
    u64::from(h.max(1))
}

impl Flatcg {
    /// A fresh instance with `knobs` for a machine of `nr_cpus` CPUs.
    pub fn new(nr_cpus: usize, knobs: Knobs) -> Flatcg {
        Flatcg {
            knobs,
            stats: PerCpu::new(nr_cpus, [0; FCG_NR_STATS]),
            cgrps: BTreeMap::new(),
            tree: CgvTree::default(),
            stash: BTreeMap::new(),
            cpuc: PerCpu::new(nr_cpus, CpuCtx::default()),
            tctx: TaskStorage::default(),
            cvtime_now: 0,
            hweight_gen: 1,
        }
    }

    /// The counters summed over CPUs, as the loader reads them.
    pub fn totals(&self) -> Stats {
        let mut sum = [0u64; FCG_NR_STATS];
        for cpu in self.stats.iter() {
            for (s, v) in sum.iter_mut().zip(cpu) {
                *s = s.wrapping_add(*v);
            }
        }
        sum
    }

    fn stat_inc(&mut self, cx: &Cx, idx: Stat) {
        let cpu = cx.smp_processor_id() as usize;
        self.stats.get_mut(cpu)[idx as usize] += 1;
    }

    /// `find_cgrp_ctx()`: the cgroup's id if it has a context, else an
    /// scx error.
    fn find_cgrp_ctx(&mut self, cx: &mut Cx, cg: Cgroup) -> Option<u64> {
        let cgid = cx.cgroup_id(cg);
        if self.cgrps.contains_key(&cgid) {
            return Some(cgid);
        }
        cx.error(&format!("cgrp_ctx lookup failed for cgid {cgid}"));
        None
    }

    /// `find_ancestor_cgrp_ctx()`.
    fn find_ancestor_cgrp_ctx(&mut self, cx: &mut Cx, cg: Cgroup, level: u32) -> Option<u64> {
        let Some(anc) = cx.cgroup_ancestor(cg, level) else {
            cx.error("ancestor cgroup lookup failed");
            return None;
        };
        let found = self.find_cgrp_ctx(cx, anc);
        if found.is_none() {
            cx.error("ancestor cgrp_ctx lookup failed");
        }
        found
    }

    fn ctx(&mut self, cgid: u64) -> &mut CgrpCtx {
        self.cgrps.entry(cgid).or_default()
    }

    /// `cgrp_refresh_hweight()`.
    fn cgrp_refresh_hweight(&mut self, cx: &mut Cx, cg: Cgroup, cgid: u64) {
        let c = *self.ctx(cgid);
        if c.nr_active == 0 {
            return self.stat_inc(cx, Stat::HwtSkip);
        }
        if c.hweight_gen == self.hweight_gen {
            return self.stat_inc(cx, Stat::HwtCache);
        }
        self.stat_inc(cx, Stat::HwtUpdates);
        for level in 0..=cx.cgroup_level(cg) {
            let Some(id) = self.find_ancestor_cgrp_ctx(cx, cg, level) else {
                break;
            };
            if level == 0 {
                let gen = self.hweight_gen;
                let root = self.ctx(id);
                root.hweight = FCG_HWEIGHT_ONE as u32;
                root.hweight_gen = gen;
                continue;
            }
            let Some(pid) = self.find_ancestor_cgrp_ctx(cx, cg, level - 1) else {
                break;
            };
            if !self.inherit_hweight(id, pid) {
                self.stat_inc(cx, Stat::HwtRace);
                break;
            }
        }
    }

    /// One level of the hweight refresh: an active cgroup's hweight is its
    /// parent's scaled by its share of the parent's active weight. False if
    /// the cgroup is not active.
    fn inherit_hweight(&mut self, cgid: u64, parent: u64) -> bool {
        let p = *self.ctx(parent);
        let c = self.ctx(cgid);
        if c.nr_active == 0 {
            return false;
        }
        c.hweight_gen = p.hweight_gen;
        let scaled = p.hweight.wrapping_mul(c.weight);
        c.hweight = div_round_up(u64::from(scaled), p.child_weight_sum) as u32;
        true
    }

    /// `cgrp_cap_budget()`: applies the pending cvtime delta and limits
    /// the budget a cgroup may bank.
    fn cgrp_cap_budget(&mut self, node: &mut CgvNode, cgid: u64) {
        let c = self.ctx(cgid);
        let delta = std::mem::take(&mut c.cvtime_delta);
        let hweight = u64::from(c.hweight);
        let mut cvtime = node.cvtime.wrapping_add(delta as u64);
        let k = &self.knobs;
        let max_budget = k
            .cgrp_slice_ns
            .wrapping_mul(u64::from(k.nr_cpus))
            .wrapping_mul(hweight)
            / (2 * FCG_HWEIGHT_ONE);
        let floor = self.cvtime_now.wrapping_sub(max_budget);
        if vtime_before(cvtime, floor) {
            cvtime = floor;
        }
        node.cvtime = cvtime;
    }

    /// `cgrp_enqueued()`: puts the cgroup on the tree unless it is there.
    fn cgrp_enqueued(&mut self, cx: &mut Cx, cgid: u64) {
        let c = self.ctx(cgid);
        if c.queued != 0 {
            return self.stat_inc(cx, Stat::EnqSkip);
        }
        c.queued = 1;
        let Some(slot) = self.stash.get_mut(&cgid) else {
            cx.error(&format!("cgv_node lookup failed for cgid {cgid}"));
            return;
        };
        let Some(mut node) = slot.take() else {
            return self.stat_inc(cx, Stat::EnqRace);
        };
        self.cgrp_cap_budget(&mut node, cgid);
        self.tree.add(node);
    }

    /// `set_bypassed_at()`.
    fn set_bypassed_at(&mut self, cx: &Cx, p: Task) {
        let rt = cx.task(p).sum_exec_runtime();
        if let Some(t) = self.tctx.get_mut(p) {
            t.bypassed_at = if rt == 0 { u64::MAX } else { rt };
        }
    }

    fn has_task_ctx(&self, cx: &mut Cx, p: Task) -> bool {
        if self.tctx.get(p).is_some() {
            return true;
        }
        cx.error("task_ctx lookup failed");
        false
    }

    /// The enqueue path of tasks with a custom affinity.
    fn enqueue_bypass(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        self.set_bypassed_at(cx, p);
        let t = cx.task(p);
        if t.nr_cpus_allowed() == 1 && t.is_kthread() {
            self.stat_inc(cx, Stat::Local);
            cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, enq_flags);
        } else {
            self.stat_inc(cx, Stat::Global);
            cx.dispatch(p, FALLBACK_DSQ, SCX_SLICE_DFL, enq_flags);
        }
    }

    /// Queues `p` on its cgroup's DSQ, by vtime or FIFO.
    fn enqueue_cgroup(&mut self, cx: &mut Cx, p: Task, cgid: u64, enq_flags: u64) {
        if self.knobs.fifo_sched {
            cx.dispatch(p, cgid, SCX_SLICE_DFL, enq_flags);
            return;
        }
        let floor = self.ctx(cgid).tvtime_now.wrapping_sub(SCX_SLICE_DFL);
        let mut tvtime = cx.task(p).dsq_vtime();
        if vtime_before(tvtime, floor) {
            tvtime = floor;
        }
        cx.dispatch_vtime(p, cgid, SCX_SLICE_DFL, tvtime, enq_flags);
    }

    /// `update_active_weight_sums()`.
    fn update_active_weight_sums(&mut self, cx: &mut Cx, cg: Cgroup, runnable: bool) {
        let Some(cgid) = self.find_cgrp_ctx(cx, cg) else {
            return;
        };
        if !self.count_runnable(cx, cgid, runnable) {
            return;
        }
        if !runnable {
            self.cgrp_refresh_hweight(cx, cg, cgid);
        }
        let level = cx.cgroup_level(cg);
        let mut updated = false;
        for lvl in (1..=level).rev() {
            let Some(id) = self.find_ancestor_cgrp_ctx(cx, cg, lvl) else {
                break;
            };
            let Some(pid) = self.find_ancestor_cgrp_ctx(cx, cg, lvl - 1) else {
                break;
            };
            let changed = self.propagate_active(id, pid, runnable);
            updated |= changed;
            if !changed {
                break;
            }
        }
        if updated {
            self.hweight_gen = self.hweight_gen.wrapping_add(1);
        }
        if runnable {
            self.cgrp_refresh_hweight(cx, cg, cgid);
        }
    }

    /// Counts a task becoming runnable or quiescent in cgroup `cgid`;
    /// true on the 0↔1 transitions that (de)activate the cgroup.
    fn count_runnable(&mut self, cx: &Cx, cgid: u64, runnable: bool) -> bool {
        let c = self.ctx(cgid);
        if runnable {
            let old = c.nr_runnable;
            c.nr_runnable = old.wrapping_add(1);
            if old != 0 {
                return false;
            }
            self.stat_inc(cx, Stat::Act);
        } else {
            c.nr_runnable = c.nr_runnable.wrapping_sub(1);
            if c.nr_runnable != 0 {
                return false;
            }
            self.stat_inc(cx, Stat::Deact);
        }
        true
    }

    /// One level of the activation walk: `cgid` gains or loses an active
    /// child (or its own tasks); on its 0↔1 transition its weight enters or
    /// leaves the parent's `child_weight_sum`. True if the walk continues.
    fn propagate_active(&mut self, cgid: u64, parent: u64, runnable: bool) -> bool {
        let c = self.ctx(cgid);
        let weight = u64::from(c.weight);
        let transition = if runnable {
            c.nr_active = c.nr_active.wrapping_add(1);
            c.nr_active == 1
        } else {
            c.nr_active = c.nr_active.wrapping_sub(1);
            c.nr_active == 0
        };
        if transition {
            let p = self.ctx(parent);
            p.child_weight_sum = if runnable {
                p.child_weight_sum.wrapping_add(weight)
            } else {
                p.child_weight_sum.wrapping_sub(weight)
            };
        }
        transition
    }

    /// `try_pick_next_cgroup()`: `Some(cgid)` when done (0 = no cgroup
    /// queued), `None` to retry.
    fn try_pick_next_cgroup(&mut self, cx: &mut Cx) -> Option<u64> {
        let Some(mut node) = self.tree.pop_first() else {
            self.stat_inc(cx, Stat::PncNoCgrp);
            return Some(0);
        };
        let cgid = node.cgid;
        if vtime_before(self.cvtime_now, node.cvtime) {
            self.cvtime_now = node.cvtime;
        }
        let cg = cx.cgroup_from_id(cgid);
        let Some(cg) = cg.filter(|_| self.cgrps.contains_key(&cgid)) else {
            self.stat_inc(cx, Stat::PncGone);
            return None;
        };
        if !cx.consume(cgid) {
            self.stat_inc(cx, Stat::PncEmpty);
            self.restash(cx, node);
            return None;
        }
        self.cgrp_refresh_hweight(cx, cg, cgid);
        let hweight = hweight_or_one(self.ctx(cgid).hweight);
        let charge = bpf_div(
            self.knobs.cgrp_slice_ns.wrapping_mul(FCG_HWEIGHT_ONE),
            hweight,
        );
        node.cvtime = node.cvtime.wrapping_add(charge);
        self.cgrp_cap_budget(&mut node, cgid);
        self.tree.add(node);
        self.stat_inc(cx, Stat::PncNext);
        Some(cgid)
    }

    /// `out_stash:` of `try_pick_next_cgroup()`: a cgroup found empty goes
    /// back to the stash, unless a task raced in.
    fn restash(&mut self, cx: &mut Cx, node: CgvNode) {
        let cgid = node.cgid;
        if !self.stash.contains_key(&cgid) {
            return self.stat_inc(cx, Stat::PncGone);
        }
        let c = self.ctx(cgid);
        if c.queued == 1 {
            c.queued = 0;
        }
        if cx.dsq_nr_queued(cgid) != 0 {
            self.tree.add(node);
            return self.stat_inc(cx, Stat::PncRace);
        }
        let slot = self.stash.entry(cgid).or_default();
        if slot.replace(node).is_some() {
            cx.error("unexpected !NULL cgv_node stash");
        }
    }

    /// The part of `ops.dispatch()` that keeps serving the current cgroup;
    /// true if it produced a task. Otherwise the cgroup's actual usage is
    /// accounted.
    fn dispatch_current(&mut self, cx: &mut Cx, cpu: usize, now: u64) -> bool {
        let cpuc = *self.cpuc.get(cpu);
        let slice = self.knobs.cgrp_slice_ns;
        if vtime_before(now, cpuc.cur_at.wrapping_add(slice)) {
            if cx.consume(cpuc.cur_cgid) {
                self.stat_inc(cx, Stat::CnsKeep);
                return true;
            }
            self.stat_inc(cx, Stat::CnsEmpty);
        } else {
            self.stat_inc(cx, Stat::CnsExpire);
        }
        let known = cx.cgroup_from_id(cpuc.cur_cgid).is_some();
        if !known || !self.cgrps.contains_key(&cpuc.cur_cgid) {
            self.stat_inc(cx, Stat::CnsGone);
            return false;
        }
        let delta = now.wrapping_sub(cpuc.cur_at).wrapping_sub(slice) as i64;
        let c = self.ctx(cpuc.cur_cgid);
        let hweight = hweight_or_one(c.hweight);
        let scaled = bpf_div(delta.unsigned_abs().wrapping_mul(FCG_HWEIGHT_ONE), hweight) as i64;
        c.cvtime_delta = if delta >= 0 {
            c.cvtime_delta.wrapping_add(scaled)
        } else {
            c.cvtime_delta.wrapping_sub(scaled)
        };
        false
    }

    /// `pick_next_cgroup:` of `ops.dispatch()`.
    fn pick_next_cgroup(&mut self, cx: &mut Cx, cpu: usize, now: u64) {
        self.cpuc.get_mut(cpu).cur_at = now;
        if cx.consume(FALLBACK_DSQ) {
            self.cpuc.get_mut(cpu).cur_cgid = 0;
            return;
        }
        for _ in 0..CGROUP_MAX_RETRIES {
            if let Some(cgid) = self.try_pick_next_cgroup(cx) {
                self.cpuc.get_mut(cpu).cur_cgid = cgid;
                return;
            }
        }
        self.stat_inc(cx, Stat::PncFail);
    }
}

impl Scheduler for Flatcg {
    fn info(&self) -> OpsInfo {
        let mut i = OpsInfo::new(
            "flatcg",
            &[
                Op::SelectCpu,
                Op::Enqueue,
                Op::Dispatch,
                Op::Runnable,
                Op::Running,
                Op::Stopping,
                Op::Quiescent,
                Op::InitTask,
                Op::CgroupSetWeight,
                Op::CgroupInit,
                Op::CgroupExit,
                Op::CgroupMove,
                Op::Init,
                Op::Exit,
            ],
        );
        i.flags = SCX_OPS_HAS_CGROUP_WEIGHT | SCX_OPS_ENQ_EXITING;
        i.hotplug_seq = self.knobs.hotplug_seq;
        i
    }

    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, wake_flags: u64) -> i32 {
        let (cpu, is_idle) = cx.select_cpu_dfl(p, prev_cpu, wake_flags);
        if !self.has_task_ctx(cx, p) {
            return cpu;
        }
        if is_idle {
            self.set_bypassed_at(cx, p);
            self.stat_inc(cx, Stat::Local);
            cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
        }
        cpu
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        if !self.has_task_ctx(cx, p) {
            return;
        }
        if cx.task(p).nr_cpus_allowed() != self.knobs.nr_cpus {
            return self.enqueue_bypass(cx, p, enq_flags);
        }
        let cg = cx.task_cgroup(p);
        let Some(cgid) = self.find_cgrp_ctx(cx, cg) else {
            return;
        };
        self.enqueue_cgroup(cx, p, cgid, enq_flags);
        self.cgrp_enqueued(cx, cgid);
    }

    fn dispatch(&mut self, cx: &mut Cx, _cpu: i32, _prev: Option<Task>) {
        let cpu = cx.smp_processor_id() as usize;
        let now = cx.ktime_get_ns();
        if self.cpuc.get(cpu).cur_cgid != 0 && self.dispatch_current(cx, cpu, now) {
            return;
        }
        self.pick_next_cgroup(cx, cpu, now);
    }

    fn runnable(&mut self, cx: &mut Cx, p: Task, _enq_flags: u64) {
        let cg = cx.task_cgroup(p);
        self.update_active_weight_sums(cx, cg, true);
    }

    fn running(&mut self, cx: &mut Cx, p: Task) {
        if self.knobs.fifo_sched {
            return;
        }
        let cg = cx.task_cgroup(p);
        let Some(cgid) = self.find_cgrp_ctx(cx, cg) else {
            return;
        };
        let v = cx.task(p).dsq_vtime();
        let c = self.ctx(cgid);
        if vtime_before(c.tvtime_now, v) {
            c.tvtime_now = v;
        }
    }

    fn stopping(&mut self, cx: &mut Cx, p: Task, _runnable: bool) {
        if !self.knobs.fifo_sched {
            let t = cx.task(p);
            let used = SCX_SLICE_DFL.wrapping_sub(t.slice()).wrapping_mul(100);
            let v = t
                .dsq_vtime()
                .wrapping_add(bpf_div(used, u64::from(t.weight())));
            cx.set_dsq_vtime(p, v);
        }
        if !self.has_task_ctx(cx, p) {
            return;
        }
        let bypassed_at = self.tctx.get(p).map_or(0, |t| t.bypassed_at);
        if bypassed_at == 0 {
            return;
        }
        let cg = cx.task_cgroup(p);
        let Some(cgid) = self.find_cgrp_ctx(cx, cg) else {
            return;
        };
        let ran = cx.task(p).sum_exec_runtime().wrapping_sub(bypassed_at);
        let c = self.ctx(cgid);
        let charge = bpf_div(ran.wrapping_mul(FCG_HWEIGHT_ONE), hweight_or_one(c.hweight));
        c.cvtime_delta = c.cvtime_delta.wrapping_add(charge as i64);
        if let Some(t) = self.tctx.get_mut(p) {
            t.bypassed_at = 0;
        }
    }

    fn quiescent(&mut self, cx: &mut Cx, p: Task, _deq_flags: u64) {
        let cg = cx.task_cgroup(p);
        self.update_active_weight_sums(cx, cg, false);
    }

    fn cgroup_set_weight(&mut self, cx: &mut Cx, cg: Cgroup, weight: u32) {
        let Some(cgid) = self.find_cgrp_ctx(cx, cg) else {
            return;
        };
        let level = cx.cgroup_level(cg);
        let parent = match level {
            0 => None,
            l => match self.find_ancestor_cgrp_ctx(cx, cg, l - 1) {
                Some(pid) => Some(pid),
                None => return,
            },
        };
        let c = *self.ctx(cgid);
        if let Some(pid) = parent.filter(|_| c.nr_active != 0) {
            let diff = i64::from(weight) - i64::from(c.weight);
            let p = self.ctx(pid);
            p.child_weight_sum = p.child_weight_sum.wrapping_add(diff as u64);
        }
        self.ctx(cgid).weight = weight;
        self.hweight_gen = self.hweight_gen.wrapping_add(1);
    }

    fn init_task(&mut self, cx: &mut Cx, p: Task, args: &InitTaskArgs) -> i32 {
        self.tctx.insert(p, TaskCtx::default());
        let Some(cgid) = self.find_cgrp_ctx(cx, args.cgroup) else {
            return -ENOENT;
        };
        let v = self.ctx(cgid).tvtime_now;
        cx.set_dsq_vtime(p, v);
        0
    }

    fn cgroup_init(&mut self, cx: &mut Cx, cg: Cgroup, args: &CgroupInitArgs) -> i32 {
        let cgid = cx.cgroup_id(cg);
        let ret = cx.create_dsq(cgid, -1);
        if ret != 0 {
            return ret;
        }
        let c = self.ctx(cgid);
        c.weight = args.weight;
        c.hweight = FCG_HWEIGHT_ONE as u32;
        let ret = if self.stash.contains_key(&cgid) {
            -EEXIST
        } else if self.stash.len() >= STASH_MAX_ENTRIES {
            -E2BIG
        } else {
            0
        };
        if ret != 0 {
            if ret != -ENOMEM {
                cx.error(&format!("unexpected stash creation error ({ret})"));
            }
            cx.destroy_dsq(cgid);
            return ret;
        }
        let node = CgvNode {
            cvtime: self.cvtime_now,
            cgid,
        };
        self.stash.insert(cgid, Some(node));
        0
    }

    fn cgroup_exit(&mut self, cx: &mut Cx, cg: Cgroup) {
        let cgid = cx.cgroup_id(cg);
        self.stash.remove(&cgid);
        cx.destroy_dsq(cgid);
    }

    fn cgroup_move(&mut self, cx: &mut Cx, p: Task, from: Cgroup, to: Cgroup) {
        let Some(from_id) = self.find_cgrp_ctx(cx, from) else {
            return;
        };
        let Some(to_id) = self.find_cgrp_ctx(cx, to) else {
            return;
        };
        let from_now = self.ctx(from_id).tvtime_now;
        let to_now = self.ctx(to_id).tvtime_now;
        let delta = cx.task(p).dsq_vtime().wrapping_sub(from_now);
        cx.set_dsq_vtime(p, to_now.wrapping_add(delta));
    }

    fn init(&mut self, cx: &mut Cx) -> i32 {
        cx.create_dsq(FALLBACK_DSQ, -1)
    }

    fn exit(&mut self, _cx: &mut Cx, _info: &ExitInfo) {}
}

/// `/proc/stat`'s first line as the loader reads it: the sum of all
/// fields and the idle field, in USER_HZ ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcStat {
    /// Sum of every field.
    pub sum: u64,
    /// The `idle` field.
    pub idle: u64,
}

impl ProcStat {
    /// The machine's figures now: busy and idle time over all CPUs since
    /// boot, each converted to USER_HZ ticks as `/proc/stat` does.
    pub fn read(k: &Kernel) -> ProcStat {
        let busy: u64 = (0..k.nr_cpus()).map(|c| k.cpu_busy_ns(c)).sum();
        let total = k.now.saturating_mul(k.nr_cpus() as u64);
        let idle = total.saturating_sub(busy) / USER_HZ_NS;
        ProcStat {
            sum: busy / USER_HZ_NS + idle,
            idle,
        }
    }
}

/// `read_cpu_util()`: utilisation since `last` (updated), as the loader's
/// `float`.
pub fn cpu_util(now: ProcStat, last: &mut ProcStat) -> f32 {
    let delta_sum = now.sum.wrapping_sub(last.sum);
    let delta_idle = now.idle.wrapping_sub(last.idle);
    *last = now;
    if delta_sum == 0 {
        return 0.0;
    }
    delta_sum.wrapping_sub(delta_idle) as f32 / delta_sum as f32
}

/// The loader's periodic block: `seq`, utilisation `util` (a fraction),
/// `hweight_gen`, the counter deltas `d` and the cumulative counters
/// `acc`. The first line is empty: the real loader starts each block with
/// a newline, which also ends its preamble's line.
pub fn format_stats(seq: u64, util: f32, hweight_gen: u64, d: &Stats, acc: &Stats) -> Vec<String> {
    let s = |i: Stat| d[i as usize];
    vec![
        String::new(),
        format!(
            "[SEQ {seq:6} cpu={:5.1} hweight_gen={hweight_gen}]",
            f64::from(util) * 100.0
        ),
        format!(
            "       act:{:6}  deact:{:6} global:{:6} local:{:6}",
            s(Stat::Act),
            s(Stat::Deact),
            s(Stat::Global),
            s(Stat::Local)
        ),
        format!(
            "HWT  cache:{:6} update:{:6}   skip:{:6}  race:{:6}",
            s(Stat::HwtCache),
            s(Stat::HwtUpdates),
            s(Stat::HwtSkip),
            s(Stat::HwtRace)
        ),
        format!(
            "ENQ   skip:{:6}   race:{:6}",
            s(Stat::EnqSkip),
            s(Stat::EnqRace)
        ),
        format!(
            "CNS   keep:{:6} expire:{:6}  empty:{:6}  gone:{:6}",
            s(Stat::CnsKeep),
            s(Stat::CnsExpire),
            s(Stat::CnsEmpty),
            s(Stat::CnsGone)
        ),
        format!(
            "PNC   next:{:6}  empty:{:6} nocgrp:{:6}  gone:{:6} race:{:6} fail:{:6}",
            s(Stat::PncNext),
            s(Stat::PncEmpty),
            s(Stat::PncNoCgrp),
            s(Stat::PncGone),
            s(Stat::PncRace),
            s(Stat::PncFail)
        ),
        format!("BAD remove:{:6}", acc[Stat::BadRemoval as usize]),
    ]
}

/// The loader's `-i` interval as `struct timespec` (seconds truncated,
/// nanoseconds from the remainder against the seconds as a `float`).
fn interval_from_secs(v: f64) -> (i64, i64) {
    let sec = v as i64;
    let nsec = ((v - f64::from(sec as f32)) * 1e9) as i64;
    (sec, nsec)
}

/// The loader.
#[derive(Clone)]
pub struct FlatcgTool {
    knobs: Knobs,
    dump_cgrps: bool,
    intv: (i64, i64),
    seq: u64,
    last_stats: Stats,
    last_cpu: ProcStat,
    instances: Cell<u32>,
}

impl FlatcgTool {
    /// Parses scx_flatcg's flags (`"s:i:dfvh"`).
    pub fn parse(args: &[String]) -> Result<FlatcgTool, ToolError> {
        let usage = |e: String| ToolError::Usage(format!("scx_flatcg: {e}"));
        let opts = getopt(args, "s:i:dfvh").map_err(usage)?;
        let mut t = FlatcgTool {
            knobs: Knobs::default(),
            dump_cgrps: false,
            intv: (2, 0),
            seq: 0,
            last_stats: [0; FCG_NR_STATS],
            last_cpu: ProcStat::default(),
            instances: Cell::new(0),
        };
        for o in opts {
            let arg = o.arg.clone().unwrap_or_default();
            match o.letter {
                's' => t.knobs.cgrp_slice_ns = (strtod(&arg, 's').map_err(usage)? * 1000.0) as u64,
                'i' => t.intv = interval_from_secs(strtod(&arg, 'i').map_err(usage)?),
                'd' => t.dump_cgrps = true,
                'f' => t.knobs.fifo_sched = true,
                'v' => {}
                _ => return Err(ToolError::Help(HELP.replace("%s", "scx_flatcg"))),
            }
        }
        if t.interval_ns() <= 0 {
            return Err(usage(format!(
                "-i {:.1}: a report interval must be positive (the real loader would print without pause)",
                t.intv.0 as f64 + t.intv.1 as f64 / 1e9
            )));
        }
        Ok(t)
    }

    /// The knobs the loader set.
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    fn interval_ns(&self) -> i64 {
        self.intv
            .0
            .saturating_mul(1_000_000_000)
            .saturating_add(self.intv.1)
    }

    /// The line the loader prints before loading, for an instance whose
    /// `cgrp_slice_ns` is `slice_ns` (`slice=%.1lfms intv=%.1lfs
    /// dump_cgrps=%d`, no newline).
    pub fn preamble_with_slice(&self, slice_ns: u64) -> String {
        format!(
            "slice={:.1}ms intv={:.1}s dump_cgrps={}",
            slice_ns as f64 / 1_000_000.0,
            self.intv.0 as f64 + self.intv.1 as f64 / 1_000_000_000.0,
            i32::from(self.dump_cgrps)
        )
    }

    /// This interval's block from the scheduler's cumulative counters
    /// `acc` and `hweight_gen`, as the loader prints it from
    /// `skel->maps.stats` and `skel->bss->hweight_gen` (for the compiled
    /// object as for the port).
    pub fn stats_from(&mut self, k: &Kernel, acc: Stats, hweight_gen: u64) -> Vec<String> {
        let util = cpu_util(ProcStat::read(k), &mut self.last_cpu);
        self.block(util, acc, hweight_gen)
    }

    /// An interval without a scheduler to read: the loader still read
    /// `/proc/stat`.
    pub fn skip_interval(&mut self, k: &Kernel) {
        cpu_util(ProcStat::read(k), &mut self.last_cpu);
    }

    fn block(&mut self, util: f32, acc: Stats, gen: u64) -> Vec<String> {
        let mut delta = [0u64; FCG_NR_STATS];
        for (i, d) in delta.iter_mut().enumerate() {
            *d = acc[i].wrapping_sub(self.last_stats[i]);
        }
        self.last_stats = acc;
        let lines = format_stats(self.seq, util, gen, &delta, &acc);
        self.seq += 1;
        lines
    }

    /// The knobs a new instance gets: the parsed ones the first time, the
    /// skeleton's defaults after a restart.
    fn instance_knobs(&self, restart: bool) -> Knobs {
        if restart {
            Knobs::default()
        } else {
            self.knobs.clone()
        }
    }
}

impl Tool for FlatcgTool {
    fn program_name(&self) -> &'static str {
        "scx_flatcg"
    }

    fn preamble(&self) -> Option<String> {
        let knobs = self.instance_knobs(self.instances.get() > 0);
        Some(self.preamble_with_slice(knobs.cgrp_slice_ns))
    }

    fn scheduler(&self, k: &Kernel, restart: bool) -> Box<dyn Scheduler> {
        self.instances.set(self.instances.get() + 1);
        let mut knobs = self.instance_knobs(restart);
        knobs.nr_cpus = k.nr_cpus() as u32;
        knobs.hotplug_seq = k.scx.hotplug_seq;
        Box::new(Flatcg::new(k.nr_cpus(), knobs))
    }

    fn stats(&mut self, k: &mut Kernel) -> Vec<String> {
        let util = cpu_util(ProcStat::read(k), &mut self.last_cpu);
        let Some((acc, gen)) = with_sched(k, |f: &Flatcg| (f.totals(), f.hweight_gen)) else {
            return Vec::new();
        };
        self.block(util, acc, gen)
    }

    fn interval(&self) -> Ns {
        self.interval_ns().max(1) as Ns
    }

    fn restarts_on(&self, exit_code: i64) -> bool {
        uei_ecode_restart(exit_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_division_is_bpf_division() {
        assert_eq!(div_round_up(7, 2), 4);
        assert_eq!(div_round_up(8, 2), 4);
        assert_eq!(div_round_up(8, 0), 0);
        assert_eq!(bpf_div(8, 0), 0);
    }

    #[test]
    fn tree_pops_lowest_cvtime_then_insertion_order() {
        let mut t = CgvTree::default();
        t.add(CgvNode { cvtime: 5, cgid: 2 });
        t.add(CgvNode { cvtime: 3, cgid: 3 });
        t.add(CgvNode { cvtime: 5, cgid: 4 });
        let order: Vec<u64> = std::iter::from_fn(|| t.pop_first())
            .map(|n| n.cgid)
            .collect();
        assert_eq!(order, vec![3, 2, 4]);
    }

    #[test]
    fn interval_like_the_loader() {
        assert_eq!(interval_from_secs(2.0), (2, 0));
        assert_eq!(interval_from_secs(0.5), (0, 500_000_000));
        let (s, ns) = interval_from_secs(1.25);
        assert_eq!((s, ns), (1, 250_000_000));
    }

    #[test]
    fn util_from_proc_stat_deltas() {
        let mut last = ProcStat::default();
        let u = cpu_util(ProcStat { sum: 200, idle: 50 }, &mut last);
        assert!((u - 0.75).abs() < 1e-6);
        assert_eq!(cpu_util(ProcStat { sum: 200, idle: 50 }, &mut last), 0.0);
    }
}
