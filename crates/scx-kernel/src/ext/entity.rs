//! `struct sched_ext_entity` (include/linux/sched/ext.h:139-204): the
//! per-task sched_ext state, with the ops_state ownership machine.
//!
//! ```text
//!  ops_state (SCX_OPSS_*), ext.c:806-854
//!
//!   NONE ──do_enqueue_task──▶ QUEUEING ──ops.enqueue returned──▶ QUEUED|qseq
//!     ▲                          │ direct dispatch                 │    │
//!     │                          ▼                                 │    │ ops_dequeue
//!     ├──────inserted into DSQ── (CLEAR_OPSS) ◀──DISPATCHING ◀─────┘    │
//!     │                                          finish_dispatch claims │
//!     └─────────────────────────────────────────────────────────────────┘
//! ```
//!
//! The low two bits of `ops_state` are the state, the rest the qseq that
//! `scx_bpf_dispatch()` records and `finish_dispatch()` compares.

use crate::consts::*;

/// `enum scx_task_state` (ext.h:85-92), kept in bits 8-9 of `flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScxTaskState {
    /// `SCX_TASK_NONE`: `ops.init_task()` not called.
    None = 0,
    /// `SCX_TASK_INIT`: initialised, may still be cancelled.
    Init = 1,
    /// `SCX_TASK_READY`: initialised, not on sched_ext.
    Ready = 2,
    /// `SCX_TASK_ENABLED`: on sched_ext.
    Enabled = 3,
}

/// Per-task sched_ext state.
#[derive(Clone, Debug)]
pub struct ScxEntity {
    /// DSQ the task is linked on (index into the DSQ arena), if any.
    pub dsq: Option<u32>,
    /// Linked on its rq's `ddsp_deferred_locals` (the list node is in use
    /// but `dsq` is NULL, as in the kernel).
    pub on_ddsp_deferred: bool,
    /// `dsq_seq`.
    pub dsq_seq: u32,
    /// `dsq_flags` (`SCX_TASK_DSQ_ON_PRIQ`).
    pub dsq_flags: u32,
    /// Key in the DSQ's vtime tree while on a PRIQ DSQ.
    pub priq_key: Option<(u64, u64)>,
    /// `flags` (`SCX_TASK_*` plus the task state in bits 8-9).
    pub flags: u32,
    /// `weight` (cgroup scale, 1..10000).
    pub weight: u32,
    /// `sticky_cpu`.
    pub sticky_cpu: i32,
    /// `holding_cpu`.
    pub holding_cpu: i32,
    /// `ops_qseq`.
    pub ops_qseq: u64,
    /// `ops_state`.
    pub ops_state: u64,
    /// `runnable_at` in jiffies.
    pub runnable_at: u64,
    /// `core_sched_at`.
    pub core_sched_at: u64,
    /// `ddsp_dsq_id`.
    pub ddsp_dsq_id: u64,
    /// `ddsp_enq_flags`.
    pub ddsp_enq_flags: u64,
    /// `slice`.
    pub slice: u64,
    /// `dsq_vtime`.
    pub dsq_vtime: u64,
    /// `disallow`.
    pub disallow: bool,
}

impl ScxEntity {
    /// `init_scx_entity()` (ext.c:3828-3839), `runnable_at` = `jiffies`.
    pub fn new(jiffies: u64) -> ScxEntity {
        ScxEntity {
            dsq: None,
            on_ddsp_deferred: false,
            dsq_seq: 0,
            dsq_flags: 0,
            priq_key: None,
            flags: 0,
            weight: 0,
            sticky_cpu: -1,
            holding_cpu: -1,
            ops_qseq: 0,
            ops_state: SCX_OPSS_NONE,
            runnable_at: jiffies,
            core_sched_at: 0,
            ddsp_dsq_id: SCX_DSQ_INVALID,
            ddsp_enq_flags: 0,
            slice: SCX_SLICE_DFL,
            dsq_vtime: 0,
            disallow: false,
        }
    }

    /// The task state from bits 8-9.
    pub fn task_state(&self) -> ScxTaskState {
        match (self.flags & SCX_TASK_STATE_MASK) >> SCX_TASK_STATE_SHIFT {
            0 => ScxTaskState::None,
            1 => ScxTaskState::Init,
            2 => ScxTaskState::Ready,
            _ => ScxTaskState::Enabled,
        }
    }

    /// `scx_set_task_state()` (ext.c:3690-3709): asserts the transition is
    /// one the kernel allows (NONE→INIT, !NONE→READY, READY→ENABLED, any→NONE).
    pub fn set_task_state(&mut self, to: ScxTaskState) {
        let from = self.task_state();
        let legal = match to {
            ScxTaskState::None => true,
            ScxTaskState::Init => from == ScxTaskState::None,
            ScxTaskState::Ready => from != ScxTaskState::None,
            ScxTaskState::Enabled => from == ScxTaskState::Ready,
        };
        assert!(
            legal,
            "invalid scx task state transition {from:?} -> {to:?}"
        );
        self.flags = (self.flags & !SCX_TASK_STATE_MASK) | ((to as u32) << SCX_TASK_STATE_SHIFT);
    }

    /// True if `SCX_TASK_QUEUED`.
    pub fn queued(&self) -> bool {
        self.flags & SCX_TASK_QUEUED != 0
    }

    /// The state bits of `ops_state`.
    pub fn opss(&self) -> u64 {
        self.ops_state & SCX_OPSS_STATE_MASK
    }

    /// The qseq bits of `ops_state` (still shifted, as the kernel compares).
    pub fn opss_qseq(&self) -> u64 {
        self.ops_state & !SCX_OPSS_STATE_MASK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine_allows_the_kernel_transitions() {
        let mut e = ScxEntity::new(0);
        e.set_task_state(ScxTaskState::Init);
        e.set_task_state(ScxTaskState::Ready);
        e.set_task_state(ScxTaskState::Enabled);
        assert_eq!(e.task_state(), ScxTaskState::Enabled);
        assert_eq!(e.flags, 0x300);
        e.set_task_state(ScxTaskState::Ready);
        e.set_task_state(ScxTaskState::None);
    }

    #[test]
    #[should_panic(expected = "invalid scx task state transition")]
    fn enable_from_none_is_a_bug() {
        let mut e = ScxEntity::new(0);
        e.set_task_state(ScxTaskState::Enabled);
    }
}
