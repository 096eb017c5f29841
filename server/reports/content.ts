import { countChange, dateLong, dateShort, num, pct, periodLabel, plural, quote, shareChange, signed, NBSP } from './format.js';
import { overviewMap, problemMap, riskChart, seriesChart, themesChart } from './charts.js';
import { LIMITS, type Figures, type ReportData } from './data.js';

/**
 * The report as a list of neutral blocks (headings, paragraphs, tables, images) built once from ReportData and laid
 * out by both renderers (pdf.ts, docx.ts), so the DOCX and the PDF say exactly the same.
 */

export type Align = 'l' | 'r' | 'c';
export type Block =
  | { t: 'title'; lines: string[] }
  | { t: 'h1' | 'h2'; text: string }
  | { t: 'p'; text: string; muted?: boolean; bold?: boolean }
  | { t: 'list'; items: string[] }
  | { t: 'table'; widths: number[]; header: string[]; rows: string[][]; align?: Align[] }
  | { t: 'image'; svg: string; width: number; caption?: string }
  | { t: 'pagebreak' };

export interface ReportDocument {
  title: string;
  subtitle: string;
  blocks: Block[];
}

/** Shares below this many cases are not reported (the same rule as the centre's indicators). */
export const MIN_CASES = 5;

const SCOPE_TITLE: Record<string, (n: string) => string> = {
  CITY: (n) => n,
  DISTRICT: (n) => `район ${quote(n)}`,
  BLOCK: (n) => `тематический блок ${quote(n)}`,
  ORGANIZATION: (n) => `организация ${quote(n)}`,
};

const PROBLEM_STATUS: Record<string, string> = { DETECTED: 'выявлена', CONFIRMED: 'подтверждена', IN_PROGRESS: 'в работе', PLANNED: 'в плане работ', RESOLVED: 'решена', REJECTED: 'отклонена' };
const RISK_STATUS: Record<string, string> = { NEW: 'новый', ACKNOWLEDGED: 'принят в работу', RESOLVED: 'отработан', FALSE_ALARM: 'ложная тревога' };
const RISK_KIND: Record<string, string> = { COUNT: 'рост числа обращений', AUTHORS: 'много разных авторов', CROSS_CHANNEL: 'одно место в нескольких каналах',
  ESCALATION: 'упоминания эскалации', PUBLIC_OVERDUE: 'просрочка в публичных каналах' };

function share(n: number, d: number): number | null {
  return d >= MIN_CASES ? n / d : null;
}

function shareCell(n: number, d: number): string {
  const s = share(n, d);
  return s == null ? (d === 0 ? '—' : `мало данных (${num(d)})`) : `${pct(s)} (${num(n)} из ${num(d)})`;
}

export function scopeTitle(kind: string, name: string): string {
  return (SCOPE_TITLE[kind] ?? SCOPE_TITLE.CITY)(name);
}

function figureRows(d: ReportData): string[][] {
  const c = d.cur, p = d.prev;
  const perK = (f: Figures) => (d.population ? (1000 * f.appeals) / d.population : null);
  const rows: string[][] = [
    ['Поступило обращений', num(c.appeals), num(p.appeals), countChange(c.appeals, p.appeals)],
    [`На 1${NBSP}000 ${d.populationNote}`, perK(c) == null ? 'нет данных о населении' : num(perK(c)!, 2), perK(p) == null ? '—' : num(perK(p)!, 2),
      perK(c) == null || perK(p) == null ? '—' : signed(perK(c)! - perK(p)!, 2)],
    ['Ответы в срок (из ответов и просрочек с рассчитанным сроком)', shareCell(c.onTime, c.dueJudged), shareCell(p.onTime, p.dueJudged), shareChange(share(c.onTime, c.dueJudged), share(p.onTime, p.dueJudged))],
    ['Просрочено (ответ позже срока или срок истёк без ответа)', shareCell(c.overdue, c.dueJudged), shareCell(p.overdue, p.dueJudged), shareChange(share(c.overdue, c.dueJudged), share(p.overdue, p.dueJudged))],
    ['Формальные ответы (отписки) среди оценённых ответов', shareCell(c.formal, c.judged), shareCell(p.formal, p.judged), shareChange(share(c.formal, c.judged), share(p.formal, p.judged))],
    ['Оценки 4–5 среди оценок граждан', shareCell(c.satisfied, c.rated), shareCell(p.satisfied, p.rated), shareChange(share(c.satisfied, c.rated), share(p.satisfied, p.rated))],
    ['Из социальных сетей и мессенджеров', shareCell(c.social, c.appeals), shareCell(p.social, p.appeals), shareChange(share(c.social, c.appeals), share(p.social, p.appeals))],
  ];
  return rows;
}

function summary(d: ReportData): string {
  const c = d.cur;
  const parts = [`За ${d.days} ${plural(d.days, 'день', 'дня', 'дней')} поступило ${num(c.appeals)} ${plural(c.appeals, 'обращение', 'обращения', 'обращений')}`];
  if (d.prev.appeals > 0) {
    const ch = (100 * (c.appeals - d.prev.appeals)) / d.prev.appeals;
    parts[0] += Math.abs(ch) < 0.05 ? ', столько же, сколько в прошлом периоде' : `, на ${num(Math.abs(ch), 1)}${NBSP}% ${ch > 0 ? 'больше' : 'меньше'}, чем в прошлом периоде (${num(d.prev.appeals)})`;
  }
  const s = share(c.onTime, c.dueJudged);
  if (s != null) parts.push(`в срок дан ответ на ${pct(s)} обращений со сроком`);
  if (c.overdue) parts.push(`просрочено ${num(c.overdue)}`);
  return parts.join('; ') + '.';
}

export function buildDocument(d: ReportData): ReportDocument {
  const b: Block[] = [];
  const scope = scopeTitle(d.params.scopeKind, d.scopeName);
  const period = periodLabel(d.params.from, d.params.to);
  const title = 'Аналитическая справка о работе с обращениями граждан';
  b.push({ t: 'title', lines: [title, `${d.params.scopeKind === 'CITY' ? '' : `${d.municipality.name}: `}${scope}`, period] });
  b.push({ t: 'p', muted: true, text: `Подготовлено муниципальным центром управления ${dateLong(d.generatedAt.toISOString())} по данным системы «МЦУ Hub». `
    + `Прошлый период для сравнения — ${periodLabel(d.prevFrom, d.prevTo)} (столько же дней непосредственно перед отчётным).` });

  const empty = d.cur.appeals === 0 && d.prev.appeals === 0;
  b.push({ t: 'h1', text: '1. Основные показатели' });
  if (d.cur.appeals === 0) {
    b.push({ t: 'p', bold: true, text: `За период в охвате справки (${scope}) обращений не поступало.` + (d.prev.appeals ? ` В прошлом периоде их было ${num(d.prev.appeals)}.` : '') });
  } else {
    b.push({ t: 'p', text: summary(d) });
  }
  b.push({ t: 'table', widths: [40, 20, 20, 20], header: ['Показатель', 'За период', 'Прошлый период', 'Изменение'], rows: figureRows(d), align: ['l', 'r', 'r', 'r'] });
  b.push({ t: 'p', muted: true, text: `Доли по менее чем ${MIN_CASES} случаям не приводятся («мало данных»). Изменение долей — в процентных пунктах (п.${NBSP}п.).` });
  if (!empty) {
    b.push({ t: 'image', svg: (seriesChart(d)), width: 1, caption: `Рисунок 1. Обращения ${d.seriesUnit === 'WEEK' ? 'по неделям' : 'по дням'}: период и прошлый период` });
    if (d.themes.length) b.push({ t: 'image', svg: (themesChart(d)), width: 1, caption: 'Рисунок 2. Основные темы обращений' });
  }

  b.push({ t: 'h1', text: '2. Обращения по районам' });
  if (!d.districts.length) {
    b.push({ t: 'p', text: 'Границы районов не загружены: карта не строится.' });
  } else {
    if (!empty) b.push({ t: 'image', svg: (overviewMap(d)), width: 1, caption: 'Рисунок 3. Обращения за период по районам; красные номера — проблемы из раздела 3' });
    const perK = (n: number, pop: number | null) => (pop ? num((1000 * n) / pop, 2) : '—');
    const rows = [...d.districts].sort((x, y) => y.cur - x.cur || x.name.localeCompare(y.name, 'ru'))
      .map((x) => [x.name, num(x.cur), perK(x.cur, x.population), num(x.prev), countChange(x.cur, x.prev)]);
    b.push({ t: 'table', widths: [30, 14, 18, 14, 24], header: ['Район', 'Обращений', `На 1${NBSP}000 жителей`, 'Прошлый период', 'Изменение'], rows, align: ['l', 'r', 'r', 'r', 'r'] });
    const unplaced = d.cur.appeals - d.districts.reduce((s, x) => s + x.cur, 0);
    if (unplaced > 0) b.push({ t: 'p', muted: true, text: `Без района (место не установлено или вне границ): ${num(unplaced)}.` });
  }

  b.push({ t: 'h1', text: '3. Перечень проблем территории' });
  if (!d.problems.length) {
    b.push({ t: 'p', text: 'Проблем перечня, по которым поступали обращения в этот период, нет.' });
  } else {
    b.push({ t: 'p', text: `Проблемы с наибольшим баллом (до ${LIMITS.problems}), по которым поступали обращения в этот период. Балл 0–100 учитывает число обращений и авторов, рост, повторность и просрочки (методика — в приложении).` });
    b.push({ t: 'table', widths: [5, 45, 16, 13, 8, 13], header: ['№', 'Проблема', 'Район', 'Обращений: за период / всего', 'Балл', 'Статус'],
      rows: d.problems.map((p, i) => [String(i + 1), p.title, p.district ?? '—', `${num(p.inPeriod)} / ${num(p.appeals)}`, num(p.score, 1), PROBLEM_STATUS[p.status] ?? p.status]),
      align: ['c', 'l', 'l', 'r', 'r', 'l'] });
    d.problems.slice(0, LIMITS.problemMaps).forEach((p, i) => {
      b.push({ t: 'image', svg: (problemMap(d, p)), width: 0.78, caption: `Проблема ${i + 1}. ${p.title}: контур и ${num(p.points.length)} ${plural(p.points.length, 'обращение', 'обращения', 'обращений')} на карте` });
    });
  }

  b.push({ t: 'h1', text: '4. Информационные риски' });
  if (!d.risks.length) {
    b.push({ t: 'p', text: 'Сигналов информационных рисков за период не было.' });
  } else {
    if (d.risksTotal > d.risks.length) b.push({ t: 'p', muted: true, text: `Показаны ${d.risks.length} из ${d.risksTotal} сигналов (по наибольшему превышению ожидаемого).` });
    d.risks.forEach((r, i) => {
      b.push({ t: 'h2', text: `4.${i + 1}. ${r.title}` });
      const exp = r.expected == null ? '' : `, ожидалось ${num(r.expected, 1)}${r.upperbound == null ? '' : ` (верхняя граница ${num(r.upperbound, 1)})`}`;
      b.push({ t: 'p', text: `${RISK_KIND[r.kind] ?? r.kind}: наблюдалось ${num(r.observed)}${exp}; с ${dateShort(r.startedOn)} по ${dateShort(r.lastOn)}; обращений в сигнале — ${num(r.appeals)}. `
        + `Метод: ${r.method}${r.methodNote ? ` (${r.methodNote})` : ''}. Состояние: ${RISK_STATUS[r.status] ?? r.status}.` });
      if (i < LIMITS.riskCharts && r.series.length > 1) b.push({ t: 'image', svg: (riskChart(r)), width: 0.85, caption: 'Ряд: столбцы — число обращений (красные — превышение), линия — верхняя граница ожидаемого' });
    });
  }

  b.push({ t: 'h1', text: '5. Рейтинг органов и организаций' });
  if (!d.rating.rows.length) {
    b.push({ t: 'p', text: 'За период нет обращений, по которым рассчитывается рейтинг.' });
  } else {
    if (d.rating.note) b.push({ t: 'p', muted: true, text: d.rating.note });
    b.push({ t: 'table', widths: [8, 32, 8, 11, 12, 9, 10, 10], header: ['Место', 'Организация', 'Балл', 'Место: изменение', 'Обращений', 'В срок', 'Отписки', 'Оценки 4–5'],
      rows: d.rating.rows.map((x) => [x.rank == null ? '—' : String(x.rank), x.name, x.score == null || !x.ranked ? '—' : num(x.score, 1),
        x.rankChange == null ? '—' : x.rankChange === 0 ? '0' : signed(x.rankChange), num(x.received), pct(x.onTime, 0), pct(x.formal, 0), pct(x.satisfied, 0)]),
      align: ['c', 'l', 'r', 'r', 'r', 'r', 'r', 'r'] });
    b.push({ t: 'p', muted: true, text: `Место и балл — при не менее чем ${num(d.rating.minAppeals)} обращениях за период (иначе «—»).`
      + (d.rating.total > d.rating.rows.length ? ` Показаны первые ${d.rating.rows.length} из ${d.rating.total}.` : '') });
  }

  b.push({ t: 'h1', text: '6. Принятые рекомендации' });
  if (!d.recommendations.length) {
    b.push({ t: 'p', text: 'Рекомендаций, принятых координатором для этого периода и охвата, нет.' });
  } else {
    b.push({ t: 'list', items: d.recommendations.map((r) => `${r.text}${r.decidedBy ? ` (принял ${r.decidedBy}${r.decidedAt ? `, ${dateShort(r.decidedAt)}` : ''})` : ''}`) });
  }

  b.push({ t: 'pagebreak' });
  b.push({ t: 'h1', text: 'Приложение. Методика' });
  b.push({ t: 'list', items: [
    `Период — календарные дни ${dateShort(d.params.from)}–${dateShort(d.params.to)} по местному времени (${d.municipality.timezone}); прошлый период — столько же дней непосредственно перед ним. Обращение относится к периоду по дате поступления.`,
    'Охват: город — все обращения; район — обращения с местом в границах района; тематический блок — обращения тем блока; организация — обращения, направленные организации и подведомственным ей.',
    'Ответ в срок — ответ дан не позже срока (с учётом продлений, срок рассчитывается в рабочем времени по правилам сроков). Просрочка — ответ дан позже срока или срок истёк, а ответа нет (на момент формирования справки). Доли — от обращений, у которых рассчитан срок и исход известен.',
    'Формальный ответ (отписка) — ответ, признанный формальным моделью качества ответов или сотрудником; доля — среди оценённых ответов.',
    'Удовлетворённость — доля оценок 4 и 5 среди оценок граждан (ПОС, обзвон). Федеральная цель — не ниже 60 %.',
    `Обращения на 1${NBSP}000 жителей — число обращений за период, делённое на численность населения (города или района) и умноженное на 1${NBSP}000.`,
    'Перечень проблем территории — кластеры обращений одной темы рядом друг с другом (DBSCAN в метрической проекции) с баллом 0–100; на картах — контур проблемы и её обращения.',
    'Информационные риски — сигналы роста обращений против ожидаемого (Фаррингтон — Нуфайли при истории не менее двух лет, иначе EARS C1–C3) и сигналы резонанса; у каждого указан метод.',
    'Рейтинг органов — взвешенный балл по доле ответов в срок, времени ответа, просрочкам, отпискам, удовлетворённости и повторным обращениям; подробно — в описании рейтинга.',
    'Рекомендации формируются правилами из цифр системы и попадают в справку только после принятия координатором.',
    'Числа — по правилам русской типографики: разряды разделяются неразрывным пробелом, дробная часть — запятой.',
  ] });
  b.push({ t: 'p', muted: true, text: `Справка сформирована автоматически; её можно пересоздать по тем же параметрам (цифры будут пересчитаны по данным на момент пересоздания).` });
  return { title, subtitle: `${scope}, ${period}`, blocks: b };
}
