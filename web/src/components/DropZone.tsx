// Where files come in: dropped on the zone, or picked with the file input inside it (which a
// keyboard reaches with Tab and opens with Enter or Space). Every file starts its own upload.

import { useState } from "preact/hooks";
import { upload } from "../uploads";

export function DropZone() {
  const [over, setOver] = useState(false);
  const take = (list: FileList | null | undefined) => {
    if (!list) return;
    for (const file of Array.from(list)) upload(file);
  };
  return (
    <section aria-labelledby="upload-heading" class="panel">
      <h2 id="upload-heading">Upload</h2>
      <div
        class={`dropzone${over ? " over" : ""}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          take(e.dataTransfer?.files);
        }}
      >
        <input
          id="file-input"
          class="visually-hidden"
          type="file"
          multiple
          accept=".csv,.tsv,.txt,.pdf,.docx,.xlsx,.jpg,.jpeg,.png,.webp"
          onChange={(e) => {
            const input = e.currentTarget;
            take(input.files);
            input.value = "";
          }}
        />
        <label for="file-input">
          <span class="dropzone-title">Drop files here, or choose files</span>
          <span class="muted">CSV, XLSX, PDF, DOCX, JPEG, PNG or WebP. Large files resume if the connection drops.</span>
        </label>
      </div>
    </section>
  );
}
