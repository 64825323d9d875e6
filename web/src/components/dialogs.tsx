// Modal dialogs on the native <dialog> element (focus kept inside, Escape closes): the API key
// prompt and the confirmation before a delete.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, deleteFile, listFiles } from "../api";
import { announce } from "./common";
import { credential, setCredential } from "../credential";

function Modal({
  open,
  onClose,
  labelledBy,
  dismissible = true,
  children,
}: {
  open: boolean;
  onClose: () => void;
  labelledBy: string;
  /** Whether Escape closes it. */
  dismissible?: boolean;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={labelledBy}
      onClose={onClose}
      onCancel={(e) => {
        if (!dismissible) e.preventDefault();
      }}
    >
      {children}
    </dialog>
  );
}

/**
 * Asks for the API key when the service has auth on. The key is tried (one list request)
 * before it is kept; `reason` is what the service said about the last one.
 */
export function KeyDialog({ open, reason, onDone }: { open: boolean; reason: string | null; onDone: () => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // On opening: why the key kept in the tab (if any) stopped working. A key tried here says
  // its own error below, so later reasons do not replace it.
  useEffect(() => {
    if (open) setError(credential() ? reason : null);
  }, [open]);
  const submit = async (e: Event) => {
    e.preventDefault();
    const key = value.trim();
    if (!key) {
      setError("Enter a key.");
      return;
    }
    setBusy(true);
    setCredential(key);
    try {
      await listFiles({ limit: 1 });
      setValue("");
      setError(null);
      onDone();
    } catch (err) {
      setCredential(null);
      setError(err instanceof ApiError && err.status === 401 ? `That key was refused: ${err.message}.` : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open={open} onClose={() => undefined} labelledBy="key-heading" dismissible={false}>
      <form onSubmit={submit} class="key-form">
        <h2 id="key-heading">API key</h2>
        <p>This service needs an API key. It is kept in this tab only, until you close it.</p>
        <label for="api-key">Your API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          aria-describedby={error ? "key-error" : undefined}
          aria-invalid={error ? true : undefined}
          required
        />
        {error && (
          <p id="key-error" class="error-text" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Checking…" : "Use this key"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function ConfirmDialog({
  open,
  title,
  body,
  confirm,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  body: string;
  confirm: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Modal open={open} onClose={onCancel} labelledBy="confirm-heading">
      <h2 id="confirm-heading">{title}</h2>
      <p>{body}</p>
      <div class="actions">
        <button type="button" class="danger" onClick={onConfirm}>
          {confirm}
        </button>
        <button type="button" onClick={onCancel} autoFocus>
          Keep it
        </button>
      </div>
    </Modal>
  );
}

/**
 * Deleting a file after the user confirms: `askDelete(file)` opens the dialog; on "Delete" the
 * file is deleted on the service and `onDeleted` (or, on failure, `onError`) is called.
 */
export function useDelete(onDeleted: (id: string) => void, onError: (e: unknown) => void) {
  const [file, setFile] = useState<{ file_id: string; filename: string } | null>(null);
  const dialog = (
    <ConfirmDialog
      open={file !== null}
      title={`Delete ${file?.filename ?? ""}?`}
      body="The file, its thumbnails and its result are removed from the service. This cannot be undone."
      confirm="Delete"
      onConfirm={async () => {
        const target = file;
        setFile(null);
        if (!target) return;
        try {
          await deleteFile(target.file_id);
          announce(`${target.filename} deleted`);
          onDeleted(target.file_id);
        } catch (e) {
          onError(e);
        }
      }}
      onCancel={() => setFile(null)}
    />
  );
  return { askDelete: setFile, dialog };
}
