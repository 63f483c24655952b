#!/usr/bin/env node
// Node >= 22.18 runs the TypeScript sources directly (type stripping), so there is no build step.
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';

// Node caches each file's stripped source and compiled code: a process whose files all hit never
// loads the type stripper, ~17 MB in the main thread and ~10 MB in each worker thread (a restore's
// reading thread), and starts sooner. In the user's home, not the shared /tmp: the cache holds code
// this process runs. Set in the environment too, which is how worker threads find it. A cache that
// cannot be written only costs that saving.
process.env.NODE_COMPILE_CACHE ??= join(homedir(), '.cache', 'dockvault', 'node-compile-cache');
enableCompileCache(process.env.NODE_COMPILE_CACHE);
// Imported only now: a static import would load and strip every file before the cache is on.
await import('../src/cli/main.ts');
