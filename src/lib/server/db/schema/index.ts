export * from './users.ts';
export * from './sessions.ts';
export * from './workspaces.ts';
export * from './audit-log.ts';
