import fs from 'node:fs';
import { Resvg, renderAsync } from '@resvg/resvg-js';
import { geoMercator, geoPath, type GeoPermissibleObjects } from 'd3-geo';
import { clean, dateShort, num, xml } from './format.js';
import { problemFrame, type ReportData } from './data.js';

/**
 * Charts and maps of a report as SVG built by hand (maps projected with d3-geo's Mercator fitted to the features),
 * rasterised to PNG by resvg with the DejaVu fonts of the machine — no browser. Every label passes through xml().
 */

export const FONT_DIR = process.env.REPORT_FONT_DIR || '/usr/share/fonts/truetype/dejavu';
export const FONT_FILES = { regular: `${FONT_DIR}/DejaVuSans.ttf`, bold: `${FONT_DIR}/DejaVuSans-Bold.ttf` };

export function fontsAvailable(): string | null {
  for (const f of Object.values(FONT_FILES)) if (!fs.existsSync(f)) return f;
  return null;
}

const W = 1000;
const FONT = `font-family="DejaVu Sans"`;
const BLUE = '#2b6cb0';
const GREY = '#a0aec0';
const RED = '#c53030';
const INK = '#1a202c';
const MUTED = '#4a5568';

export interface Png { png: Buffer; width: number; height: number }

export function rasterise(svg: string, scale = 1.6): Png {
  const r = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: [FONT_FILES.regular, FONT_FILES.bold], defaultFontFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: scale },
    background: '#ffffff',
  });
  const img = r.render();
  return { png: img.asPng(), width: img.width / scale, height: img.height / scale };
}

/** The same, rendered on libuv's thread pool: several images of a report rasterise in parallel off the event loop. */
export async function rasteriseAsync(svg: string, scale = 1.6): Promise<Png> {
  const img = await renderAsync(svg, {
    font: { loadSystemFonts: false, fontFiles: [FONT_FILES.regular, FONT_FILES.bold], defaultFontFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: scale },
    background: '#ffffff',
  });
  return { png: img.asPng(), width: img.width / scale, height: img.height / scale };
}

function svgDoc(h: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">${body}</svg>`;
}

function text(x: number, y: number, s: string, o: { size?: number; anchor?: string; fill?: string; bold?: boolean } = {}): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} font-size="${o.size ?? 18}" fill="${o.fill ?? INK}"${o.anchor ? ` text-anchor="${o.anchor}"` : ''}${o.bold ? ' font-weight="bold"' : ''}>${xml(s)}</text>`;
}

/** A "nice" axis maximum and step (1, 2, 5 × 10^k). */
function niceAxis(max: number, ticks = 5): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step: Math.max(step, 1) };
}

/** Appeals per day (or week): bars of the period, the previous period as a dashed line. */
export function seriesChart(d: ReportData): string {
  const H = 380, L = 80, R = 20, T = 50, B = 60;
  const s = d.series;
  const max = Math.max(1, ...s.map((x) => Math.max(x.cur, x.prev)));
  const { top, step } = niceAxis(max);
  const cw = (W - L - R) / Math.max(1, s.length);
  const y = (v: number) => T + (H - T - B) * (1 - v / top);
  let out = '';
  for (let v = 0; v <= top + 1e-9; v += step) {
    out += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0" stroke-width="1"/>`;
    out += text(L - 8, y(v) + 6, num(v), { anchor: 'end', size: 16, fill: MUTED });
  }
  s.forEach((x, i) => {
    const bw = Math.max(1, cw * 0.72);
    out += `<rect x="${(L + i * cw + (cw - bw) / 2).toFixed(1)}" y="${y(x.cur).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(0) - y(x.cur)).toFixed(1)}" fill="${BLUE}"/>`;
  });
  const line = s.map((x, i) => `${i ? 'L' : 'M'}${(L + i * cw + cw / 2).toFixed(1)},${y(x.prev).toFixed(1)}`).join('');
  if (s.length) out += `<path d="${line}" fill="none" stroke="${RED}" stroke-width="2.5" stroke-dasharray="7 5"/>`;
  const every = Math.max(1, Math.ceil(s.length / 12));
  s.forEach((x, i) => {
    if (i % every) return;
    out += text(L + i * cw + cw / 2, H - B + 24, d.seriesUnit === 'WEEK' ? dateShort(x.label).slice(0, 5) : String(Number(x.label.slice(8, 10))), { anchor: 'middle', size: 15, fill: MUTED });
  });
  out += `<line x1="${L}" x2="${W - R}" y1="${y(0)}" y2="${y(0)}" stroke="${MUTED}" stroke-width="1.5"/>`;
  // Legend.
  out += `<rect x="${L}" y="14" width="22" height="16" fill="${BLUE}"/>` + text(L + 30, 28, d.seriesUnit === 'WEEK' ? 'обращений за неделю' : 'обращений за день', { size: 17 });
  out += `<line x1="${L + 300}" x2="${L + 340}" y1="22" y2="22" stroke="${RED}" stroke-width="2.5" stroke-dasharray="7 5"/>` + text(L + 348, 28, 'прошлый период (тот же день по счёту)', { size: 17 });
  out += text(W / 2, H - 10, d.seriesUnit === 'WEEK' ? 'неделя (с даты)' : 'день месяца', { anchor: 'middle', size: 15, fill: MUTED });
  return svgDoc(H, out);
}

/** Top themes: bars of the period and thin bars of the previous period. */
export function themesChart(d: ReportData): string {
  const rows = d.themes;
  const L = 380, R = 90, T = 44, RH = 36;
  const H = T + rows.length * RH + 16;
  const max = Math.max(1, ...rows.map((r) => Math.max(r.cur, r.prev)));
  const x = (v: number) => ((W - L - R) * v) / max;
  let out = `<rect x="10" y="12" width="22" height="16" fill="${BLUE}"/>` + text(40, 26, 'за период', { size: 17 });
  out += `<rect x="190" y="16" width="22" height="8" fill="${GREY}"/>` + text(220, 26, 'за прошлый период', { size: 17 });
  rows.forEach((r, i) => {
    const yy = T + i * RH;
    const label = clean(r.name, 36);
    out += text(L - 10, yy + 21, label, { anchor: 'end', size: 17 });
    out += `<rect x="${L}" y="${yy + 4}" width="${Math.max(1, x(r.cur)).toFixed(1)}" height="18" fill="${BLUE}"/>`;
    out += `<rect x="${L}" y="${yy + 24}" width="${Math.max(1, x(r.prev)).toFixed(1)}" height="6" fill="${GREY}"/>`;
    out += text(L + x(r.cur) + 8, yy + 20, num(r.cur), { size: 16, fill: MUTED });
  });
  return svgDoc(H, out);
}

type Geo = { type: string; coordinates: unknown };
const feature = (g: Geo, props: Record<string, unknown> = {}) => ({ type: 'Feature', properties: props, geometry: g }) as unknown as GeoPermissibleObjects;
const collection = (fs: GeoPermissibleObjects[]) => ({ type: 'FeatureCollection', features: fs }) as unknown as GeoPermissibleObjects;

/** Sequential fill for a share 0…1 (light to dark blue). */
function ramp(t: number): string {
  const a = [239, 246, 255], b = [30, 64, 175];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * Math.min(1, Math.max(0, t))));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** The overview map: districts coloured by appeals per 1 000 residents (or by count), top problems numbered. */
export function overviewMap(d: ReportData): string {
  const H = 640, pad = 24, legendH = 60;
  const fc = collection(d.districts.map((x) => feature(x.geometry)));
  const proj = geoMercator().fitExtent([[pad, pad + 10], [W - pad, H - legendH - pad]], fc);
  const path = geoPath(proj);
  const perK = d.districts.every((x) => x.population && x.population > 0);
  const value = (x: ReportData['districts'][number]) => (perK ? (1000 * x.cur) / x.population! : x.cur);
  const max = Math.max(1e-9, ...d.districts.map(value));
  let out = '';
  for (const x of d.districts) {
    const own = d.params.scopeKind === 'DISTRICT' && d.params.scopeId === x.id;
    out += `<path d="${path(feature(x.geometry)) ?? ''}" fill="${ramp(value(x) / max)}" stroke="${own ? RED : '#ffffff'}" stroke-width="${own ? 4 : 2}"/>`;
  }
  const markers = d.problems.map((p) => proj(p.center)).filter((xy): xy is [number, number] => !!xy);
  for (const x of d.districts) {
    const [cx, c0] = path.centroid(feature(x.geometry));
    if (!Number.isFinite(cx)) continue;
    // A label that would sit on a problem's number moves up (or down) out of its way.
    const hit = (y: number) => markers.some(([mx, my]) => Math.abs(mx - cx) < 80 && my > y - 30 && my < y + 30);
    const cy = !hit(c0) ? c0 : !hit(c0 - 34) ? c0 - 34 : !hit(c0 + 34) ? c0 + 34 : c0;
    const dark = value(x) / max > 0.55;
    out += text(cx, cy, clean(x.name, 24), { anchor: 'middle', size: 16, fill: dark ? '#ffffff' : INK, bold: true });
    out += text(cx, cy + 20, perK ? `${num(value(x), 1)} на 1 000` : num(x.cur), { anchor: 'middle', size: 14, fill: dark ? '#ffffff' : MUTED });
  }
  d.problems.forEach((p, i) => {
    const xy = proj(p.center);
    if (!xy) return;
    out += `<circle cx="${xy[0].toFixed(1)}" cy="${xy[1].toFixed(1)}" r="11" fill="${RED}" stroke="#ffffff" stroke-width="2"/>`;
    out += text(xy[0], xy[1] + 5, String(i + 1), { anchor: 'middle', size: 14, fill: '#ffffff', bold: true });
  });
  // Legend.
  const ly = H - legendH + 8;
  for (let i = 0; i < 5; i++) out += `<rect x="${pad + i * 60}" y="${ly}" width="60" height="16" fill="${ramp(i / 4)}" stroke="#cbd5e0"/>`;
  out += text(pad, ly + 38, '0', { size: 15, fill: MUTED });
  out += text(pad + 300, ly + 38, perK ? `${num(max, 1)} на 1 000 жителей` : `${num(max)} обращений`, { anchor: 'end', size: 15, fill: MUTED });
  out += `<circle cx="${pad + 360}" cy="${ly + 8}" r="11" fill="${RED}"/>` + text(pad + 380, ly + 14, 'проблема перечня (номер в таблице)', { size: 16 });
  out += text(W - pad, ly + 38, 'Границы районов приблизительные', { anchor: 'end', size: 14, fill: MUTED });
  return svgDoc(H, out);
}

/** A problem's map: its outline and appeals on the districts' outlines, zoomed to the problem with a margin. */
export function problemMap(d: ReportData, p: ReportData['problems'][number]): string {
  const H = 400, pad = 16;
  const f = problemFrame(p);
  const { cx, cy } = f;
  const frame = { type: 'MultiPoint', coordinates: [[f.minX, f.minY], [f.maxX, f.maxY]] };
  const proj = geoMercator().fitExtent([[pad, pad], [W - pad, H - pad]], feature(frame));
  const path = geoPath(proj);
  let out = `<defs><clipPath id="c"><rect x="0" y="0" width="${W}" height="${H}"/></clipPath></defs><g clip-path="url(#c)">`;
  out += `<rect x="0" y="0" width="${W}" height="${H}" fill="#f7fafc"/>`;
  for (const x of d.districts) out += `<path d="${path(feature(x.geometry)) ?? ''}" fill="#edf2f7" stroke="#a0aec0" stroke-width="2"/>`;
  for (const x of d.districts) {
    const [lx, ly] = path.centroid(feature(x.geometry));
    if (Number.isFinite(lx) && lx > 0 && lx < W && ly > 0 && ly < H) out += text(lx, ly, clean(x.name, 24), { anchor: 'middle', size: 18, fill: '#718096' });
  }
  for (const q of p.context) {
    const xy = proj(q);
    if (xy) out += `<circle cx="${xy[0].toFixed(1)}" cy="${xy[1].toFixed(1)}" r="3" fill="#718096" fill-opacity="0.45"/>`;
  }
  if (p.hull.type === 'Polygon' || p.hull.type === 'MultiPolygon') {
    out += `<path d="${path(feature(p.hull)) ?? ''}" fill="#c53030" fill-opacity="0.18" stroke="${RED}" stroke-width="3"/>`;
  }
  for (const q of p.points) {
    const xy = proj(q);
    if (xy) out += `<circle cx="${xy[0].toFixed(1)}" cy="${xy[1].toFixed(1)}" r="5" fill="${RED}" fill-opacity="0.75" stroke="#ffffff" stroke-width="1"/>`;
  }
  out += '</g>';
  // Scale bar: 500 m.
  const a = proj([cx, cy]), b = proj([cx + 500 / (111_320 * Math.cos((cy * Math.PI) / 180)), cy]);
  if (a && b) {
    const len = b[0] - a[0];
    out += `<rect x="${W - pad - len - 12}" y="${H - 50}" width="${len + 24}" height="40" fill="#ffffff" fill-opacity="0.85"/>`;
    out += `<line x1="${W - pad - len}" x2="${W - pad}" y1="${H - 22}" y2="${H - 22}" stroke="${INK}" stroke-width="3"/>`;
    out += text(W - pad - len / 2, H - 30, '500 м', { anchor: 'middle', size: 15 });
  }
  out += `<rect x="${pad}" y="${H - 50}" width="430" height="40" fill="#ffffff" fill-opacity="0.85"/>`;
  out += `<circle cx="${pad + 16}" cy="${H - 30}" r="6" fill="${RED}"/>` + text(pad + 28, H - 24, 'обращения проблемы', { size: 15 });
  out += `<circle cx="${pad + 215}" cy="${H - 30}" r="4" fill="#718096" fill-opacity="0.6"/>` + text(pad + 226, H - 24, 'другие обращения периода', { size: 15 });
  out += `<rect x="0" y="0" width="${W}" height="${H}" fill="none" stroke="#cbd5e0" stroke-width="2"/>`;
  return svgDoc(H, out);
}

/** A risk card's series: observed counts (alarms red) and the upper bound. */
export function riskChart(r: ReportData['risks'][number]): string {
  const H = 230, L = 60, R = 16, T = 16, B = 40;
  const s = r.series;
  const max = Math.max(1, ...s.map((x) => Math.max(x.observed, x.upperbound ?? 0)));
  const { top, step } = niceAxis(max, 4);
  const cw = (W - L - R) / Math.max(1, s.length);
  const y = (v: number) => T + (H - T - B) * (1 - v / top);
  let out = '';
  for (let v = 0; v <= top + 1e-9; v += step) {
    out += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/>` + text(L - 8, y(v) + 6, num(v), { anchor: 'end', size: 15, fill: MUTED });
  }
  s.forEach((x, i) => {
    const bw = Math.max(1, cw * 0.7);
    out += `<rect x="${(L + i * cw + (cw - bw) / 2).toFixed(1)}" y="${y(x.observed).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(0) - y(x.observed)).toFixed(1)}" fill="${x.alarm ? RED : GREY}"/>`;
  });
  const ub = s.map((x, i) => (x.upperbound == null ? '' : `${L + i * cw + cw / 2},${y(x.upperbound).toFixed(1)}`)).filter(Boolean);
  if (ub.length > 1) out += `<polyline points="${ub.join(' ')}" fill="none" stroke="${BLUE}" stroke-width="2.5"/>`;
  const every = Math.max(1, Math.ceil(s.length / 8));
  s.forEach((x, i) => { if (!(i % every)) out += text(L + i * cw + cw / 2, H - 12, dateShort(x.date).slice(0, 5), { anchor: 'middle', size: 14, fill: MUTED }); });
  return svgDoc(H, out);
}
