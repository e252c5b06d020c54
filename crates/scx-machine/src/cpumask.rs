//! `struct cpumask`: a fixed-size CPU bitmap.
//!
//! Like the kernel's cpumask, with a compile-time capacity of
//! [`MAX_CPUS`] bits so masks are `Copy` and never allocate. The printing
//! helpers reproduce the kernel's `%*pb` (hex, comma-separated 32-bit
//! chunks) and `%*pbl` (ranges list) formats.

use std::fmt::Write as _;

/// Largest number of CPUs a simulated machine may have.
pub const MAX_CPUS: usize = 512;
const WORDS: usize = MAX_CPUS / 64;

/// A set of CPU ids `0..MAX_CPUS`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpumask {
    words: [u64; WORDS],
}

impl Default for Cpumask {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Cpumask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cpumask[{}]", self.to_list_string())
    }
}

impl Cpumask {
    /// The empty mask.
    pub const fn new() -> Cpumask {
        Cpumask { words: [0; WORDS] }
    }

    /// Mask with CPUs `0..n` set.
    pub fn first_n(n: usize) -> Cpumask {
        let mut m = Cpumask::new();
        for cpu in 0..n.min(MAX_CPUS) {
            m.set(cpu);
        }
        m
    }

    /// Mask with exactly `cpu` set.
    pub fn of(cpu: usize) -> Cpumask {
        let mut m = Cpumask::new();
        m.set(cpu);
        m
    }

    /// Builds a mask from CPU ids.
    pub fn from_cpus(cpus: impl IntoIterator<Item = usize>) -> Cpumask {
        let mut m = Cpumask::new();
        for c in cpus {
            m.set(c);
        }
        m
    }

    /// `cpumask_set_cpu`.
    pub fn set(&mut self, cpu: usize) {
        assert!(cpu < MAX_CPUS, "cpu {cpu} out of range");
        self.words[cpu / 64] |= 1 << (cpu % 64);
    }

    /// `cpumask_clear_cpu`.
    pub fn clear(&mut self, cpu: usize) {
        assert!(cpu < MAX_CPUS, "cpu {cpu} out of range");
        self.words[cpu / 64] &= !(1 << (cpu % 64));
    }

    /// `cpumask_test_cpu`; false for out-of-range ids.
    pub fn test(&self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.words[cpu / 64] & (1 << (cpu % 64)) != 0
    }

    /// `cpumask_test_and_clear_cpu`.
    pub fn test_and_clear(&mut self, cpu: usize) -> bool {
        let was = self.test(cpu);
        if was {
            self.clear(cpu);
        }
        was
    }

    /// `cpumask_empty`.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// `cpumask_weight`.
    pub fn weight(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `cpumask_first`: lowest set CPU.
    pub fn first(&self) -> Option<usize> {
        self.next_from(0)
    }

    /// Lowest set CPU `>= from`.
    pub fn next_from(&self, from: usize) -> Option<usize> {
        if from >= MAX_CPUS {
            return None;
        }
        let mut w = from / 64;
        let mut bits = self.words[w] & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            if w == WORDS {
                return None;
            }
            bits = self.words[w];
        }
    }

    /// `cpumask_and`.
    pub fn and(&self, other: &Cpumask) -> Cpumask {
        let mut m = *self;
        for (a, b) in m.words.iter_mut().zip(other.words.iter()) {
            *a &= *b;
        }
        m
    }

    /// `cpumask_or`.
    pub fn or(&self, other: &Cpumask) -> Cpumask {
        let mut m = *self;
        for (a, b) in m.words.iter_mut().zip(other.words.iter()) {
            *a |= *b;
        }
        m
    }

    /// `cpumask_andnot`: CPUs in `self` but not in `other`.
    pub fn andnot(&self, other: &Cpumask) -> Cpumask {
        let mut m = *self;
        for (a, b) in m.words.iter_mut().zip(other.words.iter()) {
            *a &= !*b;
        }
        m
    }

    /// `cpumask_intersects`.
    pub fn intersects(&self, other: &Cpumask) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .any(|(a, b)| a & b != 0)
    }

    /// `cpumask_subset`: every CPU of `self` is in `other`.
    pub fn is_subset(&self, other: &Cpumask) -> bool {
        self.andnot(other).is_empty()
    }

    /// Iterates set CPUs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let mut next = 0;
        std::iter::from_fn(move || {
            let c = self.next_from(next)?;
            next = c + 1;
            Some(c)
        })
    }

    /// Round-robin search used by `cpumask_any_and_distribute()`: the first
    /// set CPU strictly after `prev`, wrapping around; `None` if empty.
    pub fn next_wrap_after(&self, prev: usize) -> Option<usize> {
        self.next_from(prev + 1).or_else(|| self.first())
    }

    /// The kernel's `%*pb` rendering for a mask of `nr_bits` CPUs: hex in
    /// comma-separated 32-bit chunks, the leading chunk padded to its width.
    pub fn to_hex_string(&self, nr_bits: usize) -> String {
        let nr_bits = nr_bits.clamp(1, MAX_CPUS);
        let mut out = String::new();
        let mut chunksz = nr_bits % 32;
        if chunksz == 0 {
            chunksz = 32;
        }
        let mut i = nr_bits.div_ceil(32) * 32 - 32;
        let mut first = true;
        loop {
            let word = self.words[i / 64];
            let val = (word >> (i % 64)) & 0xffff_ffff;
            let mask = if chunksz == 32 {
                0xffff_ffff
            } else {
                (1u64 << chunksz) - 1
            };
            if !first {
                out.push(',');
            }
            first = false;
            let width = chunksz.div_ceil(4);
            let _ = write!(out, "{:0width$x}", val & mask, width = width);
            chunksz = 32;
            if i == 0 {
                break;
            }
            i -= 32;
        }
        out
    }

    /// The kernel's `%*pbl` rendering: `0-3,8,10-11`.
    pub fn to_list_string(&self) -> String {
        let mut out = String::new();
        let mut it = self.iter().peekable();
        while let Some(start) = it.next() {
            let mut end = start;
            while it.peek() == Some(&(end + 1)) {
                end = it.next().unwrap_or(end);
            }
            if !out.is_empty() {
                out.push(',');
            }
            if start == end {
                let _ = write!(out, "{start}");
            } else {
                let _ = write!(out, "{start}-{end}");
            }
        }
        out
    }

    /// Parses a CPU list such as `0-3,8,10-11`.
    pub fn parse_list(s: &str) -> Result<Cpumask, String> {
        let mut m = Cpumask::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let a: usize = a
                .trim()
                .parse()
                .map_err(|_| format!("expected a CPU number in {part:?}"))?;
            let b: usize = b
                .trim()
                .parse()
                .map_err(|_| format!("expected a CPU number in {part:?}"))?;
            if a > b || b >= MAX_CPUS {
                return Err(format!("bad CPU range {part:?}"));
            }
            for c in a..=b {
                m.set(c);
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_matches_kernel_pb() {
        assert_eq!(Cpumask::first_n(2).to_hex_string(2), "3");
        assert_eq!(Cpumask::of(1).to_hex_string(2), "2");
        assert_eq!(Cpumask::first_n(4).to_hex_string(4), "f");
        assert_eq!(Cpumask::first_n(6).to_hex_string(6), "3f");
        assert_eq!(Cpumask::first_n(64).to_hex_string(64), "ffffffff,ffffffff");
        assert_eq!(Cpumask::of(32).to_hex_string(40), "01,00000000");
    }

    #[test]
    fn list_roundtrip() {
        let m = Cpumask::parse_list("0-3,8,10-11").unwrap();
        assert_eq!(m.to_list_string(), "0-3,8,10-11");
        assert_eq!(m.weight(), 7);
        assert!(Cpumask::parse_list("3-1").is_err());
    }

    #[test]
    fn next_wrap() {
        let m = Cpumask::from_cpus([1, 5]);
        assert_eq!(m.next_wrap_after(0), Some(1));
        assert_eq!(m.next_wrap_after(1), Some(5));
        assert_eq!(m.next_wrap_after(5), Some(1));
        assert_eq!(Cpumask::new().next_wrap_after(3), None);
    }

    #[test]
    fn set_ops() {
        let a = Cpumask::from_cpus([0, 1, 2]);
        let b = Cpumask::from_cpus([2, 3]);
        assert_eq!(a.and(&b), Cpumask::of(2));
        assert_eq!(a.andnot(&b), Cpumask::from_cpus([0, 1]));
        assert!(a.intersects(&b));
        assert!(Cpumask::of(2).is_subset(&a));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 1, 2]);
        let mut c = a;
        assert!(c.test_and_clear(1));
        assert!(!c.test_and_clear(1));
    }
}
