import type { Handle, ServerInit } from '@sveltejs/kit';
import { sequence } from '@sveltejs/kit/hooks';
import { requestLog } from '$lib/server/hooks/request-log';
import { securityHeaders } from '$lib/server/hooks/security-headers';
import { loadConfig } from '$lib/server/platform/config';
import {
	currentRuntime,
	registerRuntime,
	registeredRuntime
} from '$lib/server/platform/process-runtime';
import { startRuntime } from '$lib/server/runtime';

export const init: ServerInit = async () => {
	if (registeredRuntime()) return;
	registerRuntime(await startRuntime(loadConfig()));
};

const attachRuntime: Handle = ({ event, resolve }) => {
	event.locals.runtime = currentRuntime();
	return resolve(event);
};

export const handle = sequence(requestLog, securityHeaders, attachRuntime);
