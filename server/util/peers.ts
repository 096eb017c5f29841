import cluster, { type Worker } from 'node:cluster';
import { RateLimiterCluster, RateLimiterClusterMaster, RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * The processes of one server (WEB_CONCURRENCY > 1, server/cluster.ts): the primary forks workers that serve HTTP on
 * one port. What one worker does must hold in all of them:
 * - counters of rate limits live in the primary (sharedLimiter: rate-limiter-flexible's cluster limiter, one IPC round
 *   trip per counted request), so a limit of 600 a minute stays 600 whatever the number of workers;
 * - a change that a worker's in-memory cache must not outlive (a sign-out, a revoked session or API key, a committed
 *   mutation) is told to every other worker through the primary (tellPeers), and the teller waits until each of them
 *   has applied it (or is gone) — a sign-out answered by one worker is honoured by the next request to any other.
 * In a single process (the default, and the embedded database) both are local: the memory limiter, and no peers.
 */

const CHANNEL = 'mcu-peers';

interface TellMessage { channel: typeof CHANNEL; type: 'tell'; id: number; topic: string; data: unknown }
interface DoneMessage { channel: typeof CHANNEL; type: 'done'; id: number }
/** A worker listens from now on (one that has not joined yet has nothing cached to forget). */
interface JoinMessage { channel: typeof CHANNEL; type: 'join' }
type PeerMessage = TellMessage | DoneMessage | JoinMessage;

const isPeerMessage = (m: unknown): m is PeerMessage => !!m && typeof m === 'object' && (m as { channel?: unknown }).channel === CHANNEL;

let joined = false;
const handlers = new Map<string, Set<(data: any) => void>>();
const waiting = new Map<number, { resolve: () => void; timer: NodeJS.Timeout }>();
let nextId = 1;

/** How long a teller waits for the others' acknowledgement (a worker that hangs this long is being stopped anyway). */
const TELL_TIMEOUT_MS = 3000;

/** This process is a worker of a cluster (set once by server/cluster.ts before the app starts). */
export function inCluster(): boolean {
  return joined;
}

/** Makes this worker one of the peers: limiters count in the primary, tellPeers reaches the other workers. */
export function joinPeers(): void {
  if (joined) return;
  if (!cluster.isWorker || !process.send) throw new Error('joinPeers: not a cluster worker');
  joined = true;
  process.on('message', (m: unknown) => {
    if (!isPeerMessage(m)) return;
    if (m.type === 'tell') {
      // From another worker, relayed by the primary: apply it, then acknowledge.
      for (const h of handlers.get(m.topic) ?? []) {
        try { h(m.data); } catch (e) { console.error(`[peers] ${m.topic} failed`, e); }
      }
      if (process.connected) {
        try { process.send!({ channel: CHANNEL, type: 'done', id: m.id } satisfies DoneMessage); } catch { /* the primary is gone */ }
      }
    } else if (m.type === 'done') {
      const w = waiting.get(m.id);
      if (w) { clearTimeout(w.timer); waiting.delete(m.id); w.resolve(); }
    }
  });
  process.send({ channel: CHANNEL, type: 'join' } satisfies JoinMessage);
}

/** Registers what this process does when another worker tells `topic` (it is not called for this process's own tells). */
export function onPeers<T>(topic: string, handler: (data: T) => void): () => void {
  let set = handlers.get(topic);
  if (!set) { set = new Set(); handlers.set(topic, set); }
  set.add(handler);
  return () => set.delete(handler);
}

/**
 * Tells every other worker (they run the handlers registered with onPeers); resolves once each has applied it, a
 * worker has gone, or after 3 s. Resolves at once in a single process. Never rejects.
 */
export function tellPeers(topic: string, data: unknown = null): Promise<void> {
  if (!joined || !process.connected) return Promise.resolve();
  const id = nextId++;
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => { waiting.delete(id); resolve(); }, TELL_TIMEOUT_MS);
    timer.unref();
    waiting.set(id, { resolve, timer });
    try {
      process.send!({ channel: CHANNEL, type: 'tell', id, topic, data } satisfies TellMessage);
    } catch {
      clearTimeout(timer);
      waiting.delete(id);
      resolve();
    }
  });
}

/**
 * A rate limiter whose counters are this server's, not this process's: in a worker they live in the primary
 * (`keyPrefix` names the limiter there and must be unique per limit), in a single process in memory.
 */
export function sharedLimiter(opts: { points: number; duration: number; keyPrefix: string }): RateLimiterAbstract {
  return joined ? new RateLimiterCluster({ ...opts, timeoutMs: 5000 }) : new RateLimiterMemory(opts);
}

/**
 * The primary's side: keeps the rate-limit counters of every worker (RateLimiterClusterMaster) and relays what a
 * worker tells to the others, answering the teller when all of them have acknowledged (or exited).
 */
export function relayPeers(): void {
  if (!cluster.isPrimary) throw new Error('relayPeers: not the primary');
  new RateLimiterClusterMaster();
  let relayId = 1;
  // relay id → the teller, its own id, and the workers that have not acknowledged yet.
  const open = new Map<number, { from: Worker; id: number; pending: Set<number> }>();
  // Workers that listen (joined): a worker still starting is not waited for.
  const joinedWorkers = new Set<number>();
  const send = (w: Worker, m: PeerMessage) => {
    if (!w.isConnected()) return false;
    try { w.send(m); return true; } catch { return false; }
  };
  const finish = (rid: number) => {
    const o = open.get(rid);
    if (!o || o.pending.size) return;
    open.delete(rid);
    send(o.from, { channel: CHANNEL, type: 'done', id: o.id });
  };
  cluster.on('message', (worker, m: unknown) => {
    if (!isPeerMessage(m)) return;
    if (m.type === 'join') {
      joinedWorkers.add(worker.id);
    } else if (m.type === 'tell') {
      const rid = relayId++;
      const entry = { from: worker, id: m.id, pending: new Set<number>() };
      open.set(rid, entry);
      for (const w of Object.values(cluster.workers ?? {})) {
        if (!w || w.id === worker.id || !joinedWorkers.has(w.id)) continue;
        if (send(w, { ...m, id: rid })) entry.pending.add(w.id);
      }
      finish(rid);
    } else {
      const o = open.get(m.id);
      if (o) { o.pending.delete(worker.id); finish(m.id); }
    }
  });
  // A worker that exits acknowledges nothing more: its caches are gone with it.
  cluster.on('exit', (worker) => {
    joinedWorkers.delete(worker.id);
    for (const [rid, o] of open) {
      if (o.pending.delete(worker.id)) finish(rid);
    }
  });
}
