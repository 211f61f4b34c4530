//! A throwaway Azurite blob service for integration tests (installed by `.ci/run` from npm, started on 127.0.0.1),
//! an account SAS signed with the development key, and container creation. Shared by `state_blob` and `state_cli`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use azure_core::credentials::Secret;

use crate::common;

/// Azurite's well-known development account.
pub const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service, stopped on drop.
pub struct Azurite {
    child: Child,
    addr: SocketAddr,
}

impl Azurite {
    pub fn start() -> Self {
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

    pub fn account_url(&self) -> String {
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
pub fn account_sas() -> String {
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

pub async fn create_container(azurite: &Azurite, sas: &str, name: &str) {
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

pub fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}
