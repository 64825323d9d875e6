//! Schemas of the document that no Rust type of the API carries: the result of a processed file
//! (`DESIGN.md` section 4, built as JSON by `pipeline::result_json` from the analyzers' sections
//! in `crates/formats`) and the progress event frames (`DESIGN.md` section 5). Written as JSON
//! Schema 2020-12 here (which utoipa's model cannot hold: type lists, open items) and put into
//! the served document by [`insert`], in place of the placeholder each type registers; the
//! sections stay open (more fields may appear) so the schema is true of every result a server of
//! this version stores.

use serde_json::{Value, json};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// What a type registers until [`insert`] replaces it.
fn placeholder() -> RefOr<Schema> {
    ObjectBuilder::new().build().into()
}

/// Put the hand-written schemas into a document (as JSON) under `components/schemas`.
pub fn insert(document: &mut Value) {
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.insert(FileResult::name().into_owned(), file_result());
        schemas.insert(ProgressEvent::name().into_owned(), progress_event());
        schemas.insert(SseEvent::name().into_owned(), sse_event());
    }
}

/// An open object section of a result, with its documented fields.
fn section(description: &str) -> serde_json::Value {
    json!({"type": "object", "description": description, "additionalProperties": true})
}

/// The result of a completed file: the common fields and one section named by the format.
pub struct FileResult;

impl PartialSchema for FileResult {
    fn schema() -> RefOr<Schema> {
        placeholder()
    }
}

impl ToSchema for FileResult {}

/// The schema of [`FileResult`].
fn file_result() -> Value {
    {
        let thumbnail = json!({
            "type": "object",
            "required": ["size", "width", "height", "format", "bytes"],
            "properties": {
                "size": {"type": "integer", "minimum": 0, "description": "The configured size (longest side), pixels"},
                "width": {"type": "integer", "minimum": 0, "description": "Pixels"},
                "height": {"type": "integer", "minimum": 0, "description": "Pixels"},
                "format": {"type": "string", "description": "jpeg, png or webp"},
                "bytes": {"type": "integer", "minimum": 0, "description": "Size of the encoded picture, bytes"},
                "url": {"type": ["string", "null"], "description": "Where to fetch it"}
            }
        });
        json!({
            "type": "object",
            "description": "The result of a processed file (DESIGN.md section 4): the common fields, \
                `converted` when a WebP conversion was made, `optimized` for a lossless optimised \
                variant, and exactly one format section \
                (`csv`, `pdf`, `docx`, `xlsx`, `jpeg`, `png` or `webp`).",
            "required": ["file_id", "file_type", "status", "processor", "processing_ms", "size",
                         "sha256", "warnings", "thumbnails"],
            "properties": {
                "file_id": {"type": ["string", "null"], "format": "uuid"},
                "file_type": {"type": "string", "enum": ["csv", "pdf", "docx", "xlsx", "jpeg", "png", "webp"]},
                "status": {"type": "string", "enum": ["completed"]},
                "processor": {
                    "type": "object",
                    "required": ["name", "version"],
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"}}
                },
                "processing_ms": {"type": "integer", "minimum": 0, "description": "Milliseconds"},
                "size": {"type": "integer", "minimum": 0, "description": "Bytes"},
                "sha256": {"type": "string", "description": "Hex SHA-256 of the bytes"},
                "warnings": {"type": "array", "items": {}},
                "thumbnails": {"type": "array", "items": thumbnail},
                "converted": {
                    "type": "object",
                    "required": ["format", "width", "height", "bytes"],
                    "properties": {
                        "format": {"type": "string"},
                        "width": {"type": "integer", "minimum": 0},
                        "height": {"type": "integer", "minimum": 0},
                        "bytes": {"type": "integer", "minimum": 0},
                        "url": {"type": ["string", "null"]}
                    }
                },
                "optimized": {
                    "type": "object",
                    "description": "The lossless optimised variant of a picture \
                        (`processing.image.optimize`), kept only when smaller than the original",
                    "required": ["format", "width", "height", "bytes", "original_bytes",
                                 "saving_bytes", "saving_ratio", "lossless", "metadata_stripped"],
                    "properties": {
                        "format": {"type": "string", "description": "The original's: jpeg, png or webp"},
                        "width": {"type": "integer", "minimum": 0, "description": "Pixels as stored (the EXIF orientation still applies)"},
                        "height": {"type": "integer", "minimum": 0},
                        "bytes": {"type": "integer", "minimum": 0, "description": "Bytes of the variant"},
                        "original_bytes": {"type": "integer", "minimum": 0, "description": "Bytes of the original"},
                        "saving_bytes": {"type": "integer", "minimum": 0, "description": "original_bytes - bytes"},
                        "saving_ratio": {"type": "number", "minimum": 0, "maximum": 1, "description": "saving_bytes / original_bytes"},
                        "lossless": {"type": "boolean", "description": "Always true: the pixels are the original's"},
                        "metadata_stripped": {"type": "boolean", "description": "Metadata left out (`processing.image.strip_metadata`)"},
                        "url": {"type": ["string", "null"]}
                    }
                },
                "csv": section("encoding, delimiter, quote, has_header, row_count, column_count, \
                    columns [{name, type, null_count, distinct_estimate, min, max, mean, min_length, \
                    max_length}], malformed_rows, records_count, records (the first ones)"),
                "pdf": section("page_count, pdf_version, encrypted, page_sizes (points), info {title, \
                    author, subject, keywords, creator, producer, created, modified}, text (the first \
                    characters), text_length, word_count, has_images"),
                "docx": section("text, paragraph_count, word_count, character_count, table_count, \
                    image_count, headings, core_properties, tables"),
                "xlsx": section("sheets [{name, rows, columns (the used range's column count), \
                    dimension, header, columns_stats [{name, type, null_count, distinct_estimate, \
                    min, max, mean, min_length, max_length}] (as csv's columns, one per header \
                    column, over the sheet's records), records_count, records}], sheet_count, \
                    formula_count, date_system, core_properties"),
                "jpeg": section("width, height, color_type, bit_depth, has_alpha, animated, \
                    frame_count, exif, icc_profile"),
                "png": section("as jpeg"),
                "webp": section("as jpeg")
            },
            "additionalProperties": true,
            "example": {
                "file_id": "0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90",
                "file_type": "csv",
                "status": "completed",
                "processor": {"name": "csv", "version": "1"},
                "processing_ms": 12,
                "size": 33,
                "sha256": "4f2b8e1c0d9a7b6e5f4a3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
                "warnings": [],
                "thumbnails": [],
                "csv": {"encoding": "UTF-8", "delimiter": ",", "has_header": true, "row_count": 2,
                        "column_count": 2, "records_count": 2}
            }
        })
    }
}

/// One progress frame (WebSocket message, or the `data:` of a Server-Sent Event).
pub struct ProgressEvent;

impl PartialSchema for ProgressEvent {
    fn schema() -> RefOr<Schema> {
        placeholder()
    }
}

impl ToSchema for ProgressEvent {}

/// The schema of [`ProgressEvent`].
fn progress_event() -> Value {
    json!({
            "type": "object",
            "description": "A progress frame (DESIGN.md section 5).",
            "required": ["type", "file_id", "timestamp"],
            "properties": {
                "type": {"type": "string", "enum": ["connected", "status_change", "progress", "completed", "error"]},
                "file_id": {"type": "string"},
                "timestamp": {"type": "string", "description": "RFC 3339, milliseconds, UTC"},
                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                "data": {"description": "status_change: {old_status, new_status}; progress: {step, \
                    progress, message, bytes_done, bytes_total}; completed: the result summary"},
                "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
            },
            "example": {"type": "status_change", "file_id": "0192f0c4-1d2e-7c3b-9a1d-6f0e2b7c8d90",
                        "timestamp": "2026-01-01T00:00:00.000Z",
                        "data": {"old_status": "queued", "new_status": "processing"}}
    })
}

/// One Server-Sent Event of `/api/v1/files/{file_id}/events`: `event:` the frame's type,
/// `data:` the frame as JSON.
pub struct SseEvent;

impl PartialSchema for SseEvent {
    fn schema() -> RefOr<Schema> {
        placeholder()
    }
}

impl ToSchema for SseEvent {}

/// The schema of [`SseEvent`].
fn sse_event() -> Value {
    json!({
        "type": "object",
        "description": "A Server-Sent Event: `event` is the frame's type, `data` the frame.",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "enum": ["connected", "status_change", "progress", "completed", "error"]},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/ProgressEvent"}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_the_placeholders() {
        let mut doc = json!({"components": {"schemas": {"FileResult": {}, "ProgressEvent": {}}}});
        insert(&mut doc);
        let result = &doc["components"]["schemas"]["FileResult"];
        assert_eq!(result["required"].as_array().map(Vec::len), Some(9));
        assert_eq!(
            result["properties"]["file_type"]["enum"]
                .as_array()
                .map(Vec::len),
            Some(7)
        );
        let event = &doc["components"]["schemas"]["ProgressEvent"];
        assert_eq!(event["required"], json!(["type", "file_id", "timestamp"]));
    }
}
