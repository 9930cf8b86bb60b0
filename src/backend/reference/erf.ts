// The error function in float64, which JavaScript's Math lacks. GELU (exact form) is defined by it,
// and the native kernels are tested against it, so it is accurate to about 1e-14 relative.
//
// Two expansions, each used where it converges fast and without cancellation:
//   |z| < 2:  erf(z) = 2/√π · e^(-z²) · Σ_n 2^n z^(2n+1) / (1·3·…·(2n+1))   (all terms positive)
//   |z| >= 2: erfc(z) = e^(-z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …))))  (continued fraction)
// erfc is kept separate because 1 + erf(z) for very negative z (GELU's left tail) is erfc(-z),
// which would lose every digit if computed as 1 - erf(-z).

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

function erfSeries(z: number): number {
  const z2 = z * z;
  let term = z;
  let sum = z;
  for (let n = 0; n < 100; n++) {
    term *= (2 * z2) / (2 * n + 3);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-z2) * sum;
}

// For z >= 2, evaluated from the tail up; 80 levels converge to double precision there.
function erfcContinuedFraction(z: number): number {
  let t = z;
  for (let n = 80; n >= 1; n--) t = z + n / 2 / t;
  return (ONE_OVER_SQRT_PI * Math.exp(-z * z)) / t;
}

/** erfc(z) = 1 - erf(z), accurate in relative terms in both tails. */
export function erfc(z: number): number {
  if (Number.isNaN(z)) return z;
  const a = Math.abs(z);
  if (a < 2) return 1 - Math.sign(z) * erfSeries(a);
  const tail = a > 27 ? 0 : erfcContinuedFraction(a);
  return z > 0 ? tail : 2 - tail;
}

/** erf(z), odd, in [-1, 1]. */
export function erf(z: number): number {
  if (Number.isNaN(z)) return z;
  const a = Math.abs(z);
  const r = a < 2 ? erfSeries(a) : 1 - (a > 27 ? 0 : erfcContinuedFraction(a));
  return z < 0 ? -r : r;
}
