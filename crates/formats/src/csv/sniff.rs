//! The dialect, from the decoded prefix: the delimiter, whether the first record is a header, and
//! the column names.

use std::collections::HashSet;

use super::infer::{self, ALL, Cell};

/// The delimiters considered, in order of preference on a tie.
pub(super) const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Records of the sample looked at.
const SAMPLE_RECORDS: usize = 1000;

/// The sample's records parsed with one delimiter (the last one dropped when the sample is cut).
fn sample_records(sample: &str, delimiter: u8, complete: bool) -> Vec<csv::ByteRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(sample.as_bytes());
    let mut records: Vec<csv::ByteRecord> = reader
        .byte_records()
        .take(SAMPLE_RECORDS + 1)
        .map_while(Result::ok)
        .collect();
    let cut = records.len() > SAMPLE_RECORDS || !complete;
    if cut && records.len() > 1 {
        records.pop();
    }
    records
}

/// The most common field count (the larger on a tie) and the share of records that have it.
fn modal_field_count(records: &[csv::ByteRecord]) -> (usize, f64) {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for r in records {
        match counts.iter_mut().find(|(n, _)| *n == r.len()) {
            Some((_, c)) => *c += 1,
            None => counts.push((r.len(), 1)),
        }
    }
    let (fields, freq) = counts
        .into_iter()
        .max_by_key(|(n, c)| (*c, *n))
        .unwrap_or((0, 0));
    #[allow(clippy::cast_precision_loss)]
    let share = if records.is_empty() {
        0.0
    } else {
        freq as f64 / records.len() as f64
    };
    (fields, share)
}

/// The delimiter: the candidate whose records most consistently share one field count above 1
/// (parsing is quote-aware, so delimiters inside quoted fields do not count). Ties go to the more
/// fields, then to the earlier candidate, so a comma file stays a comma file; when no candidate
/// splits anything, `,`.
pub(super) fn delimiter(sample: &str, complete: bool) -> u8 {
    let mut best = (b',', 0.0, 1);
    for d in DELIMITERS {
        let (fields, share) = modal_field_count(&sample_records(sample, d, complete));
        if fields > 1 && (share > best.1 || (share == best.1 && fields > best.2)) {
            best = (d, share, fields);
        }
    }
    best.0
}

/// What the sample says about the records.
#[derive(Debug)]
pub(super) struct Layout {
    /// Whether the first record is a header.
    pub has_header: bool,
    /// The most common field count.
    pub modal_fields: usize,
}

/// Whether the first record is a header, judged against the types of the columns below it in the
/// sample: a cell that does not fit its column's (non-string) type votes "header", one that fits
/// votes "data". With no typed column to vote, the first record is a header unless one of its
/// cells is empty (or a null marker); with no record below it, a header unless every cell is
/// typed (a lone `1,2,3` is data, a lone `id,name` a header).
pub(super) fn layout(sample: &str, delimiter: u8, complete: bool) -> Layout {
    let records = sample_records(sample, delimiter, complete);
    let (modal_fields, _) = modal_field_count(&records);
    let Some((first, rest)) = records.split_first() else {
        return Layout {
            has_header: false,
            modal_fields,
        };
    };
    let first_cells: Vec<&[u8]> = first.iter().collect();
    let any_null = first_cells.iter().any(|c| infer::is_null(c));
    let has_header = if rest.is_empty() {
        any_null
            || !first_cells
                .iter()
                .all(|c| infer::classify(c.trim_ascii()) != Cell::Str)
    } else {
        let (mut header_votes, mut data_votes) = (0, 0);
        for (j, cell) in first_cells.iter().enumerate() {
            let mut alive = ALL;
            let mut seen = false;
            for value in rest
                .iter()
                .filter_map(|r| r.get(j))
                .filter(|v| !infer::is_null(v))
            {
                seen = true;
                alive &= infer::classify(value.trim_ascii()).mask();
            }
            if !seen || alive == 0 || infer::is_null(cell) {
                continue;
            }
            if infer::classify(cell.trim_ascii()).mask() & alive != 0 {
                data_votes += 1;
            } else {
                header_votes += 1;
            }
        }
        header_votes > data_votes || (header_votes == data_votes && !any_null)
    };
    Layout {
        has_header,
        modal_fields,
    }
}

/// Unique column names: an empty name becomes `column_N` (N counts from 1), a repeated one gets
/// `_2`, `_3`... (skipping names already taken).
pub(super) fn unique_names(raw: &[String]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let trimmed = name.trim();
        let base = if trimmed.is_empty() {
            format!("column_{}", i + 1)
        } else {
            trimmed.to_owned()
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        taken.insert(candidate.clone());
        out.push(candidate);
    }
    out
}

/// `column_1` ... `column_n`.
pub(super) fn generated_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("column_{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_commas_do_not_fool_the_delimiter() {
        assert_eq!(delimiter("id;value\n1;1,5\n2;2,75\n", true), b';');
    }

    #[test]
    fn a_comma_file_with_semicolons_in_quotes_stays_comma() {
        assert_eq!(delimiter("a,b\n1,\"x;y\"\n2,\"p;q\"\n", true), b',');
        assert_eq!(delimiter("a,b\n1,x;y\n2,p;q\n", true), b',');
    }

    #[test]
    fn single_column_files_use_comma() {
        assert_eq!(delimiter("name\nalice\nbob\n", true), b',');
    }

    #[test]
    fn pipes_and_tabs_are_found() {
        assert_eq!(delimiter("a|b|c\n1|2|3\n", true), b'|');
        assert_eq!(delimiter("id\tname\n3\t\\N\n", true), b'\t');
    }

    #[test]
    fn the_header_is_judged_against_the_types_below() {
        assert!(layout("id,name\n1,x\n2,y\n", b',', true).has_header);
        assert!(!layout("1,x\n2,y\n", b',', true).has_header);
        assert!(layout("a,b\nx,y\nz,w\n", b',', true).has_header);
        assert!(!layout("x,\ny,z\n", b',', true).has_header);
        assert!(layout("id,name\n", b',', true).has_header);
        assert!(!layout("1,2.5\n", b',', true).has_header);
    }

    #[test]
    fn names_are_made_unique() {
        let raw: Vec<String> = ["name", "", "name", "name_2", " x "]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            unique_names(&raw),
            ["name", "column_2", "name_2", "name_2_2", "x"]
        );
    }
}
