//! sched_ext's cgroup support (ext.c:3993-4195, 4336-4423): initialising
//! and exiting every cgroup with the scheduler, task moves
//! (`prep_move`/`move`/`cancel_move`) and weight changes.
//!
//! The cgroup tree is [`crate::kernel::CgroupNode`]s in creation order,
//! parents before children, so creation order is pre-order.

use crate::consts::*;
use crate::kernel::Kernel;
use crate::ops::{Cgroup, CgroupInitArgs, Task};
use crate::task::Tid;
use scx_observe::Op;

impl Kernel {
    /// `scx_cgroup_warn_missing_weight()`.
    fn scx_cgroup_warn_missing_weight(&mut self, cg: usize) {
        if self.scx.warned_cgroup_weight || self.scx.ops.flags & SCX_OPS_HAS_CGROUP_WEIGHT != 0 {
            return;
        }
        if self.cgroups[cg].parent.is_none() {
            return;
        }
        let name = self.scx.ops.name.clone();
        self.printk(format!(
            "sched_ext: \"{name}\" does not implement cgroup cpu.weight"
        ));
        self.scx.warned_cgroup_weight = true;
    }

    /// `scx_cgroup_init()`: `ops.cgroup_init()` for every cgroup, pre-order.
    pub(crate) fn scx_cgroup_init(&mut self) -> Result<(), i32> {
        self.scx.warned_cgroup_weight = false;
        for cg in 0..self.cgroups.len() {
            self.scx_cgroup_warn_missing_weight(cg);
            if self.cgroups[cg].scx_inited {
                continue;
            }
            if self.scx.ops.implemented.has(Op::CgroupInit) {
                let args = CgroupInitArgs {
                    weight: self.cgroups[cg].weight,
                };
                let ret = self.scx_call(
                    Op::CgroupInit,
                    SCX_KF_UNLOCKED,
                    [None, None],
                    cg as u64,
                    0,
                    |s, cx| s.cgroup_init(cx, Cgroup(cg as u32), &args),
                );
                if ret != 0 {
                    self.scx_ops_error(format!("ops.cgroup_init() failed ({ret})"));
                    return Err(ret);
                }
            }
            self.cgroups[cg].scx_inited = true;
        }
        Ok(())
    }

    /// `scx_cgroup_exit()`: `ops.cgroup_exit()` for every initialised
    /// cgroup, children before parents.
    pub(crate) fn scx_cgroup_exit(&mut self) {
        for cg in (0..self.cgroups.len()).rev() {
            if !self.cgroups[cg].scx_inited {
                continue;
            }
            self.cgroups[cg].scx_inited = false;
            if self.scx.ops.implemented.has(Op::CgroupExit) {
                self.scx_call_void(Op::CgroupExit, SCX_KF_UNLOCKED, cg as u64, |s, cx| {
                    s.cgroup_exit(cx, Cgroup(cg as u32))
                });
            }
        }
    }

    /// `scx_cgroup_can_attach()` for one task: `ops.cgroup_prep_move()` if
    /// implemented; either way the task is marked as moving (the kernel's
    /// `cgrp_moving_from`), so `ops.cgroup_move()` follows.
    pub(crate) fn scx_cgroup_can_attach(
        &mut self,
        p: Tid,
        from: usize,
        to: usize,
    ) -> Result<(), i32> {
        if !self.scx.enabled || from == to {
            return Ok(());
        }
        if !self.scx.has(Op::CgroupPrepMove) {
            self.scx.cgroup_prepped = Some(p);
            return Ok(());
        }
        let ret = self.scx_call(
            Op::CgroupPrepMove,
            SCX_KF_UNLOCKED,
            [Some(p), None],
            to as u64,
            0,
            |s, cx| s.cgroup_prep_move(cx, Task(p), Cgroup(from as u32), Cgroup(to as u32)),
        );
        if ret != 0 {
            return Err(self.ops_sanitize_err("cgroup_prep_move", ret));
        }
        self.scx.cgroup_prepped = Some(p);
        Ok(())
    }

    /// `scx_move_task()`: `ops.cgroup_move()` for a task marked as moving.
    pub(crate) fn scx_cgroup_move(&mut self, p: Tid, from: usize, to: usize) {
        if self.scx.cgroup_prepped.take() != Some(p) {
            return;
        }
        if self.scx.has(Op::CgroupMove) {
            self.scx_call(
                Op::CgroupMove,
                SCX_KF_UNLOCKED,
                [Some(p), None],
                to as u64,
                (),
                |s, cx| s.cgroup_move(cx, Task(p), Cgroup(from as u32), Cgroup(to as u32)),
            );
        }
    }

    /// Changes a cgroup's `cpu.weight` (`scx_group_set_weight()`).
    pub fn cgroup_set_weight(&mut self, cg: usize, weight: u32) {
        if cg >= self.cgroups.len() || self.cgroups[cg].weight == weight {
            return;
        }
        self.cgroups[cg].weight = weight;
        if self.scx.enabled && self.cgroups[cg].scx_inited && self.scx.has(Op::CgroupSetWeight) {
            self.scx_call_void(
                Op::CgroupSetWeight,
                SCX_KF_UNLOCKED,
                u64::from(weight),
                |s, cx| s.cgroup_set_weight(cx, Cgroup(cg as u32), weight),
            );
        }
    }
}
