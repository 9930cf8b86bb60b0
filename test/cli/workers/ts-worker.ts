// A TypeScript worker that `weft launch` runs from its source (through tsx, no build step): type
// annotations, an interface and a relative import of another .ts module.
import { greet, type Greeting } from "./ts-helper.js";

const g: Greeting = { rank: Number(process.env.WEFT_RANK), worldSize: Number(process.env.WEFT_WORLD_SIZE) };
const extra: string[] = process.argv.slice(2);
console.log(`${greet(g)}; args ${extra.join(" ")}`);
