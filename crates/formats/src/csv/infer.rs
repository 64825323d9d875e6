//! Cell typing: which of the column types one cell fits, by cheap byte-level checks.
//!
//! Every check works on the cell's bytes with ASCII whitespace trimmed and allocates nothing. A cell
//! fits at most one "shape" ([`Cell`]); the types it is compatible with follow from the shape
//! (an integer also fits float, a date also fits datetime). The rules, which the API documents:
//!
//! - **null**: empty or whitespace-only (Unicode white space, e.g. no-break spaces, counts), or one
//!   of [`NULL_MARKERS`].
//! - **integer**: `[+-]digits` that fits an `i64`, without leading zeros (`007` stays a string, so zip
//!   codes and identifiers keep their zeros). An integer literal that overflows `i64` is a string, so
//!   long identifiers are never rounded through a float.
//! - **float**: `[+-]digits[.digits][(e|E)[+-]digits]` (either side of the point may be empty, not
//!   both), same leading-zero rule. `NaN` is a null marker; `inf` is a string.
//! - **boolean**: `true`/`false`/`yes`/`no`, any case. `0`/`1` are integers.
//! - **date**: `YYYY-MM-DD` or `YYYY/MM/DD`, a real calendar day. Day-first and month-first forms
//!   are ambiguous and stay strings.
//! - **datetime**: a date, `T` or a space, `HH:MM[:SS[.fraction]]`, then optionally `Z` or an offset
//!   `±HH[:MM]`. Normalised to `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`.

/// The bit of each type in a column's "still possible" mask.
pub(super) const INT: u8 = 1;
pub(super) const FLOAT: u8 = 2;
pub(super) const BOOL: u8 = 4;
pub(super) const DATE: u8 = 8;
pub(super) const DATETIME: u8 = 16;
pub(super) const ALL: u8 = INT | FLOAT | BOOL | DATE | DATETIME;

/// Cell values read as null (besides empty and whitespace-only cells), compared exactly.
pub const NULL_MARKERS: &[&str] = &[
    "NULL", "null", "Null", "\\N", "NA", "N/A", "n/a", "#N/A", "NaN", "nan",
];

/// Whether a cell is null.
#[inline]
pub(super) fn is_null(raw: &[u8]) -> bool {
    let t = raw.trim_ascii();
    t.is_empty() || is_null_marker(t)
}

/// Whether a cell with ASCII whitespace trimmed, not empty, is null: one of [`NULL_MARKERS`], or
/// only (Unicode) whitespace such as no-break spaces.
#[inline]
pub(super) fn is_null_marker(t: &[u8]) -> bool {
    match t.first() {
        Some(b'N' | b'n' | b'\\' | b'#') => {
            t.len() <= 4 && NULL_MARKERS.iter().any(|m| m.as_bytes() == t)
        }
        Some(0x80..) => std::str::from_utf8(t).is_ok_and(|s| s.trim().is_empty()),
        _ => false,
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// A date and time of day, with an optional UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DateTime {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanos: u32,
    /// How many fraction digits the value had (kept when normalising).
    pub frac_digits: u8,
    /// Minutes east of UTC; `None` for a value without an offset (ordered as if UTC).
    pub offset_minutes: Option<i16>,
}

/// The shape of one non-null cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cell {
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(Date),
    DateTime(DateTime),
    Str,
}

impl Cell {
    /// The types this cell fits.
    pub(super) fn mask(self) -> u8 {
        match self {
            Cell::Int(_) => INT | FLOAT,
            Cell::Float(_) => FLOAT,
            Cell::Bool(_) => BOOL,
            Cell::Date(_) => DATE | DATETIME,
            Cell::DateTime(_) => DATETIME,
            Cell::Str => 0,
        }
    }
}

/// The shape of a trimmed, non-null cell. Dispatches on the first byte so that most string cells
/// are rejected after one comparison.
#[inline]
pub(super) fn classify(t: &[u8]) -> Cell {
    match t.first() {
        Some(b'0'..=b'9') => {
            if t.len() >= 10 && matches!(t.get(4), Some(b'-' | b'/')) {
                parse_temporal(t).unwrap_or(Cell::Str)
            } else {
                parse_number(t)
            }
        }
        Some(b'+' | b'-' | b'.') => parse_number(t),
        Some(b't' | b'T' | b'f' | b'F' | b'y' | b'Y' | b'n' | b'N') => {
            parse_bool(t).map_or(Cell::Str, Cell::Bool)
        }
        _ => Cell::Str,
    }
}

fn parse_bool(t: &[u8]) -> Option<bool> {
    if t.eq_ignore_ascii_case(b"true") || t.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else if t.eq_ignore_ascii_case(b"false") || t.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else {
        None
    }
}

/// Counts the ASCII digits at the start of `t`.
#[inline]
fn digits(t: &[u8]) -> usize {
    t.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Powers of ten exactly representable as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Powers of ten as integers, for the fast path's mantissa.
const POW10_INT: [u64; 16] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
];

/// The count of leading ASCII digits and their value (meaningful for up to 19 digits).
#[inline]
fn digits_value(t: &[u8]) -> (usize, u64) {
    let mut value = 0u64;
    let mut n = 0;
    for b in t {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        n += 1;
    }
    (n, value)
}

fn parse_number(t: &[u8]) -> Cell {
    let (negative, body) = match t.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, t),
    };
    let (int_len, int_value) = digits_value(body);
    if int_len > 1 && body.first() == Some(&b'0') {
        return Cell::Str;
    }
    if int_len == body.len() {
        if int_len == 0 || int_len > 19 {
            return Cell::Str;
        }
        let value = if negative {
            0i64.checked_sub_unsigned(int_value)
        } else {
            i64::try_from(int_value).ok()
        };
        return value.map_or(Cell::Str, Cell::Int);
    }
    // A float: [.digits][(e|E)[+-]digits]
    let mut rest = body.get(int_len..).unwrap_or_default();
    let (mut frac_len, mut frac_value) = (0, 0);
    if let Some((b'.', after)) = rest.split_first() {
        (frac_len, frac_value) = digits_value(after);
        rest = after.get(frac_len..).unwrap_or_default();
    }
    if int_len + frac_len == 0 {
        return Cell::Str;
    }
    let mut exponent = false;
    if let Some((b'e' | b'E', after)) = rest.split_first() {
        let after = match after.split_first() {
            Some((b'+' | b'-', a)) => a,
            _ => after,
        };
        let exp_len = digits(after);
        if exp_len == 0 {
            return Cell::Str;
        }
        exponent = true;
        rest = after.get(exp_len..).unwrap_or_default();
    }
    if !rest.is_empty() {
        return Cell::Str;
    }
    // Clinger's fast path: a mantissa below 2^53 over an exact power of ten rounds correctly.
    // (15 digits at most, so the mantissa cannot overflow and is below 2^53.)
    if !exponent
        && int_len + frac_len <= 15
        && let (Some(pow), Some(scale)) = (POW10.get(frac_len), POW10_INT.get(frac_len))
    {
        #[allow(clippy::cast_precision_loss)]
        let mantissa = (int_value * scale + frac_value) as f64;
        let v = mantissa / pow;
        return Cell::Float(if negative { -v } else { v });
    }
    // The syntax check above admits only ASCII, which `f64::from_str` accepts.
    match std::str::from_utf8(t)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        Some(v) if v.is_finite() => Cell::Float(v),
        _ => Cell::Str,
    }
}

/// `n` ASCII digits at `t[at..at + n]` as a number.
fn fixed_digits(t: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = t.get(at..at + n)?;
    if s.iter().all(u8::is_ascii_digit) {
        Some(s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
    } else {
        None
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

fn parse_date(t: &[u8]) -> Option<Date> {
    let sep = *t.get(4)?;
    if !matches!(sep, b'-' | b'/') || t.get(7) != Some(&sep) {
        return None;
    }
    let year = fixed_digits(t, 0, 4)?;
    let month = fixed_digits(t, 5, 2)?;
    let day = fixed_digits(t, 8, 2)?;
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(Date {
        year: u16::try_from(year).ok()?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
    })
}

/// Whether `t` is exactly a date or a datetime of the syntax above.
pub(crate) fn is_temporal(t: &[u8]) -> bool {
    parse_temporal(t).is_some()
}

/// A date (`t` is exactly a date) or a datetime.
pub(super) fn parse_temporal(t: &[u8]) -> Option<Cell> {
    let date = parse_date(t)?;
    let Some(rest) = t.get(10..).filter(|r| !r.is_empty()) else {
        return Some(Cell::Date(date));
    };
    let (sep, time) = rest.split_first()?;
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    let hour = fixed_digits(time, 0, 2)?;
    let minute = fixed_digits(time, 3, 2)?;
    if time.get(2) != Some(&b':') || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = time.get(5..).unwrap_or_default();
    let (mut second, mut nanos, mut frac_digits) = (0, 0, 0u8);
    if let Some((b':', after)) = rest.split_first() {
        second = fixed_digits(after, 0, 2).filter(|s| *s <= 59)?;
        rest = after.get(2..).unwrap_or_default();
        if let Some((b'.' | b',', after)) = rest.split_first() {
            let n = digits(after);
            if n == 0 || n > 9 {
                return None;
            }
            nanos = fixed_digits(after, 0, n)? * 10u32.pow(9 - u32::try_from(n).ok()?);
            frac_digits = u8::try_from(n).ok()?;
            rest = after.get(n..).unwrap_or_default();
        }
    }
    let offset_minutes = match rest.split_first() {
        None => None,
        Some((b'Z' | b'z', [])) => Some(0),
        Some((sign @ (b'+' | b'-'), off)) => {
            let h = fixed_digits(off, 0, 2)?;
            let m = match off.len() {
                2 => 0,
                4 => fixed_digits(off, 2, 2)?,
                5 if off.get(2) == Some(&b':') => fixed_digits(off, 3, 2)?,
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = i16::try_from(h * 60 + m).ok()?;
            Some(if *sign == b'-' { -minutes } else { minutes })
        }
        Some(_) => return None,
    };
    Some(Cell::DateTime(DateTime {
        date,
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
        second: u8::try_from(second).ok()?,
        nanos,
        frac_digits,
        offset_minutes,
    }))
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(d: Date) -> i64 {
    let (m, dd) = (i64::from(d.month), i64::from(d.day));
    let y = i64::from(d.year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Date {
    /// `YYYY-MM-DD`.
    pub(super) fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Midnight of this day, without an offset.
    pub(super) fn at_midnight(self) -> DateTime {
        DateTime {
            date: self,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
            frac_digits: 0,
            offset_minutes: None,
        }
    }
}

impl DateTime {
    /// Seconds since the Unix epoch (UTC; a value without an offset counts as UTC) and nanoseconds.
    pub(super) fn instant(&self) -> (i64, u32) {
        let secs = days_from_civil(self.date) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes.unwrap_or(0)) * 60;
        (secs, self.nanos)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`.
    pub(super) fn iso(&self) -> String {
        let mut s = format!(
            "{}T{:02}:{:02}:{:02}",
            self.date.iso(),
            self.hour,
            self.minute,
            self.second
        );
        if self.frac_digits > 0 {
            let digits = usize::from(self.frac_digits);
            let frac = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(frac.get(..digits).unwrap_or(&frac));
        }
        match self.offset_minutes {
            None => {}
            Some(0) => s.push('Z'),
            Some(m) => {
                let sign = if m < 0 { '-' } else { '+' };
                let m = m.unsigned_abs();
                s.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_documented_syntax() {
        assert_eq!(classify(b"42"), Cell::Int(42));
        assert_eq!(classify(b"-7"), Cell::Int(-7));
        assert_eq!(classify(b"+3"), Cell::Int(3));
        assert_eq!(classify(b"0"), Cell::Int(0));
        assert_eq!(classify(b"007"), Cell::Str);
        assert_eq!(classify(b"-9223372036854775808"), Cell::Int(i64::MIN));
        assert_eq!(classify(b"9223372036854775808"), Cell::Str);
        assert_eq!(classify(b"123456789012345678901234"), Cell::Str);
        assert_eq!(classify(b"1.5"), Cell::Float(1.5));
        assert_eq!(classify(b".5"), Cell::Float(0.5));
        assert_eq!(classify(b"5."), Cell::Float(5.0));
        assert_eq!(classify(b"-1e3"), Cell::Float(-1000.0));
        assert_eq!(classify(b"0.25"), Cell::Float(0.25));
        assert_eq!(classify(b"-0.000123"), Cell::Float(-0.000123));
        assert_eq!(classify(b"1526.09"), Cell::Float(1526.09));
        assert_eq!(classify(b"123456789.123456"), Cell::Float(123456789.123456));
        assert_eq!(classify(b"0.1e1"), Cell::Float(1.0));
        assert_eq!(classify(b"1,5"), Cell::Str);
        assert_eq!(classify(b"."), Cell::Str);
        assert_eq!(classify(b"-"), Cell::Str);
        assert_eq!(classify(b"1e"), Cell::Str);
        assert_eq!(classify(b"12abc"), Cell::Str);
    }

    #[test]
    fn the_float_fast_path_agrees_with_the_standard_parser() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let int = x % 10_000_000;
            let frac_digits = usize::try_from((x >> 40) % 9).unwrap_or(0);
            let frac = (x >> 20) % 10u64.pow(u32::try_from(frac_digits).unwrap_or(0));
            let s = format!(
                "{}{int}.{frac:0frac_digits$}",
                if x & 1 == 0 { "-" } else { "" }
            );
            let expected: f64 = s.parse().unwrap_or(f64::NAN);
            assert_eq!(classify(s.as_bytes()), Cell::Float(expected), "{s}");
        }
    }

    #[test]
    fn booleans_are_words_not_digits() {
        assert_eq!(classify(b"TRUE"), Cell::Bool(true));
        assert_eq!(classify(b"no"), Cell::Bool(false));
        assert_eq!(classify(b"1"), Cell::Int(1));
        assert_eq!(classify(b"nope"), Cell::Str);
    }

    #[test]
    fn dates_and_datetimes_are_validated_and_normalised() {
        let Cell::Date(d) = classify(b"2024/02/29") else {
            panic!("not a date")
        };
        assert_eq!(d.iso(), "2024-02-29");
        assert_eq!(classify(b"2023-02-29"), Cell::Str);
        assert_eq!(classify(b"2023-13-01"), Cell::Str);
        let Cell::DateTime(dt) = classify(b"2023-05-06 07:08:09") else {
            panic!("not a datetime")
        };
        assert_eq!(dt.iso(), "2023-05-06T07:08:09");
        let Cell::DateTime(dt) = classify(b"2023-05-06T07:08:09.120+0530") else {
            panic!("not a datetime")
        };
        assert_eq!(dt.iso(), "2023-05-06T07:08:09.120+05:30");
        let Cell::DateTime(utc) = classify(b"2023-05-06T01:38:09.12Z") else {
            panic!("not a datetime")
        };
        assert_eq!(utc.iso(), "2023-05-06T01:38:09.12Z");
        assert_eq!(dt.instant(), utc.instant());
        assert_eq!(classify(b"2023-05-06T25:00"), Cell::Str);
    }

    #[test]
    fn null_markers_are_exact() {
        for m in NULL_MARKERS {
            assert!(is_null(m.as_bytes()), "{m}");
        }
        assert!(is_null(b"   "));
        assert!(is_null("\u{a0}\u{a0} ".as_bytes()));
        assert!(!is_null("\u{a0}x".as_bytes()));
        assert!(is_null(b""));
        assert!(!is_null(b"None"));
        assert!(!is_null(b"NAN"));
        assert!(!is_null(b"0"));
    }

    #[test]
    fn days_from_civil_matches_known_days() {
        assert_eq!(
            days_from_civil(Date {
                year: 1970,
                month: 1,
                day: 1
            }),
            0
        );
        assert_eq!(
            days_from_civil(Date {
                year: 2000,
                month: 3,
                day: 1
            }),
            11_017
        );
        assert_eq!(
            days_from_civil(Date {
                year: 1969,
                month: 12,
                day: 31
            }),
            -1
        );
    }
}
