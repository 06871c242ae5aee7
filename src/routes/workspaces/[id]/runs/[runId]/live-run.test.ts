import { describe, expect, it } from 'vitest';
import type { StepStatus } from '$lib/schemas/workflow';
import { appendDelta, applyEvents, reloadsPage, summarize, type LiveEvent } from './live-run';

const event = (seq: number, type: string, stepId: string | null = null): LiveEvent => ({
	seq,
	type,
	stepId,
	nodeId: stepId,
	at: new Date(),
	data: ''
});

const delta = (offset: number, text: string) => ({
	type: 'delta' as const,
	runId: 'run',
	stepId: 'step',
	nodeId: 'ask',
	offset,
	text
});

describe('applyEvents', () => {
	const steps: { id: string; status: StepStatus }[] = [
		{ id: 'a', status: 'waiting' },
		{ id: 'b', status: 'pending' },
		{ id: 'c', status: 'succeeded' }
	];

	it('moves steps and the run along as the engine does', () => {
		const { runStatus, steps: after } = applyEvents('waiting', steps, [
			event(5, 'approval.decided', 'a'),
			event(6, 'step.succeeded', 'a'),
			event(7, 'step.started', 'b')
		]);
		expect(runStatus).toBe('running');
		expect(after.map((step) => step.status)).toEqual(['succeeded', 'running', 'succeeded']);
		expect(after[2]).toBe(steps[2]);
	});

	it('cancels what had not finished when the run fails', () => {
		const result = applyEvents('running', steps, [event(5, 'run.failed')]);
		expect(result.runStatus).toBe('failed');
		expect(result.steps.map((step) => step.status)).toEqual([
			'cancelled',
			'cancelled',
			'succeeded'
		]);
	});

	it('leaves everything as loaded without events', () => {
		expect(applyEvents('waiting', steps, [])).toEqual({ runStatus: 'waiting', steps });
	});
});

describe('reloadsPage', () => {
	it('reloads for finished steps and run changes, not for logs or known steps starting', () => {
		const known = new Set(['a']);
		expect(reloadsPage(event(1, 'step.succeeded', 'a'), known)).toBe(true);
		expect(reloadsPage(event(2, 'run.succeeded'), known)).toBe(true);
		expect(reloadsPage(event(3, 'step.started', 'a'), known)).toBe(false);
		expect(reloadsPage(event(4, 'step.started', 'new'), known)).toBe(true);
		expect(reloadsPage(event(5, 'step.logs', 'a'), known)).toBe(false);
	});
});

describe('appendDelta', () => {
	it('appends in order, skips what it has, and marks what it missed', () => {
		let stream = appendDelta(undefined, delta(0, 'Hel'));
		stream = appendDelta(stream, delta(3, 'lo'));
		expect(stream).toEqual({ text: 'Hello', end: 5 });
		expect(appendDelta(stream, delta(0, 'Hel'))).toBe(stream);
		expect(appendDelta(stream, delta(3, 'lo, you'))).toEqual({ text: 'Hello, you', end: 10 });
		expect(appendDelta(stream, delta(9, 'world'))).toEqual({ text: 'Hello…world', end: 14 });
		expect(appendDelta(undefined, delta(7, 'late'))).toEqual({ text: '…late', end: 11 });
	});
});

describe('summarize', () => {
	it('puts data on one line, cut short', () => {
		expect(summarize({})).toBe('');
		expect(summarize({ a: 1 })).toBe('{"a":1}');
		expect(summarize({ text: 'x'.repeat(500) })).toHaveLength(160);
	});
});
