// The page's one way to the HTTP API (DESIGN.md section 2): every request carries the
// credential the user gave (see credential.ts), every error becomes an ApiError with the API's
// stable `code`, and a 401 tells the page to ask for a key.

import { authHeaders } from "./credential";
import type { FileList, FileObject, RecordsPage, Result } from "./types";

/** An error answer of the API: `{"error": "<message>", "code": "<code>"}` with its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Listeners told when the API answered 401: the credential is missing or wrong. */
const unauthorizedListeners = new Set<(message: string) => void>();

export function onUnauthorized(listener: (message: string) => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** The ApiError of a failed response, from its JSON error body when it has one. */
export async function errorOf(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (typeof body?.code === "string") code = body.code;
    if (typeof body?.error === "string") message = body.error;
  } catch {
    // Not JSON (a proxy's page, say): the status line says enough.
  }
  return new ApiError(response.status, code, message);
}

/** `fetch` with the credential; throws ApiError for any non-2xx answer. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(authHeaders())) headers.set(name, value);
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (e) {
    throw new ApiError(0, "network_error", "The service could not be reached. Check your connection and try again.");
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) unauthorizedListeners.forEach((l) => l(error.message));
    throw error;
  }
  return response;
}

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  return (await request(path, init)).json() as Promise<T>;
}

const files = "/api/v1/files";

/** One page of the caller's files, newest first. */
export function listFiles(query: { status?: string; fileType?: string; limit: number; cursor?: string }): Promise<FileList> {
  const params = new URLSearchParams({ limit: String(query.limit) });
  if (query.status) params.set("status", query.status);
  if (query.fileType) params.set("file_type", query.fileType);
  if (query.cursor) params.set("cursor", query.cursor);
  return json(`${files}?${params}`);
}

export function getFile(id: string): Promise<FileObject> {
  return json(`${files}/${encodeURIComponent(id)}`);
}

export function getResult(id: string): Promise<Result> {
  return json(`${files}/${encodeURIComponent(id)}/result`);
}

/** Records `offset..offset+limit` of a CSV, or of one sheet of an XLSX. */
export function getRecords(id: string, query: { offset: number; limit: number; sheet?: string }): Promise<RecordsPage> {
  const params = new URLSearchParams({ offset: String(query.offset), limit: String(query.limit) });
  if (query.sheet !== undefined) params.set("sheet", query.sheet);
  return json(`${files}/${encodeURIComponent(id)}/records?${params}`);
}

export async function deleteFile(id: string): Promise<void> {
  await request(`${files}/${encodeURIComponent(id)}`, { method: "DELETE" });
}

export async function processAgain(id: string): Promise<void> {
  await request(`${files}/${encodeURIComponent(id)}/process`, { method: "POST" });
}

/** The URL of a file's original bytes. */
export function downloadPath(id: string): string {
  return `${files}/${encodeURIComponent(id)}/download`;
}

/** The bytes at an API path (a thumbnail, a download) as a Blob. */
export async function getBlob(path: string): Promise<Blob> {
  return (await request(path)).blob();
}
