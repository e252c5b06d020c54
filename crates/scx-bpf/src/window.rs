//! Kernel object windows: how loads and stores through kernel pointers are
//! translated, via the kernel type table, into host reads and the three
//! permitted task-field writes; plus decoding of pointer arguments
//! (tasks, cgroups, cpumasks) for helpers and kfuncs.

use crate::error::Fault;
use crate::host::{CgroupId, Host, KernelField, KernelPtr, MaskRef, TaskId};
use crate::mem::{self, RegionKind};
use crate::vm::{Vm, FUNC_TAG};
use crate::vmlinux::{Binding, GlobalMask, Leaf, PtrField, Window, CPUMASK_WORDS};

impl Vm {
    fn window_for(field: PtrField) -> Window {
        match field {
            PtrField::ScxDsq => Window::Dsq,
            PtrField::CgroupAncestor | PtrField::CgroupParent => Window::Cgroup,
            _ => Window::Task,
        }
    }

    /// Window id of a DSQ id (DSQ ids are 64-bit; windows carry 32 bits).
    pub(crate) fn dsq_window_id(&mut self, dsq: u64) -> u64 {
        match self.dsq_ids.iter().position(|&d| d == dsq) {
            Some(i) => i as u64,
            None => {
                self.mem.touch();
                self.dsq_ids.push(dsq);
                (self.dsq_ids.len() - 1) as u64
            }
        }
    }

    /// Element `idx` of leaf `l` as little-endian bytes (at most 16).
    fn leaf_element(
        &mut self,
        host: &mut dyn Host,
        w: Window,
        id: u64,
        l: &Leaf,
        idx: u32,
    ) -> [u8; 16] {
        let word = |v: u64| {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&v.to_le_bytes());
            b
        };
        match l.bind {
            Binding::Comm => host.task_comm(TaskId(id as u32)),
            Binding::Task(f) => word(host.read_field(KernelField::Task(TaskId(id as u32), f))),
            Binding::TaskMaskWords => {
                word(host.cpumask_word(MaskRef::Task(TaskId(id as u32)), idx))
            }
            Binding::TaskCpusPtr => {
                let off = self.kt.offset_of("task_struct", "cpus_mask").unwrap_or(0);
                word(mem::kernel_addr(Window::Task, id, off))
            }
            Binding::Cgroup(f) => word(host.read_field(KernelField::Cgroup(CgroupId(id), f))),
            Binding::CgroupKn => word(mem::kernel_addr(Window::Kernfs, id, 0)),
            Binding::CgroupSelf => word(mem::kernel_addr(Window::Cgroup, id, 0)),
            Binding::CgroupAncestors => {
                let p = host.read_ptr(KernelPtr {
                    field: PtrField::CgroupAncestor,
                    owner: id,
                    index: idx,
                });
                word(
                    p.map(|c| mem::kernel_addr(Window::Cgroup, c, 0))
                        .unwrap_or(0),
                )
            }
            Binding::Rq(f) => word(host.read_field(KernelField::Rq(id as u32, f))),
            Binding::Dsq(f) => {
                let dsq = self.dsq_ids.get(id as usize).copied().unwrap_or(0);
                word(host.read_field(KernelField::Dsq(dsq, f)))
            }
            Binding::Ptr(pf) => {
                let p = host.read_ptr(KernelPtr {
                    field: pf,
                    owner: id,
                    index: 0,
                });
                let v = match (p, pf) {
                    (Some(d), PtrField::ScxDsq) => {
                        mem::kernel_addr(Window::Dsq, self.dsq_window_id(d), 0)
                    }
                    (Some(t), _) => mem::kernel_addr(Self::window_for(pf), t, 0),
                    (None, _) => 0,
                };
                word(v)
            }
            Binding::MaskWords => {
                let m = GlobalMask::from_id(id).unwrap_or(GlobalMask::Possible);
                word(if w == Window::Mask {
                    host.cpumask_word(MaskRef::Global(m), idx)
                } else {
                    0
                })
            }
        }
    }

    /// Read `len` bytes of a kernel window; unbacked bytes are 0.
    pub(crate) fn window_bytes(&mut self, host: &mut dyn Host, addr: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        self.window_read(host, addr, &mut out);
        out
    }

    /// Fill `out` from a kernel window, leaf by leaf.
    fn window_read(&mut self, host: &mut dyn Host, addr: u64, out: &mut [u8]) {
        let Some((w, id, off)) = mem::decode_kernel(addr) else {
            return;
        };
        let kt = self.kt.clone();
        let mut k = 0;
        while k < out.len() {
            let pos = off + k as u32;
            let Some(l) = kt.leaf(w, pos) else {
                k += 1;
                continue;
            };
            let rel = pos - l.off;
            let (idx, within) = (rel / l.elem, (rel % l.elem) as usize);
            let elem = self.leaf_element(host, w, id, l, idx);
            let take = (l.elem as usize - within)
                .min(out.len() - k)
                .min(16 - within.min(16));
            out[k..k + take].copy_from_slice(&elem[within..within + take]);
            k += take.max(1);
        }
    }

    /// Slow path of a load: kernel windows, kernel blobs, the null page.
    pub(crate) fn load_slow(
        &mut self,
        host: &mut dyn Host,
        addr: u64,
        size: usize,
        pc: usize,
    ) -> Result<u64, Fault> {
        if mem::decode_kernel(addr).is_some() {
            let mut buf = [0u8; 8];
            self.window_read(host, addr, &mut buf[..size]);
            return Ok(u64::from_le_bytes(buf));
        }
        if addr >> mem::REGION_SHIFT == 0 || addr >> 56 == mem::KERNEL_TAG || addr >> 56 == FUNC_TAG
        {
            return Ok(0);
        }
        match self.mem.region(addr).map(|(r, _)| r.kind) {
            Some(RegionKind::Kernel | RegionKind::MapHandle(_)) => Ok(0),
            _ => Err(Fault::OutOfBounds { pc, addr, size }),
        }
    }

    /// Slow path of a store: the three writable task fields, else a fault.
    pub(crate) fn store_slow(
        &mut self,
        host: &mut dyn Host,
        addr: u64,
        size: usize,
        val: u64,
        pc: usize,
        read_only: bool,
    ) -> Result<(), Fault> {
        if read_only {
            return Err(Fault::ReadOnly { pc, addr });
        }
        let Some((w, id, off)) = mem::decode_kernel(addr) else {
            return Err(Fault::OutOfBounds { pc, addr, size });
        };
        let leaf = self.kt.leaf(w, off).cloned();
        match leaf {
            Some(l) if l.off == off => match l.bind {
                Binding::Task(f) if f.bpf_writable() && l.size as usize == size => {
                    host.write_task(TaskId(id as u32), f, val);
                    Ok(())
                }
                b => Err(Fault::KernelWrite {
                    pc,
                    what: format!("{b:?} ({size} bytes)"),
                }),
            },
            _ => Err(Fault::KernelWrite {
                pc,
                what: format!("{w:?}+{off:#x}"),
            }),
        }
    }

    /// Bytes at any readable guest address (BPF memory or kernel windows),
    /// as `bpf_probe_read_kernel` sees them. `None` for bad pointers.
    pub(crate) fn read_any(
        &mut self,
        host: &mut dyn Host,
        addr: u64,
        len: usize,
    ) -> Option<Vec<u8>> {
        if mem::decode_kernel(addr).is_some() {
            return Some(self.window_bytes(host, addr, len));
        }
        self.mem.bytes(addr, len).map(|b| b.to_vec())
    }

    /// NUL-terminated string at any readable address, at most `max` bytes.
    pub(crate) fn read_cstr_any(
        &mut self,
        host: &mut dyn Host,
        addr: u64,
        max: usize,
    ) -> Option<Vec<u8>> {
        if mem::decode_kernel(addr).is_some() {
            let b = self.window_bytes(host, addr, max);
            return Some(b.into_iter().take_while(|&c| c != 0).collect());
        }
        self.mem.cstr(addr, max)
    }

    /// Decode a task pointer argument.
    pub(crate) fn task_arg(&self, func: &str, addr: u64) -> Result<TaskId, Fault> {
        match mem::decode_kernel(addr) {
            Some((Window::Task, id, 0)) => Ok(TaskId(id as u32)),
            _ => Err(Fault::BadArg {
                func: func.into(),
                what: format!("{addr:#x} is not a task pointer"),
            }),
        }
    }

    /// Decode a cgroup pointer argument.
    pub(crate) fn cgroup_arg(&self, func: &str, addr: u64) -> Result<CgroupId, Fault> {
        match mem::decode_kernel(addr) {
            Some((Window::Cgroup, id, 0)) => Ok(CgroupId(id)),
            _ => Err(Fault::BadArg {
                func: func.into(),
                what: format!("{addr:#x} is not a cgroup pointer"),
            }),
        }
    }

    /// Words of any `const struct cpumask *` (BPF-owned or kernel).
    pub(crate) fn read_cpumask(
        &mut self,
        host: &mut dyn Host,
        func: &str,
        addr: u64,
    ) -> Result<Vec<u64>, Fault> {
        let n = self.ncpu.div_ceil(64).min(CPUMASK_WORDS) as usize;
        let bad = || Fault::BadArg {
            func: func.into(),
            what: format!("{addr:#x} is not a cpumask"),
        };
        if let Some((w, id, off)) = mem::decode_kernel(addr) {
            let mask_off = self.kt.offset_of("task_struct", "cpus_mask").unwrap_or(0);
            let m = match (w, off) {
                (Window::Task, o) if o == mask_off => MaskRef::Task(TaskId(id as u32)),
                (Window::Mask, 0) => MaskRef::Global(GlobalMask::from_id(id).ok_or_else(bad)?),
                _ => return Err(bad()),
            };
            return Ok((0..n as u32).map(|i| host.cpumask_word(m, i)).collect());
        }
        let b = self.mem.bytes(addr, n * 8).ok_or_else(bad)?;
        Ok(b.chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect())
    }
}
