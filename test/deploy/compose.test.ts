import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface ComposeService {
  build?: unknown;
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] };
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText) as { services: Record<string, ComposeService> };
const lineup = compose.services.lineup!;
const readme = read('README.md');
const dockerfile = read('Dockerfile');

/** The variables named in the first column of a markdown table under `heading`. */
function tableVariables(markdown: string, heading: RegExp): string[] {
  const start = markdown.search(heading);
  const section = markdown.slice(start).split(/\n## /)[0]!;
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!));
}

/** `${NAME:-default}` as Compose resolves it when NAME is unset. */
const interpolateDefaults = (value: string) => value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');

/** `# NAME: value` lines in the lineup service's environment: the documented defaults. */
const commented = new Map(
  [...composeText.matchAll(/^ {6}# ([A-Z][A-Z0-9_]+): ("[^"]*"|\S+)/gm)].map((match) => [match[1]!, match[2]!.replace(/^"|"$/g, '')]),
);

describe('docker-compose.yml', () => {
  it('when loaded, then it has a lineup service built from this directory', () => {
    expect(Object.keys(compose.services)).toEqual(['lineup']);
    expect(lineup.build).toBe('.');
  });

  it('when the README gives the port and the data volume, then the compose file publishes and mounts the same', () => {
    const deployment = readme.slice(readme.indexOf('## Deployment (Docker)')).split(/\n## /)[0]!;
    expect(lineup.ports).toEqual(['8080:8080']);
    expect(deployment).toContain('`8080:8080`');
    expect(lineup.environment!.PORT).toBe('8080');
    expect(lineup.volumes).toContain('./data:/app/data');
    expect(deployment).toContain('`./data:/app/data`');
    expect(lineup.environment!.LINEUP_DB).toMatch(/^\/app\/data\//);
    expect(dockerfile).toMatch(/^VOLUME \["\/app\/data"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
  });

  it('when the README lists variables, then every one is set or documented in the compose file', () => {
    const readmeVariables = tableVariables(readme, /^## Configuration$/m);
    expect(readmeVariables).toEqual(expect.arrayContaining(['LINEUP_DB', 'PORT', 'SECURETOKEN_KEY', 'TRUST_PROXY']));
    const documented = new Set([...Object.keys(lineup.environment!), ...commented.keys()]);
    for (const variable of readmeVariables) {
      expect(documented.has(variable), `${variable} is not in docker-compose.yml`).toBe(true);
    }
  });

  it('when Lineup reads the compose environment, then it is a valid configuration, and every commented default is the real default', () => {
    expect(commented.size).toBeGreaterThanOrEqual(8);
    const environment = Object.fromEntries(
      Object.entries(lineup.environment!).map(([name, value]) => [name, interpolateDefaults(String(value))]),
    );
    expect(() => loadConfig(environment)).not.toThrow();
    const defaults = loadConfig({});
    for (const [variable, value] of commented) {
      if (value === '') continue; // unset by default
      expect(loadConfig({ [variable]: value }), `${variable}: ${value}`).toEqual(defaults);
    }
  });

  it('when the container is checked, then the healthcheck asks /healthz with node', () => {
    expect(lineup.healthcheck?.test?.slice(0, 2)).toEqual(['CMD', 'node']);
    expect(lineup.healthcheck?.test?.join(' ')).toContain('/healthz');
  });
});

describe('Dockerfile', () => {
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('when built, then a build stage with compilers is followed by a slim runtime stage without them', () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/^node:20-slim AS build\n/);
    expect(stages[0]).toMatch(/apt-get install[^\n]*python3 make g\+\+/);
    expect(stages[0]).toContain('npm run build');
    expect(stages[0]).toContain('npm prune --omit=dev');
    expect(stages[1]).toMatch(/^node:20-slim\n/);
    expect(stages[1]).not.toContain('apt-get');
    expect(stages[1]).toContain('COPY --from=build /app/dist ./dist');
    expect(stages[1]).toContain('COPY --from=build /app/node_modules ./node_modules');
  });

  it('when run, then it is not root, serves with the CLI, and has a node healthcheck on /healthz', () => {
    const user = /^USER (\S+)$/m.exec(stages[1]!)?.[1];
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)$/);
    expect(stages[1]).toMatch(/^HEALTHCHECK [^\n]*\\\n\s+CMD \["node", "-e", "[^\n]*\/healthz[^\n]*"\]$/m);
    const healthcheck = /^HEALTHCHECK [^\n]*\\\n[^\n]*$/m.exec(stages[1]!)![0];
    expect(healthcheck).not.toMatch(/curl|wget/);
    expect(stages[1]).toMatch(/^CMD \["node", "bin\/lineup\.js", "serve"\]$/m);
  });

  it('when the build context is sent, then the database and local builds stay out of it', () => {
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['data', 'node_modules', 'dist', '.git']));
  });
});
