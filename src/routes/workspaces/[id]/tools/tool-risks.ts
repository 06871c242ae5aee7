import type { ToolRisk } from '$lib/schemas/tools';

export const riskLabels: Record<ToolRisk, string> = {
	read: 'Read',
	write: 'Write',
	external: 'External'
};

export const riskHelp: Record<ToolRisk, string> = {
	read: 'only looks things up',
	write: 'changes data',
	external: 'acts outside AWE (sends mail, calls other services)'
};
