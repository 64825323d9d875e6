//! The benchmark workbook: one sheet of a header row and ROWS rows × 10 columns
//! (integers, floats, strings through the shared-strings table, booleans, dates and date-times),
//! with the zip crate and hand-written SpreadsheetML.

use std::fmt::Write as _;
use std::io::{self, Cursor, Write};

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::{Rng, other};

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

/// A workbook of one sheet, `Data`: a header row and `rows` rows × 10 columns.
///
/// # Errors
/// The zip writer's.
pub fn workbook(rows: u64) -> io::Result<Vec<u8>> {
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
    let mut sheet = String::with_capacity(usize::try_from(rows).unwrap_or(0).saturating_mul(400));
    let _ = write!(
        sheet,
        r#"<worksheet {NS}><dimension ref="A1:J{}"/><sheetData><row r="1">"#,
        rows + 1
    );
    for (col, idx) in header.iter().enumerate() {
        let _ = write!(sheet, r#"<c r="{}1" t="s"><v>{idx}</v></c>"#, letter(col));
    }
    sheet.push_str("</row>");
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    for i in 0..rows {
        let r = i + 2;
        let comment = strings.add(&format!("comment for row {i}"));
        let name = first_name + rng.below(NAMES);
        let city = first_city + rng.below(CITIES.len() as u64);
        let quantity = rng.below(1_000);
        let price = (rng.below(1_000_000)) as f64 / 100.0;
        let score = (rng.below(10_000)) as f64 / 7.0;
        let active = rng.below(2);
        let date = 43_831 + rng.below(2_192); // 2020-01-01 .. 2025-12-31
        let updated = date as f64 + (rng.below(86_400)) as f64 / 86_400.0;
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
    write_package(&sheet, &sst)
}

fn letter(col: usize) -> char {
    char::from(b'A' + u8::try_from(col).unwrap_or(0))
}

fn write_package(sheet: &str, sst: &str) -> io::Result<Vec<u8>> {
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
        r#"<styleSheet {NS}><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"#
    );
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
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
        zip.start_file(name, options).map_err(other)?;
        zip.write_all(data.as_bytes())?;
    }
    Ok(zip.finish().map_err(other)?.into_inner())
}
