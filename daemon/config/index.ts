/** The configuration loader's public face. */
export { loadConfig, parseConfig, type LoadedConfig, type LoadOptions } from './load.js';
export { ConfigError, formatIssue, type ConfigIssue } from './errors.js';
export { configSchema } from './schema.js';
