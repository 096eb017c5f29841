import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from '@mikro-orm/postgresql';
import { GraphQLError } from 'graphql';

/**
 * Admission of heavy database work (aggregates, GeoJSON, exports, recomputes, rendered tiles): at most `limit` of
 * them run at once, the others wait here in arrival order — not in the connection pool's queue, where a page of
 * appeals or the problem list would wait behind them. With DATABASE_POOL_MAX connections and HEAVY_CONCURRENCY
 * heavy slots, cheap work always finds `poolMax − limit` connections that heavy work cannot take.
 * Re-entrant: heavy work that calls other heavy work (an export reading an aggregate) does not take a second slot.
 */
export class Admission {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly inside = new AsyncLocalStorage<true>();
  /**
   * Counters for tests and the operations page; `light`: work weighed and found cheap (a small point layer), run
   * without a slot; `reweighed`: such work that met more rows than expected and went on as heavy work;
   * `countLight` / `countHeavy`: total counts (server/db/count.ts) answered by the bounded cheap count, and those that
   * found more than COUNT_LIGHT_ROWS rows and were counted in full as heavy work.
   */
  readonly stats = { admitted: 0, queued: 0, refused: 0, maxWaiting: 0, light: 0, reweighed: 0, countLight: 0, countHeavy: 0 };

  /**
   * Rows a point layer (appealsGeoJSON) may be expected to return and still run as cheap work (GEOJSON_LIGHT_ROWS):
   * about the work of the largest page of appeals. Larger layers are heavy (server/appeals/points.ts).
   */
  readonly lightRows: number;

  /**
   * Rows a total count (`totalCount` of the appeals and of the logs) may find and still be cheap work
   * (COUNT_LIGHT_ROWS): it is counted with a LIMIT of one row more; a larger count is made again, in full, under the
   * admission of heavy work (server/db/count.ts).
   */
  readonly countLightRows: number;

  constructor(readonly limit: number, readonly queueMax: number, lightRows = DEFAULT_LIGHT_ROWS, countLightRows = DEFAULT_COUNT_LIGHT_ROWS) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`heavy concurrency must be a positive integer, got ${limit}`);
    if (!Number.isInteger(lightRows) || lightRows < 0) throw new Error(`light rows must be a non-negative integer, got ${lightRows}`);
    if (!Number.isInteger(countLightRows) || countLightRows < 0) throw new Error(`count light rows must be a non-negative integer, got ${countLightRows}`);
    this.lightRows = lightRows;
    this.countLightRows = countLightRows;
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * The server is stopping: everything waiting runs now, and nothing waits from here on — the requests in flight are
   * answered with the whole pool (no new cheap work arrives while HTTP drains) instead of one slot at a time past the
   * drain's deadline.
   */
  open(): void {
    this.opened = true;
    for (const next of this.waiting.splice(0)) {
      this.active++;
      next();
    }
  }

  private opened = false;

  async run<T>(work: () => Promise<T> | T): Promise<T> {
    if (this.inside.getStore()) return work();
    if (this.opened) {
      this.active++;
    } else if (this.active >= this.limit) {
      if (this.waiting.length >= this.queueMax) {
        this.stats.refused++;
        throw new GraphQLError(`Сервер занят тяжёлыми запросами: в очереди ${this.waiting.length} (HEAVY_QUEUE_MAX); повторите через несколько секунд`, {
          extensions: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 2, http: { status: 429, headers: new Map([['retry-after', '2']]) } },
        });
      }
      this.stats.queued++;
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.stats.maxWaiting = Math.max(this.stats.maxWaiting, this.waiting.length);
      });
    } else {
      this.active++;
    }
    this.stats.admitted++;
    try {
      return await this.inside.run(true, work);
    } finally {
      // The slot passes straight to the next in line (active stays the same), else it is freed.
      const next = this.opened ? undefined : this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** GEOJSON_LIGHT_ROWS by default (server/config.ts). */
export const DEFAULT_LIGHT_ROWS = 5000;

/** COUNT_LIGHT_ROWS by default (server/config.ts). */
export const DEFAULT_COUNT_LIGHT_ROWS = 5_000_000;

/** One admission per ORM (per pool): keyed by the configuration object every fork of its EntityManager shares. */
const byOrm = new WeakMap<object, Admission>();

export interface AdmissionOptions {
  /** HEAVY_CONCURRENCY: heavy operations running at once. */
  limit: number;
  /** HEAVY_QUEUE_MAX: heavy operations waiting; more are refused (429). */
  queueMax: number;
  /** GEOJSON_LIGHT_ROWS: a point layer expected to return at most this many rows is cheap work. */
  lightRows?: number;
  /** COUNT_LIGHT_ROWS: a total count that finds at most this many rows is cheap work. */
  countLightRows?: number;
}

export function configureAdmission(em: EntityManager, opts: AdmissionOptions): Admission {
  const a = new Admission(opts.limit, opts.queueMax, opts.lightRows, opts.countLightRows);
  byOrm.set(em.config, a);
  return a;
}

/** The admission of the EntityManager's pool (a default one of 2 slots when the app did not configure it: CLI, tests). */
export function admissionOf(em: EntityManager): Admission {
  let a = byOrm.get(em.config);
  if (!a) {
    a = new Admission(2, 256);
    byOrm.set(em.config, a);
  }
  return a;
}

/** Runs heavy work under the admission of the EntityManager's pool. */
export function heavy<T>(em: EntityManager, work: () => Promise<T> | T): Promise<T> {
  return admissionOf(em).run(work);
}
