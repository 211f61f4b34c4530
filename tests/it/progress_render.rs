//! Apply progress renderers fed a scripted event sequence on a virtual clock: plain lines and JSON lines are
//! snapshotted (and every JSON line is checked against `schemas/events.schema.json`); the live indicatif display
//! runs against a hidden draw target and must end with the right counts.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asrform::apply::hooks::{Event, Hooks, Level, OperationOutcome};
use asrform::cli::progress::{JsonHooks, LiveHooks, PlainHooks};
use asrform::clock::ScaledClock;
use indicatif::ProgressDrawTarget;
use time::macros::datetime;

use crate::common;

/// A `Write` whose bytes the test can read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// An apply of three VMs: db01 succeeds after progress reports, web01 fails, web02 is skipped because of it; a
/// throttling retry and a Ctrl-C notice in between.
fn script() -> Vec<(u64, Event)> {
    let a = |s: &str| format!("protected_vm.app[\"{s}\"]");
    let op = "enable_protection".to_string();
    vec![
        (0, Event::ApplyStarted { total: 3 }),
        (
            0,
            Event::OperationStarted {
                address: a("db01"),
                operation: op.clone(),
            },
        ),
        (
            1,
            Event::OperationStarted {
                address: a("web01"),
                operation: op.clone(),
            },
        ),
        (
            4,
            Event::Retry {
                address: Some(a("web01")),
                reason: "429 Too Many Requests".into(),
                delay: Duration::from_secs(8),
            },
        ),
        (
            30,
            Event::Progress {
                address: a("db01"),
                operation: op.clone(),
                job_state: Some("InProgress".into()),
                percent: Some(40),
                elapsed: Duration::from_secs(35),
            },
        ),
        (
            60,
            Event::OperationFinished {
                address: a("web01"),
                operation: op.clone(),
                outcome: OperationOutcome::Failed(
                    "ASR job failed: the VM agent is not ready".into(),
                ),
                elapsed: Duration::from_secs(94),
            },
        ),
        (
            0,
            Event::OperationFinished {
                address: a("web02"),
                operation: op.clone(),
                outcome: OperationOutcome::Skipped {
                    because: format!("{} failed", a("web01")),
                },
                elapsed: Duration::ZERO,
            },
        ),
        (
            5,
            Event::Message {
                level: Level::Warn,
                text: "stopping: waiting for 1 running operation; press Ctrl-C again to exit now (state stays valid)"
                    .into(),
            },
        ),
        (
            120,
            Event::Progress {
                address: a("db01"),
                operation: op.clone(),
                job_state: Some("Succeeded".into()),
                percent: Some(100),
                elapsed: Duration::from_secs(220),
            },
        ),
        (
            0,
            Event::OperationFinished {
                address: a("db01"),
                operation: op,
                outcome: OperationOutcome::Applied,
                elapsed: Duration::from_secs(220),
            },
        ),
        (0, Event::StateSaved { serial: 12 }),
        (
            0,
            Event::ApplyFinished {
                applied: 1,
                failed: 1,
                skipped: 1,
            },
        ),
    ]
}

fn play(hooks: &dyn Hooks, clock: &ScaledClock) {
    for (advance, event) in script() {
        clock.advance(Duration::from_secs(advance));
        hooks.on_event(&event);
    }
}

fn clock() -> Arc<ScaledClock> {
    Arc::new(ScaledClock::new(datetime!(2026-01-01 00:00:00 UTC), 1.0))
}

#[tokio::test(start_paused = true)]
async fn plain_lines_are_timestamped_by_the_clock() {
    let clock = clock();
    let buf = Buffer::default();
    let hooks = PlainHooks::new(Box::new(buf.clone()), clock.clone());
    play(&hooks, &clock);
    let text = buf.text();
    assert!(
        text.contains(
            "2026-01-01T00:00:01Z protected_vm.app[\"web01\"]: enable_protection started\n"
        ),
        "{text}"
    );
    insta::assert_snapshot!("progress_plain", text);
}

fn events_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(common::path("schemas/events.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("schemas/events.schema.json is a valid schema")
}

#[tokio::test(start_paused = true)]
async fn json_lines_follow_the_event_schema() {
    let clock = clock();
    let buf = Buffer::default();
    let hooks = JsonHooks::new(Box::new(buf.clone()), clock.clone());
    play(&hooks, &clock);
    let text = buf.text();
    let validator = events_validator();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), script().len(), "one line per event");
    for l in &lines {
        let errors: Vec<String> = validator.iter_errors(l).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{l}: {errors:?}");
    }
    // A line missing a required field, or of an unknown event, must not validate: the schema is not vacuous.
    let mut broken = lines[1].clone();
    broken.as_object_mut().unwrap().remove("address");
    assert!(!validator.is_valid(&broken));
    assert!(
        !validator.is_valid(&serde_json::json!({"time": "2026-01-01T00:00:00Z", "event": "nope"}))
    );
    insta::assert_snapshot!("progress_json", text);
}

#[tokio::test(start_paused = true)]
async fn live_display_counts_and_survives_any_order() {
    let clock = clock();
    let live = LiveHooks::new(ProgressDrawTarget::hidden());
    play(&live, &clock);
    let c = live.counts();
    assert_eq!((c.applied, c.failed, c.skipped), (1, 1, 1));
    assert_eq!(live.running(), 0);

    // Events out of any expected order (progress for an unknown operation, finish without start, no ApplyStarted)
    // must neither panic nor miscount.
    let live = LiveHooks::new(ProgressDrawTarget::hidden());
    live.on_event(&Event::Progress {
        address: "x".into(),
        operation: "create".into(),
        job_state: None,
        percent: None,
        elapsed: Duration::ZERO,
    });
    live.on_event(&Event::OperationStarted {
        address: "x".into(),
        operation: "create".into(),
    });
    assert_eq!(live.running(), 1);
    live.on_event(&Event::OperationFinished {
        address: "y".into(),
        operation: "create".into(),
        outcome: OperationOutcome::Applied,
        elapsed: Duration::ZERO,
    });
    live.on_event(&Event::ApplyFinished {
        applied: 1,
        failed: 0,
        skipped: 0,
    });
    assert_eq!(
        live.running(),
        0,
        "finishing the apply clears leftover lines"
    );
    assert_eq!(live.counts().applied, 1);
}
