//! `GET /api/v1/files/{id}/records`: every typed record of a CSV or of one sheet of an XLSX
//! (`sheet`, by name; the first sheet by default), paged (`offset`, `limit`), as JSON or NDJSON
//! (`format=ndjson` or `Accept: application/x-ndjson`).

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fileproc_formats::csv::{ColumnSummary, typed_record};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use super::files::ensure_completed;
use super::openapi::Binary;
use crate::auth::Owner;
use crate::state::AppState;

/// Most records one page may ask for.
const MAX_LIMIT: u64 = 10_000;

/// The routes of this group.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(records))
}

/// The part of a stored result that locates and types records: the columns of a CSV, the
/// sheets of an XLSX.
#[derive(Deserialize)]
struct TabularResult {
    csv: Option<CsvColumns>,
    xlsx: Option<XlsxSheets>,
}

#[derive(Deserialize)]
struct CsvColumns {
    columns: Vec<ColumnSummary>,
}

#[derive(Deserialize)]
struct XlsxSheets {
    sheets: Vec<SheetRecords>,
}

/// A sheet's name and how many records it sent; its records follow those of the sheets before.
#[derive(Deserialize)]
struct SheetRecords {
    name: String,
    records_count: u64,
}

/// Where one table's records are in the stored records: `start..start + total`.
struct Table {
    /// The sheet's name, for an XLSX.
    sheet: Option<String>,
    start: u64,
    total: u64,
    /// The CSV's columns, to type its raw records.
    columns: Option<Vec<ColumnSummary>>,
}

/// The table `sheet` asks for in a stored result.
fn locate(stored: TabularResult, sheet: Option<&str>, csv_total: u64) -> Result<Table, ApiError> {
    if let Some(CsvColumns { columns }) = stored.csv {
        if sheet.is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                "a CSV file has no sheets",
            ));
        }
        return Ok(Table {
            sheet: None,
            start: 0,
            total: csv_total,
            columns: Some(columns),
        });
    }
    let Some(XlsxSheets { sheets }) = stored.xlsx else {
        return Err(ApiError::bad_request(
            "no_records",
            "this file type has no records",
        ));
    };
    let position = match sheet {
        None if sheets.is_empty() => None,
        None => Some(0),
        Some(name) => sheets.iter().position(|s| s.name == name),
    };
    let Some(position) = position else {
        let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
        return Err(ApiError::bad_request(
            "unknown_sheet",
            format!("sheet must be one of {names:?}"),
        ));
    };
    let start = sheets[..position].iter().map(|s| s.records_count).sum();
    Ok(Table {
        sheet: Some(sheets[position].name.clone()),
        start,
        total: sheets[position].records_count,
        columns: None,
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RecordsQuery {
    /// Records to skip (default 0).
    offset: Option<u64>,
    /// Records per page, 1 to 10000 (default 100).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u64>,
    /// `json` (default) or `ndjson`; unset, `Accept: application/x-ndjson` asks for NDJSON.
    format: Option<String>,
    /// The sheet of an XLSX, by name; a CSV has one table.
    sheet: Option<String>,
}

/// A page of records as JSON.
#[derive(ToSchema)]
#[allow(dead_code)] // Built with `json!` by `records`; here for the document.
struct RecordsPage {
    file_id: String,
    /// The sheet's name for an XLSX; null for a CSV.
    sheet: Option<String>,
    offset: u64,
    limit: u64,
    /// Records in the table.
    total: u64,
    /// The `offset` of the next page; null on the last one.
    next_offset: Option<u64>,
    /// Header → typed value for a CSV; the sheet's row objects for an XLSX.
    #[schema(value_type = Vec<Object>)]
    records: Vec<Value>,
}

/// The typed records of a completed CSV, or of one sheet of an XLSX, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/files/{file_id}/records",
    tag = "content",
    params(
        ("file_id" = String, Path, description = "The file's id"),
        RecordsQuery,
        ("Accept" = Option<String>, Header, description = "`application/x-ndjson` for NDJSON when `format` is unset"),
    ),
    responses(
        (status = 200, description = "A page of records: JSON, or NDJSON (one record a line)",
         content(
            (RecordsPage = "application/json"),
            (Binary = "application/x-ndjson"),
         ),
         headers(("x-total-count" = u64, description = "NDJSON only: records in the table"))),
        (status = 400, description = "A bad query, a sheet that is not there, or a type without records \
            (`invalid_query`, `unknown_sheet`, `no_records`)", body = ErrorBody,
         example = json!({"error": "this file type has no records", "code": "no_records"})),
        (status = 404, description = "No such file, or not the caller's (`not_found`)", body = ErrorBody),
        (status = 403, description = "The file is quarantined (`quarantined`)", body = ErrorBody),
        (status = 409, description = "Not completed (`not_completed`)", body = ErrorBody),
        (status = 503, description = "The blob store is unavailable", body = ErrorBody),
    ),
)]
async fn records(
    State(state): State<AppState>,
    Owner(owner): Owner,
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
    ensure_completed(&state, &owner, &file_id).await?;
    let row = state.catalog.get_result(&file_id).await?;
    let stored: TabularResult =
        serde_json::from_str(&row.result).map_err(|e| ApiError::Internal(e.into()))?;
    let table = locate(
        stored,
        q.sheet.as_deref(),
        u64::try_from(row.records_count).unwrap_or(0),
    )?;
    let total = table.total;
    let page = match (&row.records_key, &row.records_index) {
        (Some(key), Some(index)) if offset < total => {
            let index: Vec<u64> =
                serde_json::from_str(index).map_err(|e| ApiError::Internal(e.into()))?;
            let limit = limit.min(total - offset);
            crate::records::read_page(&state.blobs, key, &index, table.start + offset, limit)
                .await?
        }
        _ => Vec::new(),
    };
    let typed: Vec<Value> = page
        .into_iter()
        .map(|record| match (record, &table.columns) {
            (Value::Array(fields), Some(columns)) => {
                let fields: Vec<Option<&str>> = fields.iter().map(Value::as_str).collect();
                Value::Object(typed_record(columns, &fields))
            }
            (record, _) => record,
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
        "sheet": table.sheet,
        "offset": offset,
        "limit": limit,
        "total": total,
        "next_offset": (next < total).then_some(next),
        "records": typed,
    }))
    .into_response())
}
