// Prints a command's options as a Markdown table for the README:
//   npx node packages/cli/src/print-options-table.ts [command]   (default: daemon)
import { describeOptions, type OptionDescription } from '@flotilla/config';
import { commandLoaders } from './commands/index.ts';

const name = process.argv[2] ?? 'daemon';
const load = commandLoaders.get(name);
if (!load) {
  process.stderr.write(`unknown command '${name}'; known: ${[...commandLoaders.keys()].join(', ')}\n`);
  process.exit(2);
}
const command = await load();

/** Inline code in a table cell: pipes must be escaped even inside backticks. */
const code = (text: string) => `\`${text.replaceAll('|', '\\|')}\``;

const row = (d: OptionDescription) => {
  const usage = `${code(d.usage)}${d.repeatable ? ' (repeatable)' : ''}${d.fileOnly ? ' (config file only)' : ''}`;
  const env = d.env ? code(d.env) + (d.repeatable ? ' (comma-separated)' : '') : '';
  return `| ${usage} | ${env} | ${d.default ? code(d.default) : ''} | ${d.doc.replaceAll('|', '\\|')} |`;
};

process.stdout.write(
  ['| Option | Env var | Default | Description |', '|---|---|---|---|', ...describeOptions(command.options).map(row)].join('\n') + '\n',
);
