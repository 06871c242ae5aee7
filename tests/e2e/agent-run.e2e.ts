import { expect, test, type Page } from '@playwright/test';
import { shots, signInAsOwner } from './support.ts';

// An agent run on the run page, against a scripted model provider made through the API.

const model = 'script-clock';
const script = [
	{
		toolCalls: [{ name: 'current_time', input: { timeZone: 'Europe/Paris' } }],
		usage: { inputTokens: 1000, outputTokens: 20 }
	},
	{ text: 'It is noon in Paris.', usage: { inputTokens: 1500, outputTokens: 30 } }
];

/** A scripted provider in the workspace and a price for its model, through the JSON API. */
async function createScriptedProvider(page: Page, workspaceId: string): Promise<string> {
	const origin = new URL(page.url()).origin;
	const headers = { origin };
	const price = await page.request.put('/api/v1/admin/model-prices', {
		headers,
		data: { providerKind: 'scripted', model, inputPerMillion: 3, outputPerMillion: 15 }
	});
	expect(price.ok(), await price.text()).toBe(true);
	const created = await page.request.post(`/api/v1/workspaces/${workspaceId}/providers`, {
		headers,
		data: {
			kind: 'scripted',
			name: `Script ${Date.now()}`,
			defaultModel: model,
			script
		}
	});
	expect(created.status(), await created.text()).toBe(201);
	return ((await created.json()) as { id: string }).id;
}

function agentWorkflow(providerId: string, requiresApproval = false) {
	return {
		inputs: [{ name: 'city', type: 'string', required: true }],
		nodes: [
			{ id: 'start', kind: 'input', config: {} },
			{
				id: 'ask',
				kind: 'agent',
				config: {
					providerId,
					instructions: 'You tell the time, briefly.',
					prompt: 'What time is it in {{ input.city }}?',
					tools: [{ type: 'builtin', name: 'current_time', requiresApproval }]
				}
			},
			{ id: 'done', kind: 'output', config: {} }
		],
		edges: [
			{ from: 'start', to: 'ask' },
			{ from: 'ask', to: 'done' }
		]
	};
}

async function workspaceIdOf(page: Page): Promise<string> {
	const href = await page.getByRole('link', { name: 'Members' }).getAttribute('href');
	const id = /\/workspaces\/([0-9a-f-]{36})/.exec(href ?? '')?.[1];
	if (id === undefined) throw new Error(`No workspace in ${href}.`);
	return id;
}

test('an agent run shows as a conversation with its tool call, tokens and cost', async ({
	page,
	browser
}) => {
	test.setTimeout(240_000);
	await signInAsOwner(page);
	const workspaceId = await workspaceIdOf(page);
	const providerId = await createScriptedProvider(page, workspaceId);

	await page.goto(`/workspaces/${workspaceId}/workflows`);
	await page.getByLabel('Name').fill('Clock');
	await page.getByRole('button', { name: 'Create workflow' }).click();
	await expect(page.getByRole('heading', { name: 'Clock', level: 1 })).toBeVisible();
	const workflowUrl = page.url();
	await page.getByLabel(/^JSON/).fill(JSON.stringify(agentWorkflow(providerId), null, 2));
	await page.getByLabel('Version note').fill('Asks the clock');
	await page.getByRole('checkbox', { name: 'Publish' }).check();
	await page.getByRole('button', { name: 'Save version' }).click();
	await expect(page.getByText(/published it/)).toBeVisible();
	await page.getByLabel('Input (JSON)').fill(JSON.stringify({ city: 'Paris' }));
	await page.getByRole('button', { name: 'Start run' }).click();
	await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
	await expect(page.locator('main > header')).toContainText('succeeded', { timeout: 60_000 });

	// The run's totals: 2,500 tokens in and 50 out at $3 and $15 a million.
	const timings = page.locator('dl.timings');
	await expect(timings).toContainText('2,500 in · 50 out · $0.0083');
	await expect(timings).toContainText('2 model requests');
	await expect(timings).not.toContainText('unpriced');

	const step = page.getByRole('listitem', { name: 'Step ask' });
	const conversation = step.getByRole('region', { name: 'Conversation of ask' });
	await expect(conversation.getByRole('heading', { name: 'Conversation' })).toBeVisible();
	const opening = conversation.getByText('Instructions and opening message');
	await expect(conversation.getByText('What time is it in Paris?')).toBeHidden();
	await opening.click();
	await expect(conversation.getByText('What time is it in Paris?')).toBeVisible();
	await expect(conversation.getByText('You tell the time, briefly.')).toBeVisible();

	const turns = conversation.getByRole('listitem', { name: /^Turn \d+$/ });
	await expect(turns).toHaveCount(2);
	const first = conversation.getByRole('listitem', { name: 'Turn 1' });
	await expect(first.getByRole('heading', { name: 'Assistant · turn 1' })).toBeVisible();
	await expect(first).toContainText(model);
	await expect(first).toContainText('1,000 in · 20 out');
	const call = first.getByRole('listitem', { name: 'Tool call current_time' });
	await expect(call).toContainText('returned');
	await call.getByText('Input of current_time').click();
	await expect(call).toContainText('"timeZone": "Europe/Paris"');
	await call.getByText('Output of current_time').click();
	await expect(call).toContainText('"timeZone": "Europe/Paris"');
	const second = conversation.getByRole('listitem', { name: 'Turn 2' });
	await expect(second).toContainText('It is noon in Paris.');
	await expect(second).toContainText('1,500 in · 30 out');
	// The agent's step sums its turns.
	await expect(step.locator('.head').first()).toContainText('2,500 in · 50 out · $0.0083');
	await page.screenshot({ path: `${shots}/agent-run.png`, fullPage: true });

	await page.setViewportSize({ width: 390, height: 844 });
	await page.screenshot({ path: `${shots}/agent-run-phone.png`, fullPage: true });
	await step.screenshot({ path: `${shots}/agent-run-phone-step.png` });

	// Without JavaScript the server renders the same conversation.
	const cookies = await page.context().cookies();
	const noScript = await browser.newContext({
		baseURL: new URL(page.url()).origin,
		javaScriptEnabled: false
	});
	await noScript.addCookies(cookies);
	const plain = await noScript.newPage();
	await plain.goto(page.url());
	const plainConversation = plain.getByRole('region', { name: 'Conversation of ask' });
	await expect(plainConversation.getByRole('listitem', { name: 'Turn 2' })).toContainText(
		'It is noon in Paris.'
	);
	await expect(
		plainConversation.getByRole('listitem', { name: 'Tool call current_time' })
	).toContainText('returned');
	await noScript.close();

	// With the tool behind an approval, the call waits in the conversation until a person decides.
	await page.setViewportSize({ width: 1280, height: 720 });
	await page.goto(workflowUrl);
	await page.getByLabel(/^JSON/).fill(JSON.stringify(agentWorkflow(providerId, true), null, 2));
	await page.getByLabel('Version note').fill('Asks first');
	await page.getByRole('checkbox', { name: 'Publish' }).check();
	await page.getByRole('button', { name: 'Save version' }).click();
	await expect(page.getByText(/published it/)).toBeVisible();
	await page.getByLabel('Input (JSON)').fill(JSON.stringify({ city: 'Paris' }));
	await page.getByRole('button', { name: 'Start run' }).click();
	await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
	const runUrl = page.url();
	const waiting = page
		.getByRole('listitem', { name: 'Step ask' })
		.getByRole('listitem', { name: 'Tool call current_time' });
	await expect(waiting).toContainText('awaiting approval', { timeout: 60_000 });
	await expect(page.getByText('This run is waiting for a decision')).toBeVisible();
	await page.screenshot({ path: `${shots}/agent-run-approval.png`, fullPage: true });
	await waiting.getByRole('link', { name: 'decide in the approvals inbox' }).click();
	const request = page.getByRole('article', { name: /current_time/ });
	await request.getByLabel(/Comment/).fill('Not now.');
	await request.getByRole('button', { name: 'Reject' }).click();
	await expect(page.getByText(/Rejected “/)).toBeVisible();

	await page.goto(runUrl);
	await expect(page.locator('main > header')).toContainText('succeeded', { timeout: 60_000 });
	const denied = page
		.getByRole('listitem', { name: 'Step ask' })
		.getByRole('listitem', { name: 'Tool call current_time' });
	await expect(denied).toContainText('denied');
	await expect(denied.getByText(/^Denied/)).toBeVisible();
	await page.screenshot({ path: `${shots}/agent-run-denied.png`, fullPage: true });
});
