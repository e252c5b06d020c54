//! The guest address space.
//!
//! Guest addresses are deterministic and never derived from host
//! addresses. Two ranges exist:
//! * **BPF-owned regions** — stacks, map values, global data sections,
//!   context arrays, kernel argument blobs, `bpf_obj_new` objects, ringbuf
//!   records, map handles. Region `i` occupies `(i + 1) << 32 ..` and every
//!   access is bounds-checked against its length.
//! * **Kernel object windows** — `0xff` in the top byte, then a 4-bit
//!   [`Window`] kind, a 32-bit object id and a 20-bit offset. They have no
//!   backing bytes: the VM translates accesses through the kernel type table
//!   and the host.
//!
//! Addresses below `1 << 32` (the null page) are neither.
//!
//! ## State generation
//! [`Memory::generation`] counts changes to memory that outlives an
//! invocation: every store into a persistent region (global data, map
//! values, objects, ring-buffer records) and every allocation or release
//! of a region. Stores to stacks are not counted; instead each stack
//! region remembers the byte range written since it was last cleaned, and
//! [`Memory::clean_stack`] zeroes exactly that range when an invocation
//! ends, so no invocation can see what an earlier one left on its stack.
//! Together these make "same generation" imply "same memory", which is
//! what the kernel's fixed-point detection needs (see
//! [`crate::Vm::state_generation`]).

use crate::vmlinux::Window;

/// Bits of offset inside a region.
pub const REGION_SHIFT: u32 = 32;
/// Top-byte tag of kernel window addresses.
pub const KERNEL_TAG: u64 = 0xff;
const KWIN_OFF_BITS: u32 = 20;
const KWIN_ID_BITS: u32 = 32;

/// What a region holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// An invocation's stack (all frames).
    Stack,
    /// A global data section (index into the object's data sections).
    Data(usize),
    /// Value storage of a map.
    MapValues(usize),
    /// A zero-length region whose address stands for a map.
    MapHandle(usize),
    /// The u64 argument array of a struct_ops call.
    Ctx,
    /// Read-only kernel memory handed to a callback (argument structs,
    /// strings). Out-of-bounds loads read 0, like the kernel's probe-mem.
    Kernel,
    /// An object from `bpf_obj_new` / `bpf_cpumask_create`.
    Object,
    /// A reserved ring-buffer record.
    Ringbuf(usize),
    /// Scratch memory the VM uses for callback arguments (keys, ...).
    Scratch,
    /// Freed; any access faults.
    Free,
}

impl RegionKind {
    /// True for regions whose contents live only for one invocation
    /// (stacks, context arrays, argument blobs, scratch).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            RegionKind::Stack | RegionKind::Ctx | RegionKind::Kernel | RegionKind::Scratch
        )
    }
}

/// One region.
#[derive(Debug, Clone)]
pub struct Region {
    /// Bytes.
    pub data: Vec<u8>,
    /// What it is.
    pub kind: RegionKind,
    /// Stores allowed.
    pub writable: bool,
    /// Bytes `dirty.0..dirty.1` were written since the last clean (stacks).
    dirty: (u32, u32),
}

impl Region {
    fn new(kind: RegionKind, data: Vec<u8>, writable: bool) -> Region {
        Region {
            data,
            kind,
            writable,
            dirty: CLEAN,
        }
    }
}

/// The dirty range of a clean region.
const CLEAN: (u32, u32) = (u32::MAX, 0);

/// All regions.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    regions: Vec<Region>,
    free: Vec<usize>,
    generation: u64,
}

/// Base address of region `idx`.
pub fn region_base(idx: usize) -> u64 {
    (idx as u64 + 1) << REGION_SHIFT
}

/// Encode a kernel window address.
pub fn kernel_addr(w: Window, id: u64, off: u32) -> u64 {
    (KERNEL_TAG << 56)
        | ((w as u64) << 52)
        | ((id & ((1 << KWIN_ID_BITS) - 1)) << KWIN_OFF_BITS)
        | off as u64
}

/// Decode a kernel window address into (window, id, offset).
pub fn decode_kernel(addr: u64) -> Option<(Window, u64, u32)> {
    if addr >> 56 != KERNEL_TAG {
        return None;
    }
    let w = Window::from_tag((addr >> 52) & 0xf)?;
    let id = (addr >> KWIN_OFF_BITS) & ((1 << KWIN_ID_BITS) - 1);
    Some((w, id, (addr & ((1 << KWIN_OFF_BITS) - 1)) as u32))
}

/// Largest id a kernel window can carry.
pub const MAX_KERNEL_ID: u64 = (1 << KWIN_ID_BITS) - 1;

#[inline(always)]
fn le(bytes: &[u8]) -> u64 {
    match bytes.len() {
        1 => bytes[0] as u64,
        2 => u16::from_le_bytes([bytes[0], bytes[1]]) as u64,
        4 => u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as u64,
        _ => u64::from_le_bytes(bytes.try_into().expect("8 bytes")),
    }
}

impl Memory {
    /// Changes to persistent memory so far (see the module docs).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Count a change to state that lives outside guest memory but belongs
    /// to the loaded program (map bookkeeping, timers, the random state).
    pub fn touch(&mut self) {
        self.generation += 1;
    }

    /// Record a write of `len` bytes at offset `off` of region `r`.
    #[inline(always)]
    fn note_write(generation: &mut u64, r: &mut Region, off: usize, len: usize) {
        if r.kind == RegionKind::Stack {
            r.dirty.0 = r.dirty.0.min(off as u32);
            r.dirty.1 = r.dirty.1.max((off + len) as u32);
        } else if !r.kind.is_transient() {
            *generation += 1;
        }
    }

    /// Zero what was written to the stack region at `base` since it was
    /// last cleaned.
    pub fn clean_stack(&mut self, base: u64) {
        let Some(r) = Self::index(base).and_then(|i| self.regions.get_mut(i)) else {
            return;
        };
        let (lo, hi) = std::mem::replace(&mut r.dirty, CLEAN);
        if lo < hi {
            r.data[lo as usize..hi as usize].fill(0);
        }
    }

    /// Allocate a zeroed region; returns its base address.
    pub fn alloc(&mut self, kind: RegionKind, size: usize, writable: bool) -> u64 {
        self.generation += 1;
        let region = Region::new(kind, vec![0; size], writable);
        let idx = match self.free.pop() {
            Some(i) => {
                self.regions[i] = region;
                i
            }
            None => {
                self.regions.push(region);
                self.regions.len() - 1
            }
        };
        region_base(idx)
    }

    /// Free the region starting at `base`.
    pub fn free(&mut self, base: u64) {
        if let Some(i) = Self::index(base) {
            if let Some(r) = self.regions.get_mut(i) {
                if r.kind != RegionKind::Free {
                    *r = Region::new(RegionKind::Free, Vec::new(), false);
                    self.free.push(i);
                    self.generation += 1;
                }
            }
        }
    }

    #[inline(always)]
    fn index(addr: u64) -> Option<usize> {
        let hi = addr >> REGION_SHIFT;
        if hi == 0 || addr >> 56 == KERNEL_TAG {
            return None;
        }
        Some(hi as usize - 1)
    }

    /// The region containing `addr` and the offset into it.
    #[inline(always)]
    pub fn region(&self, addr: u64) -> Option<(&Region, usize)> {
        let i = Self::index(addr)?;
        self.regions.get(i).map(|r| (r, addr as u32 as usize))
    }

    /// Mutable access to the region at `base` (counted as a change of a
    /// persistent region).
    pub fn region_mut(&mut self, addr: u64) -> Option<&mut Region> {
        let i = Self::index(addr)?;
        let r = self.regions.get_mut(i)?;
        if !r.kind.is_transient() {
            self.generation += 1;
        }
        Some(r)
    }

    /// Load `size` (1/2/4/8) bytes; `None` if not inside a region.
    #[inline(always)]
    pub fn load(&self, addr: u64, size: usize) -> Option<u64> {
        let (r, off) = self.region(addr)?;
        r.data.get(off..off.checked_add(size)?).map(le)
    }

    /// Store `size` bytes. `Err(true)` = read-only, `Err(false)` = unmapped.
    #[inline(always)]
    pub fn store(&mut self, addr: u64, size: usize, val: u64) -> Result<(), bool> {
        let i = Self::index(addr).ok_or(false)?;
        let r = self.regions.get_mut(i).ok_or(false)?;
        let off = addr as u32 as usize;
        let dst = r.data.get_mut(off..off + size).ok_or(false)?;
        if !r.writable {
            return Err(true);
        }
        dst.copy_from_slice(&val.to_le_bytes()[..size]);
        Self::note_write(&mut self.generation, r, off, size);
        Ok(())
    }

    /// Borrow `len` bytes at `addr`.
    pub fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let (r, off) = self.region(addr)?;
        r.data.get(off..off.checked_add(len)?)
    }

    /// Mutably borrow `len` writable bytes at `addr`.
    pub fn bytes_mut(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let r = self.regions.get_mut(Self::index(addr)?)?;
        if !r.writable {
            return None;
        }
        let off = addr as u32 as usize;
        let end = off.checked_add(len).filter(|&e| e <= r.data.len())?;
        Self::note_write(&mut self.generation, r, off, len);
        r.data.get_mut(off..end)
    }

    /// Write bytes even into a read-only region (loader/host use only).
    pub fn poke(&mut self, addr: u64, src: &[u8]) -> Option<()> {
        let r = self.regions.get_mut(Self::index(addr)?)?;
        let off = addr as u32 as usize;
        r.data
            .get_mut(off..off.checked_add(src.len())?)?
            .copy_from_slice(src);
        Self::note_write(&mut self.generation, r, off, src.len());
        Some(())
    }

    /// NUL-terminated string at `addr`, up to `max` bytes (without the NUL).
    pub fn cstr(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        let (r, off) = self.region(addr)?;
        let rest = r.data.get(off..)?;
        let rest = &rest[..rest.len().min(max)];
        Some(rest.iter().take_while(|&&c| c != 0).copied().collect())
    }

    /// Grow a region to at least `size` bytes (keeps its address).
    pub fn grow(&mut self, base: u64, size: usize) {
        if let Some(r) = self.region_mut(base) {
            if r.data.len() < size {
                r.data.resize(size, 0);
            }
        }
    }

    /// Number of live regions (for tests and diagnostics).
    pub fn live_regions(&self) -> usize {
        self.regions
            .iter()
            .filter(|r| r.kind != RegionKind::Free)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_permissions() {
        let mut m = Memory::default();
        let a = m.alloc(RegionKind::Scratch, 16, true);
        let ro = m.alloc(RegionKind::Kernel, 8, false);
        assert_eq!(a, 1 << 32);
        m.store(a + 8, 8, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(m.load(a + 8, 4), Some(0x5566_7788));
        assert_eq!(m.load(a + 12, 8), None);
        assert_eq!(m.store(ro, 1, 1), Err(true));
        assert_eq!(m.store(a + 16, 1, 1), Err(false));
        assert_eq!(m.load(0, 8), None);
        m.free(a);
        assert_eq!(m.load(a, 1), None);
        let b = m.alloc(RegionKind::Scratch, 4, true);
        assert_eq!(b, a, "freed indices are reused deterministically");
    }

    #[test]
    fn generation_counts_persistent_changes_only() {
        let mut m = Memory::default();
        let data = m.alloc(RegionKind::Data(0), 16, true);
        let stack = m.alloc(RegionKind::Stack, 64, true);
        let g = m.generation();
        m.store(stack + 8, 8, 7).unwrap();
        m.bytes_mut(stack + 40, 4).unwrap().fill(9);
        assert_eq!(m.generation(), g, "stack writes are not persistent");
        m.store(data, 4, 1).unwrap();
        assert_eq!(m.generation(), g + 1);
        assert_eq!(m.store(data + 16, 1, 1), Err(false));
        assert_eq!(m.generation(), g + 1, "a failed store changes nothing");
        m.clean_stack(stack);
        assert_eq!(m.load(stack + 8, 8), Some(0));
        assert_eq!(m.load(stack + 40, 4), Some(0));
        m.store(stack, 1, 1).unwrap();
        m.clean_stack(stack);
        assert_eq!(m.bytes(stack, 64).unwrap(), &[0u8; 64][..]);
    }

    #[test]
    fn kernel_window_roundtrip() {
        let a = kernel_addr(Window::Task, 77, 0x123);
        assert_eq!(decode_kernel(a), Some((Window::Task, 77, 0x123)));
        assert_eq!(decode_kernel(a + 8), Some((Window::Task, 77, 0x12b)));
        assert_eq!(decode_kernel(1 << 32), None);
        assert!(Memory::default().load(a, 8).is_none());
    }
}
