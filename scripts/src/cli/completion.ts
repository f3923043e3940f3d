/**
 * `meetmatt completion bash|zsh`: shell completion generated from the command table, so a new
 * command or option completes without anyone editing a script. Both shells share one candidate
 * function (bash and zsh read the same `case` syntax); each adds its own few lines of glue.
 */
import { type CommandSpec, optionsOf } from './command';
import { UsageError } from './errors';
import { closest } from './suggest';

export const shells = ['bash', 'zsh'] as const;
export type Shell = (typeof shells)[number];

/** Words the first position completes that are not in the command table. */
export const builtinWords = ['completion', 'help', '--help', '--version'];

function optionWords(spec: CommandSpec): string[] {
  const words: string[] = [];
  for (const [name, option] of Object.entries(optionsOf(spec))) {
    words.push(`--${name}`);
    if (option.short) words.push(`-${option.short}`);
  }
  return words;
}

function quote(words: readonly string[]): string {
  // Command and option names are [a-z-] only; single quotes keep the shell from reading them.
  return `'${words.join(' ')}'`;
}

/** The shared shell function: sets `candidates` from (cword, w1, w2, prev, cur). */
function candidatesFunction(commands: readonly CommandSpec[]): string {
  const groups = [...new Set(commands.map((c) => c.name.split(' ')[0]!))];
  const lines = [
    '__meetmatt_candidates() {',
    '  local cword=$1 w1=$2 w2=$3 prev=$4 cur=$5',
    "  candidates=''",
  ];
  // A value that takes one of a few words (--service payment|user|brain).
  const choices = new Map<string, Set<string>>();
  for (const spec of commands)
    for (const [name, option] of Object.entries(optionsOf(spec)))
      if (option.choices) {
        for (const flag of [`--${name}`, ...(option.short ? [`-${option.short}`] : [])]) {
          const set = choices.get(flag) ?? new Set<string>();
          option.choices.forEach((c) => set.add(c));
          choices.set(flag, set);
        }
      }
  if (choices.size > 0) {
    lines.push('  case "$prev" in');
    for (const [flag, values] of choices)
      lines.push(`    (${flag}) candidates=${quote([...values])}; return ;;`);
    lines.push('  esac');
  }
  lines.push(
    '  if [ "$cword" -eq 1 ]; then',
    `    candidates=${quote([...groups, ...builtinWords])}`,
    '    return',
    '  fi',
    '  case "$w1" in',
    `    (completion) [ "$cword" -eq 2 ] && candidates=${quote(shells)} ;;`,
    `    (help) [ "$cword" -eq 2 ] && candidates=${quote(groups)} ;;`,
  );
  for (const group of groups) {
    const members = commands.filter((c) => c.name.split(' ')[0] === group);
    const single = members.find((c) => c.name === group);
    if (single) {
      lines.push(
        `    (${group}) case "$cur" in (-*) candidates=${quote(optionWords(single))} ;; esac ;;`,
      );
      continue;
    }
    lines.push(`    (${group})`);
    lines.push('      if [ "$cword" -eq 2 ]; then');
    lines.push(
      `        candidates=${quote([...members.map((c) => c.name.split(' ')[1]!), '--help'])}`,
    );
    lines.push('      else');
    lines.push('        case "$cur" in (-*)');
    lines.push('          case "$w2" in');
    for (const spec of members)
      lines.push(
        `            (${spec.name.split(' ')[1]}) candidates=${quote(optionWords(spec))} ;;`,
      );
    lines.push('          esac ;;');
    lines.push('        esac');
    lines.push('      fi ;;');
  }
  lines.push('  esac', '}');
  return lines.join('\n');
}

export function completionScript(shell: string, commands: readonly CommandSpec[]): string {
  const body = candidatesFunction(commands);
  if (shell === 'bash')
    return [
      '# meetmatt completion for bash. Load it with:',
      '#   source <(npx meetmatt completion bash)',
      '# or save it in ~/.local/share/bash-completion/completions/meetmatt',
      body,
      '_meetmatt() {',
      '  local candidates',
      '  local cur="${COMP_WORDS[COMP_CWORD]}"',
      '  __meetmatt_candidates "$COMP_CWORD" "${COMP_WORDS[1]}" "${COMP_WORDS[2]}" "${COMP_WORDS[COMP_CWORD-1]}" "$cur"',
      '  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))',
      '}',
      'complete -o default -F _meetmatt meetmatt',
      '',
    ].join('\n');
  if (shell === 'zsh')
    return [
      '#compdef meetmatt',
      '# meetmatt completion for zsh. Load it with:',
      '#   source <(npx meetmatt completion zsh)',
      '# (after compinit), or save it as _meetmatt in a directory on your $fpath.',
      body,
      '_meetmatt() {',
      '  local candidates',
      '  # zsh counts words from 1 (the command itself); the shared function counts from 0 as bash does.',
      '  __meetmatt_candidates "$((CURRENT - 1))" "${words[2]}" "${words[3]}" "${words[CURRENT-1]}" "${words[CURRENT]}"',
      '  if [ -n "$candidates" ]; then compadd -- ${=candidates}; else _files; fi',
      '}',
      'if (( $+functions[compdef] )); then compdef _meetmatt meetmatt; fi',
      '',
    ].join('\n');
  const guess = closest(shell, shells);
  throw new UsageError(
    `meetmatt completion needs a shell: bash or zsh${shell ? `, got ${JSON.stringify(shell)}` : ''}${guess ? `; did you mean ${guess}?` : ''}`,
    guess,
  );
}
