// Meeting mode: full screen (Fullscreen API when the browser allows it, otherwise the whole
// window), large type, the merged heat map under the top problems, stepping through them one by
// one with ← / → (or the on-screen buttons). Each step flies to the problem's hull and shows its
// title, score and main reasons. The state (step, number of problems) is kept in the URL by the host.
import type * as maplibregl from 'maplibre-gl';
import { append, clear, el } from './dom';
import { heatMode, type HeatMode } from './heat';
import { formatNumber, plural } from './labels';
import { PROBLEM_STATUS_COLORS, PROBLEM_STATUS_LABELS, SOURCE_LABELS, factorValue, formatScore, growthText, topReasons, type ProblemNode } from './problemsData';

export interface MeetingHost {
  map: maplibregl.Map;
  title: string;
  /** The top `n` problems of the current filter and order. */
  top(n: number): Promise<ProblemNode[]>;
  colorOf(p: ProblemNode): string;
  /** Draws only the meeting's problems, marks the current one and (optionally) flies to it. */
  show(list: ProblemNode[], current: ProblemNode, o: { fly: boolean }): Promise<void>;
  stateChanged(s: { step: number; n: number } | null): void;
  /** Called once after leaving, with the problem that was on screen. */
  exited(currentId: string | null): void;
  pointsVisible(on: boolean): void;
}

export interface MeetingHandle {
  ready: Promise<void>;
  /** Map padding that keeps the hull clear of the meeting's panels. */
  padding(): maplibregl.PaddingOptions;
  goToId(id: string): void;
  exit(): void;
}

/** The heat overlay is switched through its own panel buttons (web/src/heat.ts owns the mode). */
function useHeatMode(mode: HeatMode): void {
  if (heatMode() === mode) return;
  document.querySelector<HTMLButtonElement>(`#heat-modes button[data-mode="${mode}"]`)?.click();
}

export function startMeeting(host: MeetingHost, opts: { step: number; n: number; fromUrl: boolean; gesture: boolean }): MeetingHandle {
  const m = host.map;
  const wrap = document.getElementById('map-wrap') ?? document.body;
  const previousHeat = heatMode();
  let list: ProblemNode[] = [];
  let step = 1;
  let closed = false;
  let enteredFullscreen = false;
  let showSeq = 0;

  // ------------------------------------------------------------ DOM

  const counter = el('div', { class: 'meeting-counter', id: 'meeting-counter' });
  const steps = el('div', { class: 'meeting-steps', role: 'group', 'aria-label': 'Проблемы совещания' });
  const fullscreen = el('button', { type: 'button', class: 'meeting-btn', id: 'meeting-fullscreen' }, 'Во весь экран');
  const exitButton = el('button', { type: 'button', class: 'meeting-btn', id: 'meeting-exit', title: 'Выйти из режима совещания (Esc)' }, 'Выйти ✕');
  const top = el('div', { class: 'meeting-top' }, el('div', { class: 'meeting-heading' }, host.title), steps, el('div', { class: 'meeting-actions' }, fullscreen, exitButton));
  const body = el('div', { class: 'meeting-body', id: 'meeting-body', 'aria-live': 'polite' });
  const prev = el('button', { type: 'button', class: 'meeting-nav-btn', id: 'meeting-prev' }, '← Назад');
  const next = el('button', { type: 'button', class: 'meeting-nav-btn primary', id: 'meeting-next' }, 'Далее →');
  const card = el('section', { class: 'meeting-card', 'aria-label': 'Проблема на совещании' }, counter, body, el('div', { class: 'meeting-nav' }, prev, next));
  const root = el('div', { id: 'meeting', class: 'meeting' }, top, card);
  wrap.appendChild(root);

  document.body.classList.add('meeting');
  document.body.dataset.meeting = '1';
  delete document.body.dataset.meetingReady;
  host.pointsVisible(false);
  useHeatMode('merged');
  m.resize();

  const canFullscreen = typeof document.documentElement.requestFullscreen === 'function' && document.fullscreenEnabled !== false;
  const requestFullscreen = () => {
    if (!canFullscreen || document.fullscreenElement) return;
    document.documentElement
      .requestFullscreen()
      .then(() => (enteredFullscreen = true))
      .catch(() => undefined); // not allowed here: the full-window layout stays
  };
  const updateFullscreenButton = () => (fullscreen.hidden = !canFullscreen || !!document.fullscreenElement);
  if (opts.gesture) requestFullscreen();
  updateFullscreenButton();
  fullscreen.addEventListener('click', requestFullscreen);
  const onFullscreenChange = () => {
    updateFullscreenButton();
    m.resize();
    // Esc in full screen leaves full screen; leave the meeting with it.
    if (!document.fullscreenElement && enteredFullscreen) exit();
  };
  document.addEventListener('fullscreenchange', onFullscreenChange);

  const onKey = (e: KeyboardEvent) => {
    const t = e.target as HTMLElement | null;
    if (t && /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) return;
    // PageUp / PageDown: what presentation clickers send.
    if (e.key === 'ArrowRight' || e.key === 'PageDown') go(step + 1);
    else if (e.key === 'ArrowLeft' || e.key === 'PageUp') go(step - 1);
    else if (e.key === 'Home') go(1);
    else if (e.key === 'End') go(list.length);
    else if (e.key === 'Escape') exit();
    else return;
    e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  // The arrows step through the problems; they must not also pan the map.
  const mapKeyboard = m.keyboard.isEnabled();
  m.keyboard.disable();
  prev.addEventListener('click', () => go(step - 1));
  next.addEventListener('click', () => go(step + 1));
  exitButton.addEventListener('click', () => exit());

  // ------------------------------------------------------------ steps

  function render(p: ProblemNode): void {
    counter.textContent = `Проблема ${step} из ${list.length}`;
    prev.disabled = step <= 1;
    next.disabled = step >= list.length;
    for (const b of steps.querySelectorAll<HTMLButtonElement>('button')) b.setAttribute('aria-current', String(Number(b.dataset.step) === step));
    clear(body);
    const color = host.colorOf(p);
    const status = el('span', { class: 'chip' }, PROBLEM_STATUS_LABELS[p.status]);
    status.style.setProperty('--c', PROBLEM_STATUS_COLORS[p.status]);
    const g = growthText(p.growth);
    const theme = el('span', { class: 'meeting-theme' }, p.theme?.name ?? 'без темы');
    theme.style.setProperty('--c', color);
    append(
      body,
      el('h2', { class: 'meeting-title', id: 'meeting-title' }, p.title),
      el('div', { class: 'meeting-meta' }, theme, el('span', null, p.district?.name ?? 'район не определён'), status),
      el(
        'div',
        { class: 'meeting-score' },
        el('strong', { id: 'meeting-score' }, formatScore(p.score)),
        el('span', null, ' балла из 100'),
        p.rankCity ? el('span', { class: 'meeting-rank' }, `№ ${p.rankCity} в городе`) : null,
      ),
      el(
        'div',
        { class: 'meeting-facts' },
        p.source === 'APPEALS'
          ? el('span', null, `${formatNumber(p.appealCount)} ${plural(p.appealCount, 'обращение', 'обращения', 'обращений')}, ${formatNumber(p.authorCount)} ${plural(p.authorCount, 'заявитель', 'заявителя', 'заявителей')}`)
          : el('span', null, `источник: ${SOURCE_LABELS[p.source]}`),
        el('span', { class: `meeting-growth ${g.cls}` }, `${g.arrow} ${g.cls === 'flat' ? 'рост: без изменений' : g.text}`),
      ),
    );
    const reasons = topReasons(p, 3);
    const ol = el('ol', { class: 'meeting-reasons', id: 'meeting-reasons' });
    for (const f of reasons) {
      const max = f.weight * 100;
      const fill = el('span', { class: 'meeting-bar-fill' });
      fill.style.width = `${max > 0 ? Math.min(100, (100 * f.points) / max) : 0}%`;
      fill.style.background = color;
      ol.appendChild(el(
        'li',
        null,
        el('span', { class: 'meeting-reason-head' }, el('span', null, f.label), el('strong', null, factorValue(f))),
        el('span', { class: 'meeting-reason-row' }, el('span', { class: 'meeting-bar' }, fill), el('span', { class: 'meeting-points' }, `+${formatScore(f.points)} б.`)),
      ));
    }
    append(body, el('h3', { class: 'meeting-subtitle' }, 'Главные причины'), reasons.length ? ol : el('p', null, 'Факторов с баллами нет.'));
  }

  async function show(fly: boolean): Promise<void> {
    const p = list[step - 1];
    if (!p) return;
    const seq = ++showSeq;
    delete document.body.dataset.meetingReady;
    document.body.dataset.meetingStep = String(step);
    document.body.dataset.meetingProblem = p.id;
    render(p);
    host.stateChanged({ step, n: opts.n });
    await host.show(list, p, { fly });
    // Ready once the flight is over and the map has drawn.
    await new Promise<void>((resolve) => {
      const done = () => m.once('idle', () => resolve());
      if (m.isMoving()) m.once('moveend', done);
      else done();
      m.triggerRepaint();
    });
    if (seq === showSeq && !closed) document.body.dataset.meetingReady = '1';
  }

  function go(to: number): void {
    if (closed || !list.length) return;
    const s = Math.max(1, Math.min(list.length, to));
    if (s === step) return;
    step = s;
    void show(true);
  }

  function exit(): void {
    if (closed) return;
    closed = true;
    const current = list[step - 1]?.id ?? null;
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('fullscreenchange', onFullscreenChange);
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    root.remove();
    document.body.classList.remove('meeting');
    for (const k of ['meeting', 'meetingStep', 'meetingProblem', 'meetingReady']) delete document.body.dataset[k];
    host.pointsVisible(true);
    if (mapKeyboard) m.keyboard.enable();
    useHeatMode(previousHeat);
    m.resize();
    host.stateChanged(null);
    host.exited(current);
  }

  const ready = (async () => {
    try {
      list = await host.top(opts.n);
    } catch (e) {
      clear(body);
      append(body, el('div', { class: 'error' }, `Ошибка: перечень не загружен: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    if (closed) return;
    clear(steps);
    list.forEach((p, i) => {
      const b = el('button', { type: 'button', class: 'meeting-step', 'data-step': i + 1, title: p.title }, String(i + 1));
      b.style.setProperty('--c', host.colorOf(p));
      b.addEventListener('click', () => go(i + 1));
      steps.appendChild(b);
    });
    if (!list.length) {
      counter.textContent = 'Проблем для показа нет';
      clear(body);
      append(body, el('p', null, 'По текущим условиям отбора проблем нет. Выйдите из режима совещания и измените отбор.'));
      prev.disabled = next.disabled = true;
      document.body.dataset.meetingReady = '1';
      return;
    }
    step = Math.max(1, Math.min(list.length, opts.step));
    // A restored link keeps its exact view; otherwise fly to the problem.
    await show(!opts.fromUrl);
  })();

  return {
    ready,
    padding: () => {
      const w = card.getBoundingClientRect().width;
      const h = top.getBoundingClientRect().height;
      return { top: h + 40, bottom: 50, left: (w || 0) + 50, right: 60 };
    },
    goToId: (id: string) => {
      const i = list.findIndex((p) => p.id === id);
      if (i >= 0) go(i + 1);
    },
    exit,
  };
}
