import { expect, test } from '@playwright/test';
import { shots, signInAsOwner } from './support.ts';

test('add a scripted provider and an agent that uses it, set the budget and a price', async ({
	page
}) => {
	await signInAsOwner(page);
	await page.getByRole('link', { name: 'Members' }).click();
	await page.getByRole('navigation', { name: 'Workspace' }).getByText('Providers').click();
	await expect(page.getByRole('heading', { name: 'Model providers', level: 1 })).toBeVisible();

	const create = page.getByRole('region', { name: 'New provider' });
	await create.getByRole('link', { name: 'Scripted — fixed replies for tests' }).click();
	await expect(create.getByLabel(/^Replies/)).toBeVisible();
	await create.getByLabel('Name').fill('Test replies');
	await create.getByLabel('Default model').fill('scripted-1');
	await create.getByLabel(/^Replies/).fill('[{"text": "Hello"');
	await create.getByRole('button', { name: 'Save provider' }).click();
	await expect(create.getByText(/Not valid JSON/)).toBeVisible();
	// The rest of what was typed is still there.
	await expect(create.getByLabel('Name')).toHaveValue('Test replies');
	await page.screenshot({ path: `${shots}/provider-invalid.png`, fullPage: true });
	await create.getByLabel(/^Replies/).fill('[{"text": "Hello from the script."}]');
	await create.getByRole('button', { name: 'Save provider' }).click();
	await expect(page.getByText('Saved “Test replies”.')).toBeVisible();
	await expect(page.getByRole('row', { name: /Test replies/ })).toContainText(
		'Scripted — fixed replies for tests'
	);
	await page.screenshot({ path: `${shots}/providers.png`, fullPage: true });

	await page.getByRole('navigation', { name: 'Workspace' }).getByText('Agents').click();
	await expect(page.getByRole('heading', { name: 'Agents', level: 1 })).toBeVisible();
	const form = page.getByRole('region', { name: 'New agent' });
	await form.getByLabel('Name').fill('Greeter');
	await form.getByLabel(/^Instructions/).fill('Greet the user by name.');
	await form.getByLabel('Model provider').selectOption({
		label: 'Test replies (Scripted — fixed replies for tests) · scripted-1'
	});
	await form.getByLabel('Most turns').fill('3');
	await form.getByLabel(/current_time/).check();
	await form.getByLabel(/^Output schema/).fill('{"type": "array"}');
	await form.getByRole('button', { name: 'Save agent' }).click();
	await expect(form.getByText('The output schema must have "type": "object".')).toBeVisible();
	await expect(form.getByLabel(/current_time/)).toBeChecked();
	await form.getByLabel(/^Output schema/).fill('');
	await form.getByRole('button', { name: 'Save agent' }).click();
	await expect(page.getByText('Saved “Greeter”.')).toBeVisible();
	const row = page.getByRole('row', { name: /Greeter/ });
	await expect(row).toContainText('Test replies');
	await expect(row).toContainText('current_time');
	await expect(row).toContainText('3 turns');
	await page.screenshot({ path: `${shots}/agents.png`, fullPage: true });

	await page.getByRole('link', { name: 'Edit agent Greeter' }).click();
	await expect(page.getByRole('heading', { name: 'Edit “Greeter”' })).toBeVisible();
	await page.screenshot({ path: `${shots}/agent-edit.png`, fullPage: true });

	// The provider cannot go while the agent uses it.
	await page.getByRole('navigation', { name: 'Workspace' }).getByText('Providers').click();
	await page.getByRole('link', { name: 'Edit provider Test replies' }).click();
	await page.getByText('Delete this provider…').click();
	await page.getByRole('button', { name: 'Delete “Test replies”' }).click();
	await expect(page.getByText(/used by the agent “Greeter”/)).toBeVisible();
	await page.screenshot({ path: `${shots}/provider-edit.png`, fullPage: true });

	await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link').first().click();
	const spending = page.getByRole('region', { name: 'Model spending' });
	await spending.getByLabel('Monthly cost limit (USD)').fill('20');
	await spending.getByRole('button', { name: 'Save limits' }).click();
	await expect(spending.getByText('Limits saved.')).toBeVisible();
	await expect(spending).toContainText('of $20');
	await spending.screenshot({ path: `${shots}/budget.png` });

	await page.goto('/admin/prices');
	// Other flows on this server may have priced models already: the page says what that means.
	await expect(page.getByText(/a model that has no price here costs 0/)).toBeVisible();
	await page.getByLabel('Provider kind').selectOption('openai');
	await page.getByLabel('Model').fill('gpt-4.1-mini');
	await page.getByLabel('Input, USD per million tokens').fill('0.4');
	await page.getByLabel('Output, USD per million tokens').fill('1.6');
	await page.getByRole('button', { name: 'Save price' }).click();
	await expect(page.getByText('Saved the price of gpt-4.1-mini.')).toBeVisible();
	await expect(page.getByRole('row', { name: /gpt-4\.1-mini/ })).toContainText('$1.6');
	await page.screenshot({ path: `${shots}/model-prices.png`, fullPage: true });
});
