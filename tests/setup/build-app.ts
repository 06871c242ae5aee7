import { buildIfStale } from '../../scripts/build-if-stale.js';

/** HTTP tests run against the production build, exactly as `npm start` serves it. */
export default function setup() {
	buildIfStale();
}
