//! Persistence of the simulated world between CLI commands: `<config dir>/.asrform/sim/world.json`, written
//! atomically (temp file + rename), guarded by an exclusive lock file so two processes never interleave.
//!
//! Owns the file layout, the lock (fs4; the holder writes its pid into the lock file so a waiter can name it) and
//! the persisted clock: the simulated time and the wall time of the save, so that on load
//! `now = saved + elapsed wall time × speed` and time passes between commands. It must not interpret the world.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Simulator, World};
use crate::clock::ScaledClock;

/// Store errors; each names the file involved.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StoreError {
    /// Another process holds the lock.
    #[error("the simulator store {path} is locked by process {holder} (waited {waited:?})")]
    #[diagnostic(
        code(asrform::sim::locked),
        help("wait for the other asrform command to finish, or stop `asrform sim serve`")
    )]
    Locked {
        /// Lock file.
        path: PathBuf,
        /// Pid written by the holder (or "unknown").
        holder: String,
        /// How long we waited.
        waited: Duration,
    },
    /// No store yet.
    #[error("no simulator store at {0}")]
    #[diagnostic(
        code(asrform::sim::no_store),
        help("create one with `asrform sim init --estate FILE`")
    )]
    Missing(PathBuf),
    /// I/O failure.
    #[error("simulator store {path}: {source}")]
    #[diagnostic(code(asrform::sim::io))]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid store.
    #[error("simulator store {path} is corrupt: {message}")]
    #[diagnostic(
        code(asrform::sim::corrupt),
        help("delete it and run `asrform sim init` again")
    )]
    Corrupt {
        /// File.
        path: PathBuf,
        /// Parser message with line and column.
        message: String,
    },
}

/// What is saved: the world plus the persisted clock.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    /// Store format version.
    pub version: u32,
    /// Simulated time at the save.
    #[serde(with = "time::serde::rfc3339")]
    pub sim_time: OffsetDateTime,
    /// Wall time of the save.
    #[serde(with = "time::serde::rfc3339")]
    pub wall_time: OffsetDateTime,
    /// Clock speed (simulated seconds per wall second).
    pub speed: f64,
    /// The world.
    pub world: World,
}

/// An open, locked store. The lock is released on drop.
#[derive(Debug)]
pub struct SimStore {
    dir: PathBuf,
    lock: File,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl SimStore {
    /// `<config dir>/.asrform/sim`.
    pub fn dir_for(config_dir: &Path) -> PathBuf {
        config_dir.join(".asrform").join("sim")
    }

    /// Whether a world has been saved under `config_dir`.
    pub fn exists(config_dir: &Path) -> bool {
        Self::dir_for(config_dir).join("world.json").is_file()
    }

    /// Opens (creating the directory) and locks the store, waiting up to `wait` for another holder.
    pub fn open(config_dir: &Path, wait: Duration) -> Result<Self, StoreError> {
        let dir = Self::dir_for(config_dir);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join("lock");
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        let started = Instant::now();
        loop {
            if lock.try_lock_exclusive().map_err(io(&lock_path))? {
                break;
            }
            if started.elapsed() >= wait {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                let holder = holder.trim().to_string();
                return Err(StoreError::Locked {
                    path: lock_path,
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder
                    },
                    waited: started.elapsed(),
                });
            }
            // Cross-process wait: a real wall-clock pause, bounded by `wait` (tests pass zero).
            std::thread::sleep(Duration::from_millis(50).min(wait));
        }
        lock.set_len(0).map_err(io(&lock_path))?;
        lock.seek(SeekFrom::Start(0)).map_err(io(&lock_path))?;
        write!(lock, "{}", std::process::id()).map_err(io(&lock_path))?;
        lock.flush().map_err(io(&lock_path))?;
        Ok(Self { dir, lock })
    }

    fn world_path(&self) -> PathBuf {
        self.dir.join("world.json")
    }

    /// Reads the saved world.
    pub fn load(&self) -> Result<Saved, StoreError> {
        let path = self.world_path();
        if !path.is_file() {
            return Err(StoreError::Missing(path));
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path,
            message: format!("line {} column {}: {e}", e.line(), e.column()),
        })
    }

    /// Writes the world atomically (temp file in the same directory, then rename).
    pub fn save(&self, saved: &Saved) -> Result<(), StoreError> {
        let path = self.world_path();
        let tmp = self
            .dir
            .join(format!("world.json.tmp-{}", std::process::id()));
        let text = serde_json::to_vec(saved).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&text).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(())
    }

    /// Loads the world into a simulator whose clock continues from the save: `now = saved + elapsed wall × speed`,
    /// running at `speed` (the saved speed when `None`).
    pub fn simulator(
        &self,
        wall_now: OffsetDateTime,
        speed: Option<f64>,
    ) -> Result<(Simulator, f64), StoreError> {
        let saved = self.load()?;
        let elapsed = (wall_now - saved.wall_time).max(time::Duration::ZERO);
        let now = saved.sim_time + elapsed * saved.speed;
        let speed = speed.unwrap_or(saved.speed);
        let clock = Arc::new(ScaledClock::new(now, speed));
        let sim = Simulator::from_world(saved.world, clock);
        let t = sim.now();
        sim.world().settle(t);
        Ok((sim, speed))
    }

    /// Saves `sim` with its current time, the wall time `wall_now` and `speed`.
    pub fn save_simulator(
        &self,
        sim: &Simulator,
        wall_now: OffsetDateTime,
        speed: f64,
    ) -> Result<(), StoreError> {
        let world = sim.world().clone();
        self.save(&Saved {
            version: 1,
            sim_time: sim.now(),
            wall_time: wall_now,
            speed,
            world,
        })
    }
}

impl SimStore {
    /// Creates (or replaces) the store under `config_dir` with a world seeded from `estate`, its clock at `start`
    /// running at `speed`. This is what `asrform sim init` does; the CLI also calls it when a configuration's
    /// provider block asks for the simulator and no store exists yet.
    pub fn init(
        config_dir: &Path,
        estate: &crate::estate::Estate,
        config: super::SimConfig,
        speed: f64,
        start: OffsetDateTime,
        wait: Duration,
    ) -> Result<Self, StoreError> {
        let store = Self::open(config_dir, wait)?;
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let clock = Arc::new(ScaledClock::new(start, speed));
        let sim = Simulator::from_estate(estate, clock, config);
        store.save_simulator(&sim, OffsetDateTime::now_utc(), speed)?;
        Ok(store)
    }
}

impl Drop for SimStore {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.lock);
    }
}
