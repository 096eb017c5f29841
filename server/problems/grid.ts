/**
 * The grid of the density clustering: cells of radius / 2, and the 13 offsets whose cell centres lie within
 * the radius (2 cells). One definition for the SQL of the full recompute and the placement of the incremental one.
 */
export const OFF: readonly (readonly [number, number])[] = [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [1, -1], [-1, 1], [-1, -1], [2, 0], [-2, 0], [0, 2], [0, -2]];

/** The offsets as an SQL VALUES list (dx, dy). */
export const OFFSETS = `VALUES ${OFF.map(([dx, dy]) => `(${dx}, ${dy})`).join(', ')}`;

/** Offsets within two radii (sums of two offsets), flagged when within one radius. */
export const REACH2: readonly [number, number, boolean][] = (() => {
  const out = new Map<string, [number, number, boolean]>();
  for (const [ax, ay] of OFF) for (const [bx, by] of OFF) {
    const k = `${ax + bx}:${ay + by}`;
    if (!out.has(k)) out.set(k, [ax + bx, ay + by, OFF.some(([x, y]) => x === ax + bx && y === ay + by)]);
  }
  return [...out.values()];
})();
