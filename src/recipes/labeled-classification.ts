// The parts every recipe that classifies a LabeledBatch shares (mnist, keywords): its loss is
// the cross-entropy of a Sequential's logits, and its layer stack is that Sequential's modules.
import { splitLabeled, type LabeledBatch } from "../data/index.js";
import { sequentialLayerStack, type Module, type Sequential } from "../nn/index.js";
import { crossEntropy, Tensor } from "../tensor/index.js";

export const labeledClassification = {
  loss: (model: Module, batch: LabeledBatch): Tensor => crossEntropy(model.forward(new Tensor(batch.x, batch.xShape)), batch.y),
  layers: (model: Module) => sequentialLayerStack<LabeledBatch>(model as Sequential, {
    input: (batch) => new Tensor(batch.x, batch.xShape),
    loss: (logits, batch) => crossEntropy(logits, batch.y),
    split: splitLabeled,
    samplesIn: (batch) => batch.y.length,
  }),
  samplesIn: (batch: LabeledBatch): number => batch.y.length,
};
