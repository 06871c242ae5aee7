import type { Handle } from '@sveltejs/kit';
import { currentRuntime } from '../platform/process-runtime.ts';

export const attachRuntime: Handle = ({ event, resolve }) => {
	event.locals.runtime = currentRuntime();
	return resolve(event);
};
