//! BPF helper functions (`call` with a helper id).
//!
//! Map operations, time and CPU (from the host), `bpf_loop` (callbacks
//! re-enter the interpreter on deeper frames), timers (armed through the
//! host, callbacks run as new invocations via [`Vm::fire_timer`]), spin
//! locks, `probe_read_kernel[_str]`, printk to the host's trace sink, task
//! and cgroup local storage, ring buffers, a seeded `get_prandom_u32`, and
//! `kptr_xchg` with reference ownership transfer.

use crate::error::Fault;
use crate::host::{Host, TimerId};
use crate::maps::{errno, types};
use crate::mem::{self, RegionKind};
use crate::vm::{decode_func, Inv, Ref, Timer, Vm};
use crate::vmlinux::Window;

/// Helper ids.
mod id {
    pub const MAP_LOOKUP: i32 = 1;
    pub const MAP_UPDATE: i32 = 2;
    pub const MAP_DELETE: i32 = 3;
    pub const PROBE_READ: i32 = 4;
    pub const KTIME: i32 = 5;
    pub const TRACE_PRINTK: i32 = 6;
    pub const PRANDOM: i32 = 7;
    pub const SMP_ID: i32 = 8;
    pub const PROBE_READ_STR: i32 = 45;
    pub const MAP_PUSH: i32 = 87;
    pub const MAP_POP: i32 = 88;
    pub const MAP_PEEK: i32 = 89;
    pub const SPIN_LOCK: i32 = 93;
    pub const SPIN_UNLOCK: i32 = 94;
    pub const PROBE_READ_KERNEL: i32 = 113;
    pub const PROBE_READ_KERNEL_STR: i32 = 115;
    pub const JIFFIES64: i32 = 118;
    pub const KTIME_BOOT: i32 = 125;
    pub const RINGBUF_OUTPUT: i32 = 130;
    pub const RINGBUF_RESERVE: i32 = 131;
    pub const RINGBUF_SUBMIT: i32 = 132;
    pub const RINGBUF_DISCARD: i32 = 133;
    pub const RINGBUF_QUERY: i32 = 134;
    pub const TASK_STORAGE_GET: i32 = 156;
    pub const TASK_STORAGE_DELETE: i32 = 157;
    pub const KTIME_COARSE: i32 = 160;
    pub const SNPRINTF: i32 = 165;
    pub const TIMER_INIT: i32 = 169;
    pub const TIMER_SET_CALLBACK: i32 = 170;
    pub const TIMER_START: i32 = 171;
    pub const TIMER_CANCEL: i32 = 172;
    pub const TRACE_VPRINTK: i32 = 177;
    pub const LOOP: i32 = 181;
    pub const KPTR_XCHG: i32 = 194;
    pub const MAP_LOOKUP_PERCPU: i32 = 195;
    pub const KTIME_TAI: i32 = 208;
    pub const CGRP_STORAGE_GET: i32 = 210;
    pub const CGRP_STORAGE_DELETE: i32 = 211;
}

const KNOWN: &[i32] = &[
    id::MAP_LOOKUP,
    id::MAP_UPDATE,
    id::MAP_DELETE,
    id::PROBE_READ,
    id::KTIME,
    id::TRACE_PRINTK,
    id::PRANDOM,
    id::SMP_ID,
    id::PROBE_READ_STR,
    id::MAP_PUSH,
    id::MAP_POP,
    id::MAP_PEEK,
    id::SPIN_LOCK,
    id::SPIN_UNLOCK,
    id::PROBE_READ_KERNEL,
    id::PROBE_READ_KERNEL_STR,
    id::JIFFIES64,
    id::KTIME_BOOT,
    id::RINGBUF_OUTPUT,
    id::RINGBUF_RESERVE,
    id::RINGBUF_SUBMIT,
    id::RINGBUF_DISCARD,
    id::RINGBUF_QUERY,
    id::TASK_STORAGE_GET,
    id::TASK_STORAGE_DELETE,
    id::KTIME_COARSE,
    id::SNPRINTF,
    id::TIMER_INIT,
    id::TIMER_SET_CALLBACK,
    id::TIMER_START,
    id::TIMER_CANCEL,
    id::TRACE_VPRINTK,
    id::LOOP,
    id::KPTR_XCHG,
    id::MAP_LOOKUP_PERCPU,
    id::KTIME_TAI,
    id::CGRP_STORAGE_GET,
    id::CGRP_STORAGE_DELETE,
];

/// Is helper `id` implemented?
pub fn is_known(helper: i32) -> bool {
    KNOWN.contains(&helper)
}

/// `BPF_MAX_LOOPS`.
const MAX_LOOPS: u64 = 8 * 1024 * 1024;
const EAGAIN: i64 = 11;
const EDEADLK: i64 = 35;
const EFAULT: i64 = 14;

fn neg(e: i64) -> u64 {
    (-e) as u64
}

fn bad(func: &str, what: impl Into<String>) -> Fault {
    Fault::BadArg {
        func: func.into(),
        what: what.into(),
    }
}

impl Vm {
    /// Map index behind a map pointer.
    pub(crate) fn map_arg(&self, func: &str, addr: u64) -> Result<usize, Fault> {
        match self.mem.region(addr) {
            Some((r, 0)) => match r.kind {
                RegionKind::MapHandle(i) => Ok(i),
                _ => Err(bad(func, format!("{addr:#x} is not a map"))),
            },
            _ => Err(bad(func, format!("{addr:#x} is not a map"))),
        }
    }

    fn guest_bytes(&self, func: &str, addr: u64, len: usize) -> Result<Vec<u8>, Fault> {
        self.mem
            .bytes(addr, len)
            .map(|b| b.to_vec())
            .ok_or_else(|| bad(func, format!("{len} bytes at {addr:#x} not readable")))
    }

    fn write_guest(&mut self, func: &str, addr: u64, src: &[u8]) -> Result<(), Fault> {
        let dst = self.mem.bytes_mut(addr, src.len()).ok_or_else(|| {
            bad(
                func,
                format!("{} bytes at {addr:#x} not writable", src.len()),
            )
        })?;
        dst.copy_from_slice(src);
        Ok(())
    }

    fn map_key(&self, func: &str, map: usize, key: u64) -> Result<Vec<u8>, Fault> {
        self.guest_bytes(func, key, self.maps[map].key_size as usize)
    }

    fn lookup(&mut self, map: usize, key: &[u8], cpu: u32) -> u64 {
        match self.maps[map].lookup(key, cpu) {
            Some(Ok(a)) => a,
            Some(Err(inner)) => self.maps[inner].handle,
            None => 0,
        }
    }

    /// The owned-reference kind of a pointer.
    pub(crate) fn ref_of(&self, addr: u64) -> Option<Ref> {
        match mem::decode_kernel(addr) {
            Some((Window::Task, id, 0)) => return Some(Ref::Task(id as u32)),
            Some((Window::Cgroup, id, 0)) => return Some(Ref::Cgroup(id)),
            Some((Window::Mask, id, 0)) => return Some(Ref::Mask(id)),
            _ => {}
        }
        let base = addr & !0xffff_ffff;
        self.objects.contains_key(&base).then_some(Ref::Obj(base))
    }

    /// Drop one owned reference; releasing something not owned faults.
    pub(crate) fn release_ref(inv: &mut Inv, func: &str, r: Ref) -> Result<(), Fault> {
        match inv.refs.iter().position(|x| *x == r) {
            Some(i) => {
                inv.refs.remove(i);
                Ok(())
            }
            None => Err(bad(func, format!("release of unowned reference {r:?}"))),
        }
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32
    }

    /// Does this call change program state kept outside guest memory (map
    /// bookkeeping, timers, the random state, ring buffers)? Guest memory
    /// writes are counted by [`crate::mem::Memory`] itself.
    fn helper_changes_state(&self, helper: i32, a: &[u64; 5]) -> bool {
        match helper {
            id::MAP_LOOKUP | id::MAP_LOOKUP_PERCPU => self.map_is_lru(a[0]),
            id::TASK_STORAGE_GET | id::CGRP_STORAGE_GET => a[3] & 1 != 0,
            id::MAP_PEEK
            | id::PROBE_READ
            | id::PROBE_READ_STR
            | id::PROBE_READ_KERNEL
            | id::PROBE_READ_KERNEL_STR
            | id::KTIME
            | id::KTIME_BOOT
            | id::KTIME_COARSE
            | id::KTIME_TAI
            | id::JIFFIES64
            | id::SMP_ID
            | id::TRACE_PRINTK
            | id::TRACE_VPRINTK
            | id::SNPRINTF
            | id::SPIN_LOCK
            | id::SPIN_UNLOCK
            | id::LOOP
            | id::RINGBUF_QUERY => false,
            _ => true,
        }
    }

    /// Lookups in LRU maps update the recency order.
    fn map_is_lru(&self, map: u64) -> bool {
        self.map_arg("lookup", map).is_ok_and(|m| {
            matches!(
                self.maps[m].map_type,
                types::LRU_HASH | types::LRU_PERCPU_HASH
            )
        })
    }

    /// Dispatch a helper call.
    pub(crate) fn call_helper(
        &mut self,
        host: &mut dyn Host,
        inv: &mut Inv,
        helper: i32,
        a: [u64; 5],
        depth: usize,
    ) -> Result<u64, Fault> {
        if self.helper_changes_state(helper, &a) {
            self.mem.touch();
        }
        match helper {
            id::MAP_LOOKUP => {
                let m = self.map_arg("bpf_map_lookup_elem", a[0])?;
                let key = self.map_key("bpf_map_lookup_elem", m, a[1])?;
                Ok(self.lookup(m, &key, inv.cpu))
            }
            id::MAP_LOOKUP_PERCPU => {
                let m = self.map_arg("bpf_map_lookup_percpu_elem", a[0])?;
                let key = self.map_key("bpf_map_lookup_percpu_elem", m, a[1])?;
                if a[2] >= self.maps[m].ncpu() as u64 {
                    return Ok(0);
                }
                Ok(self.lookup(m, &key, a[2] as u32))
            }
            id::MAP_UPDATE => self.h_map_update(inv, a),
            id::MAP_DELETE => {
                let m = self.map_arg("bpf_map_delete_elem", a[0])?;
                let key = self.map_key("bpf_map_delete_elem", m, a[1])?;
                Ok(self.maps[m].delete(&key) as u64)
            }
            id::MAP_PUSH => {
                let m = self.map_arg("bpf_map_push_elem", a[0])?;
                let v =
                    self.guest_bytes("bpf_map_push_elem", a[1], self.maps[m].value_size as usize)?;
                Ok(self.maps[m].push(&v, a[2]) as u64)
            }
            id::MAP_POP | id::MAP_PEEK => {
                let m = self.map_arg("bpf_map_pop_elem", a[0])?;
                match self.maps[m].pop(helper == id::MAP_POP) {
                    Ok(v) => self.write_guest("bpf_map_pop_elem", a[1], &v).map(|_| 0),
                    Err(e) => Ok(e as u64),
                }
            }
            id::KTIME | id::KTIME_BOOT | id::KTIME_COARSE | id::KTIME_TAI => Ok(host.ktime_ns()),
            id::JIFFIES64 => Ok(host.ktime_ns() / 1_000_000),
            id::SMP_ID => Ok(inv.cpu as u64),
            id::PRANDOM => Ok(self.next_random()),
            id::PROBE_READ | id::PROBE_READ_KERNEL => self.h_probe_read(host, a),
            id::PROBE_READ_STR | id::PROBE_READ_KERNEL_STR => self.h_probe_read_str(host, a),
            id::TRACE_PRINTK => self.h_printk(host, a[0], a[1], &[a[2], a[3], a[4]]),
            id::TRACE_VPRINTK => {
                let n = crate::bstr::check_data(a[2], a[3] as u32)
                    .map_err(|_| bad("bpf_trace_vprintk", "bad data"))?;
                let raw = self.guest_bytes("bpf_trace_vprintk", a[2], n * 8)?;
                let args: Vec<u64> = raw
                    .chunks(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect();
                self.h_printk(host, a[0], a[1], &args)
            }
            id::SNPRINTF => self.h_snprintf(host, a),
            id::SPIN_LOCK => {
                if !self.held_locks.insert(a[0]) {
                    return Err(Fault::Lock(format!("deadlock on {:#x}", a[0])));
                }
                inv.locks.push(a[0]);
                Ok(0)
            }
            id::SPIN_UNLOCK => match inv.locks.iter().position(|&l| l == a[0]) {
                Some(i) => {
                    inv.locks.remove(i);
                    self.held_locks.remove(&a[0]);
                    Ok(0)
                }
                None => Err(Fault::Lock(format!("unlock of {:#x} not held", a[0]))),
            },
            id::LOOP => self.h_loop(host, inv, a, depth),
            id::TIMER_INIT => self.h_timer_init(a),
            id::TIMER_SET_CALLBACK => {
                let Some(&t) = self.timer_at.get(&a[0]) else {
                    return Ok(neg(errno::EINVAL));
                };
                let pc = decode_func(a[1])
                    .ok_or_else(|| bad("bpf_timer_set_callback", "not a function"))?;
                self.timers[t].callback = Some(pc);
                Ok(0)
            }
            id::TIMER_START => {
                let Some(&t) = self.timer_at.get(&a[0]) else {
                    return Ok(neg(errno::EINVAL));
                };
                if a[2] & !3 != 0 || self.timers[t].callback.is_none() {
                    return Ok(neg(errno::EINVAL));
                }
                Ok(host.timer_start(TimerId(t), a[1], a[2], inv.cpu) as u64)
            }
            id::TIMER_CANCEL => {
                let Some(&t) = self.timer_at.get(&a[0]) else {
                    return Ok(neg(errno::EINVAL));
                };
                if inv.timer == Some(t) {
                    return Ok(neg(EDEADLK));
                }
                Ok(host.timer_cancel(TimerId(t)) as u64)
            }
            id::TASK_STORAGE_GET | id::CGRP_STORAGE_GET => self.h_storage_get(helper, a),
            id::TASK_STORAGE_DELETE | id::CGRP_STORAGE_DELETE => {
                let m = self.map_arg("storage_delete", a[0])?;
                let owner = self.storage_owner(helper == id::TASK_STORAGE_DELETE, a[1])?;
                Ok(self.maps[m].storage_delete(owner) as u64)
            }
            id::RINGBUF_RESERVE => self.h_ringbuf_reserve(inv, a[0], a[1]),
            id::RINGBUF_SUBMIT | id::RINGBUF_DISCARD => {
                self.h_ringbuf_finish(inv, a[0], helper == id::RINGBUF_SUBMIT)
            }
            id::RINGBUF_OUTPUT => {
                let data = self.guest_bytes("bpf_ringbuf_output", a[1], a[2] as usize)?;
                let m = self.map_arg("bpf_ringbuf_output", a[0])?;
                if self.maps[m].map_type != types::RINGBUF || !self.maps[m].ringbuf_reserve(a[2]) {
                    return Ok(neg(EAGAIN));
                }
                self.maps[m].ringbuf_finish(a[2], Some(data));
                Ok(0)
            }
            id::RINGBUF_QUERY => {
                let m = self.map_arg("bpf_ringbuf_query", a[0])?;
                let cap = self.maps[m].max_entries as u64;
                Ok(if a[1] == 1 {
                    cap
                } else {
                    cap - self.maps[m].ringbuf_avail()
                })
            }
            id::KPTR_XCHG => self.h_kptr_xchg(inv, a[0], a[1]),
            h => Err(bad("helper", format!("unknown helper {h}"))),
        }
    }

    /// `bpf_map_update_elem` from a program: per-CPU maps update only the
    /// current CPU's value; queues and stacks do not support it.
    fn h_map_update(&mut self, inv: &Inv, a: [u64; 5]) -> Result<u64, Fault> {
        let f = "bpf_map_update_elem";
        let m = self.map_arg(f, a[0])?;
        if matches!(self.maps[m].map_type, types::QUEUE | types::STACK) {
            return Ok(neg(errno::EINVAL));
        }
        let key = self.map_key(f, m, a[1])?;
        let v = self.guest_bytes(f, a[2], self.maps[m].value_size as usize)?;
        let cpu = self.maps[m]
            .is_percpu()
            .then_some(inv.cpu.min(self.maps[m].ncpu() - 1));
        Ok(self.maps[m].update(&mut self.mem, &key, &v, a[3], cpu) as u64)
    }

    /// The destination of a probe read must be `len` writable bytes of
    /// BPF memory; checked before anything is read or allocated.
    fn check_dst(&self, func: &str, addr: u64, len: usize) -> Result<(), Fault> {
        match self.mem.region(addr) {
            Some((r, off))
                if r.writable && off.checked_add(len).is_some_and(|e| e <= r.data.len()) =>
            {
                Ok(())
            }
            _ => Err(bad(func, format!("{len} bytes at {addr:#x} not writable"))),
        }
    }

    fn h_probe_read(&mut self, host: &mut dyn Host, a: [u64; 5]) -> Result<u64, Fault> {
        let len = a[1] as u32 as usize;
        self.check_dst("bpf_probe_read_kernel", a[0], len)?;
        match self.read_any(host, a[2], len) {
            Some(b) => self
                .write_guest("bpf_probe_read_kernel", a[0], &b)
                .map(|_| 0),
            None => self
                .write_guest("bpf_probe_read_kernel", a[0], &vec![0; len])
                .map(|_| neg(EFAULT)),
        }
    }

    fn h_probe_read_str(&mut self, host: &mut dyn Host, a: [u64; 5]) -> Result<u64, Fault> {
        let size = a[1] as u32 as usize;
        if size == 0 {
            return Ok(0);
        }
        self.check_dst("bpf_probe_read_kernel_str", a[0], size)?;
        match self.read_cstr_any(host, a[2], size - 1) {
            Some(mut s) => {
                s.push(0);
                self.write_guest("bpf_probe_read_kernel_str", a[0], &s)?;
                Ok(s.len() as u64)
            }
            None => self
                .write_guest("bpf_probe_read_kernel_str", a[0], &vec![0; size])
                .map(|_| neg(EFAULT)),
        }
    }

    fn format_guest(
        &mut self,
        host: &mut dyn Host,
        fmt: u64,
        fmt_size: u64,
        args: &[u64],
        line: usize,
    ) -> Result<Result<String, i32>, Fault> {
        let f = self.guest_bytes("printk", fmt, fmt_size as usize)?;
        if !f.contains(&0) {
            return Ok(Err(crate::bstr::EINVAL));
        }
        let mut read = |p: u64, max: usize| self.read_cstr_any(host, p, max);
        Ok(crate::bstr::format(&f, args, line, &mut read))
    }

    fn h_printk(
        &mut self,
        host: &mut dyn Host,
        fmt: u64,
        fmt_size: u64,
        args: &[u64],
    ) -> Result<u64, Fault> {
        match self.format_guest(host, fmt, fmt_size, args, 1024)? {
            Ok(line) => {
                host.trace(line.trim_end_matches('\n'));
                Ok(line.len() as u64)
            }
            Err(e) => Ok(e as i64 as u64),
        }
    }

    fn h_snprintf(&mut self, host: &mut dyn Host, a: [u64; 5]) -> Result<u64, Fault> {
        let n = match crate::bstr::check_data(a[3], a[4] as u32) {
            Ok(n) => n,
            Err(e) => return Ok(e as i64 as u64),
        };
        let raw = self.guest_bytes("bpf_snprintf", a[3], n * 8)?;
        let args: Vec<u64> = raw
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        let fmt = self
            .mem
            .cstr(a[2], usize::MAX)
            .ok_or_else(|| bad("bpf_snprintf", "bad format"))?;
        let mut read = |p: u64, max: usize| self.read_cstr_any(host, p, max);
        let s = match crate::bstr::format(&fmt, &args, usize::MAX, &mut read) {
            Ok(s) => s,
            Err(e) => return Ok(e as i64 as u64),
        };
        let size = a[1] as usize;
        if size > 0 {
            let mut out: Vec<u8> = s.as_bytes().iter().copied().take(size - 1).collect();
            out.push(0);
            self.write_guest("bpf_snprintf", a[0], &out)?;
        }
        Ok(s.len() as u64 + 1)
    }

    fn h_loop(
        &mut self,
        host: &mut dyn Host,
        inv: &mut Inv,
        a: [u64; 5],
        depth: usize,
    ) -> Result<u64, Fault> {
        if a[3] != 0 {
            return Ok(neg(errno::EINVAL));
        }
        if a[0] as u32 as u64 > MAX_LOOPS {
            return Ok(neg(errno::E2BIG));
        }
        let cb = decode_func(a[1]).ok_or_else(|| bad("bpf_loop", "callback is not a function"))?;
        for i in 0..a[0] as u32 as u64 {
            if self.exec(host, inv, cb, [i, a[2], 0, 0, 0], depth + 1)? != 0 {
                return Ok(i + 1);
            }
        }
        Ok(a[0] as u32 as u64)
    }

    fn h_timer_init(&mut self, a: [u64; 5]) -> Result<u64, Fault> {
        let f = "bpf_timer_init";
        if !matches!(a[2], 0 | 1 | 7) {
            return Ok(neg(errno::EINVAL));
        }
        if self.timer_at.contains_key(&a[0]) {
            return Ok(neg(errno::EBUSY));
        }
        let m = self.map_arg(f, a[1])?;
        let in_map =
            matches!(self.mem.region(a[0]), Some((r, _)) if r.kind == RegionKind::MapValues(m));
        let loc = self.maps[m].locate_value(a[0]).filter(|_| in_map);
        let (key, value) =
            loc.ok_or_else(|| bad(f, "timer is not inside a value of the given map"))?;
        self.timers.push(Timer {
            map: m,
            key,
            value,
            callback: None,
        });
        self.timer_at.insert(a[0], self.timers.len() - 1);
        Ok(0)
    }

    fn storage_owner(&self, task: bool, ptr: u64) -> Result<u64, Fault> {
        if task {
            self.task_arg("task_storage", ptr).map(|t| t.0 as u64)
        } else {
            self.cgroup_arg("cgrp_storage", ptr).map(|c| c.0)
        }
    }

    fn h_storage_get(&mut self, helper: i32, a: [u64; 5]) -> Result<u64, Fault> {
        let f = "storage_get";
        let m = self.map_arg(f, a[0])?;
        if a[1] == 0 {
            return Ok(0);
        }
        let owner = self.storage_owner(helper == id::TASK_STORAGE_GET, a[1])?;
        let init = if a[2] != 0 {
            Some(self.guest_bytes(f, a[2], self.maps[m].value_size as usize)?)
        } else {
            None
        };
        let addr = self.maps[m].storage_get(&mut self.mem, owner, a[3] & 1 != 0, init.as_deref());
        Ok(addr.unwrap_or(0))
    }

    fn h_ringbuf_reserve(&mut self, inv: &mut Inv, map: u64, size: u64) -> Result<u64, Fault> {
        let m = self.map_arg("bpf_ringbuf_reserve", map)?;
        if self.maps[m].map_type != types::RINGBUF
            || size > u32::MAX as u64
            || !self.maps[m].ringbuf_reserve(size)
        {
            return Ok(0);
        }
        let addr = self.mem.alloc(RegionKind::Ringbuf(m), size as usize, true);
        self.ringbuf_res.insert(addr, (m, size));
        inv.refs.push(Ref::Ringbuf(addr));
        Ok(addr)
    }

    fn h_ringbuf_finish(&mut self, inv: &mut Inv, addr: u64, submit: bool) -> Result<u64, Fault> {
        let (m, size) = self
            .ringbuf_res
            .remove(&addr)
            .ok_or_else(|| bad("bpf_ringbuf_submit", "not a reserved record"))?;
        Self::release_ref(inv, "bpf_ringbuf_submit", Ref::Ringbuf(addr))?;
        let data = submit.then(|| {
            self.mem
                .bytes(addr, size as usize)
                .map(|b| b.to_vec())
                .unwrap_or_default()
        });
        self.maps[m].ringbuf_finish(size, data);
        self.mem.free(addr);
        Ok(0)
    }

    fn h_kptr_xchg(&mut self, inv: &mut Inv, dst: u64, ptr: u64) -> Result<u64, Fault> {
        let f = "bpf_kptr_xchg";
        let old = self
            .mem
            .load(dst, 8)
            .ok_or_else(|| bad(f, "destination is not BPF memory"))?;
        if ptr != 0 {
            let r = self
                .ref_of(ptr)
                .ok_or_else(|| bad(f, "pointer is not a referenced object"))?;
            Self::release_ref(inv, f, r)?;
        }
        self.mem
            .store(dst, 8, ptr)
            .map_err(|_| bad(f, "destination not writable"))?;
        if let Some(r) = (old != 0).then(|| self.ref_of(old)).flatten() {
            inv.refs.push(r);
        }
        Ok(old)
    }
}
