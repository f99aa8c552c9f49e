import { hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { type Awaitable, andThen } from '../awaitable.js';
import { GuideIndex } from '../epg/guide-index.js';
import { type ViewerChannel, xmltvStream } from '../epg/xmltv-writer.js';
import { WrongCredentialsError } from '../errors.js';
import type { LineupCache } from '../playlist/lineup-cache.js';
import type { PlayLocation, PlayTarget, StreamRedirects } from '../playlist/stream-redirect.js';
import type { StreamFormat } from '../signing/origin.js';
import { assertActive } from '../subscribers/access.js';
import type { CredentialSeal } from '../subscribers/credentials.js';
import type { ChangedSubscribers } from '../subscribers/remembered-access.js';
import type { XcLogin } from '../subscribers/subscriber.js';
import type { Clock } from '../time.js';
import { accountObject, type ServerAddress, serverAddressOf } from './account.js';
import { type CatalogSource, type CompiledCatalog, compileCatalog, displayName, UNGROUPED_CATEGORY_NAME } from './catalog.js';
import { shortEpg, simpleDataTable } from './epg-listings.js';
import { type CompiledGetPhp, compileGetPhp, type GetPhpType, renderGetPhp } from './get-php.js';
import { RememberedLogins, type XcLoginSource } from './remembered-logins.js';

/**
 * How many streams a subscriber is watching now. The auth backend's sessions answer it where that
 * backend runs (on PostgreSQL, after a round trip); until it does, every line has 0.
 */
export type ActiveConnections = (subscriberId: number) => Awaitable<number>;
const NO_SESSIONS: ActiveConnections = () => 0;

export interface XtreamOptions {
  publicUrl: string;
  /** The programme guide as last loaded; an empty one when absent. */
  guide?: () => GuideIndex;
  activeConnections?: ActiveConnections;
}

/** What a client sent: credentials exactly as typed. */
export interface XcCredentials {
  username: string;
  password: string;
}

/** `get_short_epg`'s default number of entries. */
const DEFAULT_EPG_LIMIT = 4;
/** More entries than any app shows, and a bound on the work one request asks for. */
const MAX_EPG_LIMIT = 1000;
/** Logins remembered until their subscriber changes. */
const REMEMBERED_LOGINS = 20_000;

/** Actions that answer a list or the guide; any other action, or none, answers the account object. */
const EMPTY_LISTS = new Set(['get_vod_categories', 'get_vod_streams', 'get_series_categories', 'get_series']);
const EMPTY_INFO = new Set(['get_vod_info', 'get_series_info']);

/** A player_api answer: JSON text, or bytes compiled once per lineup change. */
export type ApiBody = string | Buffer;

/**
 * The Xtream Codes API over the same lineup, packages and subscriber rules as the playlist: logins
 * by username and XC password, lists compiled once per lineup change and package set, and stream
 * links that redirect through the same signing path as `/play`.
 */
export class XtreamService {
  private readonly server: ServerAddress;
  private readonly guide: () => GuideIndex;
  private readonly activeConnections: ActiveConnections;
  /** The lineup version the catalog below was read at. */
  private catalogVersion: string | undefined;
  private categoryNames = new Map<number, string>();
  private placements = new Map<number, { categoryId: number; added: number }>();
  private readonly catalogs = new Map<string, CompiledCatalog>();
  private readonly getPhps = new Map<string, CompiledGetPhp>();
  private readonly logins: RememberedLogins;

  constructor(
    private readonly lineup: LineupCache,
    private readonly source: XcLoginSource & CatalogSource,
    private readonly redirects: StreamRedirects,
    seal: () => CredentialSeal,
    /** Who to forget from the remembered logins: this service's own follower. */
    changes: ChangedSubscribers,
    private readonly clock: Clock,
    private readonly options: XtreamOptions,
  ) {
    this.logins = new RememberedLogins(source, seal, changes, REMEMBERED_LOGINS);
    this.server = serverAddressOf(options.publicUrl);
    this.guide = options.guide ?? (() => GuideIndex.EMPTY);
    this.activeConnections = options.activeConnections ?? NO_SESSIONS;
  }

  /**
   * `player_api.php`. The account actions answer even an expired or disabled line (so that apps can
   * say so); lists and the guide need an active one.
   * @throws WrongCredentialsError (401, JSON); ForbiddenError for a list of a lapsed line.
   */
  playerApi(
    credentials: XcCredentials,
    action: string,
    params: { categoryId?: string; streamId?: string; limit?: string },
  ): Awaitable<ApiBody> {
    return this.withLogin(credentials, true, (login) => this.answerApi(login, credentials, action, params));
  }

  private answerApi(
    login: XcLogin,
    credentials: XcCredentials,
    action: string,
    params: { categoryId?: string; streamId?: string; limit?: string },
  ): Awaitable<ApiBody> {
    const now = this.clock();
    if (EMPTY_LISTS.has(action)) return this.whenActive(login, now, '[]');
    if (EMPTY_INFO.has(action)) return this.whenActive(login, now, '{"info":[],"episodes":[],"movie_data":[]}');
    switch (action) {
      case 'get_live_categories':
        assertActive(login, now);
        return this.catalogFor(login).categories;
      case 'get_live_streams': {
        assertActive(login, now);
        const catalog = this.catalogFor(login);
        if (params.categoryId === undefined || params.categoryId === '') return catalog.streams;
        return catalog.streamsByCategory.get(params.categoryId) ?? '[]';
      }
      case 'get_short_epg':
      case 'get_simple_data_table': {
        assertActive(login, now);
        const channel = this.catalogFor(login).channels.get(Number(params.streamId));
        // The channel's epg_channel_id as listed, which is its <channel id> in xmltv.php and the guide.
        const tvgId = channel?.tvgId ?? '';
        if (!channel || !/^\d{1,15}$/.test(params.streamId ?? '') || tvgId.trim() === '') return '{"epg_listings":[]}';
        const guide = this.guide();
        if (action === 'get_simple_data_table') return JSON.stringify(simpleDataTable(guide.programmes(tvgId), now, channel.catchupDays));
        return JSON.stringify(shortEpg(guide.programmesFrom(tvgId, now, epgLimit(params.limit))));
      }
      default:
        return andThen(this.activeConnections(login.id), (active) =>
          JSON.stringify(accountObject(login, credentials, this.server, active, now)),
        );
    }
  }

  /**
   * `get.php`: the line's M3U of stable `/live/…` links, and a tag that changes whenever its bytes
   * can (lineup, subscriber, credentials, type, format), for If-None-Match.
   * @throws WrongCredentialsError; ForbiddenError for a lapsed line.
   */
  getPhp(credentials: XcCredentials, type: GetPhpType, format: StreamFormat): Awaitable<{ body: string; etag: string }> {
    return this.withLogin(credentials, false, (login) => this.answerGetPhp(login, credentials, type, format));
  }

  private answerGetPhp(login: XcLogin, credentials: XcCredentials, type: GetPhpType, format: StreamFormat): { body: string; etag: string } {
    assertActive(login, this.clock());
    const packages = packageKey(login.packageIds);
    const cacheKey = `${packages}:${type}:${format}`;
    let compiled = this.getPhps.get(cacheKey);
    if (!compiled) {
      const catalog = this.catalogFor(login);
      compiled = compileGetPhp(
        [...catalog.channels.values()],
        (channel) => this.categoryNameOf(channel.id),
        this.options.publicUrl,
        type,
        format,
      );
      this.getPhps.set(cacheKey, compiled);
    }
    // The database's lineup version and the line's packages, not this process's count of changes:
    // every node (and worker) that reads the same database gives the same tag, as for playlists.
    const etag = `"${hash('sha1', [this.lineup.version, login.id, packages, credentials.username, credentials.password, type, format].join('\n'), 'base64url')}"`;
    return { body: renderGetPhp(compiled, credentials.username, credentials.password), etag };
  }

  /**
   * `xmltv.php`: the guide of the channels this line sees that have a tvg_id (each its
   * `epg_channel_id`), written as it is sent.
   */
  xmltv(credentials: XcCredentials): Awaitable<Readable> {
    return this.withLogin(credentials, false, (login) => this.answerXmltv(login));
  }

  private answerXmltv(login: XcLogin): Readable {
    assertActive(login, this.clock());
    const channels: ViewerChannel[] = [];
    for (const channel of this.catalogFor(login).channels.values()) {
      if (channel.tvgId.trim() !== '') channels.push({ id: channel.tvgId, name: displayName(channel), logo: channel.logo });
    }
    return xmltvStream(this.guide(), channels);
  }

  /**
   * `/live/…`, legacy `/U/P/ID` and `/timeshift/…`: the origin URL signed for `ip`.
   * @throws WrongCredentialsError; ForbiddenError for a lapsed line; NotFoundError for a channel it does not see.
   */
  locate(credentials: XcCredentials, channelId: number, target: PlayTarget, ip: string): Awaitable<PlayLocation> {
    return this.withLogin(credentials, false, (login) => this.redirects.locateFor(login, { channelId, target, ip }));
  }

  /**
   * `use` of the subscriber whose XC credentials these are. The login may wait (PostgreSQL, a
   * username not remembered); what follows it sees one lineup, refreshed after it, as the
   * playlist's path does. At once (synchronously) on SQLite.
   * @throws WrongCredentialsError
   */
  private withLogin<T>(credentials: XcCredentials, json: boolean, use: (login: XcLogin) => Awaitable<T>): Awaitable<T> {
    return andThen(this.logins.find(credentials.username, credentials.password), (login) => {
      if (!login) throw new WrongCredentialsError(hash('sha256', `${credentials.username}\n${credentials.password}`), json);
      return this.lineup.whenCurrent(() => {
        this.refreshCatalog();
        return use(login);
      });
    });
  }

  /** After the lineup's refresh: what this service derives from it, read again only when its version moved. */
  private refreshCatalog(): void {
    if (this.catalogVersion === this.lineup.version) return;
    this.catalogVersion = this.lineup.version;
    this.categoryNames = this.source.categories();
    this.placements = this.source.channelPlacements();
    this.catalogs.clear();
    this.getPhps.clear();
  }

  private catalogFor(login: XcLogin): CompiledCatalog {
    const key = packageKey(login.packageIds);
    let catalog = this.catalogs.get(key);
    if (!catalog) {
      catalog = compileCatalog(this.lineup.channelsFor(login.packageIds), this.categoryNames, this.placements);
      this.catalogs.set(key, catalog);
    }
    return catalog;
  }

  private categoryNameOf(channelId: number): string {
    const placement = this.placements.get(channelId);
    const name = placement === undefined ? '' : (this.categoryNames.get(placement.categoryId) ?? '');
    return name.trim() === '' ? UNGROUPED_CATEGORY_NAME : name;
  }

  private whenActive(login: XcLogin, now: number, body: string): string {
    assertActive(login, now);
    return body;
  }
}

const packageKey = (packageIds: readonly number[]) => [...packageIds].sort((a, b) => a - b).join(',');

function epgLimit(limit: string | undefined): number {
  if (limit === undefined || !/^\d{1,4}$/.test(limit) || Number(limit) < 1) return DEFAULT_EPG_LIMIT;
  return Math.min(Number(limit), MAX_EPG_LIMIT);
}
