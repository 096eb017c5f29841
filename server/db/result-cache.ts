import type { EntityManager } from '@mikro-orm/postgresql';
import { DataVersion } from './data-version.js';
import { heavy } from './admission.js';

/**
 * Results of aggregate queries (district statistics, heat maps, counts by group), cached per (query, arguments with
 * the user's row scope, data version) the way heat-map tiles are: a new data version (an import, an edit, a change of
 * districts or themes in any process; see DataVersion) makes every older entry unreachable, and the first request of
 * the new version drops them. Identical requests that miss at the same moment share one computation, which runs
 * under the pool's admission of heavy work (server/db/admission.ts). Bounded by entries (AGGREGATE_CACHE_ENTRIES).
 */
export class ResultCache {
  private readonly entries = new Map<string, unknown>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  private entriesVersion: string | undefined;
  readonly stats = { hits: 0, misses: 0 };

  constructor(private readonly version: DataVersion, readonly maxEntries: number) {}

  /**
   * `key` must name everything the result depends on except the data (the query, its arguments, the scope).
   * `admit: false`: a miss runs at once, not under the admission of heavy work (the total count beside a page).
   */
  async get<T>(em: EntityManager, key: string, compute: () => Promise<T>, opts: { admit?: boolean } = {}): Promise<T> {
    const run = opts.admit === false ? compute : () => heavy(em, compute);
    if (this.maxEntries <= 0) return run();
    const v = this.version.peek() ?? (await this.version.get());
    if (v !== this.entriesVersion) {
      this.entries.clear();
      this.entriesVersion = v;
    }
    const k = `${v}|${key}`;
    if (this.entries.has(k)) {
      this.stats.hits++;
      const hit = this.entries.get(k) as T;
      // Most recently used last (the oldest goes first when the cache is full).
      this.entries.delete(k);
      this.entries.set(k, hit);
      return hit;
    }
    const running = this.inflight.get(k);
    if (running) return running as Promise<T>;
    this.stats.misses++;
    const p = run().then((value) => {
      if (this.entriesVersion === v) {
        this.entries.set(k, value);
        if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      }
      return value;
    }).finally(() => this.inflight.delete(k));
    this.inflight.set(k, p);
    return p;
  }

  dispose(): void {
    this.entries.clear();
    this.version.dispose();
  }
}

const byOrm = new WeakMap<object, ResultCache>();

/** The aggregate cache of the EntityManager's ORM (created on first use; AGGREGATE_CACHE_ENTRIES=0 turns it off). */
export function resultCacheOf(em: EntityManager, maxEntries = defaultEntries): ResultCache {
  let c = byOrm.get(em.config);
  if (!c) {
    const root = em.fork();
    c = new ResultCache(new DataVersion(() => root.fork(), defaultTtlMs), maxEntries);
    byOrm.set(em.config, c);
  }
  return c;
}

let defaultEntries = 1000;
let defaultTtlMs = 1000;
/**
 * Sets the size of caches created from now on and how often they re-read the data version (the app calls it once at
 * start with AGGREGATE_CACHE_ENTRIES and DATA_VERSION_TTL_MS).
 */
export function configureResultCache(em: EntityManager, maxEntries: number, versionTtlMs = 1000): ResultCache {
  defaultEntries = maxEntries;
  defaultTtlMs = versionTtlMs;
  const old = byOrm.get(em.config);
  old?.dispose();
  byOrm.delete(em.config);
  return resultCacheOf(em, maxEntries);
}

/** A cache key of JSON values (Dates as ISO text); the same arguments give the same text. */
export function cacheKey(name: string, ...parts: unknown[]): string {
  return `${name}:${JSON.stringify(parts)}`;
}
