/**
 * The API's one error shape, `{"error": {"code", "message"}}` (DESIGN §1.5),
 * for every refusal and failure, so a client needs one parser.
 */
import type { FastifyReply } from 'fastify'

/** Codes the API answers with (besides syncline's own error codes, e.g. `SYNC_NOT_FOUND`). */
export type ApiErrorCode = 'UNAUTHORIZED' | 'NOT_FOUND' | 'SYNC_NOT_FOUND' | 'RUNNING' | 'NOT_RUNNING' | 'STOPPING' | 'BAD_REQUEST' | 'NOT_READY' | 'INTERNAL'

/** The body of an error answer. */
export interface ApiErrorBody {
  error: { code: string; message: string }
}

/** `{"error": {code, message}}`. */
export function apiError(code: ApiErrorCode | string, message: string): ApiErrorBody {
  return { error: { code, message } }
}

/** Send an error answer with `status`. */
export function sendError(reply: FastifyReply, status: number, code: ApiErrorCode | string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send(apiError(code, message))
}
