import { InputError } from '../errors.js';

/**
 * Message templates of targeted informing: data (built-in ones here, the centre's own in informing_template),
 * `{{placeholder}}` filled from the source (a problem, a risk signal, a planned-works notice). Everything is plain
 * text: no markup in templates, control and direction-changing characters removed from values, every value and the
 * result bounded in length; a placeholder the catalogue does not know, or one the source has no value for, is a clear
 * error naming it — never a message with a hole in it.
 */
export type InformingChannelCode = 'OFFICIAL_PAGE' | 'MESSENGER' | 'CALLBACK';
export type SourceKindCode = 'PROBLEM' | 'RISK' | 'PLANNED_WORKS' | 'NONE';

export const CHANNEL_LABELS: Record<InformingChannelCode, string> = {
  OFFICIAL_PAGE: 'пост на официальной странице', MESSENGER: 'сообщение в канал мессенджера', CALLBACK: 'обзвон (сценарий звонка)',
};
/** Longest message per channel (a post; a messenger message that is read on a phone screen; what is said in one call). */
export const CHANNEL_MAX: Record<InformingChannelCode, number> = { OFFICIAL_PAGE: 4000, MESSENGER: 1000, CALLBACK: 700 };
export const SOURCE_LABELS: Record<SourceKindCode, string> = { PROBLEM: 'проблема перечня', RISK: 'информационный риск', PLANNED_WORKS: 'плановые работы', NONE: 'без источника' };

export interface Placeholder { key: string; label: string; sources: SourceKindCode[]; optional?: boolean }
const ALL: SourceKindCode[] = ['PROBLEM', 'RISK', 'PLANNED_WORKS', 'NONE'];
export const PLACEHOLDERS: Placeholder[] = [
  { key: 'municipality', label: 'муниципалитет', sources: ALL },
  { key: 'today', label: 'сегодняшняя дата (ДД.ММ.ГГГГ)', sources: ALL },
  { key: 'title', label: 'что: название проблемы, сигнала или работ', sources: ['PROBLEM', 'RISK', 'PLANNED_WORKS'] },
  { key: 'theme', label: 'тема', sources: ['PROBLEM', 'RISK', 'PLANNED_WORKS'] },
  { key: 'district', label: 'район', sources: ['PROBLEM', 'RISK', 'PLANNED_WORKS'] },
  { key: 'organization', label: 'организация (исполнитель)', sources: ['PROBLEM', 'RISK', 'PLANNED_WORKS'] },
  { key: 'address', label: 'адрес (где)', sources: ['PROBLEM', 'PLANNED_WORKS'] },
  { key: 'appeals', label: 'число обращений', sources: ['PROBLEM', 'RISK'] },
  { key: 'since', label: 'с какого дня (ДД.ММ.ГГГГ)', sources: ['PROBLEM', 'RISK'] },
  { key: 'period', label: 'когда: «с … по …» (дата и время)', sources: ['PLANNED_WORKS'] },
  { key: 'description', label: 'подробности работ (может быть пустым)', sources: ['PLANNED_WORKS'], optional: true },
];
const KEYS = new Set(PLACEHOLDERS.map((p) => p.key));

export interface TemplateDef { code: string; channel: InformingChannelCode; sourceKinds: SourceKindCode[]; title: string; body: string }

export const BUILTIN_TEMPLATES: TemplateDef[] = [
  { code: 'page.planned', channel: 'OFFICIAL_PAGE', sourceKinds: ['PLANNED_WORKS'], title: 'Плановые работы — пост',
    body: 'Уважаемые жители! {{period}} {{organization}} проводит плановые работы: {{title}}.\nАдрес: {{address}} ({{district}}).\n{{description}}\nПриносим извинения за временные неудобства.' },
  { code: 'messenger.planned', channel: 'MESSENGER', sourceKinds: ['PLANNED_WORKS'], title: 'Плановые работы — мессенджер',
    body: 'Плановые работы {{period}}: {{title}}. Адрес: {{address}}. Исполнитель — {{organization}}.' },
  { code: 'callback.planned', channel: 'CALLBACK', sourceKinds: ['PLANNED_WORKS'], title: 'Плановые работы — обзвон',
    body: 'Здравствуйте! Вас беспокоит центр управления ({{municipality}}) по вашему обращению. Сообщаем: {{period}} по адресу {{address}} пройдут работы «{{title}}», исполнитель — {{organization}}.' },
  { code: 'page.problem', channel: 'OFFICIAL_PAGE', sourceKinds: ['PROBLEM'], title: 'Проблема — пост',
    body: 'Уважаемые жители района «{{district}}»! С {{since}} центр управления получил {{appeals}} обращений по теме «{{theme}}»: {{title}}.\nПроблема передана исполнителю — {{organization}}. О ходе работ сообщим дополнительно.' },
  { code: 'messenger.problem', channel: 'MESSENGER', sourceKinds: ['PROBLEM'], title: 'Проблема — мессенджер',
    body: '{{title}} ({{district}}): {{appeals}} обращений по теме «{{theme}}». Исполнитель — {{organization}}, ситуация на контроле центра управления.' },
  { code: 'callback.problem', channel: 'CALLBACK', sourceKinds: ['PROBLEM'], title: 'Проблема — обзвон',
    body: 'Здравствуйте! Вас беспокоит центр управления ({{municipality}}) по вашему обращению о проблеме «{{title}}». Сообщаем, что она передана исполнителю — {{organization}} и находится на контроле.' },
  { code: 'page.risk', channel: 'OFFICIAL_PAGE', sourceKinds: ['RISK'], title: 'Информационный риск — разъяснение',
    body: 'Уважаемые жители! С {{since}} в центр управления поступило {{appeals}} обращений по теме «{{theme}}» ({{district}}). Ситуацию разбирает {{organization}}; разъяснения опубликуем здесь.' },
  { code: 'messenger.risk', channel: 'MESSENGER', sourceKinds: ['RISK'], title: 'Информационный риск — мессенджер',
    body: 'По теме «{{theme}}» ({{district}}) с {{since}} — {{appeals}} обращений. Центр управления знает о ситуации, исполнитель — {{organization}}.' },
  { code: 'callback.risk', channel: 'CALLBACK', sourceKinds: ['RISK'], title: 'Информационный риск — обзвон',
    body: 'Здравствуйте! Вас беспокоит центр управления ({{municipality}}) по вашему обращению по теме «{{theme}}». Ситуация на контроле, исполнитель — {{organization}}.' },
];

/** Control characters (but newline and tab), zero-width and direction-changing characters, lone surrogates. */
const INVISIBLE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const MARKUP = /<\/?[a-zA-Z!][^<>]{0,200}>|&[a-zA-Z]{2,10};|&#x?[0-9a-fA-F]{1,6};/;
export const MAX_VALUE = 300;

/** A value for a placeholder: one line of plain text, at most MAX_VALUE characters (cut with «…»). */
export function cleanValue(v: string): string {
  const s = v.replace(INVISIBLE, '').replace(/\s+/g, ' ').trim();
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}

/** Plain text typed by a person (a template body, an edited message): markup and invisible characters are errors. */
export function checkPlainText(field: string, text: string, max: number): string {
  const t = text.replace(/\r\n?/g, '\n').trim();
  if (!t) throw new InputError(field, 'текст пуст');
  if (t.length > max) throw new InputError(field, `текст длиннее ${max} символов (${t.length})`);
  const inv = t.match(INVISIBLE);
  if (inv) throw new InputError(field, `недопустимый невидимый или управляющий символ U+${inv[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}: только простой текст`);
  const m = MARKUP.exec(t);
  if (m) throw new InputError(field, `только простой текст, без разметки: уберите «${m[0].slice(0, 40)}»`);
  return t;
}

export interface ParsedTemplate { parts: (string | { key: string })[]; keys: string[] }

/** Splits a template into text and placeholders; anything that looks like a placeholder but is not one is an error. */
export function parseTemplate(field: string, body: string): ParsedTemplate {
  const parts: (string | { key: string })[] = [];
  const keys: string[] = [];
  let i = 0;
  for (;;) {
    const open = body.indexOf('{{', i);
    if (open < 0) { parts.push(body.slice(i)); break; }
    const close = body.indexOf('}}', open + 2);
    if (close < 0) throw new InputError(field, `незакрытая подстановка «${body.slice(open, open + 30)}»: ожидается {{имя}}`);
    const inner = body.slice(open + 2, close).trim();
    if (!/^[a-z]{1,30}$/.test(inner)) throw new InputError(field, `непонятная подстановка «{{${inner.slice(0, 30)}}}»: ожидается {{имя}} латинскими буквами`);
    if (!KEYS.has(inner)) throw new InputError(field, `неизвестная подстановка {{${inner}}}; есть: ${[...KEYS].map((k) => `{{${k}}}`).join(', ')}`);
    parts.push(body.slice(i, open), { key: inner });
    keys.push(inner);
    i = close + 2;
  }
  if (parts.some((p) => typeof p === 'string' && p.includes('}}'))) throw new InputError(field, '«}}» без «{{»: подстановка записывается {{имя}}');
  return { parts, keys };
}

/** Checks a template as stored: plain text, known placeholders, each available from every source kind it names. */
export function validateTemplate(t: TemplateDef, field = 'body'): ParsedTemplate {
  checkPlainText(field, t.body, CHANNEL_MAX[t.channel]);
  const parsed = parseTemplate(field, t.body);
  for (const k of parsed.keys) {
    const p = PLACEHOLDERS.find((x) => x.key === k)!;
    const missing = t.sourceKinds.filter((s) => !p.sources.includes(s));
    if (missing.length) throw new InputError(field, `подстановки {{${k}}} нет у источника «${SOURCE_LABELS[missing[0]]}»`);
  }
  return parsed;
}

/**
 * Fills a template: each placeholder replaced once by its cleaned value (values are never scanned for placeholders
 * again, so a value «{{title}}» stays literal text). A placeholder without a value is an error naming it.
 */
export function renderTemplate(t: TemplateDef, values: Record<string, string | null | undefined>, sourceLabel: string): { text: string; used: Record<string, string> } {
  const parsed = parseTemplate('templateCode', t.body);
  const used: Record<string, string> = {};
  let out = '';
  for (const p of parsed.parts) {
    if (typeof p === 'string') { out += p; continue; }
    const raw = values[p.key];
    const v = raw == null ? '' : cleanValue(String(raw));
    if (!v && PLACEHOLDERS.find((x) => x.key === p.key)!.optional) continue;
    if (!v) throw new InputError('source', `у источника «${sourceLabel}» нет значения для {{${p.key}}} (${PLACEHOLDERS.find((x) => x.key === p.key)!.label}): заполните его или выберите другой шаблон`);
    used[p.key] = v;
    out += v;
  }
  const text = out.replace(/[ \t]+\n/g, '\n').replace(/\n{3,}/g, '\n\n').trim();
  const max = CHANNEL_MAX[t.channel];
  if (text.length > max) throw new InputError('templateCode', `сообщение по шаблону «${t.code}» получилось ${text.length} символов, для канала «${CHANNEL_LABELS[t.channel]}» — не больше ${max}`);
  return { text, used };
}
