import { z } from 'zod';
import { formError, parseForm, requestMeta, requirePrincipal } from '$lib/server/http/forms';
import {
	decideSignup,
	getInstanceSettings,
	listPendingUsers,
	updateInstanceSettings
} from '$lib/server/services/instance';
import { orHttpError } from '$lib/server/http/load-error';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

const settingsSchema = z.object({
	signupMode: z.enum(['invite-only', 'open', 'approval'], {
		error: 'Choose invite-only, open or approval.'
	}),
	// A checkbox: sent as "on" when ticked, absent otherwise.
	requireTwoFactor: z
		.literal('on')
		.optional()
		.transform((value) => value === 'on')
});

const decisionSchema = z.object({
	userId: z.string({ error: 'Required.' }).min(1, 'Required.')
});

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const [settings, pending] = await Promise.all([
		orHttpError(getInstanceSettings(services, principal)),
		orHttpError(listPendingUsers(services, principal))
	]);
	return { settings, pending };
};

async function decide(event: RequestEvent, approve: boolean) {
	const principal = requirePrincipal(event);
	const parsed = await parseForm(event.request, decisionSchema, ['userId']);
	if ('failure' in parsed) return parsed.failure;
	try {
		await decideSignup(
			event.locals.runtime.services,
			principal,
			parsed.data.userId,
			approve,
			requestMeta(event)
		);
	} catch (error) {
		return formError(error, parsed.values);
	}
	return { decided: approve ? 'approved' : 'rejected' };
}

export const actions: Actions = {
	update: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, settingsSchema, ['signupMode']);
		if ('failure' in parsed) return parsed.failure;
		try {
			await updateInstanceSettings(
				event.locals.runtime.services,
				principal,
				parsed.data,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, parsed.values);
		}
		return { saved: true };
	},
	approve: (event) => decide(event, true),
	reject: (event) => decide(event, false)
};
