// Uploads a file to fileproc with tus-js-client (https://github.com/tus/tus-js-client), unchanged:
// 1 MiB PATCHes, the transfer aborted part-way, then resumed by a second client object given the
// upload URL (it asks the server for the offset with HEAD and goes on from there).
//
//   node upload.mjs <endpoint> <file> [abort-fraction, default 0.4]
//
// Prints one JSON line: {"url", "size", "aborted_after", "offset_at_resume", "first_progress"}:
// bytes the first client had sent when it was aborted, the offset the server held when the
// second client started (what it resumes from), and the second client's first progress report.

import * as tus from 'tus-js-client';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [endpoint, path, fractionText] = process.argv.slice(2);
const data = readFileSync(path);
const size = data.length;
const abortAt = Math.floor(size * Number(fractionText ?? '0.4'));
const options = {
  endpoint,
  chunkSize: 1024 * 1024,
  metadata: { filename: basename(path), filetype: 'text/csv', purpose: 'tus-js-client test' },
  retryDelays: [0, 200, 500],
};

// First client: aborted once more than abortAt bytes have gone out.
const first = await new Promise((resolve, reject) => {
  let abortedAfter = null;
  const upload = new tus.Upload(data, {
    ...options,
    onProgress: (sent) => {
      if (abortedAfter === null && sent >= abortAt) {
        abortedAfter = sent;
        upload.abort().then(() => resolve({ url: upload.url, abortedAfter }), reject);
      }
    },
    onSuccess: () => reject(new Error(`finished before the abort (size ${size})`)),
    onError: reject,
  });
  upload.start();
});

// What the server holds now, as the resuming client will see it.
const head = await fetch(new URL(first.url, endpoint), {
  method: 'HEAD',
  headers: { 'Tus-Resumable': '1.0.0' },
});
const offsetAtResume = Number(head.headers.get('upload-offset'));

// Second client: resumes the same upload.
const firstProgress = await new Promise((resolve, reject) => {
  let seen = null;
  const upload = new tus.Upload(data, {
    ...options,
    uploadUrl: first.url,
    onProgress: (sent) => {
      if (seen === null) seen = sent;
    },
    onSuccess: () => {
      if (upload.url !== first.url) reject(new Error(`a new upload ${upload.url}, not a resume`));
      else resolve(seen);
    },
    onError: reject,
  });
  upload.start();
});

console.log(JSON.stringify({
  url: first.url,
  size,
  aborted_after: first.abortedAfter,
  offset_at_resume: offsetAtResume,
  first_progress: firstProgress,
}));
