#!/usr/bin/env node
/** The `effconv` command line. */
import { parseArgs } from 'node:util';
import { Engine } from '../gpu/engine.js';
import { demoDefaults, runDemo } from './demo.js';
import { describeEngine } from './info.js';

const HELP = `effconv — learned convolution kernel sizes on WebGPU (WGSL kernels)

Usage: effconv <command> [options]

Commands:
  info                 show the WebGPU adapter, its features and limits
  demo                 engine check on Fashion-MNIST (see note below)
      --data DIR       IDX files directory (default ${demoDefaults.dataDir})
      --steps N        training steps (default ${demoDefaults.steps})
      --batch N        batch size (default ${demoDefaults.batch})
      --seed N         random seed (default ${demoDefaults.seed})

Options:
  -h, --help           show this help

Note: the EffConv kernel-size search (search / train / eval commands) is not implemented yet;
'demo' currently trains an MLP with effconv's kernels to check the engine end to end.
`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      data: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'info': {
      const engine = await Engine.create();
      console.log(describeEngine(engine));
      engine.destroy();
      return 0;
    }
    case 'demo': {
      const options = {
        dataDir: values.data ?? demoDefaults.dataDir,
        steps: positiveInt('steps', values.steps, demoDefaults.steps),
        batch: positiveInt('batch', values.batch, demoDefaults.batch),
        seed: positiveInt('seed', values.seed, demoDefaults.seed + 1) - 1,
      };
      const engine = await Engine.create();
      console.log(`effconv demo on ${engine.adapterInfo.description || engine.adapterInfo.device}`);
      await runDemo(engine, options, (s) => console.log(s));
      engine.destroy();
      return 0;
    }
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
