import { CONFIG_FLAG, envName } from './load.ts';
import type { Option, OptionSchema } from './options.ts';

/** One option as help and docs show it. */
export interface OptionDescription {
  /** How it is written on the command line (`--mirror-listen HOST:PORT`), or in YAML for file-only settings. */
  usage: string;
  /** The YAML key (same as the flag name). */
  key: string;
  /** undefined for file-only settings. */
  env: string | undefined;
  default: string | undefined;
  doc: string;
  repeatable: boolean;
  fileOnly: boolean;
}

const CONFIG_FILE_OPTION: OptionDescription = {
  usage: `--${CONFIG_FLAG} FILE`,
  key: CONFIG_FLAG,
  env: envName(CONFIG_FLAG),
  default: undefined,
  doc: 'YAML file setting any of these options, keyed by flag name (env vars and flags override it)',
  repeatable: false,
  fileOnly: false,
};

export function describeOptions(schema: OptionSchema): OptionDescription[] {
  return [...Object.values(schema).map(describeOption), CONFIG_FILE_OPTION];
}

function describeOption(option: Option<unknown>): OptionDescription {
  const binding = option.commandLine;
  const usage = !binding
    ? `${option.flag}: ${option.metavar}`
    : binding.isSwitch
      ? `--${option.flag}, --no-${option.flag}`
      : `--${option.flag} ${option.metavar}`;
  return {
    usage,
    key: option.flag,
    env: binding ? envName(option.flag) : undefined,
    default: option.defaultText,
    doc: option.doc,
    repeatable: binding?.repeatable ?? false,
    fileOnly: !binding,
  };
}

export interface HelpSpec {
  /** `flotilla daemon [options]` */
  usage: string;
  /** What the command does, one or two sentences. */
  summary: string;
  options: OptionSchema;
}

/** Usage text listing every option with its doc, env var and default. */
export function renderHelp(spec: HelpSpec): string {
  const described = describeOptions(spec.options);
  const entry = (d: OptionDescription) => {
    const facts = [
      d.repeatable && 'repeatable',
      d.env && `env ${d.env}${d.repeatable ? ' (comma-separated)' : ''}`,
      d.default && `default ${d.default}`,
    ];
    const details = facts.filter(Boolean).join('; ');
    return `  ${d.usage}\n      ${d.doc}${details ? `\n      ${details}` : ''}\n`;
  };
  const fileOnly = described.filter((d) => d.fileOnly);
  return [
    `Usage: ${spec.usage}\n\n${spec.summary}\n`,
    'Options (a flag beats its env var, which beats the config file, which beats the default):',
    ...described.filter((d) => !d.fileOnly).map(entry),
    '  --help\n      show this help\n',
    ...(fileOnly.length ? ['Config file only:', ...fileOnly.map(entry)] : []),
  ].join('\n');
}
