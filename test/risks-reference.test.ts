import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { farringtonFlexible, type FarringtonOptions } from '../server/risks/farrington.js';
import { earsC, type EarsMethod } from '../server/risks/ears.js';
import { pnbinom, ppois, pt, qnbinom, qnorm, qpois } from '../server/risks/stats.js';

/**
 * Our surveillance methods against R's surveillance package (reference outputs made by
 * test/fixtures/risks/reference.R on the fixed series of test/fixtures/risks/series.json):
 * alarms identical, upper bounds within 1 % (absolute 0.01 for bounds near zero).
 */
const dir = 'test/fixtures/risks';
const series = JSON.parse(fs.readFileSync(`${dir}/series.json`, 'utf8')) as { weekly: Record<string, number[]>; daily: Record<string, number[]> };
interface FRef { config: string; series: string; options: Record<string, unknown>; from: number; upperbound: (number | null)[]; alarm: (boolean | null)[]; expected: (number | null)[] }
interface ERef { method: EarsMethod; minSigma: number; alpha: number; series: string; from: number; upperbound: (number | null)[]; alarm: (boolean | null)[] }
const ref = JSON.parse(fs.readFileSync(`${dir}/reference.json`, 'utf8')) as { farrington: FRef[]; ears: ERef[]; version: string };

let maxRel = 0;
function close(ours: number | null, theirs: number | null): boolean {
  if (theirs == null) return ours == null;
  if (ours == null) return false;
  if (theirs !== 0) maxRel = Math.max(maxRel, Math.abs(ours - theirs) / Math.abs(theirs));
  return Math.abs(ours - theirs) <= Math.max(0.01 * Math.abs(theirs), 0.01);
}

export function compareFarrington(r: FRef) {
  const o = r.options as Record<string, any>;
  const opts: Partial<FarringtonOptions> = {
    b: o.b, w: o.w, noPeriods: o.noPeriods, weightsThreshold: o.weightsThreshold, pastWeeksNotIncluded: o.pastWeeksNotIncluded,
    thresholdMethod: o.thresholdMethod, alpha: o.alpha, trend: o.trend, reweight: o.reweight, limit54: o.limit54, powertrans: o.powertrans,
  };
  const res = farringtonFlexible(series.weekly[r.series], opts);
  const bad: string[] = [];
  res.forEach((p, i) => {
    if (p.index !== r.from + i) bad.push(`index ${p.index}`);
    if (p.alarm !== (r.alarm[i] ?? false)) bad.push(`week ${p.index + 1}: alarm ${p.alarm} vs R ${r.alarm[i]}`);
    if (!close(p.upperbound, r.upperbound[i])) bad.push(`week ${p.index + 1}: bound ${p.upperbound} vs R ${r.upperbound[i]}`);
  });
  if (res.length !== r.upperbound.length) bad.push(`length ${res.length} vs ${r.upperbound.length}`);
  return { bad, n: res.length, alarms: res.filter((p) => p.alarm).length };
}

describe('distribution functions', () => {
  it('match R to high precision', () => {
    expect(qnorm(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(qnorm(0.001)).toBeCloseTo(-3.090232306167813, 12);
    expect(qnorm(1e-10)).toBeCloseTo(-6.361340902404056, 10);
    expect(pt(-2.1, 12)).toBeCloseTo(0.02877247, 7);     // R: pt(-2.1, 12)
    expect(ppois(3, 2.5)).toBeCloseTo(0.7575761, 7);     // R: ppois(3, 2.5)
    expect(pnbinom(5, 3.2, 0.4)).toBeCloseTo(0.6509447, 6); // R: pnbinom(5, 3.2, 0.4)
    expect(qpois(0.95, 12.3)).toBe(18);                  // R: qpois(0.95, 12.3)
    expect(qnbinom(0.95, 10, 0.4)).toBe(26);             // R: qnbinom(0.95, 10, 0.4)
    expect(qnbinom(0.99, 250, 0.5)).toBe(304);           // R: qnbinom(0.99, 250, 0.5)
  });
});

describe(`Farrington flexible against R surveillance ${ref.version}`, () => {
  it.each(ref.farrington.map((r) => [`${r.config} / ${r.series}`, r] as const))('%s', (_name, r) => {
    const { bad, n } = compareFarrington(r);
    expect(n).toBeGreaterThan(0);
    expect(bad).toEqual([]);
  });
  it('the reference has alarms to compare (not only quiet weeks)', () => {
    const alarms = ref.farrington.reduce((s, r) => s + r.alarm.filter(Boolean).length, 0);
    expect(alarms).toBeGreaterThan(10);
  });
});

describe('EARS C1–C3 against R surveillance', () => {
  afterAll(() => console.log(`largest relative difference of an upper bound from R: ${maxRel.toExponential(2)}`));
  it.each(ref.ears.map((r) => [`${r.method} minSigma=${r.minSigma} / ${r.series}`, r] as const))('%s', (_name, r) => {
    const res = earsC(series.daily[r.series], { method: r.method, baseline: 7, minSigma: r.minSigma, alpha: r.alpha });
    expect(res.length).toBe(r.upperbound.length);
    const bad: string[] = [];
    res.forEach((p, i) => {
      if (p.index !== r.from + i) bad.push(`index ${p.index}`);
      if (p.alarm !== (r.alarm[i] ?? false)) bad.push(`day ${p.index + 1}: alarm ${p.alarm} vs R ${r.alarm[i]}`);
      if (!close(p.upperbound, r.upperbound[i])) bad.push(`day ${p.index + 1}: bound ${p.upperbound} vs R ${r.upperbound[i]}`);
    });
    expect(bad).toEqual([]);
  });
});
