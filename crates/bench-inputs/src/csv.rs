//! The benchmark CSV: a header and records of ten mixed columns until a target size, the same
//! bytes for the same seed and size on every machine (RFC 4180 quoting, `\n` line ends).
//!
//! | column | type | content |
//! | --- | --- | --- |
//! | `id` | integer | the record number, from 1 |
//! | `quantity` | integer | 0–999; empty in 1 record of 20 |
//! | `price` | float | 0.00–9999.99, two decimals |
//! | `score` | float | −500.000–499.999, three decimals; empty in 1 of 50 |
//! | `active` | boolean | `true` / `false` |
//! | `date` | date | `YYYY-MM-DD`, 2020-01-01 plus 0–2191 days |
//! | `updated` | date-time | `YYYY-MM-DDTHH:MM:SSZ` |
//! | `customer` | string | `"Last, First"`: always quoted, a comma inside |
//! | `city` | string | one of 12 cities; empty in 1 of 25 |
//! | `comment` | string | 3–12 words; 1 in 4 quoted with a comma, 1 in 8 with `""` inside |

use std::io::{self, Write};

use crate::Rng;

/// The header line.
pub const HEADER: &str = "id,quantity,price,score,active,date,updated,customer,city,comment\n";
/// The columns of every record.
pub const COLUMNS: usize = 10;
/// The seed of the standard inputs.
pub const SEED: u64 = 0x5EED_C5F0;

const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis",
    "Radia", "John",
];
const LAST: [&str; 12] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
    "Ritchie", "Perlman", "Backus",
];
const CITIES: [&str; 12] = [
    "Lisbon", "Porto", "Paris", "Lyon", "Berlin", "Oslo", "Zurich", "Madrid", "Rome", "Vienna",
    "Prague", "Dublin",
];
const WORDS: [&str; 16] = [
    "order", "shipped", "late", "customer", "called", "refund", "asked", "for", "the", "invoice",
    "again", "box", "damaged", "on", "arrival", "ok",
];

/// What a written CSV holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFacts {
    /// Data records (the header not counted).
    pub records: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}

/// The civil date `days` after 1970-01-01 (proleptic Gregorian; H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days from 1970-01-01 to 2020-01-01.
const EPOCH_2020: i64 = 18_262;

fn comment(line: &mut Vec<u8>, rng: &mut Rng) -> io::Result<()> {
    let words = 3 + rng.below(10);
    let style = rng.below(8);
    // 0: `""` inside (quoted); 1, 2: a comma inside (quoted); else plain.
    let quoted = style < 3;
    if quoted {
        line.push(b'"');
    }
    for w in 0..words {
        if w > 0 {
            line.push(b' ');
        }
        line.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        if w == 1 && quoted {
            line.push(b',');
        }
        if w == 2 && style == 0 {
            line.extend_from_slice(b" \"\"fragile\"\"");
        }
    }
    if quoted {
        line.push(b'"');
    }
    Ok(())
}

/// One record, `\n` included.
fn record(line: &mut Vec<u8>, id: u64, rng: &mut Rng) -> io::Result<()> {
    write!(line, "{id},")?;
    if rng.below(20) != 0 {
        write!(line, "{}", rng.below(1000))?;
    }
    let cents = rng.below(1_000_000);
    write!(line, ",{}.{:02},", cents / 100, cents % 100)?;
    if rng.below(50) != 0 {
        let milli = rng.below(1_000_000) as i64 - 500_000;
        let sign = if milli < 0 { "-" } else { "" };
        let milli = milli.unsigned_abs();
        write!(line, "{sign}{}.{:03}", milli / 1000, milli % 1000)?;
    }
    let active = if rng.below(2) == 0 { "true" } else { "false" };
    let (y, m, d) = civil(EPOCH_2020 + rng.below(2192) as i64);
    write!(line, ",{active},{y:04}-{m:02}-{d:02},")?;
    let (y, m, d) = civil(EPOCH_2020 + rng.below(2192) as i64);
    let second = rng.below(86_400);
    write!(
        line,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z,",
        second / 3600,
        second / 60 % 60,
        second % 60
    )?;
    let last = LAST[rng.below(LAST.len() as u64) as usize];
    let first = FIRST[rng.below(FIRST.len() as u64) as usize];
    write!(line, "\"{last}, {first}\",")?;
    if rng.below(25) != 0 {
        line.extend_from_slice(CITIES[rng.below(CITIES.len() as u64) as usize].as_bytes());
    }
    line.push(b',');
    comment(line, rng)?;
    line.push(b'\n');
    Ok(())
}

/// Writes the header, then records until at least `target_bytes` are written (the last record
/// is whole, so the size passes the target by less than one record, about 120 bytes).
///
/// # Errors
/// Those of `out`.
pub fn write(mut out: impl Write, target_bytes: u64, seed: u64) -> io::Result<CsvFacts> {
    let mut rng = Rng::new(seed);
    out.write_all(HEADER.as_bytes())?;
    let mut bytes = HEADER.len() as u64;
    let mut records = 0;
    let mut buffer = Vec::with_capacity(256 * 1024);
    while bytes < target_bytes {
        let before = buffer.len();
        records += 1;
        record(&mut buffer, records, &mut rng)?;
        bytes += (buffer.len() - before) as u64;
        if buffer.len() >= 240 * 1024 {
            out.write_all(&buffer)?;
            buffer.clear();
        }
    }
    out.write_all(&buffer)?;
    out.flush()?;
    Ok(CsvFacts { records, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_the_calendar() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(EPOCH_2020), (2020, 1, 1));
        assert_eq!(civil(EPOCH_2020 + 59), (2020, 2, 29));
        assert_eq!(civil(EPOCH_2020 + 2191), (2025, 12, 31));
    }
}
