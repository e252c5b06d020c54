//! sched_ext's side of CPU hotplug (ext.c `handle_hotplug()`,
//! `rq_online_scx()`, `rq_offline_scx()`): the runqueue's online flag, the
//! hotplug sequence number, `ops.cpu_online()`/`ops.cpu_offline()` — or
//! the exit with `SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG` for a
//! scheduler that implements neither — and the re-enqueue that lets an
//! outgoing CPU hand its tasks to `balance_push()`.

use crate::consts::*;
use crate::ext::exit::{SCX_ECODE_ACT_RESTART, SCX_ECODE_RSN_HOTPLUG};
use crate::kernel::Kernel;
use scx_observe::Op;

impl Kernel {
    /// `handle_hotplug()`: called with the CPU already (in)active.
    pub(crate) fn scx_handle_hotplug(&mut self, cpu: usize, online: bool) {
        self.scx.hotplug_seq += 1;
        if !self.scx.enabled {
            return;
        }
        let op = if online {
            Op::CpuOnline
        } else {
            Op::CpuOffline
        };
        if self.scx.has(op) {
            let c = cpu as i32;
            self.scx_call_void(op, SCX_KF_UNLOCKED, cpu as u64, |s, cx| {
                if online {
                    s.cpu_online(cx, c)
                } else {
                    s.cpu_offline(cx, c)
                }
            });
        } else {
            let dir = if online { "online" } else { "offline" };
            self.scx_ops_exit(
                SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG,
                format!("cpu {cpu} going {dir}, exiting scheduler"),
            );
        }
    }

    /// `rq_online_scx()`.
    pub(crate) fn rq_online_scx(&mut self, cpu: usize) {
        self.rqs[cpu].scx.flags |= SCX_RQ_ONLINE;
    }

    /// `rq_offline_scx()`: an inactive CPU no longer calls `ops.dispatch()`,
    /// so the tasks the BPF scheduler holds for it are re-enqueued — onto
    /// the local DSQ, as the enqueue path does for an offline runqueue —
    /// where they run and `balance_push()` moves them away.
    pub(crate) fn rq_offline_scx(&mut self, cpu: usize) {
        self.rqs[cpu].scx.flags &= !SCX_RQ_ONLINE;
        if self.rqs[cpu].active {
            return;
        }
        let local = self.rqs[cpu].scx.local_dsq;
        let held: Vec<_> = self
            .scx
            .runnable_links
            .tasks(&self.rqs[cpu].scx.runnable_list)
            .collect();
        let flags = DEQUEUE_SAVE | DEQUEUE_MOVE | DEQUEUE_NOCLOCK;
        for p in held.into_iter().rev() {
            if self.task(p).scx.dsq == Some(local) {
                continue;
            }
            self.task_change(p, flags, flags, |_| {});
        }
    }
}
