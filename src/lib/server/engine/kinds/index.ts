import { approvalKind } from './approval.ts';
import { conditionKind } from './condition.ts';
import { delayKind } from './delay.ts';
import { failKind } from './fail.ts';
import { inputKind } from './input.ts';
import { joinKind } from './join.ts';
import { mapKind } from './map.ts';
import { outputKind } from './output.ts';
import { parallelKind } from './parallel.ts';
import { subworkflowKind } from './subworkflow.ts';
import { switchKind } from './switch.ts';
import { templateKind } from './template.ts';
import { transformKind } from './transform.ts';
import type { AnyNodeKind } from './types.ts';

export const builtInKinds: AnyNodeKind[] = [
	inputKind,
	outputKind,
	transformKind,
	templateKind,
	conditionKind,
	switchKind,
	parallelKind,
	joinKind,
	delayKind,
	approvalKind,
	subworkflowKind,
	failKind,
	mapKind
];

export function createKindRegistry(kinds: AnyNodeKind[]): Map<string, AnyNodeKind> {
	const registry = new Map<string, AnyNodeKind>();
	for (const kind of kinds) {
		if (registry.has(kind.kind)) throw new Error(`Node kind "${kind.kind}" is registered twice.`);
		registry.set(kind.kind, kind);
	}
	return registry;
}
