// A table of typed records, a page at a time from GET /api/v1/files/{id}/records (a CSV's
// rows, or one sheet's when `sheet` is set).

import { useEffect, useState } from "preact/hooks";
import { getRecords } from "../api";
import { cell, count } from "../format";
import type { RecordsPage } from "../types";

const PAGE_SIZE = 50;

/**
 * `header`: the columns in the file's order; a record holds only the cells it has, so the
 * order cannot come from the records alone (keys no header names are added after it).
 * Its page is its own state: give each file and sheet its own instance (`key`).
 */
export function RecordsTable({ id, sheet, total, label, header }: { id: string; sheet?: string; total: number; label: string; header: string[] }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<RecordsPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    getRecords(id, { offset, limit: PAGE_SIZE, sheet }).then(
      (p) => {
        if (!live) return;
        setPage(p);
        setError(null);
      },
      (e) => live && setError((e as Error).message),
    );
    return () => {
      live = false;
    };
  }, [id, sheet, offset]);

  if (total === 0) return <p class="muted">No records.</p>;
  if (error) return <p class="error-text">The records could not be loaded: {error}</p>;
  if (!page) return <p class="muted">Loading records…</p>;
  const columns: string[] = [...header];
  for (const record of page.records) for (const key of Object.keys(record)) if (!columns.includes(key)) columns.push(key);
  const first = page.records.length ? page.offset + 1 : 0;
  const last = page.offset + page.records.length;
  const caption = `Records ${count(first)}–${count(last)} of ${count(page.total)}`;
  return (
    <div class="records">
      <div class="scroll" role="region" aria-label={`${label}: ${caption}`} tabIndex={0}>
        <table data-testid="records">
          <caption>{caption}</caption>
          <thead>
            <tr>
              <th scope="col" class="num">
                #
              </th>
              {columns.map((c) => (
                <th scope="col" key={c}>
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page.records.map((record, i) => (
              <tr key={page.offset + i}>
                <th scope="row" class="num">
                  {count(page.offset + i + 1)}
                </th>
                {columns.map((c) => {
                  const v = record[c];
                  return (
                    <td key={c} class={v === null || v === undefined ? "null" : typeof v === "number" ? "num" : undefined} title={typeof v === "string" && v.length > 40 ? v : undefined}>
                      {cell(v)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label={`Pages of ${label}`}>
        <button type="button" disabled={page.offset === 0} onClick={() => setOffset(Math.max(0, page.offset - PAGE_SIZE))}>
          Previous records
        </button>
        <span class="muted">{caption}</span>
        <button type="button" disabled={page.next_offset === null} onClick={() => page.next_offset !== null && setOffset(page.next_offset)}>
          Next records
        </button>
      </nav>
    </div>
  );
}
