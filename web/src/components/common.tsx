// Small pieces every view uses: a list of facts, a thumbnail fetched with the credential, a
// download link, a progress bar with its words, an error with what to do, and announcements
// for screen readers.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { getBlob } from "../api";
import { credential } from "../credential";
import { percent, bytes } from "../format";
import { explain, statusWords, stepWords } from "../words";
import type { Status } from "../types";

/** Facts as a description list; empty values are left out. */
export function Facts({ items, label }: { items: [string, ComponentChildren][]; label?: string }) {
  const shown = items.filter(([, v]) => v !== null && v !== undefined && v !== "");
  if (shown.length === 0) return null;
  return (
    <dl class="facts" aria-label={label}>
      {shown.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The object URL of the bytes at an API path, fetched with the credential; revoked on unmount. */
export function useBlobUrl(path: string | null): { url: string | null; failed: boolean } {
  const [state, setState] = useState<{ url: string | null; failed: boolean }>({ url: null, failed: false });
  useEffect(() => {
    if (!path) return;
    let url: string | null = null;
    let live = true;
    getBlob(path).then(
      (blob) => {
        if (!live) return;
        url = URL.createObjectURL(blob);
        setState({ url, failed: false });
      },
      () => live && setState({ url: null, failed: true }),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [path]);
  return state;
}

export function Thumbnail({ path, alt, width, height }: { path: string; alt: string; width: number; height: number }) {
  const { url, failed } = useBlobUrl(path);
  if (failed) return <p class="muted">The thumbnail could not be loaded.</p>;
  return (
    <figure class="thumbnail">
      {url ? <img src={url} alt={alt} width={width} height={height} /> : <div class="placeholder" style={{ width, height }} />}
      <figcaption>
        Thumbnail, {width} × {height} px
      </figcaption>
    </figure>
  );
}

/** Save a blob under `name` through a temporary link. */
function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * A link to a file's original bytes. Without a credential it is a plain link the browser
 * streams to disk; with one (headers cannot ride on a link) the bytes are fetched first.
 */
export function DownloadLink({ path, name, label }: { path: string; name: string; label?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const text = label ?? "Download";
  if (!credential()) {
    return (
      <a class="button" href={path} download={name} aria-label={`${text} ${name}`}>
        {text}
      </a>
    );
  }
  const onClick = async () => {
    setBusy(true);
    setError(null);
    try {
      save(await getBlob(path), name);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={onClick} disabled={busy} aria-label={`${text} ${name}`}>
        {busy ? "Downloading…" : text}
      </button>
      {error && <span class="error-text">{error}</span>}
    </>
  );
}

/** A status with its progress bar (while there is work going on) and its words. */
export function StatusBar({
  status,
  progress,
  step,
  name,
  bytesDone,
  size,
}: {
  status: Status;
  progress: number;
  step: string | null;
  name: string;
  bytesDone?: number;
  size?: number;
}) {
  const running = status === "uploading" || status === "pending" || status === "queued" || status === "processing";
  let words = statusWords(status);
  if (status === "uploading" && size !== undefined) words = `Uploading ${bytes(bytesDone ?? 0)} of ${bytes(size)}`;
  else if (status === "processing") words = stepWords(step === "upload" ? null : step);
  const value = status === "completed" ? 1 : running ? progress : 0;
  return (
    <div class={`status status-${status}`} data-status={status}>
      {(running || status === "completed") && (
        <progress max={1} value={value} aria-label={`Progress of ${name}`}>
          {percent(value)}
        </progress>
      )}
      <span class="status-words">
        {words}
        {running && status !== "queued" && status !== "pending" ? ` · ${percent(value)}` : ""}
      </span>
    </div>
  );
}

/** An error with its code, what it means and what to do. */
export function ErrorPanel({ code, message, heading = "What went wrong" }: { code: string; message: string; heading?: string }) {
  const { what, todo } = explain(code);
  return (
    <div class="error-panel" role="alert">
      <h3>{heading}</h3>
      <p>{what}</p>
      <p>
        <strong>What to do:</strong> {todo}
      </p>
      <p class="muted">
        Code <code>{code}</code>: {message}
      </p>
    </div>
  );
}

const announcers = new Set<(text: string) => void>();

/** Say `text` to screen readers (a polite live region). */
export function announce(text: string): void {
  announcers.forEach((a) => a(text));
}

export function Announcer() {
  const [text, setText] = useState("");
  useEffect(() => {
    const a = (t: string) => setText(t);
    announcers.add(a);
    return () => announcers.delete(a);
  }, []);
  return (
    <div class="visually-hidden" aria-live="polite" role="status">
      {text}
    </div>
  );
}
