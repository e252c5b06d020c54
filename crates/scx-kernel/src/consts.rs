//! Constants copied (as values, with their names) from Linux 6.12.117.
//!
//! Citations: `ext.h` = include/linux/sched/ext.h, `ext.c` =
//! kernel/sched/ext.c, `sched.h` = kernel/sched/sched.h, `core.c` =
//! kernel/sched/core.c, all at v6.12.117.

/// `SCX_SLICE_DFL` (ext.h:19): the default slice, 20 ms.
pub const SCX_SLICE_DFL: u64 = 20_000_000;
/// `SCX_SLICE_INF` (ext.h:20): a slice that never expires.
pub const SCX_SLICE_INF: u64 = u64::MAX;
/// `SCX_OPS_NAME_LEN` (ext.h:18).
pub const SCX_OPS_NAME_LEN: usize = 128;

/// `SCX_DSP_DFL_MAX_BATCH` (ext.c:12).
pub const SCX_DSP_DFL_MAX_BATCH: u32 = 32;
/// `SCX_DSP_MAX_LOOPS` (ext.c:13): the dispatch-loop breaker.
pub const SCX_DSP_MAX_LOOPS: u32 = 32;
/// `SCX_WATCHDOG_MAX_TIMEOUT` (ext.c:14) in seconds (`30 * HZ` jiffies).
pub const SCX_WATCHDOG_MAX_TIMEOUT_SECS: u64 = 30;
/// `SCX_EXIT_BT_LEN` (ext.c:16).
pub const SCX_EXIT_BT_LEN: usize = 64;
/// `SCX_EXIT_MSG_LEN` (ext.c:17).
pub const SCX_EXIT_MSG_LEN: usize = 1024;
/// `SCX_EXIT_DUMP_DFL_LEN` (ext.c:18).
pub const SCX_EXIT_DUMP_DFL_LEN: u32 = 32768;
/// `SCX_CPUPERF_ONE` (ext.c:19) = `SCHED_CAPACITY_SCALE`.
pub const SCX_CPUPERF_ONE: u32 = 1024;

// DSQ ids (ext.h:24-51).
/// Bit 63: built-in DSQ.
pub const SCX_DSQ_FLAG_BUILTIN: u64 = 1 << 63;
/// Bit 62: `SCX_DSQ_LOCAL_ON | cpu`.
pub const SCX_DSQ_FLAG_LOCAL_ON: u64 = 1 << 62;
/// `SCX_DSQ_INVALID`.
pub const SCX_DSQ_INVALID: u64 = SCX_DSQ_FLAG_BUILTIN;
/// `SCX_DSQ_GLOBAL`.
pub const SCX_DSQ_GLOBAL: u64 = SCX_DSQ_FLAG_BUILTIN | 1;
/// `SCX_DSQ_LOCAL`.
pub const SCX_DSQ_LOCAL: u64 = SCX_DSQ_FLAG_BUILTIN | 2;
/// `SCX_DSQ_LOCAL_ON`: OR a CPU into the low 32 bits.
pub const SCX_DSQ_LOCAL_ON: u64 = SCX_DSQ_FLAG_BUILTIN | SCX_DSQ_FLAG_LOCAL_ON;
/// `SCX_DSQ_LOCAL_CPU_MASK`.
pub const SCX_DSQ_LOCAL_CPU_MASK: u64 = 0xffff_ffff;

// Task flags, p->scx.flags (ext.h:71-97).
/// `SCX_TASK_QUEUED`.
pub const SCX_TASK_QUEUED: u32 = 1 << 0;
/// `SCX_TASK_RESET_RUNNABLE_AT`.
pub const SCX_TASK_RESET_RUNNABLE_AT: u32 = 1 << 2;
/// `SCX_TASK_DEQD_FOR_SLEEP`.
pub const SCX_TASK_DEQD_FOR_SLEEP: u32 = 1 << 3;
/// `SCX_TASK_STATE_SHIFT`.
pub const SCX_TASK_STATE_SHIFT: u32 = 8;
/// `SCX_TASK_STATE_MASK`.
pub const SCX_TASK_STATE_MASK: u32 = 0x300;
/// `SCX_TASK_DSQ_ON_PRIQ` (in `dsq_flags`).
pub const SCX_TASK_DSQ_ON_PRIQ: u32 = 1 << 0;

// kfunc context masks (ext.h:107-120).
/// `SCX_KF_UNLOCKED`.
pub const SCX_KF_UNLOCKED: u32 = 0;
/// `SCX_KF_CPU_RELEASE`.
pub const SCX_KF_CPU_RELEASE: u32 = 1 << 0;
/// `SCX_KF_DISPATCH`.
pub const SCX_KF_DISPATCH: u32 = 1 << 1;
/// `SCX_KF_ENQUEUE`.
pub const SCX_KF_ENQUEUE: u32 = 1 << 2;
/// `SCX_KF_SELECT_CPU`.
pub const SCX_KF_SELECT_CPU: u32 = 1 << 3;
/// `SCX_KF_REST`.
pub const SCX_KF_REST: u32 = 1 << 4;

// Ops state (ext.c:806-854).
/// `SCX_OPSS_NONE`.
pub const SCX_OPSS_NONE: u64 = 0;
/// `SCX_OPSS_QUEUEING`.
pub const SCX_OPSS_QUEUEING: u64 = 1;
/// `SCX_OPSS_QUEUED`.
pub const SCX_OPSS_QUEUED: u64 = 2;
/// `SCX_OPSS_DISPATCHING`.
pub const SCX_OPSS_DISPATCHING: u64 = 3;
/// `SCX_OPSS_QSEQ_SHIFT`.
pub const SCX_OPSS_QSEQ_SHIFT: u32 = 2;
/// `SCX_OPSS_STATE_MASK`.
pub const SCX_OPSS_STATE_MASK: u64 = 0x3;

// Ops flags (ext.c:91-135).
/// `SCX_OPS_KEEP_BUILTIN_IDLE`.
pub const SCX_OPS_KEEP_BUILTIN_IDLE: u64 = 1 << 0;
/// `SCX_OPS_ENQ_LAST`.
pub const SCX_OPS_ENQ_LAST: u64 = 1 << 1;
/// `SCX_OPS_ENQ_EXITING`.
pub const SCX_OPS_ENQ_EXITING: u64 = 1 << 2;
/// `SCX_OPS_SWITCH_PARTIAL`.
pub const SCX_OPS_SWITCH_PARTIAL: u64 = 1 << 3;
/// `SCX_OPS_HAS_CGROUP_WEIGHT`.
pub const SCX_OPS_HAS_CGROUP_WEIGHT: u64 = 1 << 16;
/// `SCX_OPS_ALL_FLAGS`.
pub const SCX_OPS_ALL_FLAGS: u64 = SCX_OPS_KEEP_BUILTIN_IDLE
    | SCX_OPS_ENQ_LAST
    | SCX_OPS_ENQ_EXITING
    | SCX_OPS_SWITCH_PARTIAL
    | SCX_OPS_HAS_CGROUP_WEIGHT;

// Wake flags (sched.h:2307-2314, exposed as SCX_WAKE_*, ext.c:693-698).
/// `WF_EXEC`.
pub const WF_EXEC: u64 = 0x02;
/// `SCX_WAKE_FORK` = `WF_FORK`.
pub const SCX_WAKE_FORK: u64 = 0x04;
/// `SCX_WAKE_TTWU` = `WF_TTWU`.
pub const SCX_WAKE_TTWU: u64 = 0x08;
/// `SCX_WAKE_SYNC` = `WF_SYNC`.
pub const SCX_WAKE_SYNC: u64 = 0x10;
/// `WF_MIGRATED`.
pub const WF_MIGRATED: u64 = 0x20;
/// `WF_CURRENT_CPU`.
pub const WF_CURRENT_CPU: u64 = 0x40;
/// `WF_RQ_SELECTED`.
pub const WF_RQ_SELECTED: u64 = 0x80;

// Core enqueue flags (sched.h:2369-2384), passed to BPF raw.
/// `ENQUEUE_WAKEUP` = `SCX_ENQ_WAKEUP`.
pub const ENQUEUE_WAKEUP: u64 = 0x01;
/// `ENQUEUE_RESTORE`.
pub const ENQUEUE_RESTORE: u64 = 0x02;
/// `ENQUEUE_MOVE`.
pub const ENQUEUE_MOVE: u64 = 0x04;
/// `ENQUEUE_NOCLOCK`.
pub const ENQUEUE_NOCLOCK: u64 = 0x08;
/// `ENQUEUE_HEAD` = `SCX_ENQ_HEAD`.
pub const ENQUEUE_HEAD: u64 = 0x10;
/// `ENQUEUE_MIGRATED`.
pub const ENQUEUE_MIGRATED: u64 = 0x40;
/// `ENQUEUE_INITIAL`.
pub const ENQUEUE_INITIAL: u64 = 0x80;
/// `ENQUEUE_MIGRATING`.
pub const ENQUEUE_MIGRATING: u64 = 0x100;
/// `ENQUEUE_RQ_SELECTED` = `SCX_ENQ_CPU_SELECTED`.
pub const ENQUEUE_RQ_SELECTED: u64 = 0x400;

// SCX enqueue flags (ext.c:700-744).
/// `SCX_ENQ_WAKEUP`.
pub const SCX_ENQ_WAKEUP: u64 = ENQUEUE_WAKEUP;
/// `SCX_ENQ_HEAD`.
pub const SCX_ENQ_HEAD: u64 = ENQUEUE_HEAD;
/// `SCX_ENQ_CPU_SELECTED`.
pub const SCX_ENQ_CPU_SELECTED: u64 = ENQUEUE_RQ_SELECTED;
/// `SCX_ENQ_PREEMPT`.
pub const SCX_ENQ_PREEMPT: u64 = 1 << 32;
/// `SCX_ENQ_REENQ`.
pub const SCX_ENQ_REENQ: u64 = 1 << 40;
/// `SCX_ENQ_LAST`.
pub const SCX_ENQ_LAST: u64 = 1 << 41;
/// `__SCX_ENQ_INTERNAL_MASK`.
pub const SCX_ENQ_INTERNAL_MASK: u64 = 0xff << 56;
/// `SCX_ENQ_CLEAR_OPSS`.
pub const SCX_ENQ_CLEAR_OPSS: u64 = 1 << 56;
/// `SCX_ENQ_DSQ_PRIQ`.
pub const SCX_ENQ_DSQ_PRIQ: u64 = 1 << 57;

// Dequeue flags (sched.h:2361-2367, ext.c:746-757).
/// `DEQUEUE_SLEEP` = `SCX_DEQ_SLEEP`.
pub const DEQUEUE_SLEEP: u64 = 0x01;
/// `DEQUEUE_SAVE`.
pub const DEQUEUE_SAVE: u64 = 0x02;
/// `DEQUEUE_MOVE`.
pub const DEQUEUE_MOVE: u64 = 0x04;
/// `DEQUEUE_NOCLOCK`.
pub const DEQUEUE_NOCLOCK: u64 = 0x08;
/// `DEQUEUE_SPECIAL`.
pub const DEQUEUE_SPECIAL: u64 = 0x10;
/// `SCX_DEQ_SLEEP`.
pub const SCX_DEQ_SLEEP: u64 = DEQUEUE_SLEEP;
/// `SCX_DEQ_CORE_SCHED_EXEC`.
pub const SCX_DEQ_CORE_SCHED_EXEC: u64 = 1 << 32;

/// `SCX_PICK_IDLE_CORE` (ext.c:759-761).
pub const SCX_PICK_IDLE_CORE: u64 = 1 << 0;

// Kick flags (ext.c:763-785).
/// `SCX_KICK_IDLE`.
pub const SCX_KICK_IDLE: u64 = 1 << 0;
/// `SCX_KICK_PREEMPT`.
pub const SCX_KICK_PREEMPT: u64 = 1 << 1;
/// `SCX_KICK_WAIT`.
pub const SCX_KICK_WAIT: u64 = 1 << 2;

// Preempt reasons for ops.cpu_release (ext.c:162-171).
/// `SCX_CPU_PREEMPT_RT`.
pub const SCX_CPU_PREEMPT_RT: u32 = 0;
/// `SCX_CPU_PREEMPT_DL`.
pub const SCX_CPU_PREEMPT_DL: u32 = 1;
/// `SCX_CPU_PREEMPT_STOP`.
pub const SCX_CPU_PREEMPT_STOP: u32 = 2;
/// `SCX_CPU_PREEMPT_UNKNOWN`.
pub const SCX_CPU_PREEMPT_UNKNOWN: u32 = 3;

/// `SCX_DSQ_ITER_REV` (ext.c:1264-1275).
pub const SCX_DSQ_ITER_REV: u64 = 1 << 16;

// Per-rq flags (sched.h:779-793).
/// `SCX_RQ_ONLINE`.
pub const SCX_RQ_ONLINE: u32 = 1 << 0;
/// `SCX_RQ_CAN_STOP_TICK`.
pub const SCX_RQ_CAN_STOP_TICK: u32 = 1 << 1;
/// `SCX_RQ_BAL_PENDING`.
pub const SCX_RQ_BAL_PENDING: u32 = 1 << 2;
/// `SCX_RQ_BAL_KEEP`.
pub const SCX_RQ_BAL_KEEP: u32 = 1 << 3;
/// `SCX_RQ_BYPASSING`.
pub const SCX_RQ_BYPASSING: u32 = 1 << 4;
/// `SCX_RQ_IN_WAKEUP`.
pub const SCX_RQ_IN_WAKEUP: u32 = 1 << 16;
/// `SCX_RQ_IN_BALANCE`.
pub const SCX_RQ_IN_BALANCE: u32 = 1 << 17;

// Task flags (include/linux/sched.h).
/// `PF_EXITING`.
pub const PF_EXITING: u32 = 0x0000_0004;
/// `PF_WQ_WORKER`.
pub const PF_WQ_WORKER: u32 = 0x0000_0020;
/// `PF_IDLE`.
pub const PF_IDLE: u32 = 0x0000_0002;
/// `PF_KTHREAD`.
pub const PF_KTHREAD: u32 = 0x0020_0000;

// Errnos.
/// `EPERM`.
pub const EPERM: i32 = 1;
/// `ENOENT`.
pub const ENOENT: i32 = 2;
/// `ESRCH`.
pub const ESRCH: i32 = 3;
/// `ENOMEM`.
pub const ENOMEM: i32 = 12;
/// `EBUSY`.
pub const EBUSY: i32 = 16;
/// `EEXIST`.
pub const EEXIST: i32 = 17;
/// `EINVAL`.
pub const EINVAL: i32 = 22;
/// `E2BIG`.
pub const E2BIG: i32 = 7;
/// `EACCES`.
pub const EACCES: i32 = 13;
/// `EPROTO`.
pub const EPROTO: i32 = 71;
/// `MAX_ERRNO`.
pub const MAX_ERRNO: i32 = 4095;

/// `NICE_0_LOAD` weight (`sched_prio_to_weight[20]`).
pub const NICE_0_LOAD: u64 = 1024;

/// `sched_prio_to_weight[]` (core.c), indexed by `nice + 20`.
pub const SCHED_PRIO_TO_WEIGHT: [u32; 40] = [
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904,
    3906, 3121, 2501, 1991, 1586, 1277, 1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87,
    70, 56, 45, 36, 29, 23, 18, 15,
];

/// `WEIGHT_IDLEPRIO` (sched.h): load weight of `SCHED_IDLE` tasks.
pub const WEIGHT_IDLEPRIO: u32 = 3;

/// `sched_weight_to_cgroup()` (ext.c:3772-3777 via sched.h): CFS load
/// weight to the cgroup scale, `clamp(round_closest(w * 100 / 1024), 1, 10000)`.
pub fn sched_weight_to_cgroup(w: u32) -> u32 {
    let v = (u64::from(w) * 100 + 512) / 1024;
    v.clamp(1, 10000) as u32
}

/// Load weight for a nice value.
pub fn nice_to_weight(nice: i32) -> u32 {
    SCHED_PRIO_TO_WEIGHT[(nice.clamp(-20, 19) + 20) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table in spec core.md §2.1.
    #[test]
    fn cgroup_weights_match_the_spec_table() {
        let expect: [(i32, u32); 12] = [
            (-20, 8668),
            (-19, 7007),
            (-10, 932),
            (-5, 305),
            (-1, 125),
            (0, 100),
            (1, 80),
            (5, 33),
            (10, 11),
            (15, 4),
            (17, 2),
            (19, 1),
        ];
        for (nice, w) in expect {
            assert_eq!(
                sched_weight_to_cgroup(nice_to_weight(nice)),
                w,
                "nice {nice}"
            );
        }
        assert_eq!(sched_weight_to_cgroup(WEIGHT_IDLEPRIO), 1);
    }

    #[test]
    fn dsq_ids() {
        assert_eq!(SCX_DSQ_GLOBAL, 0x8000000000000001);
        assert_eq!(SCX_DSQ_LOCAL, 0x8000000000000002);
        assert_eq!(SCX_DSQ_LOCAL_ON, 0xC000000000000000);
        assert_eq!(SCX_OPS_ALL_FLAGS, 0x1000f);
    }
}
