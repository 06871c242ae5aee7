import type { IncomingMessage } from 'node:http';

// Apart from the server so that the Vite plugin can route upgrades without loading it.
export const realtimePath = '/ws';

/** Whether an upgrade request is for `/ws` (others belong to someone else, e.g. Vite's HMR socket). */
export const isRealtimeRequest = (request: IncomingMessage) =>
	new URL(request.url ?? '/', 'http://localhost').pathname === realtimePath;
