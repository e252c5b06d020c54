//! The host's (userspace-like) view of a loaded VM: map lookup, update,
//! delete and deterministic `get_next_key`, ring-buffer draining, global
//! variables, task/cgroup lifetime notifications and the `bstr` formatter
//! the `scx_bpf_*_bstr` kfunc handlers call.

use crate::host::{CgroupId, Host, TaskId};
use crate::maps::Map;
use crate::vm::{BstrError, Vm};

/// A global variable as [`Vm::globals`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalVar<'a> {
    /// Kind of the section holding it.
    pub section: crate::obj::DataKind,
    /// Symbol name.
    pub name: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Its BTF type is an integer, bool, char or enum.
    pub integer: bool,
}

impl Vm {
    fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }

    /// Names of the maps, in definition order.
    pub fn map_names(&self) -> Vec<String> {
        self.maps.iter().map(|m| m.name.clone()).collect()
    }

    /// A map by name.
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.map_index(name).map(|i| &self.maps[i])
    }

    /// Userspace-style lookup: the value bytes (all CPUs concatenated for
    /// per-CPU maps).
    pub fn map_lookup(&mut self, name: &str, key: &[u8]) -> Option<Vec<u8>> {
        let i = self.map_index(name)?;
        let m = &mut self.maps[i];
        if matches!(
            m.map_type,
            crate::maps::types::LRU_HASH | crate::maps::types::LRU_PERCPU_HASH
        ) {
            // The lookup refreshes the element's recency.
            self.mem.touch();
        }
        let (vs, n) = (
            m.value_size as usize,
            if m.is_percpu() { m.ncpu() as usize } else { 1 },
        );
        let addr = m.lookup(key, 0)?.ok()?;
        self.mem.bytes(addr, vs * n).map(|b| b.to_vec())
    }

    /// Userspace-style update (per-CPU maps take one value per CPU;
    /// queues and stacks push, ignoring the key).
    pub fn map_update(&mut self, name: &str, key: &[u8], value: &[u8], flags: u64) -> i64 {
        let Some(i) = self.map_index(name) else {
            return -crate::maps::errno::ENOENT;
        };
        self.mem.touch();
        let m = &self.maps[i];
        if matches!(
            m.map_type,
            crate::maps::types::QUEUE | crate::maps::types::STACK
        ) {
            if value.len() < m.value_size as usize {
                return -crate::maps::errno::EINVAL;
            }
            return self.maps[i].push(value, flags);
        }
        if value.len() < m.value_size as usize || key.len() < m.key_size as usize {
            return -crate::maps::errno::EINVAL;
        }
        self.maps[i].update(&mut self.mem, key, value, flags, None)
    }

    /// Userspace-style delete.
    pub fn map_delete(&mut self, name: &str, key: &[u8]) -> i64 {
        self.mem.touch();
        match self.map_index(name) {
            Some(i) => self.maps[i].delete(key),
            None => -crate::maps::errno::ENOENT,
        }
    }

    /// `bpf_map_get_next_key`: deterministic order (index order for arrays,
    /// insertion order for hashes).
    pub fn map_next_key(&self, name: &str, key: Option<&[u8]>) -> Option<Vec<u8>> {
        self.map(name)?.next_key(key)
    }

    /// Install map `inner` into slot `key` of map-in-map `outer` (the
    /// userspace side of `bpf_map_update_elem` on an array/hash of maps).
    pub fn set_inner_map(&mut self, outer: &str, key: &[u8], inner: &str) -> i64 {
        self.mem.touch();
        match (self.map_index(outer), self.map_index(inner)) {
            (Some(o), Some(i)) => self.maps[o].set_inner(key, i),
            _ => -crate::maps::errno::ENOENT,
        }
    }

    /// Pop from a queue/stack map (userspace side).
    pub fn map_pop(&mut self, name: &str) -> Option<Vec<u8>> {
        let i = self.map_index(name)?;
        self.mem.touch();
        self.maps[i].pop(true).ok()
    }

    /// Drain submitted ring-buffer records of a ringbuf map.
    pub fn ringbuf_drain(&mut self, name: &str) -> Vec<crate::maps::RingbufRecord> {
        let records = match self.map_index(name) {
            Some(i) => self.maps[i].ringbuf_drain(),
            None => Vec::new(),
        };
        if !records.is_empty() {
            self.mem.touch();
        }
        records
    }

    /// Current bytes of a global variable.
    pub fn global(&self, name: &str) -> Option<Vec<u8>> {
        let (base, v) = self.data.iter().find_map(|(_, _, base, vars)| {
            vars.iter().find(|v| v.name == name).map(|v| (*base, v))
        })?;
        self.mem
            .bytes(base + v.offset, v.size as usize)
            .map(|b| b.to_vec())
    }

    /// Every global variable, in section and offset order.
    pub fn globals(&self) -> impl Iterator<Item = GlobalVar<'_>> {
        self.data.iter().flat_map(move |(_, kind, _, vars)| {
            vars.iter().map(move |v| GlobalVar {
                section: *kind,
                name: v.name.as_str(),
                size: v.size,
                integer: v.btf_type.is_some_and(|t| self.is_integer_type(t)),
            })
        })
    }

    /// Is BTF type `t` (of the object) an integer, bool, char or enum?
    fn is_integer_type(&self, t: u32) -> bool {
        let t = self.obj_btf.skip_mods_and_typedefs(t);
        matches!(
            self.obj_btf.get(t).map(|ty| &ty.kind),
            Some(crate::btf::Kind::Int { .. } | crate::btf::Kind::Enum { .. })
        )
    }

    /// A global integer variable (1/2/4/8 bytes), zero-extended.
    pub fn global_u64(&self, name: &str) -> Option<u64> {
        let b = self.global(name)?;
        let mut buf = [0u8; 8];
        buf[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
        Some(u64::from_le_bytes(buf))
    }

    /// Overwrite a global variable (the skeleton's `skel->bss->x = v`;
    /// rodata too, as userspace may before freezing).
    pub fn set_global(&mut self, name: &str, bytes: &[u8]) -> bool {
        let found = self.data.iter().find_map(|(_, _, base, vars)| {
            vars.iter()
                .find(|v| v.name == name)
                .map(|v| (*base + v.offset, v.size))
        });
        match found {
            Some((addr, size)) if size as usize == bytes.len() => {
                self.mem.poke(addr, bytes).is_some()
            }
            _ => false,
        }
    }

    /// The host frees a task: drop its task-local storage.
    pub fn task_freed(&mut self, task: TaskId) {
        self.mem.touch();
        for m in self
            .maps
            .iter_mut()
            .filter(|m| m.map_type == crate::maps::types::TASK_STORAGE)
        {
            m.storage_delete(task.0 as u64);
        }
    }

    /// The host frees a cgroup: drop its cgroup-local storage.
    pub fn cgroup_freed(&mut self, cgroup: CgroupId) {
        self.mem.touch();
        for m in self
            .maps
            .iter_mut()
            .filter(|m| m.map_type == crate::maps::types::CGRP_STORAGE)
        {
            m.storage_delete(cgroup.0);
        }
    }

    /// Number of timers created so far.
    pub fn nr_timers(&self) -> usize {
        self.timers.len()
    }

    /// Format a `scx_bpf_*_bstr` message from guest memory the way
    /// `bstr_format()` does: checks `data__sz`, copies the arguments,
    /// validates the format and renders at most 1023 bytes.
    pub fn bstr_format(
        &mut self,
        host: &mut dyn Host,
        fmt: u64,
        data: u64,
        data_sz: u32,
    ) -> Result<String, BstrError> {
        let n = crate::bstr::check_data(data, data_sz).map_err(|e| BstrError {
            errno: e,
            message: format!("invalid data={data:#x} and data__sz={data_sz}"),
        })?;
        let raw = if n == 0 {
            Vec::new()
        } else {
            self.mem
                .bytes(data, n * 8)
                .map(|b| b.to_vec())
                .ok_or(BstrError {
                    errno: crate::bstr::EFAULT,
                    message: format!("failed to read data fields ({})", crate::bstr::EFAULT),
                })?
        };
        let args: Vec<u64> = raw
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        let fmt_bytes = self.mem.cstr(fmt, usize::MAX).ok_or(BstrError {
            errno: crate::bstr::EINVAL,
            message: "format string is not readable".into(),
        })?;
        let mut read = |p: u64, max: usize| self.read_cstr_any(host, p, max);
        crate::bstr::format(&fmt_bytes, &args, crate::bstr::SCX_LINE_LEN, &mut read).map_err(|e| {
            BstrError {
                errno: e,
                message: format!("format preparation failed ({e})"),
            }
        })
    }
}
