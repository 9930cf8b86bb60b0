// Weft's public entry point: everything a training script needs, under one flat namespace
// (`import { Linear, Adam, tensor, DataLoader } from "weft"`).
export * from "./tensor/index.js";
export * from "./nn/index.js";
export * from "./optim/index.js";
export {
  collateLabeled, DataLoader, DistributedSampler, LabeledImages, loadMnist, randomShift, randomShiftAugment, shiftImage,
  epochPermutation, SequentialSampler, ShuffleSampler, MnistSplit,
  MNIST_CLASSES, MNIST_IMAGE_SHAPE, MNIST_PIXELS, MNIST_SIDE, MNIST_TEST_SIZE, MNIST_TRAIN_MEAN, MNIST_TRAIN_SIZE, MNIST_TRAIN_STD,
  type Augment, type BatchContext, type Collate, type DataLoaderOptions, type Dataset, type DistributedSamplerOptions,
  type LabeledBatch, type LabeledCollateOptions, type LabeledSample, type Mnist, type Sampler,
} from "./data/index.js";
export {
  CheckpointError, loadCheckpoint, saveCheckpoint, expectTensor, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, toFloat32,
  type CheckpointErrorSite, type TensorSource, type NamedArray, type SafetensorsDtype, type Checkpoint,
} from "./checkpoint/index.js";
export { backend, setBackend, referenceBackend, nativeBackend, bf16GemmPath, type Bf16GemmPath } from "./backend/index.js";
export { Rng } from "./util/rng.js";
export { saveTrainingCheckpoint, loadTrainingCheckpoint, type TrainingState } from "./train/training-checkpoint.js";
export * from "./distributed/index.js";
// The training loop and the strategies it runs
export { fit, type FitOptions, type FitResult, type StepInfo, type EpochSource, type ElasticFit, type ShardedEpochSource } from "./train/fit.js";
// Elastic training: the job goes on when workers are lost or join (docs/elastic.md)
export { initElasticGroup, type InitElasticOptions } from "./distributed/elastic/init-elastic.js";
export { ElasticGroup, ElasticStopError, type MembershipEvent, type Recovery } from "./distributed/elastic/elastic-group.js";
export type { Generation } from "./distributed/elastic/membership.js";
export { elasticShards, ElasticShardSampler, type ElasticShardOptions } from "./data/index.js";
export type { Strategy, StepInput, StepOutcome, Traffic } from "./distributed/strategies/strategy.js";
export { SingleStrategy } from "./distributed/strategies/single.js";
export { DdpStrategy, type DdpStrategyOptions } from "./distributed/strategies/ddp-strategy.js";
export type { GradHook, GradBucket, GradSlot } from "./distributed/strategies/grad-hook.js";
export { AllReduceHook } from "./distributed/strategies/allreduce-hook.js";
export { PowerSgdHook, type PowerSgdOptions } from "./distributed/strategies/powersgd-hook.js";
export { TopKHook, type TopKOptions } from "./distributed/strategies/topk-hook.js";
export { gradHookFor, gradCompressionProblem, type GradCompression } from "./distributed/strategies/grad-compression.js";
export { ZeroStrategy, type ZeroOptions, type ZeroStage } from "./distributed/strategies/zero.js";
export { tensorParallelGpt } from "./distributed/tensor-parallel/tensor-parallel-gpt.js";
export { GossipStrategy, GOSSIP_CHANNEL_TIMEOUT_MS, type GossipOptions } from "./distributed/strategies/gossip.js";
export { gossipTargets, gossipSources, gossipEdges, GOSSIP_TOPOLOGIES, type GossipTopology } from "./distributed/strategies/gossip-topology.js";
export { consensusDistance, type ConsensusDistance } from "./distributed/strategies/consensus.js";
export { LocalSgdStrategy, type LocalSgdOptions } from "./distributed/strategies/local-sgd.js";
export { OuterOptimizer, OUTER_OPTIMIZERS, type OuterOptimizerKind } from "./distributed/strategies/outer-optimizer.js";
export { ParameterServerStrategy, type ParameterServerStrategyOptions } from "./distributed/strategies/ps-worker.js";
export { runParameterServer, type ParameterServerOptions, type ParameterServerReport, type ServerUpdate } from "./distributed/strategies/ps-server.js";
export { ParameterServerError, PS_MODES, type PsMode } from "./distributed/strategies/ps-protocol.js";
export { assignShards, type Shard } from "./distributed/strategies/ps-shards.js";
export { NonFiniteLossError } from "./distributed/strategies/non-finite-loss.js";
