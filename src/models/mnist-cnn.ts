// The MNIST CNN (the same network as the PyTorch peer benchmark):
// Conv(1->32, 3x3) ReLU MaxPool2, Conv(32->64, 3x3) ReLU MaxPool2, Flatten, Linear(1600->128) ReLU, Linear(128->10).
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from "../nn/index.js";

export function mnistCnn(): Sequential {
  return new Sequential(
    new Conv2d(1, 32, 3), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, 32, 13, 13)
    new Conv2d(32, 64, 3), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, 64, 5, 5)
    new Flatten(), new Linear(1600, 128), new ReLU(), new Linear(128, 10),
  );
}
