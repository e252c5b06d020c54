//! The one event stream out of scxsim's kernel model, and its consumers.
//!
//! The kernel emits typed [`Event`]s through a [`Sink`]; formats are
//! separate consumers. Events name tasks by [`Tid`] (a stable index, never
//! reused within a run) and announce each task once with
//! [`Event::TaskNew`], so sinks keep their own tables ([`tasks`]) and the
//! hot path never clones strings.
//!
//! Consumers:
//!
//! | module | what |
//! |---|---|
//! | [`text`] | scxsim's own one-line-per-event text trace |
//! | [`perfetto`] | a Perfetto protobuf trace (`.pftrace`) |
//! | [`ftrace`] | `trace-cmd report` text |
//! | [`metrics`] | runtime, latency, fairness and counts, with their definitions |
//! | [`timeline`] | the data behind the HTML report's charts |
//! | [`html`] | the self-contained HTML report |
//! | [`progress`] | a progress bar driven by simulated time (not a sink) |
//!
//! A sink that must be read after the run (the kernel owns the sink it is
//! given) is shared with [`Shared`].
//!
//! ```
//! use scx_observe::{Event, Sink, VecSink};
//! let mut s = VecSink::default();
//! s.event(5, &Event::Log { line: "hello".into() });
//! assert_eq!(s.events.len(), 1);
//! ```

pub mod event;
pub mod ftrace;
pub mod html;
pub mod metrics;
pub mod perfetto;
pub mod progress;
pub mod tasks;
pub mod text;
pub mod timeline;

pub use event::*;

/// A consumer of kernel events. `time` is simulated ns.
pub trait Sink {
    /// Receives one event.
    fn event(&mut self, time: u64, ev: &Event);
}

/// Records every event, for tests and post-processing.
#[derive(Default, Debug)]
pub struct VecSink {
    /// `(time, event)` in emission order.
    pub events: Vec<(u64, Event)>,
}

impl Sink for VecSink {
    fn event(&mut self, time: u64, ev: &Event) {
        self.events.push((time, ev.clone()));
    }
}

/// A sink shared between the kernel and whoever reads it after the run:
/// clones forward events to the same `S`.
///
/// ```
/// use scx_observe::{Event, Shared, Sink, VecSink};
/// let shared = Shared::new(VecSink::default());
/// let mut for_kernel: Box<dyn Sink> = Box::new(shared.clone());
/// for_kernel.event(1, &Event::Log { line: "x".into() });
/// assert_eq!(shared.borrow().events.len(), 1);
/// ```
pub struct Shared<S>(std::rc::Rc<std::cell::RefCell<S>>);

impl<S> Shared<S> {
    /// Wraps `s`.
    pub fn new(s: S) -> Self {
        Shared(std::rc::Rc::new(std::cell::RefCell::new(s)))
    }

    /// Reads the sink.
    pub fn borrow(&self) -> std::cell::Ref<'_, S> {
        self.0.borrow()
    }

    /// Changes the sink.
    pub fn borrow_mut(&self) -> std::cell::RefMut<'_, S> {
        self.0.borrow_mut()
    }
}

impl<S> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<S: Sink> Sink for Shared<S> {
    fn event(&mut self, time: u64, ev: &Event) {
        self.0.borrow_mut().event(time, ev);
    }
}

/// Forwards every event to several sinks in order.
#[derive(Default)]
pub struct Tee {
    /// The sinks.
    pub sinks: Vec<Box<dyn Sink>>,
}

impl Sink for Tee {
    fn event(&mut self, time: u64, ev: &Event) {
        for s in &mut self.sinks {
            s.event(time, ev);
        }
    }
}
