// ZeRO stage 3's step: the model's layers run one at a time, each with its parameters gathered
// just before and dropped just after, so a rank holds its chunks plus about two layers.
//
// Note [stage 3 recomputes]
// In this autograd an op's backward closure keeps the arrays it read, a layer's weights among
// them, until backward has run. Dropping a gathered layer after its forward would therefore free
// nothing while its graph lives. So the forward pass runs without a graph (noGrad), keeping only
// each layer's input, and backward walks the layers from the last: gather the layer again, run
// its forward with a graph from the saved input, backward through it with the gradient that came
// from the layer above, reduce-scatter its parameters' gradients, drop it. That is FSDP with
// activation checkpointing per layer: each layer but the last runs its forward twice (about a
// third more compute), the activations held are the layer inputs plus one layer's graph, and
// the parameters held are this rank's chunks plus the layer running and the one being fetched.
// The recomputed forward is the same computation as the first, so it needs layers that are
// deterministic in training mode (no dropout); the recipes' GPT and CNN are.
//
// Prefetch: the next layer's all-gather is started before the current layer computes; over TCP
// it runs on the communication thread meanwhile, and through shared memory (inline) it simply
// runs first. Every rank issues gathers, reduce-scatters and the loss's all-reduce in the same
// order, as the group requires.
import type { LayerStack } from "../../nn/index.js";
import { noGrad, Tensor } from "../../tensor/index.js";
import { sharedFloat32Array } from "../base/shared-buffer.js";
import type { ProcessGroup, Work } from "../group/process-group.js";
import type { ByteGauge, CommClock } from "./zero-accounting.js";
import { packGradients, rehome, rehomeUnit, type ZeroUnit } from "./zero-layout.js";

/** What a released parameter points at: any op that reads it by mistake sees no elements. */
const RELEASED = new Float32Array(0);

/** Points the unit's parameters away from their gathered vector, so it can be freed. */
export function releaseUnit(unit: ZeroUnit): void {
  for (const m of unit.members) rehome(m.param, RELEASED);
}

/** Starts gathering the unit's whole parameters from every rank's chunk into a new vector. */
export function gatherUnit(pg: ProcessGroup, unit: ZeroUnit, parameters: ByteGauge, clock?: CommClock): { full: Float32Array; work: Work } {
  const full = sharedFloat32Array(unit.padded);
  parameters.add(unit.padded * 4);
  const submit = (): Work => pg.allGatherAsync(unit.shardParams, full);
  return { full, work: clock ? clock.start(submit) : submit() };
}

/** Each layer's unit: `units` holds those of the layers with parameters, in layer order. */
export function layerUnits(stack: LayerStack<unknown>, units: readonly ZeroUnit[]): (ZeroUnit | undefined)[] {
  let k = 0;
  return stack.layers.map((l) => (l.module.parameters().length > 0 ? units[k++] : undefined));
}

export interface LayeredStepInput {
  pg: ProcessGroup;
  stack: LayerStack<unknown>;
  /** Each layer's unit, undefined for a layer without parameters (layerUnits). */
  unitOf: readonly (ZeroUnit | undefined)[];
  batch: unknown;
  clock: CommClock;
  parameters: ByteGauge;
  gradients: ByteGauge;
  /** Called with this rank's loss as soon as it is known; returns the loss's all-reduce. */
  onLoss(value: number): Work;
}

/** Forward without a graph, then backward layer by layer (Note [stage 3 recomputes]); returns the started collectives. */
export async function runLayeredStep(o: LayeredStepInput): Promise<{ lossWork: Work; gradWork: Work[] }> {
  const { pg, stack, batch, clock, parameters, gradients } = o;
  const layers = stack.layers;
  const unitOf = o.unitOf;
  const gathers = new Map<number, { full: Float32Array; work: Work }>();
  const fetch = (i: number | undefined): void => {
    if (i === undefined || gathers.has(i)) return;
    gathers.set(i, gatherUnit(pg, unitOf[i]!, parameters, clock));
  };
  /** The next layer from `i` on (dir +1) or down (dir -1) that has parameters. */
  const nextWithUnit = (i: number, dir: 1 | -1): number | undefined => {
    for (let j = i; j >= 0 && j < layers.length; j += dir) if (unitOf[j]) return j;
    return undefined;
  };
  const use = async (i: number): Promise<void> => {
    const g = gathers.get(i)!;
    await clock.wait([g.work]);
    rehomeUnit(unitOf[i]!, g.full);
  };
  const drop = (i: number): void => {
    releaseUnit(unitOf[i]!);
    parameters.sub(unitOf[i]!.padded * 4);
    gathers.delete(i);
  };

  const inputs: (Tensor | undefined)[] = [];
  let x: Tensor | undefined;
  fetch(nextWithUnit(0, 1));
  for (let i = 0; i < layers.length - 1; i++) {
    fetch(nextWithUnit(i + 1, 1));
    if (unitOf[i]) await use(i);
    inputs[i] = x;
    const input = x;
    x = noGrad(() => layers[i]!.forward(input, batch));
    if (unitOf[i]) drop(i);
  }
  inputs[layers.length - 1] = x;

  let lossWork: Work | undefined;
  const gradWork: Work[] = [];
  let upstream: Tensor | null = null;
  for (let i = layers.length - 1; i >= 0; i--) {
    const unit = unitOf[i];
    if (unit) fetch(i);
    fetch(i > 0 ? nextWithUnit(i - 1, -1) : undefined);
    if (unit) await use(i);
    const saved = inputs[i];
    inputs[i] = undefined;
    const xin = saved ? new Tensor(saved.dense(), saved.shape, undefined, 0, true) : undefined;
    const y = layers[i]!.forward(xin, batch);
    if (i === layers.length - 1) {
      const loss = stack.loss(y, batch);
      lossWork = o.onLoss(loss.item());
      loss.backward();
    } else {
      y.backward(upstream!);
    }
    upstream = xin?.grad ?? null;
    if (unit) {
      const held = unit.members.reduce((n, m) => n + (m.param.grad ? m.param.size * 4 : 0), 0);
      gradients.add(held);
      const flat = packGradients(unit);
      gradients.add(unit.padded * 4 - held);
      const work = clock.start(() => pg.reduceScatterAsync(flat, unit.shardGrads, { op: "avg" }));
      void work.wait().then(() => gradients.sub(unit.padded * 4), () => {});
      gradWork.push(work);
      drop(i);
    }
  }
  return { lossWork: lossWork!, gradWork };
}
