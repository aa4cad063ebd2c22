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
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (v[r * classes + k]! > v[r * classes + best]!) best = k;
      if (best === data.labels[from + r]) correct++;
    }
  }
  return correct / data.count;
}
