/**
 * Plain float64 TypeScript references, written from the maths (not from the WGSL), for tests.
 * Layouts match the library's: row-major, NCHW.
 */

export type F64 = Float64Array;

/** out = op(A)·op(B) for row-major A (M×K or K×M when ta) and B (K×N or N×K when tb). */
export function refMatmul(a: F64, b: F64, M: number, N: number, K: number, ta = false, tb = false): F64 {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? a[k * M + i]! : a[i * K + k]!) * (tb ? b[j * K + k]! : b[k * N + j]!);
      out[i * N + j] = s;
    }
  return out;
}

/** Index into a broadcast operand: b is repeated over [outer, bn, inner]. */
export function bIndex(i: number, bn: number, inner: number): number {
  return Math.floor(i / inner) % bn;
}

/** Sums x viewed as [outer, mid, inner] over mid. */
export function refSumMiddle(x: F64, outer: number, mid: number, inner: number): F64 {
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let m = 0; m < mid; m++) for (let t = 0; t < inner; t++) out[o * inner + t]! += x[(o * mid + m) * inner + t]!;
  return out;
}

export function refLogSumExp(row: ArrayLike<number>): number {
  let m = -Infinity;
  for (let k = 0; k < row.length; k++) m = Math.max(m, row[k]!);
  let s = 0;
  for (let k = 0; k < row.length; k++) s += Math.exp(row[k]! - m);
  return m + Math.log(s);
}

export function map(x: F64, f: (v: number, i: number) => number): F64 {
  return Float64Array.from(x, f);
}
