// Russian UI labels and colours for enums coming from the API.
import type { AppealStatus, Channel } from './api';

export const STATUS_LABELS: Record<AppealStatus, string> = {
  NEW: 'Новое',
  IN_PROGRESS: 'В работе',
  ANSWERED: 'Дан ответ',
  CLOSED: 'Закрыто',
  REJECTED: 'Отклонено',
};

/** Point colours by status: warm for open appeals, cool/grey for finished ones. */
export const STATUS_COLORS: Record<AppealStatus, string> = {
  NEW: '#e8590c',
  IN_PROGRESS: '#f2b705',
  ANSWERED: '#2f9e44',
  CLOSED: '#1c7ed6',
  REJECTED: '#868e96',
};

export const CHANNEL_LABELS: Record<Channel, string> = {
  INCIDENT_MANAGEMENT: 'Инцидент Менеджмент',
  POS: 'ПОС',
  SOCIAL: 'Соцсети',
  MESSENGER: 'Мессенджеры',
  DIRECT: 'Прямое обращение',
  PUBLIC_DISCUSSION: 'Общественные обсуждения',
  OFFICIAL_PAGE: 'Комментарии на официальных страницах',
  OPEN311: 'Open311 (внешние приложения)',
};

export const STATUSES = Object.keys(STATUS_LABELS) as AppealStatus[];
export const CHANNELS = Object.keys(CHANNEL_LABELS) as Channel[];

export function statusLabel(s: string | null | undefined): string {
  return (s && STATUS_LABELS[s as AppealStatus]) || s || '—';
}

export function channelLabel(c: string | null | undefined): string {
  return (c && CHANNEL_LABELS[c as Channel]) || c || '—';
}

const dateTimeFmt = new Intl.DateTimeFormat('ru-RU', {
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const numberFmt = new Intl.NumberFormat('ru-RU');

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTimeFmt.format(d);
}

export function formatNumber(n: number): string {
  return numberFmt.format(n);
}

/** "1 обращение", "2 обращения", "5 обращений". */
export function plural(n: number, one: string, few: string, many: string): string {
  const m10 = n % 10;
  const m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return one;
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
  return many;
}

export function appealsWord(n: number): string {
  return plural(n, 'обращение', 'обращения', 'обращений');
}

/** How precise an appeal's place is (Appeal.placePrecision). */
export const PLACE_PRECISION_LABELS: Record<string, string> = { HOUSE: 'дом', STREET: 'улица (без дома)', DISTRICT: 'район', NONE: 'место не определено' };
