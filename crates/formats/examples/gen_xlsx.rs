//! Writes a deterministic benchmark workbook: one sheet of a header row and ROWS rows × 10 columns
//! (integers, floats, strings through the shared-strings table, booleans, dates and date-times),
//! with the zip crate and hand-written SpreadsheetML:
//! `cargo run --release -p fileproc-formats --example gen_xlsx -- OUT.xlsx [ROWS=100000]`.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

const NS: &str = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const HEADER: [&str; 10] = [
    "id", "quantity", "price", "score", "name", "city", "comment", "active", "date", "updated",
];
const CITIES: [&str; 8] = [
    "Lisbon", "Porto", "Faro", "Braga", "Coimbra", "Évora", "Aveiro", "Viseu",
];
/// Distinct names in the name column.
const NAMES: u64 = 5_000;

/// xorshift64: a seeded, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The shared strings: header, names, cities, then one comment per row.
struct Strings {
    xml: String,
    count: u64,
}

impl Strings {
    fn add(&mut self, s: &str) -> u64 {
        let _ = write!(self.xml, "<si><t>{s}</t></si>");
        self.count += 1;
        self.count - 1
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().ok_or("usage: gen_xlsx OUT.xlsx [ROWS]")?;
    let rows: u64 = args.get(1).map_or(Ok(100_000), |r| r.parse())?;
    let mut strings = Strings {
        xml: String::new(),
        count: 0,
    };
    let header: Vec<u64> = HEADER.iter().map(|h| strings.add(h)).collect();
    let first_name = strings.count;
    for k in 0..NAMES {
        strings.add(&format!("name {k:04}"));
    }
    let first_city = strings.count;
    for c in CITIES {
        strings.add(c);
    }
    let mut sheet = String::with_capacity(usize::try_from(rows)? * 400);
    let _ = write!(
        sheet,
        r#"<worksheet {NS}><dimension ref="A1:J{}"/><sheetData><row r="1">"#,
        rows + 1
    );
    for (col, idx) in header.iter().enumerate() {
        let _ = write!(sheet, r#"<c r="{}1" t="s"><v>{idx}</v></c>"#, letter(col));
    }
    sheet.push_str("</row>");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..rows {
        let r = i + 2;
        let comment = strings.add(&format!("comment for row {i}"));
        let name = first_name + rng.next() % NAMES;
        let city = first_city + rng.next() % CITIES.len() as u64;
        let quantity = rng.next() % 1_000;
        let price = (rng.next() % 1_000_000) as f64 / 100.0;
        let score = (rng.next() % 10_000) as f64 / 7.0;
        let active = rng.next() % 2;
        let date = 43_831 + rng.next() % 2_192; // 2020-01-01 .. 2025-12-31
        let updated = date as f64 + (rng.next() % 86_400) as f64 / 86_400.0;
        let _ = write!(
            sheet,
            r#"<row r="{r}"><c r="A{r}"><v>{}</v></c><c r="B{r}"><v>{quantity}</v></c><c r="C{r}"><v>{price}</v></c><c r="D{r}"><v>{score}</v></c><c r="E{r}" t="s"><v>{name}</v></c><c r="F{r}" t="s"><v>{city}</v></c><c r="G{r}" t="s"><v>{comment}</v></c><c r="H{r}" t="b"><v>{active}</v></c><c r="I{r}" s="1"><v>{date}</v></c><c r="J{r}" s="2"><v>{updated}</v></c></row>"#,
            i + 1
        );
    }
    sheet.push_str("</sheetData></worksheet>");
    let sst = format!(
        r#"<sst {NS} count="{0}" uniqueCount="{0}">{1}</sst>"#,
        strings.count, strings.xml
    );
    write_package(out, &sheet, &sst)?;
    eprintln!(
        "{out}: {rows} rows x 10 columns, {} shared strings",
        strings.count
    );
    Ok(())
}

fn letter(col: usize) -> char {
    char::from(b'A' + u8::try_from(col).unwrap_or(0))
}

fn write_package(out: &str, sheet: &str, sst: &str) -> Result<(), Box<dyn std::error::Error>> {
    let types = r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#;
    let root = format!(
        r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    let book = format!(
        r#"<workbook {NS}><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>"#
    );
    let rels = format!(
        r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="{REL}/styles" Target="styles.xml"/></Relationships>"#
    );
    // Style 1: built-in date format 14; style 2: custom yyyy-mm-dd hh:mm:ss.
    let styles = format!(
        r#"<styleSheet {NS}><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts><fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>"#
    );
    let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(out)?));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let parts: [(&str, &str); 7] = [
        ("[Content_Types].xml", types),
        ("_rels/.rels", &root),
        ("xl/workbook.xml", &book),
        ("xl/_rels/workbook.xml.rels", &rels),
        ("xl/styles.xml", &styles),
        ("xl/sharedStrings.xml", sst),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    for (name, data) in parts {
        zip.start_file(name, options)?;
        zip.write_all(data.as_bytes())?;
    }
    zip.finish()?.flush()?;
    Ok(())
}
