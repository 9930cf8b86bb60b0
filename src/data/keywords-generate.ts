// The child process that synthesizes keyword clips (data/keywords.ts, generateKeywordClips): it
// reads a JSON list of jobs and runs `espeak-ng -v VOICE -s SPEED -p PITCH --stdout WORD | sox -t
// wav - -r 16000 -b 16 -c 1 OUT` for each, `concurrency` pipelines at once, then exits 0, or 1
// with one line on stderr naming the first clip that failed. It is a separate process so that
// its caller can stay synchronous while two synthesizers keep both cores busy.
//
//   node keywords-generate.js JOBS.json [CONCURRENCY]
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";

interface Job {
  voice: string;
  speed: number;
  pitch: number;
  word: string;
  out: string;
}

/** Runs one espeak-ng | sox pipeline; resolves when `job.out` is written. */
function synthesize(job: Job): Promise<void> {
  return new Promise((resolve, reject) => {
    const espeak = spawn("espeak-ng", ["-v", job.voice, "-s", String(job.speed), "-p", String(job.pitch), "--stdout", job.word], { stdio: ["ignore", "pipe", "pipe"] });
    const sox = spawn("sox", ["-q", "-t", "wav", "-", "-r", "16000", "-b", "16", "-e", "signed-integer", "-c", "1", "-t", "wav", job.out], { stdio: ["pipe", "ignore", "pipe"] });
    espeak.stdout.pipe(sox.stdin);
    let errors = "";
    espeak.stderr.on("data", (d: Buffer) => { errors += d; });
    sox.stderr.on("data", (d: Buffer) => { errors += d; });
    const what = `"${job.word}" in voice ${job.voice} (-s ${job.speed} -p ${job.pitch})`;
    espeak.on("error", (e) => reject(new Error(`espeak-ng for ${what}: ${e.message}`)));
    sox.on("error", (e) => reject(new Error(`sox for ${what}: ${e.message}`)));
    sox.stdin.on("error", () => { /* sox died early: its exit status says why */ });
    // Judged once both have exited, in whichever order their close events come.
    const status: { espeak?: number | null; sox?: number | null } = {};
    const settle = (): void => {
      if (!("espeak" in status) || !("sox" in status)) return;
      const size = status.sox === 0 ? statSync(job.out, { throwIfNoEntry: false })?.size ?? 0 : 0;
      if (status.espeak === 0 && status.sox === 0 && size > 44) resolve();
      else reject(new Error(`synthesizing ${what} into ${job.out}: espeak-ng exit ${status.espeak}, sox exit ${status.sox}, ${size} bytes${errors ? `: ${errors.trim().split("\n")[0]}` : ""}`));
    };
    espeak.on("close", (code) => { status.espeak = code; settle(); });
    sox.on("close", (code) => { status.sox = code; settle(); });
  });
}

async function main(): Promise<void> {
  const [jobsFile, concurrencyArg] = process.argv.slice(2);
  if (!jobsFile) throw new Error("usage: keywords-generate.js JOBS.json [CONCURRENCY]");
  const jobs = JSON.parse(readFileSync(jobsFile, "utf8")) as Job[];
  const concurrency = Math.max(1, Number(concurrencyArg ?? 2) | 0);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) await synthesize(jobs[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, lane));
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
