import { error } from '@sveltejs/kit';
import { ServiceError } from '../errors.ts';

/** For loads: an expected service failure becomes the error page with its status (404, 403, …). */
export async function orHttpError<T>(work: Promise<T>): Promise<T> {
	try {
		return await work;
	} catch (cause) {
		if (cause instanceof ServiceError) error(cause.status, cause.message);
		throw cause;
	}
}
