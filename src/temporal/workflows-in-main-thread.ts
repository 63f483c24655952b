/**
 * Worker options that run workflows on the worker's main thread, in the SDK's reusable V8 context,
 * instead of a thread of their own: that thread, its isolate and its second copy of Temporal's
 * protobuf modules cost ~25-40 MB of the worker's memory all day, and our workflows' activations are
 * short. `debugMode` is the SDK's only switch for this. It would also lift the deadlock detector's
 * limit on one activation; `isolateExecutionTimeout`, which the SDK's option types do not list but its
 * option defaults take, sets the limit back (test/integration/worker/workflows-in-main-thread.test.ts
 * proves that a looping workflow still fails its task).
 */
export const workflowsInMainThread = {
  debugMode: true,
  isolateExecutionTimeout: '5s',
} as const;
