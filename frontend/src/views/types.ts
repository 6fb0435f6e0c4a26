import { RunEntry } from "../contract";
import { State } from "../state";

export interface ViewContext {
  state: State;
  runs: RunEntry[];
  navigate: (changes: Partial<State>) => void;
}

export interface View {
  id: string;
  title: string;
  // Renders into `container`; returns a function that releases what the view holds (listeners, timers).
  mount: (container: HTMLElement, context: ViewContext) => (() => void) | void;
}

export function profileParams(state: State): Record<string, string | undefined> {
  return { run: state.run, profile: state.profile };
}
