// The page: upload on top, this session's uploads, the file list, and the opened file. The
// opened file is in the address (#file=<id>), so a reload or a shared link shows it again.

import { useEffect, useState } from "preact/hooks";
import { onUnauthorized } from "../api";
import { credential, onCredentialChange, setCredential } from "../credential";
import { clearAll } from "../uploads";
import { connect, connection, lock, onConnection, type Connection } from "../events";
import { announce, Announcer } from "./common";
import { KeyDialog } from "./dialogs";
import { DropZone } from "./DropZone";
import { FileDetail } from "./FileDetail";
import { FileList } from "./FileList";
import { UploadList } from "./UploadList";

function openedFile(): string | null {
  const match = /^#file=([0-9a-fA-F-]{1,64})$/.exec(location.hash);
  return match ? match[1] : null;
}

const CONNECTION_WORDS: Record<Connection, string> = {
  connecting: "Connecting…",
  live: "Live",
  offline: "Offline, reconnecting",
  locked: "Waiting for an API key",
};

export function App() {
  const [opened, setOpened] = useState<string | null>(openedFile());
  const [keyReason, setKeyReason] = useState<string | null>(null);
  const [askKey, setAskKey] = useState(false);
  const [live, setLive] = useState<Connection>(connection());
  const [version, setVersion] = useState(0);
  const [hasKey, setHasKey] = useState(credential() !== null);

  useEffect(() => {
    const offAuth = onUnauthorized((message) => {
      setKeyReason(message);
      setAskKey(true);
      lock();
    });
    const offLive = onConnection(setLive);
    const offKey = onCredentialChange(() => setHasKey(credential() !== null));
    const onHash = () => setOpened(openedFile());
    window.addEventListener("hashchange", onHash);
    connect();
    return () => {
      offAuth();
      offLive();
      offKey();
      window.removeEventListener("hashchange", onHash);
    };
  }, []);

  const open = (id: string) => {
    location.hash = `file=${id}`;
    setOpened(id);
  };
  const close = () => {
    history.replaceState(null, "", location.pathname + location.search);
    setOpened(null);
  };
  /** Close the open file and put the keyboard focus back in the list: on its row, or the heading. */
  const closeToList = (id: string | null) => {
    close();
    requestAnimationFrame(() => {
      const row = id ? document.querySelector<HTMLElement>(`[data-file-id="${id}"] button.link`) : null;
      (row ?? document.getElementById("files-heading"))?.focus();
    });
  };
  const deleted = (id: string) => {
    if (opened === id) closeToList(null);
    setVersion((v) => v + 1);
  };
  /** Forget the key: nothing of the owner's stays on screen, and the socket closes. */
  const forget = () => {
    setCredential(null);
    close();
    clearAll();
    announce("");
    lock();
    setVersion((v) => v + 1);
  };

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <h1>fileproc</h1>
        <p class={`live live-${live}`} data-testid="connection">
          <span aria-hidden="true" class="dot" /> {CONNECTION_WORDS[live]}
        </p>
        {hasKey && (
          <button type="button" class="quiet" onClick={forget}>
            Forget API key
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1} class={opened ? "with-detail" : undefined}>
        <div class="column">
          <DropZone />
          <UploadList onOpen={open} />
          <FileList selected={opened} onSelect={open} version={version} onDeleted={deleted} />
        </div>
        {opened && (
          <div class="column">
            <FileDetail key={opened} id={opened} onClose={() => closeToList(opened)} onDeleted={deleted} />
          </div>
        )}
      </main>
      <KeyDialog
        open={askKey}
        reason={keyReason}
        onDone={() => {
          setAskKey(false);
          connect();
          setVersion((v) => v + 1);
        }}
      />
      <Announcer />
    </>
  );
}
