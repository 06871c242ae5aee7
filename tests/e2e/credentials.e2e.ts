import { expect, test } from '@playwright/test';
import { shots, signInAsOwner } from './support.ts';

test('add credentials of two kinds, edit one without seeing its secret, delete it', async ({
	page
}) => {
	const secret = 'sk-e2e-openai-key-0123456789abcd';
	await signInAsOwner(page);
	await page.getByRole('link', { name: 'Members' }).click();
	await page.getByRole('navigation', { name: 'Workspace' }).getByText('Credentials').click();
	await expect(page.getByRole('heading', { name: 'Credentials', level: 1 })).toBeVisible();

	await page.getByRole('link', { name: 'OpenAI' }).click();
	await expect(page.getByLabel('Base URL (optional)')).toBeVisible();
	await page.getByLabel('Name', { exact: true }).fill('OpenAI production');
	await page.getByLabel('API key', { exact: true }).fill(secret);
	await page.getByLabel('Base URL (optional)').fill('ftp://models.example');
	await page.getByRole('button', { name: 'Save credential' }).click();
	await expect(page.getByText('Use an http:// or https:// URL.')).toBeVisible();
	await page.screenshot({ path: `${shots}/credential-invalid.png`, fullPage: true });
	// What was typed stays in the browser's form (the server never sends the secret back).
	await expect(page.getByLabel('API key', { exact: true })).toHaveValue(secret);
	await page.getByLabel('Base URL (optional)').fill('https://api.openai.com/v1');
	await page.getByRole('button', { name: 'Save credential' }).click();
	await expect(page.getByText('Saved “OpenAI production”.')).toBeVisible();
	await expect(page.getByRole('cell', { name: '••••abcd' })).toBeVisible();

	await page.getByRole('link', { name: 'Basic auth' }).click();
	await expect(page.getByLabel('User name')).toBeVisible();
	await page.getByLabel('Name', { exact: true }).fill('Legacy ERP');
	await page.getByLabel('User name').fill('erp-robot');
	await page.getByLabel('Password', { exact: true }).fill('short pw');
	await page.getByRole('button', { name: 'Save credential' }).click();
	await expect(page.getByText('Saved “Legacy ERP”.')).toBeVisible();
	await expect(page.getByRole('row', { name: /Legacy ERP/ })).toContainText('erp-robot');
	await page.screenshot({ path: `${shots}/credentials.png`, fullPage: true });
	expect(await page.content()).not.toContain(secret);

	await page.getByRole('link', { name: 'Edit credential OpenAI production' }).click();
	await expect(page.getByRole('heading', { name: 'Edit “OpenAI production”' })).toBeVisible();
	await expect(page.getByLabel('API key (leave empty to keep ••••abcd)')).toHaveValue('');
	await page.getByLabel('Organization (optional)').fill('org-e2e');
	await page.screenshot({ path: `${shots}/credential-edit.png`, fullPage: true });
	await page.getByRole('button', { name: 'Save changes' }).click();
	await expect(page.getByText('Saved the changes to “OpenAI production”.')).toBeVisible();
	await expect(page.getByRole('row', { name: /OpenAI production/ })).toContainText('org-e2e');
	await expect(page.getByRole('cell', { name: '••••abcd' })).toBeVisible();

	await page.getByRole('link', { name: 'Edit credential Legacy ERP' }).click();
	await page.getByText('Delete this credential…').click();
	await page.getByRole('button', { name: 'Delete “Legacy ERP”' }).click();
	await expect(page.getByText('Credential deleted.')).toBeVisible();
	await expect(page.getByRole('row', { name: /Legacy ERP/ })).toHaveCount(0);
	expect(await page.content()).not.toContain(secret);
});
