import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopThrowawayCluster } from '../scripts/throwaway-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where the run's throwaway PostgreSQL cluster lives once a test file has started it. */
    postgresDir: string;
  }
}

/**
 * One throwaway PostgreSQL cluster per vitest run, shared by the PostgreSQL test files: this sets
 * aside its directory, the first file that needs PostgreSQL starts it there
 * (test/helpers/postgres.ts), so that a run with no such file starts none, and this stops it at
 * the end by its postmaster's pid and removes it.
 */
export default function postgresOnce(project: TestProject): () => Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lineup-pg-'));
  project.provide('postgresDir', dir);
  return async () => {
    await stopThrowawayCluster(dir);
    rmSync(dir, { recursive: true, force: true });
  };
}
