//! The Azure Blob state store against Azurite (installed by `.ci/run` from npm, started here on 127.0.0.1): the
//! shared store conformance suite, two concurrent lockers, and a stale write refused by ETag.
//!
//! Azurite is a real external process with its own clock, so lease expiry happens on wall time; these tests use
//! the shortest lease Azure allows (15 s) to keep that wait short. Nothing here is skipped when Azurite is missing:
//! the tests fail and say how to install it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asrform::clock::SystemClock;
use asrform::state::blob::{BlobAuth, BlobStore, BlobStoreOptions};
use asrform::state::{LockInfo, State, StateError, StateStore, conformance, lock_with_timeout};
use azure_core::credentials::Secret;

use crate::common;

/// Azurite's well-known development account.
const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service, stopped on drop.
struct Azurite {
    child: Child,
    addr: SocketAddr,
}

impl Azurite {
    fn start() -> Self {
        let bin = std::env::var_os("ASRFORM_AZURITE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| common::path("node_modules/.bin/azurite-blob"));
        assert!(
            bin.exists(),
            "Azurite is not installed at {} (set ASRFORM_AZURITE or run `npm ci` in the repository, as .ci/run does)",
            bin.display()
        );
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(&bin)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--inMemoryPersistence",
                "--silent",
            ])
            .arg("--disableTelemetry")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut azurite = Self { child, addr };
        // Readiness poll of an external process: bounded, and it only decides when to start, not what passes.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = azurite.child.try_wait() {
                panic!("Azurite exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "Azurite did not listen on {addr} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        azurite
    }

    fn account_url(&self) -> String {
        format!("http://{}/{ACCOUNT}", self.addr)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        // Azurite ignores a lone SIGTERM for a while; SIGKILL is fine for an in-memory test instance.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An account SAS for the whole blob service, signed with the development key (string-to-sign of sv 2020-12-06+).
fn account_sas() -> String {
    let expiry = (time::OffsetDateTime::now_utc() + time::Duration::hours(2))
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let (sp, ss, srt, sv, spr) = ("rwdlacup", "b", "sco", "2021-12-02", "http,https");
    let to_sign = [ACCOUNT, sp, ss, srt, "", &expiry, "", spr, sv, "", ""].join("\n");
    let sig = azure_core::hmac::hmac_sha256(&to_sign, &Secret::new(ACCOUNT_KEY)).unwrap();
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={}&spr={}&sig={}",
        enc(&expiry),
        enc(spr),
        enc(&sig)
    )
}

async fn create_container(azurite: &Azurite, sas: &str, name: &str) {
    let url: url::Url = format!("{}/{name}?restype=container&{sas}", azurite.account_url())
        .parse()
        .unwrap();
    let client = reqwest_client();
    let status = client
        .put(url)
        .header("x-ms-version", "2021-12-02")
        .header("content-length", "0")
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "creating container {name}: {status}");
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

fn store(azurite: &Azurite, sas: &str, container: &str, key: &str) -> BlobStore {
    BlobStore::new(BlobStoreOptions {
        account_url: azurite.account_url().parse().unwrap(),
        container: container.into(),
        key: key.into(),
        auth: BlobAuth::Sas(sas.into()),
        lease_seconds: 15,
        clock: Arc::new(SystemClock),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_store_passes_the_conformance_suite() {
    let azurite = Azurite::start();
    let sas = account_sas();
    create_container(&azurite, &sas, "tfstate").await;
    let s = store(&azurite, &sas, "tfstate", "prod/asrform.state.json");
    conformance::run_all(&s, &SystemClock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_locker_waits_then_names_the_holder_and_stale_writes_are_refused() {
    let azurite = Azurite::start();
    let sas = account_sas();
    create_container(&azurite, &sas, "tfstate").await;
    let a = store(&azurite, &sas, "tfstate", "app.state");
    let b = store(&azurite, &sas, "tfstate", "app.state");

    let holder = a
        .try_lock(&LockInfo::for_this_process(
            "apply",
            time::OffsetDateTime::now_utc(),
        ))
        .await
        .unwrap();
    let started = Instant::now();
    let waiter = LockInfo::for_this_process("apply", time::OffsetDateTime::now_utc());
    match lock_with_timeout(&b, &waiter, Duration::from_secs(2), &SystemClock).await {
        Err(StateError::Locked { holder: h }) => {
            assert_eq!(h.id, holder.info().id);
            assert_eq!(h.operation, "apply");
        }
        other => panic!("expected the second apply to be refused naming the holder, got {other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "it must wait for the lock timeout first"
    );
    holder.release().await.unwrap();
    b.try_lock(&waiter)
        .await
        .expect("free once released")
        .release()
        .await
        .unwrap();

    // Two writers read the same version; the second write is refused by ETag.
    let v0 = a.write(&State::new(), None).await.unwrap();
    let mut first = a.read().await.unwrap().unwrap().state;
    first.serial += 1;
    a.write(&first, Some(&v0)).await.unwrap();
    let mut stale = first.clone();
    stale.serial += 1;
    assert!(matches!(
        b.write(&stale, Some(&v0)).await,
        Err(StateError::Conflict { .. })
    ));
}
