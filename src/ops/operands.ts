/** Checks shared by the ops on their tensor operands. */
import { fmtShape } from '../gpu/errors.js';
import type { Tensor } from '../tensor.js';

/** A float op's operands must hold float32: an int32 tensor's bits would be read as floats. */
export function expectFloat32(op: string, ...ts: readonly (Tensor | null | undefined)[]): void {
  for (const t of ts) if (t && t.dtype !== 'float32') throw new TypeError(`${op}: expected float32, got ${t.dtype} ${fmtShape(t.shape)}`);
}
