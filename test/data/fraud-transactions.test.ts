// The synthetic transactions (Note [synthetic transactions]): seeded, cached, at the planned
// prevalence with all three patterns; the features read only the customer's past (Note [fraud
// features]); the split is by time (Note [fraud split]); the CSV reader.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FRAUD_FEATURES, sliceTable, timeSplitIndex, transactionFeatures } from "../../src/data/fraud-features.js";
import { generateTransactions, loadSyntheticTransactions, readTransactionsCsv } from "../../src/data/fraud-transactions.js";
import { readSensorReadings, sensorFeatures } from "../../src/data/sensor-network.js";

test("the generator is seeded: the same seed gives the same transactions, another seed others", () => {
  const a = generateTransactions({ customers: 100 }), b = generateTransactions({ customers: 100 }), c = generateTransactions({ customers: 100, seed: 1 });
  assert.deepEqual([...a.amount], [...b.amount]);
  assert.deepEqual([...a.label], [...b.label]);
  assert.notDeepEqual([...a.amount.subarray(0, 50)], [...c.amount.subarray(0, 50)]);
  for (let i = 1; i < a.length; i++) assert.ok(a.time[i]! >= a.time[i - 1]!, "not sorted by time");
});

test("the default set: about 0.7% fraud, all three patterns, the split by time at about day 45", () => {
  const tx = loadSyntheticTransactions();
  assert.equal(tx.length, 135_189);
  const fraud = tx.label.reduce((s, y) => s + y, 0);
  assert.equal(fraud, 889);
  assert.ok(fraud / tx.length > 0.005 && fraud / tx.length < 0.01);
  const byPattern = [0, 0, 0, 0];
  for (const p of tx.pattern) byPattern[p]!++;
  assert.deepEqual(byPattern, [134_300, 332, 144, 413]);
  const cut = timeSplitIndex(tx.time);
  assert.equal(cut, 101_316);
  const cutoff = tx.time[0]! + 0.75 * (tx.time[tx.length - 1]! - tx.time[0]!);
  assert.ok(tx.time[cut - 1]! < cutoff && tx.time[cut]! >= cutoff);
  assert.ok(Math.abs(cutoff / 86_400 - 45) < 0.1, `the cut falls on day ${cutoff / 86_400}`);
  // The cache gives back exactly what the generator draws.
  const fresh = generateTransactions();
  assert.deepEqual([...fresh.amount.subarray(0, 1000)], [...tx.amount.subarray(0, 1000)]);
  assert.deepEqual([...fresh.device.subarray(-1000)], [...tx.device.subarray(-1000)]);
});

test("features by hand: windows, novelty and the usual amount read only the customer's past", () => {
  // Customer 0: $20 at t=0 (merchant 1, device 0, region 0); $2 at t=1800 (merchant 2); $1 at 5400 (merchant 2, device 9, region 3).
  // Customer 1 in between must not count for customer 0.
  const tx = {
    time: Float64Array.of(0, 1000, 1800, 5400), customer: Int32Array.of(0, 1, 0, 0), merchant: Int32Array.of(1, 1, 2, 2),
    category: Int32Array.of(0, 0, 4, 4), amount: Float64Array.of(20, 500, 2, 1), region: Int32Array.of(0, 0, 0, 3),
    device: Int32Array.of(0, 1, 0, 9), label: Uint8Array.of(0, 0, 1, 1), pattern: Uint8Array.of(0, 0, 1, 1), length: 4,
  };
  const f = transactionFeatures(tx);
  const get = (i: number, name: (typeof FRAUD_FEATURES)[number]) => f.numeric[i * f.features + FRAUD_FEATURES.indexOf(name)]!;
  const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);
  // First transaction: no past.
  assert.deepEqual([get(0, "count_1h"), get(0, "new_device"), get(0, "new_merchant"), get(0, "amount_vs_usual"), get(0, "log_history")], [0, 0, 0, 0, 0]);
  // Third row (customer 0's second): one transaction 30 min before, $20, merchant 1.
  near(get(2, "count_1h"), Math.log(2));
  near(get(2, "amount_1h"), Math.log(21));
  near(get(2, "log_gap"), Math.log(1801));
  near(get(2, "amount_vs_usual"), Math.log(2) - Math.log(20));
  assert.deepEqual([get(2, "new_merchant"), get(2, "new_device"), get(2, "small"), get(2, "foreign")], [1, 0, 1, 0]);
  // Fourth: 5400 s after the first (over an hour) and 3600 after the second (within): one in the hour, two in the day.
  near(get(3, "count_1h"), Math.log(2));
  near(get(3, "count_24h"), Math.log(3));
  near(get(3, "small_1h"), Math.log(2));
  near(get(3, "amount_vs_usual"), Math.log(1) - (Math.log(20) + Math.log(2)) / 2);
  assert.deepEqual([get(3, "new_merchant"), get(3, "new_device"), get(3, "foreign")], [0, 1, 1]);
  // Categorical: category and hour (5400 s is 1:30, hour 1).
  assert.deepEqual([...f.categorical.subarray(6, 8)], [4, 1]);
  assert.equal(sliceTable(f, 2, 4).length, 2);
});

test("readTransactionsCsv reads named or numbered categories, sorts by time, and refuses what it cannot read", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-fraud-"));
  try {
    const file = join(dir, "tx.csv");
    writeFileSync(file, "id,time,customer,merchant,category,amount,region,device,label\na,60,7,3,online,1.5,2,phone,1\nb,0,7,3,0,20,2,phone,0\n");
    const tx = readTransactionsCsv(file);
    assert.deepEqual([[...tx.time], [...tx.category], [...tx.amount], [...tx.label], [...tx.device]], [[0, 60], [0, 4], [20, 1.5], [0, 1], [0, 0]]);
    writeFileSync(file, "time,customer,amount\n1,2,3\n");
    assert.throws(() => readTransactionsCsv(file), /has no column merchant, category, region, device, label/);
    writeFileSync(file, "time,customer,merchant,category,amount,region,device,label\n0,1,1,shoes,5,0,d,0\n");
    assert.throws(() => readTransactionsCsv(file), /line 2 .* has category "shoes"/);
    assert.throws(() => readTransactionsCsv(join(dir, "missing.csv")), /does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the sensor set: 18,914 real readings, 149 anomalies, split by mote into 117 and 32", () => {
  const r = readSensorReadings();
  assert.equal(r.length, 18_914);
  const { table, train } = sensorFeatures(r);
  let trainRows = 0, trainPos = 0, testPos = 0;
  for (let i = 0; i < r.length; i++) {
    if (train[i]) { trainRows++; trainPos += table.label[i]!; } else testPos += table.label[i]!;
  }
  assert.deepEqual([trainRows, trainPos, r.length - trainRows, testPos], [9456, 117, 9458, 32]);
});
