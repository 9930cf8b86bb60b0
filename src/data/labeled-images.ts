// A data set of equally sized images held in one Float32Array, with int32 labels. Samples are
// views into that array, so indexing allocates only the small sample object.

import type { LabeledSample } from "./collate-labeled.js";
import type { Dataset } from "./dataset.js";

export class LabeledImages implements Dataset<LabeledSample> {
  readonly length: number;
  /** Values per image: the product of sampleShape. */
  readonly sampleSize: number;

  /**
   * @param images    length x sampleSize values, row-major (do not mutate: samples are views)
   * @param labels    one class per image
   * @param sampleShape shape of one image, e.g. [1, 28, 28]
   */
  constructor(
    readonly images: Float32Array,
    readonly labels: Int32Array,
    readonly sampleShape: readonly number[],
  ) {
    this.length = labels.length;
    this.sampleSize = sampleShape.reduce((a, b) => a * b, 1);
    if (images.length !== this.length * this.sampleSize) {
      throw new RangeError(
        `LabeledImages: ${this.length} labels need ${this.length * this.sampleSize} image values ` +
          `of shape [${sampleShape.join(", ")}], got ${images.length}`,
      );
    }
  }

  get(index: number): LabeledSample {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`index ${index} is outside this data set of ${this.length} images`);
    }
    return { x: this.images.subarray(index * this.sampleSize, (index + 1) * this.sampleSize), y: this.labels[index] };
  }
}
