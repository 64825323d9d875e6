// What one WebSocket frame (DESIGN.md section 5) changes in a file object the page shows: the
// one mapping the file list and the open file both apply.

import type { FileObject, ProgressFrame } from "./types";

/** `file` as `frame` (a frame of this file) leaves it; frames that change nothing return it. */
export function applyFrame(file: FileObject, frame: ProgressFrame): FileObject {
  const data = frame.data ?? {};
  switch (frame.type) {
    case "status_change":
      return data.new_status ? { ...file, status: data.new_status, progress: 0 } : file;
    case "progress":
      return {
        ...file,
        progress: frame.progress ?? file.progress,
        status: file.status === "queued" && data.step !== "upload" ? "processing" : file.status,
      };
    case "completed":
      return { ...file, status: "completed", progress: 1, error: null };
    case "error":
      return { ...file, status: frame.error?.code === "quarantined" ? "quarantined" : "failed", error: frame.error ?? null };
    default:
      return file;
  }
}
