//! A worksheet's column names: its first non-empty row, made unique.
//!
//! A header cell's text (numbers, booleans and dates as their JSON text) trimmed is its column's
//! name; an empty one is `column_N`, N the 1-based column number (`column_3` for column C). A
//! name already taken gets `_2`, `_3`... (`name`, `name_2`). A data cell in a column the header
//! does not cover gets `column_N` the same way, from the row it first appears on.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

/// Column names by 0-based column, all distinct.
#[derive(Debug, Default)]
pub(crate) struct Header {
    names: BTreeMap<u32, String>,
    taken: HashSet<String>,
}

impl Header {
    /// The header of a row of (column, value) cells, sorted by column.
    pub(crate) fn from_row<'a>(row: impl IntoIterator<Item = (u32, &'a Value)>) -> Self {
        let mut header = Header::default();
        for (col, value) in row {
            let text = match value {
                Value::String(s) => s.trim().to_owned(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let base = if text.is_empty() {
                default_name(col)
            } else {
                text
            };
            header.insert(col, &base);
        }
        header
    }

    /// The name of a column, giving it `column_N` when it has none yet.
    pub(crate) fn name(&mut self, col: u32) -> &str {
        if !self.names.contains_key(&col) {
            self.insert(col, &default_name(col));
        }
        self.names.get(&col).map_or("", String::as_str)
    }

    fn insert(&mut self, col: u32, base: &str) {
        let mut name = base.to_owned();
        let mut n = 1u64;
        while self.taken.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.taken.insert(name.clone());
        self.names.insert(col, name);
    }

    /// The names, in column order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.names.values().cloned().collect()
    }

    /// The 0-based columns and their names, in column order.
    pub(crate) fn columns(&self) -> impl Iterator<Item = (u32, &str)> {
        self.names.iter().map(|(col, name)| (*col, name.as_str()))
    }
}

/// `column_N` for a 0-based column.
fn default_name(col: u32) -> String {
    format!("column_{}", u64::from(col) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_and_duplicate_names_are_made_unique() {
        let row = [
            (0, json!("name")),
            (1, json!(" name ")),
            (2, json!("")),
            (3, json!(2021)),
            (4, json!("column_3")),
        ];
        let header = Header::from_row(row.iter().map(|(col, v)| (*col, v)));
        assert_eq!(
            header.names(),
            ["name", "name_2", "column_3", "2021", "column_3_2"]
        );
    }

    #[test]
    fn columns_past_the_header_are_named_by_number() {
        let mut header = Header::from_row([(1, &json!("b"))]);
        assert_eq!(header.name(0), "column_1");
        assert_eq!(header.name(1), "b");
        assert_eq!(header.name(27), "column_28");
        assert_eq!(header.names(), ["column_1", "b", "column_28"]);
    }
}
