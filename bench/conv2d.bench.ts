/**
 * Masked variable-size conv2d: time for s = 1…k_max at fixed k_max, forward and forward+backward,
 * so the s² scaling can be read off. FLOPs (forward) = 2·N·Ho·Wo·Cin·Cout·s²; backward ≈ 2× that.
 *   node dist/bench/conv2d.bench.js [--kmax 9] [--n 8] [--hw 16] [--cin 16] [--cout 32] [--reps 5]
 */
import { parseArgs } from 'node:util';
import { backward, conv2d, Engine, parameter, sum } from '../src/index.js';
import { Rng } from '../src/random.js';
import { timeGpu } from './timing.js';

const { values } = parseArgs({
  options: {
    kmax: { type: 'string', default: '9' },
    n: { type: 'string', default: '8' },
    hw: { type: 'string', default: '16' },
    cin: { type: 'string', default: '16' },
    cout: { type: 'string', default: '32' },
    reps: { type: 'string', default: '5' },
  },
});
const [kmax, N, HW, Cin, Cout, reps] = [values.kmax, values.n, values.hw, values.cin, values.cout, values.reps].map(Number) as number[];

const engine = await Engine.create();
const rng = new Rng(0);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
const x = parameter(engine, rand(N! * Cin! * HW! * HW!), [N!, Cin!, HW!, HW!]);
const w = parameter(engine, rand(Cout! * Cin! * kmax! * kmax!), [Cout!, Cin!, kmax!, kmax!]);
const v = parameter(engine, [kmax! / 2], [1]);

console.log(`# masked conv2d, k_max = ${kmax}, N=${N} ${HW}×${HW} ${Cin}→${Cout}, ${reps} reps (median), on ${engine.adapterInfo.description || engine.adapterInfo.device}`);
console.log('| s | fwd ms | fwd GFLOP/s | fwd+bwd ms | fwd+bwd GFLOP/s | fwd ms / s² |');
console.log('|---|---|---|---|---|---|');
for (let s = 1; s <= kmax!; s += 2) {
  const flops = 2 * N! * HW! * HW! * Cin! * Cout! * s * s;
  const fwd = await timeGpu(engine, () => void conv2d(x, w, { size: s, softSize: v }), reps!);
  const fb = await timeGpu(
    engine,
    () => {
      backward(sum(conv2d(x, w, { size: s, softSize: v })));
      for (const p of [x, w, v]) {
        p.grad?.dispose();
        p.grad = null;
      }
    },
    reps!,
  );
  const gf = (f: number, ms: number) => (f / (ms * 1e6)).toFixed(2);
  console.log(`| ${s} | ${fwd.medianMs.toFixed(2)} | ${gf(flops, fwd.medianMs)} | ${fb.medianMs.toFixed(2)} | ${gf(3 * flops, fb.medianMs)} | ${(fwd.medianMs / (s * s)).toFixed(3)} |`);
}
engine.destroy();
process.exit(0);
