//! A loaded scheduler: the [`Vm`] holding shared state (code, maps, global
//! data, BPF-side objects, timers) and the public entry points that start
//! invocations.
//!
//! [`Vm::load`] turns a parsed [`BpfObject`] into something runnable:
//! global data and maps become guest regions, relocations become
//! addresses, kfunc names are resolved against the host's [`KfuncSet`]
//! (unknown = load error, except `__weak` ones), helper ids are checked,
//! and CO-RE relocations are applied against [`KernelTypes`].
//!
//! Each invocation ([`Vm::call_op`], [`Vm::fire_timer`], ...) gets its own
//! registers, frames and stack; shared state stays in the `Vm`, which is
//! what makes re-entrant calls from kfunc handlers possible.

use crate::btf::Btf;
use crate::core_relo::{self, CoreResult, SizeAdjust};
use crate::error::{Fault, LoadError, LoadErrorKind};
use crate::host::{CgroupId, Host, HostKfunc, KfuncSet, TaskId, TimerId};
use crate::insn::{self, Insn};
use crate::kfuncs::BpfKfunc;
use crate::maps::Map;
use crate::mem::{self, Memory, RegionKind};
use crate::obj::{BpfObject, DataKind, Program, RelocTarget, StructOps};
use crate::vmlinux::{KernelTypes, Window};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

/// Bytes of stack per frame.
pub const STACK_PER_FRAME: usize = 512;
/// Maximum call frames per invocation (including callback frames).
pub const MAX_FRAMES: usize = 8;
/// Maximum nesting of invocations (program → kfunc → program ...).
pub const MAX_NESTING: usize = 8;
/// Maximum number of callback arguments.
pub const MAX_CTX_ARGS: usize = 12;
/// Default per-invocation instruction budget.
pub const DEFAULT_BUDGET: u64 = 1 << 24;
/// Top-byte tag of subprogram addresses (callback pointers).
pub const FUNC_TAG: u64 = 0xfe;

/// The environment a load happens in.
#[derive(Debug, Clone)]
pub struct LoadEnv {
    /// Number of possible CPUs (per-CPU maps, cpumask width).
    pub nr_cpu_ids: u32,
    /// Host kfuncs available.
    pub kfuncs: KfuncSet,
    /// Per-invocation instruction budget.
    pub insn_budget: u64,
    /// Seed of `bpf_get_prandom_u32`.
    pub seed: u64,
}

impl Default for LoadEnv {
    fn default() -> Self {
        LoadEnv {
            nr_cpu_ids: 4,
            kfuncs: KfuncSet::all(),
            insn_budget: DEFAULT_BUDGET,
            seed: 0x5c75_1b0f,
        }
    }
}

/// How a kfunc call site was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KfuncImpl {
    /// Provided by the host.
    Host(HostKfunc),
    /// Implemented by the VM.
    Bpf(BpfKfunc),
    /// `__weak` and unavailable: calling it faults.
    Missing(String),
}

/// An argument of a struct_ops callback, in the order of the callback's C
/// prototype. Pointer-to-struct arguments are built by the VM in
/// read-only kernel memory laid out per the kernel type table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Any integer (`s32`, `u32`, `u64`, `bool`, ...).
    Int(u64),
    /// A task pointer.
    Task(TaskId),
    /// A possibly-NULL task pointer (e.g. `prev` of `ops.dispatch`).
    OptTask(Option<TaskId>),
    /// A cgroup pointer.
    Cgroup(CgroupId),
    /// `struct scx_exit_info *`.
    ExitInfo {
        /// `enum scx_exit_kind`.
        kind: u32,
        /// Exit code.
        exit_code: i64,
        /// Reason text.
        reason: String,
        /// Message text.
        msg: String,
        /// Debug dump text.
        dump: String,
    },
    /// `struct scx_init_task_args *`.
    InitTaskArgs {
        /// Called from fork.
        fork: bool,
        /// The task's cgroup.
        cgroup: Option<CgroupId>,
    },
    /// `struct scx_exit_task_args *`.
    ExitTaskArgs {
        /// Exit because the scheduler is being unloaded.
        cancelled: bool,
    },
    /// `struct scx_cpu_acquire_args *`.
    CpuAcquireArgs,
    /// `struct scx_cpu_release_args *`.
    CpuReleaseArgs {
        /// `enum scx_cpu_preempt_reason`.
        reason: u32,
        /// The task taking the CPU.
        task: Option<TaskId>,
    },
    /// `struct scx_dump_ctx *`.
    DumpCtx {
        /// `enum scx_exit_kind`.
        kind: u32,
        /// Exit code.
        exit_code: i64,
        /// Reason text.
        reason: String,
        /// Time of the dump (ns).
        at_ns: u64,
        /// Time of the dump (jiffies).
        at_jiffies: u64,
    },
    /// `struct scx_cgroup_init_args *`.
    CgroupInitArgs {
        /// Weight.
        weight: u32,
    },
}

/// An acquired reference held by an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ref {
    Task(u32),
    Cgroup(u64),
    Mask(u64),
    Obj(u64),
    Ringbuf(u64),
}

/// Metadata of a `bpf_obj_new` / `bpf_cpumask_create` object.
#[derive(Debug, Clone)]
pub(crate) struct ObjMeta {
    pub refcnt: u32,
}

/// A BPF timer.
#[derive(Debug, Clone)]
pub(crate) struct Timer {
    pub map: usize,
    pub key: Vec<u8>,
    pub value: u64,
    pub callback: Option<usize>,
}

/// Per-invocation state.
#[derive(Debug)]
pub(crate) struct Inv {
    pub stack: u64,
    pub budget: u64,
    pub refs: Vec<Ref>,
    pub locks: Vec<u64>,
    pub rcu: i32,
    pub cpu: u32,
    pub timer: Option<usize>,
}

/// A loaded, runnable scheduler.
#[derive(Debug)]
pub struct Vm {
    pub(crate) name: String,
    pub(crate) code: Arc<[Insn]>,
    pub(crate) programs: Vec<Program>,
    pub(crate) struct_ops: Vec<StructOps>,
    pub(crate) sections: Vec<(String, usize, usize)>,
    /// Guest memory.
    pub mem: Memory,
    pub(crate) maps: Vec<Map>,
    pub(crate) data: Vec<(String, DataKind, u64, Vec<crate::obj::Variable>)>,
    pub(crate) kfuncs: Vec<KfuncImpl>,
    pub(crate) poisons: Vec<String>,
    pub(crate) kt: Arc<KernelTypes>,
    pub(crate) obj_btf: Btf,
    pub(crate) ncpu: u32,
    pub(crate) budget: u64,
    pub(crate) rng: u64,
    pub(crate) timers: Vec<Timer>,
    pub(crate) timer_at: BTreeMap<u64, usize>,
    pub(crate) objects: BTreeMap<u64, ObjMeta>,
    pub(crate) rbtrees: BTreeMap<u64, Vec<u64>>,
    pub(crate) lists: BTreeMap<u64, std::collections::VecDeque<u64>>,
    pub(crate) ringbuf_res: BTreeMap<u64, (usize, u64)>,
    pub(crate) held_locks: BTreeSet<u64>,
    pub(crate) dsq_ids: Vec<u64>,
    pub(crate) distribute_prev: u32,
    stacks: Vec<u64>,
    ctxs: Vec<u64>,
    op_entries: BTreeMap<String, usize>,
    nesting: usize,
    /// Instructions executed since load (all invocations).
    pub insns_executed: u64,
}

fn kernel_types() -> Arc<KernelTypes> {
    static KT: OnceLock<Arc<KernelTypes>> = OnceLock::new();
    KT.get_or_init(|| Arc::new(KernelTypes::new())).clone()
}

/// Encode a subprogram address.
pub fn func_addr(pc: usize) -> u64 {
    (FUNC_TAG << 56) | pc as u64
}

/// Decode a subprogram address.
pub fn decode_func(addr: u64) -> Option<usize> {
    (addr >> 56 == FUNC_TAG).then_some((addr & 0xffff_ffff) as usize)
}

/// Bytes of a little-endian integer field of `size` bytes.
fn set_field(buf: &mut [u8], off: u32, size: u32, v: u64) {
    let (o, s) = (off as usize, size as usize);
    buf[o..o + s].copy_from_slice(&v.to_le_bytes()[..s]);
}

// ---------------------------------------------------------------- loading

struct Loader<'a> {
    obj: &'a BpfObject,
    vm: Vm,
    env: &'a LoadEnv,
}

impl Loader<'_> {
    fn located(&self, flat: usize, kind: LoadErrorKind) -> LoadError {
        let e = LoadError::new(&self.obj.name, kind);
        match self
            .obj
            .code_sections
            .iter()
            .find(|s| flat >= s.base && flat < s.base + s.len)
        {
            Some(s) => e.in_section(&s.name).at_insn(flat - s.base),
            None => e,
        }
    }

    fn place_data(&mut self) {
        for (i, d) in self.obj.data.iter().enumerate() {
            let base = self.vm.mem.alloc(
                RegionKind::Data(i),
                d.bytes.len(),
                d.kind != DataKind::Rodata,
            );
            self.vm.mem.poke(base, &d.bytes);
            self.vm
                .data
                .push((d.name.clone(), d.kind, base, d.vars.clone()));
        }
    }

    fn create_maps(&mut self) -> Result<(), LoadError> {
        for (i, def) in self.obj.maps.iter().enumerate() {
            let m = Map::new(&mut self.vm.mem, i, def, self.env.nr_cpu_ids)
                .map_err(|e| LoadError::new(&self.obj.name, LoadErrorKind::BadMap(e)))?;
            self.vm.maps.push(m);
        }
        for (i, def) in self.obj.maps.iter().enumerate() {
            for (slot, name) in &def.init_values {
                let inner = self
                    .obj
                    .maps
                    .iter()
                    .position(|m| &m.name == name)
                    .ok_or_else(|| {
                        LoadError::new(
                            &self.obj.name,
                            LoadErrorKind::BadMap(format!(
                                "{}: unknown inner map {name}",
                                def.name
                            )),
                        )
                    })?;
                if self.vm.maps[i].set_inner(&slot.to_le_bytes(), inner) != 0 {
                    return Err(LoadError::new(
                        &self.obj.name,
                        LoadErrorKind::BadMap(format!("{}: bad slot {slot}", def.name)),
                    ));
                }
            }
        }
        Ok(())
    }

    fn set_imm64(code: &mut [Insn], pc: usize, v: u64) {
        code[pc].imm = v as u32 as i32;
        code[pc].src = 0;
        code[pc + 1].imm = (v >> 32) as u32 as i32;
    }

    fn resolve_kfunc(
        &mut self,
        name: &str,
        weak: bool,
        flat: usize,
    ) -> Result<Option<usize>, LoadError> {
        let imp = if let Some(b) = BpfKfunc::from_name(name) {
            KfuncImpl::Bpf(b)
        } else if let Some(h) = HostKfunc::from_name(name).filter(|h| self.env.kfuncs.contains(*h))
        {
            KfuncImpl::Host(h)
        } else if weak {
            KfuncImpl::Missing(name.to_string())
        } else {
            return Err(self.located(flat, LoadErrorKind::UnknownKfunc(name.to_string())));
        };
        if matches!(imp, KfuncImpl::Missing(_)) {
            self.vm.kfuncs.push(imp);
            return Ok(None);
        }
        let idx = match self.vm.kfuncs.iter().position(|k| *k == imp) {
            Some(i) => i,
            None => {
                self.vm.kfuncs.push(imp);
                self.vm.kfuncs.len() - 1
            }
        };
        Ok(Some(idx))
    }

    fn apply_relocs(&mut self, code: &mut [Insn]) -> Result<BTreeSet<usize>, LoadError> {
        let mut done = BTreeSet::new();
        for r in &self.obj.relocs {
            let pc = r.insn;
            done.insert(pc);
            match &r.target {
                RelocTarget::Map(i) => Self::set_imm64(code, pc, self.vm.maps[*i].handle),
                RelocTarget::Data { section, offset } => {
                    Self::set_imm64(code, pc, self.vm.data[*section].2 + offset)
                }
                RelocTarget::FuncAddr(t) => Self::set_imm64(code, pc, func_addr(*t)),
                RelocTarget::Call(t) => {
                    code[pc].src = insn::CALL_PSEUDO;
                    code[pc].imm = (*t as i64 - pc as i64 - 1) as i32;
                }
                RelocTarget::Kfunc { name, weak } => {
                    let idx = self.resolve_kfunc(name, *weak, pc)?;
                    code[pc].src = insn::CALL_KFUNC;
                    code[pc].imm = idx.unwrap_or(self.vm.kfuncs.len() - 1) as i32;
                }
                RelocTarget::Ksym { name, weak } => {
                    let exists = self.resolve_kfunc(name, *weak, pc)?.is_some();
                    Self::set_imm64(code, pc, exists as u64);
                }
            }
        }
        Ok(done)
    }

    fn apply_core(&mut self, code: &mut [Insn]) -> Result<(), LoadError> {
        let kt = self.vm.kt.clone();
        for site in &self.obj.core_sites {
            let res = core_relo::resolve(&self.obj.btf, &site.relo, &kt.btf)
                .map_err(|e| self.located(site.insn, LoadErrorKind::BadCoRe(e)))?;
            match res {
                CoreResult::Value { value, size } => {
                    self.patch_core(code, site.insn, value, size)?
                }
                CoreResult::Poison(what) => {
                    self.vm.poisons.push(what);
                    code[site.insn] = Insn {
                        op: insn::CALL,
                        dst: 0,
                        src: insn::CALL_POISON,
                        off: 0,
                        imm: (self.vm.poisons.len() - 1) as i32,
                    };
                }
            }
        }
        Ok(())
    }

    fn patch_core(
        &self,
        code: &mut [Insn],
        pc: usize,
        value: u64,
        size: Option<SizeAdjust>,
    ) -> Result<(), LoadError> {
        let ins = &mut code[pc];
        let bad = |s: &str| self.located(pc, LoadErrorKind::BadCoRe(s.to_string()));
        match ins.class() {
            insn::CLASS_ALU | insn::CLASS_ALU64 if ins.op & 0x08 == 0 => {
                ins.imm = i32::try_from(value as i64).map_err(|_| bad("value does not fit imm"))?
            }
            insn::CLASS_LDX | insn::CLASS_ST | insn::CLASS_STX => {
                ins.off = i16::try_from(value).map_err(|_| bad("offset does not fit"))?;
                if let Some(adj) = size.filter(|a| a.local != a.target) {
                    patch_access_size(ins, adj).map_err(|s| bad(&s))?;
                }
            }
            insn::CLASS_LD if ins.op == insn::LD_IMM64 && pc + 1 < code.len() => {
                Self::set_imm64(code, pc, value)
            }
            _ => return Err(bad("relocation on unsupported instruction")),
        }
        Ok(())
    }

    fn validate(&self, code: &[Insn], relocated: &BTreeSet<usize>) -> Result<(), LoadError> {
        let mut pc = 0;
        while pc < code.len() {
            let i = code[pc];
            let err = |s: String| self.located(pc, LoadErrorKind::BadInstruction(s));
            if i.op == insn::LD_IMM64 {
                if pc + 1 >= code.len() || code[pc + 1].op != 0 {
                    return Err(err("truncated ld_imm64".into()));
                }
                if i.src != 0 && !relocated.contains(&pc) {
                    return Err(self.located(
                        pc,
                        LoadErrorKind::BadRelocation(format!(
                            "ld_imm64 pseudo src {} without relocation",
                            i.src
                        )),
                    ));
                }
                pc += 2;
                continue;
            }
            if i.op == insn::CALL && i.src == insn::CALL_HELPER && !crate::helpers::is_known(i.imm)
            {
                return Err(self.located(pc, LoadErrorKind::UnknownHelper(i.imm)));
            }
            if i.op == insn::CALL && i.src == insn::CALL_PSEUDO {
                let t = pc as i64 + i.imm as i64 + 1;
                if t < 0 || t as usize >= code.len() {
                    return Err(err("call outside the code".into()));
                }
            }
            if !crate::interp::valid_opcode(&i) {
                return Err(err(format!("unknown opcode {:#04x}", i.op)));
            }
            if let Some(t) = crate::interp::jump_target(&i, pc) {
                if t < 0 || t as usize >= code.len() {
                    return Err(err("jump outside the code".into()));
                }
            }
            pc += 1;
        }
        Ok(())
    }
}

/// Change a relocated load/store's width to the kernel field's width.
fn patch_access_size(ins: &mut Insn, adj: SizeAdjust) -> Result<(), String> {
    let bits = match adj.target {
        1 => 0x10,
        2 => 0x08,
        4 => 0x00,
        8 => 0x18,
        n => return Err(format!("field size {n} not loadable")),
    };
    ins.op = (ins.op & !0x18) | bits;
    if ins.class() == insn::CLASS_LDX
        && adj.signed
        && adj.target < adj.local
        && ins.op & 0xe0 == insn::MODE_MEM
    {
        ins.op = (ins.op & !0xe0) | insn::MODE_MEMSX;
    }
    Ok(())
}

impl Vm {
    /// Load a parsed object into a runnable VM.
    pub fn load(obj: BpfObject, env: &LoadEnv) -> Result<Vm, LoadError> {
        let vm = Vm {
            name: obj.name.clone(),
            code: Arc::from(Vec::new()),
            programs: obj.programs.clone(),
            struct_ops: obj.struct_ops.clone(),
            sections: obj
                .code_sections
                .iter()
                .map(|s| (s.name.clone(), s.base, s.len))
                .collect(),
            mem: Memory::default(),
            maps: Vec::new(),
            data: Vec::new(),
            kfuncs: Vec::new(),
            poisons: Vec::new(),
            kt: kernel_types(),
            obj_btf: obj.btf.clone(),
            ncpu: env.nr_cpu_ids.clamp(1, crate::vmlinux::NR_CPUS),
            budget: env.insn_budget.max(1),
            rng: env.seed ^ 0x9e37_79b9_7f4a_7c15,
            timers: Vec::new(),
            timer_at: BTreeMap::new(),
            objects: BTreeMap::new(),
            rbtrees: BTreeMap::new(),
            lists: BTreeMap::new(),
            ringbuf_res: BTreeMap::new(),
            held_locks: BTreeSet::new(),
            dsq_ids: Vec::new(),
            distribute_prev: u32::MAX,
            stacks: Vec::new(),
            ctxs: Vec::new(),
            op_entries: BTreeMap::new(),
            nesting: 0,
            insns_executed: 0,
        };
        let mut l = Loader { obj: &obj, vm, env };
        l.place_data();
        l.create_maps()?;
        let mut code = obj.code.clone();
        let relocated = l.apply_relocs(&mut code)?;
        l.apply_core(&mut code)?;
        l.validate(&code, &relocated)?;
        for (op, prog) in obj
            .struct_ops
            .first()
            .map(|s| &s.callbacks)
            .into_iter()
            .flatten()
        {
            if let Some(p) = obj.program(prog) {
                l.vm.op_entries.insert(op.clone(), p.entry);
            }
        }
        for so in &obj.struct_ops {
            for prog in so.callbacks.values() {
                if obj.program(prog).is_none() {
                    return Err(LoadError::new(
                        &obj.name,
                        LoadErrorKind::BadStructOps(format!(
                            "callback points to unknown program {prog}"
                        )),
                    ));
                }
            }
        }
        l.vm.code = Arc::from(code);
        Ok(l.vm)
    }

    /// A VM holding raw, already-relocated code as one program named
    /// `prog` (entry at instruction 0), with no maps or global data. For
    /// tests, benchmarks and tools; the code is validated like a loaded
    /// object's.
    pub fn from_code(code: Vec<Insn>, env: &LoadEnv) -> Result<Vm, LoadError> {
        let obj = BpfObject {
            name: "raw".into(),
            btf: Btf::default(),
            btf_ext: Default::default(),
            code_sections: vec![crate::obj::CodeSection {
                name: "raw".into(),
                base: 0,
                len: code.len(),
            }],
            code,
            programs: vec![Program {
                name: "prog".into(),
                section: "raw".into(),
                entry: 0,
                sleepable: false,
            }],
            subprograms: Vec::new(),
            relocs: Vec::new(),
            core_sites: Vec::new(),
            maps: Vec::new(),
            data: Vec::new(),
            struct_ops: Vec::new(),
            license: String::new(),
        };
        Vm::load(obj, env)
    }

    /// Run program `prog` with raw register arguments r1..r5 (no context
    /// array is built).
    pub fn run_raw(
        &mut self,
        host: &mut dyn Host,
        prog: &str,
        args: [u64; 5],
    ) -> Result<u64, Fault> {
        let entry = self
            .programs
            .iter()
            .find(|p| p.name == prog)
            .map(|p| p.entry)
            .ok_or_else(|| Fault::NoSuchProgram(prog.to_string()))?;
        self.invoke(host, entry, args, None)
    }

    /// Object name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The (first) struct_ops table.
    pub fn struct_ops(&self) -> Option<&StructOps> {
        self.struct_ops.first()
    }

    /// Does the struct_ops table set callback `op` (member name)?
    pub fn has_op(&self, op: &str) -> bool {
        self.struct_ops()
            .is_some_and(|s| s.callbacks.contains_key(op))
    }

    /// Programs in the object.
    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    /// Change the per-invocation instruction budget.
    pub fn set_insn_budget(&mut self, budget: u64) {
        self.budget = budget.max(1);
    }

    /// Number of possible CPUs this VM was loaded for.
    pub fn nr_cpu_ids(&self) -> u32 {
        self.ncpu
    }

    /// Section and section-relative instruction index of a flat program
    /// counter (as found in [`Fault`]s).
    pub fn locate_pc(&self, pc: usize) -> Option<(&str, usize)> {
        self.sections
            .iter()
            .find(|(_, base, len)| pc >= *base && pc < base + len)
            .map(|(n, base, _)| (n.as_str(), pc - base))
    }

    /// The kernel type table.
    pub fn kernel_types(&self) -> &KernelTypes {
        &self.kt
    }

    /// A counter that changes whenever state the program can observe in a
    /// later invocation may have changed: persistent guest memory, maps,
    /// timers, BPF-side objects, the random state. Equal values mean
    /// identical state, so a host can use it as an exact digest (e.g. for
    /// fixed-point detection). Stacks do not count: every invocation
    /// leaves its stack zeroed.
    pub fn state_generation(&self) -> u64 {
        self.mem.generation()
    }
}

// ------------------------------------------------------------ invocations

/// A struct_ops callback resolved once with [`Vm::op_handle`], so a host
/// calling it often skips the lookup by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpHandle(usize);

impl Vm {
    /// Call struct_ops callback `op` (member name such as `enqueue`).
    pub fn call_op(&mut self, host: &mut dyn Host, op: &str, args: &[Arg]) -> Result<u64, Fault> {
        let h = self
            .op_handle(op)
            .ok_or_else(|| Fault::NoSuchProgram(op.to_string()))?;
        self.call_op_handle(host, h, args)
    }

    /// The handle of struct_ops callback `op`, if the table sets it.
    pub fn op_handle(&self, op: &str) -> Option<OpHandle> {
        self.op_entries.get(op).map(|&e| OpHandle(e))
    }

    /// [`Vm::call_op`] through a handle from [`Vm::op_handle`].
    pub fn call_op_handle(
        &mut self,
        host: &mut dyn Host,
        op: OpHandle,
        args: &[Arg],
    ) -> Result<u64, Fault> {
        self.call_entry(host, op.0, args)
    }

    /// Call a program by function name.
    pub fn call_program(
        &mut self,
        host: &mut dyn Host,
        name: &str,
        args: &[Arg],
    ) -> Result<u64, Fault> {
        let entry = self
            .programs
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.entry)
            .ok_or_else(|| Fault::NoSuchProgram(name.to_string()))?;
        self.call_entry(host, entry, args)
    }

    /// Build the context array (reusing one region per nesting level) and
    /// run the program at `entry`.
    fn call_entry(
        &mut self,
        host: &mut dyn Host,
        entry: usize,
        args: &[Arg],
    ) -> Result<u64, Fault> {
        if args.len() > MAX_CTX_ARGS {
            return Err(Fault::BadArg {
                func: "call".into(),
                what: format!("{} arguments (at most {MAX_CTX_ARGS})", args.len()),
            });
        }
        let mut blobs = Vec::new();
        let mut bytes = [0u8; 8 * MAX_CTX_ARGS];
        for (i, a) in args.iter().enumerate() {
            let v = self.arg_value(a, &mut blobs);
            bytes[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        while self.ctxs.len() <= self.nesting {
            let c = self.mem.alloc(RegionKind::Ctx, 0, false);
            self.ctxs.push(c);
        }
        let ctx = self.ctxs[self.nesting];
        if let Some(r) = self.mem.region_mut(ctx) {
            r.data.clear();
            r.data.extend_from_slice(&bytes[..8 * args.len()]);
        }
        let r = self.invoke(host, entry, [ctx, 0, 0, 0, 0], None);
        for b in blobs {
            self.mem.free(b);
        }
        r
    }

    /// Run the callback of `timer` (called by the host when it fires).
    pub fn fire_timer(&mut self, host: &mut dyn Host, timer: TimerId) -> Result<u64, Fault> {
        let t = self
            .timers
            .get(timer.0)
            .cloned()
            .ok_or_else(|| Fault::BadArg {
                func: "fire_timer".into(),
                what: format!("no timer {}", timer.0),
            })?;
        let Some(cb) = t.callback else { return Ok(0) };
        let key = self
            .mem
            .alloc(RegionKind::Scratch, t.key.len().max(1), false);
        self.mem.poke(key, &t.key);
        let handle = self.maps[t.map].handle;
        let r = self.invoke(host, cb, [handle, key, t.value, 0, 0], Some(timer.0));
        self.mem.free(key);
        r
    }

    /// Start one invocation: fresh stack, budget and reference set.
    fn invoke(
        &mut self,
        host: &mut dyn Host,
        entry: usize,
        args: [u64; 5],
        timer: Option<usize>,
    ) -> Result<u64, Fault> {
        if self.nesting >= MAX_NESTING {
            return Err(Fault::BadArg {
                func: "invoke".into(),
                what: "program nesting too deep".into(),
            });
        }
        if self.stacks.len() <= self.nesting {
            let s = self
                .mem
                .alloc(RegionKind::Stack, STACK_PER_FRAME * MAX_FRAMES, true);
            self.stacks.push(s);
        }
        // Stacks are reused; each invocation zeroes what it wrote on exit.
        let stack = self.stacks[self.nesting];
        let cpu = host.current_cpu();
        let mut inv = Inv {
            stack,
            budget: self.budget,
            refs: Vec::new(),
            locks: Vec::new(),
            rcu: 0,
            cpu,
            timer,
        };
        self.nesting += 1;
        let r = self.exec(host, &mut inv, entry, args, 0);
        self.nesting -= 1;
        // The next invocation at this level starts with a zeroed stack, so
        // nothing but persistent state carries over between invocations.
        self.mem.clean_stack(stack);
        self.insns_executed += self.budget.saturating_sub(inv.budget);
        // Locks never outlive an invocation, even a faulting one.
        for l in &inv.locks {
            self.held_locks.remove(l);
        }
        let r = r?;
        self.check_exit(&inv)?;
        Ok(r)
    }

    fn check_exit(&self, inv: &Inv) -> Result<(), Fault> {
        if !inv.locks.is_empty() {
            return Err(Fault::Lock("bpf_spin_lock held at exit".into()));
        }
        if inv.rcu != 0 {
            return Err(Fault::BadArg {
                func: "bpf_rcu_read_lock".into(),
                what: "unbalanced RCU read lock at exit".into(),
            });
        }
        if !inv.refs.is_empty() {
            return Err(Fault::RefLeak {
                what: format!("{:?}", inv.refs),
            });
        }
        Ok(())
    }

    /// Build the u64 context value of one argument.
    fn arg_value(&mut self, a: &Arg, blobs: &mut Vec<u64>) -> u64 {
        let task = |t: &Option<TaskId>| {
            t.map(|t| mem::kernel_addr(Window::Task, t.0 as u64, 0))
                .unwrap_or(0)
        };
        match a {
            Arg::Int(v) => *v,
            Arg::Task(t) => task(&Some(*t)),
            Arg::OptTask(t) => task(t),
            Arg::Cgroup(c) => mem::kernel_addr(Window::Cgroup, c.0, 0),
            Arg::ExitInfo {
                kind,
                exit_code,
                reason,
                msg,
                dump,
            } => {
                let (r, m, d) = (
                    self.kstring(reason, blobs),
                    self.kstring(msg, blobs),
                    self.kstring(dump, blobs),
                );
                self.blob(
                    "scx_exit_info",
                    &[
                        ("kind", *kind as u64),
                        ("exit_code", *exit_code as u64),
                        ("reason", r),
                        ("msg", m),
                        ("dump", d),
                    ],
                    blobs,
                )
            }
            Arg::InitTaskArgs { fork, cgroup } => {
                let cg = cgroup
                    .map(|c| mem::kernel_addr(Window::Cgroup, c.0, 0))
                    .unwrap_or(0);
                self.blob(
                    "scx_init_task_args",
                    &[("fork", *fork as u64), ("cgroup", cg)],
                    blobs,
                )
            }
            Arg::ExitTaskArgs { cancelled } => self.blob(
                "scx_exit_task_args",
                &[("cancelled", *cancelled as u64)],
                blobs,
            ),
            Arg::CpuAcquireArgs => self.blob("scx_cpu_acquire_args", &[], blobs),
            Arg::CpuReleaseArgs { reason, task: t } => self.blob(
                "scx_cpu_release_args",
                &[("reason", *reason as u64), ("task", task(t))],
                blobs,
            ),
            Arg::DumpCtx {
                kind,
                exit_code,
                reason,
                at_ns,
                at_jiffies,
            } => {
                let r = self.kstring(reason, blobs);
                let f = [
                    ("kind", *kind as u64),
                    ("exit_code", *exit_code as u64),
                    ("reason", r),
                    ("at_ns", *at_ns),
                    ("at_jiffies", *at_jiffies),
                ];
                self.blob("scx_dump_ctx", &f, blobs)
            }
            Arg::CgroupInitArgs { weight } => {
                self.blob("scx_cgroup_init_args", &[("weight", *weight as u64)], blobs)
            }
        }
    }

    fn kstring(&mut self, s: &str, blobs: &mut Vec<u64>) -> u64 {
        let a = self.mem.alloc(RegionKind::Kernel, s.len() + 1, false);
        self.mem.poke(a, s.as_bytes());
        blobs.push(a);
        a
    }

    /// A read-only kernel struct laid out by the kernel type table.
    fn blob(&mut self, strukt: &str, fields: &[(&str, u64)], blobs: &mut Vec<u64>) -> u64 {
        let kt = self.kt.clone();
        let size = kt.struct_size(strukt).unwrap_or(0).max(8);
        let mut buf = vec![0u8; size as usize];
        let sid = kt.btf.find_struct(strukt).unwrap_or(0);
        for (name, v) in fields {
            if let Some((off, ty)) = kt.btf.member_offset(sid, name) {
                set_field(&mut buf, off, kt.btf.size_of(ty).unwrap_or(8) as u32, *v);
            }
        }
        let a = self.mem.alloc(RegionKind::Kernel, buf.len(), false);
        self.mem.poke(a, &buf);
        blobs.push(a);
        a
    }
}

/// A failed `bstr_format`: errno plus the message the kernel would report
/// through `scx_ops_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BstrError {
    /// Negative errno.
    pub errno: i32,
    /// Kernel-style description.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<Vm>();
        send::<BpfObject>();
    }

    #[test]
    fn func_addresses_roundtrip() {
        assert_eq!(decode_func(func_addr(1234)), Some(1234));
        assert_eq!(decode_func(1 << 32), None);
    }
}
