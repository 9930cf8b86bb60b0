// A small U-Net (Ronneberger, Fischer and Brox, 2015) for binary segmentation of one-channel
// images: two levels down, two up, the encoder's features joined to the decoder's by
// concatenation at each level, and a 1x1 convolution to one logit per pixel.
//
//   x (N, 1, H, W)
//   enc1  = block(1 -> w)           (N, w, H, W)          ─────────────────────────┐
//   enc2  = block(w -> 2w)   pool2  (N, 2w, H/2, W/2)     ──────────────┐          │
//   mid   = block(2w -> 4w)  pool2  (N, 4w, H/4, W/4)                   │          │
//   dec2  = block(4w + 2w -> 2w)    up2(mid) ++ enc2  (N, 2w, H/2, W/2) ◄┘          │
//   dec1  = block(2w + w -> w)      up2(dec2) ++ enc1 (N, w, H, W)      ◄───────────┘
//   head  = conv1x1(w -> 1)         (N, 1, H, W) logits
//
// where block(a -> b) is conv3x3(a -> b) ReLU conv3x3(b -> b) ReLU, padded so that it keeps the
// size (the original U-Net's unpadded convolutions crop the skips; padding keeps every level's
// size exact, so H and W only need to be multiples of 4). Upsampling is nearest-neighbour
// followed by the block's convolutions, which learn what a transposed convolution would
// (Odena et al., "Deconvolution and checkerboard artifacts", 2016, argue for this order).
//
// No normalisation layer: at this width and depth, with Adam, the network trains without one,
// and batch norm's running statistics would differ between data-parallel replicas (each sees its
// own batches), so replicas would no longer be bitwise identical.
import { Conv2d, Module, Upsample } from "../nn/index.js";
import { concat, maxPool2d, relu, type Tensor } from "../tensor/index.js";
import { formatShape } from "../tensor/shape.js";

/** conv3x3(a -> b) ReLU conv3x3(b -> b) ReLU, size-preserving. */
export class UNetBlock extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;

  constructor(readonly inChannels: number, readonly outChannels: number) {
    super();
    this.conv1 = this.child("conv1", new Conv2d(inChannels, outChannels, 3, { padding: 1 }));
    this.conv2 = this.child("conv2", new Conv2d(outChannels, outChannels, 3, { padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    return relu(this.conv2.forward(relu(this.conv1.forward(x))));
  }
}

export interface UNetConfig {
  /** Channels of the input image (1 for a grey-level slice). */
  inChannels: number;
  /** Channels of the first level; the second has 2x, the bottleneck 4x. */
  width: number;
}

/**
 * The two-level U-Net above: (N, inChannels, H, W) -> (N, 1, H, W) logits, H and W multiples of 4.
 *
 * @example The output has the input's size, one logit per pixel
 * ```ts
 * manualSeed(0);
 * const net = new UNet({ inChannels: 1, width: 4 });
 * const y = net.forward(new Tensor(new Float32Array(2 * 16 * 12), [2, 1, 16, 12]));
 * assert.deepEqual(y.shape, [2, 1, 16, 12]);
 * ```
 */
export class UNet extends Module {
  readonly enc1: UNetBlock;
  readonly enc2: UNetBlock;
  readonly mid: UNetBlock;
  readonly dec2: UNetBlock;
  readonly dec1: UNetBlock;
  readonly head: Conv2d;
  private readonly up = new Upsample(2);

  constructor(readonly config: UNetConfig) {
    super();
    const { inChannels, width: w } = config;
    if (!Number.isInteger(inChannels) || inChannels < 1 || !Number.isInteger(w) || w < 1) {
      throw new RangeError(`UNet: inChannels ${inChannels} and width ${w} must be positive integers`);
    }
    this.enc1 = this.child("enc1", new UNetBlock(inChannels, w));
    this.enc2 = this.child("enc2", new UNetBlock(w, 2 * w));
    this.mid = this.child("mid", new UNetBlock(2 * w, 4 * w));
    this.dec2 = this.child("dec2", new UNetBlock(4 * w + 2 * w, 2 * w));
    this.dec1 = this.child("dec1", new UNetBlock(2 * w + w, w));
    this.head = this.child("head", new Conv2d(w, 1, 1));
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.config.inChannels || x.shape[2]! % 4 !== 0 || x.shape[3]! % 4 !== 0) {
      throw new RangeError(
        `UNet: expected input (N, ${this.config.inChannels}, H, W) with H and W multiples of 4 (two halvings), got ${formatShape(x.shape)}: ` +
          `pad or crop the images to a multiple of 4`,
      );
    }
    const e1 = this.enc1.forward(x); // (N, w, H, W)
    const e2 = this.enc2.forward(maxPool2d(e1, { kernel: 2 })); // (N, 2w, H/2, W/2)
    const m = this.mid.forward(maxPool2d(e2, { kernel: 2 })); // (N, 4w, H/4, W/4)
    const d2 = this.dec2.forward(concat([this.up.forward(m), e2], 1)); // (N, 2w, H/2, W/2)
    const d1 = this.dec1.forward(concat([this.up.forward(d2), e1], 1)); // (N, w, H, W)
    return this.head.forward(d1); // (N, 1, H, W)
  }
}
