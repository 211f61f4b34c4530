//! Ctrl-C during apply: the first press stops starting new operations and lets running ones finish (so state
//! stays true); the second exits at once with code 130.
//!
//! The decision logic is a small state machine driven by a channel of "interrupt" ticks, so it is tested without
//! sending real signals; [`install`] only connects `tokio::signal::ctrl_c` to that channel. This module tells the
//! user what is happening through [`Hooks`] (the progress renderer), never by printing itself, and must not touch
//! state or the cloud.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::apply::executor::Stop;
use crate::apply::hooks::{Event, Hooks, Level};

/// The exit code after a second Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// What to do about one Ctrl-C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// First press: stop starting work, wait for what is running.
    Stopping,
    /// Second press: leave now.
    ExitNow,
}

/// Counts presses.
#[derive(Debug, Default)]
pub struct CtrlC {
    presses: u32,
}

impl CtrlC {
    /// No press yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One more press.
    pub fn press(&mut self) -> Interrupt {
        self.presses += 1;
        if self.presses == 1 {
            Interrupt::Stopping
        } else {
            Interrupt::ExitNow
        }
    }
}

/// The notice shown on the first press.
pub fn stopping_message(running: usize) -> String {
    let ops = if running == 1 {
        "operation"
    } else {
        "operations"
    };
    format!(
        "stopping: waiting for {running} running {ops}; press Ctrl-C again to exit now (state stays valid)"
    )
}

/// Handles interrupt ticks from `ticks` until it closes: fires `stop` and tells `hooks` on the first, calls `exit`
/// on the second. `running` reports how many operations are in flight at the moment of the press.
pub async fn drive(
    mut ticks: mpsc::Receiver<()>,
    stop: Stop,
    running: Arc<dyn Fn() -> usize + Send + Sync>,
    hooks: Arc<dyn Hooks>,
    exit: Arc<dyn Fn(i32) + Send + Sync>,
) {
    let mut ctrl_c = CtrlC::new();
    while ticks.recv().await.is_some() {
        match ctrl_c.press() {
            Interrupt::Stopping => {
                stop.fire();
                hooks.on_event(&Event::Message {
                    level: Level::Warn,
                    text: stopping_message(running()),
                });
            }
            Interrupt::ExitNow => {
                hooks.on_event(&Event::Message {
                    level: Level::Error,
                    text: "interrupted: exiting now; re-run apply to adopt operations still running in Azure"
                        .into(),
                });
                exit(EXIT_INTERRUPTED);
                return;
            }
        }
    }
}

/// Installs the process's Ctrl-C handler for one apply. Abort the returned task when the apply ends.
pub fn install(
    stop: Stop,
    running: Arc<dyn Fn() -> usize + Send + Sync>,
    hooks: Arc<dyn Hooks>,
) -> JoinHandle<()> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        // If the handler cannot be installed there is nothing to forward; apply still runs, just without a graceful
        // stop (the default SIGINT action then ends the process).
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(()).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(drive(
        rx,
        stop,
        running,
        hooks,
        Arc::new(|code| std::process::exit(code)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::hooks::RecordingHooks;
    use std::sync::Mutex;

    #[test]
    fn presses_escalate() {
        let mut c = CtrlC::new();
        assert_eq!(c.press(), Interrupt::Stopping);
        assert_eq!(c.press(), Interrupt::ExitNow);
        assert_eq!(c.press(), Interrupt::ExitNow);
        assert_eq!(
            stopping_message(1),
            "stopping: waiting for 1 running operation; press Ctrl-C again to exit now (state stays valid)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn first_press_stops_second_exits_130() {
        let (tx, rx) = mpsc::channel(4);
        let stop = Stop::new();
        let hooks = Arc::new(RecordingHooks::new());
        let exits = Arc::new(Mutex::new(Vec::new()));
        let exits2 = exits.clone();
        let task = tokio::spawn(drive(
            rx,
            stop.clone(),
            Arc::new(|| 3),
            hooks.clone(),
            Arc::new(move |c| exits2.lock().unwrap().push(c)),
        ));
        tx.send(()).await.unwrap();
        tokio::task::yield_now().await;
        while hooks.events().is_empty() {
            tokio::task::yield_now().await;
        }
        assert!(stop.fired());
        assert!(exits.lock().unwrap().is_empty(), "one press does not exit");
        assert_eq!(
            hooks.events(),
            [Event::Message {
                level: Level::Warn,
                text: stopping_message(3)
            }]
        );
        tx.send(()).await.unwrap();
        task.await.unwrap();
        assert_eq!(*exits.lock().unwrap(), [EXIT_INTERRUPTED]);
        assert_eq!(hooks.events().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_channel_ends_quietly() {
        let (tx, rx) = mpsc::channel(1);
        drop(tx);
        let stop = Stop::new();
        drive(
            rx,
            stop.clone(),
            Arc::new(|| 0),
            Arc::new(RecordingHooks::new()),
            Arc::new(|_| panic!("must not exit")),
        )
        .await;
        assert!(!stop.fired());
    }
}
