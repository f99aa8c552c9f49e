import { createHash } from 'node:crypto';

export interface SecureLinkInput {
  /** The request URI exactly as nginx's `$uri` will see it, with a leading `/`. */
  uri: string;
  /** `$remote_addr`, or an empty string when the origin does not bind to the IP. */
  ip: string;
  expires: number;
  secret: string;
}

/**
 * nginx `secure_link_md5 "$secure_link_expires$uri$remote_addr SECRET"`:
 * base64url(md5(expires + uri + ip + " " + secret)) without padding.
 */
export function secureLinkMd5(input: SecureLinkInput): string {
  return createHash('md5').update(`${input.expires}${input.uri}${input.ip} ${input.secret}`).digest('base64url');
}
