import type { ServerInit } from '@sveltejs/kit';
import { sequence } from '@sveltejs/kit/hooks';
import { authenticate } from '$lib/server/hooks/auth';
import { guard } from '$lib/server/hooks/guard';
import { jsonOriginCheck } from '$lib/server/hooks/json-origin';
import { requestLog } from '$lib/server/hooks/request-log';
import { attachRuntime } from '$lib/server/hooks/runtime';
import { securityHeaders } from '$lib/server/hooks/security-headers';
import { loadConfig } from '$lib/server/platform/config';
import { registerRuntime, registeredRuntime } from '$lib/server/platform/process-runtime';
import { startRuntime } from '$lib/server/runtime';

export const init: ServerInit = async () => {
	if (registeredRuntime()) return;
	registerRuntime(await startRuntime(loadConfig()));
};

export const handle = sequence(
	requestLog,
	securityHeaders,
	attachRuntime,
	authenticate,
	guard,
	jsonOriginCheck
);
