#!/usr/bin/env node
/** The `effconv` command line. */
import { parseArgs } from 'node:util';
import { Engine } from '../gpu/engine.js';
import { evalCommand, searchCommand, trainCommand } from './commands.js';
import { DEMO_DEFAULTS } from './demo.js';
import { describeEngine } from './info.js';
import { kernelsCommand } from './kernels.js';
import { checkCommandOptions, convKernels, RUN_HELP, RUN_OPTIONS, UsageError } from './run_options.js';

const HELP = `effconv — learned convolution kernel sizes (EffConv) on WebGPU, all numerics in WGSL

Usage: effconv <command> [options]

Commands:
  search     stage 1 (kernel-size search under a parameter budget), then final training of the
             found sizes and of the baselines at the same budget; writes a run folder
  train      final training of given sizes only: --sizes 3,5,3,3,5,3 (plus baselines)
  eval       accuracy of a run folder's trained models: --run DIR
  demo       a short search on a Fashion-MNIST subset, final training of the found sizes and of
             the 3×3 baseline, a printed table (what \`npm start\` runs; 2–6 min on 2 CPU cores)
  info       the WebGPU adapter, its features and limits
  kernels    times a search step and a 3×3 final-training step of the backbone (--preset/--spec,
             --batch) with each convolution kernel family on this device; names the fastest

${RUN_HELP}

Examples:
  effconv search --budget 100000 --search-epochs 1 --epochs 10 --out runs/fmnist-100k
  effconv search --resume runs/fmnist-100k
  effconv train --sizes 3,3,5,5,3,3 --epochs 5
  effconv eval --run runs/fmnist-100k

Options:
  -h, --help   show this help
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, ...RUN_OPTIONS } });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 2;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  checkCommandOptions(command, values);
  convKernels(values); // checked before any run folder or dataset is touched
  switch (command) {
    case 'info': {
      const engine = await Engine.create();
      console.log(describeEngine(engine));
      engine.destroy();
      return 0;
    }
    case 'search':
      await searchCommand(values);
      return 0;
    case 'demo':
      await searchCommand(values, DEMO_DEFAULTS, 'demo');
      return 0;
    case 'train':
      await trainCommand(values);
      return 0;
    case 'eval':
      await evalCommand(values);
      return 0;
    case 'kernels':
      await kernelsCommand(values);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}" (try effconv --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`effconv: ${(e as Error).message}`);
      process.exit(2);
    }
    console.error(`effconv: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
