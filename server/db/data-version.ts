import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from './sql.js';
import { onPeers, tellPeers } from '../util/peers.js';

/**
 * The data version caches of results compare (heat-map tiles, aggregate queries): the value of the sequence
 * `heatmap_data_version`, which triggers advance on every statement that changes appeals, districts, heat layers,
 * themes or organisations (any process, any import path). It is re-read at most once per `ttlMs`, and at once after
 * an import or any GraphQL mutation made by this process or another worker of the same server (markDataChanged).
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
        const local = epoch;
        const [r] = await query<{ v: string }>(this.em(), 'SELECT last_value::text || CASE WHEN is_called THEN \'\' ELSE \'-\' END AS v FROM heatmap_data_version');
        // The sequence advances when a statement runs, before its transaction commits: a value read in between would
        // label a result of the old data with the new version. This process's own changes also advance `epoch` once
        // committed (markDataChanged), so such a result is never reused after it.
        this.value = `${r.v}.${local}`;
        this.readAt = Date.now();
        return this.value;
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
let epoch = 0;

function changedHere(): void {
  epoch++;
  for (const v of instances) v.invalidate();
}

/**
 * The data changed (committed) in this process: its caches re-read the version before their next answer, and so do
 * those of the other workers of the server (WEB_CONCURRENCY); resolves when they all have been told.
 */
export function markDataChanged(): Promise<void> {
  changedHere();
  return tellPeers('data:changed');
}

// Another worker of the server (WEB_CONCURRENCY) committed a change: this one's caches re-read the version too.
onPeers('data:changed', changedHere);
