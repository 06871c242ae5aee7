import { fail, type ActionFailure } from '@sveltejs/kit';
import { z } from 'zod';
import { codeSchema } from '$lib/schemas/auth';
import {
	formError,
	parseForm,
	requestMeta,
	requirePrincipal,
	type FormFailure
} from '$lib/server/http/forms';
import { requiresTwoFactor } from '$lib/server/services/instance';
import {
	beginTwoFactorEnrolment,
	confirmTwoFactorEnrolment,
	disableTwoFactor,
	regenerateRecoveryCodes
} from '$lib/server/services/two-factor';
import type { Actions, PageServerLoad } from './$types';

const disableSchema = z.object({ password: z.string({ error: 'Required.' }).min(1, 'Required.') });

type Enrolment = { secret: string; uri: string };

/**
 * The key being set up travels with the confirmation form, so that a mistyped code does not hide it.
 * It is the visitor's own key, already on their screen; only a well-formed one is shown again.
 */
function echoedEnrolment(values: Record<string, string>): Enrolment | null {
	const { secret = '', uri = '' } = values;
	if (!/^[A-Z2-7]{16,128}$/.test(secret)) return null;
	if (!uri.startsWith('otpauth://totp/') || !uri.includes(`secret=${secret}`)) return null;
	return { secret, uri };
}

function withEnrolment(failure: ActionFailure<FormFailure>, values: Record<string, string>) {
	const { message, fields } = failure.data;
	return fail(failure.status, {
		action: 'confirm',
		message,
		fields,
		values: {},
		enrolment: echoedEnrolment(values)
	});
}

/** Which form failed, so the page shows the message beside it. */
function from(action: 'begin' | 'regenerate' | 'disable', failure: ActionFailure<FormFailure>) {
	return fail(failure.status, { ...failure.data, action });
}

export const load: PageServerLoad = async (event) => {
	const { user } = requirePrincipal(event);
	return {
		enabled: user.totpEnabledAt !== null,
		enabledAt: user.totpEnabledAt,
		pending: user.totpSecret !== null && user.totpEnabledAt === null,
		required: event.url.searchParams.get('required') === '1',
		instanceRequires: await requiresTwoFactor(event.locals.runtime.services)
	};
};

export const actions: Actions = {
	begin: async (event) => {
		const principal = requirePrincipal(event);
		try {
			return { enrolment: await beginTwoFactorEnrolment(event.locals.runtime.services, principal) };
		} catch (error) {
			return from('begin', formError(error));
		}
	},
	confirm: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, codeSchema, ['secret', 'uri']);
		if ('failure' in parsed) return withEnrolment(parsed.failure, parsed.failure.data.values);
		try {
			const recoveryCodes = await confirmTwoFactorEnrolment(
				event.locals.runtime.services,
				principal,
				parsed.data.code,
				requestMeta(event)
			);
			return { recoveryCodes, enabledNow: true };
		} catch (error) {
			return withEnrolment(formError(error), parsed.values);
		}
	},
	regenerate: async (event) => {
		const principal = requirePrincipal(event);
		try {
			const recoveryCodes = await regenerateRecoveryCodes(
				event.locals.runtime.services,
				principal,
				requestMeta(event)
			);
			return { recoveryCodes };
		} catch (error) {
			return from('regenerate', formError(error));
		}
	},
	disable: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, disableSchema);
		if ('failure' in parsed) return from('disable', parsed.failure);
		try {
			await disableTwoFactor(
				event.locals.runtime.services,
				principal,
				parsed.data.password,
				requestMeta(event)
			);
		} catch (error) {
			return from('disable', formError(error));
		}
		return { disabled: true };
	}
};
