// МЦУ Hub: «Сроки и календарь» — the deadline rules (edit for ADMIN, CURATOR, COORDINATOR), their versions,
// the administration's working hours and the production calendar of a year with its import.
import './style.css';
import './intake.css';
import './deadlines.css';
import { ApiError, gql, loadThemes, type Theme } from './api';
import { append, byId, clear, el } from './dom';
import { CHANNELS, channelLabel, formatDateTime } from './labels';
import { can, mountUserBar, requireSession, type Me } from './auth';

type Unit = 'WORKING_HOURS' | 'WORKING_DAYS' | 'CALENDAR_DAYS';
const UNITS: Unit[] = ['WORKING_HOURS', 'WORKING_DAYS', 'CALENDAR_DAYS'];
const UNIT_SHORT: Record<Unit, string> = { WORKING_HOURS: 'раб. ч', WORKING_DAYS: 'раб. дн.', CALENDAR_DAYS: 'кал. дн.' };
const UNIT_LABEL: Record<Unit, string> = { WORKING_HOURS: 'рабочих часов', WORKING_DAYS: 'рабочих дней', CALENDAR_DAYS: 'календарных дней' };

interface Rule {
  id: string; channel: string; themeId: string | null; urgent: boolean;
  firstReactionNorm: number | null; firstReactionUnit: Unit | null; answerNorm: number; answerUnit: Unit; atRiskShare: number;
  extensionMax: number | null; extensionUnit: Unit | null; extensionNotice: boolean; extensionFrom: 'DUE' | 'RECEIVED'; isDefault: boolean; source: string | null;
  validFrom: string; validTo: string | null; current: boolean; createdBy: string; theme: { name: string } | null;
}
interface CalendarYear { year: number; source: string; importedAt: string; workingDays: number; workingHours: number; days: { date: string; kind: string; holiday: string | null }[] }

const RULE_FIELDS = `id channel themeId urgent firstReactionNorm firstReactionUnit answerNorm answerUnit atRiskShare extensionMax extensionUnit
  extensionNotice extensionFrom isDefault source validFrom validTo current createdBy theme { name }`;

let me: Me;
let themes: Theme[] = [];
let rules: Rule[] = [];
let years: CalendarYear[] = [];

function showError(message: string | null): void {
  const box = byId('error');
  box.hidden = !message;
  box.textContent = message ?? '';
}
const errorText = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));
const norm = (n: number | null, u: Unit | null) => (n == null || u == null ? '—' : `${String(n).replace('.', ',')} ${UNIT_SHORT[u]}`);

// ---------------------------------------------------------------- rules

async function loadRules(): Promise<void> {
  const history = byId<HTMLInputElement>('rules-history').checked;
  rules = (await gql<{ deadlineRules: Rule[] }>(`query($h: Boolean!) { deadlineRules(history: $h) { ${RULE_FIELDS} } }`, { h: history })).deadlineRules;
  renderRules();
}

function renderRules(): void {
  const body = byId('rules-list');
  clear(body);
  byId('rules-count').textContent = String(rules.filter((r) => r.current).length);
  const editable = can.editReference(me);
  for (const r of rules) {
    const edit = editable && r.current ? el('button', { type: 'button', class: 'link small', 'data-rule': r.id }, 'Изменить') : null;
    edit?.addEventListener('click', () => openForm(r));
    append(body, el('tr', { class: r.current ? undefined : 'old', 'data-rule-row': r.id },
      el('td', null, channelLabel(r.channel)),
      el('td', null, r.theme?.name ?? 'все темы'),
      el('td', null, r.urgent ? el('span', { class: 'badge urgent' }, 'срочные') : 'обычные'),
      el('td', null, norm(r.firstReactionNorm, r.firstReactionUnit)),
      el('td', null, norm(r.answerNorm, r.answerUnit)),
      el('td', { class: 'num' }, `< ${Math.round(r.atRiskShare * 100)} %`),
      el('td', null, r.extensionMax == null ? 'нет'
        : r.extensionFrom === 'RECEIVED' ? `промежуточный ответ: до ${norm(r.extensionMax, r.extensionUnit)} от регистрации${r.extensionNotice ? ', с уведомлением' : ''}`
        : `+ до ${norm(r.extensionMax, r.extensionUnit)}${r.extensionNotice ? ', с уведомлением' : ''}`),
      el('td', { class: 'src' }, r.source ?? '', r.isDefault ? el('span', { class: 'badge' }, 'по умолчанию, подтвердить') : null),
      el('td', { class: 'small' }, r.current ? `с ${r.validFrom.slice(0, 4) === '2000' ? 'начала' : formatDateTime(r.validFrom)}` : `${formatDateTime(r.validFrom)} — ${formatDateTime(r.validTo)}`),
      el('td', null, edit),
    ));
  }
}

function fillUnits(select: HTMLSelectElement, withNone: boolean): void {
  clear(select);
  if (withNone) append(select, el('option', { value: '' }, '—'));
  for (const u of UNITS) append(select, el('option', { value: u }, UNIT_LABEL[u]));
}

function openForm(r: Rule | null): void {
  const card = byId('rule-form-card');
  card.hidden = false;
  byId('rule-form-title').textContent = r ? `Изменить правило: ${channelLabel(r.channel)}, ${r.theme?.name ?? 'все темы'}${r.urgent ? ', срочные' : ''}` : 'Новое правило';
  const set = (id: string, v: string) => (byId<HTMLInputElement | HTMLSelectElement>(id).value = v);
  set('r-channel', r?.channel ?? 'INCIDENT_MANAGEMENT');
  set('r-theme', r?.themeId ?? '');
  byId<HTMLInputElement>('r-urgent').checked = r?.urgent ?? false;
  set('r-first', r?.firstReactionNorm == null ? '' : String(r.firstReactionNorm));
  set('r-first-unit', r?.firstReactionUnit ?? '');
  set('r-answer', String(r?.answerNorm ?? 8));
  set('r-answer-unit', r?.answerUnit ?? 'WORKING_HOURS');
  set('r-risk', String(Math.round((r?.atRiskShare ?? 0.25) * 100)));
  set('r-ext', r?.extensionMax == null ? '' : String(r.extensionMax));
  set('r-ext-unit', r?.extensionUnit ?? '');
  byId<HTMLInputElement>('r-notice').checked = r?.extensionNotice ?? false;
  set('r-ext-from', r?.extensionFrom ?? 'DUE');
  byId<HTMLInputElement>('r-default').checked = false;
  set('r-source', r?.source ?? '');
  for (const id of ['r-channel', 'r-theme', 'r-urgent']) byId<HTMLInputElement>(id).disabled = !!r;
  byId('r-result').textContent = '';
  card.scrollIntoView({ block: 'nearest' });
}

const FIELD_INPUT: Record<string, string> = {
  'rule.answerNorm': 'r-answer', 'rule.answerUnit': 'r-answer-unit', 'rule.firstReactionNorm': 'r-first', 'rule.firstReactionUnit': 'r-first-unit',
  'rule.atRiskShare': 'r-risk', 'rule.extensionMax': 'r-ext', 'rule.extensionUnit': 'r-ext-unit', 'rule.extensionFrom': 'r-ext-from', 'rule.themeId': 'r-theme', 'rule.channel': 'r-channel', 'rule.source': 'r-source',
};

async function saveRule(ev: Event): Promise<void> {
  ev.preventDefault();
  document.querySelectorAll('.field-error').forEach((n) => n.classList.remove('field-error'));
  const v = (id: string) => byId<HTMLInputElement>(id).value.trim();
  const num = (id: string) => (v(id) === '' ? null : Number(v(id).replace(',', '.')));
  const rule = {
    channel: v('r-channel'), themeId: v('r-theme') || null, urgent: byId<HTMLInputElement>('r-urgent').checked,
    firstReactionNorm: num('r-first'), firstReactionUnit: v('r-first-unit') || null,
    answerNorm: num('r-answer') ?? 0, answerUnit: v('r-answer-unit'), atRiskShare: (num('r-risk') ?? 25) / 100,
    extensionMax: num('r-ext'), extensionUnit: v('r-ext-unit') || null, extensionNotice: byId<HTMLInputElement>('r-notice').checked,
    extensionFrom: v('r-ext-from') || 'DUE', isDefault: byId<HTMLInputElement>('r-default').checked, source: v('r-source') || null,
  };
  const result = byId('r-result');
  result.className = 'small';
  result.textContent = 'Сохранение…';
  try {
    await gql(`mutation($rule: DeadlineRuleInput!) { setDeadlineRule(rule: $rule) { id } }`, { rule });
    result.className = 'small ok';
    result.textContent = 'Сохранено: действует новая версия правила, прежняя закрыта.';
    byId('rule-form-card').hidden = true;
    await loadRules();
  } catch (e) {
    const field = (e as ApiError).field;
    if (field && FIELD_INPUT[field]) byId(FIELD_INPUT[field]).classList.add('field-error');
    result.className = 'small bad';
    result.textContent = `Не сохранено: ${errorText(e)}`;
  }
}

// ---------------------------------------------------------------- working hours

const WEEKDAYS = ['Понедельник', 'Вторник', 'Среда', 'Четверг', 'Пятница', 'Суббота', 'Воскресенье'];

async function loadHours(): Promise<void> {
  const d = await gql<{ workingHours: { timezone: string; hours: { week: Record<string, string[]>; shortenedMinutes: number } };
    deadlineSettings: { satisfactionTargetShare: number; satisfactionRatings: number[]; repeatWindowDays: number; urgentKeywords: string[] } }>(
    `{ workingHours { timezone hours } deadlineSettings { satisfactionTargetShare satisfactionRatings repeatWindowDays urgentKeywords } }`);
  const box = byId('hours');
  clear(box);
  const table = el('table', null, ...WEEKDAYS.map((name, i) => {
    const iv = d.workingHours.hours.week[String(i + 1)] ?? [];
    return el('tr', null, el('th', { scope: 'row' }, name), el('td', null, iv.length ? iv.map((x) => x.replace('-', '–')).join(', ') : 'выходной'));
  }));
  const s = d.deadlineSettings;
  append(box, table,
    el('p', null, `Часовой пояс: ${d.workingHours.timezone}. Предпраздничный день короче на ${d.workingHours.hours.shortenedMinutes} мин. Срок в рабочих днях или календарных днях истекает в конце рабочего дня (ГК РФ ст. 191–194); выпавший на выходной — в следующий рабочий день.`),
    el('p', null, `Цель удовлетворённости: доля оценок ${s.satisfactionRatings.join('–')} не ниже ${Math.round(s.satisfactionTargetShare * 100)} %. Повторное обращение — в течение ${s.repeatWindowDays} дней.`),
    el('p', { class: 'muted' }, `Срочность по ключевым словам: ${s.urgentKeywords.join(', ')}`));
}

// ---------------------------------------------------------------- calendar

async function loadCalendar(select?: number): Promise<void> {
  years = (await gql<{ productionCalendar: CalendarYear[] }>(`{ productionCalendar { year source importedAt workingDays workingHours days { date kind holiday } } }`)).productionCalendar;
  const sel = byId<HTMLSelectElement>('cal-year');
  const want = select ?? (Number(sel.value) || new Date().getFullYear());
  clear(sel);
  for (const y of years) append(sel, el('option', { value: String(y.year) }, String(y.year)));
  sel.value = String(years.some((y) => y.year === want) ? want : years.at(-1)?.year ?? '');
  renderCalendar();
}

function renderCalendar(): void {
  const year = Number(byId<HTMLSelectElement>('cal-year').value);
  const y = years.find((x) => x.year === year);
  const box = byId('calendar');
  clear(box);
  if (!y) return;
  byId('cal-summary').textContent = `рабочих дней ${y.workingDays}, рабочих часов ${String(y.workingHours).replace('.', ',')}; источник: ${y.source}`;
  const special = new Map(y.days.map((d) => [d.date, d]));
  const monthFmt = new Intl.DateTimeFormat('ru-RU', { month: 'long', timeZone: 'UTC' });
  for (let m = 0; m < 12; m++) {
    const grid = el('div', { class: 'grid' }, ...['пн', 'вт', 'ср', 'чт', 'пт', 'сб', 'вс'].map((w) => el('span', { class: 'wd' }, w)));
    const first = new Date(Date.UTC(year, m, 1));
    for (let i = 0; i < (first.getUTCDay() + 6) % 7; i++) append(grid, el('span', null));
    for (let d = first; d.getUTCMonth() === m; d = new Date(d.getTime() + 86_400_000)) {
      const key = d.toISOString().slice(0, 10);
      const s = special.get(key);
      const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6;
      const cls = s?.kind === 'HOLIDAY' ? 'off' : s?.kind === 'SHORT' ? 'short' : s?.kind === 'WORKDAY' ? 'moved' : weekend ? 'off' : '';
      append(grid, el('span', { class: `day ${cls}`, title: s?.holiday ?? (s?.kind === 'SHORT' ? 'сокращённый день' : s?.kind === 'WORKDAY' ? 'рабочий день' : null), 'data-date': key }, String(d.getUTCDate())));
    }
    append(box, el('div', { class: 'month' }, el('h3', null, monthFmt.format(first)), grid));
  }
}

async function importCalendar(ev: Event): Promise<void> {
  ev.preventDefault();
  const file = byId<HTMLInputElement>('cal-file').files?.[0];
  const out = byId('cal-result');
  if (!file) { out.className = 'small bad'; out.textContent = 'Выберите файл календаря'; return; }
  if (file.size > 1_000_000) { out.className = 'small bad'; out.textContent = 'Файл больше 1 МБ'; return; }
  out.className = 'small';
  out.textContent = 'Загрузка…';
  try {
    const r = (await gql<{ importProductionCalendar: { year: number; holidays: number; shortened: number; workingWeekends: number; workingDays: number; replaced: boolean } }>(
      `mutation($xml: String!, $source: String) { importProductionCalendar(xml: $xml, source: $source) { year holidays shortened workingWeekends workingDays replaced } }`,
      { xml: await file.text(), source: file.name })).importProductionCalendar;
    // the calendar is reloaded first: the result line says «done» only when the page shows the new year
    await loadCalendar(r.year);
    out.className = 'small ok';
    out.textContent = `${r.year} год ${r.replaced ? 'заменён' : 'загружен'}: выходных и праздников в будни ${r.holidays}, сокращённых ${r.shortened}, рабочих выходных ${r.workingWeekends}; рабочих дней ${r.workingDays}.`;
  } catch (e) {
    out.className = 'small bad';
    out.textContent = `Не загружено (ничего не изменено): ${errorText(e)}`;
  }
}

// ---------------------------------------------------------------- start

async function start(): Promise<void> {
  me = await requireSession();
  const bar = byId('user-bar');
  mountUserBar(bar, me);
  bar.hidden = false;
  themes = await loadThemes();
  const ch = byId<HTMLSelectElement>('r-channel');
  for (const c of CHANNELS) append(ch, el('option', { value: c }, channelLabel(c)));
  const th = byId<HTMLSelectElement>('r-theme');
  append(th, el('option', { value: '' }, 'все темы'));
  const byParent = new Map<string | null, Theme[]>();
  for (const t of themes) byParent.set(t.parentId, [...(byParent.get(t.parentId) ?? []), t]);
  for (const g of byParent.get(null) ?? []) {
    append(th, el('option', { value: g.id }, g.name));
    for (const t of byParent.get(g.id) ?? []) append(th, el('option', { value: t.id }, `— ${t.name}`));
  }
  fillUnits(byId('r-first-unit'), true);
  fillUnits(byId('r-answer-unit'), false);
  fillUnits(byId('r-ext-unit'), true);
  if (can.editReference(me)) {
    byId('rule-new').hidden = false;
    byId('cal-form').hidden = false;
  }
  byId('rule-new').addEventListener('click', () => openForm(null));
  byId('r-cancel').addEventListener('click', () => (byId('rule-form-card').hidden = true));
  byId('rule-form').addEventListener('submit', (e) => void saveRule(e));
  byId('rules-history').addEventListener('change', () => void loadRules().catch((e) => showError(errorText(e))));
  byId('cal-year').addEventListener('change', renderCalendar);
  byId<HTMLInputElement>('cal-file').addEventListener('change', () => {
    byId('cal-file-name').textContent = byId<HTMLInputElement>('cal-file').files?.[0]?.name ?? 'файл не выбран';
  });
  byId('cal-form').addEventListener('submit', (e) => void importCalendar(e));
  await Promise.all([loadRules(), loadHours(), loadCalendar()]);
  document.body.dataset.ready = 'true';
}

start().catch((e) => showError(`Не удалось загрузить страницу: ${errorText(e)}`));
