//! `asrform sim …`: the operator commands of the simulated Azure (generate an estate, init the store, status,
//! advance the clock, outages, faults, serve over HTTP).
//!
//! Owns argument parsing (clap) and the text written to `out`; every state change goes through
//! [`crate::sim::SimStore`] and [`crate::sim::Simulator`]. It must not implement simulator behaviour.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use crate::estate::{self, GenerateOptions};
use crate::sim::{FaultSet, SimConfig, SimError, SimStore, Simulator};

/// How long a command waits for another process holding the store.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// `asrform sim` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SimCommand {
    /// Write a generated estate file (deterministic for a seed).
    Generate {
        /// Number of VMs.
        #[arg(long)]
        vms: usize,
        /// Source subscriptions to spread them over.
        #[arg(long, default_value_t = 1)]
        subscriptions: usize,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Source region.
        #[arg(long, default_value = "eastus")]
        region: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Create the simulator store from an estate file (replaces an existing one).
    Init {
        /// Estate file.
        #[arg(long)]
        estate: PathBuf,
        /// Simulated seconds per wall second.
        #[arg(long, default_value_t = 60.0)]
        clock_speed: f64,
        /// Simulated start time (RFC 3339).
        #[arg(long, default_value = "2026-01-01T00:00:00Z")]
        start: String,
    },
    /// Show the clock, resource counts, regions down and protected items by state.
    Status,
    /// Move the simulated clock forward, e.g. `30m`, `2h`, `90s`, `1d`.
    Advance {
        /// Duration.
        duration: String,
    },
    /// Take a region down: its resources answer 503 and its VMs stop.
    Outage {
        /// Region name.
        region: String,
    },
    /// Bring a region back.
    Restore {
        /// Region name.
        region: String,
    },
    /// Load fault rules from a JSON file, or clear them.
    Faults {
        /// Fault file.
        #[arg(required_unless_present = "clear")]
        file: Option<PathBuf>,
        /// Remove all rules.
        #[arg(long, conflicts_with = "file")]
        clear: bool,
    },
    /// Serve the simulator over HTTP on 127.0.0.1 until interrupted.
    Serve {
        /// Port (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Simulated seconds per wall second while serving (default: the stored speed).
        #[arg(long)]
        clock_speed: Option<f64>,
    },
}

/// Parses `30m`, `2h`, `90s`, `1d`, `1h30m` (the configuration language's durations), at most 100 years so the
/// simulated timeline cannot overflow.
pub fn parse_duration(text: &str) -> Result<Duration, SimError> {
    let bad = |message: String| SimError::Input {
        at: format!("duration `{text}`"),
        message,
    };
    let d = crate::config::values::parse_duration(text).map_err(bad)?;
    if d.as_secs() > 3_200_000_000 {
        return Err(bad("at most 100 years".into()));
    }
    Ok(d)
}

fn out_err(e: std::io::Error) -> SimError {
    SimError::Output(e)
}

fn with_store<T>(
    dir: &Path,
    f: impl FnOnce(&SimStore, &Simulator, f64) -> Result<T, SimError>,
) -> Result<T, SimError> {
    let store = SimStore::open(dir, LOCK_WAIT)?;
    let wall = OffsetDateTime::now_utc();
    let (sim, speed) = store.simulator(wall, None)?;
    let out = f(&store, &sim, speed)?;
    store.save_simulator(&sim, OffsetDateTime::now_utc(), speed)?;
    Ok(out)
}

/// Runs one `sim` command against the store under `dir` (the configuration directory).
pub async fn run(
    cmd: &SimCommand,
    dir: &Path,
    out: &mut dyn std::io::Write,
) -> Result<(), SimError> {
    match cmd {
        SimCommand::Generate {
            vms,
            subscriptions,
            seed,
            region,
            out: file,
        } => {
            if crate::region::canonical(region).is_none() {
                return Err(SimError::Input {
                    at: "--region".into(),
                    message: format!("unknown region `{region}`"),
                });
            }
            if *vms == 0 {
                return Err(SimError::Input {
                    at: "--vms".into(),
                    message: "must be at least 1".into(),
                });
            }
            let opts = GenerateOptions {
                vms: *vms,
                subscriptions: *subscriptions,
                region: region.clone(),
                seed: *seed,
            };
            let e = estate::generate(&opts);
            let text = serde_json::to_string_pretty(&e).map_err(|err| SimError::Input {
                at: "estate".into(),
                message: err.to_string(),
            })?;
            std::fs::write(file, text).map_err(out_err)?;
            writeln!(out, "wrote {} ({opts})", file.display()).map_err(out_err)?;
        }
        SimCommand::Init {
            estate: file,
            clock_speed,
            start,
        } => {
            if !(clock_speed.is_finite() && *clock_speed > 0.0) {
                return Err(SimError::Input {
                    at: "--clock-speed".into(),
                    message: "must be a positive number".into(),
                });
            }
            let start =
                OffsetDateTime::parse(start, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| SimError::Input {
                        at: "--start".into(),
                        message: format!("not an RFC 3339 time: {e}"),
                    })?;
            let e = estate::load(file)?;
            SimStore::init(
                dir,
                &e,
                SimConfig::default(),
                *clock_speed,
                start,
                LOCK_WAIT,
            )?;
            writeln!(
                out,
                "simulator initialised from {} ({} VMs) in {}",
                file.display(),
                e.vms().count(),
                SimStore::dir_for(dir).display()
            )
            .map_err(out_err)?;
        }
        SimCommand::Status => {
            let status = with_store(dir, |_, sim, speed| {
                let mut s = sim.status();
                s["clockSpeed"] = serde_json::json!(speed);
                Ok(s)
            })?;
            writeln!(
                out,
                "simulated time: {}  (speed {}x)",
                status["now"].as_str().unwrap_or(""),
                status["clockSpeed"]
            )
            .map_err(out_err)?;
            let down: Vec<&str> = status["regionsDown"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            writeln!(
                out,
                "regions down: {}",
                if down.is_empty() {
                    "none".to_string()
                } else {
                    down.join(", ")
                }
            )
            .map_err(out_err)?;
            writeln!(out, "resources:").map_err(out_err)?;
            for (k, v) in status["resources"].as_object().into_iter().flatten() {
                writeln!(out, "  {k:<90} {v}").map_err(out_err)?;
            }
            writeln!(out, "protected items:").map_err(out_err)?;
            for (k, v) in status["protectedItems"].as_object().into_iter().flatten() {
                writeln!(out, "  {k:<40} {v}").map_err(out_err)?;
            }
            writeln!(
                out,
                "jobs running: {} of {}; requests served: {}",
                status["jobsRunning"], status["jobsTotal"], status["requests"]
            )
            .map_err(out_err)?;
        }
        SimCommand::Advance { duration } => {
            let d = parse_duration(duration)?;
            let now = with_store(dir, |_, sim, _| {
                sim.advance(d);
                Ok(sim.now())
            })?;
            writeln!(out, "simulated time is now {}", crate::sim::world::ts(now))
                .map_err(out_err)?;
        }
        SimCommand::Outage { region } | SimCommand::Restore { region } => {
            let down = matches!(cmd, SimCommand::Outage { .. });
            let r = crate::region::canonical(&region.to_ascii_lowercase()).ok_or_else(|| {
                SimError::Input {
                    at: "REGION".into(),
                    message: format!("unknown region `{region}`"),
                }
            })?;
            with_store(dir, |_, sim, _| {
                sim.set_outage(r, down);
                Ok(())
            })?;
            writeln!(out, "region {r} is {}", if down { "down" } else { "up" }).map_err(out_err)?;
        }
        SimCommand::Faults { file, clear } => {
            let set = match (file, clear) {
                (_, true) => FaultSet::default(),
                (Some(f), false) => {
                    let text = std::fs::read_to_string(f).map_err(|e| SimError::Input {
                        at: f.display().to_string(),
                        message: e.to_string(),
                    })?;
                    FaultSet::parse(&text).map_err(|m| SimError::Input {
                        at: f.display().to_string(),
                        message: m,
                    })?
                }
                (None, false) => {
                    return Err(SimError::Input {
                        at: "FILE".into(),
                        message: "give a fault file or --clear".into(),
                    });
                }
            };
            let n = set.rules.len();
            with_store(dir, |_, sim, _| {
                sim.set_faults(set);
                Ok(())
            })?;
            writeln!(out, "{n} fault rule(s) active").map_err(out_err)?;
        }
        SimCommand::Serve { port, clock_speed } => {
            if let Some(s) = clock_speed
                && !(s.is_finite() && *s > 0.0)
            {
                return Err(SimError::Input {
                    at: "--clock-speed".into(),
                    message: "must be a positive number".into(),
                });
            }
            // The lock is held for the whole serve so no other command changes the world underneath.
            let store = SimStore::open(dir, LOCK_WAIT)?;
            let (sim, speed) = store.simulator(OffsetDateTime::now_utc(), *clock_speed)?;
            let handle =
                crate::sim::serve(sim.clone(), SocketAddr::from((Ipv4Addr::LOCALHOST, *port)))
                    .await?;
            writeln!(
                out,
                "simulator listening on {} (clock speed {speed}x); Ctrl-C to stop",
                handle.url()
            )
            .map_err(out_err)?;
            out.flush().map_err(out_err)?;
            // Save every few seconds too, so a killed server loses little simulated history.
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            let stop = tokio::signal::ctrl_c();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tick.tick() => store.save_simulator(&sim, OffsetDateTime::now_utc(), speed)?,
                }
            }
            handle.stop().await;
            store.save_simulator(&sim, OffsetDateTime::now_utc(), speed)?;
            writeln!(out, "simulator stopped; world saved").map_err(out_err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_reject_garbage() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        for bad in [
            "",
            "30",
            "m",
            "3x",
            "1h30",
            "99999999999999999999d",
            "999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
