/** Log levels `--log-level` takes (apart from the logger, so the CLI names them without loading pino). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
