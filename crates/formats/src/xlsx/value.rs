//! Cell values as JSON (ECMA-376 Part 1, §18.3.1.4 `c`, §18.17.4 date systems), and A1 references.
//!
//! - numbers: a whole number below 2^53 in magnitude → JSON integer, any other → JSON number;
//! - strings (shared, inline, formula results) → JSON string; an empty string is an empty cell;
//! - booleans → `true`/`false`; errors → their text (`"#DIV/0!"`, `"#N/A"`...);
//! - dates (a number with a date format), in the workbook's 1900 or 1904 system: `YYYY-MM-DD` at
//!   midnight, else `YYYY-MM-DDThh:mm:ss[.sss]` (ISO 8601, no offset: Excel dates have no time
//!   zone); a time of day alone (1900 system, serial below 1) → `hh:mm:ss[.sss]`; a serial Excel
//!   cannot show as a date (negative, past 9999-12-31, or the 1900 system's phantom 1900-02-29)
//!   stays a number;
//! - durations (`[h]:mm:ss` formats) → ISO 8601 durations, `PT255H10M10S`.

use calamine::{DataRef, ExcelDateTime};
use serde_json::{Number, Value};

/// Largest integer a JSON number (an f64) holds exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;
/// First serial past 9999-12-31 in the 1900 system (and, 1462 days lower, in the 1904 one).
const SERIAL_END_1900: f64 = 2_958_466.0;
const SERIAL_END_1904: f64 = SERIAL_END_1900 - 1_462.0;

/// A cell's value as JSON; `None` for an empty cell (no value, or an empty string).
pub(crate) fn to_json(value: &DataRef<'_>, is_1904: bool) -> Option<Value> {
    Some(match value {
        DataRef::Empty => return None,
        DataRef::Int(i) => Value::from(*i),
        DataRef::Float(f) => number(*f),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            if s.is_empty() {
                return None;
            }
            Value::String(s.clone())
        }
        DataRef::SharedString(s) => {
            if s.is_empty() {
                return None;
            }
            Value::String((*s).to_owned())
        }
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::DateTime(dt) => date_time(dt, is_1904),
        DataRef::Error(e) => Value::String(e.to_string()),
    })
}

/// A number as JSON: an integer when it is one, a string for NaN and infinities.
pub(crate) fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < MAX_EXACT {
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

fn date_time(dt: &ExcelDateTime, is_1904: bool) -> Value {
    let serial = dt.as_f64();
    if dt.is_duration() {
        return Value::String(iso_duration(serial));
    }
    let end = if is_1904 {
        SERIAL_END_1904
    } else {
        SERIAL_END_1900
    };
    let phantom_leap_day = !is_1904 && (60.0..61.0).contains(&serial);
    if !(0.0..end).contains(&serial) || phantom_leap_day {
        return number(serial);
    }
    if !is_1904 && serial < 1.0 {
        return Value::String(clock(serial));
    }
    let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    let date = format!("{y:04}-{mo:02}-{d:02}");
    Value::String(match (h, mi, s, ms) {
        (0, 0, 0, 0) => date,
        (_, _, _, 0) => format!("{date}T{h:02}:{mi:02}:{s:02}"),
        _ => format!("{date}T{h:02}:{mi:02}:{s:02}.{ms:03}"),
    })
}

/// The time of day of a serial below 1, `hh:mm:ss[.sss]`.
fn clock(serial: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = ((serial * DAY_MS).round() as u64).min(86_399_999);
    let (h, mi, s, milli) = (
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000,
    );
    if milli == 0 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{h:02}:{mi:02}:{s:02}.{milli:03}")
    }
}

/// A duration in days as ISO 8601 (`PT255H10M10S`, `-PT1H`, `PT0S`), to the millisecond.
pub(crate) fn iso_duration(days: f64) -> String {
    if !days.is_finite() {
        return days.to_string();
    }
    let sign = if days < 0.0 { "-" } else { "" };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (days.abs() * DAY_MS).round().min(u64::MAX as f64) as u64;
    let (h, mi, s, milli) = (
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000,
    );
    let mut out = format!("{sign}PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if mi > 0 {
        out.push_str(&format!("{mi}M"));
    }
    match (s, milli) {
        (0, 0) if h > 0 || mi > 0 => {}
        (_, 0) => out.push_str(&format!("{s}S")),
        _ => out.push_str(&format!("{s}.{milli:03}S")),
    }
    out
}

/// A cell reference, `A1` style, from a 0-based (row, column).
pub(crate) fn cell_ref(row: u32, col: u32) -> String {
    format!("{}{}", column_name(col), u64::from(row) + 1)
}

/// A range reference (`A1:D22`, or `A1` for one cell).
pub(crate) fn range_ref(start: (u32, u32), end: (u32, u32)) -> String {
    if start == end {
        cell_ref(start.0, start.1)
    } else {
        format!("{}:{}", cell_ref(start.0, start.1), cell_ref(end.0, end.1))
    }
}

/// The letters of a 0-based column (`0` → `A`, `26` → `AA`).
pub(crate) fn column_name(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTimeType};
    use serde_json::json;

    fn date(serial: f64, is_1904: bool) -> Option<Value> {
        let dt = ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, is_1904);
        to_json(&DataRef::DateTime(dt), is_1904)
    }

    #[test]
    fn both_date_systems_give_the_same_day() {
        assert_eq!(date(44197.0, false), Some(json!("2021-01-01")));
        assert_eq!(date(42735.0, true), Some(json!("2021-01-01")));
        assert_eq!(date(45943.5, false), Some(json!("2025-10-13T12:00:00")));
        assert_eq!(date(0.75, false), Some(json!("18:00:00")));
    }

    #[test]
    fn serials_excel_cannot_show_stay_numbers() {
        assert_eq!(date(60.0, false), Some(json!(60)));
        assert_eq!(date(-1.0, false), Some(json!(-1)));
        assert_eq!(date(3e6, false), Some(json!(3_000_000)));
    }

    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(iso_duration(10.632_060_185_185_2), "PT255H10M10S");
        assert_eq!(iso_duration(0.0), "PT0S");
        assert_eq!(iso_duration(-1.0 / 24.0), "-PT1H");
        assert_eq!(iso_duration(1.5 / 86_400.0), "PT1.500S");
    }

    #[test]
    fn numbers_errors_and_empty_strings() {
        assert_eq!(to_json(&DataRef::Float(196.0), false), Some(json!(196)));
        assert_eq!(to_json(&DataRef::Float(0.5), false), Some(json!(0.5)));
        assert_eq!(
            to_json(&DataRef::Float(f64::NAN), false),
            Some(json!("NaN"))
        );
        let div0 = DataRef::Error(CellErrorType::Div0);
        assert_eq!(to_json(&div0, false), Some(json!("#DIV/0!")));
        assert_eq!(to_json(&DataRef::SharedString(""), false), None);
    }

    #[test]
    fn references_are_a1_style() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(16_383), "XFD");
        assert_eq!(range_ref((0, 0), (21, 3)), "A1:D22");
        assert_eq!(range_ref((0, 0), (0, 0)), "A1");
    }
}
