import { streamNameProblem } from '../import/stream-name.js';
import { isValidUsername, USERNAME_RULE } from '../subscribers/subscriber-admin.js';

/** A channel as lint sees it: every row, enabled or not. */
interface LintChannel {
  id: number;
  stream: string;
  name: string;
  number: number | null;
  logo: string;
  tvgId: string;
  origin: string | null;
  enabled: boolean;
  packageIds: number[];
}

export interface LintInput {
  channels: LintChannel[];
  /** Packages that at least one subscriber who can fetch a playlist now (enabled, not expired) has. */
  subscribedPackageIds: ReadonlySet<number>;
  packageNames: ReadonlyMap<number, string>;
  /** Every subscriber's username. */
  usernames: readonly string[];
}

type Severity = 'error' | 'warning';

export interface Finding {
  severity: Severity;
  /** Stable identifier for scripts: `duplicate-number`, `empty-name`, … */
  code: string;
  message: string;
  channelIds: number[];
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string | undefined): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    if (key === undefined) continue;
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Channels named in one message at most; channelIds still lists them all. */
const MAX_LABELS = 10;

const ids = (channels: readonly LintChannel[]) => channels.map((channel) => channel.id);

/** Players fetch logos themselves, so only an absolute http(s) URL with a host works everywhere. */
function isHttpUrl(value: string): boolean {
  if (/\s/.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
const label = (channel: LintChannel) => `#${channel.id} ${JSON.stringify(channel.name || channel.stream)}`;

/**
 * Problems in the lineup that SQL constraints cannot express (a stream twice on one origin, they
 * refuse). Errors break playback or make the
 * playlist ambiguous; warnings are worth a look. Disabled channels are only checked for the
 * problems that would bite when they are enabled again.
 */
export function lintLineup({ channels, subscribedPackageIds, packageNames, usernames }: LintInput): Finding[] {
  const findings: Finding[] = [];
  const enabled = channels.filter((channel) => channel.enabled);

  for (const [number, group] of groupBy(enabled, (c) => (c.number === null ? undefined : String(c.number)))) {
    if (group.length < 2) continue;
    findings.push({
      severity: 'error',
      code: 'duplicate-number',
      message: `number ${number} is used by ${group.length} channels: ${group.map(label).join(', ')}`,
      channelIds: ids(group),
    });
  }
  for (const [tvgId, group] of groupBy(enabled, (c) => (c.tvgId.trim() === '' ? undefined : c.tvgId))) {
    if (group.length < 2) continue;
    findings.push({
      severity: 'warning',
      code: 'duplicate-tvg-id',
      message: `tvg_id "${tvgId}" is shared by ${group.length} channels (their guides will be the same): ${group.map(label).join(', ')}`,
      channelIds: ids(group),
    });
  }
  for (const channel of channels) {
    if (channel.name.trim() === '') {
      findings.push({
        severity: 'warning',
        code: 'empty-name',
        message: `channel #${channel.id} (stream "${channel.stream}") has no name; players will show the stream name`,
        channelIds: [channel.id],
      });
    }
    const streamProblem = streamNameProblem(channel.stream);
    if (streamProblem) {
      findings.push({
        severity: 'error',
        code: 'bad-stream',
        message: `channel ${label(channel)}: ${streamProblem}`,
        channelIds: [channel.id],
      });
    }
    if (channel.logo !== '' && !isHttpUrl(channel.logo)) {
      findings.push({
        severity: 'warning',
        code: 'bad-logo',
        message: `channel ${label(channel)} has a logo that is not an http(s) URL: ${JSON.stringify(channel.logo)}`,
        channelIds: [channel.id],
      });
    }
  }
  // Grouped by package set: an import into a package nobody has yet would otherwise print a line per channel.
  const unseen = enabled.filter((c) => c.packageIds.length > 0 && !c.packageIds.some((id) => subscribedPackageIds.has(id)));
  for (const group of groupBy(unseen, (c) => [...c.packageIds].sort((a, b) => a - b).join(',')).values()) {
    const packages = group[0]!.packageIds.map((id) => JSON.stringify(packageNames.get(id) ?? `#${id}`)).join(', ');
    const shown =
      group.slice(0, MAX_LABELS).map(label).join(', ') + (group.length > MAX_LABELS ? `, … (${group.length - MAX_LABELS} more)` : '');
    findings.push({
      severity: 'warning',
      code: 'unseen-channel',
      message: `${group.length === 1 ? '1 channel is' : `${group.length} channels are`} only in package${group[0]!.packageIds.length > 1 ? 's' : ''} ${packages}, which no active subscriber has, so nobody sees: ${shown}`,
      channelIds: ids(group),
    });
  }
  // Their playlist URLs work; an Xtream Codes app would put the name in a URL unescaped, and fail.
  const unsafe = usernames.filter((name) => !isValidUsername(name));
  if (unsafe.length > 0) {
    const shown =
      unsafe
        .slice(0, MAX_LABELS)
        .map((name) => JSON.stringify(name))
        .join(', ') + (unsafe.length > MAX_LABELS ? `, … (${unsafe.length - MAX_LABELS} more)` : '');
    findings.push({
      severity: 'warning',
      code: 'username-not-url-safe',
      message: `${unsafe.length === 1 ? '1 subscriber has a username' : `${unsafe.length} subscribers have usernames`} outside ${USERNAME_RULE}, which XC apps cannot log in with: ${shown}`,
      channelIds: [],
    });
  }
  return findings;
}

/** A finding's identity across two runs: its code and the channels it is about, not its wording. */
const identity = (finding: Finding) => `${finding.code}:${[...finding.channelIds].sort((a, b) => a - b).join(',')}`;

/**
 * The errors in `after` that `before` did not have: what a change brought in. A finding about the
 * same channels under the same code is the same problem, even if a name in its message changed;
 * one that now takes in another channel (a third channel on a shared number) is new.
 */
export function newErrors(before: readonly Finding[], after: readonly Finding[]): Finding[] {
  const known = new Set(before.filter((finding) => finding.severity === 'error').map(identity));
  return after.filter((finding) => finding.severity === 'error' && !known.has(identity(finding)));
}
