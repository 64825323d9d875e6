// A completed file's result (DESIGN.md section 4), one view per type: CSV and XLSX as tables
// of records with the column statistics above them, PDF and DOCX with the thumbnail,
// properties and text, pictures with the thumbnail, dimensions and EXIF.

import { useRef, useState } from "preact/hooks";
import { bytes, cell, count, time } from "../format";
import type { Column, DocxSection, ImageSection, PdfSection, Properties, Result, Sheet } from "../types";
import { DownloadLink, Facts, Thumbnail } from "./common";
import { RecordsTable } from "./RecordsTable";

function yesNo(value: boolean): string {
  return value ? "Yes" : "No";
}

function ColumnStats({ columns, label }: { columns: Column[]; label: string }) {
  return (
    <div class="scroll" role="region" aria-label={label} tabIndex={0}>
      <table class="stats" data-testid="column-stats">
        <caption>{label}</caption>
        <thead>
          <tr>
            <th scope="col">Column</th>
            <th scope="col">Type</th>
            <th scope="col" class="num">
              Empty
            </th>
            <th scope="col" class="num">
              Distinct (est.)
            </th>
            <th scope="col">Min</th>
            <th scope="col">Max</th>
            <th scope="col" class="num">
              Mean
            </th>
            <th scope="col" class="num">
              Length
            </th>
          </tr>
        </thead>
        <tbody>
          {columns.map((c) => (
            <tr key={c.name}>
              <th scope="row">{c.name}</th>
              <td>{c.type}</td>
              <td class="num">{count(c.null_count)}</td>
              <td class="num">{count(c.distinct_estimate)}</td>
              <td title={cell(c.min)}>{cell(c.min)}</td>
              <td title={cell(c.max)}>{cell(c.max)}</td>
              <td class="num">{c.mean === null || c.mean === undefined ? "" : Number(c.mean.toPrecision(6)).toString()}</td>
              <td class="num">{c.min_length === null || c.min_length === undefined ? "" : `${c.min_length}–${c.max_length}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CsvResult({ result }: { result: Result }) {
  const csv = result.csv!;
  const delimiter = csv.delimiter === "\t" ? "tab" : csv.delimiter;
  return (
    <>
      <Facts
        label="CSV facts"
        items={[
          ["Rows", <span data-testid="row-count">{count(csv.row_count)}</span>],
          ["Columns", count(csv.column_count)],
          ["Encoding", csv.encoding],
          ["Delimiter", delimiter],
          ["Header row", yesNo(csv.has_header)],
          ["Malformed rows", count(csv.malformed_rows)],
        ]}
      />
      <h3>Columns</h3>
      <ColumnStats columns={csv.columns} label="Column statistics" />
      <h3>Records</h3>
      <RecordsTable id={result.file_id} total={csv.records_count} label="Records" header={csv.columns.map((c) => c.name)} />
    </>
  );
}

function SheetView({ id, sheet }: { id: string; sheet: Sheet }) {
  return (
    <>
      <Facts
        label={`Facts of sheet ${sheet.name}`}
        items={[
          ["Rows", <span data-testid="row-count">{count(sheet.rows)}</span>],
          ["Columns", count(sheet.columns)],
          ["Records", count(sheet.records_count)],
          ["Used range", sheet.used_range ?? "empty"],
          ["Cells", count(sheet.cell_count)],
          ["Formulas", count(sheet.formula_count)],
          ["Kind", sheet.kind === "worksheet" ? "" : sheet.kind],
          ["Visibility", sheet.visible === "visible" ? "" : sheet.visible],
        ]}
      />
      {sheet.error && <p class="error-text">This sheet could not be read: {sheet.error}</p>}
      {sheet.columns_stats && sheet.columns_stats.length > 0 && <ColumnStats columns={sheet.columns_stats} label={`Column statistics of ${sheet.name}`} />}
      <RecordsTable key={sheet.name} id={id} sheet={sheet.name} total={sheet.records_count} label={`Records of ${sheet.name}`} header={sheet.header} />
    </>
  );
}

/** Sheet tabs (WAI-ARIA tabs: arrow keys, Home and End move between them). */
function XlsxResult({ result }: { result: Result }) {
  const xlsx = result.xlsx!;
  const [current, setCurrent] = useState(0);
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);
  const move = (index: number) => {
    const n = xlsx.sheets.length;
    const next = (index + n) % n;
    setCurrent(next);
    tabs.current[next]?.focus();
  };
  const sheet = xlsx.sheets[current];
  return (
    <>
      <Facts
        label="Workbook facts"
        items={[
          ["Sheets", count(xlsx.sheet_count)],
          ["Cells", count(xlsx.cell_count)],
          ["Formulas", count(xlsx.formula_count)],
          ["Date system", String(xlsx.date_system)],
        ]}
      />
      <PropertyList props={xlsx.core_properties} />
      <div role="tablist" aria-label="Sheets" class="tabs">
        {xlsx.sheets.map((s, i) => (
          <button
            type="button"
            role="tab"
            key={s.name}
            id={`sheet-tab-${i}`}
            aria-selected={i === current}
            aria-controls="sheet-panel"
            tabIndex={i === current ? 0 : -1}
            ref={(el) => {
              tabs.current[i] = el;
            }}
            onClick={() => setCurrent(i)}
            onKeyDown={(e) => {
              if (e.key === "ArrowRight") move(i + 1);
              else if (e.key === "ArrowLeft") move(i - 1);
              else if (e.key === "Home") move(0);
              else if (e.key === "End") move(xlsx.sheets.length - 1);
              else return;
              e.preventDefault();
            }}
          >
            {s.name}
          </button>
        ))}
      </div>
      {sheet && (
        <div role="tabpanel" id="sheet-panel" aria-labelledby={`sheet-tab-${current}`} class="tabpanel">
          <SheetView id={result.file_id} sheet={sheet} />
        </div>
      )}
    </>
  );
}

function PropertyList({ props }: { props: Properties | null | undefined }) {
  if (!props) return null;
  const names: [string, string][] = [
    ["title", "Title"],
    ["author", "Author"],
    ["creator", "Creator"],
    ["subject", "Subject"],
    ["keywords", "Keywords"],
    ["description", "Description"],
    ["last_modified_by", "Last modified by"],
    ["producer", "Producer"],
    ["created", "Created"],
    ["modified", "Modified"],
  ];
  const items: [string, string][] = names
    .filter(([k]) => props[k])
    .map(([k, label]) => [label, k === "created" || k === "modified" ? time(props[k]) : String(props[k])]);
  if (items.length === 0) return null;
  return (
    <>
      <h3>Properties</h3>
      <Facts label="Document properties" items={items} />
    </>
  );
}

function Text({ text, truncated, total }: { text: string; truncated?: boolean; total?: number }) {
  if (!text) return <p class="muted">No text was found.</p>;
  return (
    <>
      <h3>Text</h3>
      <pre class="text" tabIndex={0} aria-label="Extracted text" data-testid="text">
        {text}
      </pre>
      {(truncated || (total !== undefined && total > text.length)) && (
        <p class="muted">The first {count(text.length)} characters{total !== undefined ? ` of ${count(total)}` : ""} are shown.</p>
      )}
    </>
  );
}

function Thumbnails({ result, alt }: { result: Result; alt: string }) {
  const largest = result.thumbnails.reduce<Result["thumbnails"][number] | null>((best, t) => (!best || t.width * t.height > best.width * best.height ? t : best), null);
  if (!largest) return null;
  return <Thumbnail path={largest.url} alt={alt} width={largest.width} height={largest.height} />;
}

function PdfResult({ result, name }: { result: Result; name: string }) {
  const pdf: PdfSection = result.pdf!;
  const first = pdf.page_sizes[0];
  return (
    <div class="doc">
      <Thumbnails result={result} alt={`First page of ${name}`} />
      <div>
        <Facts
          label="PDF facts"
          items={[
            ["Pages", count(pdf.page_count)],
            ["PDF version", pdf.pdf_version],
            ["Page size", first ? `${first.width} × ${first.height} pt` : ""],
            ["Words", count(pdf.word_count)],
            ["Characters of text", count(pdf.text_length)],
            ["Has images", yesNo(pdf.has_images)],
            ["Encrypted", yesNo(pdf.encrypted)],
          ]}
        />
        <PropertyList props={pdf.info} />
      </div>
      <div class="wide">
        <Text text={pdf.text} total={pdf.text_length} />
      </div>
    </div>
  );
}

function DocxResult({ result, name }: { result: Result; name: string }) {
  const docx: DocxSection = result.docx!;
  return (
    <div class="doc">
      <Thumbnails result={result} alt={`First page of ${name}`} />
      <div>
        <Facts
          label="Document facts"
          items={[
            ["Paragraphs", count(docx.paragraph_count)],
            ["Words", count(docx.word_count)],
            ["Characters", count(docx.character_count)],
            ["Tables", count(docx.table_count)],
            ["Images", count(docx.image_count)],
          ]}
        />
        <PropertyList props={docx.core_properties} />
      </div>
      {docx.headings.length > 0 && (
        <div class="wide">
          <h3>Headings</h3>
          <ul class="headings">
            {docx.headings.map((h, i) => (
              <li key={i} style={{ marginInlineStart: `${Math.min(h.level, 6)}em` }}>
                {h.text}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div class="wide">
        <Text text={docx.text} truncated={docx.text_truncated} />
      </div>
    </div>
  );
}

const EXIF_LABELS: [string, string][] = [
  ["make", "Camera make"],
  ["model", "Camera model"],
  ["software", "Software"],
  ["datetime_original", "Taken"],
  ["exposure", "Exposure"],
  ["focal_length", "Focal length"],
  ["orientation", "Orientation"],
];

function gpsText(gps: unknown): string {
  if (!gps || typeof gps !== "object") return "";
  const g = gps as Record<string, unknown>;
  const lat = g.latitude ?? g.lat;
  const lon = g.longitude ?? g.lon;
  if (typeof lat === "number" && typeof lon === "number") {
    const alt = typeof g.altitude === "number" ? `, ${g.altitude} m` : "";
    return `${lat.toFixed(6)}, ${lon.toFixed(6)}${alt}`;
  }
  return JSON.stringify(gps);
}

function ImageResult({ result, name }: { result: Result; name: string }) {
  const image: ImageSection = (result.jpeg ?? result.png ?? result.webp)!;
  const turned = image.display_width !== undefined && (image.display_width !== image.width || image.display_height !== image.height);
  const exif = image.exif ?? {};
  const exifItems: [string, string][] = EXIF_LABELS.filter(([k]) => exif[k] !== null && exif[k] !== undefined).map(([k, label]) => [label, cell(exif[k])]);
  if (exif.gps) exifItems.push(["GPS position", gpsText(exif.gps)]);
  return (
    <div class="doc">
      <Thumbnails result={result} alt={`Thumbnail of ${name}`} />
      <div>
        <Facts
          label="Picture facts"
          items={[
            ["Dimensions", <span data-testid="dimensions">{`${image.width} × ${image.height} px`}</span>],
            ["Shown as", turned ? `${image.display_width} × ${image.display_height} px (turned upright)` : ""],
            ["Colour", image.color_type],
            ["Bit depth", String(image.bit_depth)],
            ["Transparency", yesNo(image.has_alpha)],
            ["Animated", image.animated ? `Yes, ${image.frame_count} frames` : "No"],
            ["Colour profile", image.icc_profile ? "Embedded ICC profile" : "None"],
          ]}
        />
        <h3>EXIF</h3>
        {exifItems.length ? <Facts label="EXIF" items={exifItems} /> : <p class="muted">No EXIF data.</p>}
        {result.converted && (
          <p>
            <DownloadLink path={result.converted.url} name={name.replace(/\.[^.]+$/, "") + ".webp"} label="Download the WebP conversion" />
          </p>
        )}
      </div>
    </div>
  );
}

export function ResultView({ result, name }: { result: Result; name: string }) {
  const warnings = result.warnings ?? [];
  let body;
  if (result.csv) body = <CsvResult result={result} />;
  else if (result.xlsx) body = <XlsxResult result={result} />;
  else if (result.pdf) body = <PdfResult result={result} name={name} />;
  else if (result.docx) body = <DocxResult result={result} name={name} />;
  else if (result.jpeg || result.png || result.webp) body = <ImageResult result={result} name={name} />;
  else body = <p class="muted">This result has no view yet; its JSON is at the result endpoint.</p>;
  return (
    <div class="result" data-testid={`result-${result.file_type}`}>
      {warnings.length > 0 && (
        <div class="warnings">
          <h3>Warnings</h3>
          <ul>
            {warnings.map((w, i) => (
              <li key={i}>{typeof w === "string" ? w : (w.message ?? w.code ?? JSON.stringify(w))}</li>
            ))}
          </ul>
        </div>
      )}
      {body}
      <p class="muted">
        Processed in {count(result.processing_ms)} ms · {bytes(result.size)}
      </p>
    </div>
  );
}
