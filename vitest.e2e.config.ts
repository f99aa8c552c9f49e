import { defineConfig } from 'vitest/config';

/** `npm run test:e2e`: real nginx, ffmpeg/ffprobe and VLC, one file after another. */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 120_000,
  },
});
