// Data: data sets, samplers, the batching loader, MNIST and augmentation.

export { collateLabeled, splitLabeled, type Augment, type LabeledBatch, type LabeledCollateOptions, type LabeledSample } from "./collate-labeled.js";
export { AUGMENT_STREAM, DataLoader, type BatchContext, type Collate, type DataLoaderOptions } from "./data-loader.js";
export { type Dataset } from "./dataset.js";
export { LabeledImages } from "./labeled-images.js";
export {
  loadMnist,
  MNIST_CLASSES,
  MNIST_IMAGE_SHAPE,
  MNIST_PIXELS,
  MNIST_SIDE,
  MNIST_SPLIT_SEED,
  MNIST_TEST_SIZE,
  MNIST_TRAIN_MEAN,
  MNIST_TRAIN_SIZE,
  MNIST_TRAIN_STD,
  MnistSplit,
  type Mnist,
} from "./mnist.js";
export { asciiText, CharWindows, decodeText, encodeText, isMobyDickValidationChapter, loadMobyDick, mobyDickChapterPaths, MOBY_DICK_CHAPTERS, MOBY_DICK_VALIDATION_EVERY, readTextDocuments, TEXT_FALLBACK, TEXT_VOCAB_SIZE, textCorpus, type TextCorpus, type TextDocument } from "./moby-dick.js";
export { prefetch } from "./prefetch.js";
export { randomShift, randomShiftAugment, shiftImage } from "./random-shift.js";
export { epochPermutation, SequentialSampler, SHUFFLE_STREAM, ShuffleSampler, type Sampler } from "./sampler.js";
export { DistributedSampler, type DistributedSamplerOptions } from "./distributed-sampler.js";
export { elasticShards, ElasticShardSampler, positionsConsumed, type ElasticShardOptions } from "./elastic-shard-sampler.js";
