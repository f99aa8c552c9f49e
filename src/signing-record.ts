import { randomBytes } from 'node:crypto';
import { type LineupContext, NO_KEY_MESSAGE } from './context.js';
import { ConfigError } from './errors.js';
import { fingerprintSigning, parseSigningFingerprint, type SigningSettings, signingDifferences } from './signing/settings-fingerprint.js';

/** The settings row where the server records how it signs: a fingerprint, never the key. */
export const SIGNING_SETTING = 'signing_fingerprint';

/** What the signing depends on: the configuration and the default origin's key. */
export type Signer = Pick<LineupContext, 'config' | 'defaultKey'>;

/** How this process would sign for the default origin; an admin command may have no key to sign with. */
function signingSettingsOf({ config, defaultKey }: Signer): Omit<SigningSettings, 'key'> & { key: string | undefined } {
  return {
    originUrl: config.originUrl,
    key: defaultKey?.value,
    generatedKey: defaultKey?.generated ?? false,
    ipBinding: config.ipBinding,
    tokenTtl: config.tokenTtl,
    tokenDesync: config.tokenDesync,
  };
}

/**
 * The record a server keeps in SIGNING_SETTING at each start, on either backend: the last server
 * started on a database is the one to match.
 */
export function serverSigningRecord(signer: Signer): string {
  const settings = signingSettingsOf(signer);
  if (settings.key === undefined) throw new ConfigError(NO_KEY_MESSAGE); // a server always has one
  return JSON.stringify(fingerprintSigning({ ...settings, key: settings.key }, randomBytes(16)));
}

/** Done by the server at each start, on SQLite. */
export function recordServerSigning(context: LineupContext): void {
  context.settings.set(SIGNING_SETTING, serverSigningRecord(context));
}

/**
 * For an admin command that prints signed URLs: throws, naming each variable, when it would sign
 * otherwise than the server, whose links an operator takes it to show; `record` is the database's
 * SIGNING_SETTING, on either backend. Without a record (no server has started on this database
 * since it began keeping one) it signs with its own settings, and returns a warning that says so.
 */
export function checkSignsLikeServer(signer: Signer, record: string | undefined): string | undefined {
  const settings = signingSettingsOf(signer);
  const recorded = parseSigningFingerprint(record);
  if (!recorded) {
    if (settings.key === undefined) throw new ConfigError(NO_KEY_MESSAGE);
    return "no server has recorded its signing settings in this database yet: signing with this command's own";
  }
  const differences = signingDifferences(recorded, settings);
  if (differences.length === 0) return undefined;
  const listed = differences.map(({ variable, detail }) => `${variable} (${detail})`).join('; ');
  throw new ConfigError(`would sign unlike the server: ${listed}. Run with the server's environment or env file (--env-file)`);
}
