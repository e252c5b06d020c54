//! A progress bar for long runs, driven by simulated time.
//!
//! The runner calls [`Progress::tick`] with the simulated clock as it goes.
//! The bar appears only once the run has taken [`SHOW_AFTER`] of wall
//! time, only when stderr is a terminal, and never when built with
//! `enabled = false` (`--quiet`). Console output written while the bar is
//! visible must go through [`Progress::suspend`], which takes the bar off
//! the screen for the write and puts it back. [`Progress::finish`] removes
//! it. A disabled `Progress` costs one branch per call.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Wall time before the bar appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

/// The progress bar (cheap to clone; clones drive the same bar).
#[derive(Clone)]
pub struct Progress {
    inner: Option<std::rc::Rc<Inner>>,
}

struct Inner {
    bar: ProgressBar,
    start: Instant,
    show_after: Duration,
    shown: Cell<bool>,
    total_ns: u64,
}

impl Progress {
    /// A bar for a run of `total_ns` simulated ns; shown only if `enabled`
    /// and stderr is a terminal.
    pub fn new(total_ns: u64, enabled: bool) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress::disabled();
        }
        Progress::with_target(total_ns, ProgressDrawTarget::stderr(), SHOW_AFTER)
    }

    /// A bar drawing to `target` whatever the terminal, appearing after
    /// `show_after` of wall time.
    pub fn with_target(
        total_ns: u64,
        target: ProgressDrawTarget,
        show_after: Duration,
    ) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total_ns / 1_000_000), target);
        let style = ProgressStyle::with_template(
            "scxsim [{bar:30.cyan/blue}] {msg} [{elapsed}, eta {eta}]",
        )
        .expect("valid template")
        .progress_chars("=> ");
        bar.set_style(style);
        Progress {
            inner: Some(std::rc::Rc::new(Inner {
                bar,
                start: Instant::now(),
                show_after,
                shown: Cell::new(false),
                total_ns,
            })),
        }
    }

    /// A progress that never shows.
    pub fn disabled() -> Progress {
        Progress { inner: None }
    }

    /// True if the bar is on screen.
    pub fn is_visible(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.shown.get())
    }

    /// Reports the simulated clock.
    pub fn tick(&self, sim_ns: u64) {
        let Some(i) = &self.inner else { return };
        if !i.shown.get() {
            if i.start.elapsed() < i.show_after {
                return;
            }
            i.shown.set(true);
        }
        i.bar.set_position(sim_ns / 1_000_000);
        i.bar.set_message(format!(
            "{:.1}/{:.1} s simulated",
            sim_ns as f64 / 1e9,
            i.total_ns as f64 / 1e9
        ));
    }

    /// Runs `f` (which writes to the console) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.inner {
            Some(i) if i.shown.get() => i.bar.suspend(f),
            _ => f(),
        }
    }

    /// Removes the bar from the screen.
    pub fn finish(&self) {
        if let Some(i) = &self.inner {
            if i.shown.get() {
                i.bar.finish_and_clear();
                i.shown.set(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_never_shows() {
        let p = Progress::new(10, false);
        p.tick(5);
        assert!(!p.is_visible());
        assert_eq!(p.suspend(|| 3), 3);
        p.finish();
    }

    #[test]
    fn shows_only_after_a_second() {
        let wait = Duration::from_millis(100);
        let p = Progress::with_target(10_000_000_000, ProgressDrawTarget::hidden(), wait);
        p.tick(1_000_000_000);
        assert!(!p.is_visible());
        std::thread::sleep(wait + Duration::from_millis(10));
        p.tick(2_000_000_000);
        assert!(p.is_visible());
        let i = p.inner.as_ref().unwrap();
        assert_eq!(i.bar.position(), 2000);
        p.finish();
        assert!(!p.is_visible());
    }
}
