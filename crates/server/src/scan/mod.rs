//! Virus scanning (`security.virus_scanning`): every stored file goes through ClamAV before
//! anything parses it. The scan is the first step of a file's job (`virus_scan` in its progress
//! events); the bytes are streamed from the blob store to clamd ([`clamd`], the INSTREAM
//! command), never held whole in memory.
//!
//! - clean: the outcome is recorded (`virus_scan` on the file object) and processing goes on;
//! - infected: the file becomes `quarantined` with the threats' names, the job ends (no retry),
//!   and the file is never processed nor served (403 `quarantined`);
//! - larger than clamd scans: `not_scanned` with a reason, then `security.scan_oversize` says
//!   whether it is processed anyway or its processing fails (`not_scanned`);
//! - clamd unreachable, failing or slower than `security.clamav_timeout`: the attempt fails
//!   with the retryable `scanner_unavailable`, so the job is retried with backoff. A file is
//!   never taken for clean without clamd's `OK`.
//!
//! An upload whose bytes are refused by type (a PDF name on bytes that are not a PDF...) is
//! scanned before it is refused: found infected, it is kept as a `quarantined` file instead
//! (see [`crate::ingest`]), so disguised malware is recorded rather than silently bounced.

pub mod clamd;

use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::blob::BlobStore;
use crate::catalog::Quarantine;
use crate::config::SecuritySettings;
pub use clamd::{ClamdError, Verdict};

/// The outcome of a scan, as stored on the file row and shown as the file object's
/// `virus_scan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirusScan {
    /// `clean`, `infected` or `not_scanned`.
    pub status: ScanStatus,
    /// Whether the scanner vouched for the file (`status == clean`).
    pub clean: bool,
    /// The signatures found; empty unless infected.
    pub threats: Vec<String>,
    /// When the scan ended, RFC 3339.
    pub scanned_at: String,
    /// The scanner and its version: `clamav <VERSION reply>`, e.g. `clamav 1.4.6/27400/...`.
    pub scanner: String,
    /// Why the file was not scanned (only with `not_scanned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanStatus {
    Clean,
    Infected,
    NotScanned,
}

impl VirusScan {
    fn new(verdict: Verdict, scanner: String) -> Self {
        let (status, threats, reason) = match verdict {
            Verdict::Clean => (ScanStatus::Clean, Vec::new(), None),
            Verdict::Infected(threats) => (ScanStatus::Infected, threats, None),
            Verdict::NotScanned(reason) => (ScanStatus::NotScanned, Vec::new(), Some(reason)),
        };
        VirusScan {
            clean: status == ScanStatus::Clean,
            status,
            threats,
            scanned_at: crate::api::view::rfc3339(crate::catalog::now_ms()),
            scanner,
            reason,
        }
    }

    /// As JSON, for the catalog.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// What the catalog records when this scan quarantines a file.
    pub fn quarantine(&self) -> Quarantine {
        Quarantine {
            virus_scan: self.to_json(),
            message: format!(
                "the file is infected ({}); it is quarantined and will not be processed or served",
                self.threats.join(", ")
            ),
        }
    }
}

/// Why a scan did not come to a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// clamd is unreachable or failed; trying later may work.
    #[error(transparent)]
    Clamd(ClamdError),
    /// clamd took longer than `security.clamav_timeout`.
    #[error("clamd did not answer within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The blob store failed while the file was read.
    #[error("the file store failed while the file was scanned: {0}")]
    Store(String),
}

impl From<ClamdError> for ScanError {
    fn from(e: ClamdError) -> Self {
        match e {
            ClamdError::Source(message) => ScanError::Store(message),
            other => ScanError::Clamd(other),
        }
    }
}

/// Longest `/ready` waits for clamd.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The configured clamd, when scanning is on.
#[derive(Debug, Clone)]
pub struct Scanner {
    clamd: clamd::Clamd,
    timeout: Duration,
}

impl Scanner {
    /// The scanner `security` configures, or `None` when `virus_scanning` is off.
    pub fn from_settings(security: &SecuritySettings) -> Option<Scanner> {
        security.virus_scanning.then(|| Scanner {
            clamd: clamd::Clamd::new(&security.clamav_host, security.clamav_port),
            timeout: security.clamav_timeout,
        })
    }

    /// clamd's version, when it answers `PING` and `VERSION` within the timeout, at most
    /// [`CHECK_TIMEOUT`] (for `/ready`, which a probe calls often and must not hang).
    ///
    /// # Errors
    /// clamd is unreachable, failing or slow.
    pub async fn check(&self) -> Result<String, ScanError> {
        let limit = self.timeout.min(CHECK_TIMEOUT);
        let check = async {
            self.clamd.ping().await?;
            self.clamd.version().await
        };
        tokio::time::timeout(limit, check)
            .await
            .map_err(|_| ScanError::Timeout(limit))?
            .map_err(ScanError::from)
    }

    /// Scan the object at `key`, streamed from `blobs`; `sent` counts the bytes sent to clamd.
    /// The whole scan (version, connection, data, verdict) gets `security.clamav_timeout`.
    ///
    /// # Errors
    /// See [`ScanError`]. A verdict (clean, infected or not scanned) is never an error.
    pub async fn scan_object(
        &self,
        blobs: &BlobStore,
        key: &str,
        sent: &AtomicU64,
    ) -> Result<VirusScan, ScanError> {
        let scan = async {
            let version = self.clamd.version().await?;
            let data = blobs
                .get_stream(key, None)
                .await
                .map_err(|e| ScanError::Store(e.to_string()))?;
            let verdict = self.clamd.instream(data, sent).await?;
            Ok::<_, ScanError>(VirusScan::new(verdict, scanner_name(&version)))
        };
        tokio::time::timeout(self.timeout, scan)
            .await
            .map_err(|_| ScanError::Timeout(self.timeout))?
    }
}

/// Count a scan in `fileproc_virus_scans_total`: clean, infected, or error (clamd gave no
/// verdict). A file too large to scan and a store failure are not scans and are not counted.
pub fn count(metrics: &crate::metrics::Metrics, scan: &Result<VirusScan, ScanError>) {
    use crate::metrics::ScanOutcome;
    let outcome = match scan {
        Ok(scan) => match scan.status {
            ScanStatus::Clean => ScanOutcome::Clean,
            ScanStatus::Infected => ScanOutcome::Infected,
            ScanStatus::NotScanned => return,
        },
        Err(ScanError::Store(_)) => return,
        Err(_) => ScanOutcome::Error,
    };
    metrics.virus_scan(outcome);
}

/// Scan the stored object at `key` of an upload refused by type: `Some` when it is infected.
/// Anything else (clean, not scanned, clamd unavailable) is `None`, logged: the upload is
/// refused anyway, so nothing unscanned is kept.
pub async fn infected(state: &crate::state::AppState, key: &str) -> Option<VirusScan> {
    let scanner = Scanner::from_settings(&state.settings.security)?;
    let scan = scanner
        .scan_object(&state.blobs, key, &AtomicU64::new(0))
        .await;
    count(&state.metrics, &scan);
    match scan {
        Ok(scan) if scan.status == ScanStatus::Infected => Some(scan),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "scanning an upload refused by type failed; refusing it unscanned");
            None
        }
    }
}

/// `clamav <version>` from a VERSION reply (`ClamAV 1.4.6/27400/...` → `clamav 1.4.6/27400/...`).
fn scanner_name(version: &str) -> String {
    let version = version.strip_prefix("ClamAV ").unwrap_or(version).trim();
    format!("clamav {version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_is_named_after_the_version_reply() {
        assert_eq!(scanner_name("ClamAV 1.4.6"), "clamav 1.4.6");
        assert_eq!(
            scanner_name("ClamAV 1.0.7/27400/Tue Sep 10 08:36:39 2024"),
            "clamav 1.0.7/27400/Tue Sep 10 08:36:39 2024"
        );
    }

    #[test]
    fn a_scan_record_has_the_file_object_shape() {
        let infected = VirusScan::new(
            Verdict::Infected(vec!["Eicar-Test-Signature".into()]),
            "clamav 1.4.6".into(),
        );
        let v = infected.to_json();
        assert_eq!(v["status"], "infected");
        assert_eq!(v["clean"], false);
        assert_eq!(v["threats"], serde_json::json!(["Eicar-Test-Signature"]));
        assert_eq!(v["scanner"], "clamav 1.4.6");
        assert!(v.get("reason").is_none());
        assert!(
            infected
                .quarantine()
                .message
                .contains("Eicar-Test-Signature")
        );
        let skipped = VirusScan::new(Verdict::NotScanned("too big".into()), "clamav 1".into());
        let v = skipped.to_json();
        assert_eq!(
            (v["status"].as_str(), v["clean"].as_bool()),
            (Some("not_scanned"), Some(false))
        );
        assert_eq!(v["reason"], "too big");
        let clean = VirusScan::new(Verdict::Clean, "clamav 1".into()).to_json();
        assert_eq!(
            (clean["status"].as_str(), clean["clean"].as_bool()),
            (Some("clean"), Some(true))
        );
        assert_eq!(clean["threats"], serde_json::json!([]));
    }
}
