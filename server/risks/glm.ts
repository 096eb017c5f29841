/**
 * Poisson / quasi-Poisson regression with log link by iteratively reweighted least squares, as R's glm.fit:
 * start at mu = y + 0.1, convergence when |dev − dev_old| / (|dev| + 0.1) < 1e-8, at most 25 iterations,
 * least squares by Householder QR of sqrt(W)·X (aliased columns dropped, as R reports them NA).
 * Returns what summary.glm, predict.glm(se.fit) and hatvalues() need.
 */

export interface GlmFit {
  converged: boolean;
  /** Coefficients (NaN for aliased columns). */
  beta: number[];
  /** Fitted means. */
  mu: number[];
  /** Unscaled covariance (X'WX)^-1 over the kept columns (others 0). */
  covUnscaled: number[][];
  /** Pearson dispersion sum(w·(y−mu)²/mu)/(n − rank), as summary.glm for quasi families. */
  dispersion: number;
  dfResidual: number;
  /** Leverages (diagonal of the hat matrix). */
  hat: number[];
  rank: number;
}

function devianceOf(y: number[], mu: number[], w: number[]): number {
  let d = 0;
  for (let i = 0; i < y.length; i++) d += 2 * w[i] * ((y[i] > 0 ? y[i] * Math.log(y[i] / mu[i]) : 0) - (y[i] - mu[i]));
  return d;
}

interface Qr { q: number[][]; r: number[][]; kept: number[] }

/** Householder QR of A (n×p) keeping columns whose remaining norm is above tol × their original norm. */
function qr(a: number[][], p: number): Qr {
  const n = a.length;
  const cols: number[][] = [];
  for (let j = 0; j < p; j++) cols.push(a.map((row) => row[j]));
  const kept: number[] = [];
  const vs: number[][] = [];
  const work = cols.map((c) => c.slice());
  const rCols: number[][] = [];
  for (let j = 0; j < p; j++) {
    const col = work[j];
    const k = kept.length;
    const orig = Math.hypot(...cols[j]);
    let norm = 0;
    for (let i = k; i < n; i++) norm += col[i] * col[i];
    norm = Math.sqrt(norm);
    if (orig === 0 || norm <= 1e-11 * orig || k >= n) continue;
    const alpha = col[k] > 0 ? -norm : norm;
    const v = new Array<number>(n).fill(0);
    for (let i = k; i < n; i++) v[i] = col[i];
    v[k] -= alpha;
    let vn = 0;
    for (let i = k; i < n; i++) vn += v[i] * v[i];
    vs.push(v);
    kept.push(j);
    // apply to this and all later columns
    for (let jj = j; jj < p; jj++) {
      const c = work[jj];
      let dot = 0;
      for (let i = k; i < n; i++) dot += v[i] * c[i];
      const f = (2 * dot) / vn;
      for (let i = k; i < n; i++) c[i] -= f * v[i];
    }
    rCols.push(col.slice(0, kept.length));
  }
  const rank = kept.length;
  // R (rank×rank): column m of R holds the first rank entries of the m-th kept column after the reflections
  const r: number[][] = Array.from({ length: rank }, () => new Array<number>(rank).fill(0));
  for (let m = 0; m < rank; m++) {
    const c = work[kept[m]];
    for (let i = 0; i <= m; i++) r[i][m] = c[i];
  }
  // thin Q (n×rank): apply the reflections to the first rank unit vectors, last reflection first
  const q: number[][] = Array.from({ length: n }, () => new Array<number>(rank).fill(0));
  for (let m = 0; m < rank; m++) {
    const e = new Array<number>(n).fill(0);
    e[m] = 1;
    for (let h = vs.length - 1; h >= 0; h--) {
      const v = vs[h];
      let dot = 0, vn = 0;
      for (let i = 0; i < n; i++) { dot += v[i] * e[i]; vn += v[i] * v[i]; }
      const f = (2 * dot) / vn;
      for (let i = 0; i < n; i++) e[i] -= f * v[i];
    }
    for (let i = 0; i < n; i++) q[i][m] = e[i];
  }
  void rCols;
  return { q, r, kept };
}

/** Solves R x = b (upper triangular). */
function backSolve(r: number[][], b: number[]): number[] {
  const n = b.length;
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let j = i + 1; j < n; j++) s -= r[i][j] * x[j];
    x[i] = s / r[i][i];
  }
  return x;
}

/** (R'R)^-1 */
function invRtR(r: number[][]): number[][] {
  const n = r.length;
  // R^-1 column by column
  const rinv: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    const e = new Array<number>(n).fill(0);
    e[j] = 1;
    const col = backSolve(r, e);
    for (let i = 0; i < n; i++) rinv[i][j] = col[i];
  }
  const out: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += rinv[i][k] * rinv[j][k];
    out[i][j] = s;
  }
  return out;
}

export function glmPoisson(x: number[][], y: number[], prior?: number[]): GlmFit {
  const n = y.length;
  const p = x[0]?.length ?? 0;
  const w0 = prior ?? new Array<number>(n).fill(1);
  let mu = y.map((v) => v + 0.1);
  let eta = mu.map(Math.log);
  let devOld = devianceOf(y, mu, w0);
  let converged = false;
  let fit: Qr | undefined;
  let ww: number[] = [];
  let beta: number[] = new Array<number>(p).fill(NaN);
  for (let iter = 1; iter <= 25; iter++) {
    ww = mu.map((m, i) => w0[i] * m); // working weights (mu.eta² / variance = mu)
    const sw = ww.map(Math.sqrt);
    const z = eta.map((e, i) => (e + (y[i] - mu[i]) / mu[i]) * sw[i]);
    const a = x.map((row, i) => row.map((v) => v * sw[i]));
    fit = qr(a, p);
    const rank = fit.kept.length;
    const qtz = new Array<number>(rank).fill(0);
    for (let m = 0; m < rank; m++) for (let i = 0; i < n; i++) qtz[m] += fit.q[i][m] * z[i];
    const coef = backSolve(fit.r, qtz);
    beta = new Array<number>(p).fill(NaN);
    fit.kept.forEach((j, m) => { beta[j] = coef[m]; });
    eta = x.map((row) => fit!.kept.reduce((s, j, m) => s + row[j] * coef[m], 0));
    mu = eta.map(Math.exp);
    const dev = devianceOf(y, mu, w0);
    if (Math.abs(dev - devOld) / (Math.abs(dev) + 0.1) < 1e-8) { converged = true; break; }
    devOld = dev;
  }
  const f = fit!;
  const rank = f.kept.length;
  const dfResidual = w0.filter((v) => v > 0).length - rank;
  let pearson = 0;
  for (let i = 0; i < n; i++) if (ww[i] > 0) pearson += ww[i] * ((y[i] - mu[i]) / mu[i]) ** 2;
  const dispersion = dfResidual > 0 ? pearson / dfResidual : NaN;
  const inv = invRtR(f.r);
  const covUnscaled: number[][] = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  f.kept.forEach((j, a) => f.kept.forEach((k, b) => { covUnscaled[j][k] = inv[a][b]; }));
  const hat = f.q.map((row) => row.reduce((s, v) => s + v * v, 0));
  return { converged, beta, mu, covUnscaled, dispersion, dfResidual, hat, rank };
}

/** x0'β and sqrt(x0' (X'WX)^-1 x0) for a new row (aliased coefficients count as 0, as predict.glm). */
export function predictLink(fit: GlmFit, x0: number[]): { eta: number; seUnscaled: number } {
  let eta = 0;
  for (let j = 0; j < x0.length; j++) if (!Number.isNaN(fit.beta[j])) eta += x0[j] * fit.beta[j];
  let v = 0;
  for (let i = 0; i < x0.length; i++) for (let j = 0; j < x0.length; j++) v += x0[i] * fit.covUnscaled[i][j] * x0[j];
  return { eta, seUnscaled: Math.sqrt(Math.max(0, v)) };
}
