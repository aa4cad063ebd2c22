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

/**
 * Terms the multiply-add loops that update 64 accumulators per step sum before each update
 * (SUM_STEP of the 1 × 1 conv2d kernels and Winograd products, K_STEP of matmul_rows_sg) under
 * the engine's rules. On lavapipe an accumulator update inside a loop is a blend with the loop's
 * lane mask and a spill and reload, so summing several steps' terms first pays (paired, new / old
 * time, bench/HISTORY.md stop 39): the 1 × 1 forward and input gradient with four input channels
 * 0.61–0.79 and 0.57–0.78 on 32×32 32→64 and 16×16 64→128, 0.89 and 0.84 on 28×28 16→16
 * (N = 128), matmul_rows_sg 0.70–0.80 from 512³ to 1024³; eight lost (1.04–1.96). Four under the
 * 'cpu-avx512' rules. Under 'cpu' two (0.85–1.00
 * with AVX2 code on the same host, four 0.62–1.02 there): four make a loop of ~3800 instructions,
 * the size whose S = 3 counterpart ran 1.7× slower on a Zen 3 host (quad_rows in
 * conv2d_subgroups.wgsl), two ~1800, the size of the two-block S = 3 loop that won there. One on a
 * GPU (not measured there).
 */
export const sumStep = (rules: ConvAutoRules): 1 | 2 | 4 => (rules === 'cpu-avx512' ? 4 : rules === 'cpu' ? 2 : 1);
