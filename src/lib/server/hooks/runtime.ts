import type { Handle } from '@sveltejs/kit';
import { currentRuntime } from '../runtime-holder.js';

export const attachRuntime: Handle = ({ event, resolve }) => {
	event.locals.runtime = currentRuntime();
	return resolve(event);
};
