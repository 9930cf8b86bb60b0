// Card transactions for fraud detection. The default set is SYNTHETIC: a seeded generator of
// customers, merchants and their transactions over 60 days, with three fraud patterns planted at
// about 0.7% of transactions (Note [synthetic transactions]); nothing in it is a real person's.
// It is generated on first use and cached ($WEFT_CACHE/fraud/, keyed by the generator's version
// and parameters). A deployment reads its own transactions instead with readTransactionsCsv(path)
// (columns in Note [transaction CSV]) and keeps everything else: the features
// (fraud-features.ts), the split by time, the model and the metrics.
//
// Note [synthetic transactions]
// Merchants: 400, each with a category (grocery, restaurant, fuel, retail, online, electronics,
// travel, gift cards: the last three dear or easily resold) and one of 10 regions. Customers: 2,000,
// each with a home region, a spending scale (lognormal, median $30), a rate (lognormal, median one
// transaction a day), a peak hour of the day, and 12 usual merchants in their home region, picked
// from three favourite categories. A legitimate transaction comes at a Poisson time, at an hour
// drawn around the customer's peak, 88% of the time at a usual merchant and otherwise at any, for
// the customer's scale times the category's price level times a lognormal factor (sd 0.6), from the
// customer's device (2% of the time a new one: a new phone).
//
// Fraud comes in episodes: each customer's card is compromised with probability 0.06 at a uniform
// moment of the 60 days, and the episode follows one of three patterns:
//  - card testing (40%): 3-8 charges of $0.50-$2.99 at online or gift-card merchants, 1-5 minutes
//    apart, from a new device; with probability 0.6 followed within the hour by one large
//    purchase (electronics or gift cards, 5-20 times the customer's scale);
//  - account takeover (30%): a new device in a foreign region, then 2-5 purchases of electronics,
//    travel or gift cards at 4-15 times the scale, 10 minutes to 6 hours apart, at night (0-5 h)
//    half of the time;
//  - velocity burst (30%, a cloned card used in shops): 6-15 purchases at distinct retail,
//    electronics or fuel merchants of the home region, 1-3 times the scale (each alone unremarkable),
//    2-10 minutes apart, from no new device.
// So some fraud is odd in itself (tiny or huge amounts, a new device abroad) and some only in its
// context (its pace): the features have to read the customer's history to see it. The customer's
// legitimate transactions go on around an episode.
//
// Note [transaction CSV]
// readTransactionsCsv reads a header line and one transaction per line, comma-separated, with at
// least the columns time (seconds since any fixed origin), customer, merchant, category (an
// integer 0-7 as in FRAUD_CATEGORIES, or its name), amount, region (an integer), device (any
// token), label (1 fraud, 0 not); other columns are ignored. Rows are sorted by time on reading.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Rng } from "../util/rng.js";

/** Merchant categories; a transaction's `category` indexes this list. */
export const FRAUD_CATEGORIES = ["grocery", "restaurant", "fuel", "retail", "online", "electronics", "travel", "gift-cards"] as const;
/** Typical price of each category, relative to a customer's spending scale. */
const CATEGORY_PRICE = [1, 0.8, 1.2, 1.5, 1, 4, 6, 2];
/** Fraud patterns; `pattern` 0 is legitimate. */
export const FRAUD_PATTERNS = ["legitimate", "card-testing", "account-takeover", "velocity-burst"] as const;

/** Transactions as columns, sorted by time; index i is one transaction. */
export interface Transactions {
  /** Seconds since the start. */
  time: Float64Array;
  customer: Int32Array;
  merchant: Int32Array;
  category: Int32Array;
  amount: Float64Array;
  region: Int32Array;
  /** Device id; a customer's own devices and the fraudsters' new ones are all distinct ids. */
  device: Int32Array;
  /** 1 fraud, 0 legitimate. */
  label: Uint8Array;
  /** FRAUD_PATTERNS index (0 when legitimate or unknown, as in a CSV). */
  pattern: Uint8Array;
  length: number;
}

/** The generator's parameters (Note [synthetic transactions]). */
export interface TransactionGeneratorOptions {
  seed: number;
  customers: number;
  merchants: number;
  days: number;
  regions: number;
  /** Chance that a customer's card is compromised during the period. */
  compromiseRate: number;
}

export const FRAUD_GENERATOR_DEFAULTS: TransactionGeneratorOptions = { seed: 0, customers: 2000, merchants: 400, days: 60, regions: 10, compromiseRate: 0.06 };
/** Bump when the generator changes what a seed produces: older caches are then not read. */
export const FRAUD_GENERATOR_VERSION = 1;

const DAY = 86_400;

interface Row {
  time: number; customer: number; merchant: number; category: number; amount: number; region: number; device: number; pattern: number;
}

/** Draws transactions (Note [synthetic transactions]); the same options give the same rows everywhere. */
export function generateTransactions(options: Partial<TransactionGeneratorOptions> = {}): Transactions {
  const o = { ...FRAUD_GENERATOR_DEFAULTS, ...options };
  for (const k of ["customers", "merchants", "days", "regions"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`generateTransactions: ${k} ${o[k]} must be a positive integer`);
  }
  if (!(o.compromiseRate >= 0 && o.compromiseRate <= 1)) throw new RangeError(`generateTransactions: compromiseRate ${o.compromiseRate} must lie in [0, 1]`);
  const rng = new Rng(o.seed);
  const world = rng.fork(1), legit = rng.fork(2), fraud = rng.fork(3);
  const lognormal = (r: Rng, median: number, sd: number) => median * Math.exp(sd * r.normal());
  const uniform = (r: Rng, a: number, b: number) => a + (b - a) * r.next();
  const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.int(xs.length)]!;

  const merchantCategory = Int32Array.from({ length: o.merchants }, () => world.int(FRAUD_CATEGORIES.length));
  const merchantRegion = Int32Array.from({ length: o.merchants }, () => world.int(o.regions));
  const byCategory = FRAUD_CATEGORIES.map((_, k) => [...merchantCategory.keys()].filter((m) => merchantCategory[m] === k));
  const byCategoryRegion = (k: number, region: number) => byCategory[k]!.filter((m) => merchantRegion[m] === region);

  const rows: Row[] = [];
  let nextDevice = o.customers; // ids 0..customers-1 are the customers' first devices
  const end = o.days * DAY;
  for (let c = 0; c < o.customers; c++) {
    const home = world.int(o.regions);
    const scale = lognormal(world, 30, 0.6);
    const rate = lognormal(world, 1, 0.5) / DAY;
    const peak = uniform(world, 8, 21);
    const favourites = [0, 1, 2].map(() => world.int(FRAUD_CATEGORIES.length));
    const usual = Array.from({ length: 12 }, () => {
      const k = pick(world, favourites);
      const near = byCategoryRegion(k, home);
      return pick(world, near.length > 0 ? near : byCategory[k]!.length > 0 ? byCategory[k]! : [world.int(o.merchants)]);
    });
    let device = c;
    // Legitimate transactions: a Poisson process, each moved to an hour near the customer's peak.
    for (let t = -Math.log(1 - legit.next()) / rate; t < end; t += -Math.log(1 - legit.next()) / rate) {
      const day = Math.floor(t / DAY);
      const hour = (((peak + 3 * legit.normal()) % 24) + 24) % 24;
      const time = day * DAY + hour * 3600;
      const merchant = legit.next() < 0.88 ? pick(legit, usual) : legit.int(o.merchants);
      if (legit.next() < 0.02) device = nextDevice++;
      const amount = Math.max(0.5, scale * CATEGORY_PRICE[merchantCategory[merchant]!]! * lognormal(legit, 1, 0.6));
      rows.push({ time, customer: c, merchant, category: merchantCategory[merchant]!, amount, region: merchantRegion[merchant]!, device, pattern: 0 });
    }
    if (fraud.next() >= o.compromiseRate) continue;
    // A fraud episode, at a uniform moment that leaves it a day to play out.
    let t = uniform(fraud, 0, end - DAY);
    const u = fraud.next();
    const push = (merchant: number, amount: number, dev: number, pattern: number, region = merchantRegion[merchant]!) =>
      rows.push({ time: t, customer: c, merchant, category: merchantCategory[merchant]!, amount, region, device: dev, pattern });
    if (u < 0.4) {
      const dev = nextDevice++;
      const pool = [...byCategory[4]!, ...byCategory[7]!];
      for (let i = 0, n = 3 + fraud.int(6); i < n; i++) {
        push(pick(fraud, pool), Math.round(uniform(fraud, 0.5, 2.99) * 100) / 100, dev, 1);
        t += uniform(fraud, 60, 300);
      }
      if (fraud.next() < 0.6) {
        t += uniform(fraud, 60, 3600);
        push(pick(fraud, [...byCategory[5]!, ...byCategory[7]!]), scale * uniform(fraud, 5, 20), dev, 1);
      }
    } else if (u < 0.7) {
      const dev = nextDevice++;
      const abroad = (home + 1 + fraud.int(o.regions - 1 || 1)) % o.regions;
      if (fraud.next() < 0.5) t = Math.floor(t / DAY) * DAY + uniform(fraud, 0, 5) * 3600;
      const pool = [5, 6, 7].flatMap((k) => byCategoryRegion(k, abroad));
      const shops = pool.length > 0 ? pool : [...byCategory[5]!, ...byCategory[6]!, ...byCategory[7]!];
      for (let i = 0, n = 2 + fraud.int(4); i < n; i++) {
        push(pick(fraud, shops), scale * uniform(fraud, 4, 15), dev, 2, abroad);
        t += uniform(fraud, 600, 6 * 3600);
      }
    } else {
      const pool = [3, 5, 2].flatMap((k) => byCategoryRegion(k, home));
      const shops = fraud.shuffle(pool.length > 0 ? pool : [...byCategory[3]!]).slice(0, 15);
      for (let i = 0, n = Math.min(shops.length, 6 + fraud.int(10)); i < n; i++) {
        push(shops[i]!, scale * uniform(fraud, 1, 3), device, 3);
        t += uniform(fraud, 120, 600);
      }
    }
  }
  rows.sort((a, b) => a.time - b.time || a.customer - b.customer);
  return fromRows(rows.filter((r) => r.time < end));
}

function fromRows(rows: readonly Row[]): Transactions {
  return {
    time: Float64Array.from(rows, (r) => r.time),
    customer: Int32Array.from(rows, (r) => r.customer),
    merchant: Int32Array.from(rows, (r) => r.merchant),
    category: Int32Array.from(rows, (r) => r.category),
    amount: Float64Array.from(rows, (r) => r.amount),
    region: Int32Array.from(rows, (r) => r.region),
    device: Int32Array.from(rows, (r) => r.device),
    label: Uint8Array.from(rows, (r) => (r.pattern > 0 ? 1 : 0)),
    pattern: Uint8Array.from(rows, (r) => r.pattern),
    length: rows.length,
  };
}

/** Where generated transactions are cached: $WEFT_CACHE (default ~/.cache/weft)/fraud/<version and parameters>.json. */
export function fraudCacheFile(options: TransactionGeneratorOptions): string {
  const root = process.env.WEFT_CACHE ?? join(homedir(), ".cache", "weft");
  const o = options;
  return join(root, "fraud", `transactions-v${FRAUD_GENERATOR_VERSION}-seed${o.seed}-c${o.customers}-m${o.merchants}-d${o.days}-r${o.regions}-p${o.compromiseRate}.json`);
}

const COLUMNS = ["time", "customer", "merchant", "category", "amount", "region", "device", "pattern"] as const;

/**
 * The synthetic transactions for these options, from the cache if there, else generated and
 * cached (written to a temporary name, then renamed, so racing workers never read half a file).
 */
export function loadSyntheticTransactions(options: Partial<TransactionGeneratorOptions> = {}): Transactions {
  const o = { ...FRAUD_GENERATOR_DEFAULTS, ...options };
  const file = fraudCacheFile(o);
  if (existsSync(file)) {
    try {
      const cols = JSON.parse(readFileSync(file, "utf8")) as Record<(typeof COLUMNS)[number], number[]>;
      const n = cols.time.length;
      if (COLUMNS.every((k) => Array.isArray(cols[k]) && cols[k].length === n)) {
        return {
          time: Float64Array.from(cols.time), customer: Int32Array.from(cols.customer), merchant: Int32Array.from(cols.merchant),
          category: Int32Array.from(cols.category), amount: Float64Array.from(cols.amount), region: Int32Array.from(cols.region),
          device: Int32Array.from(cols.device), label: Uint8Array.from(cols.pattern, (p) => (p > 0 ? 1 : 0)), pattern: Uint8Array.from(cols.pattern), length: n,
        };
      }
    } catch {
      // A damaged cache: regenerate it below.
    }
  }
  const tx = generateTransactions(o);
  try {
    mkdirSync(dirname(file), { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, JSON.stringify(Object.fromEntries(COLUMNS.map((k) => [k, Array.from(tx[k])]))));
    renameSync(partial, file);
  } catch {
    // An unwritable cache costs the generation again next time, nothing else.
  }
  return tx;
}

/**
 * Transactions from a CSV file (Note [transaction CSV]), sorted by time.
 *
 * @example
 * ```ts
 * const { writeFileSync, mkdtempSync } = await import("node:fs");
 * const file = mkdtempSync("tx-") + "/tx.csv";
 * writeFileSync(file, "time,customer,merchant,category,amount,region,device,label\n60,7,3,online,1.5,2,phone,1\n0,7,3,4,20,2,phone,0\n");
 * const tx = readTransactionsCsv(file);
 * assert.deepEqual([tx.length, [...tx.time], [...tx.label], [...tx.category]], [2, [0, 60], [0, 1], [4, 4]]);
 * ```
 */
export function readTransactionsCsv(path: string): Transactions {
  if (!existsSync(path)) throw new Error(`readTransactionsCsv: ${path} does not exist: pass a CSV file with the columns of Note [transaction CSV]`);
  const lines = readFileSync(path, "utf8").split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0]?.split(",").map((h) => h.trim().toLowerCase()) ?? [];
  const need = ["time", "customer", "merchant", "category", "amount", "region", "device", "label"];
  const missing = need.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new Error(`readTransactionsCsv: ${path} has no column ${missing.join(", ")}; its header is "${lines[0] ?? ""}"`);
  const at = Object.fromEntries(need.map((c) => [c, header.indexOf(c)])) as Record<string, number>;
  const devices = new Map<string, number>();
  const rows: Row[] = lines.slice(1).map((line, i) => {
    const f = line.split(",").map((x) => x.trim());
    const num = (c: string): number => {
      const v = Number(f[at[c]!]);
      if (!Number.isFinite(v)) throw new Error(`readTransactionsCsv: line ${i + 2} of ${path} has ${c} "${f[at[c]!]}", not a number`);
      return v;
    };
    const cat = f[at.category!]!;
    const named = FRAUD_CATEGORIES.indexOf(cat as (typeof FRAUD_CATEGORIES)[number]);
    const category = named >= 0 ? named : num("category");
    if (!Number.isInteger(category) || category < 0 || category >= FRAUD_CATEGORIES.length) {
      throw new Error(`readTransactionsCsv: line ${i + 2} of ${path} has category "${cat}": use 0-${FRAUD_CATEGORIES.length - 1} or one of ${FRAUD_CATEGORIES.join(", ")}`);
    }
    const deviceKey = `${f[at.customer!]}/${f[at.device!]}`;
    if (!devices.has(deviceKey)) devices.set(deviceKey, devices.size);
    const label = num("label");
    if (label !== 0 && label !== 1) throw new Error(`readTransactionsCsv: line ${i + 2} of ${path} has label ${label}: use 1 for fraud, 0 otherwise`);
    return { time: num("time"), customer: num("customer"), merchant: num("merchant"), category, amount: num("amount"), region: num("region"), device: devices.get(deviceKey)!, pattern: label };
  });
  rows.sort((a, b) => a.time - b.time);
  const tx = fromRows(rows);
  tx.pattern.fill(0); // a CSV names no pattern
  return tx;
}
