/**
 * The names of conv2d's kernel families and of 'fastest' (which times them: ConvVariant in
 * ops/conv2d.ts), in one list for the op's `variant`, the engine's default
 * (EngineOptions.convVariant) and the CLI's --conv-kernels.
 */
export const CONV_VARIANTS = ['auto', 'plain', 'subgroups', 'tiled', 'fastest'] as const;
export type ConvVariantName = (typeof CONV_VARIANTS)[number];

/** `value` if it is one of `names`, else a RangeError "<where>: <name> must be 'a', 'b' or 'c', got <value>". */
function checkName<T extends string>(names: readonly T[], where: string, name: string, value: unknown): T {
  if ((names as readonly unknown[]).includes(value)) return value as T;
  const quoted = names.map((v) => `'${v}'`);
  throw new RangeError(`${where}: ${name} must be ${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}, got ${String(value)}`);
}

/** `value` if it names a variant, else a RangeError "<where>: <name> must be 'auto', …, got <value>". */
export const checkConvVariant = (where: string, name: string, value: unknown): ConvVariantName => checkName(CONV_VARIANTS, where, name, value);

/** The measured rules conv2d's 'auto' can follow (EngineOptions.convAutoRules). */
export const CONV_AUTO_RULES = ['cpu', 'cpu-avx512', 'gpu'] as const;
export type ConvAutoRules = (typeof CONV_AUTO_RULES)[number];

/** `value` if it names rules for 'auto', else a RangeError "<where>: <name> must be 'cpu', 'cpu-avx512' or 'gpu', got <value>". */
export const checkConvAutoRules = (where: string, name: string, value: unknown): ConvAutoRules => checkName(CONV_AUTO_RULES, where, name, value);
