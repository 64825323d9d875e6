//! Progress events (`DESIGN.md` section 5): what happens to a file, from upload to result, as
//! one JSON frame per event, for WebSocket (`/ws`) and Server-Sent Events clients.
//!
//! ```text
//! ingest (upload bytes, status) ─┐
//! queue + pipeline (claim, steps,├─▶ EventBus ─▶ [Redis pub/sub] ─▶ every instance's broadcast
//!   progress, outcome)           ┘                                        │
//!                                            Watch (filter, order, resync) ◀┘ ─▶ WebSocket / SSE
//! ```
//!
//! Publishing never waits for a client or for Redis ([`EventBus::publish`] only queues). A
//! client that falls behind loses intermediate frames, and catches up from the catalog
//! ([`watch::Watch`]), so the last frame it gets always agrees with the status endpoint.

pub mod bus;
pub mod watch;

pub use bus::EventBus;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The kind of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// First frame of a connection: the file's current status.
    Connected,
    /// `data: {old_status, new_status}`.
    StatusChange,
    /// `data: {step, progress, message, bytes_done, bytes_total}`.
    Progress,
    /// `data`: the result summary. Terminal.
    Completed,
    /// `error: {code, message}`. Terminal.
    Error,
}

/// The step a file is at (`DESIGN.md` section 5), in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Upload,
    VirusScan,
    Validation,
    Extraction,
    Thumbnail,
    Compression,
    Storage,
    Complete,
}

impl Step {
    /// The name shown in frames and stored as a file's `step`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Upload => "upload",
            Step::VirusScan => "virus_scan",
            Step::Validation => "validation",
            Step::Extraction => "extraction",
            Step::Thumbnail => "thumbnail",
            Step::Compression => "compression",
            Step::Storage => "storage",
            Step::Complete => "complete",
        }
    }
}

/// The error of an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventError {
    pub code: String,
    pub message: String,
}

/// One frame: `{type, file_id, timestamp, progress?, data?, error?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub file_id: String,
    /// RFC 3339, milliseconds, UTC.
    pub timestamp: String,
    /// 0..1 of the current status's work (upload while `uploading`, processing while
    /// `processing`); 1 on `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
}

/// What a `progress` frame says.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressReport {
    pub step: Step,
    /// 0..1, or `None` when the total is unknown (a tus upload with a deferred length).
    pub progress: Option<f64>,
    pub message: Option<String>,
    /// Bytes done of the current step's input.
    pub bytes_done: u64,
    /// Its size in bytes, when known.
    pub bytes_total: Option<u64>,
}

fn now() -> String {
    crate::api::view::rfc3339(chrono::Utc::now().timestamp_millis())
}

impl Event {
    fn new(kind: EventType, file_id: &str) -> Self {
        Event {
            kind,
            file_id: file_id.to_owned(),
            timestamp: now(),
            progress: None,
            data: None,
            error: None,
        }
    }

    /// `connected`: the file's status as a client joins.
    pub fn connected(file_id: &str, status: &str, progress: f64, step: Option<&str>) -> Self {
        Event {
            progress: Some(progress),
            data: Some(json!({"status": status, "progress": progress, "step": step})),
            ..Event::new(EventType::Connected, file_id)
        }
    }

    /// `status_change`; `old` is `None` for a file that did not exist before.
    pub fn status_change(file_id: &str, old: Option<&str>, new: &str) -> Self {
        Event {
            data: Some(json!({"old_status": old, "new_status": new})),
            ..Event::new(EventType::StatusChange, file_id)
        }
    }

    /// `progress`.
    pub fn progress(file_id: &str, report: &ProgressReport) -> Self {
        let progress = report.progress.map(|p| p.clamp(0.0, 1.0));
        Event {
            progress,
            data: Some(json!({
                "step": report.step.as_str(),
                "progress": progress,
                "message": report.message,
                "bytes_done": report.bytes_done,
                "bytes_total": report.bytes_total,
            })),
            ..Event::new(EventType::Progress, file_id)
        }
    }

    /// `completed` with the summary of `result` (see [`summary`]).
    pub fn completed(file_id: &str, result: &Value) -> Self {
        Event {
            progress: Some(1.0),
            data: Some(summary(result)),
            ..Event::new(EventType::Completed, file_id)
        }
    }

    /// `error`.
    pub fn error(file_id: &str, code: &str, message: &str) -> Self {
        Event {
            error: Some(EventError {
                code: code.to_owned(),
                message: message.to_owned(),
            }),
            ..Event::new(EventType::Error, file_id)
        }
    }

    /// Whether nothing follows this frame for the file (until it is processed again).
    pub fn is_terminal(&self) -> bool {
        matches!(self.kind, EventType::Completed | EventType::Error)
    }
}

/// The summary a `completed` frame carries: the result's top-level facts (type, sizes, digest,
/// timing, thumbnail and warning counts) and the scalar facts of its format section (row and
/// column counts, page count, dimensions...), without the lists (columns, records, pages, text).
pub fn summary(result: &Value) -> Value {
    let Some(obj) = result.as_object() else {
        return Value::Null;
    };
    let mut out = serde_json::Map::new();
    for (key, value) in obj {
        match value {
            Value::Object(section) => {
                let scalars: serde_json::Map<String, Value> = section
                    .iter()
                    .filter(|(_, v)| !(v.is_object() || v.is_array()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if key != "processor" && key != "converted" {
                    out.insert(key.clone(), Value::Object(scalars));
                }
            }
            Value::Array(items) if key == "thumbnails" || key == "warnings" => {
                out.insert(format!("{key}_count"), json!(items.len()));
            }
            Value::Array(_) => {}
            scalar => {
                out.insert(key.clone(), scalar.clone());
            }
        }
    }
    Value::Object(out)
}

/// An event with the owner of its file, as it travels between instances; clients only see the
/// event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub owner: String,
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_keeps_the_scalar_facts_and_counts_the_lists() {
        let result = json!({
            "file_id": "f", "file_type": "csv", "status": "completed", "size": 10,
            "processor": {"name": "csv", "version": "1"},
            "warnings": ["w"], "thumbnails": [],
            "csv": {"row_count": 2, "column_count": 3, "columns": [{"name": "a"}], "preview": []},
        });
        assert_eq!(
            summary(&result),
            json!({
                "file_id": "f", "file_type": "csv", "status": "completed", "size": 10,
                "warnings_count": 1, "thumbnails_count": 0,
                "csv": {"row_count": 2, "column_count": 3},
            })
        );
    }

    #[test]
    fn frames_have_the_design_shape() {
        let e = Event::status_change("f", Some("queued"), "processing");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "status_change");
        assert_eq!(
            v["data"],
            json!({"old_status": "queued", "new_status": "processing"})
        );
        assert!(v.get("error").is_none() && v.get("progress").is_none());
        let p = Event::progress(
            "f",
            &ProgressReport {
                step: Step::Extraction,
                progress: Some(1.5),
                message: None,
                bytes_done: 5,
                bytes_total: Some(10),
            },
        );
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["progress"], 1.0);
        assert_eq!(v["data"]["step"], "extraction");
        assert_eq!(v["data"]["bytes_total"], 10);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
        assert!(Step::Upload < Step::Extraction && Step::Storage < Step::Complete);
    }
}
