/** Indices of the k largest values, largest first (ties: lower index first). */
export function topK(v: ArrayLike<number>, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    let j = out.length;
    if (j === k && v[i] <= v[out[j - 1]]) continue;
    while (j > 0 && v[i] > v[out[j - 1]]) j--;
    out.splice(j, 0, i);
    if (out.length > k) out.pop();
  }
  return out;
}
