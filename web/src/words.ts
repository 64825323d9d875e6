// What the page says to people: statuses, processing steps and error codes in plain words,
// with what to do about each error (codes from DESIGN.md section 2 and the analyzers).

import type { Status } from "./types";

export const STATUS_WORDS: Record<Status, string> = {
  uploading: "Uploading",
  pending: "Stored",
  queued: "Waiting to be processed",
  processing: "Processing",
  completed: "Done",
  failed: "Failed",
  quarantined: "Quarantined",
};

export function statusWords(status: string): string {
  return STATUS_WORDS[status as Status] ?? status;
}

const STEP_WORDS: Record<string, string> = {
  upload: "Uploading",
  virus_scan: "Scanning for viruses",
  validation: "Checking the file",
  extraction: "Reading its contents",
  thumbnail: "Making thumbnails",
  compression: "Compressing",
  storage: "Saving the result",
  complete: "Finishing",
};

export function stepWords(step: string | null | undefined): string {
  if (!step) return "Processing";
  return STEP_WORDS[step] ?? step;
}

interface Explanation {
  /** What went wrong, for people. */
  what: string;
  /** What to do about it. */
  todo: string;
}

const ERRORS: Record<string, Explanation> = {
  corrupt_file: {
    what: "The file is damaged: its bytes are not a valid file of its type.",
    todo: "Open it in the program that made it, save or export it again, and upload the new copy.",
  },
  empty_file: {
    what: "The file is empty, or holds nothing this type can contain.",
    todo: "Check that you picked the right file and that it was saved completely.",
  },
  encrypted_file: {
    what: "The file is protected by a password.",
    todo: "Remove the password in the program that made it, then upload it again.",
  },
  limit_exceeded: {
    what: "The file is past one of the service's safety limits (size of a row or field, pixel count, number of entries or pages).",
    todo: "Split it into smaller files, or ask the operator to raise the limit.",
  },
  type_mismatch: {
    what: "The file's contents are not what its name says (for example a Word document named .xlsx).",
    todo: "Rename it with the right extension, or export it in the format its name gives.",
  },
  unsupported_format: {
    what: "This variant of the format is not supported.",
    todo: "Save it again in a common variant (for example a baseline JPEG or a standard .xlsx) and upload that.",
  },
  unsupported_type: {
    what: "This kind of file is not taken: fileproc reads CSV, PDF, DOCX, XLSX, JPEG, PNG and WebP.",
    todo: "Convert it to one of those formats first.",
  },
  blocked_extension: {
    what: "Files with this name's extension (or with none) are not allowed here.",
    todo: "Use one of the allowed types (CSV, PDF, DOCX, XLSX, JPEG, PNG, WebP).",
  },
  executable_blocked: {
    what: "The file is a program; programs are never accepted.",
    todo: "Upload documents, spreadsheets or pictures only.",
  },
  invalid_filename: {
    what: "The file's name cannot be used.",
    todo: "Rename it with letters, digits and a normal extension, then upload it again.",
  },
  file_too_large: {
    what: "The file is larger than this service accepts.",
    todo: "Split or compress it, or ask the operator to raise the upload limit.",
  },
  length_exceeded: {
    what: "More bytes arrived than the upload announced.",
    todo: "Upload the file again.",
  },
  quarantined: {
    what: "The virus scanner found a threat in this file. It is kept locked and cannot be downloaded.",
    todo: "Do not open the original. Delete it here and scan the source it came from.",
  },
  timeout: {
    what: "Processing took longer than the service allows.",
    todo: "Try again later, or split the file into smaller ones.",
  },
  processor_panic: {
    what: "The processor stopped on an unexpected condition in this file.",
    todo: "Try again; if it fails the same way, report the file to the operator.",
  },
  attempts_exhausted: {
    what: "Processing failed several times in a row.",
    todo: "Press Process again later; if it keeps failing, tell the operator.",
  },
  scanner_unavailable: {
    what: "The virus scanner could not be reached, so the file was not processed.",
    todo: "Press Process again in a few minutes.",
  },
  storage_error: {
    what: "The file store failed while the file was being processed.",
    todo: "Press Process again in a few minutes.",
  },
  storage_unavailable: {
    what: "The file store is unavailable.",
    todo: "Try again in a few minutes.",
  },
  io_error: {
    what: "Reading the stored file failed.",
    todo: "Press Process again; if it keeps failing, upload the file again.",
  },
  cancelled: {
    what: "Processing was cancelled.",
    todo: "Press Process again.",
  },
  unauthorized: {
    what: "The service did not accept your API key.",
    todo: "Enter a valid API key.",
  },
  rate_limited: {
    what: "Too many requests in a short time.",
    todo: "Wait a moment; the page goes on by itself.",
  },
  network_error: {
    what: "The service could not be reached.",
    todo: "Check your connection; uploads resume where they stopped.",
  },
  checksum_mismatch: {
    what: "The bytes changed on the way to the service.",
    todo: "Upload the file again.",
  },
};

/** What an error code means and what to do, for any code (unknown ones get general advice). */
export function explain(code: string): Explanation {
  return (
    ERRORS[code] ?? {
      what: "Something went wrong with this file.",
      todo: "Try again; if it happens again, tell the operator the code shown here.",
    }
  );
}
