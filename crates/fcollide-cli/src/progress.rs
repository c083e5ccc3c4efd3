//! Progress on stderr for the library's [`Progress`] trait.
//!
//! - On a terminal: one indicatif bar per phase (`label [elapsed] ▕███  ▏ pos/len (eta) msg`).
//! - Otherwise (a log file, CI, a cluster job): a plain line at most every
//!   [`plain_interval`] (10 s; `FCOLLIDE_PROGRESS_SECS` sets another), saying what runs, how
//!   far it is and the ETA (`fc1 vertices: 1200/3000 (40 %), 12 s elapsed, eta 18 s, L+ …`),
//!   and a last line when a phase that took 2 s or more ends.
//! - `--quiet`: nothing.
//!
//! A phase always ends on a line of its own: a new phase ends the one before it, and
//! [`end_phase`] (called before anything is written to stdout) ends the one running, so no
//! bar runs into the next line.
use fcollide::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set by the Ctrl-C handler; long loops check it through [`Progress::cancelled`].
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler: the first Ctrl-C asks the running loop to save and stop, a
/// second one exits at once.
pub fn install_ctrlc() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        end_phase();
        eprintln!("interrupted: saving a checkpoint (Ctrl-C again to quit now)");
    });
}

/// The running phase, process-wide (one progress display per process).
static PHASE: Mutex<Option<Phase>> = Mutex::new(None);

/// One phase: a bar on a terminal, or the state of the plain lines.
enum Phase {
    Bar(ProgressBar),
    Plain(Plain),
}

/// A phase reported by plain lines.
struct Plain {
    label: String,
    total: u64,
    pos: u64,
    msg: String,
    started: Instant,
    last_line: Instant,
}

impl Plain {
    /// `label: pos/total (pct %), elapsed, eta, msg`.
    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut s = format!("{}: {}/{}", self.label, self.pos, self.total);
        if self.total > 0 {
            let share = self.pos.min(self.total) as f64 / self.total as f64;
            s += &format!(" ({:.0} %)", 100.0 * share);
        }
        s += &format!(", {} elapsed", seconds(elapsed));
        if self.pos > 0 && self.pos < self.total {
            let eta = elapsed * (self.total - self.pos) as f64 / self.pos as f64;
            s += &format!(", eta {}", seconds(eta));
        }
        if !self.msg.is_empty() {
            s += &format!(", {}", self.msg);
        }
        s
    }
}

/// `12 s`, `3 min 05 s`, `2 h 04 min`.
fn seconds(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// The time between two plain progress lines: 10 s, or `FCOLLIDE_PROGRESS_SECS`.
pub fn plain_interval() -> Duration {
    std::env::var("FCOLLIDE_PROGRESS_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(10))
}

/// A plain phase that took at least this long says so when it ends.
const PLAIN_END_LINE: Duration = Duration::from_secs(2);

/// Ends the running phase, if any, leaving the cursor at the start of a fresh line.
pub fn end_phase() {
    let phase = PHASE.lock().unwrap_or_else(|e| e.into_inner()).take();
    match phase {
        Some(Phase::Bar(bar)) => bar.finish(),
        Some(Phase::Plain(p)) if p.started.elapsed() >= PLAIN_END_LINE => {
            eprintln!("{} (done)", p.line());
        }
        Some(Phase::Plain(_)) | None => {}
    }
}

/// Reports each phase on stderr (see the module docs), or nothing when quiet.
pub struct Bars {
    quiet: bool,
    terminal: bool,
    interval: Duration,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            interval: plain_interval(),
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        end_phase();
    }
}

impl Progress for Bars {
    fn start(&self, label: &str, total: u64) {
        if self.quiet {
            return;
        }
        end_phase();
        let phase = if self.terminal {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>18} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta}) {msg}",
                )
                .expect("valid template"),
            );
            bar.set_prefix(label.to_string());
            Phase::Bar(bar)
        } else {
            let now = Instant::now();
            Phase::Plain(Plain {
                label: label.to_string(),
                total,
                pos: 0,
                msg: String::new(),
                started: now,
                last_line: now,
            })
        };
        *PHASE.lock().unwrap_or_else(|e| e.into_inner()) = Some(phase);
    }

    fn advance(&self, n: u64, msg: &str) {
        let mut phase = PHASE.lock().unwrap_or_else(|e| e.into_inner());
        match phase.as_mut() {
            Some(Phase::Bar(bar)) => {
                bar.inc(n);
                bar.set_message(msg.to_string());
            }
            Some(Phase::Plain(p)) => {
                p.pos += n;
                p.msg.clear();
                p.msg.push_str(msg);
                if p.last_line.elapsed() >= self.interval {
                    p.last_line = Instant::now();
                    eprintln!("{}", p.line());
                }
            }
            None => {}
        }
    }

    fn finish(&self) {
        end_phase();
    }

    fn cancelled(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_says_what_how_far_and_eta() {
        let started = Instant::now() - Duration::from_secs(10);
        let p = Plain {
            label: "fc1 vertices".into(),
            total: 3000,
            pos: 1000,
            msg: "max L+ 1e-3".into(),
            started,
            last_line: started,
        };
        let l = p.line();
        assert!(
            l.starts_with("fc1 vertices: 1000/3000 (33 %), 10 s elapsed, eta 20 s"),
            "{l}"
        );
        assert!(l.ends_with(", max L+ 1e-3"), "{l}");
    }

    #[test]
    fn durations_read_as_seconds_minutes_hours() {
        assert_eq!(seconds(4.4), "4 s");
        assert_eq!(seconds(185.0), "3 min 05 s");
        assert_eq!(seconds(7440.0), "2 h 04 min");
    }
}
