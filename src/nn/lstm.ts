// A single-layer LSTM (PyTorch's gate order i, f, g, o and parameter names), batch first.
import { formatShape, ShapeError } from "../tensor/shape.js";
import {
  add, concat, matmul, mul, reshape, sigmoid, slice, split, tanh, transpose, zeros, type Tensor,
} from "../tensor/index.js";
import { uniformParam } from "./init.js";
import { Module } from "./module.js";

export class LSTM extends Module {
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  readonly biasIh: Tensor;
  readonly biasHh: Tensor;

  constructor(readonly inputSize: number, readonly hiddenSize: number) {
    super();
    const bound = 1 / Math.sqrt(hiddenSize);
    this.weightIh = this.param("weight_ih_l0", uniformParam([4 * hiddenSize, inputSize], bound));
    this.weightHh = this.param("weight_hh_l0", uniformParam([4 * hiddenSize, hiddenSize], bound));
    this.biasIh = this.param("bias_ih_l0", uniformParam([4 * hiddenSize], bound));
    this.biasHh = this.param("bias_hh_l0", uniformParam([4 * hiddenSize], bound));
  }

  /** x (B, T, inputSize) -> every step's hidden state (B, T, hiddenSize). */
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.inputSize) {
      throw new ShapeError(`LSTM(${this.inputSize}, ${this.hiddenSize}): expected (B, T, ${this.inputSize}), got ${formatShape(x.shape)}`);
    }
    const [b, t] = x.shape as [number, number];
    const hsz = this.hiddenSize;
    // The input's share of every gate, for all steps at once: (B, T, 4H).
    const xGates = add(add(matmul(x, transpose(this.weightIh)), this.biasIh), this.biasHh);
    let h = zeros([b, hsz]);
    let c = zeros([b, hsz]);
    const outputs: Tensor[] = [];
    for (let step = 0; step < t; step++) {
      const gates = add(reshape(slice(xGates, 1, step, step + 1), [b, 4 * hsz]), matmul(h, transpose(this.weightHh)));
      const [i, f, g, o] = split(gates, [hsz, hsz, hsz, hsz], 1) as [Tensor, Tensor, Tensor, Tensor];
      c = add(mul(sigmoid(f), c), mul(sigmoid(i), tanh(g)));
      h = mul(sigmoid(o), tanh(c));
      outputs.push(reshape(h, [b, 1, hsz]));
    }
    return concat(outputs, 1);
  }
}
