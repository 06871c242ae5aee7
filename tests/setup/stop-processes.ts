import { afterAll } from 'vitest';
import { stopStartedProcesses } from '../helpers/processes.ts';

// Runs after the file's own afterAll hooks: whatever a failed or timed-out hook left running
// (a server whose start was still under way when its hook timed out) is stopped here.
afterAll(() => stopStartedProcesses());
