/**
 * A client of the VK API (https://dev.vk.com/method) for official pages: the community's counters and marks
 * (groups.getById with fields=members_count,verified,description,cover,can_post…), its posts (wall.get, paged by 100)
 * and the comments under them with the community's replies (wall.getComments with threads). Configured in production
 * by a service token in VK_API_TOKEN (VK_API_VERSION, VK_API_TIMEOUT_MS optional); `fetch` is injectable, so the tests run
 * it against recorded responses (test/fixtures/vk/). Every failure is an Error naming the method and the response.
 */
export interface VkOptions {
  token: string;
  fetch?: typeof fetch;
  version?: string;
  baseUrl?: string;
  timeoutMs?: number;
  /** Pause between calls (the API allows 3 requests per second for a token). */
  minIntervalMs?: number;
  /** Retries of «too many requests» (6), «flood control» (9) and internal errors (10). */
  retries?: number;
  /** Upper bound of pages of posts or comments read in one call of posts()/comments() (bounds the work). */
  maxPages?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class VkApiError extends Error {
  constructor(readonly method: string, readonly code: number | null, message: string) {
    super(`VK API, метод ${method}: ${message}`);
    this.name = 'VkApiError';
  }
}

export interface VkGroup {
  id: number; screenName: string; name: string; verified: boolean; membersCount: number;
  hasCover: boolean; hasDescription: boolean; isClosed: boolean; canComment: boolean | null;
}
export interface VkPost { id: number; date: Date; pinned: boolean; views: number; likes: number; reposts: number; comments: number }
export interface VkComment { id: number; postId: number; fromId: number; date: Date; text: string; replyAt: Date | null; replyText: string | null }

const RETRY_CODES = new Set([6, 9, 10]);

/** A counter of the response: absent is 0; negative, fractional or not a number is an error naming the method, item and field. */
function counter(method: string, item: number, field: string, v: unknown): number {
  if (v == null) return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 2_000_000_000) throw new VkApiError(method, null, `объект ${item}: недопустимое значение ${field} = ${JSON.stringify(v).slice(0, 40)} (ожидается целое ≥ 0)`);
  return n;
}

export class VkClient {
  private readonly fetch: typeof fetch;
  private readonly o: Required<Omit<VkOptions, 'fetch'>>;
  private last = 0;

  constructor(opts: VkOptions) {
    if (!opts.token) throw new Error('VK API: не задан токен доступа (VK_API_TOKEN)');
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.o = {
      token: opts.token, version: opts.version ?? '5.199', baseUrl: opts.baseUrl ?? 'https://api.vk.com/method',
      timeoutMs: opts.timeoutMs ?? 10_000, minIntervalMs: opts.minIntervalMs ?? 350, retries: opts.retries ?? 2, maxPages: opts.maxPages ?? 50,
      sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env, fetchImpl?: typeof fetch): VkClient {
    const token = env.VK_API_TOKEN;
    if (!token) throw new Error('VK API не настроен: задайте переменную окружения VK_API_TOKEN (сервисный ключ приложения VK); без неё загружайте статистику файлом');
    return new VkClient({ token, version: env.VK_API_VERSION, timeoutMs: env.VK_API_TIMEOUT_MS ? Number(env.VK_API_TIMEOUT_MS) : undefined, fetch: fetchImpl });
  }

  /** One method call: POST form, timeout, VK error objects → VkApiError, retries of rate limits. */
  async call<T>(method: string, params: Record<string, string | number>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const wait = this.last + this.o.minIntervalMs - Date.now();
      if (wait > 0) await this.o.sleep(wait);
      this.last = Date.now();
      const body = new URLSearchParams({ ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])), access_token: this.o.token, v: this.o.version });
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), this.o.timeoutMs);
      let text: string;
      let status: number;
      try {
        const res = await this.fetch(`${this.o.baseUrl}/${method}`, { method: 'POST', body, signal: ac.signal, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        status = res.status;
        text = await res.text();
      } catch (e) {
        const err = e as Error;
        throw new VkApiError(method, null, err.name === 'AbortError' ? `нет ответа за ${this.o.timeoutMs} мс` : `сеть недоступна (${err.message.slice(0, 200)})`);
      } finally {
        clearTimeout(timer);
      }
      if (status >= 500 && attempt < this.o.retries) { await this.o.sleep(1000 * (attempt + 1)); continue; }
      if (status !== 200) throw new VkApiError(method, null, `HTTP ${status}: ${text.slice(0, 200)}`);
      let json: { response?: T; error?: { error_code?: number; error_msg?: string } };
      try {
        json = JSON.parse(text);
      } catch {
        throw new VkApiError(method, null, `ответ не является JSON: «${text.slice(0, 120)}»`);
      }
      if (json && typeof json === 'object' && json.error) {
        const code = Number(json.error.error_code ?? 0);
        if (RETRY_CODES.has(code) && attempt < this.o.retries) { await this.o.sleep(1000 * (attempt + 1)); continue; }
        throw new VkApiError(method, code, `ошибка ${code} «${String(json.error.error_msg ?? '').slice(0, 300)}»`);
      }
      if (!json || typeof json !== 'object' || !('response' in json)) throw new VkApiError(method, null, `в ответе нет поля response: «${text.slice(0, 120)}»`);
      return json.response as T;
    }
  }

  async group(screenName: string): Promise<VkGroup> {
    const r = await this.call<unknown>('groups.getById', { group_id: screenName, fields: 'members_count,verified,description,cover,can_post,is_closed,screen_name' });
    // 5.199 answers { groups: [...] }; older versions an array.
    const list = Array.isArray(r) ? r : (r as { groups?: unknown[] })?.groups;
    const g = Array.isArray(list) ? (list[0] as Record<string, any>) : undefined;
    if (!g || typeof g.id !== 'number') throw new VkApiError('groups.getById', null, `сообщество «${screenName}» не найдено в ответе`);
    return {
      id: g.id, screenName: String(g.screen_name ?? screenName), name: String(g.name ?? ''), verified: g.verified === 1 || g.verified === true,
      membersCount: counter('groups.getById', g.id, 'members_count', g.members_count), hasCover: !!g.cover?.enabled, hasDescription: typeof g.description === 'string' && g.description.trim().length > 0,
      isClosed: Number(g.is_closed ?? 0) !== 0, canComment: g.can_post == null ? null : g.can_post === 1,
    };
  }

  /** Posts of the community's wall published in [from, to), newest first, paged by 100 until older than `from`. */
  async posts(groupId: number, from: Date, to: Date): Promise<VkPost[]> {
    const out: VkPost[] = [];
    for (let page = 0, offset = 0; page < this.o.maxPages; page++, offset += 100) {
      const r = await this.call<{ count: number; items: Record<string, any>[] }>('wall.get', { owner_id: -groupId, offset, count: 100, filter: 'owner' });
      if (!r || !Array.isArray(r.items)) throw new VkApiError('wall.get', null, 'в ответе нет списка items');
      let older = false;
      for (const it of r.items) {
        const date = new Date(Number(it.date) * 1000);
        if (!Number.isInteger(Number(it.id)) || Number.isNaN(date.getTime())) throw new VkApiError('wall.get', null, `запись без номера или даты: «${JSON.stringify(it).slice(0, 120)}»`);
        const pinned = it.is_pinned === 1;
        if (date < from) { if (!pinned) older = true; continue; }
        if (date >= to) continue;
        const id = Number(it.id);
        out.push({ id, date, pinned, views: counter('wall.get', id, 'views', it.views?.count), likes: counter('wall.get', id, 'likes', it.likes?.count),
          reposts: counter('wall.get', id, 'reposts', it.reposts?.count), comments: counter('wall.get', id, 'comments', it.comments?.count) });
      }
      if (older || r.items.length < 100 || offset + 100 >= r.count) break;
    }
    return out;
  }

  /** Top-level comments of a post with the time of the community's first reply in the thread. */
  async comments(groupId: number, postId: number): Promise<VkComment[]> {
    const out: VkComment[] = [];
    for (let page = 0, offset = 0; page < this.o.maxPages; page++, offset += 100) {
      const r = await this.call<{ count: number; current_level_count?: number; items: Record<string, any>[] }>('wall.getComments',
        { owner_id: -groupId, post_id: postId, offset, count: 100, sort: 'asc', thread_items_count: 10 });
      if (!r || !Array.isArray(r.items)) throw new VkApiError('wall.getComments', null, 'в ответе нет списка items');
      for (const it of r.items) {
        if (Number(it.from_id) === -groupId || it.deleted) continue; // the community's own comments are replies, not questions
        const reply = (it.thread?.items as Record<string, any>[] | undefined)?.find((t) => Number(t.from_id) === -groupId);
        out.push({ id: Number(it.id), postId, fromId: Number(it.from_id), date: new Date(Number(it.date) * 1000), text: String(it.text ?? ''), replyAt: reply ? new Date(Number(reply.date) * 1000) : null, replyText: reply ? String(reply.text ?? '') || null : null });
      }
      const total = r.current_level_count ?? r.count;
      if (r.items.length < 100 || offset + 100 >= total) break;
    }
    return out;
  }

  /** Everything the hub keeps for a VK page and month: counters (as the statistics file) and comments (as the comments file). */
  async monthData(screenName: string, from: Date, to: Date): Promise<{ group: VkGroup; posts: VkPost[]; comments: VkComment[] }> {
    const group = await this.group(screenName);
    const posts = await this.posts(group.id, from, to);
    const comments: VkComment[] = [];
    for (const p of posts) if (p.comments > 0) comments.push(...(await this.comments(group.id, p.id)));
    return { group, posts, comments };
  }
}
