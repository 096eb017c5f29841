import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';

/**
 * The data version caches of heat-map results compare: the value of the sequence
 * `heatmap_data_version`, which triggers advance on every statement that changes appeals,
 * districts or heat layers (any process, any import path). It is re-read at most once per
 * `ttlMs`, and at once after an import made by this process (markHeatDataChanged).
 */
export class DataVersion {
  private value: string | undefined;
  private readAt = 0;
  private pending: Promise<string> | undefined;
  private stale = true;

  constructor(private readonly em: () => EntityManager, private readonly ttlMs = 1000) {
    instances.add(this);
  }

  /** Forget the cached value: the next get() reads the database. */
  invalidate(): void {
    this.stale = true;
  }

  /** The value when it is known and fresh, without waiting (the cached-tile fast path). */
  peek(): string | undefined {
    return !this.stale && this.value !== undefined && Date.now() - this.readAt < this.ttlMs ? this.value : undefined;
  }

  get(): string | Promise<string> {
    if (!this.stale && this.value !== undefined && Date.now() - this.readAt < this.ttlMs) return this.value;
    this.pending ??= (async () => {
      try {
        this.stale = false;
        const [r] = await query<{ v: string }>(this.em(), 'SELECT last_value::text || CASE WHEN is_called THEN \'\' ELSE \'-\' END AS v FROM heatmap_data_version');
        this.value = r.v;
        this.readAt = Date.now();
        return r.v;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  dispose(): void {
    instances.delete(this);
  }
}

const instances = new Set<DataVersion>();

/** Called after an import in this process commits: caches re-read the version before their next answer. */
export function markHeatDataChanged(): void {
  for (const v of instances) v.invalidate();
}
