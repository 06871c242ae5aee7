import * as audit from '../db/audit.ts';
import type { Db } from '../db/index.ts';
import type { NewAuditEntry } from '../db/schema/index.ts';
import { can } from '../policy.ts';
import { ServiceError } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { AuditQuery } from '../../schemas/audit.ts';
import type { ServiceContext } from './context.ts';

export interface AuditEvent {
	action: string;
	actorUserId?: string | null;
	workspaceId?: string | null;
	target?: { type: string; id: string };
	details?: Record<string, unknown>;
}

/**
 * Makes a change and appends the entry describing it in one transaction, so neither commits without
 * the other. `event` may depend on the change's result (null: nothing to record). Side effects
 * outside the database (bus publishes) belong after this returns, when the change has committed.
 */
export async function audited<T>(
	db: Db,
	meta: RequestMeta,
	change: (tx: Db) => Promise<T>,
	event: AuditEvent | ((result: T) => AuditEvent | null)
): Promise<T> {
	return db.transaction(async (tx) => {
		const result = await change(tx);
		const entry = typeof event === 'function' ? event(result) : event;
		if (entry !== null) await recordAudit(tx, meta, entry);
		return result;
	});
}

/** The row an event becomes, for a caller that writes it in a statement of its own. */
export function auditEntry(meta: RequestMeta, event: AuditEvent): NewAuditEntry {
	return {
		action: event.action,
		actorUserId: event.actorUserId ?? null,
		workspaceId: event.workspaceId ?? null,
		targetType: event.target?.type ?? null,
		targetId: event.target?.id ?? null,
		ip: meta.ip,
		userAgent: meta.userAgent?.slice(0, 512) ?? null,
		details: event.details ?? {}
	};
}

/**
 * Appends one entry, in the caller's transaction when it records a change (`audited` does both).
 * On its own only for what changes nothing: refused sign-ins, failed codes.
 */
export async function recordAudit(db: Db, meta: RequestMeta, event: AuditEvent): Promise<void> {
	await audit.append(db, auditEntry(meta, event));
}

export async function listAudit(ctx: ServiceContext, principal: Principal, query: AuditQuery) {
	if (!can(principal, 'instance.audit', 'instance'))
		throw new ServiceError('forbidden', 'Only instance admins can read the audit log.');
	return audit.list(ctx.db, { ...query, limit: Math.min(query.limit ?? 100, 10_000) });
}

const csvColumns = [
	'id',
	'at',
	'action',
	'actorEmail',
	'actorUserId',
	'workspaceId',
	'targetType',
	'targetId',
	'ip',
	'userAgent',
	'details'
] as const;

function csvCell(value: unknown): string {
	let text =
		value instanceof Date
			? value.toISOString()
			: typeof value === 'object' && value !== null
				? JSON.stringify(value)
				: String(value ?? '');
	// Cells starting with these run as formulas in spreadsheets (CSV injection).
	if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
	return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export async function exportAuditCsv(
	ctx: ServiceContext,
	principal: Principal,
	query: AuditQuery
): Promise<string> {
	const rows = await listAudit(ctx, principal, { ...query, limit: 10_000 });
	const lines = [csvColumns.join(',')];
	for (const row of rows) lines.push(csvColumns.map((column) => csvCell(row[column])).join(','));
	return lines.join('\r\n') + '\r\n';
}
