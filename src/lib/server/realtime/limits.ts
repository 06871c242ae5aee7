export interface RealtimeLimits {
	/** Largest client message (bytes); larger closes the socket with 1009. */
	maxPayload: number;
	/** Bytes a socket may have queued for sending; a client that lets more pile up is disconnected (4008). */
	maxBufferedBytes: number;
	/** Ping interval; a socket that did not answer the previous ping is terminated. */
	heartbeatMs: number;
	/** How often every connection's session or token and memberships are checked again. */
	revalidateMs: number;
	/** Client messages: a token bucket per socket. */
	messageBurst: number;
	messagesPerSecond: number;
	/** Messages answered `rate_limited` before the socket is closed (4029). */
	maxRateLimited: number;
	maxSubscriptions: number;
	maxConnectionsPerUser: number;
}

export const defaultLimits: RealtimeLimits = {
	maxPayload: 64 * 1024,
	maxBufferedBytes: 1024 * 1024,
	heartbeatMs: 30_000,
	revalidateMs: 60_000,
	messageBurst: 40,
	messagesPerSecond: 20,
	maxRateLimited: 20,
	maxSubscriptions: 100,
	maxConnectionsPerUser: 50
};
