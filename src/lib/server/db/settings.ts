import type { Db } from './index.ts';
import { instanceSettings, type InstanceSettings } from './schema/index.ts';

/** The instance's settings; the row is created with defaults on first read. */
export async function get(db: Db): Promise<InstanceSettings> {
	const [existing] = await db.select().from(instanceSettings);
	if (existing) return existing;
	await db.insert(instanceSettings).values({ id: 1 }).onConflictDoNothing();
	const [created] = await db.select().from(instanceSettings);
	if (!created) throw new Error('instance settings row missing');
	return created;
}

export async function update(
	db: Db,
	values: Partial<Pick<InstanceSettings, 'signupMode' | 'requireTwoFactor'>>
): Promise<InstanceSettings> {
	await get(db);
	const [updated] = await db
		.update(instanceSettings)
		.set({ ...values, updatedAt: new Date() })
		.returning();
	if (!updated) throw new Error('instance settings row missing');
	return updated;
}
