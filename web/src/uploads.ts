// Files dropped on this page: each goes to the service through tus 1.0 (tus-js-client), so a
// dropped connection resumes from the offset the server holds, in 8 MiB PATCHes. Its row
// then follows the file's WebSocket frames: upload bytes, the processing steps, done or the
// error. Re-dropping a file whose upload was cut off (even after a reload) resumes it.

import * as tus from "tus-js-client";
import { getFile } from "./api";
import { authHeaders } from "./credential";
import { onFrame, onReconnect } from "./events";
import type { FileObject, ProgressFrame, Status } from "./types";

/** Bytes per PATCH: small enough that the server's `upload` progress moves often. */
const CHUNK_SIZE = 8 * 1024 * 1024;

export interface UploadItem {
  /** This page's id of the row. */
  key: number;
  name: string;
  /** Bytes. */
  size: number;
  /** The type the name suggests until the service decides it from the bytes. */
  fileType: string;
  fileId: string | null;
  status: Status;
  /** 0..1 of the current status's work. */
  progress: number;
  /** Bytes the service has of the file. */
  bytesDone: number;
  step: string | null;
  error: { code: string; message: string } | null;
}

type Listener = (items: readonly UploadItem[]) => void;

let items: UploadItem[] = [];
let nextKey = 1;
const listeners = new Set<Listener>();
const uploads = new Map<number, tus.Upload>();

function publish(): void {
  items = [...items];
  listeners.forEach((l) => l(items));
}

export function onUploads(listener: Listener): () => void {
  listeners.add(listener);
  listener(items);
  return () => listeners.delete(listener);
}

function update(key: number, change: Partial<UploadItem>): void {
  const index = items.findIndex((i) => i.key === key);
  if (index < 0) return;
  items[index] = { ...items[index], ...change };
  publish();
}

/** Where a status sits in a file's life: a late answer never moves a row back. */
function rank(status: Status): number {
  return { uploading: 0, pending: 1, queued: 2, processing: 3, completed: 4, failed: 4, quarantined: 4 }[status];
}

function extensionType(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot === name.length - 1) return "";
  const ext = name.slice(dot + 1).toLowerCase();
  return ext === "jpg" ? "jpeg" : ext;
}

/** Take a file object read over HTTP, unless the row already knows something later. */
function applySnapshot(key: number, file: FileObject): void {
  const item = items.find((i) => i.key === key);
  if (!item || rank(file.status) < rank(item.status)) return;
  const same = file.status === item.status;
  update(key, {
    status: file.status,
    fileType: file.file_type || item.fileType,
    progress: file.status === "completed" ? 1 : same ? Math.max(item.progress, file.progress) : file.progress,
    step: same ? item.step : null,
    error: file.error,
    bytesDone: file.status === "uploading" ? item.bytesDone : file.size,
  });
}

/** Read the state of every unfinished row over HTTP: frames sent while the socket was down are lost. */
function refreshUnfinished(): void {
  for (const item of items) {
    if (!item.fileId || item.status === "completed" || item.status === "failed" || item.status === "quarantined") continue;
    if (item.status === "uploading" && uploads.has(item.key)) continue;
    getFile(item.fileId).then(
      (f) => applySnapshot(item.key, f),
      () => undefined,
    );
  }
}

onReconnect(refreshUnfinished);

function applyFrame(frame: ProgressFrame): void {
  const item = items.find((i) => i.fileId === frame.file_id);
  if (!item) return;
  const data = frame.data ?? {};
  switch (frame.type) {
    case "connected":
      if (data.status && rank(data.status) >= rank(item.status)) {
        update(item.key, { status: data.status, progress: frame.progress ?? item.progress, step: data.step ?? null });
      }
      break;
    case "status_change":
      if (data.new_status && rank(data.new_status) >= rank(item.status)) {
        update(item.key, { status: data.new_status, progress: data.new_status === "completed" ? 1 : 0, step: null });
      }
      break;
    case "progress": {
      if (item.status === "completed" || item.status === "failed") break;
      if (data.step === "upload") {
        update(item.key, {
          bytesDone: Math.max(item.bytesDone, data.bytes_done ?? 0),
          progress: Math.max(item.progress, frame.progress ?? 0),
          step: "upload",
        });
      } else {
        update(item.key, {
          status: rank(item.status) < rank("processing") ? "processing" : item.status,
          progress: frame.progress ?? item.progress,
          step: data.step ?? item.step,
        });
      }
      break;
    }
    case "completed":
      update(item.key, {
        status: "completed",
        progress: 1,
        step: "complete",
        fileType: typeof data.file_type === "string" ? data.file_type : item.fileType,
        error: null,
      });
      break;
    case "error":
      update(item.key, {
        status: frame.error?.code === "quarantined" ? "quarantined" : "failed",
        error: frame.error ?? { code: "internal_error", message: "processing failed" },
      });
      break;
  }
}

onFrame(applyFrame);

function failure(error: Error): { code: string; message: string } {
  const response = (error as tus.DetailedError).originalResponse;
  if (response) {
    try {
      const body = JSON.parse(response.getBody());
      if (typeof body.code === "string") return { code: body.code, message: body.error ?? error.message };
    } catch {
      // Not the API's JSON.
    }
    return { code: `http_${response.getStatus()}`, message: error.message };
  }
  return { code: "network_error", message: error.message };
}

/** Start uploading `file`; its row appears at once. */
export function upload(file: File): void {
  const key = nextKey++;
  items = [
    {
      key,
      name: file.name,
      size: file.size,
      fileType: extensionType(file.name),
      fileId: null,
      status: "uploading",
      progress: 0,
      bytesDone: 0,
      step: "upload",
      error: null,
    },
    ...items,
  ];
  publish();

  const learnId = (url: string | null) => {
    const id = url?.split("/").pop();
    if (!id) return;
    const item = items.find((i) => i.key === key);
    if (item && item.fileId !== id) update(key, { fileId: id });
  };

  const tusUpload = new tus.Upload(file, {
    endpoint: "/api/v1/tus/",
    chunkSize: CHUNK_SIZE,
    // The first PATCH rides on the creation request: a small file takes one request.
    uploadDataDuringCreation: true,
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
    headers: authHeaders(),
    metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
    removeFingerprintOnSuccess: true,
    onUploadUrlAvailable: () => learnId(tusUpload.url),
    onProgress: (sent, total) => {
      const item = items.find((i) => i.key === key);
      if (!item || item.status !== "uploading") return;
      update(key, { bytesDone: Math.max(item.bytesDone, sent), progress: Math.max(item.progress, total ? sent / total : 1) });
    },
    onSuccess: () => {
      uploads.delete(key);
      learnId(tusUpload.url);
      const id = items.find((i) => i.key === key)?.fileId;
      if (id) {
        getFile(id).then(
          (f) => applySnapshot(key, f),
          () => undefined,
        );
      }
    },
    onError: (error) => {
      uploads.delete(key);
      update(key, { status: "failed", error: failure(error) });
    },
  });
  uploads.set(key, tusUpload);
  tusUpload.findPreviousUploads().then(
    (previous) => {
      if (previous.length > 0) tusUpload.resumeFromPreviousUpload(previous[0]);
      tusUpload.start();
    },
    () => tusUpload.start(),
  );
}

/** Remove every row, cancelling the uploads still going (the key they used was forgotten). */
export function clearAll(): void {
  for (const upload of uploads.values()) upload.abort(false).catch(() => undefined);
  uploads.clear();
  items = [];
  publish();
}

/** Remove every finished row (done, failed or quarantined). */
export function dismissFinished(): void {
  items = items.filter((i) => i.status !== "completed" && i.status !== "failed" && i.status !== "quarantined");
  publish();
}

/** Remove a row, cancelling its upload if it is still going (the service removes what it has). */
export function dismiss(key: number): void {
  const running = uploads.get(key);
  if (running) {
    running.abort(true).catch(() => undefined);
    uploads.delete(key);
  }
  items = items.filter((i) => i.key !== key);
  publish();
}
