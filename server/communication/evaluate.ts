import { ALL_KINDS, analyseAnswer, contradicts, stanceOf, type CommKind, type Stance } from './detector.js';

/**
 * Evaluation of the detector on a hand-written set (test/fixtures/communication-eval.jsonl): precision and recall
 * per kind of error, per stance, and for contradictions within groups of answers to the same problem.
 */
export interface EvalItem { id: string; split?: 'holdout'; text: string; address: string | null; author: string | null; labels: CommKind[]; stance: Stance | null; group?: string; org?: string }
export interface Score { kind: string; tp: number; fp: number; fn: number; precision: number | null; recall: number | null }
export interface EvalReport { items: number; kinds: Score[]; stances: Score[]; contradiction: Score; errors: { id: string; kind: string; expected: boolean; got: boolean }[] }

const score = (kind: string, tp: number, fp: number, fn: number): Score => ({
  kind, tp, fp, fn, precision: tp + fp ? tp / (tp + fp) : null, recall: tp + fn ? tp / (tp + fn) : null,
});

export function evaluate(items: EvalItem[]): EvalReport {
  const errors: EvalReport['errors'] = [];
  const textKinds = ALL_KINDS.filter((k) => k !== 'CONTRADICTION');
  const counts = new Map<string, [number, number, number]>();
  const bump = (k: string, i: 0 | 1 | 2) => { const c = counts.get(k) ?? [0, 0, 0]; c[i]++; counts.set(k, c); };
  const stances = new Map<string, Stance | null>();
  for (const it of items) {
    const got = new Set(analyseAnswer(it.text, { address: it.address, author: it.author }).map((h) => h.kind));
    for (const k of textKinds) {
      const exp = it.labels.includes(k), has = got.has(k);
      if (exp && has) bump(k, 0); else if (has) bump(k, 1); else if (exp) bump(k, 2);
      if (exp !== has) errors.push({ id: it.id, kind: k, expected: exp, got: has });
    }
    const st = stanceOf(it.text)?.stance ?? null;
    stances.set(it.id, st);
    for (const s of ['DONE', 'PLANNED', 'NOT_PLANNED', 'NOT_COMPETENT'] as Stance[]) {
      const exp = it.stance === s, has = st === s;
      if (exp && has) bump(`stance:${s}`, 0); else if (has) bump(`stance:${s}`, 1); else if (exp) bump(`stance:${s}`, 2);
    }
  }
  // Contradictions: pairs of answers of one group from different organisations.
  let tp = 0, fp = 0, fn = 0;
  const groups = new Map<string, EvalItem[]>();
  for (const it of items) if (it.group) groups.set(it.group, [...(groups.get(it.group) ?? []), it]);
  for (const [g, list] of groups) {
    for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) {
      if (list[i].org === list[j].org) continue;
      const exp = contradicts(list[i].stance, list[j].stance), has = contradicts(stances.get(list[i].id), stances.get(list[j].id));
      if (exp && has) tp++; else if (has) fp++; else if (exp) fn++;
      if (exp !== has) errors.push({ id: `${g}:${list[i].id}+${list[j].id}`, kind: 'CONTRADICTION', expected: exp, got: has });
    }
  }
  const get = (k: string) => counts.get(k) ?? [0, 0, 0];
  return {
    items: items.length,
    kinds: textKinds.map((k) => score(k, ...get(k))),
    stances: ['DONE', 'PLANNED', 'NOT_PLANNED', 'NOT_COMPETENT'].map((s) => score(s, ...get(`stance:${s}`))),
    contradiction: score('CONTRADICTION', tp, fp, fn),
    errors,
  };
}
