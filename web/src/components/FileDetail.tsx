// One file, opened from the list or an upload row: its facts and actions, then its progress
// while it is worked on, its result when completed, or its error with what to do.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, downloadPath, getFile, getResult, processAgain } from "../api";
import { onFrame } from "../events";
import { applyFrame } from "../frames";
import { bytes, time } from "../format";
import type { FileObject, Result } from "../types";
import { announce, DownloadLink, ErrorPanel, Facts, StatusBar } from "./common";
import { useDelete } from "./dialogs";
import { ResultView } from "./results";

export function FileDetail({ id, onClose, onDeleted }: { id: string; onClose: () => void; onDeleted: (id: string) => void }) {
  const [file, setFile] = useState<FileObject | null>(null);
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [step, setStep] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const { askDelete, dialog } = useDelete(onDeleted, (e) => setError(e as ApiError));

  const load = useCallback(async () => {
    try {
      const f = await getFile(id);
      setFile(f);
      setError(null);
      setResult(f.status === "completed" ? await getResult(id) : null);
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "network_error", String(e)));
    }
  }, [id]);

  useEffect(() => {
    setFile(null);
    setResult(null);
    load();
  }, [load]);

  // Focus moves to the heading of what was opened, so keyboard and screen reader users land on it.
  useEffect(() => {
    heading.current?.focus();
  }, [id, file === null]);

  useEffect(
    () =>
      onFrame((frame) => {
        if (frame.file_id !== id) return;
        if (frame.type === "completed" || frame.type === "error") {
          // The result (or the error's details) is read over HTTP.
          load();
          return;
        }
        if (frame.type === "progress") setStep(frame.data?.step ?? null);
        setFile((f) => (f ? applyFrame(f, frame) : f));
      }),
    [id, load],
  );

  const title = file?.filename ?? "File";
  const running = file && ["uploading", "pending", "queued", "processing"].includes(file.status);
  return (
    <section aria-labelledby="detail-heading" class="panel detail" data-testid="detail">
      <div class="panel-head">
        <h2 id="detail-heading" tabIndex={-1} ref={heading}>
          {title}
        </h2>
        <button type="button" onClick={onClose} aria-label={`Close ${title}`}>
          Close
        </button>
      </div>
      {error && (error.status === 404 ? <p class="error-text">This file no longer exists.</p> : <ErrorPanel code={error.code} message={error.message} heading="The file could not be loaded" />)}
      {file && (
        <>
          <Facts
            label="File facts"
            items={[
              ["Type", file.file_type ? file.file_type.toUpperCase() : ""],
              ["Size", bytes(file.size)],
              ["Uploaded", time(file.uploaded_at)],
              ["Processed", time(file.processed_at)],
              ["SHA-256", <code class="digest">{file.sha256}</code>],
              ["Virus scan", file.virus_scan ? (file.virus_scan.clean ? `Clean (${file.virus_scan.scanner})` : `Threats: ${file.virus_scan.threats.join(", ")}`) : ""],
            ]}
          />
          <div class="actions">
            {file.status !== "uploading" && file.status !== "quarantined" && <DownloadLink path={downloadPath(file.file_id)} name={file.filename} />}
            {(file.status === "completed" || file.status === "failed") && (
              <button
                type="button"
                onClick={async () => {
                  try {
                    await processAgain(file.file_id);
                    announce(`${file.filename} queued again`);
                    await load();
                  } catch (e) {
                    setError(e as ApiError);
                  }
                }}
              >
                Process again
              </button>
            )}
            <button
              type="button"
              class="danger"
              onClick={() => askDelete(file)}
            >
              Delete
            </button>
          </div>
          {running && <StatusBar status={file.status} progress={file.progress} step={step} name={file.filename} />}
          {(file.status === "failed" || file.status === "quarantined") && file.error && <ErrorPanel code={file.error.code} message={file.error.message} />}
          {file.status === "completed" && (result ? <ResultView result={result} name={file.filename} /> : <p class="muted">Loading the result…</p>)}
        </>
      )}
      {dialog}
    </section>
  );
}
