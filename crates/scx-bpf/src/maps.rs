//! BPF maps with deterministic behaviour.
//!
//! Values of array, hash, local-storage maps live in one guest region per
//! map (a slab of fixed-size slots), so a pointer returned by a lookup
//! stays valid and bounds-checked. Hash-like maps iterate in *insertion
//! order* (`get_next_key`), and the LRU hash evicts the least recently used
//! element exactly (the kernel's LRU is approximate; ours is reproducible).
//! Every operation returns the kernel's errno convention (0 or `-errno`).

use crate::mem::{Memory, RegionKind};
use crate::obj::MapDef;
use std::collections::{BTreeMap, VecDeque};

/// `BPF_MAP_TYPE_*` numbers this VM implements.
pub mod types {
    /// Hash.
    pub const HASH: u32 = 1;
    /// Array.
    pub const ARRAY: u32 = 2;
    /// Per-CPU hash.
    pub const PERCPU_HASH: u32 = 5;
    /// Per-CPU array.
    pub const PERCPU_ARRAY: u32 = 6;
    /// LRU hash.
    pub const LRU_HASH: u32 = 9;
    /// LRU per-CPU hash.
    pub const LRU_PERCPU_HASH: u32 = 10;
    /// Array of maps.
    pub const ARRAY_OF_MAPS: u32 = 12;
    /// Hash of maps.
    pub const HASH_OF_MAPS: u32 = 13;
    /// FIFO queue.
    pub const QUEUE: u32 = 22;
    /// LIFO stack.
    pub const STACK: u32 = 23;
    /// Ring buffer.
    pub const RINGBUF: u32 = 27;
    /// Task local storage.
    pub const TASK_STORAGE: u32 = 29;
    /// Cgroup local storage.
    pub const CGRP_STORAGE: u32 = 32;
}

/// errno values used by map operations.
pub mod errno {
    /// No such entry.
    pub const ENOENT: i64 = 2;
    /// Map full.
    pub const E2BIG: i64 = 7;
    /// Out of memory.
    pub const ENOMEM: i64 = 12;
    /// Busy.
    pub const EBUSY: i64 = 16;
    /// Entry exists.
    pub const EEXIST: i64 = 17;
    /// Invalid argument.
    pub const EINVAL: i64 = 22;
    /// No space.
    pub const ENOSPC: i64 = 28;
    /// Not supported.
    pub const EOPNOTSUPP: i64 = 95;
}

/// Update flag: create or replace.
pub const BPF_ANY: u64 = 0;
/// Update flag: create only.
pub const BPF_NOEXIST: u64 = 1;
/// Update flag: replace only (for queues: overwrite oldest when full).
pub const BPF_EXIST: u64 = 2;

/// Fixed-size slots inside one region; bounded (`cap`) or growing.
#[derive(Debug, Clone)]
struct Slab {
    base: u64,
    elem: usize,
    free: Vec<u32>,
    next: u32,
    cap: Option<u32>,
}

impl Slab {
    fn new(mem: &mut Memory, map: usize, elem: usize, cap: Option<u32>) -> Slab {
        // Slots are allocated lazily; the region grows as elements appear.
        let base = mem.alloc(RegionKind::MapValues(map), 0, true);
        Slab {
            base,
            elem,
            free: Vec::new(),
            next: 0,
            cap,
        }
    }

    fn alloc(&mut self, mem: &mut Memory) -> Option<u32> {
        if let Some(s) = self.free.pop() {
            return Some(s);
        }
        if self.cap.is_some_and(|c| self.next >= c) {
            return None;
        }
        let s = self.next;
        self.next += 1;
        mem.grow(self.base, (s as usize + 1) * self.elem);
        Some(s)
    }

    fn release(&mut self, slot: u32) {
        self.free.push(slot);
    }

    fn addr(&self, slot: u32) -> u64 {
        self.base + slot as u64 * self.elem as u64
    }
}

/// An element of a hash-like map.
#[derive(Debug, Clone)]
struct HEntry {
    slot: u32,
    seq: u64,
    used: u64,
}

/// Hash, per-CPU hash and LRU variants.
#[derive(Debug, Clone)]
struct HashStore {
    entries: BTreeMap<Vec<u8>, HEntry>,
    order: BTreeMap<u64, Vec<u8>>,
    recency: BTreeMap<u64, Vec<u8>>,
    seq: u64,
    tick: u64,
    slab: Slab,
    lru: bool,
}

impl HashStore {
    fn touch(&mut self, key: &[u8]) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.entries.get_mut(key) {
            self.recency.remove(&e.used);
            e.used = tick;
            self.recency.insert(tick, key.to_vec());
        }
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        match self.entries.remove(key) {
            Some(e) => {
                self.order.remove(&e.seq);
                self.recency.remove(&e.used);
                self.slab.release(e.slot);
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, mem: &mut Memory, key: &[u8]) -> Option<u32> {
        let slot = match self.slab.alloc(mem) {
            Some(s) => s,
            None if self.lru => {
                let victim = self.recency.values().next()?.clone();
                self.remove(&victim);
                self.slab.alloc(mem)?
            }
            None => return None,
        };
        self.seq += 1;
        self.tick += 1;
        self.entries.insert(
            key.to_vec(),
            HEntry {
                slot,
                seq: self.seq,
                used: self.tick,
            },
        );
        self.order.insert(self.seq, key.to_vec());
        self.recency.insert(self.tick, key.to_vec());
        Some(slot)
    }

    fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let after = key.and_then(|k| self.entries.get(k)).map(|e| e.seq);
        match after {
            Some(s) => self.order.range(s + 1..).next().map(|(_, k)| k.clone()),
            None => self.order.values().next().cloned(),
        }
    }
}

/// Per-owner storage (task or cgroup local storage).
#[derive(Debug, Clone)]
struct LocalStore {
    owners: BTreeMap<u64, u32>,
    slab: Slab,
}

/// A completed ring-buffer record waiting for the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingbufRecord {
    /// Record bytes.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
struct RingbufStore {
    ready: VecDeque<RingbufRecord>,
    /// Bytes held by ready and reserved records (with 8-byte headers).
    used: u64,
}

#[derive(Debug, Clone)]
enum Store {
    Array {
        base: u64,
    },
    PercpuArray {
        base: u64,
    },
    Hash(Box<HashStore>),
    Queue {
        items: VecDeque<Vec<u8>>,
        lifo: bool,
    },
    MapArray(Vec<Option<usize>>),
    MapHash(BTreeMap<Vec<u8>, usize>),
    Local(LocalStore),
    Ringbuf(RingbufStore),
}

/// One instantiated map.
#[derive(Debug, Clone)]
pub struct Map {
    /// Name from the object.
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries.
    pub max_entries: u32,
    /// Flags.
    pub map_flags: u32,
    /// Guest address standing for this map.
    pub handle: u64,
    ncpu: u32,
    store: Store,
}

/// Largest key accepted (the kernel bounds keys by the 512-byte stack).
pub const MAX_KEY_SIZE: u32 = 512;
/// Largest value accepted.
pub const MAX_VALUE_SIZE: u32 = 1 << 20;
/// Largest total value storage of one map.
pub const MAX_MAP_BYTES: u64 = 256 << 20;

/// Size of a ring-buffer record including its header, rounded to 8.
fn ringbuf_cost(size: u64) -> u64 {
    (size + 8).div_ceil(8) * 8
}

impl Map {
    /// Instantiate a map definition; `idx` is its index in the VM's map
    /// table and `ncpu` the number of possible CPUs.
    pub fn new(mem: &mut Memory, idx: usize, def: &MapDef, ncpu: u32) -> Result<Map, String> {
        use types::*;
        let vs = def.value_size as usize;
        let n = def.max_entries;
        let need = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("{}: {what}", def.name))
            }
        };
        need(
            def.key_size <= MAX_KEY_SIZE && def.value_size <= MAX_VALUE_SIZE,
            "key or value too large",
        )?;
        let percpu = matches!(def.map_type, PERCPU_ARRAY | PERCPU_HASH | LRU_PERCPU_HASH);
        let total = n as u64 * vs as u64 * if percpu { ncpu as u64 } else { 1 };
        need(
            def.map_type == RINGBUF || total <= MAX_MAP_BYTES,
            "map too large",
        )?;
        let bounded = |mem: &mut Memory, elem: usize, lru: bool| {
            Store::Hash(Box::new(HashStore {
                entries: BTreeMap::new(),
                order: BTreeMap::new(),
                recency: BTreeMap::new(),
                seq: 0,
                tick: 0,
                slab: Slab::new(mem, idx, elem, Some(n)),
                lru,
            }))
        };
        let store = match def.map_type {
            ARRAY => {
                need(
                    def.key_size == 4 && n > 0 && vs > 0,
                    "array needs 4-byte key, entries and value",
                )?;
                Store::Array {
                    base: mem.alloc(RegionKind::MapValues(idx), n as usize * vs, true),
                }
            }
            PERCPU_ARRAY => {
                need(
                    def.key_size == 4 && n > 0 && vs > 0,
                    "percpu array needs 4-byte key, entries and value",
                )?;
                let size = n as usize * vs * ncpu as usize;
                Store::PercpuArray {
                    base: mem.alloc(RegionKind::MapValues(idx), size, true),
                }
            }
            HASH | LRU_HASH => {
                need(
                    n > 0 && def.key_size > 0 && vs > 0,
                    "hash needs key, value and entries",
                )?;
                bounded(mem, vs, def.map_type == LRU_HASH)
            }
            PERCPU_HASH | LRU_PERCPU_HASH => {
                need(
                    n > 0 && def.key_size > 0 && vs > 0,
                    "hash needs key, value and entries",
                )?;
                bounded(mem, vs * ncpu as usize, def.map_type == LRU_PERCPU_HASH)
            }
            QUEUE | STACK => {
                need(
                    def.key_size == 0 && vs > 0 && n > 0,
                    "queue/stack needs no key, a value and entries",
                )?;
                Store::Queue {
                    items: VecDeque::new(),
                    lifo: def.map_type == STACK,
                }
            }
            ARRAY_OF_MAPS => {
                need(
                    n > 0 && def.key_size == 4,
                    "array of maps needs 4-byte key and entries",
                )?;
                Store::MapArray(vec![None; n as usize])
            }
            HASH_OF_MAPS => Store::MapHash(BTreeMap::new()),
            TASK_STORAGE | CGRP_STORAGE => {
                need(vs > 0, "local storage needs a value")?;
                Store::Local(LocalStore {
                    owners: BTreeMap::new(),
                    slab: Slab::new(mem, idx, vs, None),
                })
            }
            RINGBUF => {
                need(
                    n > 0 && n.is_power_of_two() && n as u64 <= MAX_MAP_BYTES,
                    "ringbuf size must be a power of two",
                )?;
                Store::Ringbuf(RingbufStore {
                    ready: VecDeque::new(),
                    used: 0,
                })
            }
            t => return Err(format!("{}: unsupported map type {t}", def.name)),
        };
        Ok(Map {
            name: def.name.clone(),
            map_type: def.map_type,
            key_size: def.key_size,
            value_size: def.value_size,
            max_entries: n,
            map_flags: def.map_flags,
            handle: mem.alloc(RegionKind::MapHandle(idx), 0, false),
            ncpu,
            store,
        })
    }

    fn index(&self, key: &[u8]) -> Option<u64> {
        let i = u32::from_le_bytes(key.get(..4)?.try_into().ok()?) as u64;
        (i < self.max_entries as u64).then_some(i)
    }

    /// Look up `key`; for per-CPU maps the value of `cpu`. Map-in-map
    /// lookups return `Err(inner map index)`.
    pub fn lookup(&mut self, key: &[u8], cpu: u32) -> Option<Result<u64, usize>> {
        let vs = self.value_size as u64;
        let cpu = cpu.min(self.ncpu.saturating_sub(1)) as u64;
        let idx = self.index(key);
        match &mut self.store {
            Store::Array { base } => Some(Ok(*base + idx? * vs)),
            Store::PercpuArray { base } => Some(Ok(*base + (idx? * self.ncpu as u64 + cpu) * vs)),
            Store::Hash(h) => {
                let slot = h.entries.get(key)?.slot;
                if h.lru {
                    h.touch(key);
                }
                let percpu = matches!(self.map_type, types::PERCPU_HASH | types::LRU_PERCPU_HASH);
                Some(Ok(h.slab.addr(slot) + if percpu { cpu * vs } else { 0 }))
            }
            Store::MapArray(v) => v.get(idx? as usize).copied().flatten().map(Err),
            Store::MapHash(m) => m.get(key).copied().map(Err),
            _ => None,
        }
    }

    /// Update from a buffer holding one value (or, for per-CPU maps when
    /// `all_cpus` is set, one value per CPU — the syscall convention).
    pub fn update(
        &mut self,
        mem: &mut Memory,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> i64 {
        use errno::*;
        let flags = flags & 3;
        if flags == 3 {
            return -EINVAL;
        }
        let vs = self.value_size as usize;
        let ncpu = self.ncpu as usize;
        let idx = self.index(key);
        let write = |mem: &mut Memory, addr: u64, elem: usize| -> i64 {
            match cpu {
                Some(c) if elem > vs => mem.poke(addr + (c as usize * vs) as u64, &value[..vs]),
                None if elem > vs && value.len() >= elem => mem.poke(addr, &value[..elem]),
                _ => {
                    (0..elem / vs).try_for_each(|i| mem.poke(addr + (i * vs) as u64, &value[..vs]))
                }
            };
            0
        };
        match &mut self.store {
            Store::Array { base } => match (idx, flags) {
                (None, _) => -E2BIG,
                (_, BPF_NOEXIST) => -EEXIST,
                (Some(i), _) => write(mem, *base + i * vs as u64, vs),
            },
            Store::PercpuArray { base } => match (idx, flags) {
                (None, _) => -E2BIG,
                (_, BPF_NOEXIST) => -EEXIST,
                (Some(i), _) => write(mem, *base + i * (vs * ncpu) as u64, vs * ncpu),
            },
            Store::Hash(h) => {
                let exists = h.entries.contains_key(key);
                match (exists, flags) {
                    (true, BPF_NOEXIST) => return -EEXIST,
                    (false, BPF_EXIST) => return -ENOENT,
                    _ => {}
                }
                let slot = match h.entries.get(key) {
                    Some(e) => e.slot,
                    None => match h.insert(mem, key) {
                        Some(s) => s,
                        None => return -E2BIG,
                    },
                };
                if h.lru {
                    h.touch(key);
                }
                let elem = h.slab.elem;
                let addr = h.slab.addr(slot);
                if !exists {
                    mem.poke(addr, &vec![0; elem]);
                }
                write(mem, addr, elem)
            }
            _ => -EINVAL,
        }
    }

    /// Delete `key`.
    pub fn delete(&mut self, key: &[u8]) -> i64 {
        match &mut self.store {
            Store::Hash(h) => {
                if h.remove(key) {
                    0
                } else {
                    -errno::ENOENT
                }
            }
            Store::MapHash(m) => m.remove(key).map(|_| 0).unwrap_or(-errno::ENOENT),
            Store::MapArray(v) => match self.max_entries.checked_sub(1).and(key.get(..4)) {
                Some(k) => {
                    let i = u32::from_le_bytes(k.try_into().unwrap_or([0; 4])) as usize;
                    match v.get_mut(i) {
                        Some(s) => {
                            *s = None;
                            0
                        }
                        None => -errno::E2BIG,
                    }
                }
                None => -errno::EINVAL,
            },
            _ => -errno::EINVAL,
        }
    }

    /// Push onto a queue/stack.
    pub fn push(&mut self, value: &[u8], flags: u64) -> i64 {
        let max = self.max_entries as usize;
        let vs = self.value_size as usize;
        match &mut self.store {
            Store::Queue { items, .. } => {
                if items.len() >= max {
                    if flags & BPF_EXIST == 0 {
                        return -errno::E2BIG;
                    }
                    items.pop_front();
                }
                items.push_back(value[..vs].to_vec());
                0
            }
            _ => -errno::EINVAL,
        }
    }

    /// Pop (`remove`) or peek the next queue/stack element.
    pub fn pop(&mut self, remove: bool) -> Result<Vec<u8>, i64> {
        match &mut self.store {
            Store::Queue { items, lifo } => {
                let v = if *lifo { items.back() } else { items.front() };
                let v = v.cloned().ok_or(-errno::ENOENT)?;
                if remove {
                    if *lifo {
                        items.pop_back();
                    } else {
                        items.pop_front();
                    }
                }
                Ok(v)
            }
            _ => Err(-errno::EINVAL),
        }
    }

    /// The key following `key` (or the first key when `key` is `None` or
    /// absent), in the map's deterministic order.
    pub fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let by_index = |len: u32| {
            let next = match key.and_then(|k| self.index(k)) {
                Some(i) => i + 1,
                None => 0,
            };
            (next < len as u64).then(|| (next as u32).to_le_bytes().to_vec())
        };
        match &self.store {
            Store::Array { .. } | Store::PercpuArray { .. } | Store::MapArray(_) => {
                by_index(self.max_entries)
            }
            Store::Hash(h) => h.next_key(key),
            Store::MapHash(m) => match key {
                Some(k) if m.contains_key(k) => m
                    .range::<[u8], _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                    .next()
                    .map(|(k, _)| k.clone()),
                _ => m.keys().next().cloned(),
            },
            _ => None,
        }
    }

    /// Install an inner map into a map-in-map slot.
    pub fn set_inner(&mut self, key: &[u8], inner: usize) -> i64 {
        match &mut self.store {
            Store::MapArray(v) => {
                let i = u32::from_le_bytes(
                    key.get(..4)
                        .and_then(|k| k.try_into().ok())
                        .unwrap_or([0xff; 4]),
                ) as usize;
                match v.get_mut(i) {
                    Some(s) => {
                        *s = Some(inner);
                        0
                    }
                    None => -errno::E2BIG,
                }
            }
            Store::MapHash(m) => {
                if m.len() >= self.max_entries as usize && !m.contains_key(key) {
                    return -errno::E2BIG;
                }
                m.insert(key.to_vec(), inner);
                0
            }
            _ => -errno::EINVAL,
        }
    }

    /// Local storage for `owner`; creates it (zeroed or from `init`) when
    /// `create` is set. Returns the value address.
    pub fn storage_get(
        &mut self,
        mem: &mut Memory,
        owner: u64,
        create: bool,
        init: Option<&[u8]>,
    ) -> Option<u64> {
        let Store::Local(ls) = &mut self.store else {
            return None;
        };
        if let Some(&slot) = ls.owners.get(&owner) {
            return Some(ls.slab.addr(slot));
        }
        if !create {
            return None;
        }
        let slot = ls.slab.alloc(mem)?;
        let addr = ls.slab.addr(slot);
        let vs = self.value_size as usize;
        let bytes = init
            .map(|b| b[..vs].to_vec())
            .unwrap_or_else(|| vec![0; vs]);
        mem.poke(addr, &bytes);
        ls.owners.insert(owner, slot);
        Some(addr)
    }

    /// Delete `owner`'s local storage.
    pub fn storage_delete(&mut self, owner: u64) -> i64 {
        let Store::Local(ls) = &mut self.store else {
            return -errno::EINVAL;
        };
        match ls.owners.remove(&owner) {
            Some(slot) => {
                ls.slab.release(slot);
                0
            }
            None => -errno::ENOENT,
        }
    }

    /// Owners that currently have storage (ascending).
    pub fn storage_owners(&self) -> Vec<u64> {
        match &self.store {
            Store::Local(ls) => ls.owners.keys().copied().collect(),
            _ => Vec::new(),
        }
    }

    /// Account a ring-buffer reservation of `size` bytes.
    pub fn ringbuf_reserve(&mut self, size: u64) -> bool {
        let cap = self.max_entries as u64;
        match &mut self.store {
            Store::Ringbuf(r) if r.used + ringbuf_cost(size) <= cap => {
                r.used += ringbuf_cost(size);
                true
            }
            _ => false,
        }
    }

    /// Complete a reservation: `Some(data)` submits, `None` discards.
    pub fn ringbuf_finish(&mut self, size: u64, data: Option<Vec<u8>>) {
        if let Store::Ringbuf(r) = &mut self.store {
            match data {
                Some(d) => r.ready.push_back(RingbufRecord { data: d }),
                None => r.used = r.used.saturating_sub(ringbuf_cost(size)),
            }
        }
    }

    /// Take all submitted ring-buffer records, oldest first.
    pub fn ringbuf_drain(&mut self) -> Vec<RingbufRecord> {
        match &mut self.store {
            Store::Ringbuf(r) => {
                let out: Vec<_> = r.ready.drain(..).collect();
                let freed: u64 = out.iter().map(|x| ringbuf_cost(x.data.len() as u64)).sum();
                r.used = r.used.saturating_sub(freed);
                out
            }
            _ => Vec::new(),
        }
    }

    /// Bytes available for new ring-buffer records.
    pub fn ringbuf_avail(&self) -> u64 {
        match &self.store {
            Store::Ringbuf(r) => self.max_entries as u64 - r.used,
            _ => 0,
        }
    }

    /// Number of elements (queue length, hash entries, storage owners).
    pub fn len(&self) -> usize {
        match &self.store {
            Store::Array { .. } | Store::PercpuArray { .. } => self.max_entries as usize,
            Store::Hash(h) => h.entries.len(),
            Store::Queue { items, .. } => items.len(),
            Store::MapArray(v) => v.iter().filter(|x| x.is_some()).count(),
            Store::MapHash(m) => m.len(),
            Store::Local(l) => l.owners.len(),
            Store::Ringbuf(r) => r.ready.len(),
        }
    }

    /// True when [`Map::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Key bytes and value base address of the element whose value
    /// contains `addr` (used to hand timer callbacks their key/value).
    pub fn locate_value(&self, addr: u64) -> Option<(Vec<u8>, u64)> {
        let vs = self.value_size as u64;
        match &self.store {
            Store::Array { base } if addr >= *base && vs > 0 => {
                let i = (addr - base) / vs;
                (i < self.max_entries as u64)
                    .then(|| ((i as u32).to_le_bytes().to_vec(), base + i * vs))
            }
            Store::Hash(h) => h.entries.iter().find_map(|(k, e)| {
                let start = h.slab.addr(e.slot);
                (addr >= start && addr < start + h.slab.elem as u64).then(|| (k.clone(), start))
            }),
            Store::Local(ls) => ls.owners.iter().find_map(|(o, slot)| {
                let start = ls.slab.addr(*slot);
                (addr >= start && addr < start + vs).then(|| (o.to_le_bytes().to_vec(), start))
            }),
            _ => None,
        }
    }

    /// Number of CPUs for per-CPU values.
    pub fn ncpu(&self) -> u32 {
        self.ncpu
    }

    /// True for per-CPU map types.
    pub fn is_percpu(&self) -> bool {
        matches!(
            self.map_type,
            types::PERCPU_ARRAY | types::PERCPU_HASH | types::LRU_PERCPU_HASH
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(map_type: u32, key: u32, value: u32, n: u32) -> MapDef {
        MapDef {
            name: "m".into(),
            map_type,
            key_size: key,
            value_size: value,
            max_entries: n,
            map_flags: 0,
            key_type: None,
            value_type: None,
            inner: None,
            init_values: Vec::new(),
        }
    }

    fn lookup_u64(m: &mut Map, mem: &Memory, k: u32) -> Option<u64> {
        let a = m.lookup(&k.to_le_bytes(), 0)?.ok()?;
        mem.load(a, 8)
    }

    #[test]
    fn array_semantics() {
        let mut mem = Memory::default();
        let mut m = Map::new(&mut mem, 0, &def(types::ARRAY, 4, 8, 2), 1).unwrap();
        assert_eq!(
            m.update(
                &mut mem,
                &1u32.to_le_bytes(),
                &7u64.to_le_bytes(),
                BPF_ANY,
                None
            ),
            0
        );
        assert_eq!(lookup_u64(&mut m, &mem, 1), Some(7));
        assert_eq!(lookup_u64(&mut m, &mem, 0), Some(0));
        assert!(m.lookup(&2u32.to_le_bytes(), 0).is_none());
        assert_eq!(
            m.update(&mut mem, &0u32.to_le_bytes(), &[0; 8], BPF_NOEXIST, None),
            -errno::EEXIST
        );
        assert_eq!(m.delete(&0u32.to_le_bytes()), -errno::EINVAL);
        assert_eq!(m.next_key(None), Some(0u32.to_le_bytes().to_vec()));
        assert_eq!(m.next_key(Some(&1u32.to_le_bytes())), None);
    }

    #[test]
    fn hash_iterates_in_insertion_order() {
        let mut mem = Memory::default();
        let mut m = Map::new(&mut mem, 0, &def(types::HASH, 4, 8, 3), 1).unwrap();
        for k in [30u32, 10, 20] {
            assert_eq!(
                m.update(
                    &mut mem,
                    &k.to_le_bytes(),
                    &(k as u64).to_le_bytes(),
                    BPF_ANY,
                    None
                ),
                0
            );
        }
        assert_eq!(
            m.update(&mut mem, &40u32.to_le_bytes(), &[0; 8], BPF_ANY, None),
            -errno::E2BIG
        );
        let mut keys = Vec::new();
        let mut k = m.next_key(None);
        while let Some(cur) = k {
            keys.push(u32::from_le_bytes(cur[..4].try_into().unwrap()));
            k = m.next_key(Some(&cur));
        }
        assert_eq!(keys, vec![30, 10, 20]);
        assert_eq!(m.delete(&10u32.to_le_bytes()), 0);
        assert_eq!(m.delete(&10u32.to_le_bytes()), -errno::ENOENT);
        assert_eq!(
            m.update(&mut mem, &10u32.to_le_bytes(), &[1; 8], BPF_EXIST, None),
            -errno::ENOENT
        );
        assert_eq!(lookup_u64(&mut m, &mem, 20), Some(20));
    }

    #[test]
    fn lru_evicts_least_recent() {
        let mut mem = Memory::default();
        let mut m = Map::new(&mut mem, 0, &def(types::LRU_HASH, 4, 8, 2), 1).unwrap();
        m.update(&mut mem, &1u32.to_le_bytes(), &[1; 8], BPF_ANY, None);
        m.update(&mut mem, &2u32.to_le_bytes(), &[2; 8], BPF_ANY, None);
        assert!(m.lookup(&1u32.to_le_bytes(), 0).is_some());
        assert_eq!(
            m.update(&mut mem, &3u32.to_le_bytes(), &[3; 8], BPF_ANY, None),
            0
        );
        assert!(
            m.lookup(&2u32.to_le_bytes(), 0).is_none(),
            "2 was least recently used"
        );
        assert!(m.lookup(&1u32.to_le_bytes(), 0).is_some());
    }

    #[test]
    fn queue_and_stack() {
        let mut mem = Memory::default();
        let mut q = Map::new(&mut mem, 0, &def(types::QUEUE, 0, 4, 2), 1).unwrap();
        let mut s = Map::new(&mut mem, 1, &def(types::STACK, 0, 4, 2), 1).unwrap();
        for v in [1u32, 2] {
            assert_eq!(q.push(&v.to_le_bytes(), 0), 0);
            assert_eq!(s.push(&v.to_le_bytes(), 0), 0);
        }
        assert_eq!(q.push(&3u32.to_le_bytes(), 0), -errno::E2BIG);
        assert_eq!(q.push(&3u32.to_le_bytes(), BPF_EXIST), 0);
        assert_eq!(q.pop(true).unwrap(), 2u32.to_le_bytes());
        assert_eq!(s.pop(false).unwrap(), 2u32.to_le_bytes());
        assert_eq!(s.pop(true).unwrap(), 2u32.to_le_bytes());
        assert_eq!(s.pop(true).unwrap(), 1u32.to_le_bytes());
        assert_eq!(s.pop(true), Err(-errno::ENOENT));
    }

    #[test]
    fn percpu_and_storage_and_ringbuf() {
        let mut mem = Memory::default();
        let mut p = Map::new(&mut mem, 0, &def(types::PERCPU_ARRAY, 4, 8, 1), 4).unwrap();
        let a0 = p.lookup(&0u32.to_le_bytes(), 0).unwrap().unwrap();
        let a3 = p.lookup(&0u32.to_le_bytes(), 3).unwrap().unwrap();
        assert_eq!(a3 - a0, 24);
        let mut t = Map::new(&mut mem, 1, &def(types::TASK_STORAGE, 4, 16, 0), 4).unwrap();
        assert!(t.storage_get(&mut mem, 5, false, None).is_none());
        let a = t.storage_get(&mut mem, 5, true, None).unwrap();
        assert_eq!(t.storage_get(&mut mem, 5, false, None), Some(a));
        assert_eq!(t.storage_delete(5), 0);
        assert_eq!(t.storage_owners(), Vec::<u64>::new());
        let mut r = Map::new(&mut mem, 2, &def(types::RINGBUF, 0, 0, 64), 1).unwrap();
        assert!(r.ringbuf_reserve(40));
        assert!(!r.ringbuf_reserve(40));
        r.ringbuf_finish(40, Some(vec![1; 40]));
        assert_eq!(r.ringbuf_drain().len(), 1);
        assert_eq!(r.ringbuf_avail(), 64);
    }

    #[test]
    fn percpu_hash_and_hash_of_maps() {
        let mut mem = Memory::default();
        let mut p = Map::new(&mut mem, 0, &def(types::PERCPU_HASH, 4, 8, 4), 2).unwrap();
        let k = 9u32.to_le_bytes();
        assert_eq!(
            p.update(&mut mem, &k, &7u64.to_le_bytes(), BPF_ANY, Some(1)),
            0
        );
        let a0 = p.lookup(&k, 0).unwrap().unwrap();
        let a1 = p.lookup(&k, 1).unwrap().unwrap();
        assert_eq!((mem.load(a0, 8), mem.load(a1, 8)), (Some(0), Some(7)));
        let mut hom = Map::new(&mut mem, 1, &def(types::HASH_OF_MAPS, 4, 4, 2), 2).unwrap();
        assert_eq!(hom.set_inner(&5u32.to_le_bytes(), 0), 0);
        assert_eq!(hom.set_inner(&6u32.to_le_bytes(), 0), 0);
        assert_eq!(hom.set_inner(&7u32.to_le_bytes(), 0), -errno::E2BIG);
        assert_eq!(hom.lookup(&5u32.to_le_bytes(), 0), Some(Err(0)));
        assert_eq!(hom.next_key(None), Some(5u32.to_le_bytes().to_vec()));
        assert_eq!(hom.delete(&5u32.to_le_bytes()), 0);
        assert!(hom.lookup(&5u32.to_le_bytes(), 0).is_none());
    }

    #[test]
    fn oversized_maps_are_rejected() {
        let mut mem = Memory::default();
        assert!(Map::new(&mut mem, 0, &def(types::ARRAY, 4, 1 << 20, 1 << 20), 1).is_err());
        assert!(Map::new(&mut mem, 0, &def(types::HASH, 4096, 8, 1), 1).is_err());
        assert!(Map::new(&mut mem, 0, &def(types::RINGBUF, 0, 0, 3), 1).is_err());
    }
}
