import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp } from './helpers/app.js';

/**
 * app.close(): idle keep-alive connections close at once when no request is in flight and none came for a second
 * (no 2.5 s grace: a stop of a quiet server and a test app's close after its last request are quick); a request in flight still gets its answer, with
 * `Connection: close`, and only then does the app stop.
 */

/** A raw keep-alive client: sends bytes, collects what comes back, knows when the server closed the connection. */
function rawClient(url: string) {
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => { received += d; });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const waitFor = async (re: RegExp) => {
    while (!re.test(received)) await new Promise((r) => socket.once('data', r));
  };
  return { socket, closed, waitFor, text: () => received, ready: new Promise<void>((r) => socket.once('connect', () => r())) };
}

describe.each(backends)('app.close() on %s', (backend) => {
  it('closes idle keep-alive connections at once when nothing is in flight and no request came for a second', async () => {
    const logs: string[] = [];
    const app = await startTestApp(backend, 0, undefined, { log: (m) => logs.push(m) });
    const c = rawClient(app.url);
    await c.ready;
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
    await c.waitFor(/\r\n\r\n[\s\S]*\}/);
    expect(c.text()).toMatch(/^HTTP\/1\.1 200/);
    expect(c.text()).toMatch(/keep-alive/i);
    // Quiet for more than QUIET_MS (1 s) of server/app.ts: a client busy a moment ago would still get the grace.
    await new Promise((r) => setTimeout(r, 1500));
    let socketClosedFirst = false;
    void c.closed.then(() => { socketClosedFirst = true; });
    await app.close();
    await c.closed;
    expect(socketClosedFirst).toBe(true);
    expect(logs).toContain('HTTP: запросов в работе нет, соединения закрыты сразу');
  });

  it('still answers a request in flight (Connection: close) before it stops', async () => {
    const logs: string[] = [];
    const app = await startTestApp(backend, 0, undefined, { log: (m) => logs.push(m) });
    const body = JSON.stringify({ query: '{ channels { code } }' });
    const c = rawClient(app.url);
    await c.ready;
    // Headers and half of the body: the request is read and waits for the rest of its body.
    c.socket.write(`POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nAuthorization: Bearer ${app.defaultClient.token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`);
    await new Promise((r) => setTimeout(r, 300));
    let stopped = false;
    const closing = app.close().then(() => { stopped = true; });
    await new Promise((r) => setTimeout(r, 300));
    expect(stopped).toBe(false);
    c.socket.write(body.slice(10));
    await closing;
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 200/);
    expect(c.text()).toMatch(/connection: close/i);
    expect(c.text()).toContain('"channels"');
    expect(logs).toContain('HTTP: запросы в работе завершены, соединения закрыты');
  });

  it('a start on the same data marks an import batch left RUNNING (crash, kill -9) as INTERRUPTED', async () => {
    const first = await startTestApp(backend, 0);
    const drop = first.db.drop.bind(first.db);
    first.db.drop = async () => undefined; // keep the data for the second start
    const [{ id: mid }] = await first.sql('SELECT id FROM municipality LIMIT 1');
    const [batch] = await first.sql(`INSERT INTO import_batch (municipality_id, channel, source_name, format, mapping, actor, rows_read, inserted)
                                     VALUES (?, 'POS', 'killed.csv', 'csv', '{}'::jsonb, 'test', 40, 30) RETURNING id`, [mid]);
    await first.close();
    const logs: string[] = [];
    const second = await startTestApp(backend, 0, first.db.dataDir, { log: (m) => logs.push(m), ...(first.db.databaseUrl ? { databaseUrl: first.db.databaseUrl } : {}) });
    try {
      const [b] = await second.sql('SELECT status, error FROM import_batch WHERE id = ?', [batch.id]);
      expect(b.status).toBe('INTERRUPTED');
      expect(b.error).toMatch(/30 новых.*40 прочитанных/);
      expect(logs.some((m) => /прерванные остановкой или сбоем, отмечены как INTERRUPTED: 1/.test(m))).toBe(true);
    } finally {
      await second.close();
      await drop();
    }
  });
});
