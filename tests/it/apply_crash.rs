//! Crash safety end to end: `asrform apply` runs against an `asrform sim serve` in another process (over
//! loopback) and is killed with SIGKILL at seeded random points across the apply. After every kill a re-run
//! converges (the next plan is a no-op), the state file is valid (schema and `State::from_json`), and the
//! simulator's request log shows no duplicated work: one successful create per ARM object and one enable-protection
//! PUT per VM. Each round then destroys everything so the next kill lands on a fresh apply.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::common;

/// Simulated seconds per wall second, on the server and in the applying client.
const SPEED: u32 = 20_000;
const ROUNDS: usize = 20;

fn asrform(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("asrform").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ASRFORM_VAR_target_region");
    c
}

fn run(c: &mut Command) -> (i32, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// The server process; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One plain HTTP GET on the loopback server.
fn http_get(port: u16, path: &str) -> Value {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body:.200}"))
}

/// Checks the state file against the schema and the loader; returns how many addresses it manages and how many
/// operations it has in flight.
fn check_state(dir: &Path, validator: &jsonschema::Validator) -> (usize, usize) {
    let p = dir.join("asrform.state.json");
    let Ok(text) = std::fs::read_to_string(&p) else {
        return (0, 0); // killed before the first write: no state is a valid state
    };
    let doc: Value = serde_json::from_str(&text).expect("state is JSON");
    let errs: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errs.is_empty(), "state violates its schema: {errs:?}");
    let s = asrform::state::State::from_json("asrform.state.json", &text).expect("state loads");
    (s.resources.len(), s.in_flight.len())
}

/// Successful PUTs per path in `log[from..]` that are not updates of something already created in the round.
fn creates(log: &[Value], from: u64) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in log {
        if e["seq"].as_u64().unwrap_or(0) < from || e["method"] != "PUT" {
            continue;
        }
        let status = e["status"].as_u64().unwrap_or(0);
        if (200..300).contains(&status) {
            *out.entry(e["path"].as_str().unwrap().to_ascii_lowercase())
                .or_default() += 1;
        }
    }
    out
}

fn next_seq(port: u16) -> u64 {
    http_get(port, "/_sim/log")
        .as_array()
        .unwrap()
        .last()
        .and_then(|e| e["seq"].as_u64())
        .map_or(0, |s| s + 1)
}

#[test]
fn killed_applies_converge_without_duplicated_work() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for f in ["main.asr.hcl", "estate.json"] {
        std::fs::copy(
            common::path(&format!("examples/quickstart/{f}")),
            dir.join(f),
        )
        .unwrap();
    }
    // The server's world lives in its own directory so its store lock never meets the applying processes.
    let world = tempfile::tempdir().unwrap();
    let (code, out) = run(Command::cargo_bin("asrform").unwrap().args([
        "sim",
        "--dir",
        world.path().to_str().unwrap(),
        "init",
        "--estate",
        dir.join("estate.json").to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{out}");
    let mut child = Command::cargo_bin("asrform")
        .unwrap()
        .args([
            "sim",
            "--dir",
            world.path().to_str().unwrap(),
            "serve",
            "--port",
            "0",
            "--clock-speed",
            &SPEED.to_string(),
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let server = Server(child);
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();

    let main = dir.join("main.asr.hcl");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, {
        assert!(
            text.contains("clock_speed = 600"),
            "the quickstart's clock speed moved; update this test"
        );
        text.replace(
            "clock_speed = 600",
            &format!("endpoint = \"{url}\"\n  clock_speed = {SPEED}"),
        )
    })
    .unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::path("schemas/state.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let apply = |d: &Path| {
        let mut c = asrform(d);
        c.args(["apply", "--auto-approve", "--wait", "protected"]);
        c
    };

    // One uninterrupted apply measures how long an apply takes, so the kills can spread across it.
    let t0 = Instant::now();
    let (code, out) = run(&mut apply(dir));
    assert_eq!(code, 0, "{out}");
    let full = t0.elapsed();
    let (code, out) = run(asrform(dir).args(["destroy", "--auto-approve"]));
    assert_eq!(code, 0, "{out}");

    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_c0de);
    let wall = Instant::now();
    // Kills that left a partial apply behind, and kills that left an operation in flight: the test is only worth
    // something if the kills land inside the apply.
    let (mut partial, mut in_flight) = (0, 0);
    for round in 0..ROUNDS {
        let from = next_seq(port);
        let delay = Duration::from_secs_f64(full.as_secs_f64() * rng.gen_range(0.02..0.98));
        let mut victim = apply(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The victim is a separate process on real time: only a wall-clock pause can land the kill at a random
        // point of its run. Nothing is synchronised by this sleep; every check below reads state and the request log.
        std::thread::sleep(delay);
        // `Child::kill` is SIGKILL on Unix: no handler runs, nothing is flushed.
        let _ = victim.kill();
        victim.wait().unwrap();
        let (managed, running) = check_state(dir, &validator);
        partial += usize::from(managed < 13);
        in_flight += usize::from(running > 0);

        // The lock file of the killed process names a dead pid, so the re-run takes it over.
        let (code, out) = run(&mut apply(dir));
        assert_eq!(
            code, 0,
            "round {round} (kill after {delay:?}): re-run failed:\n{out}"
        );
        check_state(dir, &validator);
        let (code, out) = run(asrform(dir).args(["plan", "--detailed-exitcode"]));
        assert_eq!(
            code, 0,
            "round {round}: the plan after the re-run is not a no-op:\n{out}"
        );

        let log = http_get(port, "/_sim/log");
        let made = creates(log.as_array().unwrap(), from);
        let enables: Vec<_> = made
            .iter()
            .filter(|(p, _)| p.contains("/replicationprotecteditems/"))
            .collect();
        assert_eq!(enables.len(), 4, "round {round}: enable PUTs {enables:?}");
        let dup: Vec<_> = made.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            dup.is_empty(),
            "round {round} (kill after {delay:?}): created more than once: {dup:?}"
        );

        let (code, out) = run(asrform(dir).args(["destroy", "--auto-approve"]));
        assert_eq!(code, 0, "round {round}: destroy failed:\n{out}");
        eprintln!(
            "round {round}: killed after {delay:?} with {managed} managed, {running} in flight"
        );
    }
    drop(server);
    assert!(
        partial >= ROUNDS / 2 && in_flight >= ROUNDS / 4,
        "kills did not land inside the apply: {partial} partial, {in_flight} with operations in flight"
    );
    assert!(
        wall.elapsed() < Duration::from_secs(150),
        "the crash test took {:?}",
        wall.elapsed()
    );
}
