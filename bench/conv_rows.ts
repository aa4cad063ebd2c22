/** The bench's conv rows (shapes and window sizes) and their random inputs, shared by bench/main.ts and the other bench scripts. */

export interface ConvShape {
  N: number;
  HW: number;
  Cin: number;
  Cout: number;
}

/** `n` random floats in [−0.5, 0.5): a convolution's input, weights or upstream gradient. */
export const randomFloats = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.random() - 0.5);

/** The conv table's rows: shape and window sizes. */
export const CONV_ROWS: [ConvShape, number[]][] = [
  [{ N: 32, HW: 32, Cin: 32, Cout: 64 }, [1, 3, 5, 7, 9]],
  [{ N: 32, HW: 16, Cin: 64, Cout: 128 }, [3, 7]],
];

/** FLOPs of one pass of an s × s conv of shape c (the formula at the top of bench/main.ts). */
export const convFlops = (c: ConvShape, s: number) => 2 * c.N * c.HW * c.HW * c.Cin * c.Cout * s * s;

export const convShapeName = (c: ConvShape) => `N=${c.N} ${c.HW}×${c.HW} ${c.Cin}→${c.Cout}`;
