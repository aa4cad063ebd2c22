/**
 * The autograd tape (micrograd's shape): a list of nodes in execution order, hence already
 * topologically sorted; `backward` walks it once in reverse, summing gradients per tensor id.
 * Saved tensors are extra handles on their storage, released as soon as their node has run.
 */
import type { Engine } from '../gpu/engine.js';
import { ShapeError, fmtShape } from '../gpu/errors.js';
import type { Tensor } from '../tensor.js';

/**
 * A gradient that is zero outside one block of its input (a slice's): the tape adds the block into
 * the input's gradient in place when it already holds one of its own, so a tensor sliced L times
 * costs one zero fill and L block adds instead of L fills, L copies and L − 1 full-size adds.
 */
export interface BlockGrad {
  readonly block: true;
  /** Adds the block into `into` (in place), or with null returns a new gradient, zero outside the block. */
  addTo(into: Tensor | null): Tensor;
}

/** Returns one gradient per input (null where that input needs none). */
export type BackwardFn = (gradOut: Tensor, saved: readonly Tensor[], needs: readonly boolean[]) => (Tensor | BlockGrad | null)[];

interface TapeNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  saved: Tensor[];
  readonly backward: BackwardFn;
}

/** Hooks the engine calls to build gradients (elementwise ops are registered by ops/). */
export interface GradHelpers {
  ones(engine: Engine, shape: readonly number[]): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
}

let helpers: GradHelpers | null = null;
export function setGradHelpers(h: GradHelpers): void {
  helpers = h;
}

class Tape {
  nodes: TapeNode[] = [];
  noGradDepth = 0;
}

const tapes = new WeakMap<Engine, Tape>();

function tapeOf(engine: Engine): Tape {
  let tape = tapes.get(engine);
  if (!tape) {
    const created = new Tape();
    tapes.set(engine, created);
    // Leaving the outermost scope ends a step: records nobody differentiated are dropped.
    engine.onScopeEnd((depth) => {
      if (depth === 0) dropNodes(created);
    });
    tape = created;
  }
  return tape;
}

function dropNodes(tape: Tape): void {
  for (const node of tape.nodes) for (const s of node.saved) s.dispose();
  tape.nodes = [];
}

export function isGradEnabled(engine: Engine): boolean {
  return tapeOf(engine).noGradDepth === 0;
}

/** Runs fn without recording (inference, optimizer updates, gradient arithmetic). */
export function noGrad<T>(engine: Engine, fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('noGrad(engine, fn): fn must be a function (the engine comes first)');
  const tape = tapeOf(engine);
  tape.noGradDepth++;
  try {
    return fn();
  } finally {
    tape.noGradDepth--;
  }
}

/** Records an op if any input requires grad; `saved` are the tensors its backward reads. */
export function record(
  name: string,
  inputs: readonly Tensor[],
  output: Tensor,
  saved: readonly Tensor[],
  backward: BackwardFn,
): Tensor {
  const engine = output.engine;
  const tape = tapeOf(engine);
  if (tape.noGradDepth > 0 || !inputs.some((t) => t.requiresGrad)) return output;
  output.requiresGrad = true;
  output.hasNode = true;
  tape.nodes.push({ name, inputs, output, saved: saved.map((t) => t.retain()), backward });
  return output;
}

const isBlockGrad = (g: Tensor | BlockGrad): g is BlockGrad => (g as BlockGrad).block === true;

/**
 * Back-propagates from a one-element loss; leaves (tensors with requiresGrad and no node) get
 * their gradient added to `.grad`, which is kept out of scopes. Clears the tape.
 */
export function backward(loss: Tensor): void {
  if (loss.size !== 1) throw new ShapeError('backward', `loss must have one element, got ${fmtShape(loss.shape)}`);
  if (!loss.requiresGrad) throw new Error('backward: loss does not depend on any tensor with requiresGrad');
  if (!helpers) throw new Error('backward: ops not loaded');
  const h = helpers;
  const engine = loss.engine;
  const tape = tapeOf(engine);
  const nodes = tape.nodes;
  // a loss made by an op whose record is gone would otherwise back-propagate nothing, silently
  if (loss.hasNode && !nodes.some((n) => n.output === loss)) {
    throw new Error('backward: the records behind this loss are gone — an earlier backward() used them, or the outermost tidy scope they were made in has ended; compute the loss again');
  }
  tape.nodes = [];
  const grads = new Map<number, Tensor>();
  const leaves = new Map<number, Tensor>();

  // ids whose gradient in `grads` is a tensor the tape made itself (a sum, a block gradient) and
  // nothing else holds: only those are added into in place
  const owned = new Set<number>();
  const store = (t: Tensor, g: Tensor, isOwned: boolean): void => {
    grads.set(t.id, g);
    if (isOwned) owned.add(t.id);
    else owned.delete(t.id);
    if (!t.hasNode) leaves.set(t.id, t);
  };

  const accumulate = (t: Tensor, g: Tensor | BlockGrad): void => {
    const prev = grads.get(t.id);
    if (isBlockGrad(g)) {
      if (prev && owned.has(t.id)) g.addTo(prev);
      else {
        const fresh = engine.keep(g.addTo(null));
        if (fresh.size !== t.size) throw new ShapeError('backward', `gradient ${fmtShape(fresh.shape)} does not match tensor ${fmtShape(t.shape)}`);
        if (prev) {
          const own = fresh.view(t.shape, false);
          store(t, engine.keep(h.add(prev, own)), true);
          prev.dispose();
          own.dispose();
          fresh.dispose();
        } else store(t, fresh, true);
      }
      return;
    }
    if (g.size !== t.size) {
      throw new ShapeError('backward', `gradient ${fmtShape(g.shape)} does not match tensor ${fmtShape(t.shape)}`);
    }
    const own = g.view(t.shape, false);
    if (prev) {
      store(t, engine.keep(h.add(prev, own)), true);
      prev.dispose();
      own.dispose();
    } else store(t, own, false);
  };

  noGrad(engine, () => {
    engine.tidy(() => {
      accumulate(loss, h.ones(engine, loss.shape));
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i]!;
        const g = grads.get(node.output.id);
        if (g) {
          grads.delete(node.output.id);
          owned.delete(node.output.id);
          const needs = node.inputs.map((t) => t.requiresGrad);
          const inputGrads = node.backward(g, node.saved, needs);
          node.inputs.forEach((input, k) => {
            const gi = inputGrads[k];
            if (gi && needs[k]) accumulate(input, gi);
          });
          g.dispose();
        }
        for (const s of node.saved) s.dispose();
        node.saved = [];
      }
      for (const [id, leaf] of leaves) {
        const g = grads.get(id);
        if (!g) continue;
        grads.delete(id);
        if (leaf.grad && !leaf.grad.disposed) {
          const sum = engine.keep(h.add(leaf.grad, g));
          leaf.grad.dispose();
          g.dispose();
          leaf.grad = sum;
        } else leaf.grad = g;
      }
      for (const g of grads.values()) g.dispose();
    });
  });
}
