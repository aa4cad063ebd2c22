/**
 * A tuning file: conv2d's 'fastest' choices saved as JSON (ops/conv_tuning_record.ts), read when a
 * run starts and rewritten (atomically, other adapters' records kept) each time tuneConvs chose
 * for new convolutions. A run folder keeps one as conv_tuning.json, so a resumed run and `effconv
 * eval` do not time its convolutions again; `--tuning-file` shares one between runs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Engine } from '../gpu/engine.js';
import { onConvsTuned } from '../ops/conv_choices.js';
import { deviceIdentity, exportConvTuning, importConvTuning, mergeConvTuning, parseConvTuning, type ConvTuningRecords } from '../ops/conv_tuning_record.js';
import { writeAtomic } from './run_folder.js';

function readRecords(file: string): ConvTuningRecords | null {
  return existsSync(file) ? parseConvTuning(readFileSync(file, 'utf8'), file) : null;
}

/** A tuning file's path that cannot hold one: a folder, or a file in a folder that does not exist. */
export class TuningFilePathError extends Error {
  constructor(file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = 'TuningFilePathError';
  }
}

/**
 * Checks, before any work, that `file` can serve as a tuning file: not a folder, in a folder that
 * exists, and, where it is there already, a tuning file (ConvTuningFileError otherwise). Returns its
 * records (null where there is no file yet). So a run that would time its convolutions for
 * minutes does not find out at the end that it cannot keep the choices.
 */
export function checkTuningFile(file: string): ConvTuningRecords | null {
  if (existsSync(file) && statSync(file).isDirectory()) throw new TuningFilePathError(file, 'is a folder; give a file path for the tuning file (e.g. a .json in it)');
  const folder = dirname(file);
  if (!existsSync(folder)) throw new TuningFilePathError(file, `its folder ${folder} does not exist`);
  if (!statSync(folder).isDirectory()) throw new TuningFilePathError(file, `${folder} is not a folder`);
  return readRecords(file);
}

/** Writes the engine's choices into `file`, keeping the records of other adapters and kernels there. */
export function saveConvTuning(engine: Engine, file: string): void {
  writeAtomic(file, `${JSON.stringify(mergeConvTuning(readRecords(file), exportConvTuning(engine)), null, 2)}\n`);
}

/**
 * Takes the choices `file` holds for this adapter and kernels (a file that is not there holds
 * none; a corrupt one throws before anything runs) and saves new choices back after each
 * tuning; returns a line saying what was taken, and the function that stops the saving. A save
 * that fails (a read-only run folder under `effconv eval`) is told to `warn` once and does not
 * stop the run: lost choices only cost their timing again.
 */
export function useConvTuningFile(engine: Engine, file: string, warn: (line: string) => void = (line) => console.warn(line)): { said: string; stop: () => void } {
  const records = readRecords(file);
  const taken = records ? importConvTuning(engine, records.records) : 0;
  const said = !records
    ? `no tuning file yet; choices will be saved to ${file}`
    : taken > 0
      ? `choices for ${taken} convolution${taken === 1 ? '' : 's'} read from ${file} (those are not timed again)`
      : `${file} holds no choices for this adapter (${deviceIdentity(engine)}) and these kernels; they are timed and added`;
  let warned = false;
  const save = () => {
    try {
      saveConvTuning(engine, file);
    } catch (e) {
      if (!warned) warn(`could not save the kernel choices to ${file} (${(e as Error).message}); a later run times them again`);
      warned = true;
    }
  };
  return { said, stop: onConvsTuned(engine, save) };
}
