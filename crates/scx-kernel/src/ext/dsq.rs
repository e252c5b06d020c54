//! Dispatch queues (ext.c:1709-1898, 4263-4333): local (per CPU), global
//! (per NUMA node) and user DSQs, FIFO or vtime-ordered (PRIQ), with the
//! kernel's insertion rules and errors.
//!
//! A DSQ's `list` is its consumption order; a PRIQ DSQ additionally keeps
//! its tasks in a tree keyed by `(dsq_vtime, arrival)` and links each new
//! task into the list right after its tree predecessor, so the list stays
//! vtime-ordered, as `dispatch_enqueue()` does. Like the kernel's
//! `time_before64()` comparison for keys within 2^63 of each other; scxsim
//! orders wrapped keys by their plain u64 value.

use crate::consts::*;
use crate::kernel::Kernel;
use crate::list::{Links, ListHead};
use crate::task::Tid;
use scx_observe::Event;
use std::collections::BTreeMap;

/// What a DSQ is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsqKind {
    /// The local DSQ of a CPU.
    Local(usize),
    /// The global DSQ of a NUMA node.
    Global(usize),
    /// A user DSQ.
    User,
}

/// `struct scx_dispatch_q`.
#[derive(Debug)]
pub struct Dsq {
    /// `id` (`SCX_DSQ_INVALID` once destroyed).
    pub id: u64,
    /// What it is.
    pub kind: DsqKind,
    /// `nr`: queued tasks.
    pub nr: u32,
    /// `seq`: bumped on every insertion.
    pub seq: u32,
    /// `list`, consumption order (tasks and iterator cursors).
    pub list: ListHead,
    /// `priq`: vtime tree.
    pub priq: BTreeMap<(u64, u64), Tid>,
}

impl Dsq {
    fn new(id: u64, kind: DsqKind) -> Dsq {
        Dsq {
            id,
            kind,
            nr: 0,
            seq: 0,
            list: ListHead::default(),
            priq: BTreeMap::new(),
        }
    }

    /// The id as the event stream and the dump name it
    /// (`SCX_DSQ_LOCAL_ON | cpu` for local DSQs, as scxsim's own convention
    /// for traces; the dump prints `SCX_DSQ_LOCAL`).
    pub fn trace_id(&self) -> u64 {
        match self.kind {
            DsqKind::Local(cpu) => SCX_DSQ_LOCAL_ON | cpu as u64,
            _ => self.id,
        }
    }
}

/// All DSQs.
#[derive(Debug)]
pub struct Dsqs {
    /// DSQ arena (destroyed user DSQs stay, with id `SCX_DSQ_INVALID`).
    pub arena: Vec<Dsq>,
    /// Live user DSQs by id (`dsq_hash`).
    pub user: BTreeMap<u64, u32>,
    /// `dsq_list` nodes (tasks and cursors); also used by the rqs'
    /// `ddsp_deferred_locals` lists, as in the kernel.
    pub links: Links,
    /// Local DSQ of each CPU.
    pub local: Vec<u32>,
    /// Global DSQ of each node.
    pub global: Vec<u32>,
    priq_seq: u64,
}

impl Dsqs {
    /// The local DSQs of `nr_cpus` CPUs; global DSQs come with the topology.
    pub fn new(nr_cpus: usize) -> Dsqs {
        let mut d = Dsqs {
            arena: Vec::new(),
            user: BTreeMap::new(),
            links: Links::default(),
            local: Vec::new(),
            global: Vec::new(),
            priq_seq: 0,
        };
        for cpu in 0..nr_cpus {
            d.local.push(d.arena.len() as u32);
            d.arena.push(Dsq::new(SCX_DSQ_LOCAL, DsqKind::Local(cpu)));
        }
        d
    }

    /// Allocates the per-node global DSQs.
    pub fn add_globals(&mut self, nr_nodes: usize) {
        while self.global.len() < nr_nodes {
            let node = self.global.len();
            self.global.push(self.arena.len() as u32);
            self.arena
                .push(Dsq::new(SCX_DSQ_GLOBAL, DsqKind::Global(node)));
        }
    }

    /// DSQ by index.
    pub fn get(&self, i: u32) -> &Dsq {
        &self.arena[i as usize]
    }

    /// Task nodes of DSQ `i` in list order.
    pub fn tasks(&self, i: u32) -> impl Iterator<Item = Tid> + '_ {
        self.links.tasks(&self.arena[i as usize].list)
    }

    /// First task of DSQ `i`.
    pub fn first_task(&self, i: u32) -> Option<Tid> {
        self.tasks(i).next()
    }

    /// Checks that every DSQ's count matches its list and tree.
    pub fn check(&self, k: &Kernel) {
        for (i, d) in self.arena.iter().enumerate() {
            let n = self.tasks(i as u32).count() as u32;
            assert_eq!(
                n, d.nr,
                "DSQ {:#x}: nr {} but {} tasks linked",
                d.id, d.nr, n
            );
            for t in self.tasks(i as u32) {
                assert_eq!(
                    k.task(t).scx.dsq,
                    Some(i as u32),
                    "task {} linked on DSQ {:#x} it does not point to",
                    k.task(t).pid,
                    d.id
                );
            }
            for t in d.priq.values() {
                assert_eq!(k.task(*t).scx.dsq, Some(i as u32));
            }
        }
    }
}

impl Kernel {
    /// `find_global_dsq()`: the global DSQ of `p`'s CPU's node.
    pub(crate) fn find_global_dsq(&self, p: Tid) -> u32 {
        let node = self.topo.node_of(self.task(p).cpu);
        self.scx.dsqs.global[node]
    }

    /// `find_user_dsq()`.
    pub(crate) fn find_user_dsq(&self, id: u64) -> Option<u32> {
        self.scx.dsqs.user.get(&id).copied()
    }

    fn emit_depth(&mut self, d: u32) {
        if self.tracing() {
            let dsq = self.scx.dsqs.get(d);
            let (id, depth) = (dsq.trace_id(), dsq.nr);
            self.emit_with(|| Event::DsqDepth { dsq: id, depth });
        }
    }

    /// `find_dsq_for_dispatch()`; `cpu` is the rq `SCX_DSQ_LOCAL` refers to.
    pub(crate) fn find_dsq_for_dispatch(&mut self, cpu: usize, dsq_id: u64, p: Tid) -> u32 {
        if dsq_id == SCX_DSQ_LOCAL {
            return self.rqs[cpu].scx.local_dsq;
        }
        if dsq_id & SCX_DSQ_LOCAL_ON == SCX_DSQ_LOCAL_ON {
            let target = (dsq_id & SCX_DSQ_LOCAL_CPU_MASK) as u32 as i32;
            if !self.ops_cpu_valid(
                i64::from(target),
                Some("in SCX_DSQ_LOCAL_ON dispatch verdict"),
            ) {
                return self.find_global_dsq(p);
            }
            return self.rqs[target as usize].scx.local_dsq;
        }
        let dsq = if dsq_id == SCX_DSQ_GLOBAL {
            Some(self.find_global_dsq(p))
        } else {
            self.find_user_dsq(dsq_id)
        };
        match dsq {
            Some(d) => d,
            None => {
                let (comm, pid) = (self.task(p).comm.clone(), self.task(p).pid);
                self.scx_ops_error(format!("non-existent DSQ {dsq_id:#x} for {comm}[{pid}]"));
                self.find_global_dsq(p)
            }
        }
    }

    /// `dispatch_enqueue()`: inserts `p` into DSQ `d`.
    pub(crate) fn dispatch_enqueue(&mut self, mut d: u32, p: Tid, mut enq_flags: u64) {
        assert!(
            self.task(p).scx.dsq.is_none(),
            "task {} already on a DSQ",
            self.task(p).pid
        );
        assert!(
            !self.scx.dsqs.links.is_linked(p),
            "task {} list node in use",
            self.task(p).pid
        );
        let is_local = matches!(self.scx.dsqs.get(d).kind, DsqKind::Local(_));
        if !is_local && self.scx.dsqs.get(d).id == SCX_DSQ_INVALID {
            self.scx_ops_error("attempting to dispatch to a destroyed dsq".into());
            d = self.find_global_dsq(p);
        }
        let id = self.scx.dsqs.get(d).id;
        if id & SCX_DSQ_FLAG_BUILTIN != 0 && enq_flags & SCX_ENQ_DSQ_PRIQ != 0 {
            self.scx_ops_error("cannot use vtime ordering for built-in DSQs".into());
            enq_flags &= !SCX_ENQ_DSQ_PRIQ;
        }
        if enq_flags & SCX_ENQ_DSQ_PRIQ != 0 {
            self.priq_insert(d, p);
        } else {
            if !self.scx.dsqs.get(d).priq.is_empty() {
                self.scx_ops_error(format!("DSQ ID {id:#018x} already had PRIQ-enqueued tasks"));
            }
            let dsqs = &mut self.scx.dsqs;
            let list = &mut dsqs.arena[d as usize].list;
            if enq_flags & (SCX_ENQ_HEAD | SCX_ENQ_PREEMPT) != 0 {
                dsqs.links.push_front(list, p);
            } else {
                dsqs.links.push_back(list, p);
            }
        }
        let dsq = &mut self.scx.dsqs.arena[d as usize];
        dsq.seq = dsq.seq.wrapping_add(1);
        dsq.nr += 1;
        let seq = dsq.seq;
        let t = self.task_mut(p);
        t.scx.dsq_seq = seq;
        t.scx.dsq = Some(d);
        if enq_flags & SCX_ENQ_CLEAR_OPSS != 0 {
            t.scx.ops_state = SCX_OPSS_NONE;
        }
        self.emit_depth(d);
        if let DsqKind::Local(cpu) = self.scx.dsqs.get(d).kind {
            self.local_dsq_post_enq(cpu, p, enq_flags);
        }
    }

    fn priq_insert(&mut self, d: u32, p: Tid) {
        let id = self.scx.dsqs.get(d).id;
        let has_fifo =
            self.scx.dsqs.get(d).priq.is_empty() && self.scx.dsqs.first_task(d).is_some();
        if has_fifo {
            self.scx_ops_error(format!("DSQ ID {id:#018x} already had FIFO-enqueued tasks"));
        }
        let vtime = self.task(p).scx.dsq_vtime;
        self.scx.dsqs.priq_seq += 1;
        let key = (vtime, self.scx.dsqs.priq_seq);
        let dsqs = &mut self.scx.dsqs;
        let dsq = &mut dsqs.arena[d as usize];
        let prev = dsq.priq.range(..key).next_back().map(|(_, t)| *t);
        dsq.priq.insert(key, p);
        match prev {
            Some(prev) => dsqs.links.insert_after(&mut dsq.list, prev, p),
            None => dsqs.links.push_front(&mut dsq.list, p),
        }
        let t = self.task_mut(p);
        t.scx.dsq_flags |= SCX_TASK_DSQ_ON_PRIQ;
        t.scx.priq_key = Some(key);
    }

    /// `task_unlink_from_dsq()`.
    pub(crate) fn task_unlink_from_dsq(&mut self, p: Tid, d: u32) {
        if let Some(key) = self.task_mut(p).scx.priq_key.take() {
            self.scx.dsqs.arena[d as usize].priq.remove(&key);
            self.task_mut(p).scx.dsq_flags &= !SCX_TASK_DSQ_ON_PRIQ;
        }
        let dsqs = &mut self.scx.dsqs;
        dsqs.links.remove(&mut dsqs.arena[d as usize].list, p);
        dsqs.arena[d as usize].nr -= 1;
        self.emit_depth(d);
    }

    /// `dispatch_dequeue()`: takes `p` off its DSQ (or cancels a deferred
    /// local dispatch).
    pub(crate) fn dispatch_dequeue(&mut self, cpu: usize, p: Tid) {
        match self.task(p).scx.dsq {
            None => {
                if self.task(p).scx.on_ddsp_deferred {
                    let owner = self.task(p).cpu;
                    let rq = &mut self.rqs[owner].scx;
                    self.scx.dsqs.links.remove(&mut rq.ddsp_deferred, p);
                    self.task_mut(p).scx.on_ddsp_deferred = false;
                }
                if self.task(p).scx.holding_cpu >= 0 {
                    self.task_mut(p).scx.holding_cpu = -1;
                }
            }
            Some(d) => {
                let _ = cpu;
                if self.task(p).scx.holding_cpu < 0 {
                    self.task_unlink_from_dsq(p, d);
                } else {
                    self.task_mut(p).scx.holding_cpu = -1;
                }
                self.task_mut(p).scx.dsq = None;
            }
        }
    }

    /// `scx_bpf_create_dsq()` / `create_dsq()`: 0 or a negative errno.
    pub(crate) fn create_dsq(&mut self, id: u64, node: i32) -> i32 {
        if node != -1 && (node < 0 || node as usize >= self.topo.nr_nodes()) {
            return -EINVAL;
        }
        if id & SCX_DSQ_FLAG_BUILTIN != 0 {
            return -EINVAL;
        }
        if self.scx.dsqs.user.contains_key(&id) {
            return -EEXIST;
        }
        let i = self.scx.dsqs.arena.len() as u32;
        self.scx.dsqs.arena.push(Dsq::new(id, DsqKind::User));
        self.scx.dsqs.user.insert(id, i);
        0
    }

    /// `destroy_dsq()`.
    pub(crate) fn destroy_dsq(&mut self, id: u64) {
        let Some(i) = self.find_user_dsq(id) else {
            return;
        };
        let nr = self.scx.dsqs.get(i).nr;
        if nr > 0 {
            self.scx_ops_error(format!(
                "attempting to destroy in-use dsq {id:#018x} (nr={nr})"
            ));
            return;
        }
        self.scx.dsqs.user.remove(&id);
        self.scx.dsqs.arena[i as usize].id = SCX_DSQ_INVALID;
    }

    /// `local_dsq_post_enq()`: preemption and wakeup after an insertion into
    /// `cpu`'s local DSQ.
    pub(crate) fn local_dsq_post_enq(&mut self, cpu: usize, p: Tid, enq_flags: u64) {
        if self.rqs[cpu].scx.flags & SCX_RQ_IN_BALANCE != 0 {
            return;
        }
        let curr = self.rqs[cpu].curr;
        let curr_ext = self.task(curr).class == crate::task::Class::Ext;
        let mut preempt = false;
        if enq_flags & SCX_ENQ_PREEMPT != 0 && p != curr && curr_ext {
            self.task_mut(curr).scx.slice = 0;
            preempt = true;
        }
        let curr_below =
            crate::sched::core::class_above(crate::task::Class::Ext, self.task(curr).class);
        if preempt || curr_below {
            self.resched_curr(cpu);
        }
    }
}
