//! The files a run writes besides its console: the event trace (text or
//! Perfetto, by extension), the `trace-cmd report` text, the JSON report,
//! the HTML report, and the metrics summary.
//!
//! ```no_run
//! # use scxsim::outputs::{OutputPaths, Outputs};
//! # use scxsim::run::{run_with_sink, RunConfig};
//! let cfg = RunConfig::new("simple", vec![]);
//! let paths = OutputPaths {
//!     trace: Some("run.pftrace".into()),
//!     report: Some("run.json".into()),
//!     summary: true,
//!     ..Default::default()
//! };
//! let mut outputs = Outputs::create(&paths).unwrap();
//! let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
//! let res = run_with_sink(&cfg, &mut out, &mut err, outputs.sink()).unwrap();
//! outputs.finish(&cfg, &res).unwrap();
//! print!("{}", outputs.summary().unwrap_or_default());
//! ```
//!
//! Streams (traces) go to `<file>.tmp` while the run goes and are renamed
//! into place by [`Outputs::finish`]; the JSON and HTML reports are written
//! to a temporary file and renamed too. So a file that exists is complete,
//! and dropping an unfinished [`Outputs`] (a failed run) removes the
//! temporary files.

use crate::report;
use crate::run::{RunConfig, RunResult};
use scx_kernel::ext::exit::exit_kind_name;
use scx_observe::ftrace::{FtraceStyle, FtraceText};
use scx_observe::html::{self, ExitView, Page, RunMeta};
use scx_observe::metrics::{Metrics, MetricsReport};
use scx_observe::perfetto::{DumpNote, PerfettoTrace};
use scx_observe::text::TextTrace;
use scx_observe::timeline::Timeline;
use scx_observe::{Shared, Sink, Tee};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// `SCX_EXIT_ERROR`: exit kinds from here up are errors.
const SCX_EXIT_ERROR: u32 = 1024;

/// Which files to write.
#[derive(Clone, Debug, Default)]
pub struct OutputPaths {
    /// Event trace: Perfetto protobuf if the name ends in `.pftrace` or
    /// `.perfetto-trace`, else scxsim's text trace.
    pub trace: Option<PathBuf>,
    /// `trace-cmd report` text.
    pub ftrace: Option<PathBuf>,
    /// Write [`FtraceStyle::Raw`] (`trace-cmd report -R`) instead of the
    /// formatted style.
    pub ftrace_raw: bool,
    /// JSON report.
    pub report: Option<PathBuf>,
    /// HTML report.
    pub html: Option<PathBuf>,
    /// Compute the metrics summary ([`Outputs::summary`]).
    pub summary: bool,
}

impl OutputPaths {
    /// True if nothing is to be written (no sink needed).
    pub fn is_empty(&self) -> bool {
        self.trace.is_none()
            && self.ftrace.is_none()
            && self.report.is_none()
            && self.html.is_none()
            && !self.summary
    }

    fn needs_metrics(&self) -> bool {
        self.report.is_some() || self.html.is_some() || self.summary
    }
}

/// True if `path` names a Perfetto trace.
pub fn is_perfetto(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".pftrace") || name.ends_with(".perfetto-trace")
}

/// A file that could not be created or written.
#[derive(Debug)]
pub struct OutputError {
    /// The file.
    pub path: PathBuf,
    /// What was being done (`create trace file`, `write report`).
    pub what: &'static str,
    /// Why it failed.
    pub source: std::io::Error,
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: cannot {}: {}",
            self.path.display(),
            self.what,
            self.source
        )
    }
}

impl std::error::Error for OutputError {}

type Writer = BufWriter<File>;

/// A file being written under a temporary name.
struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
}

impl Staged {
    fn create(dest: &Path, what: &'static str) -> Result<(Staged, Writer), OutputError> {
        let tmp = tmp_path(dest);
        let f = File::create(&tmp).map_err(|source| OutputError {
            path: dest.to_path_buf(),
            what,
            source,
        })?;
        let s = Staged {
            tmp,
            dest: dest.to_path_buf(),
        };
        Ok((s, BufWriter::with_capacity(1 << 20, f)))
    }

    fn commit(&self, what: &'static str, r: std::io::Result<()>) -> Result<(), OutputError> {
        r.and_then(|()| std::fs::rename(&self.tmp, &self.dest))
            .map_err(|source| OutputError {
                path: self.dest.clone(),
                what,
                source,
            })
    }
}

/// Fails unless `dest` can become a file: its directory exists and it is
/// not itself a directory (checked before the run, so a bad path costs
/// nothing).
fn check_destination(dest: &Path, what: &'static str) -> Result<(), OutputError> {
    let err = |kind, msg: &str| OutputError {
        path: dest.to_path_buf(),
        what,
        source: std::io::Error::new(kind, msg.to_string()),
    };
    if dest.is_dir() {
        return Err(err(std::io::ErrorKind::IsADirectory, "is a directory"));
    }
    let dir = dest.parent().filter(|d| !d.as_os_str().is_empty());
    if dir.is_some_and(|d| !d.is_dir()) {
        return Err(err(std::io::ErrorKind::NotFound, "no such directory"));
    }
    Ok(())
}

/// `<dest>.tmp`.
pub(crate) fn tmp_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    dest.with_file_name(name)
}

/// Writes `text` to `dest` through a temporary file.
fn write_atomic(dest: &Path, text: &str, what: &'static str) -> Result<(), OutputError> {
    let tmp = tmp_path(dest);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, dest))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            OutputError {
                path: dest.to_path_buf(),
                what,
                source,
            }
        })
}

enum TraceOut {
    Text(Shared<TextTrace<Writer>>),
    Perfetto(Shared<PerfettoTrace<Writer>>),
}

/// The sinks of a run and the files they become.
pub struct Outputs {
    paths: OutputPaths,
    metrics: Option<Shared<Metrics>>,
    timeline: Option<Shared<Timeline>>,
    trace: Option<(TraceOut, Staged)>,
    ftrace: Option<(Shared<FtraceText<Writer>>, Staged)>,
    report: Option<MetricsReport>,
    done: bool,
}

impl Outputs {
    /// Opens the streamed files (so a bad path fails before the run).
    pub fn create(paths: &OutputPaths) -> Result<Outputs, OutputError> {
        if let Some(p) = &paths.report {
            check_destination(p, "write report")?;
        }
        if let Some(p) = &paths.html {
            check_destination(p, "write HTML report")?;
        }
        let trace = match &paths.trace {
            Some(p) => {
                let (staged, w) = Staged::create(p, "create trace file")?;
                let sink = if is_perfetto(p) {
                    TraceOut::Perfetto(Shared::new(PerfettoTrace::new(w)))
                } else {
                    TraceOut::Text(Shared::new(TextTrace::new(w)))
                };
                Some((sink, staged))
            }
            None => None,
        };
        let ftrace = match &paths.ftrace {
            Some(p) => {
                let (staged, w) = match Staged::create(p, "create ftrace file") {
                    Ok(x) => x,
                    Err(e) => {
                        if let Some((_, t)) = &trace {
                            let _ = std::fs::remove_file(&t.tmp);
                        }
                        return Err(e);
                    }
                };
                let style = if paths.ftrace_raw {
                    FtraceStyle::Raw
                } else {
                    FtraceStyle::Report
                };
                Some((Shared::new(FtraceText::new(w, style)), staged))
            }
            None => None,
        };
        Ok(Outputs {
            paths: paths.clone(),
            metrics: paths.needs_metrics().then(|| Shared::new(Metrics::new())),
            timeline: paths.html.is_some().then(|| Shared::new(Timeline::new())),
            trace,
            ftrace,
            report: None,
            done: false,
        })
    }

    /// The sink to give the run (`None` if nothing needs events).
    pub fn sink(&self) -> Option<Box<dyn Sink>> {
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        if let Some(m) = &self.metrics {
            sinks.push(Box::new(m.clone()));
        }
        if let Some(t) = &self.timeline {
            sinks.push(Box::new(t.clone()));
        }
        match &self.trace {
            Some((TraceOut::Text(t), _)) => sinks.push(Box::new(t.clone())),
            Some((TraceOut::Perfetto(t), _)) => sinks.push(Box::new(t.clone())),
            None => {}
        }
        if let Some((f, _)) = &self.ftrace {
            sinks.push(Box::new(f.clone()));
        }
        match sinks.len() {
            0 => None,
            1 => sinks.pop(),
            _ => Some(Box::new(Tee { sinks })),
        }
    }

    /// The metrics, once [`Outputs::finish`] has run.
    pub fn metrics(&self) -> Option<&MetricsReport> {
        self.report.as_ref()
    }

    /// The metrics summary text, if requested and finished.
    pub fn summary(&self) -> Option<String> {
        self.report
            .as_ref()
            .filter(|_| self.paths.summary)
            .map(MetricsReport::summary)
    }

    /// Completes every file. Call once, after the run.
    pub fn finish(&mut self, cfg: &RunConfig, res: &RunResult) -> Result<(), OutputError> {
        self.report = self.metrics.as_ref().map(|m| m.borrow().report(res.sim_ns));
        let end = self.report.as_ref().map_or(res.sim_ns, |r| r.end_ns);
        self.finish_trace(res, end)?;
        if let Some((f, staged)) = &self.ftrace {
            let r = f.borrow_mut().finish();
            staged.commit("write ftrace file", r)?;
        }
        if let Some(p) = &self.paths.report {
            let v = report::build_with(cfg, res, self.report.as_ref());
            report::write(p, &v).map_err(|source| OutputError {
                path: p.clone(),
                what: "write report",
                source,
            })?;
        }
        if let (Some(p), Some(t), Some(m)) = (&self.paths.html, &self.timeline, &self.report) {
            let page = Page {
                meta: &run_meta(cfg, res),
                metrics: m,
                timeline: &t.borrow(),
                exits: &exit_views(res),
            };
            write_atomic(p, &html::render(&page), "write HTML report")?;
        }
        self.done = true;
        Ok(())
    }

    fn finish_trace(&self, res: &RunResult, end: u64) -> Result<(), OutputError> {
        let Some((t, staged)) = &self.trace else {
            return Ok(());
        };
        let r = match t {
            TraceOut::Text(t) => t.borrow_mut().flush(),
            TraceOut::Perfetto(t) => t.borrow_mut().finish(end, &dump_notes(res)),
        };
        staged.commit("write trace file", r)
    }
}

impl Drop for Outputs {
    /// Removes the temporary files of an unfinished run.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let staged = self.trace.iter().map(|t| &t.1);
        for s in staged.chain(self.ftrace.iter().map(|f| &f.1)) {
            let _ = std::fs::remove_file(&s.tmp);
        }
    }
}

fn dump_notes(res: &RunResult) -> Vec<DumpNote> {
    res.exits
        .iter()
        .map(|e| DumpNote {
            at_ns: e.claimed_at,
            scheduler: e.name.clone(),
            reason: e.info.reason.clone(),
            dump: e.info.dump.clone(),
        })
        .collect()
}

fn exit_views(res: &RunResult) -> Vec<ExitView> {
    res.exits
        .iter()
        .map(|e| ExitView {
            scheduler: e.name.clone(),
            kind: exit_kind_name(e.info.kind).to_string(),
            error: e.info.kind >= SCX_EXIT_ERROR,
            exit_code: e.info.exit_code,
            reason: e.info.reason.clone(),
            msg: e.info.msg.clone(),
            claimed_at_ns: e.claimed_at,
            backtrace: e.info.bt.clone(),
            dump: e.info.dump.clone(),
        })
        .collect()
}

/// The page header: the command and the run's inputs.
pub fn run_meta(cfg: &RunConfig, res: &RunResult) -> RunMeta {
    let mut title = res.program.clone();
    for a in &cfg.sched_args {
        title.push(' ');
        title.push_str(a);
    }
    let secs = |ns: u64| format!("{:.3} s", ns as f64 / 1e9);
    RunMeta {
        title,
        facts: vec![
            ("workload".into(), cfg.workload.name.clone()),
            ("topology".into(), cfg.topo.spec()),
            ("seed".into(), cfg.seed.to_string()),
            ("duration".into(), secs(cfg.duration)),
            ("attach at".into(), secs(cfg.attach_at)),
        ],
    }
}
