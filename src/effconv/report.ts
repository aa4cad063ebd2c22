/** summary.md and the SVG plots of a run folder, from its results, trajectory and metrics. */
import { existsSync, readFileSync } from 'node:fs';
import type { Engine } from '../gpu/engine.js';
import { noGrad } from '../autograd/tape.js';
import { gaussianMask } from '../ops/gaussian_mask.js';
import { Tensor } from '../tensor.js';
import { CsvLog, type RunFolder } from './run_folder.js';
import { lineChart, maskPanels, type Series } from './plots.js';
import type { RunConfig, RunResults } from './run.js';
import { channelPairs } from './spec.js';

interface Metric {
  stage: string;
  step: number;
  event?: string;
  loss?: number;
  mean_loss?: number;
  accuracy?: number;
}

function readMetrics(folder: RunFolder): Metric[] {
  if (!existsSync(folder.path('metrics.jsonl'))) return [];
  return readFileSync(folder.path('metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Metric);
}

async function maskValues(engine: Engine, v: number, k: number): Promise<number[]> {
  const t = noGrad(engine, () => engine.tidy(() => gaussianMask(Tensor.from(engine, [v], [1]), k)));
  const out = Array.from(await t.toFloat32());
  t.dispose();
  return out;
}

export async function writeReport(engine: Engine, cfg: RunConfig, results: RunResults, folder: RunFolder, evalName: string): Promise<void> {
  const L = cfg.backbone.layers.length;
  const search = results.search;
  // kernel-size trajectories
  if (existsSync(folder.path('trajectory.csv'))) {
    const rows = new CsvLog(folder.path('trajectory.csv'), []).rows();
    const series: Series[] = [];
    for (let l = 0; l < L; l++) series.push({ name: `v${l + 1}`, points: rows.map((r) => [r[0]!, r[1 + l]!]) });
    for (let l = 0; l < L; l++) series.push({ name: `s${l + 1}`, points: rows.map((r) => [r[0]!, r[1 + L + l]!]), dashed: true });
    folder.writeText('plots/kernel_sizes.svg', lineChart('Kernel sizes during the search (v solid, s dashed)', 'step', 'size', series));
    folder.writeText(
      'plots/search_loss.svg',
      lineChart('Search losses', 'step', 'loss', [
        { name: 'cross-entropy', points: rows.map((r) => [r[0]!, r[1 + 2 * L]!]) },
        { name: 'budget loss', points: rows.map((r) => [r[0]!, r[2 + 2 * L]!]) },
      ]),
    );
  }
  const metrics = readMetrics(folder);
  const trainStages = results.models.map((m) => `train:${m.name}`);
  folder.writeText(
    'plots/train_loss.svg',
    lineChart('Final training loss', 'step', 'cross-entropy', trainStages.map((s) => ({ name: s.slice(6), points: metrics.filter((m) => m.stage === s && m.mean_loss !== undefined).map((m) => [m.step, m.mean_loss!] as [number, number]) }))),
  );
  folder.writeText(
    'plots/accuracy.svg',
    lineChart(`${evalName} accuracy during final training`, 'step', 'accuracy', trainStages.map((s) => ({ name: s.slice(6), points: metrics.filter((m) => m.stage === s && m.event === 'eval').map((m) => [m.step, m.accuracy!] as [number, number]) }))),
  );
  if (search) {
    const panels = [];
    for (let l = 0; l < L; l++) panels.push({ title: `layer ${l + 1}: s=${search.sizes[l]}, v=${search.v[l]!.toFixed(2)}`, values: await maskValues(engine, search.v[l]!, cfg.kMax), k: cfg.kMax, window: search.sizes[l]! });
    folder.writeText('plots/masks.svg', maskPanels('Gaussian masks of the final soft sizes (red: the s×s window used)', panels));
  }
  folder.writeText('summary.md', summaryText(cfg, results, evalName));
}

export function summaryText(cfg: RunConfig, results: RunResults, evalName: string): string {
  const s = results.search;
  const pairs = channelPairs(cfg.backbone);
  const lines = [
    `# EffConv run: ${cfg.backbone.name} on ${cfg.dataset}`,
    '',
    `Budget ${Math.round(s?.target ?? 0).toLocaleString('en')} parameters, k ∈ [${cfg.kMin}, ${cfg.kMax}], λ = ${cfg.lambda} (${cfg.lossKind}), batch ${cfg.batch}, seed ${cfg.seed}; search ${cfg.searchEpochs} epochs, final training ${cfg.finalEpochs} epochs.`,
    '',
  ];
  if (s) {
    lines.push('## Searched sizes', '', '| layer | C_in → C_out | v | s | parameters |', '|---|---|---|---|---|');
    pairs.forEach((p, l) => lines.push(`| ${l + 1} | ${p.cin} → ${p.cout} | ${s.v[l]!.toFixed(3)} | ${s.sizes[l]} | ${(p.cin * p.cout * s.sizes[l]! ** 2).toLocaleString('en')} |`));
    lines.push(
      '',
      `Total ${s.parameters.toLocaleString('en')} parameters, ${(100 * s.deviation).toFixed(2)} % from the budget (sizes rounded jointly; rounding each layer on its own would give [${s.independentSizes.join(', ')}], ${s.independentParameters.toLocaleString('en')}). Search: ${s.steps} steps, ${s.seconds.toFixed(1)} s.`,
      '',
    );
  }
  lines.push('## Final training', '', `| model | sizes | channels | parameters | ${evalName} accuracy | s/epoch |`, '|---|---|---|---|---|---|');
  for (const m of results.models) {
    lines.push(`| ${m.name} | ${m.sizes.join(' ')} | ${m.channels.join(' ')} | ${m.parameters.toLocaleString('en')} | ${(100 * m.accuracy).toFixed(2)} % | ${m.secondsPerEpoch.toFixed(1)} |`);
  }
  const eff = results.models.find((m) => m.name === 'effconv');
  if (s && eff) lines.push('', `Search time as a fraction of the searched network's final training: ${((100 * s.seconds) / eff.seconds).toFixed(1)} %.`);
  lines.push('', 'Plots: plots/kernel_sizes.svg, plots/search_loss.svg, plots/train_loss.svg, plots/accuracy.svg, plots/masks.svg.', '');
  return lines.join('\n');
}
