/**
 * Uniform structs, declared once in TypeScript: an ordered list of plain 4-byte scalars. The WGSL
 * side declares a struct with the same fields in the same order (test/shaders.test.ts checks that
 * every declared layout matches its shader's struct).
 */

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface UniformLayout<F extends string = string> {
  /** Name of the WGSL struct this layout mirrors. */
  readonly struct: string;
  readonly fields: readonly (readonly [F, ScalarType])[];
  /** Byte size, rounded up to 16 as WGSL uniform structs are. */
  readonly byteSize: number;
}

export type UniformValues<F extends string> = { readonly [K in F]: number };

export function uniformLayout<F extends string>(
  struct: string,
  fields: readonly (readonly [F, ScalarType])[],
): UniformLayout<F> {
  return { struct, fields, byteSize: Math.max(16, Math.ceil((fields.length * 4) / 16) * 16) };
}

/**
 * Writes `values` into `view` (at least layout.byteSize bytes) in the layout's order, checking
 * each: the engine packs every dispatch's uniforms into one reused view this way.
 */
export function packUniforms<F extends string>(layout: UniformLayout<F>, values: UniformValues<F>, view: DataView): void {
  const fields = layout.fields;
  for (let i = 0; i < fields.length; i++) {
    const [name, type] = fields[i]!;
    const v = values[name];
    if (v === undefined || Number.isNaN(v) && type !== 'f32') {
      throw new Error(`uniform ${layout.struct}.${name} is missing`);
    }
    if (type === 'u32') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(`uniform ${layout.struct}.${name} = ${v} is not a u32`);
      }
      view.setUint32(i * 4, v, true);
    } else if (type === 'i32') {
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
        throw new RangeError(`uniform ${layout.struct}.${name} = ${v} is not an i32`);
      }
      view.setInt32(i * 4, v, true);
    } else {
      view.setFloat32(i * 4, v, true);
    }
  }
  // bytes past the fields (the struct's padding to 16) are zero, as in a fresh buffer
  for (let at = fields.length * 4; at < layout.byteSize; at += 4) view.setUint32(at, 0, true);
}
