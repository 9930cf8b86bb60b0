#!/usr/bin/env bash
# Measures Weft against its peers (../shared/peers: PyTorch, gloo, Open MPI) in one session,
# alternating runs, as BENCHMARKS.md reports them. Needs the peers' set-up:
#   apt-get install -y python3-torch libopenblas0-pthread openmpi-bin python3-mpi4py python3-numpy
# Usage: bash scripts/bench-peers.sh [pairs]      (prints JSON lines; takes ~15 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
peers=../shared/peers
pairs=${1:-3}
torch="env OMP_NUM_THREADS=1 /usr/bin/python3"

echo "# mnist-cnn, one thread"
node $peers/pair.mjs --pairs "$pairs" --field samples_per_s \
  --a "node dist/src/cli/main.js bench mnist-cnn" --b "$torch $peers/torch_cnn.py --threads 1"
echo "# gpt-tiny, one thread"
node $peers/pair.mjs --pairs "$pairs" --field tokens_per_s \
  --a "node dist/src/cli/main.js bench gpt-tiny" --b "$torch $peers/torch_gpt.py --threads 1"

echo "# all-reduce, 2 workers: weft (shared memory, TCP), gloo, Open MPI (TCP, shared memory), alternating"
for i in $(seq "$pairs"); do
  node dist/src/cli/main.js bench allreduce
  node dist/src/cli/main.js bench allreduce --transport tcp
  /usr/bin/python3 $peers/gloo_allreduce.py --world 2
  mpirun --allow-run-as-root --oversubscribe -np 2 --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo \
    /usr/bin/python3 $peers/mpi_allreduce.py --transport tcp
  mpirun --allow-run-as-root --oversubscribe -np 2 /usr/bin/python3 $peers/mpi_allreduce.py --transport shm
done
echo "# the machine: memory and loopback bandwidth"
/usr/bin/python3 $peers/membw.py --threads 1

echo "# mnist training: 1 worker, 2 workers (DDP), and PyTorch DDP, alternating"
for i in $(seq "$pairs"); do
  node dist/src/cli/main.js train mnist --json | tail -n 1
  node dist/src/cli/main.js train mnist --workers 2 --json | tail -n 1
  $torch $peers/torch_ddp_cnn.py --world 2
done
