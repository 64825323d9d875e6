// Builds the page into dist/, which the server embeds (crates/server/src/api/page.rs).
// Fixed file names (no content hashes): the server gives every file an ETag from its bytes, so
// browsers revalidate instead of keeping stale copies, and a rebuild from the same sources
// gives the same dist/ byte for byte (`scripts/web.sh check` in CI).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  esbuild: {
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
  },
  // `npx vite` serves the sources with live reload on :5173 and sends the API and the
  // WebSocket to a fileproc on :8080 (`cargo run -p fileproc -- serve`).
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/ws": { target: "ws://127.0.0.1:8080", ws: true },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    sourcemap: false,
    assetsInlineLimit: 0,
    rollupOptions: {
      output: {
        entryFileNames: "assets/app.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
});
