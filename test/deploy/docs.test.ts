import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/main.js';
import { configVariables, loadConfig } from '../../src/config.js';

const ROOT = join(import.meta.dirname, '../..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The text of one `## heading` section, up to the next `## `. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  expect(start, `no "## ${heading}" section`).toBeGreaterThanOrEqual(0);
  return markdown.slice(start + 1).split(/\n## /)[0]!;
}

/** The body rows of the tables in a section, as cells; `\|` inside a cell is a literal bar. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n');
  const isSeparator = (line = '') => /^\|[-:| ]+\|$/.test(line);
  return lines
    .filter((line, at) => line.startsWith('|') && !isSeparator(line) && !isSeparator(lines[at + 1]))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim().replaceAll('\\|', '|')),
    );
}

/** A table cell as plain text: code spans and links reduced to their text. */
const plain = (cell: string) => cell.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replaceAll('`', '');

describe('README configuration table', () => {
  const rows = tableRows(section(readme, 'Configuration'));
  const documented = new Map(
    rows.map(([name = '', fallback = '', meaning = '']) => {
      const names = [...name.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!);
      expect(names, `one variable per row: ${name}`).toHaveLength(1);
      return [names[0]!, { fallback, meaning }] as const;
    }),
  );
  const variables = configVariables();

  it('when the schema reads a variable, then the table has it with the same default and its meaning', () => {
    expect(variables.length).toBeGreaterThan(20);
    for (const variable of variables) {
      const row = documented.get(variable.name);
      expect(row, `${variable.name} is missing from the README's Configuration table`).toBeDefined();
      if (variable.default === undefined) expect(row!.fallback, variable.name).toMatch(/^unset\b/);
      else if (variable.default === '') expect(row!.fallback, variable.name).toBe('empty');
      else expect(row!.fallback, variable.name).toBe(`\`${variable.default}\``);
      expect(variable.description, `${variable.name} has no .describe() in src/config.ts`).not.toBe('');
      expect(plain(row!.meaning), variable.name).toContain(variable.description);
    }
  });

  it('when the table lists a variable, then the schema reads it', () => {
    const read = new Set(variables.map((variable) => variable.name));
    // A row may document a variable that another surface reads only when it says so first.
    const others = [...documented].filter(([name, { meaning }]) => !read.has(name) && !/^\*planned[:*]/i.test(meaning));
    expect(others.map(([name]) => name)).toEqual([]);
  });

  it('when a default is worked out from other settings, then the table gives what the code works out', () => {
    expect(documented.get('TOKEN_BUCKET')!.fallback).toMatch(new RegExp(`^unset: \`${loadConfig({}).tokenBucket}\``));
    const publicUrl = loadConfig({ PORT: '18080' }).publicUrl.replace('18080', '$PORT');
    expect(documented.get('PUBLIC_URL')!.fallback).toBe(`unset: \`${publicUrl}\``);
  });
});

describe('README command line table', () => {
  /** A command's synopsis: the lines of its --help before the first blank line. */
  const synopses = commands.flatMap((command) => command.help.split('\n\n')[0]!.split('\n'));
  const documented = tableRows(section(readme, 'Command line'))
    .map(([cell = '']) => /^`(lineup [^`]+)`$/.exec(cell)?.[1])
    .filter((synopsis) => synopsis !== undefined);

  it('when a command prints its --help, then each line of its synopsis is a row of the table', () => {
    for (const command of commands) expect(command.help, command.name).toMatch(new RegExp(`^lineup ${command.name}\\b`));
    expect([...documented].sort()).toEqual([...synopses].sort());
  });

  it('when serve --help is read, then it names every public path', () => {
    const serve = commands.find((command) => command.name === 'serve')!;
    for (const path of ['/playlist/KEY.m3u', '/play/KEY/', '/epg.xml', '/healthz', '/metrics']) expect(serve.help).toContain(path);
  });
});

describe('what a first-time operator needs from the README', () => {
  it('when the machine is prepared, then Start names the Node version and the toolchain better-sqlite3 compiles with', () => {
    const start = section(readme, 'Start');
    expect(start).toMatch(/Node 20\.12 or later/);
    for (const tool of ['python3', 'make', 'g++']) expect(start).toContain(tool);
  });

  it("when deploying with Docker, then the README warns that port publishing can replace the client's address, and says how to avoid it", () => {
    const docker = section(readme, 'Deployment (Docker)');
    expect(docker).toMatch(/port publishing replaces the subscriber's address/);
    expect(docker).toContain('`network_mode: host`');
    expect(docker).toContain('`TRUST_PROXY`');
  });

  it('when deploying with Docker, then the README gives the log volume at info, and backups with sqlite3 .backup or Litestream', () => {
    const docker = section(readme, 'Deployment (Docker)');
    expect(docker).toMatch(/`LOG_LEVEL=info`[^.]*every request writes one JSON line/);
    expect(docker).toContain('`LOG_LEVEL=warn`');
    expect(docker).toContain('sqlite3 data/lineup.db ".backup data/backup.db"');
    expect(docker).toContain('Litestream');
  });

  it('when a README or compose line runs a command in the container, then it runs `lineup` there, which the image has on PATH', () => {
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const execs = [...`${section(readme, 'Deployment (Docker)')}\n${readme}\n${compose}`.matchAll(/docker compose exec [^\n`]*/g)].map(
      ([line]) => line,
    );
    expect(execs.length).toBeGreaterThanOrEqual(4);
    for (const line of execs) expect(line).toMatch(/^docker compose exec lineup lineup [a-z]/);
    expect(section(readme, 'Deployment (Docker)')).not.toContain('npx lineup');
  });
});

/** Tracked files and new ones not ignored, as they are on disk: what a clone would hold. */
function repositoryFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' });
  return [...new Set(listed.split('\0').filter(Boolean))].filter(
    (file) => existsSync(join(ROOT, file)) && statSync(join(ROOT, file)).isFile(),
  );
}

function textOf(file: string): string | undefined {
  const bytes = readFileSync(join(ROOT, file));
  return bytes.subarray(0, 8000).includes(0) ? undefined : bytes.toString('utf8');
}

/** Markdown without its fenced code blocks, where a `#` line is a comment and `](` is code. */
const outsideFences = (markdown: string) => markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');

/** The anchors GitHub gives a document's headings. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of outsideFences(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = plain(heading!)
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replaceAll(' ', '-');
    let unique = slug;
    for (let n = 1; anchors.has(unique); n++) unique = `${slug}-${n}`;
    anchors.add(unique);
  }
  return anchors;
}

describe('references between files', () => {
  const files = repositoryFiles();
  const texts = new Map(
    files.flatMap((file) => {
      const text = textOf(file);
      return text === undefined ? [] : [[file, text] as const];
    }),
  );

  it('when a markdown file links to a file or heading, then it is in the repository', () => {
    const broken: string[] = [];
    for (const [file, text] of texts) {
      if (!file.endsWith('.md')) continue;
      for (const [, target] of outsideFences(text).matchAll(/\]\(<?([^)\s>]+)>?(?: "[^"]*")?\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
        const [path = '', anchor] = target!.split('#');
        const resolved = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path)));
        if (!existsSync(join(ROOT, resolved))) {
          broken.push(`${file}: ${target} (no ${resolved})`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(join(ROOT, resolved), 'utf8')).has(anchor)) {
          broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('when any file names a path under docs/, then that path exists', () => {
    const missing: string[] = [];
    for (const [file, text] of texts) {
      // A path of its own: not the tail of a URL or of another path (an origin's /docs/… stream).
      for (const [mention] of text.matchAll(/(?<![\w/.-])docs\/[\w./-]*/g)) {
        const path = mention.replace(/[./]+$/, '');
        if (!existsSync(join(ROOT, path))) missing.push(`${file}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('when any file is read, then it cites no document kept outside the repository', () => {
    const outside = [['design', 'md'].join('.'), ['shared', ''].join('/')];
    const citing = [...texts].filter(([, text]) => outside.some((name) => text.includes(name))).map(([file]) => file);
    expect(citing).toEqual([]);
  });

  it('when any file is read, then it holds no merge-conflict marker left from a merge', () => {
    const marker = new RegExp(`^(${['<'.repeat(7), '='.repeat(7), '>'.repeat(7)].join('|')})( |$)`, 'm');
    const conflicted = [...texts].filter(([, text]) => marker.test(text)).map(([file]) => file);
    expect(conflicted).toEqual([]);
  });
});
