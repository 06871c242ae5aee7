import { z } from 'zod';

export const workspaceRoles = ['owner', 'admin', 'editor', 'viewer'] as const;
export const roleSchema = z.enum(workspaceRoles, {
	error: 'Choose owner, admin, editor or viewer.'
});

export const workspaceNameSchema = z.object({
	name: z
		.string({ error: 'Required.' })
		.trim()
		.min(1, 'Required.')
		.max(80, 'Use at most 80 characters.')
});

export const inviteSchema = z.object({
	role: roleSchema,
	expiresInDays: z.coerce
		.number()
		.int()
		.min(1, 'At least 1 day.')
		.max(30, 'At most 30 days.')
		.default(7)
});

export const roleChangeSchema = z.object({ role: roleSchema });
