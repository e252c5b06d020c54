//! Kfunc calls: the VM-side ones ([`BpfKfunc`]: `bpf_obj_new`/`drop`,
//! refcounts, rbtree and list, RCU, `bpf_cpumask_*`, number iterators) and
//! the decoding of host kfuncs into [`KfuncCall`]s with reference
//! tracking of what they return (`KF_ACQUIRE`) or consume (`KF_RELEASE`).

use crate::error::Fault;
use crate::host::{DsqIterRef, Host, HostKfunc, KRet, KernelObj, KfuncCall};
use crate::mem::{self, RegionKind};
use crate::vm::{decode_func, Inv, KfuncImpl, ObjMeta, Ref, Vm};
use crate::vmlinux::{GlobalMask, Window};

/// Kfuncs implemented entirely inside the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BpfKfunc {
    /// bpf_obj_new_impl
    ObjNew,
    /// bpf_obj_drop_impl
    ObjDrop,
    /// bpf_refcount_acquire_impl
    RefcountAcquire,
    /// bpf_rbtree_add_impl
    RbtreeAdd,
    /// bpf_rbtree_first
    RbtreeFirst,
    /// bpf_rbtree_remove
    RbtreeRemove,
    /// bpf_list_push_front_impl
    ListPushFront,
    /// bpf_list_push_back_impl
    ListPushBack,
    /// bpf_list_pop_front
    ListPopFront,
    /// bpf_list_pop_back
    ListPopBack,
    /// bpf_rcu_read_lock
    RcuReadLock,
    /// bpf_rcu_read_unlock
    RcuReadUnlock,
    /// bpf_iter_num_new
    IterNumNew,
    /// bpf_iter_num_next
    IterNumNext,
    /// bpf_iter_num_destroy
    IterNumDestroy,
    /// bpf_cpumask_* (the operation is in the payload)
    Cpumask(MaskOp),
}

/// `bpf_cpumask_*` operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MaskOp {
    /// create
    Create,
    /// acquire
    Acquire,
    /// release
    Release,
    /// first
    First,
    /// first_zero
    FirstZero,
    /// first_and
    FirstAnd,
    /// set_cpu
    SetCpu,
    /// clear_cpu
    ClearCpu,
    /// test_cpu
    TestCpu,
    /// test_and_set_cpu
    TestAndSetCpu,
    /// test_and_clear_cpu
    TestAndClearCpu,
    /// setall
    SetAll,
    /// clear
    Clear,
    /// and
    And,
    /// or
    Or,
    /// xor
    Xor,
    /// equal
    Equal,
    /// intersects
    Intersects,
    /// subset
    Subset,
    /// empty
    Empty,
    /// full
    Full,
    /// copy
    Copy,
    /// any_distribute
    AnyDistribute,
    /// any_and_distribute
    AnyAndDistribute,
    /// weight
    Weight,
}

const MASK_OPS: &[(&str, MaskOp)] = &[
    ("create", MaskOp::Create),
    ("acquire", MaskOp::Acquire),
    ("release", MaskOp::Release),
    ("first", MaskOp::First),
    ("first_zero", MaskOp::FirstZero),
    ("first_and", MaskOp::FirstAnd),
    ("set_cpu", MaskOp::SetCpu),
    ("clear_cpu", MaskOp::ClearCpu),
    ("test_cpu", MaskOp::TestCpu),
    ("test_and_set_cpu", MaskOp::TestAndSetCpu),
    ("test_and_clear_cpu", MaskOp::TestAndClearCpu),
    ("setall", MaskOp::SetAll),
    ("clear", MaskOp::Clear),
    ("and", MaskOp::And),
    ("or", MaskOp::Or),
    ("xor", MaskOp::Xor),
    ("equal", MaskOp::Equal),
    ("intersects", MaskOp::Intersects),
    ("subset", MaskOp::Subset),
    ("empty", MaskOp::Empty),
    ("full", MaskOp::Full),
    ("copy", MaskOp::Copy),
    ("any_distribute", MaskOp::AnyDistribute),
    ("any_and_distribute", MaskOp::AnyAndDistribute),
    ("weight", MaskOp::Weight),
];

impl BpfKfunc {
    /// Does a call change program state kept outside guest memory (the
    /// object table, rbtrees and lists, `any_distribute`'s cursor)? Writes
    /// to guest memory are counted by [`crate::mem::Memory`] itself.
    pub fn changes_state(self) -> bool {
        use BpfKfunc::*;
        use MaskOp::*;
        !matches!(
            self,
            RbtreeFirst
                | RcuReadLock
                | RcuReadUnlock
                | IterNumNew
                | IterNumNext
                | IterNumDestroy
                | Cpumask(
                    First
                        | FirstZero
                        | FirstAnd
                        | TestCpu
                        | Equal
                        | Intersects
                        | Subset
                        | Empty
                        | Full
                        | Weight
                )
        )
    }

    /// Resolve a kfunc name.
    pub fn from_name(name: &str) -> Option<BpfKfunc> {
        use BpfKfunc::*;
        if let Some(op) = name.strip_prefix("bpf_cpumask_") {
            return MASK_OPS
                .iter()
                .find(|(n, _)| *n == op)
                .map(|(_, o)| Cpumask(*o));
        }
        Some(match name {
            "bpf_obj_new_impl" => ObjNew,
            "bpf_obj_drop_impl" => ObjDrop,
            "bpf_refcount_acquire_impl" => RefcountAcquire,
            "bpf_rbtree_add_impl" => RbtreeAdd,
            "bpf_rbtree_first" => RbtreeFirst,
            "bpf_rbtree_remove" => RbtreeRemove,
            "bpf_list_push_front_impl" => ListPushFront,
            "bpf_list_push_back_impl" => ListPushBack,
            "bpf_list_pop_front" => ListPopFront,
            "bpf_list_pop_back" => ListPopBack,
            "bpf_rcu_read_lock" => RcuReadLock,
            "bpf_rcu_read_unlock" => RcuReadUnlock,
            "bpf_iter_num_new" => IterNumNew,
            "bpf_iter_num_next" => IterNumNext,
            "bpf_iter_num_destroy" => IterNumDestroy,
            _ => return None,
        })
    }
}

/// Marker stored in the first word of a `bpf_iter_scx_dsq`.
const DSQ_ITER_MAGIC: u64 = 0x5cd5_17e7;
const ITER_HAS_SLICE: u64 = 1;
const ITER_HAS_VTIME: u64 = 2;
const EINVAL: i64 = -22;
const E2BIG: i64 = -7;

fn bad(func: &str, what: impl Into<String>) -> Fault {
    Fault::BadArg {
        func: func.into(),
        what: what.into(),
    }
}

fn bit(words: &[u64], cpu: u64) -> bool {
    words
        .get((cpu / 64) as usize)
        .is_some_and(|w| w >> (cpu % 64) & 1 != 0)
}

impl Vm {
    /// Dispatch kfunc table entry `idx`.
    pub(crate) fn call_kfunc(
        &mut self,
        host: &mut dyn Host,
        inv: &mut Inv,
        idx: usize,
        a: [u64; 5],
        depth: usize,
    ) -> Result<u64, Fault> {
        match self.kfuncs.get(idx).cloned() {
            Some(KfuncImpl::Bpf(k)) => self.bpf_kfunc(host, inv, k, a, depth),
            Some(KfuncImpl::Host(k)) => self.host_kfunc(host, inv, k, a),
            Some(KfuncImpl::Missing(n)) => {
                Err(bad(&n, "weak kfunc not provided by the host was called"))
            }
            None => Err(bad("kfunc", format!("bad kfunc index {idx}"))),
        }
    }

    fn obj_base(&self, func: &str, addr: u64) -> Result<u64, Fault> {
        let base = addr & !0xffff_ffff;
        if self.objects.contains_key(&base) {
            Ok(base)
        } else {
            Err(bad(func, format!("{addr:#x} is not an allocated object")))
        }
    }

    fn new_object(&mut self, inv: &mut Inv, size: usize) -> u64 {
        let base = self.mem.alloc(RegionKind::Object, size.max(1), true);
        self.objects.insert(base, ObjMeta { refcnt: 1 });
        inv.refs.push(Ref::Obj(base));
        base
    }

    fn drop_object(&mut self, inv: &mut Inv, func: &str, addr: u64) -> Result<u64, Fault> {
        let base = self.obj_base(func, addr)?;
        Self::release_ref(inv, func, Ref::Obj(base))?;
        let meta = self.objects.get_mut(&base).expect("checked above");
        meta.refcnt -= 1;
        if meta.refcnt == 0 {
            self.objects.remove(&base);
            self.mem.free(base);
        }
        Ok(0)
    }

    fn acquire_object(&mut self, inv: &mut Inv, func: &str, addr: u64) -> Result<u64, Fault> {
        let base = self.obj_base(func, addr)?;
        if let Some(m) = self.objects.get_mut(&base) {
            m.refcnt += 1;
        }
        inv.refs.push(Ref::Obj(base));
        Ok(addr)
    }

    fn in_collection(&self, node: u64) -> bool {
        self.rbtrees.values().any(|v| v.contains(&node))
            || self.lists.values().any(|v| v.contains(&node))
    }

    /// Take ownership of `node`'s object for a collection.
    fn give_node(&mut self, inv: &mut Inv, func: &str, node: u64) -> Result<bool, Fault> {
        let base = self.obj_base(func, node)?;
        Self::release_ref(inv, func, Ref::Obj(base))?;
        if self.in_collection(node) {
            self.drop_unowned(base);
            return Ok(false);
        }
        Ok(true)
    }

    fn drop_unowned(&mut self, base: u64) {
        if let Some(m) = self.objects.get_mut(&base) {
            m.refcnt -= 1;
            if m.refcnt == 0 {
                self.objects.remove(&base);
                self.mem.free(base);
            }
        }
    }

    fn rbtree_add(
        &mut self,
        host: &mut dyn Host,
        inv: &mut Inv,
        a: [u64; 5],
        depth: usize,
    ) -> Result<u64, Fault> {
        let (root, node) = (a[0], a[1]);
        let less =
            decode_func(a[2]).ok_or_else(|| bad("bpf_rbtree_add", "less is not a function"))?;
        if !self.give_node(inv, "bpf_rbtree_add", node)? {
            return Ok(EINVAL as u64);
        }
        let nodes = self.rbtrees.get(&root).cloned().unwrap_or_default();
        // First position whose element the new node sorts before (equal
        // keys go after existing ones, as a tree walk going right does).
        let (mut lo, mut hi) = (0, nodes.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.exec(host, inv, less, [node, nodes[mid], 0, 0, 0], depth + 1)? & 0xff != 0 {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        self.rbtrees.entry(root).or_default().insert(lo, node);
        Ok(0)
    }

    fn take_node(&mut self, inv: &mut Inv, node: Option<u64>) -> u64 {
        match node {
            Some(n) => {
                inv.refs.push(Ref::Obj(n & !0xffff_ffff));
                n
            }
            None => 0,
        }
    }

    fn list_op(&mut self, inv: &mut Inv, k: BpfKfunc, a: [u64; 5]) -> Result<u64, Fault> {
        match k {
            BpfKfunc::ListPushFront | BpfKfunc::ListPushBack => {
                if !self.give_node(inv, "bpf_list_push", a[1])? {
                    return Ok(EINVAL as u64);
                }
                let l = self.lists.entry(a[0]).or_default();
                if k == BpfKfunc::ListPushFront {
                    l.push_front(a[1]);
                } else {
                    l.push_back(a[1]);
                }
                Ok(0)
            }
            _ => {
                let l = self.lists.entry(a[0]).or_default();
                let n = if k == BpfKfunc::ListPopFront {
                    l.pop_front()
                } else {
                    l.pop_back()
                };
                Ok(self.take_node(inv, n))
            }
        }
    }

    fn iter_num(&mut self, k: BpfKfunc, a: [u64; 5]) -> Result<u64, Fault> {
        let f = "bpf_iter_num";
        let rd = |vm: &Vm, off| {
            vm.mem
                .load(a[0].wrapping_add(off), 4)
                .map(|v| v as u32 as i32)
                .ok_or_else(|| bad(f, "bad iterator"))
        };
        let wr = |vm: &mut Vm, cur: i32, end: i32| {
            vm.mem
                .store(a[0], 4, cur as u32 as u64)
                .and(vm.mem.store(a[0].wrapping_add(4), 4, end as u32 as u64))
                .map_err(|_| bad(f, "bad iterator"))
        };
        match k {
            BpfKfunc::IterNumNew => {
                let (start, end) = (a[1] as i32, a[2] as i32);
                let (cur, e, ret) = if start > end {
                    (0, 0, EINVAL)
                } else if end as i64 - start as i64 > 8 * 1024 * 1024 {
                    (0, 0, E2BIG)
                } else {
                    (start.wrapping_sub(1), end, 0)
                };
                wr(self, cur, e)?;
                Ok(ret as u64)
            }
            BpfKfunc::IterNumNext => {
                let (cur, end) = (rd(self, 0)?, rd(self, 4)?);
                if cur as i64 + 1 >= end as i64 {
                    wr(self, 0, 0)?;
                    return Ok(0);
                }
                wr(self, cur + 1, end)?;
                Ok(a[0])
            }
            _ => Ok(0),
        }
    }

    fn bpf_kfunc(
        &mut self,
        host: &mut dyn Host,
        inv: &mut Inv,
        k: BpfKfunc,
        a: [u64; 5],
        depth: usize,
    ) -> Result<u64, Fault> {
        use BpfKfunc::*;
        if k.changes_state() {
            self.mem.touch();
        }
        match k {
            ObjNew => {
                let size = self
                    .obj_btf
                    .size_of(a[0] as u32)
                    .filter(|&s| s > 0 && s <= 1 << 20);
                Ok(size.map(|s| self.new_object(inv, s as usize)).unwrap_or(0))
            }
            ObjDrop => self.drop_object(inv, "bpf_obj_drop", a[0]),
            RefcountAcquire => self.acquire_object(inv, "bpf_refcount_acquire", a[0]),
            RbtreeAdd => self.rbtree_add(host, inv, a, depth),
            RbtreeFirst => Ok(self
                .rbtrees
                .get(&a[0])
                .and_then(|v| v.first())
                .copied()
                .unwrap_or(0)),
            RbtreeRemove => {
                let nodes = self.rbtrees.entry(a[0]).or_default();
                let found = nodes
                    .iter()
                    .position(|&n| n == a[1])
                    .map(|i| nodes.remove(i));
                Ok(self.take_node(inv, found))
            }
            ListPushFront | ListPushBack | ListPopFront | ListPopBack => self.list_op(inv, k, a),
            RcuReadLock => {
                inv.rcu += 1;
                Ok(0)
            }
            RcuReadUnlock => {
                inv.rcu -= 1;
                if inv.rcu < 0 {
                    return Err(bad("bpf_rcu_read_unlock", "unlock without lock"));
                }
                Ok(0)
            }
            IterNumNew | IterNumNext | IterNumDestroy => self.iter_num(k, a),
            Cpumask(op) => self.cpumask_op(host, inv, op, a),
        }
    }
}

/// `bpf_cpumask_*`.
impl Vm {
    fn mask_words(&mut self, host: &mut dyn Host, addr: u64) -> Result<Vec<u64>, Fault> {
        self.read_cpumask(host, "bpf_cpumask", addr)
    }

    fn write_mask(&mut self, dst: u64, words: &[u64]) -> Result<(), Fault> {
        let base = self.obj_base("bpf_cpumask", dst)?;
        for (i, w) in words.iter().enumerate() {
            self.mem
                .store(base + 8 * i as u64, 8, *w)
                .map_err(|_| bad("bpf_cpumask", "not writable"))?;
        }
        Ok(())
    }

    /// Mask of the valid CPU bits in each word.
    fn valid_words(&self) -> Vec<u64> {
        let n = self.ncpu as u64;
        (0..n.div_ceil(64))
            .map(|i| {
                let bits = (n - i * 64).min(64);
                if bits == 64 {
                    u64::MAX
                } else {
                    (1u64 << bits) - 1
                }
            })
            .collect()
    }

    fn first_set(&self, words: &[u64]) -> u64 {
        (0..self.ncpu as u64)
            .find(|&c| bit(words, c))
            .unwrap_or(self.ncpu as u64)
    }

    fn distribute(&mut self, words: &[u64]) -> u64 {
        let n = self.ncpu as u64;
        let start = self.distribute_prev.wrapping_add(1) as u64 % n.max(1);
        match (0..n).map(|k| (start + k) % n).find(|&c| bit(words, c)) {
            Some(c) => {
                self.distribute_prev = c as u32;
                c
            }
            None => n,
        }
    }

    fn set_bit(
        &mut self,
        host: &mut dyn Host,
        dst: u64,
        cpu: u64,
        on: bool,
    ) -> Result<bool, Fault> {
        if cpu >= self.ncpu as u64 {
            return Ok(false);
        }
        let mut w = self.mask_words(host, dst)?;
        let was = bit(&w, cpu);
        let m = 1u64 << (cpu % 64);
        let i = (cpu / 64) as usize;
        w[i] = if on { w[i] | m } else { w[i] & !m };
        self.write_mask(dst, &w)?;
        Ok(was)
    }

    fn cpumask_op(
        &mut self,
        host: &mut dyn Host,
        inv: &mut Inv,
        op: MaskOp,
        a: [u64; 5],
    ) -> Result<u64, Fault> {
        use MaskOp::*;
        let valid = self.valid_words();
        let combine = |x: &[u64], y: &[u64], f: fn(u64, u64) -> u64| -> Vec<u64> {
            x.iter()
                .zip(y)
                .zip(&valid)
                .map(|((a, b), v)| f(*a, *b) & v)
                .collect()
        };
        Ok(match op {
            Create => {
                let size = self.kt.struct_size("bpf_cpumask").unwrap_or(72) as usize;
                self.new_object(inv, size)
            }
            Acquire => self.acquire_object(inv, "bpf_cpumask_acquire", a[0])?,
            Release => self.drop_object(inv, "bpf_cpumask_release", a[0])?,
            First => {
                let w = self.mask_words(host, a[0])?;
                self.first_set(&w)
            }
            FirstZero => {
                let w = self.mask_words(host, a[0])?;
                let inv_w: Vec<u64> = w.iter().map(|x| !x).collect();
                self.first_set(&inv_w)
            }
            FirstAnd => {
                let (x, y) = (self.mask_words(host, a[0])?, self.mask_words(host, a[1])?);
                self.first_set(&combine(&x, &y, |p, q| p & q))
            }
            SetCpu | ClearCpu => {
                self.set_bit(host, a[1], a[0] as u32 as u64, op == SetCpu)?;
                0
            }
            TestCpu => {
                let cpu = a[0] as u32 as u64;
                (cpu < self.ncpu as u64 && bit(&self.mask_words(host, a[1])?, cpu)) as u64
            }
            TestAndSetCpu | TestAndClearCpu => {
                self.set_bit(host, a[1], a[0] as u32 as u64, op == TestAndSetCpu)? as u64
            }
            SetAll | Clear => {
                let w: Vec<u64> = if op == SetAll {
                    valid.clone()
                } else {
                    vec![0; valid.len()]
                };
                self.write_mask(a[0], &w)?;
                0
            }
            And | Or | Xor => {
                let (x, y) = (self.mask_words(host, a[1])?, self.mask_words(host, a[2])?);
                let f: fn(u64, u64) -> u64 = match op {
                    And => |p, q| p & q,
                    Or => |p, q| p | q,
                    _ => |p, q| p ^ q,
                };
                let w = combine(&x, &y, f);
                self.write_mask(a[0], &w)?;
                (op == And && w.iter().any(|&x| x != 0)) as u64
            }
            Equal | Intersects | Subset => {
                let (x, y) = (self.mask_words(host, a[0])?, self.mask_words(host, a[1])?);
                let both = combine(&x, &y, |p, q| p & q);
                let xm = combine(&x, &valid, |p, _| p);
                let ym = combine(&y, &valid, |p, _| p);
                (match op {
                    Equal => xm == ym,
                    Intersects => both.iter().any(|&w| w != 0),
                    _ => both == xm,
                }) as u64
            }
            Empty | Full | Weight => {
                let w = self.mask_words(host, a[0])?;
                let m = combine(&w, &valid, |p, _| p);
                match op {
                    Empty => m.iter().all(|&x| x == 0) as u64,
                    Full => (m == valid) as u64,
                    _ => m.iter().map(|x| x.count_ones() as u64).sum(),
                }
            }
            Copy => {
                let w = self.mask_words(host, a[1])?;
                self.write_mask(a[0], &w)?;
                0
            }
            AnyDistribute => {
                let w = self.mask_words(host, a[0])?;
                self.distribute(&w)
            }
            AnyAndDistribute => {
                let (x, y) = (self.mask_words(host, a[0])?, self.mask_words(host, a[1])?);
                self.distribute(&combine(&x, &y, |p, q| p & q))
            }
        })
    }
}

/// Does the host's answer have the shape this kfunc returns?
fn ret_fits(k: HostKfunc, r: &KRet) -> bool {
    use HostKfunc as H;
    match k {
        H::TaskFromPid
        | H::TaskCgroup
        | H::CgroupAncestor
        | H::CgroupFromId
        | H::CpuRq
        | H::DsqIterNext
        | H::CssIterNext => {
            matches!(r, KRet::Obj(_))
        }
        H::GetPossibleCpumask | H::GetOnlineCpumask | H::GetIdleCpumask | H::GetIdleSmtmask => {
            matches!(r, KRet::Obj(KernelObj::Mask(_) | KernelObj::Null))
        }
        H::SelectCpuDfl => matches!(r, KRet::SelectCpu { .. }),
        H::DsqIterNew | H::CssIterNew => matches!(r, KRet::Iter(_) | KRet::Int(_)),
        _ => matches!(r, KRet::Int(_) | KRet::Bool(_) | KRet::Void),
    }
}

/// Host kfuncs: decode arguments, call the host, encode results.
impl Vm {
    fn encode_obj(&mut self, o: KernelObj) -> u64 {
        match o {
            KernelObj::Null => 0,
            KernelObj::Task(t) => mem::kernel_addr(Window::Task, t.0 as u64, 0),
            KernelObj::Cgroup(c) => mem::kernel_addr(Window::Cgroup, c.0, 0),
            KernelObj::Rq(cpu) => mem::kernel_addr(Window::Rq, cpu as u64, 0),
            KernelObj::Mask(m) => mem::kernel_addr(Window::Mask, m.id(), 0),
        }
    }

    fn encode_ret(&mut self, r: KRet) -> u64 {
        match r {
            KRet::Void => 0,
            KRet::Int(v) => v as u64,
            KRet::Bool(b) => b as u64,
            KRet::Obj(o) => self.encode_obj(o),
            KRet::SelectCpu { cpu, .. } => cpu as i64 as u64,
            KRet::Iter(h) => h,
        }
    }

    fn dsq_iter_slot(&self, it: u64) -> Result<[u64; 5], Fault> {
        let b = self
            .mem
            .bytes(it, 40)
            .ok_or_else(|| bad("bpf_iter_scx_dsq", "iterator not in BPF memory"))?;
        let mut out = [0u64; 5];
        for (i, c) in b.chunks(8).enumerate() {
            out[i] = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        }
        Ok(out)
    }

    fn write_slot(&mut self, it: u64, vals: &[u64]) -> Result<(), Fault> {
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let dst = self
            .mem
            .bytes_mut(it, bytes.len())
            .ok_or_else(|| bad("bpf_iter", "iterator not writable"))?;
        dst.copy_from_slice(&bytes);
        Ok(())
    }

    fn iter_handle(&self, it: u64) -> Result<Option<u64>, Fault> {
        let s = self.dsq_iter_slot(it)?;
        Ok((s[0] == DSQ_ITER_MAGIC).then_some(s[1]))
    }

    /// Host kfuncs whose work is purely reference bookkeeping or iterator
    /// state; `None` means "ask the host".
    fn host_kfunc_local(
        &mut self,
        inv: &mut Inv,
        k: HostKfunc,
        a: [u64; 5],
    ) -> Result<Option<u64>, Fault> {
        use HostKfunc::*;
        let r = match k {
            TaskAcquire | CgroupAcquire => {
                let r = self
                    .ref_of(a[0])
                    .ok_or_else(|| bad("acquire", "not a kernel object"))?;
                inv.refs.push(r);
                a[0]
            }
            TaskRelease | CgroupRelease | PutCpumask | PutIdleCpumask => {
                let r = self
                    .ref_of(a[0])
                    .ok_or_else(|| bad("release", "not a kernel object"))?;
                Self::release_ref(inv, "release", r)?;
                0
            }
            DispatchFromDsqSetSlice | DispatchFromDsqSetVtime => {
                let mut s = self.dsq_iter_slot(a[0])?;
                let (idx, flag) = if k == DispatchFromDsqSetSlice {
                    (2, ITER_HAS_SLICE)
                } else {
                    (3, ITER_HAS_VTIME)
                };
                s[idx] = a[1];
                s[4] |= flag;
                self.write_slot(a[0], &s)?;
                0
            }
            _ => return Ok(None),
        };
        Ok(Some(r))
    }

    fn decode_call(
        &mut self,
        host: &mut dyn Host,
        k: HostKfunc,
        a: [u64; 5],
    ) -> Result<KfuncCall, Fault> {
        use HostKfunc as H;
        let task = |vm: &Vm, x: u64| vm.task_arg(k.names()[0], x);
        Ok(match k {
            H::CreateDsq => KfuncCall::CreateDsq {
                dsq_id: a[0],
                node: a[1] as i32,
            },
            H::SelectCpuDfl => KfuncCall::SelectCpuDfl {
                task: task(self, a[0])?,
                prev_cpu: a[1] as i32,
                wake_flags: a[2],
            },
            H::Dispatch => KfuncCall::Dispatch {
                task: task(self, a[0])?,
                dsq_id: a[1],
                slice: a[2],
                enq_flags: a[3],
            },
            H::DispatchVtime => KfuncCall::DispatchVtime {
                task: task(self, a[0])?,
                dsq_id: a[1],
                slice: a[2],
                vtime: a[3],
                enq_flags: a[4],
            },
            H::DispatchNrSlots => KfuncCall::DispatchNrSlots,
            H::DispatchCancel => KfuncCall::DispatchCancel,
            H::Consume => KfuncCall::Consume { dsq_id: a[0] },
            H::DispatchFromDsq | H::DispatchVtimeFromDsq => {
                let s = self.dsq_iter_slot(a[0])?;
                let iter = DsqIterRef {
                    handle: s[1],
                    slice: (s[4] & ITER_HAS_SLICE != 0).then_some(s[2]),
                    vtime: (s[4] & ITER_HAS_VTIME != 0).then_some(s[3]),
                };
                KfuncCall::DispatchFromDsq {
                    iter,
                    task: task(self, a[1])?,
                    dsq_id: a[2],
                    enq_flags: a[3],
                    vtime_order: k == H::DispatchVtimeFromDsq,
                }
            }
            H::ReenqueueLocal => KfuncCall::ReenqueueLocal,
            H::KickCpu => KfuncCall::KickCpu {
                cpu: a[0] as i32,
                flags: a[1],
            },
            H::DsqNrQueued => KfuncCall::DsqNrQueued { dsq_id: a[0] },
            H::DestroyDsq => KfuncCall::DestroyDsq { dsq_id: a[0] },
            H::DsqIterNew => KfuncCall::DsqIterNew {
                dsq_id: a[1],
                flags: a[2],
            },
            H::DsqIterNext => KfuncCall::DsqIterNext {
                handle: self.iter_handle(a[0])?.unwrap_or(u64::MAX),
            },
            H::DsqIterDestroy => KfuncCall::DsqIterDestroy {
                handle: self.iter_handle(a[0])?.unwrap_or(u64::MAX),
            },
            H::ExitBstr => KfuncCall::ExitBstr {
                exit_code: a[0] as i64,
                fmt: a[1],
                data: a[2],
                data_sz: a[3] as u32,
            },
            H::ErrorBstr => KfuncCall::ErrorBstr {
                fmt: a[0],
                data: a[1],
                data_sz: a[2] as u32,
            },
            H::DumpBstr => KfuncCall::DumpBstr {
                fmt: a[0],
                data: a[1],
                data_sz: a[2] as u32,
            },
            H::CpuperfCap => KfuncCall::CpuperfCap { cpu: a[0] as i32 },
            H::CpuperfCur => KfuncCall::CpuperfCur { cpu: a[0] as i32 },
            H::CpuperfSet => KfuncCall::CpuperfSet {
                cpu: a[0] as i32,
                perf: a[1] as u32,
            },
            H::NrCpuIds => KfuncCall::NrCpuIds,
            H::GetPossibleCpumask => KfuncCall::GetCpumask(GlobalMask::Possible),
            H::GetOnlineCpumask => KfuncCall::GetCpumask(GlobalMask::Online),
            H::GetIdleCpumask => KfuncCall::GetCpumask(GlobalMask::Idle),
            H::GetIdleSmtmask => KfuncCall::GetCpumask(GlobalMask::IdleSmt),
            H::TestAndClearCpuIdle => KfuncCall::TestAndClearCpuIdle { cpu: a[0] as i32 },
            H::PickIdleCpu => KfuncCall::PickIdleCpu {
                cpus_allowed: self.read_cpumask(host, "scx_bpf_pick_idle_cpu", a[0])?,
                flags: a[1],
            },
            H::PickAnyCpu => KfuncCall::PickAnyCpu {
                cpus_allowed: self.read_cpumask(host, "scx_bpf_pick_any_cpu", a[0])?,
                flags: a[1],
            },
            H::TaskRunning => KfuncCall::TaskRunning {
                task: task(self, a[0])?,
            },
            H::TaskCpu => KfuncCall::TaskCpu {
                task: task(self, a[0])?,
            },
            H::CpuRq => KfuncCall::CpuRq { cpu: a[0] as i32 },
            H::TaskCgroup => KfuncCall::TaskCgroup {
                task: task(self, a[0])?,
            },
            H::TaskFromPid => KfuncCall::TaskFromPid { pid: a[0] as i32 },
            H::CgroupAncestor => KfuncCall::CgroupAncestor {
                cgroup: self.cgroup_arg("bpf_cgroup_ancestor", a[0])?,
                level: a[1] as i32,
            },
            H::CgroupFromId => KfuncCall::CgroupFromId { id: a[0] },
            H::CssIterNew => KfuncCall::CssIterNew {
                start: self.cgroup_arg("bpf_iter_css_new", a[1])?,
                flags: a[2] as u32,
            },
            H::CssIterNext => KfuncCall::CssIterNext {
                handle: self.iter_handle(a[0])?.unwrap_or(u64::MAX),
            },
            H::CssIterDestroy => KfuncCall::CssIterDestroy {
                handle: self.iter_handle(a[0])?.unwrap_or(u64::MAX),
            },
            _ => return Err(bad(k.names()[0], "handled locally")),
        })
    }

    fn host_kfunc(
        &mut self,
        host: &mut dyn Host,
        inv: &mut Inv,
        k: HostKfunc,
        a: [u64; 5],
    ) -> Result<u64, Fault> {
        use HostKfunc as H;
        if let Some(v) = self.host_kfunc_local(inv, k, a)? {
            return Ok(v);
        }
        let call = self.decode_call(host, k, a)?;
        let ret = host.kfunc(self, call)?;
        if !ret_fits(k, &ret) {
            return Err(Fault::Host(format!(
                "{} answered with {ret:?}",
                k.names()[0]
            )));
        }
        match (k, ret) {
            (H::SelectCpuDfl, KRet::SelectCpu { is_idle, .. }) if a[3] != 0 => {
                self.mem
                    .store(a[3], 1, is_idle as u64)
                    .map_err(|_| bad("scx_bpf_select_cpu_dfl", "is_idle not writable"))?;
            }
            (H::DsqIterNew | H::CssIterNew, KRet::Iter(h)) => {
                self.write_slot(a[0], &[DSQ_ITER_MAGIC, h, 0, 0, 0])?;
                return Ok(0);
            }
            (H::DsqIterNew | H::CssIterNew, _) => {
                let _ = self.write_slot(a[0], &[0, 0, 0, 0, 0]);
            }
            (H::DsqIterDestroy | H::CssIterDestroy, _) => {
                let _ = self.write_slot(a[0], &[0, 0, 0, 0, 0]);
            }
            (H::DispatchFromDsq | H::DispatchVtimeFromDsq, _) => {
                let mut s = self.dsq_iter_slot(a[0])?;
                s[4] &= !(ITER_HAS_SLICE | ITER_HAS_VTIME);
                self.write_slot(a[0], &s)?;
            }
            _ => {}
        }
        let v = self.encode_ret(ret);
        let acquires = matches!(
            k,
            H::TaskFromPid
                | H::TaskCgroup
                | H::CgroupAncestor
                | H::CgroupFromId
                | H::GetPossibleCpumask
                | H::GetOnlineCpumask
                | H::GetIdleCpumask
                | H::GetIdleSmtmask
        );
        if acquires && v != 0 {
            if let Some(r) = self.ref_of(v) {
                inv.refs.push(r);
            }
        }
        Ok(v)
    }
}
