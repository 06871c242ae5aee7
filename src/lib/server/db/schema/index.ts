export * from './users.ts';
export * from './sessions.ts';
export * from './workspaces.ts';
export * from './audit-log.ts';
export * from './instance-settings.ts';
export * from './invites.ts';
export * from './api-tokens.ts';
export * from './recovery-codes.ts';
