import { requirePrincipal } from '$lib/server/http/forms';
import { listAudit } from '$lib/server/services/audit';
import { orHttpError } from '$lib/server/http/load-error';
import { auditPageSize, filterQuery, readAuditFilters } from '$lib/schemas/audit';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const filters = readAuditFilters(event.url.searchParams);
	if (!filters.ok) {
		// Still only for admins: a non-admin gets 403, not a validation message.
		await orHttpError(listAudit(services, principal, { limit: 1 }));
		return {
			values: filters.values,
			fields: filters.fields,
			entries: [],
			olderQuery: null,
			exportQuery: ''
		};
	}
	const rows = await orHttpError(
		listAudit(services, principal, { ...filters.query, limit: auditPageSize })
	);
	const last = rows.at(-1);
	return {
		values: filters.values,
		fields: {} as Record<string, string>,
		entries: rows.map((row) => ({
			id: row.id,
			at: row.at,
			actorEmail: row.actorEmail,
			actorUserId: row.actorUserId,
			action: row.action,
			workspaceId: row.workspaceId,
			targetType: row.targetType,
			targetId: row.targetId,
			ip: row.ip,
			details: JSON.stringify(row.details)
		})),
		olderQuery: rows.length === auditPageSize && last ? filterQuery(filters.values, last.id) : null,
		exportQuery: filterQuery(filters.values)
	};
};
