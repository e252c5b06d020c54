//! The sched_ext core (`kernel/sched/ext.c` at v6.12.117), one module per
//! kernel concept, in ext.c's order:
//!
//! * [`entity`] — `struct sched_ext_entity`, ops_state
//! * [`rq`] — `struct scx_rq`
//! * [`call`] — `SCX_CALL_OP*`: invoking the scheduler with its kfunc mask
//! * [`dsq`] — dispatch queues: create/destroy, FIFO/PRIQ insertion, unlink
//! * [`enqueue`] — `enqueue_task_scx`, the `do_enqueue_task` ladder, direct
//!   dispatch, `dequeue_task_scx`
//! * [`balance`] — `balance_one` with the dispatch loop and its breaker,
//!   `finish_dispatch`, consuming DSQs, moving tasks between rqs
//! * [`pick`] — `pick_task_scx`, `set_next_task_scx`, `put_prev_task_scx`,
//!   `switch_class`
//! * [`tick`] — slice accounting, `task_tick_scx`, `scx_tick`, yield
//! * [`kick`] — `scx_bpf_kick_cpu` and its irq_work
//! * [`idle`] — built-in idle tracking and `scx_select_cpu_dfl`
//! * [`lifecycle`] — init/enable/disable/exit of tasks, fork hooks
//! * [`enable`] — attaching and detaching a scheduler, bypass mode
//! * [`exit`] — exit kinds, exit claims, the error irq_work
//! * [`watchdog`] — the stall watchdog
//! * [`dump`] — the debug dump
//! * [`cgroup`] — cgroup callbacks

pub mod balance;
pub mod call;
pub mod cgroup;
pub mod dsq;
pub mod dump;
pub mod enable;
pub mod enqueue;
pub mod entity;
pub mod exit;
pub mod hotplug;
pub mod idle;
pub mod kick;
pub mod lifecycle;
pub mod pick;
pub mod rq;
pub mod tick;
pub mod watchdog;

use crate::consts::*;
use crate::kernel::Kernel;
use crate::list::{Links, ListHead};
use crate::ops::{OpSet, OpsInfo};
use dsq::Dsqs;
use scx_machine::Cpumask;
use scx_observe::Op;
use scx_workload::Policy;

/// `enum scx_ops_enable_state` (ext.c:792-804).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnableState {
    /// `SCX_OPS_ENABLING`.
    Enabling = 0,
    /// `SCX_OPS_ENABLED`.
    Enabled = 1,
    /// `SCX_OPS_DISABLING`.
    Disabling = 2,
    /// `SCX_OPS_DISABLED`.
    Disabled = 3,
}

impl EnableState {
    /// The sysfs spelling.
    pub fn name(self) -> &'static str {
        match self {
            EnableState::Enabling => "enabling",
            EnableState::Enabled => "enabled",
            EnableState::Disabling => "disabling",
            EnableState::Disabled => "disabled",
        }
    }
}

/// Global sched_ext state (ext.c:856-981).
#[derive(Debug)]
pub struct ScxState {
    /// `scx_ops_enable_state_var`.
    pub enable_state: EnableState,
    /// `scx_ops_bypass_depth`.
    pub bypass_depth: u32,
    /// `scx_switching_all`.
    pub switching_all: bool,
    /// `__scx_ops_enabled` (`scx_enabled()`).
    pub enabled: bool,
    /// `__scx_switched_all`.
    pub switched_all: bool,
    /// The "has op" static keys.
    pub has_op: OpSet,
    /// `scx_ops_enq_last`.
    pub enq_last: bool,
    /// `scx_ops_enq_exiting`.
    pub enq_exiting: bool,
    /// `scx_ops_cpu_preempt`.
    pub cpu_preempt: bool,
    /// `scx_builtin_idle_enabled`.
    pub builtin_idle: bool,
    /// `scx_ops_init_task_enabled`.
    pub init_task_enabled: bool,
    /// The attached scheduler's struct_ops fields.
    pub ops: OpsInfo,
    /// `scx_exit_kind` (the exit claim).
    pub exit_kind: u32,
    /// `scx_exit_info` of the current scheduler instance.
    pub exit_info: Option<crate::ops::ExitInfo>,
    /// The last completed exit (kept after the disable work frees
    /// `scx_exit_info`, for the loader's report).
    pub last_exit: Option<exit::ExitRecord>,
    /// Number of completed disables (`ops.exit()` calls).
    pub disable_seq: u64,
    /// `scx_dsp_max_batch`.
    pub dsp_max_batch: u32,
    /// `scx_watchdog_timeout` in jiffies.
    pub watchdog_timeout: u64,
    /// `scx_watchdog_timestamp` in jiffies.
    pub watchdog_timestamp: u64,
    /// `idle_masks.cpu`.
    pub idle_cpu: Cpumask,
    /// `idle_masks.smt`.
    pub idle_smt: Cpumask,
    /// All DSQs.
    pub dsqs: Dsqs,
    /// `scx_tasks`: every task from post-fork until free, in fork order.
    pub tasks_list: ListHead,
    /// Links of `scx_tasks`.
    pub tasks_links: Links,
    /// Links of every rq's `runnable_list`.
    pub runnable_links: Links,
    /// `scx_warned_zero_slice`.
    pub warned_zero_slice: bool,
    /// `scx_nr_rejected`.
    pub nr_rejected: u64,
    /// `scx_hotplug_seq`.
    pub hotplug_seq: u64,
    /// CPUs whose runqueue lock the error dump has got so far.
    pub dump_locks_done: usize,
    /// A SysRq-D dump is being written (stack stand-ins differ).
    pub dump_by_sysrq: bool,
    /// CPUs whose runqueue lock the helper's current work has got so far.
    pub helper_locks_done: usize,
    /// `scx_enable_seq`.
    pub enable_seq: u64,
    /// The watchdog's delayed work is queued.
    pub watchdog_armed: bool,
    /// The timer of the watchdog's delayed work.
    pub watchdog_timer: Option<u32>,
    /// The debug dump in progress (`scx_dump_data`).
    pub dump: Option<dump::DumpData>,
    /// The zero-slice warning and other once-per-instance warnings.
    pub warned_cgroup_weight: bool,
    /// The enable/disable helper kthreads exist (`scx_ops_helper`).
    pub helper: Option<crate::task::Tid>,
    /// The enable helper kthread.
    pub enable_helper: Option<crate::task::Tid>,
    /// When the current exit was claimed.
    pub exit_claimed_at: u64,
    /// The task whose `ops.cgroup_prep_move()` succeeded for the move in
    /// progress.
    pub cgroup_prepped: Option<crate::task::Tid>,
    /// Generation of each iterator cursor slot.
    pub iter_gen: Vec<u32>,
    /// Live iterator cursors, with the CPU whose op created them.
    pub iter_live: Vec<(usize, crate::list::NodeId)>,
    /// Armed scheduler timers by the scheduler's id.
    pub sched_timers: std::collections::BTreeMap<u64, u32>,
    /// Result of the last attach, once its enable work ran.
    pub attach_result: Option<i32>,
    /// Pending kthread work of each helper kthread.
    pub helper_queue: std::collections::BTreeMap<
        crate::task::Tid,
        std::collections::VecDeque<enable::HelperWork>,
    >,
    /// Kernel frames of the code running now, outermost first: the
    /// backtrace stand-in of error exits.
    pub error_context: Vec<&'static str>,
}

impl ScxState {
    /// State of a kernel that never loaded a scheduler.
    pub fn new(nr_cpus: usize) -> ScxState {
        ScxState {
            enable_state: EnableState::Disabled,
            bypass_depth: 0,
            switching_all: false,
            enabled: false,
            switched_all: false,
            has_op: OpSet::default(),
            enq_last: false,
            enq_exiting: false,
            cpu_preempt: false,
            builtin_idle: false,
            init_task_enabled: false,
            ops: OpsInfo::new("", &[]),
            exit_kind: exit::SCX_EXIT_DONE,
            exit_info: None,
            last_exit: None,
            disable_seq: 0,
            dsp_max_batch: 0,
            watchdog_timeout: 0,
            watchdog_timestamp: 0,
            idle_cpu: Cpumask::new(),
            idle_smt: Cpumask::new(),
            dsqs: Dsqs::new(nr_cpus),
            tasks_list: ListHead::default(),
            tasks_links: Links::default(),
            runnable_links: Links::default(),
            warned_zero_slice: false,
            nr_rejected: 0,
            hotplug_seq: 0,
            dump_locks_done: 0,
            dump_by_sysrq: false,
            helper_locks_done: 0,
            enable_seq: 0,
            watchdog_armed: false,
            watchdog_timer: None,
            dump: None,
            warned_cgroup_weight: false,
            helper: None,
            enable_helper: None,
            exit_claimed_at: 0,
            attach_result: None,
            iter_gen: Vec::new(),
            iter_live: Vec::new(),
            sched_timers: Default::default(),
            cgroup_prepped: None,
            helper_queue: Default::default(),
            error_context: Vec::new(),
        }
    }

    /// Makes room for `n` tasks in the intrusive lists.
    pub fn grow_tasks(&mut self, n: usize) {
        self.dsqs.links.grow_tasks(n);
        self.tasks_links.grow_tasks(n);
        self.runnable_links.grow_tasks(n);
    }

    /// `SCX_HAS_OP(op)`.
    pub fn has(&self, op: Op) -> bool {
        self.has_op.has(op)
    }
}

impl Kernel {
    /// `task_should_scx()` (ext.c:4527-4535).
    pub(crate) fn task_should_scx(&self, policy: Policy) -> bool {
        if !self.scx.enabled || self.scx.enable_state == EnableState::Disabling {
            return false;
        }
        if self.scx.switching_all {
            return !policy.is_rt();
        }
        policy == Policy::Ext
    }

    /// `scx_rq_bypassing()`.
    pub(crate) fn scx_rq_bypassing(&self, cpu: usize) -> bool {
        self.rqs[cpu].scx.flags & SCX_RQ_BYPASSING != 0
    }

    /// `scx_rq_online()`.
    pub(crate) fn scx_rq_online(&self, cpu: usize) -> bool {
        self.rqs[cpu].scx.flags & SCX_RQ_ONLINE != 0 && self.rqs[cpu].active
    }

    /// `ops_cpu_valid()`: a possible CPU; otherwise an scx error naming it.
    pub(crate) fn ops_cpu_valid(&mut self, cpu: i64, where_: Option<&str>) -> bool {
        if cpu >= 0 && (cpu as usize) < self.nr_cpus() {
            return true;
        }
        match where_ {
            Some(w) => self.scx_ops_error(format!("invalid CPU {cpu} {w}")),
            None => self.scx_ops_error(format!("invalid CPU {cpu}")),
        }
        false
    }

    /// Checks sched_ext invariants (part of the conservation check).
    pub(crate) fn check_scx_invariants(&self) {
        self.scx.dsqs.check(self);
        for rq in &self.rqs {
            let mut n = 0;
            for t in self.scx.runnable_links.tasks(&rq.scx.runnable_list) {
                let task = self.task(t);
                assert!(
                    task.scx.queued(),
                    "task {} on runnable_list but not QUEUED",
                    task.pid
                );
                assert_eq!(
                    task.cpu, rq.cpu,
                    "task {} on the runnable_list of CPU {}",
                    task.pid, rq.cpu
                );
                n += 1;
            }
            let running_queued = {
                let c = self.task(rq.curr);
                c.class == crate::task::Class::Ext && c.scx.queued()
            };
            assert_eq!(
                n + u32::from(running_queued),
                rq.scx.nr_running,
                "CPU {}: runnable_list + running != scx.nr_running",
                rq.cpu
            );
        }
    }
}
