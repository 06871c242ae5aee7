import { json } from '@sveltejs/kit';
import { approvalDecisionSchema } from '$lib/schemas/engine-api';
import { api, readJson } from '$lib/server/http/api';
import { decideApproval } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/** Approves or rejects; the waiting run follows that branch. 409 when it was already decided. */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, approvalId } = event.params;
		const { decision, comment } = await readJson(event.request, approvalDecisionSchema);
		const approved = decision === 'approve';
		const approval = await decideApproval(
			services,
			principal,
			id,
			approvalId,
			{ approved, comment },
			meta
		);
		return json(approval);
	});
