// Builds the web console into console/dist (committed, so `npm install && npm start` serves it with
// no build step): `npm run build:console`. Everything is bundled: the page loads nothing from
// elsewhere, and the kernel's Content-Security-Policy allows only its own origin.
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inlined data: URLs for assets: one policy, files only.
    assetsInlineLimit: 0,
    // ELK is one large module; a warning about it says nothing new.
    chunkSizeWarningLimit: 2500,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
