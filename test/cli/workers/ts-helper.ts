// Imported by ts-worker.ts as "./ts-helper.js", the NodeNext spelling tsx maps back to this file.

export interface Greeting {
  rank: number;
  worldSize: number;
}

/** The sum 1 + 2 + ... + n, typed, so that a type annotation sits in an imported module too. */
export function triangle(n: number): number {
  return (n * (n + 1)) / 2;
}

export function greet(g: Greeting): string {
  return `rank ${g.rank} of ${g.worldSize}: triangle ${triangle(g.rank + 1)}`;
}
