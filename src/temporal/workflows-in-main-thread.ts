import { Worker, type WorkerOptions } from '@temporalio/worker';
import { globalHandlers } from '@temporalio/worker/lib/workflow/vm-shared.js';

/**
 * Worker options that run workflows on the worker's main thread, in the SDK's reusable V8 context,
 * instead of a thread of their own: that thread, its isolate and its second copy of Temporal's
 * protobuf modules cost ~25-40 MB of the worker's memory all day, and our workflows' activations are
 * short. `debugMode` is the SDK's only switch for this. It would also lift the deadlock detector's
 * limit on one activation; `isolateExecutionTimeout`, which the SDK's option types do not list but its
 * option defaults take, sets the limit back (test/integration/worker/workflows-in-main-thread.test.ts
 * proves that a looping workflow still fails its task).
 */
const workflowsInMainThread = {
  debugMode: true,
  isolateExecutionTimeout: '5s',
} as const;

/**
 * A workflow worker whose workflows run on this thread (see above). For the stack traces of a running
 * workflow's pending promises (the Web UI's "Stack Trace" tab), the SDK hooks the creation and
 * settling of every promise of the thread it runs workflows on, each call compiling a function to
 * find the promise's workflow. On a workflow thread of its own that is workflow code only; here it is
 * every promise of the activities too: 0.88 s of a first 1 GB backup's 14.1 s on this thread, 0.39 of
 * 5.2 s in the second (profiled). So the hook is stopped once the worker exists, and workflows answer
 * the stack trace query with the SDK's "stack traces are not enabled" error. What a run is doing is
 * in its progress phase (search attributes) and its pending activities. The hook lives in the SDK's
 * shared module, which it installs once per process and which has no public switch.
 */
export async function createMainThreadWorkflowWorker(options: WorkerOptions): Promise<Worker> {
  const worker = await Worker.create({ ...options, ...workflowsInMainThread });
  (globalHandlers as unknown as { stopPromiseHook: () => void }).stopPromiseHook();
  globalHandlers.promiseHookInstalled = false;
  // Before the SDK's handler, which Worker.create installed; once per process.
  if (!process.listeners('unhandledRejection').includes(throwStrayRejection))
    process.prependListener('unhandledRejection', throwStrayRejection);
  return worker;
}

/** A promise of the worker's own code (an activity's, say) rejected and nothing handled it. */
export class StrayRejectionError extends Error {
  override name = 'StrayRejectionError';
}

/**
 * The SDK's process-wide handler of unhandled rejections fails the workflow task of a workflow's
 * promise; on the thread that runs workflows it also sees every other promise of the process, finds
 * no workflow and throws "Unhandled Promise rejection for unknown Workflow Run id='undefined'". A
 * workflow's promises come from its context's realm, not this one's: one of this realm is the
 * worker's own, and is thrown as such, ending the process as Node does by default (a supervisor
 * restarts the worker; its reconciler restarts containers a dead run left stopped).
 */
function throwStrayRejection(reason: unknown, promise: Promise<unknown>): void {
  if (!(promise instanceof Promise)) return;
  const what = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
  throw new StrayRejectionError(
    `dockvault worker: a promise of the worker's own code (not a workflow's) was rejected and nothing handled it: ${what}`,
    { cause: reason },
  );
}
