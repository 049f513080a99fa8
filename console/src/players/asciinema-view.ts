/**
 * Replay in the page: asciinema-player fed with the asciicast the admin API served (so the
 * verdict headers of that very response go with it). Loaded on demand, outside the budget.
 */
import { create } from 'asciinema-player';
import { loadPlayerCss } from './load-css';

export interface ReplayHandle {
  seek(seconds: number): Promise<void>;
  currentTime(): Promise<number>;
  dispose(): void;
}

export function openReplay(el: HTMLElement, cast: string): ReplayHandle {
  loadPlayerCss();
  // No idleTimeLimit: compressed pauses would move every command's moment in the timeline.
  const player = create({ data: cast }, el, { fit: 'width', preload: true, controls: true, terminalFontSize: '14px' });
  return {
    seek: async (s) => {
      await player.seek(s);
    },
    currentTime: async () => Number(await player.getCurrentTime()),
    dispose: () => player.dispose(),
  };
}
