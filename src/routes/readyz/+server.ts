import { json } from '@sveltejs/kit';
import { checkReadiness } from '$lib/server/runtime';
import type { RequestHandler } from './$types';

/** Readiness: database reachable and migrated, Redis reachable when configured. */
export const GET: RequestHandler = async ({ locals }) => {
	const readiness = await checkReadiness(locals.runtime);
	if (!readiness.ready) locals.runtime.logger.warn({ checks: readiness.checks }, 'not ready');
	// Failure details stay in the log: this endpoint is public.
	const checks = Object.fromEntries(
		Object.entries(readiness.checks).map(([name, check]) => [name, check.ok ? 'ok' : 'failing'])
	);
	return json(
		{ status: readiness.ready ? 'ready' : 'not ready', checks },
		{ status: readiness.ready ? 200 : 503, headers: { 'cache-control': 'no-store' } }
	);
};
