// The backward pass: a topological order of the graph below the root, then each op's backward in
// reverse order (micrograd's loop), with two additions that training at scale needs:
//
// Note [gradient-ready hooks]
// A leaf (a parameter) may feed several ops. Its gradient is complete once every op that consumed
// it has run its backward, so we count, for each leaf, the edges reaching it from the graph, and
// when the count drops to zero we fold the pass's gradient into `leaf.grad` and run its hooks.
// Data-parallel training starts all-reducing a bucket from those hooks while backward goes on.
//
// Note [freeing the graph]
// Each op's backward closure holds its saved activations. Once it has run we drop the closure
// (gradFn = null) and the op's pending gradient, so memory falls as backward proceeds. A second
// backward through the same graph therefore sees detached tensors, as in PyTorch without
// retain_graph. The node's bytes leave the activation count at the same moment (Note [counting
// activation bytes] in activation-bytes.ts).
//
// The pass works on GraphNode, the few fields it needs, which Tensor (tensor.ts) has: so this file
// imports nothing from tensor.ts, which calls it, and folding a leaf's gradient into `.grad`
// (which makes a tensor) is the leaf's own method.
import { releaseActivation, type ActivationNode } from "./activation-bytes.js";
import { reusing } from "./storage.js";

/** What the backward pass needs of a node of the graph; every Tensor is one. */
export interface GraphNode extends ActivationNode {
  readonly requiresGrad: boolean;
  /** The op that produced this node, or null for a leaf (or once its backward has run). */
  gradFn: { readonly inputs: readonly GraphNode[]; backward(grad: Float32Array, owned: boolean): void } | null;
  /** The gradient flowing into this node during the pass. */
  pendingGrad: Float32Array | null;
  /** Whether pendingGrad is borrowed from another node. */
  pendingShared: boolean;
  /** For a leaf: folds pendingGrad into its gradient and runs its gradient-ready hooks. */
  finishLeaf(): void;
  /** Throws, naming the cause, if its storage was handed back for reuse (Note [reusing a step's buffers]). */
  checkStorage(): void;
  /** Once its backward has run on `grad`: hands back the buffers only it held (Note [reusing a step's buffers]). */
  releaseStorage(grad: Float32Array | null, gradShared: boolean): void;
}

export function runBackward(root: GraphNode, seed: Float32Array): void {
  if (!root.requiresGrad) {
    throw new Error("backward: this tensor does not require a gradient (no input had requiresGrad, or it was computed under noGrad)");
  }
  const order = topologicalOrder(root);
  const leafEdges = new Map<GraphNode, number>();
  for (const t of order) {
    for (const input of t.gradFn!.inputs) {
      if (input.requiresGrad && input.gradFn === null) leafEdges.set(input, (leafEdges.get(input) ?? 0) + 1);
    }
  }
  root.pendingGrad = seed;
  root.pendingShared = false;
  const reuse = reusing();
  if (root.gradFn === null) {
    root.finishLeaf();
    return;
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!;
    const fn = t.gradFn!;
    const grad = t.pendingGrad;
    t.pendingGrad = null;
    t.gradFn = null;
    releaseActivation(t);
    if (grad !== null) {
      // A graph read after its step, or an alias read after its base's backward, fails here by name, not in a kernel.
      t.checkStorage();
      for (const input of fn.inputs) input.checkStorage();
      fn.backward(grad, !t.pendingShared);
    }
    if (reuse) t.releaseStorage(grad, t.pendingShared);
    for (const input of fn.inputs) {
      const left = leafEdges.get(input);
      if (left === undefined) continue;
      if (left === 1) {
        leafEdges.delete(input);
        input.finishLeaf();
      } else {
        leafEdges.set(input, left - 1);
      }
    }
  }
}

/** Ops reachable from root that need a backward, each after all of its inputs (iterative DFS). */
function topologicalOrder(root: GraphNode): GraphNode[] {
  const order: GraphNode[] = [];
  if (root.gradFn === null) return order;
  const visited = new Set<GraphNode>([root]);
  const stack: { t: GraphNode; next: number }[] = [{ t: root, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const inputs = top.t.gradFn!.inputs;
    if (top.next < inputs.length) {
      const input = inputs[top.next++]!;
      if (input.gradFn !== null && input.requiresGrad && !visited.has(input)) {
        visited.add(input);
        stack.push({ t: input, next: 0 });
      }
    } else {
      order.push(top.t);
      stack.pop();
    }
  }
  return order;
}
