// The credential the user gave the page when the service has auth on: kept in this tab's
// session storage only (gone when the tab closes), sent as `X-API-Key`, or as
// `Authorization: Bearer` when it is a JWT (three dot-separated parts), and as `?token=` on
// the WebSocket, which cannot carry headers.

const STORAGE_KEY = "fileproc.credential";

const listeners = new Set<() => void>();

export function credential(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** Keep `value` (or forget the credential with null) and tell the listeners. */
export function setCredential(value: string | null): void {
  try {
    if (value) sessionStorage.setItem(STORAGE_KEY, value);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage refused (a private window's quota): the page asks again after a reload.
  }
  listeners.forEach((l) => l());
}

export function onCredentialChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function isJwt(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}

/** The headers that carry the credential; none when there is none. */
export function authHeaders(): Record<string, string> {
  const value = credential();
  if (!value) return {};
  return isJwt(value) ? { Authorization: `Bearer ${value}` } : { "X-API-Key": value };
}
