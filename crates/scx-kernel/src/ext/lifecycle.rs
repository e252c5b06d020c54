//! Task lifecycle on sched_ext (ext.c:3711-3956): `ops.init_task`,
//! `ops.enable`/`set_weight`, `ops.disable`, `ops.exit_task`, the fork hooks,
//! `sched_ext_free()`, and switching into and out of the ext class.

use crate::consts::*;
use crate::ext::entity::ScxTaskState;
use crate::kernel::Kernel;
use crate::ops::{ExitTaskArgs, InitTaskArgs, Task};
use crate::task::{Class, Tid};
use scx_observe::Op;
use scx_workload::Policy;

impl Kernel {
    /// `ops_sanitize_err()`.
    pub(crate) fn ops_sanitize_err(&mut self, op: &str, err: i32) -> i32 {
        if (-MAX_ERRNO..0).contains(&err) {
            return err;
        }
        self.scx_ops_error(format!("ops.{op}() returned an invalid errno {err}"));
        -EPROTO
    }

    /// `scx_ops_init_task()`: 0 or a negative errno.
    pub(crate) fn scx_ops_init_task(&mut self, p: Tid, fork: bool) -> i32 {
        self.task_mut(p).scx.disallow = false;
        if self.scx.has(Op::InitTask) {
            let args = InitTaskArgs {
                fork,
                cgroup: crate::ops::Cgroup(self.task(p).cgroup as u32),
            };
            let ret = self.scx_call(
                Op::InitTask,
                SCX_KF_UNLOCKED,
                [Some(p), None],
                u64::from(fork),
                0,
                |s, cx| s.init_task(cx, Task(p), &args),
            );
            if ret != 0 {
                return self.ops_sanitize_err("init_task", ret);
            }
        }
        self.task_mut(p).scx.set_task_state(ScxTaskState::Init);
        if self.task(p).scx.disallow {
            if !fork {
                if self.task(p).policy == Policy::Ext {
                    self.task_mut(p).policy = Policy::Normal;
                    self.scx.nr_rejected += 1;
                }
            } else if self.task(p).policy == Policy::Ext {
                let (comm, pid) = (self.task(p).comm.clone(), self.task(p).pid);
                self.scx_ops_error(format!(
                    "ops.init_task() set task->scx.disallow for {comm}[{pid}] during fork"
                ));
            }
        }
        self.task_mut(p).scx.flags |= SCX_TASK_RESET_RUNNABLE_AT;
        0
    }

    /// `scx_ops_enable_task()`.
    pub(crate) fn scx_ops_enable_task(&mut self, p: Tid) {
        let t = self.task(p);
        let w = if t.policy == Policy::Idle {
            WEIGHT_IDLEPRIO
        } else {
            nice_to_weight(t.nice)
        };
        self.task_mut(p).scx.weight = sched_weight_to_cgroup(w);
        if self.scx.has(Op::Enable) {
            self.scx_call_task(Op::Enable, SCX_KF_REST, p, 0, |s, cx, t| s.enable(cx, t));
        }
        self.task_mut(p).scx.set_task_state(ScxTaskState::Enabled);
        if self.scx.has(Op::SetWeight) {
            let weight = self.task(p).scx.weight;
            self.scx_call_task(
                Op::SetWeight,
                SCX_KF_REST,
                p,
                u64::from(weight),
                |s, cx, t| s.set_weight(cx, t, weight),
            );
        }
    }

    /// `scx_ops_disable_task()`.
    pub(crate) fn scx_ops_disable_task(&mut self, p: Tid) {
        assert_eq!(self.task(p).scx.task_state(), ScxTaskState::Enabled);
        self.clear_direct_dispatch(p);
        if self.scx.has(Op::Disable) {
            self.scx_call_task(Op::Disable, SCX_KF_REST, p, 0, |s, cx, t| s.disable(cx, t));
        }
        self.task_mut(p).scx.set_task_state(ScxTaskState::Ready);
    }

    /// `scx_ops_exit_task()`.
    pub(crate) fn scx_ops_exit_task(&mut self, p: Tid) {
        let cancelled = match self.task(p).scx.task_state() {
            ScxTaskState::None => return,
            ScxTaskState::Init => true,
            ScxTaskState::Ready => false,
            ScxTaskState::Enabled => {
                self.scx_ops_disable_task(p);
                false
            }
        };
        if self.scx.has(Op::ExitTask) {
            let args = ExitTaskArgs { cancelled };
            self.scx_call_task(
                Op::ExitTask,
                SCX_KF_REST,
                p,
                u64::from(cancelled),
                |s, cx, t| s.exit_task(cx, t, &args),
            );
        }
        self.task_mut(p).scx.set_task_state(ScxTaskState::None);
    }

    /// `scx_fork()`: `Err(errno)` fails the fork.
    pub(crate) fn scx_fork(&mut self, p: Tid) -> Result<(), i32> {
        if !self.scx.init_task_enabled {
            return Ok(());
        }
        match self.scx_ops_init_task(p, true) {
            0 => Ok(()),
            ret => Err(ret),
        }
    }

    /// `scx_post_fork()`.
    pub(crate) fn scx_post_fork(&mut self, p: Tid) {
        if self.scx.init_task_enabled {
            self.task_mut(p).scx.set_task_state(ScxTaskState::Ready);
            if self.task(p).class == Class::Ext {
                self.scx_ops_enable_task(p);
            }
        }
        let list = &mut self.scx.tasks_list;
        self.scx.tasks_links.push_back(list, p);
    }

    /// `sched_ext_free()`: off `scx_tasks`, then `ops.exit_task()`.
    pub(crate) fn sched_ext_free(&mut self, p: Tid) {
        if self.scx.tasks_links.is_linked(p) {
            let list = &mut self.scx.tasks_list;
            self.scx.tasks_links.remove(list, p);
        }
        if self.task(p).scx.task_state() != ScxTaskState::None {
            self.scx_ops_exit_task(p);
        }
    }

    /// `switching_to_scx()`: enable, then tell the scheduler the cpumask.
    pub(crate) fn switching_to_scx(&mut self, p: Tid) {
        self.scx_ops_enable_task(p);
        self.set_cpus_allowed_scx(p);
    }

    /// `switched_from_scx()`.
    pub(crate) fn switched_from_scx(&mut self, p: Tid) {
        self.scx_ops_disable_task(p);
    }

    /// Tasks of `scx_tasks` in list order.
    pub(crate) fn scx_tasks(&self) -> Vec<Tid> {
        self.scx.tasks_links.tasks(&self.scx.tasks_list).collect()
    }
}
