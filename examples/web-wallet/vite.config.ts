// Vite for the example web wallet. In development the dev server proxies /graphql to the
// gateway (GATEWAY_URL, default http://localhost:4000), so the page and the API share one
// origin: no CORS, and the token travels only in the Authorization header.

import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { '/graphql': { target: process.env.GATEWAY_URL ?? 'http://localhost:4000', changeOrigin: true } },
  },
  build: { outDir: 'dist', sourcemap: true },
});
