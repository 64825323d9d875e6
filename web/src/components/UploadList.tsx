// The rows of this page's uploads: name, type, size, and a progress bar fed by the
// WebSocket (upload bytes, then the processing steps), then done or the error in plain words.

import { useEffect, useRef, useState } from "preact/hooks";
import { bytes } from "../format";
import { dismiss, dismissFinished, onUploads, type UploadItem } from "../uploads";
import { explain, statusWords } from "../words";
import { announce, StatusBar } from "./common";

export function UploadList({ onOpen }: { onOpen: (id: string) => void }) {
  const [items, setItems] = useState<readonly UploadItem[]>([]);
  const seen = useRef(new Map<number, string>());
  useEffect(() => onUploads(setItems), []);
  useEffect(() => {
    for (const item of items) {
      const before = seen.current.get(item.key);
      const terminal = item.status === "completed" || item.status === "failed" || item.status === "quarantined";
      if (terminal && before !== item.status) announce(`${item.name}: ${statusWords(item.status)}`);
      seen.current.set(item.key, item.status);
    }
  }, [items]);
  if (items.length === 0) return null;
  return (
    <section aria-labelledby="uploads-heading" class="panel">
      <div class="panel-head">
        <h2 id="uploads-heading">This session's uploads</h2>
        {items.some((i) => i.status === "completed" || i.status === "failed" || i.status === "quarantined") && (
          <button type="button" class="quiet" onClick={dismissFinished}>
            Clear finished
          </button>
        )}
      </div>
      <ul class="uploads">
        {items.map((item) => (
          <li key={item.key} class="upload" data-testid="upload-row" data-name={item.name} data-file-id={item.fileId ?? undefined} data-status={item.status}>
            <div class="upload-head">
              <span class="upload-name">{item.name}</span>
              <span class="badge">{item.fileType ? item.fileType.toUpperCase() : "?"}</span>
              <span class="muted">{bytes(item.size)}</span>
            </div>
            {item.error ? (
              <p class="error-text">
                <strong>{statusWords(item.status)}:</strong> {explain(item.error.code).what} <span class="muted">({item.error.code})</span>
              </p>
            ) : (
              <StatusBar
                status={item.status}
                progress={item.progress}
                step={item.step}
                name={item.name}
                bytesDone={item.bytesDone}
                size={item.size}
              />
            )}
            <div class="actions">
              {item.fileId && (item.status === "completed" || item.status === "failed" || item.status === "quarantined") && (
                <button type="button" onClick={() => onOpen(item.fileId!)} aria-label={`${item.status === "completed" ? "View result" : "View error"}: ${item.name}`}>
                  {item.status === "completed" ? "View result" : "View error"}
                </button>
              )}
              <button type="button" class="quiet" onClick={() => dismiss(item.key)} aria-label={`${item.status === "uploading" ? "Cancel" : "Dismiss"} ${item.name}`}>
                {item.status === "uploading" ? "Cancel" : "Dismiss"}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
