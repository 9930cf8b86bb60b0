// A key that lives as long as its process: EtcdStore.setWithLease binds it to an etcd lease that
// this process renews (etcd3 sends a keep-alive every third of the TTL). When the process dies,
// renewals stop and etcd deletes the key once the TTL runs out; that is how the job learns that a
// member is gone without anyone having to say so.
import { EtcdLeaseInvalidError, type Lease } from "etcd3";
import { StoreError } from "../base/errors.js";
import { oneLine, untilDeadline, type AttemptContext } from "./etcd-retry.js";

export interface LeasedKey {
  readonly key: string;
  readonly ttlSeconds: number;
  /**
   * Settles (never rejects) with why, if etcd drops the lease while we still hold it: the key is
   * gone, for instance after etcd was unreachable for longer than the TTL. Stays pending otherwise.
   */
  readonly lost: Promise<StoreError>;
  /** Deletes the key now, by revoking its lease, and stops renewing it. */
  revoke(): Promise<void>;
}

export class EtcdLeasedKey implements LeasedKey {
  readonly lost: Promise<StoreError>;

  constructor(
    readonly key: string,
    readonly ttlSeconds: number,
    private readonly lease: Lease,
    private readonly owner: { revokeContext(): AttemptContext; forget(): void },
  ) {
    this.lost = new Promise((resolve) => {
      lease.on("lost", (err) => {
        owner.forget();
        const why = err instanceof EtcdLeaseInvalidError ? "etcd no longer has it" : oneLine(err.message);
        resolve(new StoreError(`the lease on ${key} (${ttlSeconds} s) was lost (${why}), so the key is gone: was etcd unreachable for longer than the TTL?`));
      });
    });
  }

  async revoke(): Promise<void> {
    // Lease.revoke stops the keep-alives first, so a retry only repeats the revoke request; one
    // that etcd no longer knows counts as done.
    this.owner.forget();
    await untilDeadline(this.owner.revokeContext(), (d) => this.lease.revoke({ deadline: d }));
  }
}
