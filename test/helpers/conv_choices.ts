/** Test helper: forgets every choice and pending convolution of conv2d's 'fastest' (a test starts from none). */
import { Tensor, type Engine } from '../../src/index.js';
import { convChoices } from '../../src/ops/conv_choices.js';

export function resetConvChoices(engine: Engine): void {
  const c = convChoices(engine);
  for (const p of c.pending.values()) if (p.softSize instanceof Tensor) p.softSize.dispose();
  c.pending.clear();
  c.chosen.clear();
  c.version++;
}
