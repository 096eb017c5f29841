// МЦУ Hub: «Open311: ключи доступа» — an ADMIN issues keys of Open311 clients (the secret shown once),
// sees their use and revokes them. Other roles see that the section belongs to the administrator.
import './style.css';
import './intake.css';
import './open311.css';
import { ApiError, gql, type Channel } from './api';
import { append, byId, clear, el } from './dom';
import { CHANNELS, CHANNEL_LABELS, channelLabel, formatDateTime, formatNumber } from './labels';
import { mountUserBar, requireSession } from './auth';

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  channel: Channel;
  ratePerMinute: number;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
  uses: number;
}

const KEY_FIELDS = 'id name prefix channel ratePerMinute createdAt createdBy revokedAt revokedBy lastUsedAt uses';

function showError(e: unknown): void {
  const box = byId('error');
  box.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

async function loadKeys(): Promise<void> {
  const data = await gql<{ open311Keys: { totalCount: number; edges: { node: ApiKey }[] } }>(
    `{ open311Keys(first: 500) { totalCount edges { node { ${KEY_FIELDS} } } } }`);
  const keys = data.open311Keys.edges.map((e) => e.node);
  const count = byId('keys-count');
  count.textContent = String(data.open311Keys.totalCount);
  count.dataset.count = String(data.open311Keys.totalCount);
  const body = byId('keys-body');
  clear(body);
  if (!keys.length) {
    append(body, el('tr', null, el('td', { colspan: 9, class: 'muted' }, 'Ключей пока нет')));
    return;
  }
  for (const k of keys.reverse()) {
    const revoke = k.revokedAt ? null : el('button', { type: 'button', class: 'link small', 'data-revoke': k.id }, 'Отозвать');
    revoke?.addEventListener('click', () => void revokeKey(k));
    append(body, el('tr', { class: k.revokedAt ? 'revoked' : undefined, 'data-key': k.id },
      el('td', null, k.name),
      el('td', null, el('code', null, `${k.prefix}…`)),
      el('td', null, channelLabel(k.channel)),
      el('td', { class: 'num' }, formatNumber(k.ratePerMinute)),
      el('td', null, formatDateTime(k.createdAt), el('div', { class: 'muted small' }, k.createdBy)),
      el('td', { class: 'num', 'data-uses': k.uses }, formatNumber(k.uses)),
      el('td', null, formatDateTime(k.lastUsedAt)),
      el('td', null, k.revokedAt
        ? el('span', { class: 'o311-state off' }, `Отозван ${formatDateTime(k.revokedAt)}`)
        : el('span', { class: 'o311-state' }, 'Действует')),
      el('td', null, revoke),
    ));
  }
}

async function revokeKey(k: ApiKey): Promise<void> {
  if (!confirm(`Отозвать ключ «${k.name}» (${k.prefix}…)? Приложение больше не сможет отправлять обращения с ним.`)) return;
  try {
    await gql('mutation($id: ID!) { revokeOpen311Key(id: $id) { id revokedAt } }', { id: k.id });
    await loadKeys();
  } catch (e) {
    showError(e);
  }
}

async function issue(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  byId('error').hidden = true;
  const name = byId<HTMLInputElement>('k-name').value.trim();
  const rate = Number(byId<HTMLInputElement>('k-rate').value);
  if (!name) return showError(new Error('Укажите, кому выдан ключ'));
  if (!Number.isInteger(rate) || rate < 1 || rate > 100_000) return showError(new Error('Лимит — целое число запросов в минуту от 1 до 100 000'));
  const button = byId<HTMLButtonElement>('k-submit');
  button.disabled = true;
  try {
    const data = await gql<{ issueOpen311Key: { secret: string; key: ApiKey } }>(
      `mutation($input: IssueOpen311KeyInput!) { issueOpen311Key(input: $input) { secret key { ${KEY_FIELDS} } } }`,
      { input: { name, channel: byId<HTMLSelectElement>('k-channel').value, ratePerMinute: rate } });
    byId('secret-name').textContent = data.issueOpen311Key.key.name;
    byId('secret-value').textContent = data.issueOpen311Key.secret;
    byId('secret-box').hidden = false;
    byId<HTMLFormElement>('issue-form').reset();
    await loadKeys();
  } catch (e) {
    showError(e);
  } finally {
    button.disabled = false;
  }
}

async function main(): Promise<void> {
  const me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  if (me.role !== 'ADMIN') {
    byId('forbidden').hidden = false;
    document.body.dataset.ready = '1';
    return;
  }
  const select = byId<HTMLSelectElement>('k-channel');
  for (const c of CHANNELS) append(select, el('option', { value: c, selected: c === 'OPEN311' }, CHANNEL_LABELS[c]));
  byId('issue-card').hidden = false;
  byId('keys-card').hidden = false;
  byId<HTMLFormElement>('issue-form').addEventListener('submit', (ev) => void issue(ev));
  byId('secret-copy').addEventListener('click', () => void navigator.clipboard?.writeText(byId('secret-value').textContent ?? '').catch(() => undefined));
  await loadKeys();
  document.body.dataset.ready = '1';
}

main().catch((e) => {
  showError(e);
  document.body.dataset.error = '1';
});
