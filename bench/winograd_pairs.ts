/**
 * `node dist/bench/winograd_pairs.js [--pairs 7] [--sizes 3,5] [--shapes NxCinxHxCout,…]`: the data
 * behind the CPU rules' Winograd thresholds (WINOGRAD_RULE, WINOGRAD_AVX512_RULE in
 * src/ops/conv2d_auto_rules.ts). Each convolution's three passes — forward, input gradient, weight gradient —
 * alternate between the direct subgroup kernels (winograd: false) and the Winograd ones (true),
 * pair by pair in one process, each timed as the sum of its conv2d kernels in a profile (the
 * gradients without their forward's dispatches). Prints a markdown table: each side's median ms
 * and the median (and range) of the Winograd / direct ratios. Run it on a new kind of host to see
 * whether 'auto''s rule holds there; `effconv info` names the host CPU.
 */
import { hostCpu, describeHostCpu } from '../src/host_cpu.js';
import * as lib from '../src/index.js';
import { randomFloats } from './conv_rows.js';
import { commandLine, parseWinogradPairsOptions, WINOGRAD_PAIRS_USAGE } from './options.js';
import { median } from './timing.js';

type Pass = 'fwd' | 'dx' | 'dw';
const { pairs, sizes, shapes } = commandLine('winograd_pairs', parseWinogradPairsOptions, WINOGRAD_PAIRS_USAGE);
const engine = await lib.Engine.create();
if (engine.subgroupSize === null) throw new Error('winograd_pairs: the Winograd kernels need the subgroups feature, which this adapter lacks');

console.log(`# Winograd / direct, paired per pass\n\n${engine.adapterInfo.description || engine.adapterInfo.device}; host ${describeHostCpu(hostCpu())}; 'auto' here follows '${engine.convAutoRules}'.`);
console.log(`${pairs} pairs; each cell direct → Winograd ms (medians), then the median (range) of the Winograd / direct ratios.\n`);
console.log('| window | N×Cin×H×W→Cout | forward | input gradient | weight gradient |\n|---|---|---|---|---|');
for (const s of sizes) {
  for (const [N, Cin, H, Cout] of shapes) {
    const xs = randomFloats(N * Cin * H * H), ws = randomFloats(Cout * Cin * s * s);
    const xp = lib.parameter(engine, xs, [N, Cin, H, H]), xc = lib.Tensor.from(engine, xs, [N, Cin, H, H]);
    const wp = lib.parameter(engine, ws, [Cout, Cin, s, s]), wc = lib.Tensor.from(engine, ws, [Cout, Cin, s, s]);
    const conv = (x: lib.Tensor, w: lib.Tensor, winograd: boolean) => lib.conv2d(x, w, { padding: 'same', winograd });
    // the input gradient with w a constant, the weight gradient with x one: each pass alone after the forward
    const run: Record<Pass, (winograd: boolean) => void> = {
      fwd: (winograd) => void lib.noGrad(engine, () => conv(xc, wc, winograd)),
      dx: (winograd) => lib.backward(lib.sum(conv(xp, wc, winograd))),
      dw: (winograd) => lib.backward(lib.sum(conv(xc, wp, winograd))),
    };
    const forwardDispatches = new Map<boolean, number>();
    const time = async (pass: Pass, winograd: boolean): Promise<number> => {
      engine.beginProfile();
      engine.tidy(() => {
        run[pass](winograd);
        for (const p of [xp, wp]) {
          p.grad?.dispose();
          p.grad = null;
        }
      });
      let profile = await engine.endProfile();
      // a gradient's profile: the forward's dispatches, the loss's sum, then the pass
      if (pass === 'fwd') forwardDispatches.set(winograd, profile.length);
      else profile = profile.slice(forwardDispatches.get(winograd)! + 1);
      return profile.filter((d) => d.entry.startsWith('conv2d')).reduce((a, d) => a + d.ms, 0);
    };
    const cells: string[] = [];
    for (const pass of ['fwd', 'dx', 'dw'] as const) {
      const times = { direct: [] as number[], winograd: [] as number[] }, ratios: number[] = [];
      for (const w of [false, true]) await time(pass, w); // warm-up: pipelines, pooled buffers
      for (let i = 0; i < pairs; i++) {
        const order = i % 2 ? [true, false] : [false, true];
        const ms = new Map<boolean, number>();
        for (const w of order) ms.set(w, await time(pass, w));
        times.direct.push(ms.get(false)!);
        times.winograd.push(ms.get(true)!);
        ratios.push(ms.get(true)! / ms.get(false)!);
      }
      cells.push(`${median(times.direct).toFixed(1)} → ${median(times.winograd).toFixed(1)}: ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`);
    }
    console.log(`| ${s} × ${s} | ${N}×${Cin}×${H}×${H}→${Cout} | ${cells.join(' | ')} |`);
    for (const t of [xp, xc, wp, wc]) t.dispose();
  }
}
engine.destroy();
