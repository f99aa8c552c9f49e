import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import Router from '@koa/router';
import { isGzipped } from '../epg/guide-file.js';
import { NotFoundError } from '../errors.js';
import { EPG_PATH } from '../routes.js';
import { acceptsGzip } from './accepts-gzip.js';

interface GuideFile {
  path: string;
  gzipped: boolean;
  size: number;
  modified: Date;
}

/** A guide file, gzip or not by its first bytes: the guide index reads an EPG_FILE that is gzip whatever its name, and so does this. */
async function existingFile(path: string): Promise<GuideFile | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? { path, gzipped: await isGzipped(path), size: info.size, modified: info.mtime } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Like nginx's gzip_static: a client that accepts gzip gets `EPG_FILE.gz` as it is, when it
 * exists; otherwise `EPG_FILE`, compressed on the fly for such a client. When only the `.gz`
 * exists, a client without gzip gets it decompressed.
 */
async function pickGuide(epgFile: string, acceptsGzip: boolean): Promise<GuideFile | undefined> {
  const compressed = () => existingFile(`${epgFile}.gz`);
  const plain = () => existingFile(epgFile);
  return acceptsGzip ? ((await compressed()) ?? (await plain())) : ((await plain()) ?? (await compressed()));
}

/** `/epg.xml`: the operator's XMLTV guide from EPG_FILE (or EPG_FILE.gz); 404 while there is none. */
export function epgRoutes(epgFile: string): Router {
  const router = new Router();
  router.get(EPG_PATH, async (ctx) => {
    const gzip = acceptsGzip(ctx.req);
    const guide = await pickGuide(epgFile, gzip);
    if (!guide) throw new NotFoundError('No programme guide');
    ctx.vary('Accept-Encoding');
    ctx.type = 'application/xml; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.lastModified = guide.modified;
    // koa only compares validators on a 2xx status.
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    const file: Readable = createReadStream(guide.path);
    if (gzip) ctx.set('Content-Encoding', 'gzip');
    if (gzip === guide.gzipped) {
      ctx.body = file;
      ctx.length = guide.size;
    } else {
      // pipeline, unlike pipe, passes a read error on to the stream koa is sending.
      ctx.body = pipeline(file, gzip ? createGzip() : createGunzip(), () => {});
    }
  });
  return router;
}
