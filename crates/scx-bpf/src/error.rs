//! Typed errors: load-time failures ([`LoadError`]) and run-time faults
//! ([`Fault`]).
//!
//! A load error always names the object, and where it applies the section,
//! the instruction index and the unresolved thing, so a message reads like
//! `sched.bpf.o: section struct_ops/enqueue: insn 12: unknown kfunc scx_bpf_foo`.

use std::fmt;

/// What went wrong while parsing or loading an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The ELF container is unreadable (truncated, bad header, ...).
    BadElf(String),
    /// The ELF is not a 64-bit little-endian eBPF object.
    WrongMachine(u16),
    /// `.BTF` or `.BTF.ext` is malformed.
    BadBtf(String),
    /// A relocation entry cannot be applied.
    BadRelocation(String),
    /// A call names a kfunc the host does not provide.
    UnknownKfunc(String),
    /// A call names a helper id this VM does not implement.
    UnknownHelper(i32),
    /// An instruction is malformed (bad register, truncated ld_imm64, ...).
    BadInstruction(String),
    /// A `.maps` definition is malformed or unsupported.
    BadMap(String),
    /// The `.struct_ops.link` table is missing or malformed.
    BadStructOps(String),
    /// A global variable operation failed (unknown name, bad size, ...).
    BadVariable(String),
    /// A CO-RE relocation record is malformed (not merely unresolvable).
    BadCoRe(String),
}

/// A typed load error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Object name (usually the file name).
    pub object: String,
    /// ELF section, when the error belongs to one.
    pub section: Option<String>,
    /// Instruction index inside the section, when it belongs to one.
    pub insn: Option<usize>,
    /// What went wrong.
    pub kind: LoadErrorKind,
}

impl LoadError {
    /// An error for the whole object.
    pub fn new(object: &str, kind: LoadErrorKind) -> Self {
        LoadError {
            object: object.to_string(),
            section: None,
            insn: None,
            kind,
        }
    }

    /// Attach a section name.
    pub fn in_section(mut self, section: &str) -> Self {
        self.section = Some(section.to_string());
        self
    }

    /// Attach an instruction index.
    pub fn at_insn(mut self, insn: usize) -> Self {
        self.insn = Some(insn);
        self
    }
}

impl fmt::Display for LoadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadErrorKind::BadElf(s) => write!(f, "bad ELF: {s}"),
            LoadErrorKind::WrongMachine(m) => write!(f, "not an eBPF object (e_machine {m})"),
            LoadErrorKind::BadBtf(s) => write!(f, "bad BTF: {s}"),
            LoadErrorKind::BadRelocation(s) => write!(f, "bad relocation: {s}"),
            LoadErrorKind::UnknownKfunc(s) => write!(f, "unknown kfunc {s}"),
            LoadErrorKind::UnknownHelper(id) => write!(f, "unknown helper {id}"),
            LoadErrorKind::BadInstruction(s) => write!(f, "bad instruction: {s}"),
            LoadErrorKind::BadMap(s) => write!(f, "bad map: {s}"),
            LoadErrorKind::BadStructOps(s) => write!(f, "bad struct_ops: {s}"),
            LoadErrorKind::BadVariable(s) => write!(f, "bad variable: {s}"),
            LoadErrorKind::BadCoRe(s) => write!(f, "bad CO-RE relocation: {s}"),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.object)?;
        if let Some(s) = &self.section {
            write!(f, ": section {s}")?;
        }
        if let Some(i) = self.insn {
            write!(f, ": insn {i}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for LoadError {}

/// A run-time fault: the invocation stops and the error is returned to the
/// caller (the simulated sched_ext core decides what that means, typically
/// an `scx_ops_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Access outside any BPF-owned region, or past a region's end.
    OutOfBounds {
        /// Program counter (flat code index).
        pc: usize,
        /// Guest address.
        addr: u64,
        /// Access size in bytes.
        size: usize,
    },
    /// Store into read-only memory (rodata, context, kernel memory).
    ReadOnly {
        /// Program counter.
        pc: usize,
        /// Guest address.
        addr: u64,
    },
    /// Store into a kernel object field the verifier would not allow.
    KernelWrite {
        /// Program counter.
        pc: usize,
        /// Description of the field.
        what: String,
    },
    /// The per-invocation instruction budget ran out.
    Runaway {
        /// The budget that was exhausted.
        budget: u64,
    },
    /// Integer division by zero cannot happen in eBPF (it yields 0); this is
    /// for illegal opcodes encountered at run time.
    IllegalInsn {
        /// Program counter.
        pc: usize,
        /// Raw opcode.
        opcode: u8,
    },
    /// Jump or call outside the code.
    BadJump {
        /// Program counter.
        pc: usize,
    },
    /// Call depth exceeded the 8-frame limit.
    StackOverflow {
        /// Program counter.
        pc: usize,
    },
    /// An instruction whose CO-RE relocation failed was executed.
    CoRePoisoned {
        /// Program counter.
        pc: usize,
        /// What could not be resolved.
        what: String,
    },
    /// A helper or kfunc was called with an invalid argument.
    BadArg {
        /// Helper or kfunc name.
        func: String,
        /// What was wrong.
        what: String,
    },
    /// An acquired reference was not released at callback exit.
    RefLeak {
        /// Description of the leaked references.
        what: String,
    },
    /// A spin lock was mishandled (double lock, unlock without lock, held
    /// at exit).
    Lock(String),
    /// The named struct_ops callback or program does not exist.
    NoSuchProgram(String),
    /// The host reported an error from a kfunc.
    Host(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::OutOfBounds { pc, addr, size } => {
                write!(
                    f,
                    "pc {pc}: out-of-bounds access of {size} bytes at {addr:#x}"
                )
            }
            Fault::ReadOnly { pc, addr } => {
                write!(f, "pc {pc}: write to read-only memory at {addr:#x}")
            }
            Fault::KernelWrite { pc, what } => {
                write!(f, "pc {pc}: write to kernel field {what} not allowed")
            }
            Fault::Runaway { budget } => {
                write!(f, "runaway program: instruction budget {budget} exhausted")
            }
            Fault::IllegalInsn { pc, opcode } => write!(f, "pc {pc}: illegal opcode {opcode:#04x}"),
            Fault::BadJump { pc } => write!(f, "pc {pc}: jump outside the program"),
            Fault::StackOverflow { pc } => write!(f, "pc {pc}: call depth exceeds 8 frames"),
            Fault::CoRePoisoned { pc, what } => {
                write!(f, "pc {pc}: executed unresolved CO-RE relocation ({what})")
            }
            Fault::BadArg { func, what } => write!(f, "{func}: {what}"),
            Fault::RefLeak { what } => write!(f, "unreleased reference at exit: {what}"),
            Fault::Lock(s) => write!(f, "spin lock misuse: {s}"),
            Fault::NoSuchProgram(s) => write!(f, "no such program: {s}"),
            Fault::Host(s) => write!(f, "host error: {s}"),
        }
    }
}

impl std::error::Error for Fault {}
