/** One engine per test file (each file runs in its own process). */
import { Engine } from '../../src/index.js';

let engine: Promise<Engine> | undefined;

export function testEngine(): Promise<Engine> {
  engine ??= Engine.create();
  return engine;
}
