// The U-Net (src/models/unet.ts): shapes and parameter layout by hand, the skip connections
// really carry the encoder's features, gradients against finite differences on a tiny one, and
// that it can learn: 150 steps fit a fixed mask.
import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceBackend, setBackend } from "../../src/backend/index.js";
import { UNet } from "../../src/models/unet.js";
import { manualSeed } from "../../src/nn/index.js";
import { Adam } from "../../src/optim/index.js";
import { bceWithLogits, noGrad, Tensor } from "../../src/tensor/index.js";
import { Rng } from "../../src/util/rng.js";
import { gradcheck, param } from "../tensor/gradcheck.js";

test("a U-Net of width w has the layers and parameter counts worked out by hand", () => {
  manualSeed(0);
  const net = new UNet({ inChannels: 1, width: 8 });
  const conv = (i: number, o: number, k = 3) => i * o * k * k + o;
  // enc1 1->8->8, enc2 8->16->16, mid 16->32->32, dec2 (32+16)->16->16, dec1 (16+8)->8->8, head 8->1 (1x1).
  const expected = conv(1, 8) + conv(8, 8) + conv(8, 16) + conv(16, 16) + conv(16, 32) + conv(32, 32)
    + conv(48, 16) + conv(16, 16) + conv(24, 8) + conv(8, 8) + conv(8, 1, 1);
  assert.equal(net.parameterCount(), expected);
  assert.equal(expected, 29617);
  assert.deepEqual(net.namedParameters().map(([n]) => n).slice(0, 4), ["enc1.conv1.weight", "enc1.conv1.bias", "enc1.conv2.weight", "enc1.conv2.bias"]);
  assert.deepEqual(net.namedParameters().map(([n, t]) => [n, t.shape]).filter(([n]) => (n as string).startsWith("dec2.conv1")), [["dec2.conv1.weight", [16, 48, 3, 3]], ["dec2.conv1.bias", [16]]]);
  const y = noGrad(() => net.forward(new Tensor(new Float32Array(3 * 64 * 64), [3, 1, 64, 64])));
  assert.deepEqual(y.shape, [3, 1, 64, 64]);
});

test("sizes that two halvings cannot keep are refused with what to do", () => {
  const net = new UNet({ inChannels: 1, width: 2 });
  assert.throws(() => net.forward(new Tensor(new Float32Array(30 * 32), [1, 1, 30, 32])), /H and W multiples of 4 .*got \[1, 1, 30, 32\]: pad or crop/);
  assert.throws(() => net.forward(new Tensor(new Float32Array(2 * 16), [1, 2, 4, 4])), /expected input \(N, 1, H, W\)/);
  assert.throws(() => new UNet({ inChannels: 1, width: 0 }), /width 0 must be positive/);
});

test("the skip connections carry the encoder's full-resolution features to the output", () => {
  // A one-pixel change moves the output there more than far away: with the bottleneck alone
  // (16x coarser) it could not be placed to the pixel; through enc1's skip it is.
  manualSeed(4);
  const net = new UNet({ inChannels: 1, width: 4 });
  const base = new Float32Array(32 * 32);
  const bumped = base.slice();
  bumped[10 * 32 + 10] = 5;
  const [a, b] = noGrad(() => [base, bumped].map((x) => net.forward(new Tensor(x, [1, 1, 32, 32])).toArray()));
  const change = (i: number) => Math.abs(a![i]! - b![i]!);
  assert.ok(change(10 * 32 + 10) > 0, "the bumped pixel's output moved");
  assert.equal(change(30 * 32 + 30), 0, "a pixel beyond every receptive field did not move");
  // Zeroing the first level's skip input (enc1's output is concatenated into dec1) changes the output.
  const e1 = net.enc1.forward.bind(net.enc1);
  net.enc1.forward = (x) => { const y = e1(x); y.data.fill(0); return y; };
  const c = noGrad(() => net.forward(new Tensor(bumped, [1, 1, 32, 32])).toArray());
  assert.notDeepEqual(c, b);
});

test("the U-Net's gradients match finite differences (a tiny one, reference backend)", () => {
  const previous = setBackend(referenceBackend);
  try {
    manualSeed(2);
    const net = new UNet({ inChannels: 1, width: 1 });
    const rng = new Rng(8);
    const x = param([1, 1, 4, 4], rng);
    const y = new Tensor(Float32Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? 1 : 0)), [1, 1, 4, 4]);
    // With respect to the input, and to the first and last convolutions' weights.
    gradcheck("unet input", (v) => net.forward(v), [x], { tolerance: 3e-2 });
    // The parameters themselves: gradcheck perturbs their values in place.
    const loss = () => bceWithLogits(net.forward(x.detach()), y);
    gradcheck("unet loss by enc1.conv1 and head", loss, [net.enc1.conv1.weight, net.mid.conv2.weight, net.head.weight, net.head.bias!], { tolerance: 3e-2 });
  } finally {
    setBackend(previous);
  }
});

test("150 Adam steps fit a fixed mask: the U-Net can learn", () => {
  manualSeed(1);
  const net = new UNet({ inChannels: 1, width: 4 });
  const opt = new Adam(net.parameters(), { lr: 1e-2 });
  // A bright square on a dark image; its mask is the square.
  const image = new Float32Array(16 * 16), mask = new Float32Array(16 * 16);
  for (let r = 4; r < 9; r++) for (let c = 6; c < 11; c++) image[r * 16 + c] = mask[r * 16 + c] = 1;
  const x = new Tensor(image, [1, 1, 16, 16]), y = new Tensor(mask, [1, 1, 16, 16]);
  let first = 0, last = 0;
  for (let step = 0; step < 150; step++) {
    net.zeroGrad();
    const loss = bceWithLogits(net.forward(x), y);
    loss.backward();
    opt.step();
    if (step === 0) first = loss.item();
    last = loss.item();
  }
  assert.ok(last < first / 5, `loss ${first} -> ${last}`);
  const logits = noGrad(() => net.forward(x)).toArray();
  assert.equal(logits.filter((l, i) => (l > 0 ? 1 : 0) !== mask[i]).length, 0, "every pixel is classified right");
});
