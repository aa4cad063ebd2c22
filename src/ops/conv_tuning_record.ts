/**
 * What conv2d's variant 'fastest' chose, as plain data a later run can take back, so that it need
 * not time the same convolutions again (a resumed run, `effconv eval`, a repeated experiment). A
 * choice holds only for the adapter it was timed on and the conv2d shader files it was timed with,
 * so a record names both and is applied only where both match. Files are read and written by
 * effconv/conv_tuning_file.ts; this module touches no file system (it serves the browser too).
 */
import type { Engine } from '../gpu/engine.js';
import { textHash } from '../gpu/text_hash.js';
import { Tensor } from '../tensor.js';
import { allPasses, copyChoice, sameChoice, convChoices, CONV_PASSES, isPlainChoice, type ConvChoice, type ConvFamily } from './conv_choices.js';
import { TUNED_FAMILIES } from './conv_tuning.js';
import { TILED_TILES } from './conv2d_tiled.js';
import { SUBGROUP_WEIGHT_KERNELS } from './conv2d_subgroup_rules.js';

export const CONV_TUNING_FORMAT = 'effconv-conv-tuning-1';

/** One adapter's choices. */
export interface ConvTuningRecord {
  /** The adapter they were timed on: vendor, architecture, device and description (deviceIdentity). */
  device: string;
  /** Which conv2d kernels they were timed with: a fingerprint of the conv2d shader files (convKernelsFingerprint). */
  kernels: string;
  /**
   * Convolution key (shapes, options, gradients: as conv2d's 'fastest' keys it) → the family
   * chosen, or where the passes chose apart (or a pass runs other kernels than its family's
   * default), the family of each ({ forward, input, weight }, with a weightKernel, tiles and
   * winograd where chosen: ConvChoice).
   */
  choices: Record<string, ConvFamily | ConvChoice>;
}

/** What a tuning file holds: a record per adapter and kernel version, so one file can serve several machines. */
export interface ConvTuningRecords {
  format: typeof CONV_TUNING_FORMAT;
  records: ConvTuningRecord[];
}

export class ConvTuningFileError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message} (not a tuning file of this effconv; move it away to time the convolutions again)`);
    this.name = 'ConvTuningFileError';
  }
}

/** The engine's adapter as one line. */
export function deviceIdentity(engine: Engine): string {
  const a = engine.adapterInfo;
  return [a.vendor, a.architecture, a.device, a.description].map((s) => s || '-').join(' | ');
}

/** A fingerprint of the conv2d shader files the engine compiled: choices timed on other kernels do not carry over. */
export function convKernelsFingerprint(engine: Engine): string {
  const files = [...engine.shaderHashes].filter(([file]) => file.startsWith('conv2d')).sort(([a], [b]) => (a < b ? -1 : 1));
  return textHash(files.map(([file, hash]) => `${file}:${hash}`).join('\n'));
}

/** The engine's choices so far as a record. */
export function exportConvTuning(engine: Engine): ConvTuningRecord {
  const choices: ConvTuningRecord['choices'] = {};
  for (const [key, c] of convChoices(engine).chosen) choices[key] = isPlainChoice(c) ? c.forward : copyChoice(c);
  return { device: deviceIdentity(engine), kernels: convKernelsFingerprint(engine), choices };
}

/**
 * Takes the choices of the record made on this engine's adapter and kernels (if any): later
 * 'fastest' calls of those convolutions run them untimed. Returns how many were taken.
 */
export function importConvTuning(engine: Engine, records: readonly ConvTuningRecord[]): number {
  const mine = records.find((r) => r.device === deviceIdentity(engine) && r.kernels === convKernelsFingerprint(engine));
  if (!mine) return 0;
  const choices = convChoices(engine);
  const { chosen, pending } = choices;
  let changed = false;
  for (const [key, choice] of Object.entries(mine.choices)) {
    const next = typeof choice === 'string' ? allPasses(choice) : copyChoice(choice);
    const before = chosen.get(key);
    if (!before || !sameChoice(before, next)) changed = true;
    chosen.set(key, next);
    const waiting = pending.get(key);
    if (waiting) {
      if (waiting.softSize instanceof Tensor) waiting.softSize.dispose();
      pending.delete(key);
    }
  }
  if (changed) choices.version++; // a captured step that ran other kernels is taken again (CapturedStep)
  return Object.keys(mine.choices).length;
}

/** `records` with `record` merged in: its choices over those of the record of its adapter and kernels; other records kept. */
export function mergeConvTuning(records: ConvTuningRecords | null, record: ConvTuningRecord): ConvTuningRecords {
  const others = (records?.records ?? []).filter((r) => r.device !== record.device || r.kernels !== record.kernels);
  const same = records?.records.find((r) => r.device === record.device && r.kernels === record.kernels);
  return { format: CONV_TUNING_FORMAT, records: [...others, { ...record, choices: { ...same?.choices, ...record.choices } }] };
}

/** Parses and checks a tuning file's text; `where` names it in errors (ConvTuningFileError). */
export function parseConvTuning(text: string, where: string): ConvTuningRecords {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConvTuningFileError(where, `not valid JSON (${(e as Error).message})`);
  }
  const o = json as Partial<ConvTuningRecords> | null;
  if (typeof o !== 'object' || o === null || o.format !== CONV_TUNING_FORMAT) throw new ConvTuningFileError(where, `format is not "${CONV_TUNING_FORMAT}"`);
  if (!Array.isArray(o.records)) throw new ConvTuningFileError(where, 'records is not a list');
  for (const [i, r] of o.records.entries()) {
    const rec = r as Partial<ConvTuningRecord> | null;
    if (typeof rec !== 'object' || rec === null || typeof rec.device !== 'string' || typeof rec.kernels !== 'string') {
      throw new ConvTuningFileError(where, `record ${i} lacks its device or kernels`);
    }
    if (typeof rec.choices !== 'object' || rec.choices === null || Array.isArray(rec.choices)) throw new ConvTuningFileError(where, `record ${i}'s choices are not an object`);
    const isFamily = (f: unknown) => (TUNED_FAMILIES as readonly unknown[]).includes(f);
    for (const [key, choice] of Object.entries(rec.choices as Record<string, unknown>)) {
      const c = typeof choice === 'object' && choice !== null ? (choice as Record<string, unknown>) : null;
      const families = c ? CONV_PASSES.map((pass) => c[pass]) : [choice];
      const kernelOk = !c || c.weightKernel === undefined || (c.weight === 'auto' && (SUBGROUP_WEIGHT_KERNELS as readonly unknown[]).includes(c.weightKernel));
      // tiles: { pass: block } for passes on the tiled kernels
      const tiles = c?.tiles as Record<string, unknown> | undefined;
      const tilesOk =
        tiles === undefined ||
        (typeof tiles === 'object' && tiles !== null && !Array.isArray(tiles) &&
          Object.entries(tiles).every(([pass, tile]) => (CONV_PASSES as readonly string[]).includes(pass) && c![pass] === 'tiled' && (TILED_TILES as readonly unknown[]).includes(tile)));
      // winograd: { pass: true or false } for passes on auto
      const winograd = c?.winograd as Record<string, unknown> | undefined;
      const winogradOk =
        winograd === undefined ||
        (typeof winograd === 'object' && winograd !== null && !Array.isArray(winograd) &&
          Object.entries(winograd).every(([pass, on]) => (CONV_PASSES as readonly string[]).includes(pass) && c![pass] === 'auto' && typeof on === 'boolean'));
      const keys = c ? CONV_PASSES.length + (c.weightKernel === undefined ? 0 : 1) + (tiles === undefined ? 0 : 1) + (winograd === undefined ? 0 : 1) : 0;
      if (families.some((f) => !isFamily(f)) || !kernelOk || !tilesOk || !winogradOk || (c && Object.keys(c).length !== keys)) {
        throw new ConvTuningFileError(
          where,
          `record ${i} chose ${JSON.stringify(choice)} for ${key}; a choice is one of ${TUNED_FAMILIES.join(', ')}, or one for each of ${CONV_PASSES.join(', ')} (and a weightKernel taps, rows or slide where weight is auto, tiles { pass: ${TILED_TILES.join(' or ')} } for passes on tiled, winograd { pass: true or false } for passes on auto)`,
        );
      }
    }
  }
  return o as ConvTuningRecords;
}
