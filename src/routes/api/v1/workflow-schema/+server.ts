import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { workflowDefinitionSchema } from '$lib/schemas/workflow';
import { api } from '$lib/server/http/api';
import type { RequestHandler } from './$types';

// What an editor or a client library validates against; node configs are checked per kind on save.
const definitionJsonSchema = z.toJSONSchema(workflowDefinitionSchema, { io: 'input' });

export const GET: RequestHandler = (event) => api(event, async () => json(definitionJsonSchema));
