// The MNIST CNNs.
//
// mnistCnn: the same network as the PyTorch peer benchmark (weft bench mnist-cnn), 225,034 parameters:
//   Conv(1->32, 3x3) ReLU MaxPool2, Conv(32->64, 3x3) ReLU MaxPool2, Flatten, Linear(1600->128) ReLU, Linear(128->10).
// mnistDeepCnn: the mnist recipe's default, two 3x3 convolutions per stage (as in VGG), which
// takes the recipe past 99% on only 8,000 training digits where mnistCnn stops near 98.9%:
//   Conv(1->32) ReLU Conv(32->32) ReLU MaxPool2, Conv(32->64) ReLU Conv(64->64) ReLU MaxPool2,
//   Flatten, Linear(1024->128) ReLU, Linear(128->10); about 3.8 times mnistCnn's arithmetic.
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from "../nn/index.js";

export function mnistCnn(): Sequential {
  return new Sequential(
    new Conv2d(1, 32, 3), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, 32, 13, 13)
    new Conv2d(32, 64, 3), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, 64, 5, 5)
    new Flatten(), new Linear(1600, 128), new ReLU(), new Linear(128, 10),
  );
}

export function mnistDeepCnn(): Sequential {
  return new Sequential(
    new Conv2d(1, 32, 3), new ReLU(), new Conv2d(32, 32, 3), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, 32, 12, 12)
    new Conv2d(32, 64, 3), new ReLU(), new Conv2d(64, 64, 3), new ReLU(), new MaxPool2d({ kernel: 2 }), // (N, 64, 4, 4)
    new Flatten(), new Linear(1024, 128), new ReLU(), new Linear(128, 10),
  );
}
