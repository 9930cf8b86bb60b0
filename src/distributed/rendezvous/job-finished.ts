// The key an elastic job's last generation sets in the rendezvous when training is over (or the
// job stopped): workers still waiting to join stop waiting (elastic/membership.ts), and node 0's
// launcher, which serves the embedded store, stops serving it (launch/launcher.ts).
export const JOB_FINISHED_KEY = "elastic/finished";
