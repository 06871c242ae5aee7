import { describe, expect, it } from 'vitest';
import { approvalKind } from './approval.ts';
import { stepContext } from './test-context.ts';
import type { StepLookup } from './types.ts';

const definition = { inputs: [], nodes: [], edges: [] };
const config = approvalKind.configSchema.parse({
	title: 'Refund {{ input.amount }}?',
	details: 'For {{ input.customer }}',
	timeout: '1h',
	onTimeout: 'reject'
});
const state = { requested: true, deadlineAt: '2030-01-01T01:00:00.000Z' };
const input = { amount: 30, customer: 'Ada' };

function waiting(status: string, nowIso = '2030-01-01T00:30:00.000Z') {
	const approval: StepLookup['approval'] = () =>
		Promise.resolve({ status, comment: 'ok', decidedBy: status === 'pending' ? null : 'user-1' });
	return stepContext({
		input,
		state,
		now: () => new Date(nowIso),
		lookup: { ...stepContext().lookup, approval }
	});
}

describe('approval kind', () => {
	it('checks its config', () => {
		expect(config).toMatchObject({ timeout: 3_600_000, onTimeout: 'reject' });
		expect(approvalKind.configSchema.parse({ title: 'Go?' })).toEqual({
			title: 'Go?',
			onTimeout: 'reject'
		});
		expect(approvalKind.configSchema.safeParse({ title: 'Go?', onTimeout: 'ignore' }).success).toBe(
			false
		);
		expect(approvalKind.configSchema.safeParse({ title: '' }).success).toBe(false);
		expect(
			approvalKind.checkConfig?.(
				{ title: '{{ }}', details: '{{ x }}', onTimeout: 'fail' },
				definition
			)
		).toEqual([
			{ path: 'title', message: expect.stringMatching(/^Empty/) },
			{ path: 'details', message: expect.stringMatching(/^Unknown name "x"/) }
		]);
		expect(approvalKind.branches(config)).toEqual(['approved', 'rejected']);
	});

	it('requests an approval first, with a deadline', async () => {
		const outcome = await approvalKind.execute(
			stepContext({ input, data: { input, steps: {} } }),
			config
		);
		const deadlineAt = new Date('2030-01-01T01:00:00.000Z');
		expect(outcome).toEqual({
			type: 'wait',
			until: deadlineAt,
			state,
			effect: { type: 'approval', title: 'Refund 30?', details: 'For Ada', deadlineAt }
		});
	});

	it('waits for a signal alone without a timeout', async () => {
		const outcome = await approvalKind.execute(stepContext(), {
			title: 'Go?',
			onTimeout: 'reject'
		});
		expect(outcome).toMatchObject({
			type: 'wait',
			until: null,
			state: { requested: true, deadlineAt: null },
			effect: { details: '', deadlineAt: null }
		});
	});

	it('follows the decision', async () => {
		expect(await approvalKind.execute(waiting('approved'), config)).toEqual({
			type: 'succeeded',
			branch: 'approved',
			output: { approved: true, expired: false, comment: 'ok', decidedBy: 'user-1', input }
		});
		expect(await approvalKind.execute(waiting('rejected'), config)).toMatchObject({
			branch: 'rejected',
			output: { approved: false, expired: false }
		});
	});

	it('waits again while pending before the deadline', async () => {
		const outcome = await approvalKind.execute(waiting('pending'), config);
		expect(outcome).toEqual({ type: 'wait', until: new Date(state.deadlineAt), state });
	});

	it('applies onTimeout once the deadline has passed', async () => {
		const late = () => waiting('pending', '2030-01-01T01:00:00.000Z');
		expect(await approvalKind.execute(late(), config)).toMatchObject({
			branch: 'rejected',
			output: { approved: false, expired: true, decidedBy: null }
		});
		expect(await approvalKind.execute(late(), { ...config, onTimeout: 'approve' })).toMatchObject({
			branch: 'approved',
			output: { approved: true, expired: true }
		});
		await expect(
			approvalKind.execute(late(), { ...config, onTimeout: 'fail' })
		).rejects.toMatchObject({ code: 'approval_expired', retryable: false });
		expect(await approvalKind.execute(waiting('expired'), config)).toMatchObject({
			output: { expired: true }
		});
	});

	it('fails when the request was cancelled or is gone', async () => {
		await expect(approvalKind.execute(waiting('cancelled'), config)).rejects.toMatchObject({
			code: 'approval_cancelled'
		});
		const gone = stepContext({
			state,
			lookup: { ...stepContext().lookup, approval: () => Promise.resolve(null) }
		});
		await expect(approvalKind.execute(gone, config)).rejects.toMatchObject({
			code: 'approval_missing',
			retryable: false
		});
	});
});
