import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

interface Import {
  /** A path under src/ (`playlist/render.ts`), or a package name. */
  target: string;
  /** `import type`: gone at run time, so it can close no cycle. */
  typeOnly: boolean;
}

/** Every source file under src/, relative to it, with what it imports. */
function importGraph(): Map<string, Import[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  const graph = new Map<string, Import[]>();
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const imports = [...text.matchAll(/^(import|export)(\s+type)?\b[^;]*?\bfrom\s+'([^']+)'/gms)].map((match) => {
      const specifier = match[3]!;
      const target = specifier.startsWith('.')
        ? relative(SRC, resolve(dirname(join(SRC, file)), specifier.replace(/\.js$/, '.ts')))
        : specifier;
      return { target, typeOnly: match[2] !== undefined };
    });
    graph.set(file, imports);
  }
  return graph;
}

const graph = importGraph();
const folderOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file);

/** Files that import, at run time or for types, something `forbidden` says no to. */
function offenders(files: (file: string) => boolean, forbidden: (target: string) => boolean): string[] {
  return [...graph]
    .filter(([file]) => files(file))
    .flatMap(([file, imports]) => imports.filter(({ target }) => forbidden(target)).map(({ target }) => `${file} → ${target}`));
}

/** The run-time import cycles, each as the files it passes through. */
function cycles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    path.push(file);
    for (const { target, typeOnly } of graph.get(file) ?? []) {
      if (typeOnly || !graph.has(target)) continue;
      if (state.get(target) === 'open') found.push([...path.slice(path.indexOf(target)), target]);
      else if (!state.has(target)) visit(target);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

const DOMAIN = new Set(['signing', 'playlist', 'subscribers', 'channels', 'import', 'lint', 'wasm', 'auth', 'epg', 'xtream', 'api-tokens']);
const FRAMEWORKS = new Set(['koa', '@koa/router', 'better-sqlite3', 'pg', 'node:http']);
const START_UP = new Set(['standalone.ts', 'postgres-node.ts', 'postgres-chores.ts', 'server.ts', 'housekeeping.ts', 'cluster']);

describe('the shape of src/', () => {
  it('when the imports are followed, then none comes back round to where it started', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(cycles()).toEqual([]);
  });

  it('when domain code imports, then it reaches neither HTTP, storage, the CLI nor their frameworks', () => {
    const domain = (file: string) => DOMAIN.has(folderOf(file));
    expect(offenders(domain, (target) => FRAMEWORKS.has(target) || ['http', 'db', 'cli', 'cluster'].includes(folderOf(target)))).toEqual(
      [],
    );
  });

  it('when anything below the CLI imports, then it never reaches the CLI, and only the CLI and the cluster reach the start-up parts', () => {
    expect(
      offenders(
        (file) => folderOf(file) !== 'cli',
        (target) => folderOf(target) === 'cli',
      ),
    ).toEqual([]);
    const startUp = (file: string) => START_UP.has(folderOf(file));
    expect(
      offenders(
        (file) => !startUp(file) && folderOf(file) !== 'cli',
        (target) => startUp(target),
      ),
    ).toEqual([]);
    expect(
      offenders(
        (file) => folderOf(file) === 'cluster',
        (target) => target === 'standalone.ts',
      ),
    ).toEqual([]);
  });
});
