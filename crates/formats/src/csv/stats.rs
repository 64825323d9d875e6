//! Per-column statistics in one pass and fixed memory.
//!
//! A column's final type is only known after its last cell, so [`ColumnStats`] keeps, for every
//! type still possible, what that type's summary needs (integer min/max/sum, float min/max/sum,
//! which booleans were seen, date and datetime extremes) plus the string extremes, which every
//! type falls back to. Once a cell rules a type out its accumulators stop being updated, and once
//! only "string" remains cells are no longer classified at all.
//!
//! Distinct values are counted exactly (by 64-bit hash) up to [`EXACT_LIMIT`] values, then by a
//! HyperLogLog sketch with 2^[`HLL_PRECISION`] one-byte registers (about 1.6% standard error).

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use serde_json::Value;

use super::infer::{self, ALL, BOOL, Cell, DATE, DATETIME, Date, DateTime, FLOAT, INT};
use super::{ColumnSummary, ColumnType};

/// Distinct values counted exactly before switching to the sketch.
const EXACT_LIMIT: usize = 512;
/// log2 of the number of HyperLogLog registers.
const HLL_PRECISION: u32 = 12;

/// A hasher for keys that already are uniform 64-bit hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A distinct-value counter: exact for small cardinalities, a HyperLogLog sketch beyond.
struct Distinct {
    last: Option<u64>,
    counter: Counter,
}

enum Counter {
    Exact(HashSet<u64, BuildHasherDefault<IdentityHasher>>),
    Sketch(Box<[u8]>),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct {
            last: None,
            counter: Counter::Exact(HashSet::default()),
        }
    }
}

impl Distinct {
    /// Adds one value's hash.
    #[inline]
    fn insert(&mut self, hash: u64) {
        // Runs of one value (sorted or repetitive columns) cost one comparison.
        if self.last == Some(hash) {
            return;
        }
        self.last = Some(hash);
        match &mut self.counter {
            Counter::Exact(set) => {
                if set.insert(hash) && set.len() > EXACT_LIMIT {
                    let mut registers = vec![0u8; 1 << HLL_PRECISION].into_boxed_slice();
                    for h in set.iter() {
                        hll_add(&mut registers, *h);
                    }
                    self.counter = Counter::Sketch(registers);
                }
            }
            Counter::Sketch(registers) => hll_add(registers, hash),
        }
    }

    /// The estimated number of distinct values.
    fn estimate(&self) -> u64 {
        match &self.counter {
            Counter::Exact(set) => set.len() as u64,
            Counter::Sketch(registers) => hll_estimate(registers),
        }
    }
}

#[inline]
fn hll_add(registers: &mut [u8], hash: u64) {
    let index = (hash >> (64 - HLL_PRECISION)) as usize;
    // The remaining bits with a sentinel so that the rank is at most 64 - precision + 1.
    let rest = (hash << HLL_PRECISION) | (1 << (HLL_PRECISION - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    if let Some(r) = registers.get_mut(index) {
        *r = (*r).max(rank);
    }
}

#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn hll_estimate(registers: &[u8]) -> u64 {
    let m = registers.len() as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|r| (-f64::from(*r)).exp2()).sum();
    let raw = alpha * m * m / sum;
    let zeros = registers.iter().filter(|r| **r == 0).count();
    let estimate = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    estimate.round() as u64
}

/// Everything one column's summary needs, updated cell by cell.
///
/// The CSV pass feeds it raw fields ([`ColumnStats::observe_with`]); the XLSX pass feeds it each
/// cell's text and types only the cells that are numbers, booleans or dates in the workbook
/// (`xlsx/columns.rs`).
pub(crate) struct ColumnStats {
    /// The types every non-null cell so far fits (bits from [`infer`]).
    alive: u8,
    nulls: u64,
    non_null: u64,
    distinct: Distinct,
    min_len: u64,
    max_len: u64,
    min_str: Vec<u8>,
    max_str: Vec<u8>,
    min_key: u64,
    max_key: u64,
    int_min: i64,
    int_max: i64,
    int_sum: i128,
    float_min: f64,
    float_max: f64,
    float_sum: f64,
    seen_false: bool,
    seen_true: bool,
    date_min: Option<Date>,
    date_max: Option<Date>,
    /// Extremes of the datetime cells (date cells are kept apart above), with their instants.
    datetime_min: Option<((i64, u32), DateTime)>,
    datetime_max: Option<((i64, u32), DateTime)>,
}

impl Default for ColumnStats {
    fn default() -> Self {
        ColumnStats {
            alive: ALL,
            nulls: 0,
            non_null: 0,
            distinct: Distinct::default(),
            min_len: u64::MAX,
            max_len: 0,
            min_str: Vec::new(),
            max_str: Vec::new(),
            min_key: 0,
            max_key: 0,
            int_min: i64::MAX,
            int_max: i64::MIN,
            int_sum: 0,
            float_min: f64::INFINITY,
            float_max: f64::NEG_INFINITY,
            float_sum: 0.0,
            seen_false: false,
            seen_true: false,
            date_min: None,
            date_max: None,
            datetime_min: None,
            datetime_max: None,
        }
    }
}

/// The first 8 bytes as a big-endian number, zero-padded: ordering these orders the strings
/// whenever they differ.
#[inline]
fn prefix_key(s: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    let n = s.len().min(8);
    if let (Some(dst), Some(src)) = (head.get_mut(..n), s.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_be_bytes(head)
}

/// `a < b` where `ka`, `kb` are their [`prefix_key`]s: a `memcmp` only when the prefixes tie.
#[inline]
fn less(a: &[u8], ka: u64, b: &[u8], kb: u64) -> bool {
    if ka == kb { a < b } else { ka < kb }
}

/// The hash used for distinct counting; fixed seeds so that results are reproducible.
#[inline]
fn hash_value(value: &[u8]) -> u64 {
    foldhash::quality::FixedState::with_seed(0x5eed_c5f0).hash_one(value)
}

/// Characters in (mostly) UTF-8 bytes: every byte that is not a continuation byte.
#[inline]
fn char_count(raw: &[u8]) -> u64 {
    raw.iter().filter(|b| (**b & 0xC0) != 0x80).count() as u64
}

impl ColumnStats {
    /// A missing cell (a short record): a null.
    pub(super) fn observe_missing(&mut self) {
        self.nulls += 1;
    }

    /// Adds one cell; returns whether it is null.
    #[cfg(test)]
    pub(super) fn observe(&mut self, raw: &[u8]) -> bool {
        self.observe_with(raw, false)
    }

    /// Counts as missing every cell short of `cells` observed in all: the cells of a sparse
    /// column that were never observed one by one.
    pub(crate) fn observe_missing_until(&mut self, cells: u64) {
        self.nulls += cells.saturating_sub(self.nulls + self.non_null);
    }

    /// Adds one cell (`ascii`: known to be ASCII, so characters are bytes); returns whether it is
    /// null.
    #[inline]
    pub(crate) fn observe_with(&mut self, raw: &[u8], ascii: bool) -> bool {
        let t = raw.trim_ascii();
        if t.is_empty() || infer::is_null_marker(t) {
            self.nulls += 1;
            return true;
        }
        self.observe_value(raw, t, ascii);
        false
    }

    /// Adds one cell that is a string whatever it reads as, and never null: an XLSX text cell
    /// (`12345`, `NA` or `true` typed as text stay strings there). The column becomes a string
    /// column.
    pub(crate) fn observe_text(&mut self, raw: &[u8]) {
        self.alive = 0;
        self.observe_value(raw, raw, false);
    }

    /// Adds one non-null cell, `t` being `raw` trimmed. Always inlined: this is the CSV pass's
    /// inner loop, compiled as it was before the XLSX pass shared it.
    #[inline(always)]
    fn observe_value(&mut self, raw: &[u8], t: &[u8], ascii: bool) {
        let first = self.non_null == 0;
        self.non_null += 1;
        let len = if ascii || raw.is_ascii() {
            raw.len() as u64
        } else {
            char_count(raw)
        };
        self.min_len = self.min_len.min(len);
        self.max_len = self.max_len.max(len);
        self.distinct.insert(hash_value(raw));
        let key = prefix_key(raw);
        if first || less(raw, key, &self.min_str, self.min_key) {
            self.min_str.clear();
            self.min_str.extend_from_slice(raw);
            self.min_key = key;
        }
        if first || less(&self.max_str, self.max_key, raw, key) {
            self.max_str.clear();
            self.max_str.extend_from_slice(raw);
            self.max_key = key;
        }
        if self.alive != 0 {
            self.observe_typed(t);
        }
    }

    /// Types the cell. Each shape updates only its own accumulators: integers stay apart from
    /// floats and dates from datetimes, and the two are merged when a column of both is summarised.
    /// Always inlined, as [`ColumnStats::observe_value`] is: with the XLSX pass calling it too,
    /// the compiler would otherwise make it a call in the CSV pass's inner loop.
    #[inline(always)]
    fn observe_typed(&mut self, t: &[u8]) {
        let cell = infer::classify(t);
        self.alive &= cell.mask();
        match cell {
            Cell::Int(v) => {
                self.int_min = self.int_min.min(v);
                self.int_max = self.int_max.max(v);
                self.int_sum += i128::from(v);
            }
            Cell::Float(v) => {
                self.float_min = self.float_min.min(v);
                self.float_max = self.float_max.max(v);
                self.float_sum += v;
            }
            Cell::Bool(b) => {
                self.seen_true |= b;
                self.seen_false |= !b;
            }
            Cell::Date(d) => {
                self.date_min = Some(self.date_min.map_or(d, |m| m.min(d)));
                self.date_max = Some(self.date_max.map_or(d, |m| m.max(d)));
            }
            Cell::DateTime(dt) => {
                let key = dt.instant();
                if self.datetime_min.is_none_or(|(k, _)| key < k) {
                    self.datetime_min = Some((key, dt));
                }
                if self.datetime_max.is_none_or(|(k, _)| key > k) {
                    self.datetime_max = Some((key, dt));
                }
            }
            Cell::Str => {}
        }
    }

    /// Float extremes and sum over the integer and the float cells.
    #[allow(clippy::cast_precision_loss)]
    fn float_stats(&self) -> (f64, f64, f64) {
        if self.int_min > self.int_max {
            (self.float_min, self.float_max, self.float_sum)
        } else {
            (
                self.float_min.min(self.int_min as f64),
                self.float_max.max(self.int_max as f64),
                self.float_sum + self.int_sum as f64,
            )
        }
    }

    /// Datetime extremes over the datetime and the date cells (a date is its midnight).
    fn datetime_extremes(&self) -> (Option<DateTime>, Option<DateTime>) {
        let with_key = |d: Option<Date>| d.map(|d| (d.at_midnight().instant(), d.at_midnight()));
        let pick = |a: Option<((i64, u32), DateTime)>,
                    b: Option<((i64, u32), DateTime)>,
                    want_min: bool| match (a, b) {
            (Some(a), Some(b)) => Some(if (a.0 <= b.0) == want_min { a.1 } else { b.1 }),
            (a, b) => a.or(b).map(|x| x.1),
        };
        (
            pick(self.datetime_min, with_key(self.date_min), true),
            pick(self.datetime_max, with_key(self.date_max), false),
        )
    }

    /// The narrowest type every non-null cell fits; string for a column of nulls only.
    pub(super) fn column_type(&self) -> ColumnType {
        let a = self.alive;
        if self.non_null == 0 {
            ColumnType::String
        } else if a & INT != 0 {
            ColumnType::Integer
        } else if a & FLOAT != 0 {
            ColumnType::Float
        } else if a & BOOL != 0 {
            ColumnType::Boolean
        } else if a & DATE != 0 {
            ColumnType::Date
        } else if a & DATETIME != 0 {
            ColumnType::Datetime
        } else {
            ColumnType::String
        }
    }

    /// The column's summary.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn summary(&self, name: String) -> ColumnSummary {
        let column_type = self.column_type();
        let float = |v: f64| serde_json::Number::from_f64(v).map(Value::Number);
        let (min, max, mean) = if self.non_null == 0 {
            (None, None, None)
        } else {
            match column_type {
                ColumnType::Integer => (
                    Some(Value::from(self.int_min)),
                    Some(Value::from(self.int_max)),
                    Some(self.int_sum as f64 / self.non_null as f64),
                ),
                ColumnType::Float => {
                    let (lo, hi, sum) = self.float_stats();
                    (float(lo), float(hi), Some(sum / self.non_null as f64))
                }
                ColumnType::Boolean => (
                    Some(Value::Bool(!self.seen_false)),
                    Some(Value::Bool(self.seen_true)),
                    None,
                ),
                ColumnType::Date => (
                    self.date_min.map(|d| Value::from(d.iso())),
                    self.date_max.map(|d| Value::from(d.iso())),
                    None,
                ),
                ColumnType::Datetime => {
                    let (lo, hi) = self.datetime_extremes();
                    (
                        lo.map(|d| Value::from(d.iso())),
                        hi.map(|d| Value::from(d.iso())),
                        None,
                    )
                }
                ColumnType::String => (
                    Some(Value::from(
                        String::from_utf8_lossy(&self.min_str).into_owned(),
                    )),
                    Some(Value::from(
                        String::from_utf8_lossy(&self.max_str).into_owned(),
                    )),
                    None,
                ),
            }
        };
        let has_values = self.non_null > 0;
        ColumnSummary {
            name,
            column_type,
            null_count: self.nulls,
            // An estimate can overshoot; there are never more distinct values than values.
            distinct_estimate: self.distinct.estimate().min(self.non_null),
            min,
            max,
            mean,
            min_length: has_values.then_some(self.min_len),
            max_length: has_values.then_some(self.max_len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_is_exact_when_small_and_close_when_large() {
        let mut d = Distinct::default();
        for i in 0..300u32 {
            d.insert(hash_value(format!("v{}", i % 100).as_bytes()));
        }
        assert_eq!(d.estimate(), 100);
        let mut d = Distinct::default();
        for i in 0..100_000u32 {
            d.insert(hash_value(format!("value-{i}").as_bytes()));
        }
        let e = d.estimate();
        assert!((95_000..=105_000).contains(&e), "estimate {e}");
        let mut d = Distinct::default();
        for i in 0..2_000u32 {
            d.insert(hash_value(i.to_string().as_bytes()));
        }
        let e = d.estimate();
        assert!((1_950..=2_050).contains(&e), "estimate {e}");
    }

    #[test]
    fn string_extremes_are_bytewise_lexicographic() {
        let mut s = ColumnStats::default();
        for v in [
            "abcdefgh2",
            "abcdefgh10",
            "abc",
            "abcdefgh",
            "b",
            "abcdefgh\u{e9}",
        ] {
            s.observe(v.as_bytes());
        }
        s.observe(b"a\x00");
        let sum = s.summary("s".into());
        assert_eq!(
            (sum.min, sum.max),
            (Some(Value::from("a\u{0}")), Some(Value::from("b")))
        );
        let mut s = ColumnStats::default();
        for v in ["abcdefgh2", "abcdefgh10", "abcdefgh", "abcdefgh\u{e9}"] {
            s.observe(v.as_bytes());
        }
        let sum = s.summary("s".into());
        assert_eq!(
            (sum.min, sum.max),
            (
                Some(Value::from("abcdefgh")),
                Some(Value::from("abcdefgh\u{e9}"))
            )
        );
    }

    #[test]
    fn a_column_narrows_to_the_type_every_value_fits() {
        let mut s = ColumnStats::default();
        for v in ["1", "", "3", "NULL"] {
            s.observe(v.as_bytes());
        }
        assert_eq!(s.column_type(), ColumnType::Integer);
        s.observe(b"2.5");
        let sum = s.summary("x".into());
        assert_eq!(sum.column_type, ColumnType::Float);
        assert_eq!(sum.null_count, 2);
        assert_eq!(sum.min, Some(Value::from(1.0)));
        assert_eq!(sum.max, Some(Value::from(3.0)));
        assert_eq!(sum.mean, Some(6.5 / 3.0));
        s.observe(b"abc");
        let sum = s.summary("x".into());
        assert_eq!(sum.column_type, ColumnType::String);
        assert_eq!(sum.min, Some(Value::from("1")));
        assert_eq!(sum.max, Some(Value::from("abc")));
        assert_eq!((sum.min_length, sum.max_length), (Some(1), Some(3)));
    }

    #[test]
    fn dates_mixed_with_datetimes_make_a_datetime_column() {
        let mut s = ColumnStats::default();
        s.observe(b"2020-01-02");
        s.observe(b"2019-12-31");
        assert_eq!(s.summary("d".into()).min, Some(Value::from("2019-12-31")));
        s.observe(b"2020-01-01 12:00:00");
        let sum = s.summary("d".into());
        assert_eq!(sum.column_type, ColumnType::Datetime);
        assert_eq!(sum.min, Some(Value::from("2019-12-31T00:00:00")));
        assert_eq!(sum.max, Some(Value::from("2020-01-02T00:00:00")));
    }

    #[test]
    fn a_column_of_nulls_is_a_string_column_without_extremes() {
        let mut s = ColumnStats::default();
        s.observe(b"");
        s.observe_missing();
        let sum = s.summary("n".into());
        assert_eq!(sum.column_type, ColumnType::String);
        assert_eq!(sum.null_count, 2);
        assert_eq!(
            (sum.min, sum.max, sum.min_length, sum.distinct_estimate),
            (None, None, None, 0)
        );
    }
}
