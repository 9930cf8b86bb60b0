// Receive from any source: the next message (with the asked-for tag) from whichever peer sends
// first, reported with its sender; the other side uses an ordinary send(). This is what a
// parameter server waits with, and MPI's MPI_ANY_SOURCE.
//
// Note [claim on match]: a message is one frame per segment (send-recv.ts), and the frames of
// two senders can arrive at the same time. So frame 0 of the message, and only frame 0, is posted
// on every peer's mailbox at once, each at that peer's next p2p message number; the first peer
// whose frame matches claims the receive at the moment of matching, when the mailbox is asked
// where the frame goes (over TCP before a byte of it is read off the socket; in-process before
// the copy), and the postings on every other peer are withdrawn in the same call. A second
// sender's frame 0 then finds nothing posted and waits (in its socket over TCP, in the mailbox
// in-process) for a later receive from that peer: two senders can never both write into the
// buffer, and only the claimed peer's message counter advances, so the per-pair numbering of
// send/recv stays what both sides expect. The message's other frames are posted once frame 0 has
// landed, on the claimed peer alone: they can only come from it. A frame 0 whose user tag is not
// the one asked for is not claimed either; it stays for a receive with that tag from that peer.
//
// Several peers may already be waiting when the receive is posted; the first one posted to wins.
// The engine starts the posting after the previous source, so a fast sender cannot starve a slow
// one (a tie is broken round-robin, not by rank).
import type { OpRun } from "./op-context.js";
import { p2pCheck, p2pSegments } from "./send-recv.js";

/**
 * Starts a receive-any of `buf` (user tag `tag`) from `peers`, in posting order. `seqOf(p)` is
 * p's next message number and `onClaim(p)` is called once p's message is taken (the engine
 * advances p's counter there). Returns the source, valid once the run completed.
 */
export function runRecvAny(
  run: OpRun, buf: Float32Array, tag: number, peers: readonly number[],
  seqOf: (peer: number) => number, onClaim: (peer: number) => void,
): () => number {
  const segs = p2pSegments(buf.length, run.segmentElems);
  let source = -1;
  const first = segs[0]!;
  run.recvFromAny(
    peers, seqOf, 0, buf.subarray(first.start, first.start + first.length),
    (h) => h.aux0 === tag,
    (peer) => {
      source = peer;
      onClaim(peer);
    },
    (peer) => {
      // Posted from a frame callback, not from the claim itself: the claim runs while a socket
      // reader is asking where frame 0 goes, and a post there would restart that same reader.
      const check = p2pCheck(run, peer, tag, buf.length);
      segs.slice(1).forEach((rg, i) => run.recv(peer, i + 1, buf.subarray(rg.start, rg.start + rg.length), () => {}, check));
    },
    (peer, h) => p2pCheck(run, peer, tag, buf.length)(h),
  );
  return () => source;
}
