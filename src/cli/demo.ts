/**
 * `effconv demo` (what `npm start` runs): the whole method at a size a 2-core CPU machine finishes
 * in a few minutes (2–6 with lavapipe, host-dependent) — a short search on a Fashion-MNIST
 * subset, final training of the found sizes and of the width-matched 3×3 baseline at the same
 * budget, and the results table. Any run option overrides these defaults.
 */
import type { RunConfig } from '../effconv/run.js';

export const DEMO_DEFAULTS: Partial<RunConfig> = {
  dataset: 'fashion-mnist', // and fmnist-6's budget, 100,000 parameters
  batch: 64,
  trainLimit: 8192,
  testLimit: 2000,
  searchEpochs: 0.5,
  finalEpochs: 2,
  baselines: ['3x3'],
  logEvery: 8,
  checkpointEvery: 64,
};
