import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { issueRealtimeTicket } from '$lib/server/services/realtime';
import type { RequestHandler } from './$types';

// For clients that cannot send the session cookie (API tokens, other origins): open
// `/ws?ticket=…` within 60 seconds; the ticket works once.
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { ticket, expiresAt } = await issueRealtimeTicket(services, principal);
		return json(
			{ ticket, expiresAt, url: `/ws?ticket=${encodeURIComponent(ticket)}` },
			{ status: 201, headers: { 'cache-control': 'no-store' } }
		);
	});
