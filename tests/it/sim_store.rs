//! Simulator persistence and operator CLI: the store survives between commands with time passing at the clock
//! speed, writes are atomic, a second holder of the lock fails naming the pid, and the `sim` commands work.

use std::time::Duration;

use asrform::cli::sim::{SimCommand, run};
use asrform::sim::{SimStore, StoreError};

async fn cmd(c: SimCommand, dir: &std::path::Path) -> Result<String, asrform::sim::SimError> {
    let mut out = Vec::new();
    run(&c, dir, &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn sim_cli_generate_init_status_advance_outage_faults() {
    let dir = tempfile::tempdir().unwrap();
    let estate = dir.path().join("estate.json");
    let out = cmd(
        SimCommand::Generate {
            vms: 12,
            subscriptions: 2,
            seed: 5,
            region: "eastus".into(),
            out: estate.clone(),
        },
        dir.path(),
    )
    .await
    .unwrap();
    assert!(out.contains("12 VMs over 2 subscription(s)"), "{out}");
    let e = asrform::estate::load(&estate).unwrap();
    assert_eq!(e.vms().count(), 12);
    assert_eq!(e.subscriptions.len(), 2);
    let out = cmd(
        SimCommand::Init {
            estate: estate.clone(),
            clock_speed: 60.0,
            start: "2026-03-01T00:00:00Z".into(),
        },
        dir.path(),
    )
    .await
    .unwrap();
    assert!(out.contains("12 VMs"), "{out}");
    assert!(SimStore::exists(dir.path()));
    let out = cmd(SimCommand::Status, dir.path()).await.unwrap();
    assert!(out.contains("simulated time: 2026-03-01T00:0"), "{out}");
    assert!(
        out.contains("Microsoft.Compute/virtualMachines") && out.contains(" 12"),
        "{out}"
    );
    let out = cmd(
        SimCommand::Advance {
            duration: "2h".into(),
        },
        dir.path(),
    )
    .await
    .unwrap();
    assert!(
        out.contains("simulated time is now 2026-03-01T02:0"),
        "{out}"
    );
    let out = cmd(
        SimCommand::Outage {
            region: "eastus".into(),
        },
        dir.path(),
    )
    .await
    .unwrap();
    assert!(out.contains("eastus is down"));
    let out = cmd(SimCommand::Status, dir.path()).await.unwrap();
    assert!(out.contains("regions down: eastus"), "{out}");
    cmd(
        SimCommand::Restore {
            region: "eastus".into(),
        },
        dir.path(),
    )
    .await
    .unwrap();
    assert!(
        cmd(SimCommand::Status, dir.path())
            .await
            .unwrap()
            .contains("regions down: none")
    );
    let faults = dir.path().join("faults.json");
    std::fs::write(
        &faults,
        r#"{"rules":[{"method":"GET","effect":{"kind":"status","status":503}}]}"#,
    )
    .unwrap();
    assert!(
        cmd(
            SimCommand::Faults {
                file: Some(faults.clone()),
                clear: false
            },
            dir.path()
        )
        .await
        .unwrap()
        .contains("1 fault rule(s) active")
    );
    std::fs::write(
        &faults,
        r#"{"rules":[{"effect":{"kind":"status","status":99}}]}"#,
    )
    .unwrap();
    let err = cmd(
        SimCommand::Faults {
            file: Some(faults.clone()),
            clear: false,
        },
        dir.path(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("faults.json") && err.contains("rules[0].effect.status"),
        "{err}"
    );
    assert!(
        cmd(
            SimCommand::Faults {
                file: None,
                clear: true
            },
            dir.path()
        )
        .await
        .unwrap()
        .contains("0 fault rule(s)")
    );
    let err = cmd(
        SimCommand::Advance {
            duration: "soon".into(),
        },
        dir.path(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("soon"), "{err}");
    let err = cmd(
        SimCommand::Outage {
            region: "atlantis".into(),
        },
        dir.path(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("atlantis"), "{err}");
}

#[tokio::test]
async fn sim_store_time_passes_between_commands_and_lock_names_holder() {
    let dir = tempfile::tempdir().unwrap();
    let estate = dir.path().join("estate.json");
    cmd(
        SimCommand::Generate {
            vms: 2,
            subscriptions: 1,
            seed: 1,
            region: "eastus".into(),
            out: estate.clone(),
        },
        dir.path(),
    )
    .await
    .unwrap();
    cmd(
        SimCommand::Init {
            estate,
            clock_speed: 60.0,
            start: "2026-01-01T00:00:00Z".into(),
        },
        dir.path(),
    )
    .await
    .unwrap();
    let store = SimStore::open(dir.path(), Duration::ZERO).unwrap();
    let saved = store.load().unwrap();
    assert_eq!(saved.speed, 60.0);
    // Ten wall seconds after the save, at 60x, the simulated clock is ten minutes further.
    let (sim, speed) = store
        .simulator(saved.wall_time + time::Duration::seconds(10), None)
        .unwrap();
    assert_eq!(speed, 60.0);
    let gained = sim.now() - saved.sim_time;
    assert!(
        gained >= time::Duration::seconds(600) && gained < time::Duration::seconds(610),
        "{gained}"
    );
    // A second holder fails at once (zero wait) and names this process.
    match SimStore::open(dir.path(), Duration::ZERO) {
        Err(StoreError::Locked { holder, .. }) => {
            assert_eq!(holder, std::process::id().to_string())
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    // Saves are atomic: no temp file left behind, and the file parses.
    store.save_simulator(&sim, saved.wall_time, 60.0).unwrap();
    let names: Vec<String> = std::fs::read_dir(SimStore::dir_for(dir.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
    drop(store);
    // Once released the store opens again; a corrupt file is reported with its position.
    std::fs::write(
        SimStore::dir_for(dir.path()).join("world.json"),
        "{\"version\": 1,",
    )
    .unwrap();
    let store = SimStore::open(dir.path(), Duration::ZERO).unwrap();
    match store.load() {
        Err(StoreError::Corrupt { message, .. }) => {
            assert!(message.contains("line 1"), "{message}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
