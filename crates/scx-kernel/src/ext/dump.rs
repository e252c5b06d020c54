//! The debug dump (ext.c:4891-5166): header, backtrace, the scheduler's
//! `ops.dump` lines, and per-CPU blocks with per-task details, written into
//! a buffer of `exit_dump_len` bytes with the kernel's seq_buf overflow
//! behaviour and `~~~~ TRUNCATED ~~~~` marker.
//!
//! Every line (and blank line) also goes to the `sched_ext_dump`
//! tracepoint, whatever the buffer's size: that is all a SysRq-D dump
//! produces (its buffer has size 0). scxsim emits those lines as
//! [`Event::DumpLine`] events when control returns to the kernel: before
//! and after each `ops.dump*()` call and at the end, so they interleave
//! with the callbacks as in the kernel, at callback granularity.
//!
//! Kernel stacks are scxsim's stand-ins: the frames of the code path the
//! simulator is in (for the dumping task) or of where a task last blocked.

use crate::consts::*;
use crate::ext::exit::SCX_EXIT_NONE;
use crate::kernel::Kernel;
use crate::ops::{DumpCtx, Task};
use crate::task::{Class, Tid};
use scx_observe::{Event, Op};

const TRUNC_MARKER: &[u8] = b"\n\n~~~~ TRUNCATED ~~~~\n\0";

/// A `struct seq_buf` over a fixed-size byte buffer, with the kernel's
/// semantics: a write that does not fit marks the buffer overflowed
/// (`len = size + 1`), after which nothing more is written, while
/// `vsnprintf()` has still left the truncated text of the failed write in
/// the buffer. Text written and then abandoned (a skipped idle CPU) is not
/// erased, as in the kernel.
#[derive(Debug)]
pub struct SeqBuf {
    buf: Vec<u8>,
    len: usize,
    /// Lines for the `sched_ext_dump` tracepoint not yet emitted.
    traced: Vec<String>,
}

impl SeqBuf {
    /// An empty buffer of `size` bytes.
    pub fn new(size: usize) -> SeqBuf {
        SeqBuf {
            buf: vec![0; size],
            len: 0,
            traced: Vec::new(),
        }
    }

    fn size(&self) -> usize {
        self.buf.len()
    }

    fn overflowed(&self) -> bool {
        self.len > self.size()
    }

    /// `seq_buf_printf()` of an already formatted string.
    fn printf(&mut self, s: &str) {
        let size = self.size();
        if self.len < size {
            let bytes = s.as_bytes();
            let n = bytes.len().min(size - self.len - 1);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.buf[self.len + n] = 0;
            if self.len + bytes.len() < size {
                self.len += bytes.len();
                return;
            }
        }
        self.len = size + 1;
    }

    /// `seq_buf_putc()`.
    fn putc(&mut self, c: u8) {
        if self.len + 1 < self.size() {
            self.buf[self.len] = c;
            self.len += 1;
        } else {
            self.len = self.size() + 1;
        }
    }

    /// `dump_line()`.
    pub fn line(&mut self, s: &str) {
        // The tracepoint gets the line as formatted into a
        // SCX_EXIT_MSG_LEN buffer.
        let mut end = s.len().min(SCX_EXIT_MSG_LEN - 1);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.traced.push(s[..end].to_string());
        if self.buf.is_empty() {
            return;
        }
        self.printf(s);
        self.putc(b'\n');
    }

    /// `dump_newline()`.
    pub fn newline(&mut self) {
        self.traced.push(String::new());
        if !self.buf.is_empty() {
            self.putc(b'\n');
        }
    }

    /// Takes the tracepoint lines written since the last call.
    pub fn take_traced(&mut self) -> Vec<String> {
        std::mem::take(&mut self.traced)
    }

    fn mark(&self) -> usize {
        self.len
    }

    fn rewind(&mut self, m: usize) {
        self.len = m;
    }

    /// The final text: up to the first NUL, with the truncation marker if
    /// the buffer overflowed.
    pub fn finish(mut self) -> String {
        let size = self.size();
        if self.overflowed() && size >= TRUNC_MARKER.len() {
            self.buf[size - TRUNC_MARKER.len()..].copy_from_slice(TRUNC_MARKER);
        }
        let end = self.buf.iter().position(|b| *b == 0).unwrap_or(size);
        String::from_utf8_lossy(&self.buf[..end]).into_owned()
    }
}

/// `scx_dump_data`: the state `scx_bpf_dump()` appends to.
#[derive(Debug)]
pub struct DumpData {
    /// CPU allowed to call `scx_bpf_dump()`.
    pub cpu: usize,
    /// Prefix of the op's lines.
    pub prefix: &'static str,
    /// No line flushed yet in this op invocation.
    pub first: bool,
    /// The 1024-byte line buffer.
    pub line: String,
    /// The output.
    pub out: SeqBuf,
}

/// Size of `scx_bstr_buf.line`.
const DUMP_LINE_LEN: usize = SCX_EXIT_MSG_LEN;

impl DumpData {
    /// `scx_bpf_dump_bstr()` after formatting: appends `s` and flushes on a
    /// trailing newline or a full line buffer.
    pub fn append(&mut self, s: &str) {
        for ch in s.chars() {
            if self.line.len() + ch.len_utf8() >= DUMP_LINE_LEN {
                break;
            }
            self.line.push(ch);
        }
        if self.line.is_empty() {
            return;
        }
        if self.line.len() >= DUMP_LINE_LEN - 1 || self.line.ends_with('\n') {
            self.flush();
        }
    }

    /// `ops_dump_flush()`.
    pub fn flush(&mut self) {
        if self.line.is_empty() {
            return;
        }
        if self.first {
            self.out.newline();
            self.first = false;
        }
        let text = std::mem::take(&mut self.line);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        for piece in text.split('\n') {
            self.out.line(&format!("{}{}", self.prefix, piece));
        }
    }
}

impl Kernel {
    /// `scx_dump_state()` for an error exit, into a buffer of the
    /// scheduler's `exit_dump_len`; `cpu` is where the error irq_work runs.
    pub(crate) fn scx_dump_state(&mut self, cpu: usize) -> String {
        let len = match self.scx.ops.exit_dump_len {
            0 => SCX_EXIT_DUMP_DFL_LEN,
            n => n,
        } as usize;
        let ei = self.scx.exit_info.clone().unwrap_or_default();
        self.dump_state(cpu, &ei, len)
    }

    /// `sysrq_handle_sched_ext_dump()`: with a scheduler enabled, a dump of
    /// kind NONE and reason "SysRq-D" into a buffer of size 0, so it
    /// reaches only the `sched_ext_dump` tracepoint; the scheduler keeps
    /// running. Runs on `cpu`, interrupting whatever runs there.
    pub fn sysrq_d(&mut self, cpu: usize) {
        if !self.scx.enabled {
            return;
        }
        let ei = crate::ops::ExitInfo {
            kind: SCX_EXIT_NONE,
            reason: "SysRq-D".into(),
            ..Default::default()
        };
        self.scx.dump_by_sysrq = true;
        self.dump_state(cpu, &ei, 0);
        self.scx.dump_by_sysrq = false;
    }

    /// Emits the tracepoint lines `s` holds, from the dumping CPU.
    fn trace_dump_lines(&mut self, s: &mut SeqBuf) {
        let cpu = self.cur_cpu as u32;
        for line in s.take_traced() {
            self.emit_with(|| Event::DumpLine { cpu, line });
        }
    }

    /// `scx_dump_state()`: the dump of `ei` into a buffer of `len` bytes.
    fn dump_state(&mut self, cpu: usize, ei: &crate::ops::ExitInfo, len: usize) -> String {
        let dctx = DumpCtx {
            kind: ei.kind,
            exit_code: ei.exit_code,
            reason: ei.reason.clone(),
            at_ns: self.now,
            at_jiffies: self.jiffies(),
        };
        let mut s = SeqBuf::new(len);
        if ei.kind == SCX_EXIT_NONE {
            s.line(&format!("Debug dump triggered by {}", ei.reason));
        } else {
            let curr = self.task(self.rqs[cpu].curr);
            s.line(&format!(
                "{}[{}] triggered exit kind {}:",
                curr.comm, curr.pid, ei.kind
            ));
            s.line(&format!("  {} ({})", ei.reason, ei.msg));
            s.newline();
            s.line("Backtrace:");
            for f in &ei.bt {
                s.line(&format!("  {f}"));
            }
        }
        let saved = self.cur_cpu;
        self.cur_cpu = cpu;
        if self.scx.has(Op::Dump) {
            s = self.ops_dump(
                s,
                "",
                Op::Dump,
                |k, d| k.scx_call_void(Op::Dump, SCX_KF_UNLOCKED, 0, |sch, cx| sch.dump(cx, &d)),
                &dctx,
            );
        }
        s.newline();
        s.line("CPU states");
        s.line("----------");
        for c in 0..self.nr_cpus() {
            s = self.dump_cpu(s, c, &dctx, cpu);
        }
        self.trace_dump_lines(&mut s);
        self.cur_cpu = saved;
        s.finish()
    }

    /// Runs a dump op with `scx_bpf_dump()` enabled, writing into `s`.
    fn ops_dump(
        &mut self,
        s: SeqBuf,
        prefix: &'static str,
        _op: Op,
        call: impl FnOnce(&mut Kernel, DumpCtx),
        dctx: &DumpCtx,
    ) -> SeqBuf {
        let mut s = s;
        self.trace_dump_lines(&mut s);
        self.scx.dump = Some(DumpData {
            cpu: self.cur_cpu,
            prefix,
            first: true,
            line: String::new(),
            out: s,
        });
        self.rqs[self.cur_cpu].scx.in_dump = true;
        call(self, dctx.clone());
        self.rqs[self.cur_cpu].scx.in_dump = false;
        let mut d = self.scx.dump.take().expect("dump data");
        d.flush();
        self.trace_dump_lines(&mut d.out);
        d.out
    }

    fn dump_cpu(&mut self, mut s: SeqBuf, c: usize, dctx: &DumpCtx, dumper: usize) -> SeqBuf {
        let rq = &self.rqs[c];
        let curr = rq.curr;
        let idle = rq.scx.runnable_list.is_empty() && self.task(curr).is_idle();
        if idle && !self.scx.has(Op::DumpCpu) {
            return s;
        }
        let mark = s.mark();
        s.newline();
        s.line(&format!(
            "CPU {:<4}: nr_run={} flags={:#x} cpu_rel={} pnt_seq={}",
            c,
            rq.scx.nr_running,
            rq.scx.flags,
            u8::from(rq.scx.cpu_released),
            rq.scx.pnt_seq
        ));
        let ct = self.task(curr);
        s.line(&format!(
            "          curr={}[{}] class={}",
            ct.comm,
            ct.pid,
            ct.class.symbol()
        ));
        let nr = self.nr_cpus();
        for (label, m) in [
            ("cpus_to_kick   ", rq.scx.cpus_to_kick),
            ("idle_to_kick   ", rq.scx.cpus_to_kick_if_idle),
            ("cpus_to_preempt", rq.scx.cpus_to_preempt),
            ("cpus_to_wait   ", rq.scx.cpus_to_wait),
        ] {
            if !m.is_empty() {
                s.line(&format!("  {label}: {}", m.to_hex_string(nr)));
            }
        }
        let used = s.mark();
        if self.scx.has(Op::DumpCpu) {
            let saved = self.cur_cpu;
            self.cur_cpu = dumper;
            s = self.ops_dump(
                s,
                "  ",
                Op::DumpCpu,
                |k, d| {
                    k.scx_call_void(Op::DumpCpu, SCX_KF_REST, c as u64, |sch, cx| {
                        sch.dump_cpu(cx, &d, c as i32, idle)
                    })
                },
                dctx,
            );
            self.cur_cpu = saved;
        }
        if idle && s.mark() == used {
            s.rewind(mark);
            return s;
        }
        if self.task(curr).class == Class::Ext {
            s = self.dump_task(s, dctx, curr, '*', dumper);
        }
        let runnable: Vec<Tid> = self
            .scx
            .runnable_links
            .tasks(&self.rqs[c].scx.runnable_list)
            .collect();
        for p in runnable {
            s = self.dump_task(s, dctx, p, ' ', dumper);
        }
        s
    }

    fn dump_task(
        &mut self,
        mut s: SeqBuf,
        dctx: &DumpCtx,
        p: Tid,
        marker: char,
        dumper: usize,
    ) -> SeqBuf {
        let t = self.task(p);
        let dsq_id = match t.scx.dsq {
            Some(d) => format!("{:#x}", self.scx.dsqs.get(d).id),
            None => "(n/a)".to_string(),
        };
        let delta = jiffies_delta_msecs(&self.cfg.hz, t.scx.runnable_at, dctx.at_jiffies);
        s.newline();
        s.line(&format!(
            " {}{} {}[{}] {:+}ms",
            marker,
            t.state_char(),
            t.comm,
            t.pid,
            delta
        ));
        s.line(&format!(
            "      scx_state/flags={}/{:#x} dsq_flags={:#x} ops_state/qseq={}/{}",
            t.scx.task_state() as u32,
            t.scx.flags & !SCX_TASK_STATE_MASK,
            t.scx.dsq_flags,
            t.scx.ops_state & SCX_OPSS_STATE_MASK,
            t.scx.ops_state >> SCX_OPSS_QSEQ_SHIFT
        ));
        s.line(&format!(
            "      sticky/holding_cpu={}/{} dsq_id={} dsq_vtime={}",
            t.scx.sticky_cpu, t.scx.holding_cpu, dsq_id, t.scx.dsq_vtime
        ));
        s.line(&format!(
            "      cpus={}",
            t.cpus.to_hex_string(self.nr_cpus())
        ));
        if self.scx.has(Op::DumpTask) {
            let saved = self.cur_cpu;
            self.cur_cpu = dumper;
            s = self.ops_dump(
                s,
                "    ",
                Op::DumpTask,
                |k, d| {
                    k.scx_call_void(Op::DumpTask, SCX_KF_REST, 0, |sch, cx| {
                        sch.dump_task(cx, &d, Task(p))
                    })
                },
                dctx,
            );
            self.cur_cpu = saved;
        }
        let stack = self.task_stack_stand_in(p, dumper);
        if !stack.is_empty() {
            s.newline();
            for f in stack {
                s.line(&format!("    {f}"));
            }
        }
        s
    }

    /// Frames standing in for `stack_trace_save_tsk()`.
    fn task_stack_stand_in(&self, p: Tid, dumper: usize) -> Vec<String> {
        if self.rqs[dumper].curr == p && self.scx.dump_by_sysrq {
            // The SysRq handler interrupted this task.
            return [
                "scx_dump_state",
                "sysrq_handle_sched_ext_dump",
                "__handle_sysrq",
            ]
            .map(String::from)
            .to_vec();
        }
        if self.rqs[dumper].curr == p {
            let mut v: Vec<String> = ["scx_dump_state", "scx_ops_error_irq_workfn", "irq_work_run"]
                .map(String::from)
                .to_vec();
            v.extend(self.scx.error_context.iter().rev().map(|f| f.to_string()));
            return v;
        }
        if self.rqs[self.task(p).cpu].curr == p {
            return Vec::new();
        }
        self.task(p)
            .exec
            .stack_site
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

/// `jiffies_delta_msecs()`.
fn jiffies_delta_msecs(hz: &scx_machine::clock::Hz, at: u64, now: u64) -> i64 {
    if scx_machine::clock::time_after(at, now) {
        hz.jiffies_to_msecs(at - now) as i64
    } else {
        -(hz.jiffies_to_msecs(now.wrapping_sub(at)) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_buf_truncates_like_the_kernel() {
        let mut s = SeqBuf::new(40);
        s.line("0123456789");
        s.line("abcdefghijklmnopqrstuvwxyz0123456789");
        let out = s.finish();
        assert!(out.ends_with("\n\n~~~~ TRUNCATED ~~~~\n"), "{out:?}");
        assert_eq!(out.len(), 39);
        assert!(out.starts_with("0123456789\nabcdef"));
    }

    #[test]
    fn seq_buf_fits() {
        let mut s = SeqBuf::new(100);
        s.line("a");
        s.newline();
        s.line("b");
        assert_eq!(s.finish(), "a\n\nb\n");
    }

    #[test]
    fn dump_data_splits_lines_and_prefixes() {
        let mut d = DumpData {
            cpu: 0,
            prefix: "  ",
            first: true,
            line: String::new(),
            out: SeqBuf::new(200),
        };
        d.append("QMAP: a=1");
        d.append(" b=2\nsecond\n");
        d.flush();
        assert_eq!(d.out.finish(), "\n  QMAP: a=1 b=2\n  second\n");
    }
}
