//! The one event stream out of scxsim's kernel model, and its consumers.
//!
//! The kernel emits typed [`Event`]s through a [`Sink`]; formats (text,
//! JSON, Perfetto, metrics) are separate consumers. Events name tasks by
//! [`Tid`] (a stable index, never reused within a run) and announce each
//! task once with [`Event::TaskNew`], so sinks keep their own tables and the
//! hot path never clones strings.
//!
//! ```
//! use scx_observe::{Event, Sink, VecSink};
//! let mut s = VecSink::default();
//! s.event(5, &Event::Log { line: "hello".into() });
//! assert_eq!(s.events.len(), 1);
//! ```

pub mod event;
pub mod text;

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
