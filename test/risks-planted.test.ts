import { describe, expect, it } from 'vitest';
import { demoDailySeries, evaluateDaily, evaluateWeekly } from '../server/risks/evaluate.js';

/**
 * Planted spikes of known size, place (district × theme) and day in ordinary demo history: detection rate,
 * delay, and false alarms per month with nothing planted (the benchmark runs the same at larger sizes).
 */
describe('planted spikes in demo history', () => {
  it('EARS C2 by day (2 years of demo, 30 000 appeals)', () => {
    const data = demoDailySeries(30_000, 42, 2);
    const r = evaluateDaily(data, { trials: 60, sizes: [3, 6, 12], evalDays: 180 });
    console.log('daily', JSON.stringify(r));
    const bySize = Object.fromEntries(r.bySize.map((x) => [x.size, x]));
    expect(bySize[12].rate).toBeGreaterThanOrEqual(0.95);
    expect(bySize[6].rate).toBeGreaterThanOrEqual(0.7);
    expect(bySize[12].maxDelay).toBe(0);            // a one-day spike is seen on its day or not at all
    expect(r.falseAlarmsPerSeriesMonth).toBeLessThan(0.05);
    expect(bySize[3].rate).toBeLessThan(bySize[12].rate);
    // σ at least √(expected) (the default): fewer false alarms than the 7-day sample σ alone, same detection of +6 and +12
    const plain = evaluateDaily(data, { trials: 60, sizes: [3, 6, 12], evalDays: 180, settings: { earsPoissonSigma: false } });
    console.log('daily, sample σ only', JSON.stringify(plain));
    expect(r.falseAlarmsPerSeriesMonth).toBeLessThan(plain.falseAlarmsPerSeriesMonth);
    for (const size of [6, 12]) expect(bySize[size].rate).toBe(plain.bySize.find((x) => x.size === size)!.rate);
  });

  it('Farrington–Noufaily by week (3 years of demo, 45 000 appeals)', () => {
    const data = demoDailySeries(45_000, 43, 3);
    const r = evaluateWeekly(data, { trials: 20, sizes: [5, 15, 30], evalWeeks: 12, minMean: 1 });
    console.log('weekly', JSON.stringify(r));
    const bySize = Object.fromEntries(r.bySize.map((x) => [x.size, x]));
    expect(r.series).toBeGreaterThan(10);
    expect(bySize[30].rate).toBeGreaterThanOrEqual(0.9);
    expect(bySize[5].rate).toBeLessThan(bySize[30].rate);
    expect(r.falseAlarmsPerSeriesMonth).toBeLessThan(0.2);
  });
});
