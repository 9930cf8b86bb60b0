// An image with the layout of the Dockerfile's runtime stage, made from this machine's own files
// and `docker import`ed, for a test that has no registry to pull node:20-bookworm-slim from. It
// holds what the base image would have given the job (node at /usr/local/bin/node, the shared
// libraries `ldd` lists for it and for the addon, the dynamic loader, the node user, /tmp) and
// what the runtime stage copies, each at the stage's target. Name resolution needs no files of its
// own: glibc's DNS and files lookups are built into libc, Docker mounts /etc/hosts and an
// /etc/resolv.conf that points at its embedded DNS, and /etc/nsswitch.conf says files before
// dns, as Debian's does.
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DockerDaemon } from "./docker-daemon.js";
import type { RuntimeStage } from "./runtime-stage.js";

/** The users the node images create, by the name a USER line gives. */
const IMAGE_USERS: Record<string, number> = { node: 1000 };

/** Where the node images install node (on PATH, which the entry point relies on). */
const IMAGE_NODE = "/usr/local/bin/node";

export interface LocalImage {
  /** Project paths (under the stage's copies) narrowed to: a copy whose source is a key brings only these paths under it. */
  only?: Record<string, string[]>;
  /** Project paths copied too, under the working directory as under the project's root (the script a job runs). */
  extra?: string[];
  /** Files written under the working directory: path and text (what a user's `COPY train.js .` adds). */
  write?: Record<string, string>;
}

/** The files ldd names for a binary: resolved libraries and the dynamic loader. */
function sharedLibraries(binary: string): string[] {
  const r = spawnSync("ldd", [binary], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ldd ${binary}: ${(r.stderr || r.error?.message || "").trim()}`);
  return r.stdout.split("\n").flatMap((l) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(l)?.[1] ?? []);
}

/**
 * Writes the image's file system as a tar at `tarPath` (a folder of links beside it, followed by
 * tar, so nothing large is copied twice) and returns its size in bytes.
 */
export function writeLocalImageTar(root: string, stage: RuntimeStage, image: LocalImage, tarPath: string): number {
  const uid = stage.user === undefined ? 0 : IMAGE_USERS[stage.user];
  if (uid === undefined) throw new Error(`USER ${stage.user}: the local image knows only ${Object.keys(IMAGE_USERS).join(", ")}: add its uid to IMAGE_USERS`);
  const staging = `${tarPath}.d`;
  rmSync(staging, { recursive: true, force: true });
  const link = (source: string, target: string): void => {
    if (!existsSync(source)) throw new Error(`${source} does not exist: build the project first (npm ci && npm run build)`);
    mkdirSync(dirname(join(staging, target)), { recursive: true });
    symlinkSync(source, join(staging, target));
  };
  link(process.execPath, IMAGE_NODE);
  const addon = join(root, "build", "Release", "weft.node");
  for (const lib of new Set([...sharedLibraries(process.execPath), ...sharedLibraries(addon)])) link(lib, lib);
  for (const copy of stage.copies) {
    const narrowed = image.only?.[copy.source];
    if (narrowed === undefined) link(join(root, copy.source), copy.target);
    else for (const sub of narrowed) link(join(root, copy.source, sub), join(copy.target, sub));
  }
  for (const path of image.extra ?? []) link(join(root, path), join(stage.workdir, path));
  for (const [path, text] of Object.entries(image.write ?? {})) {
    mkdirSync(dirname(join(staging, stage.workdir, path)), { recursive: true });
    writeFileSync(join(staging, stage.workdir, path), text);
  }
  mkdirSync(join(staging, "etc"), { recursive: true });
  const users = Object.entries(IMAGE_USERS);
  writeFileSync(join(staging, "etc", "passwd"), ["root:x:0:0:root:/root:/bin/sh", ...users.map(([n, id]) => `${n}:x:${id}:${id}::/home/${n}:/bin/sh`)].join("\n") + "\n");
  writeFileSync(join(staging, "etc", "group"), ["root:x:0:", ...users.map(([n, id]) => `${n}:x:${id}:`)].join("\n") + "\n");
  writeFileSync(join(staging, "etc", "nsswitch.conf"), "hosts: files dns\n");
  mkdirSync(join(staging, "tmp"));
  chmodSync(join(staging, "tmp"), 0o1777);
  // The node user owns its home, the working directory, as in the node images: runs/ goes there.
  mkdirSync(join(staging, stage.workdir), { recursive: true });
  chownSync(join(staging, stage.workdir), uid, uid);
  const tar = spawnSync("tar", ["--create", "--dereference", "--numeric-owner", "--file", tarPath, "-C", staging, "."], { encoding: "utf8" });
  rmSync(staging, { recursive: true, force: true });
  if (tar.status !== 0) throw new Error(`tar of the local image: ${(tar.stderr || tar.error?.message || "").trim()}`);
  return statSync(tarPath).size;
}

/** `docker import`s the tar as `tag`, with the stage's working directory, user, environment and entry point. */
export function importLocalImage(daemon: DockerDaemon, stage: RuntimeStage, tarPath: string, tag: string): void {
  const changes = [
    `WORKDIR ${stage.workdir}`,
    ...(stage.user === undefined ? [] : [`USER ${stage.user}`]),
    ...stage.env.map((e) => `ENV ${e}`),
    `ENTRYPOINT ${JSON.stringify(stage.entrypoint)}`,
  ];
  daemon.docker(["import", ...changes.flatMap((c) => ["--change", c]), tarPath, tag]);
}
