//! Booting the machine: the per-CPU idle tasks and runqueues, the kernel
//! threads every Linux box has, and the workload's tasks.
//!
//! The default world, in pid order: `init` (1, asleep), `kthreadd` (2,
//! asleep), per CPU `migration/N` (the stopper, stop class), `ksoftirqd/N`
//! (asleep: softirqs run inline in scxsim) and `kworker/N:0` (the CPU's
//! bound worker, woken every second by housekeeping work), then
//! `rcu_preempt` (wakes every `rcu_period`), and the unbound workers
//! `kworker/uX:0` and `kworker/uX:1` (X = 4 × CPUs, matching the reference
//! console's `kworker/u8:1` on 2 CPUs) that run the sched_ext watchdog.

use crate::consts::*;
use crate::ext::rq::ScxRq;
use crate::irq::Ev;
use crate::kernel::{CgroupNode, Kernel};
use crate::rq::{Mode, PendingIrqs, Rq};
use crate::task::{Class, TaskKind, TaskState, Tid};
use crate::workqueue::Pool;
use scx_machine::clock::NSEC_PER_USEC;
use scx_machine::Cpumask;
use scx_observe::Event;
use scx_workload::{Repeat, Step, TimedAction, Workload};
use std::sync::Arc;

impl Kernel {
    /// Creates the idle tasks and runqueues (part of [`Kernel::new`]).
    pub(crate) fn boot_cpus(&mut self) {
        let nr = self.topo.nr_cpus();
        self.scx.dsqs.add_globals(self.topo.nr_nodes());
        for cpu in 0..nr {
            let idle = self.alloc_task(&format!("swapper/{cpu}"), TaskKind::Idle, None);
            let t = self.task_mut(idle);
            t.class = Class::Idle;
            t.state = TaskState::Running;
            t.cpu = cpu;
            t.wake_cpu = cpu;
            t.cpus = Cpumask::of(cpu);
            t.flags |= PF_IDLE;
            let scx = ScxRq {
                local_dsq: self.scx.dsqs.local[cpu],
                flags: SCX_RQ_ONLINE,
                cpuperf_target: SCX_CPUPERF_ONE,
                pseqs: vec![0; nr],
                ..Default::default()
            };
            self.rqs.push(Rq {
                cpu,
                online: true,
                active: true,
                dying: false,
                up_after_down: false,
                hotplug_thread_on_cpu: false,
                curr: idle,
                idle,
                clock: 0,
                nr_running: 0,
                need_resched: false,
                need_resched_after_switch: false,
                mode: Mode::Idle,
                step_gen: 0,
                work_gen: 0,
                work_at: None,
                acc: 0,
                pending: PendingIrqs::default(),
                tick_gen: 0,
                tick_armed: false,
                cfs: Default::default(),
                rt: Default::default(),
                scx,
                next_balance: 0,
                busy_ns: 0,
                lock_ops: Vec::new(),
                oob_ops: Vec::new(),
                curr_since: 0,
                counters: Default::default(),
            });
            self.stop_works.push(Vec::new());
            self.ff.push(Default::default());
        }
        for cpu in 0..nr {
            self.wq.pools.push(Pool {
                cpu: Some(cpu),
                ..Default::default()
            });
        }
        self.wq.pools.push(Pool::default());
    }

    /// Starts the default kernel threads and the workload `w` (if any).
    /// Call once, after installing the event sink.
    pub fn boot(&mut self, w: Option<Arc<Workload>>, seed: u64) -> Result<(), String> {
        for cpu in 0..self.nr_cpus() {
            let idle = self.rqs[cpu].idle;
            let comm = self.task(idle).comm.clone();
            self.emit_with(|| Event::TaskNew {
                tid: idle,
                pid: 0,
                tgid: 0,
                parent: None,
                comm,
                prio: 120,
                kthread: true,
                idle_cpu: Some(cpu as u32),
            });
        }
        self.cur_cpu = 0;
        let init = self.spawn(None, "init", TaskKind::User, None, None);
        self.init_task = Some(init);
        self.spawn(None, "kthreadd", TaskKind::Kthread, None, None);
        let nr = self.nr_cpus();
        for cpu in 0..nr {
            let m = Some(Cpumask::of(cpu));
            let st = self.spawn(
                None,
                &format!("migration/{cpu}"),
                TaskKind::Stopper,
                m,
                None,
            );
            self.stoppers.push(st);
            let ksoftirqd = self.spawn(
                None,
                &format!("ksoftirqd/{cpu}"),
                TaskKind::Kthread,
                m,
                None,
            );
            let kw = self.spawn(
                None,
                &format!("kworker/{cpu}:0"),
                TaskKind::Kworker { pool: cpu },
                m,
                None,
            );
            self.wq.pools[cpu].workers.push(kw);
            for t in [st, ksoftirqd, kw] {
                self.task_mut(t).per_cpu_kthread = true;
            }
        }
        if self.cfg.rcu_period > 0 {
            let prog = crate::exec::compile(&[Step::Loop {
                repeat: Repeat::Forever,
                body: vec![
                    Step::Sleep(self.cfg.rcu_period),
                    Step::Run(5 * NSEC_PER_USEC),
                ],
            }]);
            self.spawn(
                None,
                "rcu_preempt",
                TaskKind::Kthread,
                None,
                Some(Arc::new(prog)),
            );
        }
        let unbound = self.wq.pools.len() - 1;
        for i in 0..2 {
            let name = format!("kworker/u{}:{i}", 4 * nr);
            let kw = self.spawn(None, &name, TaskKind::Kworker { pool: unbound }, None, None);
            self.wq.pools[unbound].workers.push(kw);
        }
        self.lockup = vec![Default::default(); nr];
        self.start_lockup_detectors();
        if self.cfg.housekeeping_period > 0 {
            let tick = self.cfg.hz.tick_ns();
            for cpu in 0..nr {
                let at = self.cfg.housekeeping_period + 3 * tick * cpu as u64;
                self.hrtimer_start(crate::timer::TimerKind::Housekeeping(cpu), at, cpu, false);
            }
        }
        self.discard_oob_cost();
        if let Some(w) = w {
            self.load_workload(w, seed)?;
        }
        Ok(())
    }

    fn load_workload(&mut self, w: Arc<Workload>, seed: u64) -> Result<(), String> {
        w.validate(self.nr_cpus())?;
        for c in &w.cgroups {
            self.cgroups.push(CgroupNode {
                path: c.path.clone(),
                parent: Some(c.parent.map_or(0, |p| p + 1)),
                weight: c.weight,
                scx_inited: false,
            });
        }
        self.wl = crate::exec::WorkloadState::new(w.clone(), seed);
        for (i, t) in w.tasks.iter().enumerate() {
            for inst in 0..t.instances {
                self.push(
                    t.start_delay,
                    Ev::StartTask {
                        spec: i as u32,
                        instance: inst,
                    },
                );
            }
        }
        for (i, (at, _)) in w.actions.iter().enumerate() {
            self.push(*at, Ev::Action { index: i as u32 });
        }
        Ok(())
    }

    /// Creates a task at boot or from a workload event (not from a task's
    /// program), as if forked by `parent`; its cost is not modelled.
    fn spawn(
        &mut self,
        parent: Option<Tid>,
        name: &str,
        kind: TaskKind,
        cpus: Option<Cpumask>,
        prog: Option<Arc<Vec<crate::exec::Insn>>>,
    ) -> Tid {
        let t = self
            .fork_task(parent, name, kind, |k, p| {
                if let Some(m) = cpus {
                    k.task_mut(p).cpus = m;
                }
                if kind == TaskKind::Stopper {
                    k.task_mut(p).policy = scx_workload::Policy::Fifo(99);
                }
                if let Some(prog) = prog {
                    k.set_program(p, prog);
                }
            })
            .expect("boot tasks are never refused");
        self.discard_oob_cost();
        t
    }

    /// Out-of-band work (boot, workload events, the loader) has no CPU to
    /// charge; drop what it charged.
    pub(crate) fn discard_oob_cost(&mut self) {
        for rq in &mut self.rqs {
            if matches!(rq.mode, Mode::Idle | Mode::Exec { .. }) {
                rq.acc = 0;
            }
        }
    }

    /// A workload task instance is due.
    pub(crate) fn start_workload_task(&mut self, spec: usize, instance: u32) {
        let Some(w) = self.wl.workload.clone() else {
            return;
        };
        let s = &w.tasks[spec];
        let prog = self.wl.task_progs[spec].clone();
        let name = s.instance_name(instance);
        let leader = if s.same_process && instance > 0 {
            self.wl.leaders.get(&spec).copied()
        } else {
            None
        };
        self.cur_cpu = 0;
        let init = self.init_task;
        let tid = self.fork_task(init, &name, TaskKind::User, |k, p| {
            k.set_program(p, prog);
            k.initial_policy(p, s.policy, s.nice, s.cpus);
            k.task_mut(p).cgroup = s.cgroup.map_or(0, |g| g + 1);
            if let Some(l) = leader {
                let tgid = k.task(l).tgid;
                k.task_mut(p).tgid = tgid;
            }
        });
        if let (Some(t), 0) = (tid, instance) {
            self.wl.leaders.insert(spec, t);
        }
        self.discard_oob_cost();
    }

    /// A workload timed action is due.
    pub(crate) fn run_timed_action(&mut self, index: usize) {
        let Some(w) = self.wl.workload.clone() else {
            return;
        };
        self.cur_cpu = 0;
        match &w.actions[index].1 {
            TimedAction::CgroupWeight(g, weight) => self.cgroup_set_weight(g + 1, *weight),
            // Workload validation keeps offline/online transitions legal.
            TimedAction::CpuOffline(c) => {
                let r = self.cpu_down(*c);
                debug_assert!(r.is_ok(), "{r:?}");
            }
            TimedAction::CpuOnline(c) => {
                let r = self.cpu_up(*c);
                debug_assert!(r.is_ok(), "{r:?}");
            }
            TimedAction::SysrqS => {
                self.printk("sysrq: Disable sched_ext and revert all tasks to CFS".into());
                self.sysrq_s();
            }
            TimedAction::SysrqD => {
                self.printk("sysrq: Trigger sched_ext debug dump".into());
                self.sysrq_d(0);
            }
        }
        self.discard_oob_cost();
    }
}
