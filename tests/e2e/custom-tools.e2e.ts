import { expect, test } from '@playwright/test';
import { shots, signInAsOwner } from './support.ts';

test('write a custom tool, fix its schema, try it, edit it and delete it', async ({ page }) => {
	await signInAsOwner(page);
	await page.getByRole('link', { name: 'Members' }).click();
	await page.getByRole('navigation', { name: 'Workspace' }).getByText('Tools').click();
	await expect(page.getByRole('heading', { name: 'Tools', level: 1 })).toBeVisible();
	await expect(page.getByRole('row', { name: /http_request/ })).toContainText('External');
	await expect(page.getByRole('row', { name: /run_code/ })).toContainText('Built-in');

	const create = page.getByRole('region', { name: 'New tool' });
	await create.getByLabel('Name').fill('count_words');
	await create.getByLabel(/^Description/).fill('Counts the words in a text.');
	const approval = create.getByLabel('Requires approval before each call');
	await expect(approval).not.toBeChecked();
	// The approval box follows the risk until it is touched.
	await create.getByLabel('Risk').selectOption('external');
	await expect(approval).toBeChecked();
	await create.getByLabel('Risk').selectOption('read');
	await expect(approval).not.toBeChecked();
	const schema = create.getByLabel(/^Input schema/);
	await schema.fill('{"type": "object", "properties": {"text": {"type": "string"}}');
	await create.getByRole('button', { name: 'Save tool' }).click();
	await expect(create.getByText(/The schema is not valid JSON/)).toBeVisible();
	await page.screenshot({ path: `${shots}/tools-invalid.png`, fullPage: true });
	await schema.fill(
		JSON.stringify(
			{ type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
			null,
			2
		)
	);
	await create.getByRole('button', { name: 'Save tool' }).click();
	await expect(page.getByText('Saved “count_words”.')).toBeVisible();
	const row = page.getByRole('row', { name: /count_words/ });
	await expect(row).toContainText('Custom');
	await expect(row).toContainText('Read');
	await page.screenshot({ path: `${shots}/tools.png`, fullPage: true });

	await page.getByRole('link', { name: 'Edit tool count_words' }).click();
	await expect(page.getByRole('heading', { name: 'Edit count_words' })).toBeVisible();
	const tryIt = page.getByRole('region', { name: 'Try it' });
	await tryIt.getByLabel('Input (JSON)').fill('{"text": "one two  three"}');
	await tryIt.getByRole('button', { name: 'Run' }).click();
	await expect(tryIt.getByRole('status')).toContainText('Output');
	await expect(tryIt.getByRole('status')).toContainText('"words": 3');
	await page.screenshot({ path: `${shots}/tools-try.png`, fullPage: true });
	await tryIt.getByLabel('Input (JSON)').fill('{"text": 7}');
	await tryIt.getByRole('button', { name: 'Run' }).click();
	await expect(tryIt.getByText(/Invalid input at text/)).toBeVisible();

	const edit = page.getByRole('region', { name: 'Edit count_words' });
	await edit.getByLabel('Risk').selectOption('write');
	await edit.getByLabel('Requires approval before each call').check();
	await edit.getByRole('button', { name: 'Save changes' }).click();
	await expect(page.getByText('Saved the changes to “count_words”.')).toBeVisible();
	await expect(row).toContainText('Write');
	await expect(row).toContainText('Required');

	await page.getByRole('link', { name: 'Edit tool count_words' }).click();
	await page.getByText('Delete this tool…').click();
	await page.getByRole('button', { name: 'Delete “count_words”' }).click();
	await expect(page.getByText('Tool deleted.')).toBeVisible();
	await expect(page.getByRole('row', { name: /count_words/ })).toHaveCount(0);
});
