// What the collective engine needs from a network: ordered, reliable frames to and from each peer.
// Implementations: TcpTransport (one process per rank) and InProcessTransport (all ranks in one
// process, for tests). Frames between one pair of ranks arrive in the order they were sent.
import type { FrameHeader } from "../wire/frame.js";
import type { FrameSink } from "../wire/frame-reader.js";

/** How a peer was lost: its link closed or failed, or it fell silent (transport/link-watch.ts). */
export type PeerLoss = "closed" | "silent";

/** What the engine gives a transport: where each peer's frames go, and whom to tell about losses. */
export interface TransportHandlers {
  /** The sink for frames from `peer` (lent payload destinations land data without a copy). */
  sinkFor(peer: number): FrameSink;
  /**
   * The link to `peer` failed or closed, or showed nothing for the silence limit; no more frames
   * will come from or go to it. `reason` says what was seen.
   */
  onPeerLost(peer: number, reason: string, how: PeerLoss): void;
}

export interface Transport {
  readonly rank: number;
  readonly worldSize: number;
  /**
   * Sends one frame to `peer`. The payload is not copied: it must stay unchanged until `onWritten`
   * runs (with an error if the link failed).
   */
  send(peer: number, header: Omit<FrameHeader, "payloadBytes">, payload?: Uint8Array, onWritten?: (err?: Error | null) => void): void;
  /**
   * Runs `fn`, holding back the frames it sends until it returns so they leave in as few writes
   * as possible (an operation's descriptors and first data go out in one system call per peer).
   */
  batch(fn: () => void): void;
  /** Closes every link. */
  close(): void;
}
