#!/usr/bin/env -S node --no-node-snapshot
// The `substrate` binary. Plain JavaScript so it runs with no build step: it registers tsx's
// loader in this process and then runs the TypeScript CLI as it is in the repository.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
