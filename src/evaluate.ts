/** Classification accuracy of a model over a data set, in batches, without recording gradients. */
import { noGrad } from './autograd/tape.js';
import type { Engine } from './gpu/engine.js';
import { tuneConvsTimed } from './ops/conv_tuning.js';
import { Tensor } from './tensor.js';

export interface LabelledImages {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/**
 * Fraction of samples whose arg-max logit equals the label. `forward` maps a batch
 * [n, ...sampleShape] to logits [n, classes]; one readback per batch. Convolutions met under
 * conv2d's variant 'fastest' are timed (tuneConvs) after the batch that met them; `say` hears
 * about that timing (tuneConvsTimed).
 */
export async function accuracy(
  engine: Engine,
  forward: (x: Tensor) => Tensor,
  data: LabelledImages,
  sampleShape: readonly number[],
  batch = 500,
  say?: (line: string) => void,
): Promise<number> {
  const per = sampleShape.reduce((a, b) => a * b, 1);
  if (data.count === 0) throw new RangeError('accuracy: no samples to evaluate');
  if (data.images.length !== data.count * per || data.labels.length !== data.count) {
    throw new RangeError(`accuracy: ${data.count} samples of [${sampleShape.join(', ')}] need ${data.count * per} image values and ${data.count} labels, got ${data.images.length} and ${data.labels.length}`);
  }
  if (!(Number.isInteger(batch) && batch > 0)) throw new RangeError(`accuracy: batch must be a positive integer, got ${batch}`);
  let correct = 0;
  for (let from = 0; from < data.count; from += batch) {
    const n = Math.min(batch, data.count - from);
    const logits = noGrad(engine, () =>
      engine.tidy(() => forward(Tensor.from(engine, data.images.subarray(from * per, (from + n) * per), [n, ...sampleShape]))),
    );
    const classes = logits.shape[1]!;
    const v = await logits.toArray();
    logits.dispose();
    // conv2d's variant 'fastest': the batches after the first run the kernels timed fastest
    await tuneConvsTimed(engine, say);
    // a diverged model's NaN logits would all "pick" class 0 and read as chance accuracy
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new RangeError(`accuracy: the model's logits for sample ${from + Math.floor(bad / classes)} are not finite (${v[bad]}): its weights have diverged`);
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (v[r * classes + k]! > v[r * classes + best]!) best = k;
      if (best === data.labels[from + r]) correct++;
    }
  }
  return correct / data.count;
}
