import { z } from 'zod';

/**
 * The `/ws` protocol (docs/realtime.md), shared by the server and the browser client. Every message
 * is one JSON object per WebSocket text frame, told apart by `type`.
 */

const uuid = z.uuid({ error: 'must be a UUID' });
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** A run's events, replayed after `afterSeq` then live. */
export const runTopicSchema = z.strictObject({
	topic: z.literal('run'),
	runId: uuid,
	afterSeq: seq.default(0)
});

/** A workspace's run feed: runs queued, started, waiting and finished (live only). */
export const workspaceTopicSchema = z.strictObject({
	topic: z.literal('workspace'),
	workspaceId: uuid
});

export type RunTopic = z.infer<typeof runTopicSchema>;
export type WorkspaceTopic = z.infer<typeof workspaceTopicSchema>;
export type Topic = RunTopic | WorkspaceTopic;

const requestId = z.string().max(64).optional();
const runRef = runTopicSchema.omit({ afterSeq: true });

/** One message type over both topics, told apart by `topic`. */
const perTopic = <T extends string, R extends z.ZodRawShape, W extends z.ZodRawShape>(
	type: T,
	run: R,
	workspace: W
) =>
	z.discriminatedUnion('topic', [
		z.strictObject({ type: z.literal(type), id: requestId, ...run }),
		z.strictObject({ type: z.literal(type), id: requestId, ...workspace })
	]);

export const clientMessageSchema = z.discriminatedUnion('type', [
	perTopic('subscribe', runTopicSchema.shape, workspaceTopicSchema.shape),
	perTopic('unsubscribe', runRef.shape, workspaceTopicSchema.shape),
	z.strictObject({ type: z.literal('ping'), id: requestId })
]);

export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Stable error codes: clients branch on these, never on the message text. */
export const realtimeErrorCodes = [
	/** Not JSON, or not a message this protocol knows; `message` says what is wrong. */
	'invalid_message',
	/** The run or workspace does not exist or is not visible to you (the two look the same). */
	'not_found',
	/** Too many messages: slow down. */
	'rate_limited',
	/** Too many subscriptions on one connection. */
	'too_many_subscriptions',
	/** Access to a topic ended (membership removed); the subscription is gone. */
	'access_revoked',
	/** Something failed on the server; try again. */
	'internal'
] as const;
export type RealtimeErrorCode = (typeof realtimeErrorCodes)[number];

/** Close codes the server uses besides the standard ones (1001 going away, 1009 message too big). */
export const closeCodes = {
	/** The session or token behind the connection was revoked or expired: sign in again. */
	unauthorized: 4001,
	/** The client did not read fast enough and its send buffer filled up: reconnect and resume. */
	slowConsumer: 4008,
	/** The client kept sending after being told it was rate limited. */
	rateLimited: 4029
} as const;

export const eventMessageSchema = z.strictObject({
	type: z.literal('event'),
	topic: z.enum(['run', 'workspace']),
	runId: uuid,
	workspaceId: uuid,
	seq,
	/** The run event's type: `run.started`, `step.succeeded`, … */
	event: z.string(),
	stepId: uuid.nullable(),
	nodeId: z.string().nullable(),
	data: z.record(z.string(), z.unknown()),
	at: z.string()
});

/** Streamed model output of a running step, coalesced; not persisted (the step's output is). */
export const deltaMessageSchema = z.strictObject({
	type: z.literal('delta'),
	runId: uuid,
	stepId: uuid,
	nodeId: z.string(),
	/** Character offset of `text` in the step's streamed output so far. */
	offset: z.number().int().min(0),
	text: z.string()
});

export const serverMessageSchema = z.discriminatedUnion('type', [
	eventMessageSchema,
	deltaMessageSchema,
	perTopic('subscribed', runTopicSchema.shape, workspaceTopicSchema.shape),
	perTopic('unsubscribed', runRef.shape, workspaceTopicSchema.shape),
	z.strictObject({
		type: z.literal('error'),
		id: requestId,
		code: z.enum(realtimeErrorCodes),
		message: z.string(),
		runId: uuid.optional(),
		workspaceId: uuid.optional()
	}),
	z.strictObject({ type: z.literal('pong'), id: requestId })
]);

export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type EventMessage = z.infer<typeof eventMessageSchema>;
export type DeltaMessage = z.infer<typeof deltaMessageSchema>;
