export { ConfigError, InvalidValue } from './errors.ts';
export * from './parsers.ts';
export {
  option,
  optionalOption,
  switchOption,
  listOption,
  mapOption,
  fileSection,
  struct,
  defineOptions,
  type Env,
  type Option,
  type OptionSchema,
  type ConfigOf,
  type StructOf,
  type StructParser,
} from './options.ts';
export { loadConfig, envName, CONFIG_FLAG, type ConfigSources } from './load.ts';
export { describeOptions, renderHelp, type OptionDescription, type HelpSpec } from './help.ts';
export { didYouMean } from './suggest.ts';
export { xdgDataDir, logLevelOption, swarmKeyFileOption, originTimeoutOptions } from './common-options.ts';
