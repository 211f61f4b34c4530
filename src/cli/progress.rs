//! Rendering apply progress: a live display on a terminal, plain timestamped lines otherwise, JSON lines with
//! `--json`.
//!
//! Each renderer is a [`Hooks`] implementation fed by the engine. Timestamps come from an injected [`Clock`] so a
//! scripted event sequence renders identically in tests. The JSON form is documented in `docs/events.md`. This
//! module decides how events look, never what happens: it must not touch state or the cloud, and a failed write to
//! the output is ignored (progress must never fail an apply).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

use crate::apply::hooks::{Event, Hooks, Level, OperationOutcome};
use crate::clock::Clock;

/// Which renderer to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// indicatif multi-line display (a terminal).
    Live,
    /// One timestamped line per event.
    Plain,
    /// One JSON object per line per event.
    Json,
}

impl ProgressMode {
    /// `--json` wins; otherwise live on a terminal, plain lines elsewhere (CI logs, pipes).
    pub fn choose(json: bool, interactive: bool) -> Self {
        if json {
            ProgressMode::Json
        } else if interactive {
            ProgressMode::Live
        } else {
            ProgressMode::Plain
        }
    }
}

/// The renderer for `mode`, writing plain and JSON lines to `out` (the live display draws on stderr).
pub fn hooks_for(
    mode: ProgressMode,
    out: Box<dyn Write + Send>,
    clock: Arc<dyn Clock>,
) -> Arc<dyn Hooks> {
    match mode {
        ProgressMode::Live => Arc::new(LiveHooks::new(ProgressDrawTarget::stderr())),
        ProgressMode::Plain => Arc::new(PlainHooks::new(out, clock)),
        ProgressMode::Json => Arc::new(JsonHooks::new(out, clock)),
    }
}

fn timestamp(clock: &dyn Clock) -> String {
    // Whole seconds: sub-second digits only add noise to logs.
    let now = clock.now();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_else(|_| now.to_string())
}

/// `12s`, `3m05s`, `1h02m`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// The text of an event for the plain renderer, `None` for events it does not show.
pub fn plain_text(event: &Event) -> Option<String> {
    Some(match event {
        Event::PlanStarted { resources } => format!("plan: refreshing {resources} resources"),
        Event::ApplyStarted { total } => format!("apply: {total} operations"),
        Event::OperationStarted { address, operation } => format!("{address}: {operation} started"),
        Event::Progress {
            address,
            operation,
            job_state,
            percent,
            elapsed,
        } => {
            let mut s = format!("{address}: {operation}");
            if let Some(state) = job_state {
                s.push_str(&format!(" {state}"));
            }
            if let Some(p) = percent {
                s.push_str(&format!(" {p}%"));
            }
            s.push_str(&format!(" ({} elapsed)", human_duration(*elapsed)));
            s
        }
        Event::OperationFinished {
            address,
            operation,
            outcome,
            elapsed,
        } => match outcome {
            OperationOutcome::Applied => {
                format!(
                    "{address}: {operation} complete after {}",
                    human_duration(*elapsed)
                )
            }
            OperationOutcome::Failed(error) => format!(
                "{address}: {operation} FAILED after {}: {error}",
                human_duration(*elapsed)
            ),
            OperationOutcome::Skipped { because } => {
                format!("{address}: {operation} skipped: {because}")
            }
        },
        Event::Retry {
            address,
            reason,
            delay,
        } => {
            let who = address
                .as_deref()
                .map_or(String::new(), |a| format!("{a}: "));
            format!("{who}retrying in {}: {reason}", human_duration(*delay))
        }
        Event::StateSaved { serial } => format!("state saved (serial {serial})"),
        Event::Message { level, text } => match level {
            Level::Info => text.clone(),
            Level::Warn => format!("warning: {text}"),
            Level::Error => format!("error: {text}"),
        },
        Event::ApplyFinished {
            applied,
            failed,
            skipped,
        } => format!("apply finished: {applied} applied, {failed} failed, {skipped} skipped"),
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// An operation: address and operation name.
type OpKey = (String, String);

/// The job state and percentage an operation's last printed poll showed.
type LastPoll = (Option<String>, Option<u8>);

/// Plain lines: `2026-01-01T00:00:05Z protected_vm.app["db01"]: enable_protection started`.
///
/// A poll that reports the same job state and percentage as the previous one for that operation prints nothing:
/// CI logs would otherwise fill with identical lines every few seconds of a long replication.
pub struct PlainHooks {
    out: Mutex<Box<dyn Write + Send>>,
    clock: Arc<dyn Clock>,
    last_progress: Mutex<BTreeMap<OpKey, LastPoll>>,
}

impl PlainHooks {
    /// Writes to `out`, stamping lines with `clock`.
    pub fn new(out: Box<dyn Write + Send>, clock: Arc<dyn Clock>) -> Self {
        Self {
            out: Mutex::new(out),
            clock,
            last_progress: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Hooks for PlainHooks {
    fn on_event(&self, event: &Event) {
        match event {
            // StateSaved after every operation would double the log for no insight; JSON consumers still get it.
            Event::StateSaved { .. } => return,
            Event::Progress {
                address,
                operation,
                job_state,
                percent,
                ..
            } => {
                let seen = (job_state.clone(), *percent);
                let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
                let key = (address.clone(), operation.clone());
                if last.get(&key) == Some(&seen) {
                    return;
                }
                last.insert(key, seen);
            }
            _ => {}
        }
        if let Some(text) = plain_text(event) {
            let line = format!("{} {text}\n", timestamp(self.clock.as_ref()));
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }
}

/// JSON lines: the event's own fields plus `time` (see `docs/events.md`).
pub struct JsonHooks {
    out: Mutex<Box<dyn Write + Send>>,
    clock: Arc<dyn Clock>,
}

impl JsonHooks {
    /// Writes to `out`, stamping events with `clock`.
    pub fn new(out: Box<dyn Write + Send>, clock: Arc<dyn Clock>) -> Self {
        Self {
            out: Mutex::new(out),
            clock,
        }
    }
}

/// One event as the JSON object `--json` prints.
pub fn event_json(event: &Event, time: &str) -> Value {
    let mut obj = Map::new();
    obj.insert("time".into(), Value::String(time.to_string()));
    if let Ok(Value::Object(fields)) = serde_json::to_value(event) {
        obj.extend(fields);
    }
    Value::Object(obj)
}

impl Hooks for JsonHooks {
    fn on_event(&self, event: &Event) {
        let line = event_json(event, &timestamp(self.clock.as_ref())).to_string() + "\n";
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

/// Counts shown on the overall bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Succeeded.
    pub applied: usize,
    /// Failed.
    pub failed: usize,
    /// Not run.
    pub skipped: usize,
}

struct Live {
    overall: Option<ProgressBar>,
    running: BTreeMap<(String, String), ProgressBar>,
    counts: Counts,
}

/// The live terminal display: one spinner line per running operation and an overall bar. Messages and finished
/// operations print above the bars through indicatif, so they never interleave with a half-drawn frame.
pub struct LiveHooks {
    multi: MultiProgress,
    live: Mutex<Live>,
}

impl LiveHooks {
    /// A display drawing to `target` (`ProgressDrawTarget::hidden()` in tests).
    pub fn new(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            live: Mutex::new(Live {
                overall: None,
                running: BTreeMap::new(),
                counts: Counts::default(),
            }),
        }
    }

    /// Runs `f` with the bars hidden, so whatever it prints lands above them instead of through a frame.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }

    /// Applied/failed/skipped so far.
    pub fn counts(&self) -> Counts {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).counts
    }

    /// Operations currently shown as running.
    pub fn running(&self) -> usize {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running
            .len()
    }

    fn overall_message(c: Counts) -> String {
        format!(
            "{} applied, {} failed, {} skipped",
            c.applied, c.failed, c.skipped
        )
    }
}

fn op_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn overall_style() -> ProgressStyle {
    ProgressStyle::with_template("[{bar:30}] {pos}/{len} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Hooks for LiveHooks {
    fn on_event(&self, event: &Event) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::ApplyStarted { total } => {
                let bar = self.multi.add(ProgressBar::new(*total as u64));
                bar.set_style(overall_style());
                bar.set_message(Self::overall_message(live.counts));
                live.overall = Some(bar);
            }
            Event::OperationStarted { address, operation } => {
                let bar = match &live.overall {
                    // Running operations sit above the overall bar, which stays last.
                    Some(overall) => self
                        .multi
                        .insert_before(overall, ProgressBar::new_spinner()),
                    None => self.multi.add(ProgressBar::new_spinner()),
                };
                bar.set_style(op_style());
                if !self.multi.is_hidden() {
                    // Keeps the spinner moving between polls, which may be a minute apart.
                    bar.enable_steady_tick(Duration::from_millis(250));
                }
                bar.set_prefix(format!("{address}: {operation}"));
                bar.set_message("started");
                live.running
                    .insert((address.clone(), operation.clone()), bar);
            }
            Event::Progress {
                address,
                operation,
                job_state,
                percent,
                elapsed,
            } => {
                if let Some(bar) = live.running.get(&(address.clone(), operation.clone())) {
                    let mut msg = job_state.clone().unwrap_or_default();
                    if let Some(p) = percent {
                        msg.push_str(&format!(" {p}%"));
                    }
                    msg.push_str(&format!(" {}", human_duration(*elapsed)));
                    bar.set_message(msg.trim().to_string());
                    bar.tick();
                }
            }
            Event::OperationFinished {
                address,
                operation,
                outcome,
                ..
            } => {
                if let Some(bar) = live.running.remove(&(address.clone(), operation.clone())) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                match outcome {
                    OperationOutcome::Applied => live.counts.applied += 1,
                    OperationOutcome::Failed(_) => live.counts.failed += 1,
                    OperationOutcome::Skipped { .. } => live.counts.skipped += 1,
                }
                if let Some(text) = plain_text(event) {
                    let _ = self.multi.println(text);
                }
                if let Some(overall) = &live.overall {
                    overall.inc(1);
                    overall.set_message(Self::overall_message(live.counts));
                }
            }
            Event::ApplyFinished { .. } => {
                for (_, bar) in std::mem::take(&mut live.running) {
                    bar.finish_and_clear();
                }
                if let Some(overall) = live.overall.take() {
                    overall.finish_with_message(Self::overall_message(live.counts));
                }
                if let Some(text) = plain_text(event) {
                    let _ = self.multi.println(text);
                }
            }
            Event::StateSaved { .. } => {}
            other => {
                if let Some(text) = plain_text(other) {
                    let _ = self.multi.println(text);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(5)), "5s");
        assert_eq!(human_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(human_duration(Duration::from_secs(3720)), "1h02m");
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn plain_skips_repeated_identical_polls() {
        let buf = Buf::default();
        let clock = Arc::new(crate::clock::ScaledClock::new(
            time::OffsetDateTime::UNIX_EPOCH,
            1.0,
        ));
        let hooks = PlainHooks::new(Box::new(buf.clone()), clock);
        let poll = |state: &str, percent: u8, secs: u64| Event::Progress {
            address: "vault.dr".into(),
            operation: "create".into(),
            job_state: Some(state.into()),
            percent: Some(percent),
            elapsed: Duration::from_secs(secs),
        };
        for e in [
            poll("InProgress", 10, 5),
            poll("InProgress", 10, 10),
            poll("InProgress", 20, 15),
            poll("InProgress", 20, 20),
            poll("Succeeded", 100, 25),
        ] {
            hooks.on_event(&e);
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[2].ends_with("vault.dr: create Succeeded 100% (25s elapsed)"));
    }

    #[test]
    fn mode_choice() {
        assert_eq!(ProgressMode::choose(true, true), ProgressMode::Json);
        assert_eq!(ProgressMode::choose(false, true), ProgressMode::Live);
        assert_eq!(ProgressMode::choose(false, false), ProgressMode::Plain);
    }
}
