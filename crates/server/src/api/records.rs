//! `GET /api/v1/files/{id}/records`: every typed record of a CSV, paged (`offset`, `limit`), as
//! JSON or NDJSON (`format=ndjson` or `Accept: application/x-ndjson`).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fileproc_formats::csv::{ColumnSummary, typed_record};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery};
use super::files::ensure_completed;
use crate::state::AppState;

/// Most records one page may ask for.
const MAX_LIMIT: u64 = 10_000;

/// The routes of this group.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/files/{file_id}/records", get(records))
}

/// The part of a stored result that types records: the columns of its table.
#[derive(Deserialize)]
struct TabularResult {
    csv: Option<CsvColumns>,
}

#[derive(Deserialize)]
struct CsvColumns {
    columns: Vec<ColumnSummary>,
}

#[derive(Deserialize)]
struct RecordsQuery {
    offset: Option<u64>,
    limit: Option<u64>,
    format: Option<String>,
    /// Spreadsheets only; a CSV has one table.
    sheet: Option<String>,
}

async fn records(
    State(state): State<AppState>,
    ApiPath(file_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RecordsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let ndjson = match q.format.as_deref() {
        Some("ndjson") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("format must be json or ndjson, not {other:?}"),
            ));
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/x-ndjson")),
    };
    ensure_completed(&state, &file_id).await?;
    let row = state.catalog.get_result(&file_id).await?;
    let stored: TabularResult =
        serde_json::from_str(&row.result).map_err(|e| ApiError::Internal(e.into()))?;
    let Some(CsvColumns { columns }) = stored.csv else {
        return Err(ApiError::bad_request(
            "no_records",
            "this file type has no records",
        ));
    };
    if q.sheet.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "a CSV file has no sheets",
        ));
    }
    let total = u64::try_from(row.records_count).unwrap_or(0);
    let page = match (&row.records_key, &row.records_index) {
        (Some(key), Some(index)) if offset < total => {
            let index: Vec<u64> =
                serde_json::from_str(index).map_err(|e| ApiError::Internal(e.into()))?;
            crate::records::read_page(&state.blobs, key, &index, offset, limit).await?
        }
        _ => Vec::new(),
    };
    let typed: Vec<Map<String, Value>> = page
        .iter()
        .map(|fields| {
            let fields: Vec<Option<&str>> = fields.iter().map(Option::as_deref).collect();
            typed_record(&columns, &fields)
        })
        .collect();
    let next = offset + typed.len() as u64;
    if ndjson {
        let mut body = Vec::new();
        for record in &typed {
            serde_json::to_writer(&mut body, record).map_err(|e| ApiError::Internal(e.into()))?;
            body.push(b'\n');
        }
        let headers = [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (
                header::HeaderName::from_static("x-total-count"),
                total.to_string(),
            ),
        ];
        return Ok((headers, body).into_response());
    }
    Ok(axum::Json(json!({
        "file_id": file_id,
        "offset": offset,
        "limit": limit,
        "total": total,
        "next_offset": (next < total).then_some(next),
        "records": typed,
    }))
    .into_response())
}
