import type { Command } from '../command.ts';
import { benchCommand } from './bench.ts';
import { daemonCommand } from './daemon.ts';
import { schedulerCommand } from './scheduler.ts';

/** Every `flotilla` subcommand, in the order `flotilla --help` lists them. */
export const commands: readonly Command[] = [daemonCommand, schedulerCommand, benchCommand];
