// The caller's files, newest first, a page at a time (cursor paging of GET /api/v1/files),
// filtered by status and type. It stays live: frames update the rows' status and progress,
// a new file reloads the first page, a reconnect reloads the page shown.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, downloadPath, listFiles } from "../api";
import { onCredentialChange } from "../credential";
import { onFrame, onReconnect } from "../events";
import { applyFrame } from "../frames";
import { bytes, time } from "../format";
import type { FileObject } from "../types";
import { STATUS_WORDS } from "../words";
import { DownloadLink, StatusBar } from "./common";
import { useDelete } from "./dialogs";

const PAGE_SIZE = 20;
const TYPES = ["csv", "xlsx", "pdf", "docx", "jpeg", "png", "webp"];

export function FileList({
  selected,
  onSelect,
  version,
  onDeleted,
}: {
  selected: string | null;
  onSelect: (id: string) => void;
  /** Bumped by the page when files changed elsewhere (a delete from the result view). */
  version: number;
  onDeleted: (id: string) => void;
}) {
  const [status, setStatus] = useState("");
  const [fileType, setFileType] = useState("");
  /** The cursor of each page up to the one shown; the first page has none. */
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [files, setFiles] = useState<FileObject[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const { askDelete, dialog } = useDelete(onDeleted, (e) => setError((e as Error).message));
  const cursor = cursors[cursors.length - 1];
  const request = useRef(0);
  /** The pending reload of `reloadSoon`. */
  const reloadTimer = useRef<number | undefined>(undefined);

  const load = useCallback(async () => {
    const mine = ++request.current;
    setLoading(true);
    try {
      const page = await listFiles({ status, fileType, limit: PAGE_SIZE, cursor });
      if (mine !== request.current) return;
      setFiles(page.files);
      setHasMore(page.has_more);
      setNextCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      if (mine !== request.current) return;
      setError((e as Error).message);
      // Without a valid key nothing of the owner's stays on screen.
      if (e instanceof ApiError && e.status === 401) setFiles([]);
    } finally {
      if (mine === request.current) setLoading(false);
    }
  }, [status, fileType, cursor]);

  // Timers and listeners call the load of the filters shown now, never one they captured.
  const latestLoad = useRef(load);
  latestLoad.current = load;
  /** Reload within 300 ms; frames meanwhile join that reload (they do not postpone it). */
  const reloadSoon = () => {
    if (reloadTimer.current !== undefined) return;
    reloadTimer.current = window.setTimeout(() => {
      reloadTimer.current = undefined;
      latestLoad.current();
    }, 300);
  };
  useEffect(() => {
    window.clearTimeout(reloadTimer.current);
    reloadTimer.current = undefined;
    load();
  }, [load, version]);
  useEffect(() => onReconnect(load), [load]);
  useEffect(() => onCredentialChange(load), [load]);

  const checked = useRef(new Set<string>());
  useEffect(() => checked.current.clear(), [status, fileType]);
  useEffect(
    () =>
      onFrame((frame) => {
        const known = files.some((f) => f.file_id === frame.file_id);
        if (known) {
          setFiles((list) => list.map((f) => (f.file_id === frame.file_id ? applyFrame(f, frame) : f)));
          // A finished file may now leave or join a filtered page.
          if ((frame.type === "completed" || frame.type === "error") && status) reloadSoon();
        } else if (frame.file_id && frame.type !== "connected" && cursors.length === 1 && (!checked.current.has(frame.file_id) || frame.type !== "progress")) {
          // New files appear on the first page. A file it does not show (new, or outside the
          // filters) is looked for once, and again when its status changes (it may now pass
          // the filters).
          checked.current.add(frame.file_id);
          reloadSoon();
        }
      }),
    [files, cursors.length, load, status],
  );


  const firstPage = cursors.length === 1;
  return (
    <section aria-labelledby="files-heading" class="panel">
      <div class="panel-head">
        <h2 id="files-heading" tabIndex={-1}>
          Files
        </h2>
        <div class="filters">
          <label>
            Status
            <select
              value={status}
              onChange={(e) => {
                setStatus(e.currentTarget.value);
                setCursors([undefined]);
              }}
            >
              <option value="">Any</option>
              {Object.entries(STATUS_WORDS).map(([value, words]) => (
                <option key={value} value={value}>
                  {words}
                </option>
              ))}
            </select>
          </label>
          <label>
            Type
            <select
              value={fileType}
              onChange={(e) => {
                setFileType(e.currentTarget.value);
                setCursors([undefined]);
              }}
            >
              <option value="">Any</option>
              {TYPES.map((t) => (
                <option key={t} value={t}>
                  {t.toUpperCase()}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>
      {error && (
        <p class="error-text" role="alert">
          The list could not be loaded: {error}
        </p>
      )}
      <div class="scroll" role="region" aria-label="Files table" tabIndex={0}>
        <table class="files" aria-busy={loading}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.file_id} data-testid="file-row" data-file-id={f.file_id} data-name={f.filename} data-status={f.status} aria-current={selected === f.file_id ? "true" : undefined}>
                <th scope="row">
                  <button type="button" class="link" onClick={() => onSelect(f.file_id)} aria-label={`Open ${f.filename}`}>
                    {f.filename}
                  </button>
                  <span class="file-meta muted">
                    {[f.file_type ? f.file_type.toUpperCase() : "", bytes(f.size), time(f.uploaded_at)].filter(Boolean).join(" · ")}
                  </span>
                  <span class="row-actions">
                    {f.status !== "uploading" && f.status !== "quarantined" && <DownloadLink path={downloadPath(f.file_id)} name={f.filename} />}
                    <button type="button" class="danger quiet" onClick={() => askDelete(f)} aria-label={`Delete ${f.filename}`}>
                      Delete
                    </button>
                  </span>
                </th>
                <td>
                  <StatusBar status={f.status} progress={f.progress} step={null} name={f.filename} />
                  {f.error && <span class="muted"> ({f.error.code})</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!loading && files.length === 0 && !error && (
        <p class="muted">{status || fileType ? "No files match these filters." : "No files yet. Drop one above."}</p>
      )}
      <nav class="pager" aria-label="Pages of files">
        <button type="button" disabled={firstPage} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Newer
        </button>
        <span class="muted">Page {cursors.length}</span>
        <button type="button" disabled={!hasMore || !nextCursor} onClick={() => setCursors((c) => [...c, nextCursor ?? undefined])}>
          Older
        </button>
      </nav>
      {dialog}
    </section>
  );
}
